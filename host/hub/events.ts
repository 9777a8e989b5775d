// The built-in Event Hub-compatible endpoint's storage: device telemetry in partitions (device → partition by hash),
// each event with a sequence number, an offset and its enqueued time; retention by age and count, kept in
// `{dataDir}/events/{partition}.jsonl`.
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TelemetryMessage } from './broker.js';
import type { PropertyBag } from './topics.js';

export const DEFAULT_PARTITIONS = 4;
export const DEFAULT_RETENTION_HOURS = 24;
export const DEFAULT_MAX_EVENTS_PER_PARTITION = 10_000;

export interface StoredEvent {
  partition: number;
  seq: number;
  /** Position in the partition's stream (a decimal string, as Event Hubs gives it). */
  offset: string;
  enqueuedAt: number;
  deviceId: string;
  moduleId?: string;
  body: Buffer;
  properties: PropertyBag;
  systemProperties: Record<string, string>;
}

interface Line { s: number; o: string; t: number; d: string; m?: string; b: string; p: PropertyBag; y: Record<string, string> }

export interface PartitionInfo {
  partition: string;
  begin_sequence_number: number;
  last_enqueued_sequence_number: number;
  last_enqueued_offset: string;
  last_enqueued_time_utc: Date;
  is_partition_empty: boolean;
}

/** Where a reader starts: a selector filter's comparison on offset, sequence number or enqueued time. */
export type StartPosition =
  | { kind: 'offset'; value: string; inclusive: boolean }
  | { kind: 'seq'; value: number; inclusive: boolean }
  | { kind: 'time'; value: number; inclusive: boolean }
  | { kind: 'latest' };

export interface EventStoreOptions { partitions?: number; retentionHours?: number; maxEventsPerPartition?: number }

class Partition {
  events: StoredEvent[] = [];
  nextSeq = 0;
  nextOffset = 0;
  lastSeq = -1;
  lastOffset = '-1';
  lastTime = 0;
  written = 0;
}

export interface EventStoreEvents { appended: [StoredEvent] }

/** Parses `amqp.annotation.x-opt-offset > '12'` (and sequence number, enqueued time; >, >=, =). */
export function parseSelector(filter: string): StartPosition | string {
  const m = /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>|=)\s*'?([^']*)'?\s*$/i.exec(filter);
  if (!m) return `unsupported selector filter '${filter}'`;
  const [, field, op, raw] = m as unknown as [string, string, string, string];
  const inclusive = op !== '>';
  const f = field.toLowerCase();
  if (f === 'x-opt-offset') {
    if (raw === '@latest') return { kind: 'latest' };
    if (!/^-?\d+$/.test(raw)) return `invalid offset '${raw}'`;
    return { kind: 'offset', value: raw, inclusive };
  }
  const n = Number(raw);
  if (!Number.isFinite(n)) return `invalid number '${raw}' in selector filter`;
  return f === 'x-opt-sequence-number' ? { kind: 'seq', value: n, inclusive } : { kind: 'time', value: n, inclusive };
}

export class EventStore extends EventEmitter<EventStoreEvents> {
  readonly partitionCount: number;
  readonly createdAt: Date;
  private readonly parts: Partition[];
  private readonly retentionMs: number;
  private readonly maxEvents: number;
  private readonly dir: string | null;
  private pendingLines: string[][];
  private flushing: Promise<void> = Promise.resolve();
  private scheduled = false;

  constructor(dataDir: string | null, opts: EventStoreOptions = {}) {
    super();
    this.dir = dataDir ? join(dataDir, 'events') : null;
    let meta: { partitions: number; createdAt: string } | undefined;
    if (this.dir && existsSync(join(this.dir, 'meta.json'))) meta = JSON.parse(readFileSync(join(this.dir, 'meta.json'), 'utf8'));
    this.partitionCount = meta?.partitions ?? opts.partitions ?? DEFAULT_PARTITIONS;
    this.createdAt = meta ? new Date(meta.createdAt) : new Date();
    this.retentionMs = (opts.retentionHours ?? DEFAULT_RETENTION_HOURS) * 3600_000;
    this.maxEvents = opts.maxEventsPerPartition ?? DEFAULT_MAX_EVENTS_PER_PARTITION;
    this.parts = Array.from({ length: this.partitionCount }, () => new Partition());
    this.pendingLines = this.parts.map(() => []);
    if (this.dir) {
      mkdirSync(this.dir, { recursive: true });
      if (!meta) writeFileSync(join(this.dir, 'meta.json'), JSON.stringify({ partitions: this.partitionCount, createdAt: this.createdAt.toISOString() }) + '\n');
      for (let p = 0; p < this.partitionCount; p++) this.load(p);
    }
  }

  /** IoT Hub sends all of a device's events to one partition. */
  partitionOf(deviceId: string): number {
    let p = this.partitionCache.get(deviceId);
    if (p === undefined) {
      p = createHash('sha256').update(deviceId).digest().readUInt32BE(0) % this.partitionCount;
      this.partitionCache.set(deviceId, p);
    }
    return p;
  }
  private readonly partitionCache = new Map<string, number>();

  append(t: TelemetryMessage): StoredEvent {
    const p = this.partitionOf(t.deviceId);
    const part = this.parts[p]!;
    const ev: StoredEvent = {
      partition: p, seq: part.nextSeq++, offset: String(part.nextOffset), enqueuedAt: Date.parse(t.enqueuedTimeUtc) || Date.now(),
      deviceId: t.deviceId, ...(t.moduleId ? { moduleId: t.moduleId } : {}),
      body: t.body, properties: t.properties, systemProperties: t.systemProperties,
    };
    part.nextOffset += 64 + t.body.length;
    part.lastSeq = ev.seq; part.lastOffset = ev.offset; part.lastTime = ev.enqueuedAt;
    part.events.push(ev);
    this.prune(part);
    if (this.dir) { this.pendingLines[p]!.push(JSON.stringify(toLine(ev))); this.schedule(); }
    this.emit('appended', ev);
    return ev;
  }

  /** Events of a partition from a position (after retention), at most `max`. */
  read(p: number, from: StartPosition, max = Infinity): StoredEvent[] {
    const part = this.parts[p];
    if (!part) return [];
    this.prune(part);
    const i = this.startIndex(part, from);
    return part.events.slice(i, Number.isFinite(max) ? i + max : undefined);
  }

  /** The sequence number a reader starting at `from` waits for next (all later events qualify). */
  firstSeq(p: number, from: StartPosition): number {
    const part = this.parts[p]!;
    const i = this.startIndex(part, from);
    return i < part.events.length ? part.events[i]!.seq : part.nextSeq;
  }

  /** Events with seq ≥ `seq`, at most `max`. */
  readFromSeq(p: number, seq: number, max: number): StoredEvent[] {
    const part = this.parts[p];
    if (!part) return [];
    const first = part.events[0];
    if (!first) return [];
    const i = Math.max(0, seq - first.seq);
    return part.events.slice(i, i + max);
  }

  private startIndex(part: Partition, from: StartPosition): number {
    const evs = part.events;
    if (from.kind === 'latest') return evs.length;
    const pass = (e: StoredEvent): boolean => {
      switch (from.kind) {
        case 'offset': {
          const o = BigInt(e.offset), v = BigInt(from.value);
          return from.inclusive ? o >= v : o > v;
        }
        case 'seq': return from.inclusive ? e.seq >= from.value : e.seq > from.value;
        case 'time': return from.inclusive ? e.enqueuedAt >= from.value : e.enqueuedAt > from.value;
      }
    };
    const i = evs.findIndex(pass);
    return i < 0 ? evs.length : i;
  }

  info(p: number): PartitionInfo {
    const part = this.parts[p]!;
    this.prune(part);
    const first = part.events[0];
    return {
      partition: String(p),
      begin_sequence_number: first ? first.seq : part.nextSeq,
      last_enqueued_sequence_number: part.lastSeq,
      last_enqueued_offset: part.lastOffset,
      last_enqueued_time_utc: new Date(part.lastTime),
      is_partition_empty: part.events.length === 0,
    };
  }

  private prune(part: Partition): void {
    const cutoff = Date.now() - this.retentionMs;
    // Count retention trims in batches (an eighth of the limit at a time): removing from the front of a long
    // array once per event would cost more than everything else the hub does for a message.
    const over = part.events.length - this.maxEvents;
    let n = over > Math.max(64, this.maxEvents >> 3) ? over : 0;
    while (n < part.events.length && part.events[n]!.enqueuedAt < cutoff) n++;
    if (n) part.events.splice(0, n);
  }

  private load(p: number): void {
    const file = join(this.dir!, `${p}.jsonl`);
    if (!existsSync(file)) return;
    const part = this.parts[p]!;
    for (const text of readFileSync(file, 'utf8').split('\n')) {
      if (!text.trim()) continue;
      let l: Line;
      try { l = JSON.parse(text) as Line; } catch { continue; } // a torn last line
      const ev: StoredEvent = {
        partition: p, seq: l.s, offset: l.o, enqueuedAt: l.t, deviceId: l.d, ...(l.m ? { moduleId: l.m } : {}),
        body: Buffer.from(l.b, 'base64'), properties: l.p, systemProperties: l.y,
      };
      part.events.push(ev);
      part.nextSeq = ev.seq + 1;
      part.nextOffset = Number(ev.offset) + 64 + ev.body.length;
      part.lastSeq = ev.seq; part.lastOffset = ev.offset; part.lastTime = ev.enqueuedAt;
    }
    const before = part.events.length;
    this.prune(part);
    if (part.events.length !== before) this.rewrite(p);
  }

  private rewrite(p: number): void {
    const file = join(this.dir!, `${p}.jsonl`);
    const part = this.parts[p]!;
    writeFileSync(`${file}.tmp`, part.events.map((e) => JSON.stringify(toLine(e)) + '\n').join(''));
    renameSync(`${file}.tmp`, file);
    part.written = part.events.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batches = this.pendingLines;
      this.pendingLines = this.parts.map(() => []);
      this.flushing = this.flushing.then(async () => {
        for (let p = 0; p < batches.length; p++) {
          const lines = batches[p]!;
          if (!lines.length) continue;
          const part = this.parts[p]!;
          part.written += lines.length;
          if (part.written > 2 * this.maxEvents) this.rewrite(p); // compaction: the file keeps what memory keeps
          else await appendFile(join(this.dir!, `${p}.jsonl`), lines.join('\n') + '\n');
        }
      }).catch(() => {});
    });
  }

  /** Writes what is pending now (hub stopping). */
  flushSync(): void {
    if (!this.dir) return;
    for (let p = 0; p < this.pendingLines.length; p++) {
      const lines = this.pendingLines[p]!;
      if (lines.length) appendFileSync(join(this.dir, `${p}.jsonl`), lines.join('\n') + '\n');
    }
    this.pendingLines = this.parts.map(() => []);
  }

  async flush(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    await this.flushing;
  }
}

function toLine(e: StoredEvent): Line {
  return { s: e.seq, o: e.offset, t: e.enqueuedAt, d: e.deviceId, ...(e.moduleId ? { m: e.moduleId } : {}), b: e.body.toString('base64'), p: e.properties, y: e.systemProperties };
}
