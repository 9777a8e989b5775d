// The built-in Event Hub-compatible endpoint's storage: device telemetry in partitions (device → partition by hash),
// each event with a sequence number, an offset and its enqueued time, retained by count, bytes and age per
// partition as Event Hubs does.
//
// On disk each partition is a folder of segment files, `{dataDir}/events/{partition}/{first seq}-{first offset}.seg`,
// records appended in batches (events/record.ts). Memory holds an index (position, length and enqueued time per
// retained event) and the most recent events within a small byte budget; a reader asking for older events gets them
// from disk with positional reads of just those records. Retention moves the first readable sequence number and
// deletes whole segments once nothing in them is readable. An event's offset is its byte position in the partition's
// stream (segment's first offset + position in the segment), so offsets increase, across restarts too.
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync,
  unlinkSync, writeFileSync, writeSync, writev,
} from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TelemetryMessage } from './messages.js';
import type { PropertyBag } from './messages.js';
import { RECORD_HEADER, decodeRecord, encodeRecord, readAt, recordMeta, scanSegment } from './events/record.js';
import { readLegacyFile } from './events/legacy.js';

export const DEFAULT_PARTITIONS = 4;
export const DEFAULT_RETENTION_HOURS = 24;
export const DEFAULT_MAX_EVENTS_PER_PARTITION = 10_000;
export const DEFAULT_MAX_BYTES_PER_PARTITION = 64 * 1024 * 1024;
export const DEFAULT_CACHE_BYTES_PER_PARTITION = 1024 * 1024;
/** A reader's call returns at most this many bytes of events read from disk (at least one event). */
const READ_BYTES = 1024 * 1024;

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

/**
 * Retention and memory budgets, each per partition. An event stays readable while it is among the newest
 * `maxEventsPerPartition`, the newest `maxBytesPerPartition` bytes of records (the newest event always fits, so
 * that a live reader gets it) and younger than `retentionHours`. Disk holds what is readable plus at most one segment
 * (`segmentBytes`, or an eighth of the event count) not yet wholly unreadable: with the defaults ≤ 72 MiB per
 * partition. Memory holds 24 bytes of index per disk-held event and the newest events up to
 * `cacheBytesPerPartition`; without a data folder the events themselves, within the same count and byte budgets.
 */
export interface EventStoreOptions {
  /** Partitions of a new data folder (an existing one keeps its count). Default 4. */
  partitions?: number;
  /** Default 24 h. */
  retentionHours?: number;
  /** Default 10,000. */
  maxEventsPerPartition?: number;
  /** Bytes of stored records (32-byte header + properties as JSON + body). Default 64 MiB. */
  maxBytesPerPartition?: number;
  /** A segment file is closed and a new one begun past this size. Default an eighth of maxBytesPerPartition (8 MiB). */
  segmentBytes?: number;
  /** Newest events kept in memory for live readers (with a data folder). Default 1 MiB. */
  cacheBytesPerPartition?: number;
  /** The clock for age retention (and for a message without an enqueued time). Default Date.now. */
  now?: () => number;
}

/** One segment: its first sequence number and offset, and per event its position, record length and enqueued time. */
class Segment {
  readonly pos: number[] = [];
  readonly len: number[] = [];
  readonly time: number[] = [];
  /** Bytes of records (written or pending). */
  size = 0;
  /** A new segment's file is created (truncated) on its first write; a scanned one is appended to. */
  opened: boolean;
  constructor(readonly baseSeq: number, readonly baseOffset: number, readonly file: string | null, scanned: boolean) { this.opened = scanned; }
  get count(): number { return this.pos.length; }
  get endSeq(): number { return this.baseSeq + this.pos.length; }
}

/** Records appended to one segment and not yet handed to the file system. */
interface Run { seg: Segment; bufs: Buffer[]; endSeq: number }

class Partition {
  readonly segments: Segment[] = [];
  nextSeq = 0;
  nextOffset = 0;
  /** The first readable sequence number (retention moves it; segments wholly before it are deleted). */
  beginSeq = 0;
  lastSeq = -1;
  lastOffset = '-1';
  lastTime = 0;
  /** The newest events, oldest at `cacheHead`; always contiguous up to nextSeq - 1. */
  cache: StoredEvent[] = [];
  cacheLen: number[] = [];
  cacheHead = 0;
  cacheBytes = 0;
  /** Events before this sequence number are in their segment files. */
  writtenSeq = 0;
  pending: Run[] = [];
  unlinks: string[] = [];
  fd: number | null = null;
  fdSeg: Segment | null = null;
  get cacheFirst(): number { return this.nextSeq - (this.cache.length - this.cacheHead); }
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

const SEGMENT_RE = /^(\d{16})-(\d{16})\.seg$/;
const pad = (n: number) => String(n).padStart(16, '0');

export class EventStore extends EventEmitter<EventStoreEvents> {
  readonly partitionCount: number;
  readonly createdAt: Date;
  private readonly parts: Partition[];
  private readonly retentionMs: number;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly segmentEvents: number;
  private readonly cacheBudget: number;
  private readonly now: () => number;
  private readonly dir: string | null;
  private flushing: Promise<void> = Promise.resolve();
  private scheduled = false;
  /** Start-up is over: file work goes through the batched writer. */
  private ready = false;
  /** File-system errors while writing or deleting segments (the events stay readable from memory until evicted). */
  writeErrors = 0;

  constructor(dataDir: string | null, opts: EventStoreOptions = {}) {
    super();
    this.dir = dataDir ? join(dataDir, 'events') : null;
    this.retentionMs = (opts.retentionHours ?? DEFAULT_RETENTION_HOURS) * 3600_000;
    this.maxEvents = Math.max(1, opts.maxEventsPerPartition ?? DEFAULT_MAX_EVENTS_PER_PARTITION);
    this.maxBytes = Math.max(1, opts.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION);
    this.segmentBytes = Math.max(1, opts.segmentBytes ?? Math.ceil(this.maxBytes / 8));
    this.segmentEvents = Math.max(1, Math.ceil(this.maxEvents / 8));
    this.cacheBudget = Math.max(0, opts.cacheBytesPerPartition ?? DEFAULT_CACHE_BYTES_PER_PARTITION);
    this.now = opts.now ?? Date.now;
    const meta = this.dir ? readMeta(join(this.dir, 'meta.json')) : null;
    this.partitionCount = meta?.partitions ?? opts.partitions ?? DEFAULT_PARTITIONS;
    this.createdAt = meta ? new Date(meta.createdAt) : new Date();
    this.parts = Array.from({ length: this.partitionCount }, () => new Partition());
    if (this.dir) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      if (!meta) {
        const file = join(this.dir, 'meta.json');
        writeFileSync(`${file}.tmp`, JSON.stringify({ partitions: this.partitionCount, createdAt: this.createdAt.toISOString() }) + '\n', { mode: 0o600 });
        renameSync(`${file}.tmp`, file);
      }
      for (let p = 0; p < this.partitionCount; p++) this.load(p);
    }
    this.ready = true;
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
    const ev = this.add(part, p, part.nextSeq, Date.parse(t.enqueuedTimeUtc) || this.now(), t.deviceId, t.moduleId, t.body, t.properties, t.systemProperties);
    this.retain(part);
    if (this.dir) this.schedule();
    this.emit('appended', ev);
    return ev;
  }

  /** Events of a partition from a position (after retention), at most `max`. */
  read(p: number, from: StartPosition, max = Infinity): StoredEvent[] {
    if (!this.parts[p]) return [];
    const out: StoredEvent[] = [];
    for (let seq = this.firstSeq(p, from); out.length < max;) {
      const batch = this.readFromSeq(p, seq, Math.min(max - out.length, 1000));
      if (!batch.length) break;
      for (const ev of batch) out.push(ev);
      seq = batch[batch.length - 1]!.seq + 1;
    }
    return out;
  }

  /** The sequence number a reader starting at `from` waits for next (all later events qualify). */
  firstSeq(p: number, from: StartPosition): number {
    const part = this.parts[p]!;
    this.retain(part);
    switch (from.kind) {
      case 'latest': return part.nextSeq;
      case 'seq': {
        const first = from.inclusive ? Math.ceil(from.value) : Math.floor(from.value) + 1;
        return Math.min(Math.max(first, part.beginSeq), part.nextSeq);
      }
      case 'offset': {
        const v = BigInt(from.value);
        const pass = (o: number) => from.inclusive ? BigInt(o) >= v : BigInt(o) > v;
        for (const seg of part.segments) {
          const start = Math.max(0, part.beginSeq - seg.baseSeq);
          if (start >= seg.count || !pass(seg.baseOffset + seg.pos[seg.count - 1]!)) continue;
          let lo = start, hi = seg.count - 1; // offsets increase: the first passing one
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (pass(seg.baseOffset + seg.pos[mid]!)) hi = mid; else lo = mid + 1;
          }
          return seg.baseSeq + lo;
        }
        return part.nextSeq;
      }
      case 'time': {
        // enqueued times follow the clock, which may step back: the first event that qualifies, as a scan finds it
        const pass = (t: number) => from.inclusive ? t >= from.value : t > from.value;
        for (const seg of part.segments) {
          for (let i = Math.max(0, part.beginSeq - seg.baseSeq); i < seg.count; i++) if (pass(seg.time[i]!)) return seg.baseSeq + i;
        }
        return part.nextSeq;
      }
    }
  }

  /** Events with seq ≥ `seq`, at most `max` (and, of events read from disk, about READ_BYTES). */
  readFromSeq(p: number, seq: number, max: number): StoredEvent[] {
    const part = this.parts[p];
    if (!part) return [];
    this.retain(part);
    const out: StoredEvent[] = [];
    let s = Math.max(seq, part.beginSeq);
    let diskBytes = 0;
    while (out.length < max && s < part.nextSeq) {
      const cacheFirst = part.cacheFirst;
      if (s >= cacheFirst) {
        out.push(part.cache[part.cacheHead + s - cacheFirst]!);
        s++;
        continue;
      }
      if (diskBytes >= READ_BYTES && out.length) break; // (with nothing readable yet, on past damaged records)
      const seg = this.segmentAtOrAfter(part, s);
      if (!seg) break;
      if (s < seg.baseSeq) { s = seg.baseSeq; continue; }
      // one positional read of the records [i, j) of this segment
      const i = s - seg.baseSeq;
      let j = i, bytes = 0;
      while (j < seg.count && seg.baseSeq + j < cacheFirst && out.length + (j - i) < max && (j === i || diskBytes + bytes + seg.len[j]! <= READ_BYTES)) bytes += seg.len[j++]!;
      diskBytes += bytes;
      s = seg.baseSeq + j;
      if (!seg.file) continue;
      for (const ev of this.readRecords(p, seg, i, j, bytes)) out.push(ev);
    }
    return out;
  }

  info(p: number): PartitionInfo {
    const part = this.parts[p]!;
    this.retain(part);
    const empty = part.beginSeq >= part.nextSeq;
    return {
      partition: String(p),
      begin_sequence_number: empty ? part.nextSeq : part.beginSeq,
      last_enqueued_sequence_number: part.lastSeq,
      last_enqueued_offset: part.lastOffset,
      last_enqueued_time_utc: new Date(part.lastTime),
      is_partition_empty: empty,
    };
  }

  /** Resolves once every event appended so far is written (and closes the segment files until the next append). */
  async flush(): Promise<void> {
    do {
      await new Promise((r) => setImmediate(r));
      await this.flushing;
    } while (this.scheduled);
    for (const part of this.parts) if (!part.pending.length) closeFd(part);
  }

  // --- appending and retention ----------------------------------------------------------------------------------

  private add(part: Partition, p: number, seq: number, time: number, deviceId: string, moduleId: string | undefined, body: Buffer, properties: PropertyBag, systemProperties: Record<string, string>): StoredEvent {
    // Without a data folder nothing is encoded: the body is copied (not the packet's buffer, which may hold more)
    // and its record size estimated for the byte budget.
    const rec = this.dir ? encodeRecord(seq, time, recordMeta(deviceId, moduleId, properties, systemProperties), body) : null;
    const recLen = rec ? rec.length : RECORD_HEADER + estimateMetaBytes(deviceId, moduleId, properties, systemProperties) + body.length;
    let seg = part.segments[part.segments.length - 1];
    if (!seg || seg.endSeq !== seq || seg.size >= this.segmentBytes || seg.count >= this.segmentEvents || (seg.count > 0 && seg.endSeq <= part.beginSeq)) {
      seg = new Segment(seq, part.nextOffset, this.dir && join(this.dir, String(p), `${pad(seq)}-${pad(part.nextOffset)}.seg`), false);
      part.segments.push(seg);
    }
    const offset = seg.baseOffset + seg.size;
    seg.pos.push(seg.size); seg.len.push(recLen); seg.time.push(time);
    seg.size += recLen;
    part.nextSeq = seq + 1;
    part.nextOffset = offset + recLen;
    const ev: StoredEvent = {
      partition: p, seq, offset: String(offset), enqueuedAt: time, deviceId, ...(moduleId ? { moduleId } : {}),
      body: rec ? rec.subarray(recLen - body.length) : Buffer.from(body), properties, systemProperties,
    };
    part.lastSeq = seq; part.lastOffset = ev.offset; part.lastTime = time;
    part.cache.push(ev); part.cacheLen.push(recLen); part.cacheBytes += recLen;
    if (rec) {
      const run = part.pending[part.pending.length - 1];
      if (run && run.seg === seg) { run.bufs.push(rec); run.endSeq = seq + 1; } else part.pending.push({ seg, bufs: [rec], endSeq: seq + 1 });
    } else {
      part.writtenSeq = seq + 1; // nothing to write: the cache is the store
    }
    return ev;
  }

  /** Applies retention: moves beginSeq, drops segments wholly before it, trims the cache. */
  private retain(part: Partition): void {
    const cutoff = this.now() - this.retentionMs;
    let begin = Math.max(part.beginSeq, part.nextSeq - this.maxEvents);
    walk: for (const seg of part.segments) {
      if (seg.endSeq <= begin) continue;
      for (let i = Math.max(0, begin - seg.baseSeq); i < seg.count; i++) {
        const s = seg.baseSeq + i;
        // the first event young enough and within the byte budget (which always has room for the newest event)
        if (seg.time[i]! >= cutoff && (s >= part.nextSeq - 1 || part.nextOffset - (seg.baseOffset + seg.pos[i]!) <= this.maxBytes)) {
          begin = s;
          break walk;
        }
      }
      begin = seg.endSeq;
    }
    part.beginSeq = Math.max(part.beginSeq, begin);
    while (part.segments.length > 1 && part.segments[0]!.endSeq <= part.beginSeq) {
      const seg = part.segments.shift()!;
      if (seg.file) {
        part.unlinks.push(seg.file);
        if (this.ready) this.schedule();
      }
    }
    if (part.beginSeq < part.nextSeq && part.beginSeq < part.segments[0]!.baseSeq) part.beginSeq = part.segments[0]!.baseSeq;
    this.evict(part);
  }

  /** Drops cached events that are unreadable, or (once written) beyond the cache budget. */
  private evict(part: Partition): void {
    const disk = this.dir !== null;
    while (part.cacheHead < part.cache.length) {
      const first = part.cacheFirst;
      if (!(first < part.beginSeq || (disk && part.cacheBytes > this.cacheBudget && first < part.writtenSeq))) break;
      part.cacheBytes -= part.cacheLen[part.cacheHead]!;
      part.cache[part.cacheHead] = undefined as unknown as StoredEvent;
      part.cacheHead++;
    }
    if (part.cacheHead > 1024 && part.cacheHead * 2 > part.cache.length) {
      part.cache = part.cache.slice(part.cacheHead);
      part.cacheLen = part.cacheLen.slice(part.cacheHead);
      part.cacheHead = 0;
    }
  }

  // --- writing: batched, off the append path --------------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // taken together so that a segment's deletion follows the writes queued before it
      const work = this.parts.map((part) => { const w = { runs: part.pending, unlinks: part.unlinks }; part.pending = []; part.unlinks = []; return w; });
      this.flushing = this.flushing.then(async () => {
        for (let p = 0; p < work.length; p++) {
          const part = this.parts[p]!, { runs, unlinks } = work[p]!;
          for (const run of runs) {
            try {
              await writeAll(this.fdFor(part, run.seg), run.bufs);
            } catch {
              this.writeErrors++;
            }
            part.writtenSeq = run.endSeq;
            this.evict(part);
          }
          for (const file of unlinks) {
            if (part.fdSeg?.file === file) closeFd(part);
            await unlink(file).catch(() => { this.writeErrors++; });
          }
        }
      });
    });
  }

  /** Writes pending records now (start-up only, when nothing asynchronous is in flight). */
  private writeSync(part: Partition): void {
    for (const run of part.pending) {
      const fd = this.fdFor(part, run.seg);
      for (const b of run.bufs) writeSync(fd, b);
      part.writtenSeq = run.endSeq;
    }
    part.pending = [];
    for (const file of part.unlinks) {
      if (part.fdSeg?.file === file) closeFd(part);
      try { unlinkSync(file); } catch { /* already gone */ }
    }
    part.unlinks = [];
    this.evict(part);
  }

  private fdFor(part: Partition, seg: Segment): number {
    if (part.fdSeg === seg && part.fd !== null) return part.fd;
    closeFd(part);
    part.fd = openSync(seg.file!, seg.opened ? 'a' : 'w', 0o600);
    part.fdSeg = seg;
    seg.opened = true;
    return part.fd;
  }

  // --- reading from disk ------------------------------------------------------------------------------------------

  private segmentAtOrAfter(part: Partition, seq: number): Segment | undefined {
    const segs = part.segments;
    let lo = 0, hi = segs.length - 1, found = -1;
    while (lo <= hi) { // the last segment beginning at or before seq
      const mid = (lo + hi) >> 1;
      if (segs[mid]!.baseSeq <= seq) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found >= 0 && seq < segs[found]!.endSeq) return segs[found];
    return segs[found + 1];
  }

  /** Records [i, j) of a segment (`bytes` long in all) with one positional read; a damaged record is skipped. */
  private readRecords(p: number, seg: Segment, i: number, j: number, bytes: number): StoredEvent[] {
    const out: StoredEvent[] = [];
    const buf = Buffer.allocUnsafe(bytes);
    let got = 0;
    try {
      const fd = openSync(seg.file!, 'r');
      try { got = readAt(fd, buf, bytes, seg.pos[i]!); } finally { closeSync(fd); }
    } catch {
      return out;
    }
    for (let k = i, at = 0; k < j && at + seg.len[k]! <= got; at += seg.len[k++]!) {
      const ev = decodeRecord(buf.subarray(0, got), at, p, seg.baseOffset + seg.pos[k]!);
      if (ev && ev.seq === seg.baseSeq + k) out.push(ev);
    }
    return out;
  }

  // --- start-up -----------------------------------------------------------------------------------------------------

  private load(p: number): void {
    const pdir = join(this.dir!, String(p));
    mkdirSync(pdir, { recursive: true, mode: 0o700 });
    const part = this.parts[p]!;
    const legacy = join(this.dir!, `${p}.jsonl`);
    if (existsSync(legacy)) {
      // an earlier crash may have left part of an import: start it again
      for (const f of readdirSync(pdir)) if (SEGMENT_RE.test(f)) unlinkSync(join(pdir, f));
      this.importLegacy(p, part, legacy);
      unlinkSync(legacy);
      return;
    }
    const files = readdirSync(pdir).map((f) => SEGMENT_RE.exec(f)).filter((m): m is RegExpExecArray => !!m)
      .map((m) => ({ file: join(pdir, m[0]), baseSeq: Number(m[1]), baseOffset: Number(m[2]) }))
      .sort((a, b) => a.baseSeq - b.baseSeq);
    // Newest first, and only as far back as retention reaches: older segments are deleted unread, so start-up time
    // and memory follow the retention budgets, not what the folder holds.
    const kept: Segment[] = [];
    let events = 0, bytes = 0;
    for (let k = files.length - 1; k >= 0; k--) {
      const f = files[k]!;
      const newer = kept[0];
      if (events >= this.maxEvents || bytes >= this.maxBytes || (newer && (f.baseSeq >= newer.baseSeq || f.baseOffset >= newer.baseOffset))) {
        unlinkSync(f.file);
        continue;
      }
      const seg = new Segment(f.baseSeq, f.baseOffset, f.file, true);
      const size = statSync(f.file).size;
      const last = k === files.length - 1;
      const end = scanSegment(f.file, size, last, (pos, len, seq, time) => {
        if (seq !== seg.endSeq) return false;
        seg.pos.push(pos); seg.len.push(len); seg.time.push(time);
        return true;
      });
      seg.size = end;
      if (newer && (seg.endSeq > newer.baseSeq || f.baseOffset + end > newer.baseOffset)) { unlinkSync(f.file); continue; }
      if (!seg.count && !last) { unlinkSync(f.file); continue; }
      kept.unshift(seg);
      events += seg.count; bytes += seg.size;
    }
    part.segments.push(...kept);
    const last = kept[kept.length - 1];
    if (!last) return;
    if (statSync(last.file!).size > last.size) { // a torn last record (the hub was killed mid-write): cut off before appending
      const fd = openSync(last.file!, 'r+');
      try { ftruncateSync(fd, last.size); } finally { closeSync(fd); }
    }
    part.nextSeq = last.endSeq;
    part.nextOffset = last.baseOffset + last.size;
    part.writtenSeq = part.nextSeq;
    part.beginSeq = kept[0]!.baseSeq;
    const withEvents = [...kept].reverse().find((s) => s.count > 0);
    if (withEvents) {
      const i = withEvents.count - 1;
      part.lastSeq = withEvents.baseSeq + i;
      part.lastOffset = String(withEvents.baseOffset + withEvents.pos[i]!);
      part.lastTime = withEvents.time[i]!;
    } else {
      part.lastSeq = part.nextSeq - 1;
    }
    this.retain(part);
    this.writeSync(part);
  }

  /** Copies a partition's `{p}.jsonl` (the format before segments) into segments, retention applied as it goes. */
  private importLegacy(p: number, part: Partition, file: string): void {
    let pendingBytes = 0;
    readLegacyFile(file, (l) => {
      if (l.seq < part.nextSeq) return;
      const ev = this.add(part, p, l.seq, l.enqueuedAt, l.deviceId, l.moduleId, l.body, l.properties, l.systemProperties);
      this.retain(part);
      pendingBytes += ev.body.length;
      if (pendingBytes > 4 * 1024 * 1024) { this.writeSync(part); pendingBytes = 0; }
    });
    this.writeSync(part);
    closeFd(part);
  }
}

/** About the UTF-16 length of a record's JSON (what an in-memory store counts against its byte budget). */
function estimateMetaBytes(deviceId: string, moduleId: string | undefined, p: PropertyBag, y: Record<string, string>): number {
  let n = 32 + deviceId.length + (moduleId ? moduleId.length + 8 : 0);
  for (const k of Object.keys(p)) n += k.length + (p[k]?.length ?? 4) + 6;
  for (const k of Object.keys(y)) n += k.length + (y[k]?.length ?? 0) + 6;
  return n;
}

function closeFd(part: Partition): void {
  if (part.fd !== null) {
    try { closeSync(part.fd); } catch { /* closed */ }
  }
  part.fd = null;
  part.fdSeg = null;
}

function writeAll(fd: number, bufs: Buffer[]): Promise<void> {
  const IOV = 1024;
  let chain = Promise.resolve();
  for (let i = 0; i < bufs.length; i += IOV) {
    const group = bufs.slice(i, i + IOV);
    chain = chain.then(() => new Promise<void>((resolve, reject) => writev(fd, group, (e) => (e ? reject(e) : resolve()))));
  }
  return chain;
}

/** The data folder's partition count and creation time; a missing or damaged file is a new folder. */
function readMeta(file: string): { partitions: number; createdAt: string } | null {
  if (!existsSync(file)) return null;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as { partitions?: unknown; createdAt?: unknown };
    if (Number.isInteger(m.partitions) && (m.partitions as number) >= 1 && (m.partitions as number) <= 1024 &&
      typeof m.createdAt === 'string' && !Number.isNaN(Date.parse(m.createdAt))) return { partitions: m.partitions as number, createdAt: m.createdAt };
  } catch { /* damaged */ }
  return null;
}
