// Cloud-to-device queues: at most 50 messages per device, each with a TTL and a delivery count; every outcome
// (completed, expired, too many deliveries, rejected, purged) becomes a feedback record. Transport-independent, so
// the MQTT side (PUBACK completes) and a later AMQP service side can share it.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { PropertyBag } from './messages.js';
import { HubError } from '../errors.js';
import { JsonFile } from './store.js';
import { StoredRecord } from './json.js';

export const C2D_MAX_QUEUE = 50;
export const C2D_MAX_BYTES = 64 * 1024;
export const C2D_DEFAULT_TTL_SECONDS = 3600;
export const C2D_MAX_TTL_SECONDS = 48 * 3600;
export const C2D_MAX_DELIVERY_COUNT = 10;

export type AckMode = 'none' | 'positive' | 'negative' | 'full';
export type FeedbackStatus = 'Success' | 'Expired' | 'DeliveryCountExceeded' | 'Rejected' | 'Purged';

export interface C2DOptions {
  messageId?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  properties?: PropertyBag;
  ttlSeconds?: number;
  /** Which outcomes the sender wants feedback for (IoT Hub's `iothub-ack`); every outcome is still emitted as 'outcome'. */
  ack?: AckMode;
}

export interface C2DMessage {
  lockToken: string;
  deviceId: string;
  moduleId?: string;
  body: Buffer;
  messageId: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  properties: PropertyBag;
  ack: AckMode;
  enqueuedAt: number;
  expiresAt: number;
  deliveryCount: number;
  state: 'queued' | 'delivered';
}

/** Shaped like IoT Hub's `application/vnd.microsoft.iothub.feedback.json` records. */
export interface FeedbackRecord {
  originalMessageId: string;
  deviceId: string;
  moduleId?: string;
  statusCode: FeedbackStatus;
  description: string;
  enqueuedTimeUtc: string;
  deviceGenerationId: string;
  lockToken: string;
  ack: AckMode;
  /** Whether IoT Hub would send this record to the service (per `ack`). */
  wanted: boolean;
}

const DESCRIPTIONS: Record<FeedbackStatus, string> = {
  Success: 'Success',
  Expired: 'Message Expired',
  DeliveryCountExceeded: 'Message Delivery Count Exceeded',
  Rejected: 'Message Rejected',
  Purged: 'Message Purged',
};

export interface C2DQueueEvents {
  outcome: [FeedbackRecord];
  enqueued: [C2DMessage];
}

/** A message as c2d.json keeps it (the body in base64). */
type StoredMessage = Omit<C2DMessage, 'body'> & { body: string };
interface C2DFile { version: 1; messages: StoredMessage[] }

const ACK_MODES: readonly AckMode[] = ['none', 'positive', 'negative', 'full'];

/** One message of c2d.json checked and copied into a fresh object (known fields, own properties); throws on anything else. */
function parseStoredMessage(raw: unknown, where: string): C2DMessage {
  const r = StoredRecord.of(raw, where);
  // Object.fromEntries defines own properties: a member named __proto__ stays a property, never a prototype
  const properties: PropertyBag = Object.fromEntries(r.record('properties').entries().map(([k, v]) => {
    if (v !== null && typeof v !== 'string') throw r.bad(`property '${k}' must be a string or null`);
    return [k, v as string | null];
  }));
  const ack = r.get('ack');
  if (!ACK_MODES.includes(ack as AckMode)) throw r.bad(`'ack' must be one of ${ACK_MODES.join(', ')}`);
  const state = r.get('state');
  if (state !== 'queued' && state !== 'delivered') throw r.bad(`'state' must be 'queued' or 'delivered'`);
  const deliveryCount = r.count('deliveryCount');
  if (!Number.isInteger(deliveryCount)) throw r.bad(`'deliveryCount' must be an integer`);
  const moduleId = r.optStr('moduleId');
  const correlationId = r.optStr('correlationId');
  const userId = r.optStr('userId');
  const contentType = r.optStr('contentType');
  const contentEncoding = r.optStr('contentEncoding');
  return {
    lockToken: r.str('lockToken'),
    deviceId: r.str('deviceId'),
    ...(moduleId !== undefined ? { moduleId } : {}),
    body: Buffer.from(r.str('body'), 'base64'),
    messageId: r.str('messageId'),
    ...(correlationId !== undefined ? { correlationId } : {}),
    ...(userId !== undefined ? { userId } : {}),
    ...(contentType !== undefined ? { contentType } : {}),
    ...(contentEncoding !== undefined ? { contentEncoding } : {}),
    properties,
    ack: ack as AckMode,
    enqueuedAt: r.count('enqueuedAt'),
    expiresAt: r.count('expiresAt'),
    deliveryCount,
    // a delivery the device did not acknowledge before the hub stopped is delivered again
    state: 'queued',
  };
}

export class C2DQueue extends EventEmitter<C2DQueueEvents> {
  private readonly queues = new Map<string, C2DMessage[]>();
  /** Recent feedback records, oldest first (bounded). */
  readonly feedback: FeedbackRecord[] = [];
  maxFeedback = 10_000;
  /** `{dataDir}/c2d.json` once open() was called; null keeps the queues in memory only. */
  private file: JsonFile<C2DFile> | null = null;

  constructor(readonly maxDeliveryCount = C2D_MAX_DELIVERY_COUNT, private readonly now: () => number = Date.now) {
    super();
  }

  /**
   * Keeps the queues in `{dataDir}/c2d.json`: restores the messages it holds (a delivered, unacknowledged message is
   * queued again, its delivery count kept) and, unless `sweep` is false, drops the expired ones with `Expired`
   * feedback. Returns how many messages were restored.
   */
  open(dataDir: string | null, opts: { sweep?: boolean } = {}): number {
    if (!dataDir) return 0;
    const file = new JsonFile<C2DFile>(join(dataDir, 'c2d.json'), () => this.snapshot());
    const loaded = file.load();
    let restored = 0;
    if (loaded !== undefined) {
      const list = typeof loaded === 'object' && loaded !== null && Object.hasOwn(loaded, 'messages') ? (loaded as { messages: unknown }).messages : undefined;
      if (!Array.isArray(list)) throw new Error(`${file.path}: 'messages' must be an array; fix or delete the file`);
      const parsed = list.map((raw, i) => parseStoredMessage(raw, `${file.path}: messages[${i}]`));
      for (const m of parsed) {
        const q = this.queue(m.deviceId, m.moduleId);
        if (q.length >= C2D_MAX_QUEUE || q.some((x) => x.lockToken === m.lockToken)) continue;
        q.push(m);
        restored++;
      }
    }
    this.file = file;
    if (opts.sweep ?? true) this.sweep();
    return restored;
  }

  /** The identities that have messages waiting. */
  identities(): { deviceId: string; moduleId?: string }[] {
    const out: { deviceId: string; moduleId?: string }[] = [];
    for (const q of this.queues.values()) if (q[0]) out.push({ deviceId: q[0].deviceId, ...(q[0].moduleId ? { moduleId: q[0].moduleId } : {}) });
    return out;
  }

  /** Resolves once every change so far is on disk (rejects when the write failed). */
  flush(): Promise<void> { return this.file ? this.file.flush() : Promise.resolve(); }

  private snapshot(): C2DFile {
    const messages: StoredMessage[] = [];
    for (const q of this.queues.values()) for (const m of q) messages.push({ ...m, body: m.body.toString('base64') });
    return { version: 1, messages };
  }

  /** Schedules a write; a failure surfaces through flush() (sendC2D awaits it). */
  private persist(): void {
    this.file?.save().catch(() => {});
  }

  enqueue(deviceId: string, body: Buffer, opts: C2DOptions = {}, moduleId?: string): C2DMessage {
    const size = body.length + Object.entries(opts.properties ?? {}).reduce(
      (n, [k, v]) => n + Buffer.byteLength(k) + (v === null ? 0 : Buffer.byteLength(v)), 0);
    if (size > C2D_MAX_BYTES) {
      throw new HubError(413, 'MessageTooLarge', `C2D message of ${size} bytes exceeds ${C2D_MAX_BYTES} bytes (body and properties)`);
    }
    this.sweep(deviceId);
    const q = this.queue(deviceId, moduleId);
    if (q.length >= C2D_MAX_QUEUE) {
      throw new HubError(403, 'DeviceMaximumQueueDepthExceeded', `the C2D queue of '${deviceId}' already holds ${C2D_MAX_QUEUE} messages`);
    }
    const ttl = Math.min(opts.ttlSeconds ?? C2D_DEFAULT_TTL_SECONDS, C2D_MAX_TTL_SECONDS);
    if (!(ttl > 0)) throw new HubError(400, 'ArgumentInvalid', 'ttlSeconds must be positive');
    const now = this.now();
    const msg: C2DMessage = {
      lockToken: randomUUID(),
      deviceId,
      ...(moduleId ? { moduleId } : {}),
      body,
      messageId: opts.messageId ?? randomUUID(),
      ...(opts.correlationId !== undefined ? { correlationId: opts.correlationId } : {}),
      ...(opts.userId !== undefined ? { userId: opts.userId } : {}),
      ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
      ...(opts.contentEncoding !== undefined ? { contentEncoding: opts.contentEncoding } : {}),
      properties: { ...(opts.properties ?? {}) },
      ack: opts.ack ?? 'none',
      enqueuedAt: now,
      expiresAt: now + ttl * 1000,
      deliveryCount: 0,
      state: 'queued',
    };
    q.push(msg);
    this.persist();
    this.emit('enqueued', msg);
    return msg;
  }

  /** Messages waiting for a device (queued and delivered-not-completed), after dropping expired ones. */
  pending(deviceId: string, moduleId?: string): readonly C2DMessage[] {
    this.sweep(deviceId, moduleId);
    return this.queues.get(qkey(deviceId, moduleId)) ?? [];
  }

  /** Takes the next queued message for delivery (state → delivered, deliveryCount + 1), or undefined. */
  takeNext(deviceId: string, moduleId?: string): C2DMessage | undefined {
    this.sweep(deviceId, moduleId);
    const q = this.queues.get(qkey(deviceId, moduleId));
    if (!q) return undefined;
    for (const m of q) {
      if (m.state !== 'queued') continue;
      if (m.deliveryCount >= this.maxDeliveryCount) {
        this.finish(m, 'DeliveryCountExceeded');
        return this.takeNext(deviceId, moduleId);
      }
      m.state = 'delivered';
      m.deliveryCount++;
      this.persist();
      return m;
    }
    return undefined;
  }

  /** The device accepted the message (MQTT PUBACK). */
  complete(lockToken: string): boolean { return this.settle(lockToken, 'Success'); }
  /** The device refused it (AMQP/HTTP only: MQTT cannot reject). */
  reject(lockToken: string): boolean { return this.settle(lockToken, 'Rejected'); }

  /** Returns a delivered message to the queue (device disconnected before acknowledging, or abandoned it). */
  abandon(lockToken: string): boolean {
    const m = this.find(lockToken);
    if (!m || m.state !== 'delivered') return false;
    m.state = 'queued';
    this.persist();
    return true;
  }

  /** Drops every message of a device; returns how many. */
  purge(deviceId: string, moduleId?: string): number {
    const q = this.queues.get(qkey(deviceId, moduleId)) ?? [];
    const n = q.length;
    for (const m of [...q]) this.finish(m, 'Purged');
    return n;
  }

  /** Drops expired messages everywhere (or for one device). */
  sweep(deviceId?: string, moduleId?: string): void {
    const now = this.now();
    const qs = deviceId === undefined ? [...this.queues.values()] : [this.queues.get(qkey(deviceId, moduleId)) ?? []];
    for (const q of qs) for (const m of [...q]) if (m.expiresAt <= now) this.finish(m, 'Expired');
  }

  /** Removes and returns the feedback records collected so far (what a service-side feedback receiver reads). */
  takeFeedback(onlyWanted = true): FeedbackRecord[] {
    const out: FeedbackRecord[] = [];
    const keep: FeedbackRecord[] = [];
    for (const f of this.feedback) (onlyWanted && !f.wanted ? keep : out).push(f);
    this.feedback.length = 0;
    this.feedback.push(...keep);
    return out;
  }

  private settle(lockToken: string, status: FeedbackStatus): boolean {
    const m = this.find(lockToken);
    if (!m) return false;
    this.finish(m, status);
    return true;
  }

  private find(lockToken: string): C2DMessage | undefined {
    for (const q of this.queues.values()) for (const m of q) if (m.lockToken === lockToken) return m;
    return undefined;
  }

  private queue(deviceId: string, moduleId?: string): C2DMessage[] {
    const k = qkey(deviceId, moduleId);
    let q = this.queues.get(k);
    if (!q) { q = []; this.queues.set(k, q); }
    return q;
  }

  private finish(m: C2DMessage, status: FeedbackStatus): void {
    const k = qkey(m.deviceId, m.moduleId);
    const q = this.queues.get(k);
    if (q) {
      const i = q.indexOf(m);
      if (i >= 0) q.splice(i, 1);
      if (q.length === 0) this.queues.delete(k);
      this.persist();
    }
    const wanted = m.ack === 'full' || (m.ack === 'positive' && status === 'Success') ||
      (m.ack === 'negative' && status !== 'Success');
    const rec: FeedbackRecord = {
      originalMessageId: m.messageId,
      deviceId: m.deviceId,
      ...(m.moduleId ? { moduleId: m.moduleId } : {}),
      statusCode: status,
      description: DESCRIPTIONS[status],
      enqueuedTimeUtc: new Date(this.now()).toISOString(),
      deviceGenerationId: '',
      lockToken: m.lockToken,
      ack: m.ack,
      wanted,
    };
    this.feedback.push(rec);
    if (this.feedback.length > this.maxFeedback) this.feedback.splice(0, this.feedback.length - this.maxFeedback);
    this.emit('outcome', rec);
  }
}

function qkey(deviceId: string, moduleId?: string): string {
  return moduleId ? `${deviceId}/${moduleId}` : deviceId;
}
