// Store and forward for DeviceClient (`store: <folder>`): accepted QoS 1 telemetry is kept in a folder so that a
// kill or a power cut loses none of it. The records are the core's (client_telemetry_store, client_store_done; it
// alone knows their format and checks each one before it is trusted): this file only appends them to a log and
// reads them back in order.
//
// The folder holds `telemetry.log`, an append-only log of message records and completion markers, compacted when it
// is opened (a message with a marker is gone; a torn last record, or a record that does not check out, is dropped
// and reported, the rest kept), and `assignments.json`, the DPS assignments (FileAssignmentStore). The log is the
// queue: it may hold many more messages than the core's outbox, which is a window fed from it as PUBACKs free slots.
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { IotHubWasmError } from '../errors.js';
import { STATUS, STATUS_TEXT, STORE_KIND, type McuExports } from '../wasm/abi.generated.js';
import type { ProvisioningResult } from './provisioning.js';
import type { AssignmentStore } from './client.js';

export interface StoreOptions {
  /** The folder (created if missing). One client per folder at a time. */
  folder: string;
  /** Messages kept at most (sent and not yet acknowledged, or waiting); beyond it sendTelemetry is CLIENT_STORE_FULL. Default 100,000. */
  maxMessages?: number;
  /** Bytes of records kept at most (they are also held in memory); beyond it sendTelemetry is CLIENT_STORE_FULL. Default 64 MiB. */
  maxBytes?: number;
  /**
   * fdatasync the log after each burst of sends (the calls of one tick), so that accepted messages survive a power
   * cut, not only a killed process (default true). Every record is written to the file before sendTelemetry returns.
   */
  fsync?: boolean;
}

/** What opening the store found. */
export interface StoreReport {
  /** Messages kept from earlier runs (no completion marker), queued again with their original ids. */
  restored: number;
  /** Stretches of the log that were not records that check out (CLIENT_STORE_CORRUPT), skipped. */
  corrupt: number;
  /** 1 when the log ended inside a record (a write torn by a kill or power cut: CLIENT_STORE_TRUNCATED), dropped. */
  truncated: number;
}

/** The core, as the store uses it: its exports (selected for this device) and memory. */
export interface StoreCore {
  ex(): McuExports;
  u8(): Uint8Array;
  io: number;
  ioCapacity: number;
}

const LOG = 'telemetry.log';
/** An emptied log is cut back to nothing once it is larger than this (nothing in it is needed any more). */
const TRUNCATE_AT = 1 << 20;

function statusName(code: number): string {
  return Object.entries(STATUS).find(([, v]) => v === code)?.[0] ?? String(code);
}

function storeError(name: keyof typeof STATUS, what: string): IotHubWasmError {
  return new IotHubWasmError(name, `${what}: ${STATUS_TEXT[name]}`, STATUS[name]);
}

export function storeOptions(option: string | StoreOptions): Required<StoreOptions> {
  const o = typeof option === 'string' ? { folder: option } : option;
  if (o === null || typeof o !== 'object' || typeof o.folder !== 'string' || o.folder === '') {
    throw new IotHubWasmError('BAD_ARGUMENT', `store must be a folder or { folder, maxMessages?, maxBytes? }, not ${JSON.stringify(option)}`, STATUS.BAD_ARGUMENT);
  }
  const bound = (v: number | undefined, d: number, name: string) => {
    if (v === undefined) return d;
    if (!Number.isInteger(v) || v < 1) throw new IotHubWasmError('BAD_ARGUMENT', `store.${name} must be a positive integer, not ${v}`, STATUS.BAD_ARGUMENT);
    return v;
  };
  return {
    folder: o.folder,
    maxMessages: bound(o.maxMessages, 100_000, 'maxMessages'),
    maxBytes: bound(o.maxBytes, 64 << 20, 'maxBytes'),
    fsync: o.fsync ?? true,
  };
}

export class MessageStore {
  readonly folder: string;
  readonly report: StoreReport;
  /** What opening found that the application should hear about (CLIENT_STORE_CORRUPT, _TRUNCATED). */
  readonly problems: IotHubWasmError[] = [];
  /** Where problems found later go (DeviceClient: its 'warning' event); until set, into `problems`. */
  warn: (e: IotHubWasmError) => void = (e) => { this.problems.push(e); };
  private readonly file: string;
  private readonly options: Required<StoreOptions>;
  private fd: number | null = null;
  /** Records not acknowledged, by token, oldest first (a Map keeps insertion order). */
  private readonly pending = new Map<number, Buffer>();
  private bytes = 0;
  /** Tokens in the core's outbox now. */
  private readonly queued = new Set<number>();
  /** Tokens waiting for room in the outbox, oldest first, from `head` on. */
  private backlog: number[] = [];
  private head = 0;
  /** Set when queued messages went back to waiting: the backlog is rebuilt from the store's order before use. */
  private rebuild = false;
  private syncQueued = false;
  private written = 0;

  constructor(option: string | StoreOptions, private readonly core: StoreCore) {
    this.options = storeOptions(option);
    this.folder = this.options.folder;
    mkdirSync(this.folder, { recursive: true });
    this.file = join(this.folder, LOG);
    this.report = this.load();
    this.backlog = [...this.pending.keys()];
  }

  /** Messages kept and not yet acknowledged. */
  get size(): number { return this.pending.size; }

  /**
   * Reads the log, has the core check every record (which also moves its next token past them), keeps the messages
   * without a completion marker, and rewrites the log with only those when anything was dropped.
   */
  private load(): StoreReport {
    const report: StoreReport = { restored: 0, corrupt: 0, truncated: 0 };
    if (!existsSync(this.file)) return report;
    const data = readFileSync(this.file);
    const ex = this.core.ex();
    const { io, ioCapacity } = this.core;
    // The log goes through the IO window a window's worth at a time; a record cut by the window's end is read again
    // from its start (a record always fits the window: the core made it there).
    let win = 0;
    let winLen = 0;
    const slide = (at: number) => {
      win = at;
      winLen = Math.min(data.length - at, ioCapacity);
      this.core.u8().set(data.subarray(at, at + winLen), io);
    };
    const atEnd = () => win + winLen === data.length;
    let off = 0;
    let dropped = false;
    slide(0);
    while (off < data.length) {
      if (off >= win + winLen) slide(off);
      let r = ex.client_store_check(io + off - win, win + winLen - off);
      if (r === STATUS.CLIENT_STORE_TRUNCATED && !atEnd() && off > win) { slide(off); r = ex.client_store_check(io, winLen); }
      if (r > 0) {
        const token = ex.client_store_token();
        if (ex.client_store_kind() === STORE_KIND.MESSAGE) this.keep(token, Buffer.from(data.subarray(off, off + r)));
        else { this.forget(token); dropped = true; }
        off += r;
        continue;
      }
      if (r === STATUS.CLIENT_STORE_TRUNCATED && atEnd()) {
        report.truncated = 1;
        this.problems.push(storeError('CLIENT_STORE_TRUNCATED', `${this.file}: the last ${data.length - off} bytes (from byte ${off}) are a torn record, dropped`));
        dropped = true;
        break;
      }
      // Not a record: skip to the next place the core would take for the start of one.
      const from = off;
      do {
        off++;
        if (off >= win + winLen) { if (off >= data.length) break; slide(off); }
      } while (ex.client_store_check(io + off - win, win + winLen - off) === STATUS.CLIENT_STORE_CORRUPT);
      report.corrupt++;
      this.problems.push(storeError('CLIENT_STORE_CORRUPT', `${this.file}: ${off - from} bytes from byte ${from} are not a record that checks out, skipped`));
      dropped = true;
    }
    report.restored = this.pending.size;
    if (dropped) this.rewrite(report.corrupt > 0);
    return report;
  }

  private keep(token: number, record: Buffer): void {
    this.forget(token);
    this.pending.set(token, record);
    this.bytes += record.length;
  }

  private forget(token: number): void {
    const r = this.pending.get(token);
    if (!r) return;
    this.pending.delete(token);
    this.bytes -= r.length;
  }

  /** Replaces the log by the kept records (a new file renamed over it: a crash leaves one or the other whole). */
  private rewrite(keepBad: boolean): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      for (const r of this.pending.values()) writeSync(fd, r);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // A log that had bad bytes is kept aside for whoever wants to look at it.
    if (keepBad) renameSync(this.file, `${this.file}.bad`);
    renameSync(tmp, this.file);
    this.syncFolder();
  }

  private syncFolder(): void {
    let fd: number | null = null;
    try {
      fd = openSync(this.folder, 'r');
      fsyncSync(fd);
    } catch {
      // not every file system lets a folder be synced; the rename is then as durable as it gets
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  private append(record: Uint8Array): void {
    this.fd ??= openSync(this.file, 'a', 0o600);
    writeSync(this.fd, record);
    this.written += record.length;
    if (this.options.fsync && !this.syncQueued) {
      this.syncQueued = true;
      queueMicrotask(() => this.sync());
    }
  }

  private sync(): void {
    this.syncQueued = false;
    if (this.fd !== null) fdatasyncSync(this.fd);
  }

  /** Throws CLIENT_STORE_FULL when one more message would pass the message bound. */
  checkRoom(): void {
    if (this.pending.size >= this.options.maxMessages) throw storeError('CLIENT_STORE_FULL', `the store holds ${this.pending.size} messages (maxMessages)`);
  }

  /**
   * The record client_telemetry_store left at client_store_ptr() for `token`: written to the log (the message is
   * accepted once it is there), then queued in the core if the outbox has room and nothing older waits.
   */
  accept(token: number): void {
    const ex = this.core.ex();
    const ptr = ex.client_store_ptr();
    const len = ex.client_store_len();
    if (this.bytes + len > this.options.maxBytes) throw storeError('CLIENT_STORE_FULL', `the store holds ${this.bytes} bytes of messages (maxBytes)`);
    const view = this.core.u8().subarray(ptr, ptr + len);
    this.append(view);
    this.keep(token, Buffer.from(view));
    if (this.waiting()) { this.backlog.push(token); return; }
    const r = ex.client_store_restore(ptr, len); // in place: the record is still in the IO window
    if (r > 0) this.queued.add(token);
    else this.backlog.push(token); // outbox full, or stopped: it goes when there is room
  }

  /** Queues waiting records while the outbox has room. */
  feed(): void {
    if (!this.waiting()) return;
    const ex = this.core.ex();
    const { io } = this.core;
    while (this.head < this.backlog.length) {
      const token = this.backlog[this.head]!;
      const record = this.pending.get(token);
      if (!record || this.queued.has(token)) { this.head++; continue; }
      this.core.u8().set(record, io);
      const r = ex.client_store_restore(io, record.length);
      if (r === STATUS.CLIENT_QUEUE_FULL || r === STATUS.CLIENT_CLOSED || r === STATUS.CLIENT_NOT_CONFIGURED) break;
      this.head++;
      if (r > 0) { this.queued.add(token); continue; }
      // Refused for good (CLIENT_FOREIGN_TOPIC: another identity's message, left from before a re-provisioning):
      // reported, and marked done so that it is not tried again at every start.
      const name = statusName(r);
      this.warn(new IotHubWasmError(name, `${this.file}: the stored message of token ${token} cannot be sent by this device: ${STATUS_TEXT[name as keyof typeof STATUS_TEXT] ?? name}`, r));
      this.acked(token);
    }
    if (this.head > 1024 && this.head * 2 > this.backlog.length) { this.backlog = this.backlog.slice(this.head); this.head = 0; }
  }

  /** The hub acknowledged `token`: its completion marker goes to the log. True when it was a stored message. */
  acked(token: number): boolean {
    if (!this.pending.has(token)) return false;
    this.queued.delete(token);
    this.forget(token);
    const ex = this.core.ex();
    const len = ex.client_store_done(token);
    const ptr = ex.client_store_ptr();
    this.append(this.core.u8().subarray(ptr, ptr + len));
    if (this.pending.size === 0 && this.written > TRUNCATE_AT && this.fd !== null) {
      ftruncateSync(this.fd, 0); // everything in it is done: an empty log says the same
      this.written = 0;
    }
    return true;
  }

  /**
   * `token` failed (the client was stopped: CLIENT_CLOSED): it stays in the store and goes again when the client
   * starts again, or after the next boot. True when it was a stored message.
   */
  failed(token: number): boolean {
    if (!this.pending.has(token)) return false;
    if (this.queued.delete(token)) this.rebuild = true; // back into the backlog, in its place
    return true;
  }

  /** True when records wait for room in the outbox. */
  private waiting(): boolean {
    if (this.rebuild) {
      this.rebuild = false;
      this.backlog = [...this.pending.keys()].filter((t) => !this.queued.has(t));
      this.head = 0;
    }
    return this.head < this.backlog.length;
  }

  /** Closes the log (it is opened again by the next write). */
  close(): void {
    if (this.fd === null) return;
    if (this.options.fsync) fdatasyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * DPS assignments in the store's folder (`assignments.json`, written whole to a new file renamed over the old), so
 * that DeviceClient.fromProvisioning({ store }) registers once rather than at every boot.
 */
export class FileAssignmentStore implements AssignmentStore {
  private readonly file: string;
  constructor(private readonly folder: string) {
    this.file = join(folder, 'assignments.json');
  }

  private all(): Record<string, ProvisioningResult> {
    try {
      const v = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, ProvisioningResult> : {};
    } catch {
      return {}; // none yet, or unreadable: register again
    }
  }

  load(registrationId: string): ProvisioningResult | undefined {
    const a = Object.hasOwn(this.all(), registrationId) ? this.all()[registrationId] : undefined;
    return a && typeof a.connectionString === 'string' && a.status === 'assigned' ? a : undefined;
  }

  save(registrationId: string, assignment: ProvisioningResult): void {
    mkdirSync(this.folder, { recursive: true });
    const all = this.all();
    Object.defineProperty(all, registrationId, { value: assignment, enumerable: true, writable: true, configurable: true });
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(all, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
