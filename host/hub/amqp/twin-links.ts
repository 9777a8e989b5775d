// The twin links of the AMQP device endpoint, as IoT Hub serves them to Microsoft's device SDKs: a device (or module)
// attaches a sender and a receiver to `/devices/{id}[/modules/{mid}]/twin` carrying the same
// `com.microsoft:channel-correlation-id`; a request on the sender names its `operation` (GET, PATCH, PUT, DELETE) and
// `resource` in message annotations and carries a correlation_id; the answer on the receiver carries the same
// correlation_id and the `status` (int) and `version` (long) annotations. PUT on `/notifications/twin/properties/desired`
// subscribes the channel to desired patches, which arrive with no correlation_id. The endpoint authenticates; this
// file speaks the twin protocol over the hub's twin store, as the MQTT broker does.
import rhea from 'rhea';
import type { Connection, EventContext, Message, Receiver, Sender } from 'rhea';
import { HubError } from '../errors.js';
import { JsonError, parseJson, type JsonObject } from '../state/json.js';
import { TWIN_DOCUMENT_MAX_NESTING, type TwinStore } from '../state/twin-store.js';
import { identityKey, type Identity } from '../state/messages.js';
import { bodyBytes } from './message.js';

export const TWIN_RESOURCE_REPORTED = '/properties/reported';
export const TWIN_RESOURCE_DESIRED = '/notifications/twin/properties/desired';
export const CHANNEL_CORRELATION_ID = 'com.microsoft:channel-correlation-id';
/** Requests a twin channel may have unanswered (PATCHes being stored); more are answered 429, as IoT Hub throttles. */
export const TWIN_MAX_PENDING = 64;
/** Messages (answers and desired patches) waiting for the device's credit; more and the response link is detached. */
export const TWIN_MAX_QUEUED = 64;
/** Bytes of twin messages a connection may hold waiting for credit, over all its twin links (a GET answer is ≤ ~70 KB). */
export const TWIN_MAX_QUEUED_BYTES = 1024 * 1024;
/** The largest request body: twice the reported section's 32 KB, room for JSON's quotes and braces (larger: 413). */
export const TWIN_MAX_BODY_BYTES = 64 * 1024;

export interface TwinLinksHub {
  readonly twins: TwinStore;
  /** A device patched its reported properties over AMQP (the hub's 'reported' event, as MQTT's). */
  reportedPatched?(e: { deviceId: string; moduleId?: string; patch: JsonObject; version: number }): void;
  /** An injected fault for the identity's next twin GET or PATCH (LocalHub.failTwinRequests): the status to answer. */
  twinFault?(identityKey: string): number | undefined;
}

interface TwinChannel {
  conn: Connection;
  identity: Identity;
  key: string;
  correlation: string;
  /** Ours: the device's receiver (answers and desired patches go out here). */
  sender: Sender | undefined;
  /** Ours: the device's sender (requests come in here). */
  receiver: Receiver | undefined;
  subscribed: boolean;
  /** Requests received and not yet answered. */
  pending: number;
  /** Messages waiting for credit on `sender`. */
  queue: { m: Message; bytes: number }[];
}

/** A link's `com.microsoft:channel-correlation-id` attach property ('' when it has none). */
export function channelCorrelation(link: Sender | Receiver): string {
  const props = (link as unknown as { remote?: { attach?: { properties?: unknown } } }).remote?.attach?.properties;
  if (!props || typeof props !== 'object') return '';
  const v = (props as Record<string, unknown>)[CHANNEL_CORRELATION_ID];
  return typeof v === 'string' ? v.slice(0, 256) : '';
}

/**
 * A correlation id answered as it came: a string, a UUID (a 16-byte buffer), other binary, or an unsigned integer
 * (rhea would encode any other buffer as a malformed UUID).
 */
export function echoId(v: unknown): unknown {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.length === 16 ? v : rhea.types.wrap_binary(v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return rhea.types.wrap_ulong(v);
  return undefined;
}

function annotation(m: Message, name: string): unknown {
  const a = m.message_annotations as Record<string, unknown> | undefined;
  return a && typeof a === 'object' && Object.hasOwn(a, name) ? a[name] : undefined;
}

export class AmqpTwinLinks {
  private readonly channels = new Map<Connection, Map<string, TwinChannel>>();
  private readonly bySender = new Map<Sender, TwinChannel>();
  private readonly byReceiver = new Map<Receiver, TwinChannel>();
  /** Bytes queued for credit, by connection. */
  private readonly queuedBytes = new Map<Connection, number>();

  constructor(private readonly hub: TwinLinksHub, private readonly log: (line: string) => void) {}

  private channel(link: Sender | Receiver, identity: Identity): TwinChannel {
    const conn = link.connection;
    let map = this.channels.get(conn);
    if (!map) { map = new Map(); this.channels.set(conn, map); }
    const key = identityKey(identity);
    const correlation = channelCorrelation(link);
    const k = `${key}\n${correlation}`;
    let ch = map.get(k);
    if (!ch) {
      ch = { conn, identity, key, correlation, sender: undefined, receiver: undefined, subscribed: false, pending: 0, queue: [] };
      map.set(k, ch);
    }
    return ch;
  }

  /** The device attached its twin sender: requests come in (with rhea's credit window). */
  attachRequests(r: Receiver, identity: Identity): void {
    const ch = this.channel(r, identity);
    if (ch.receiver && !ch.receiver.is_closed()) {
      r.close({ condition: 'amqp:resource-locked', description: 'this twin channel (channel-correlation-id) already has a request link' });
      return;
    }
    ch.receiver = r;
    this.byReceiver.set(r, ch);
  }

  /** The device attached its twin receiver: answers and desired patches go out on it. */
  attachResponses(s: Sender, identity: Identity): void {
    const ch = this.channel(s, identity);
    if (ch.sender && !ch.sender.is_closed()) {
      s.close({ condition: 'amqp:resource-locked', description: 'this twin channel (channel-correlation-id) already has a response link' });
      return;
    }
    ch.sender = s;
    this.bySender.set(s, ch);
    this.pump(ch);
  }

  /** A request on a twin link, already authorised for the channel's identity. */
  request(ctx: EventContext): void {
    const r = ctx.receiver!;
    const d = ctx.delivery!;
    const ch = this.byReceiver.get(r);
    if (!ch) { d.reject({ condition: 'amqp:not-found', description: 'not a twin link' }); return; }
    const m = ctx.message!;
    const cid = echoId(m.correlation_id);
    if (cid === undefined) {
      d.reject({ condition: 'com.microsoft:argument-error', description: 'a twin request needs a correlation_id (a string, UUID, binary or ulong)' });
      return;
    }
    d.accept();
    ch.pending++;
    const answer = (status: number, body: Buffer | undefined, version?: number) => {
      ch.pending--;
      const ann: Record<string, unknown> = { status: rhea.types.wrap_int(status) };
      if (version !== undefined) ann['version'] = rhea.types.wrap_long(version);
      this.send(ch, { correlation_id: cid, message_annotations: ann, ...(body ? { body: rhea.message.data_section(body) } : {}) } as unknown as Message);
    };
    const fail = (status: number, message: string) => {
      this.log(`AMQP ${ch.key} twin ${q(annotation(m, 'operation'))} ${q(annotation(m, 'resource'))} → ${status} (${message})`);
      answer(status, Buffer.from(JSON.stringify({ message })));
    };
    const op = annotation(m, 'operation');
    const resource = annotation(m, 'resource');
    if (typeof op !== 'string') return fail(400, "the request names no operation (message annotation 'operation': GET, PATCH, PUT or DELETE)");
    if (resource !== undefined && resource !== null && typeof resource !== 'string') return fail(400, "message annotation 'resource' must be a string");
    const res = typeof resource === 'string' ? resource : '';
    if (ch.pending > TWIN_MAX_PENDING) return fail(429, `more than ${TWIN_MAX_PENDING} twin requests unanswered on this link`);
    const body = bodyBytes(m);
    if (body.length > TWIN_MAX_BODY_BYTES) return fail(413, `a twin request body of ${body.length} bytes is over ${TWIN_MAX_BODY_BYTES}`);
    const { deviceId, moduleId } = ch.identity;
    if (op === 'GET' || op === 'PATCH') {
      const injected = this.hub.twinFault?.(ch.key);
      if (injected !== undefined) return fail(injected, injected === 429 ? 'throttled (injected fault)' : 'injected fault');
    }
    switch (op) {
      case 'GET': {
        if (res !== '' && res !== '/') return fail(400, `GET takes no resource (not ${q(res)})`);
        const doc = this.hub.twins.deviceView(deviceId, moduleId);
        this.log(`AMQP ${ch.key} twin GET → 200 (desired $version ${doc.desired['$version']}, reported $version ${doc.reported['$version']})`);
        return answer(200, Buffer.from(JSON.stringify(doc)));
      }
      case 'PATCH': {
        if (res !== TWIN_RESOURCE_REPORTED) return fail(400, `PATCH is for ${TWIN_RESOURCE_REPORTED}, not ${q(res)}`);
        let patch: unknown;
        try {
          patch = parseJson(body, { maxDepth: TWIN_DOCUMENT_MAX_NESTING });
        } catch (e) {
          return fail(400, e instanceof JsonError ? e.message : 'the body is not JSON');
        }
        this.hub.twins.patchReported(deviceId, moduleId, patch).then((version) => {
          this.log(`AMQP ${ch.key} twin reported PATCH → 204 $version=${version}`);
          answer(204, undefined, version);
          this.hub.reportedPatched?.({ deviceId, ...(moduleId ? { moduleId } : {}), patch: patch as JsonObject, version });
        }, (err: unknown) => {
          fail(err instanceof HubError ? err.status : 500, err instanceof HubError ? err.message : 'the twin could not be stored');
        });
        return;
      }
      case 'PUT':
      case 'DELETE': {
        if (res !== TWIN_RESOURCE_DESIRED) return fail(400, `${op} is for ${TWIN_RESOURCE_DESIRED}, not ${q(res)}`);
        ch.subscribed = op === 'PUT';
        this.log(`AMQP ${ch.key} twin ${op} ${TWIN_RESOURCE_DESIRED} → 200 (${ch.subscribed ? 'subscribed to' : 'unsubscribed from'} desired patches)`);
        return answer(200, undefined);
      }
      default:
        return fail(400, `unknown twin operation ${q(op)} (GET, PATCH, PUT or DELETE)`);
    }
  }

  /** Sends a stored desired patch to every subscribed twin channel of the identity; false when there is none. */
  notifyDesired(identity: Identity, version: number, patch: JsonObject): boolean {
    const key = identityKey(identity);
    let sent = false;
    for (const map of this.channels.values()) {
      for (const ch of map.values()) {
        if (ch.key !== key || !ch.subscribed || !ch.sender) continue;
        this.send(ch, {
          message_annotations: { version: rhea.types.wrap_long(version) },
          body: rhea.message.data_section(Buffer.from(JSON.stringify(patch))),
        } as unknown as Message);
        this.log(`AMQP ${key} desired PATCH $version=${version} sent`);
        sent = true;
      }
    }
    return sent;
  }

  /** Whether the identity has a twin channel on a live connection. */
  has(identity: Identity): boolean {
    const key = identityKey(identity);
    for (const map of this.channels.values()) for (const ch of map.values()) if (ch.key === key) return true;
    return false;
  }

  sendable(s: Sender): void {
    const ch = this.bySender.get(s);
    if (ch) this.pump(ch);
  }

  /** A link went away: its channel forgets it, and is dropped once it has neither link. */
  drop(link: Sender | Receiver): void {
    const ch = this.bySender.get(link as Sender) ?? this.byReceiver.get(link as Receiver);
    if (!ch) return;
    if (ch.sender === link) { this.bySender.delete(link as Sender); ch.sender = undefined; this.clearQueue(ch); ch.subscribed = false; }
    if (ch.receiver === link) { this.byReceiver.delete(link as Receiver); ch.receiver = undefined; }
    if (!ch.sender && !ch.receiver) this.channels.get(ch.conn)?.delete(`${ch.key}\n${ch.correlation}`);
  }

  dropConnection(conn: Connection): void {
    const map = this.channels.get(conn);
    if (!map) return;
    for (const ch of map.values()) {
      if (ch.sender) this.bySender.delete(ch.sender);
      if (ch.receiver) this.byReceiver.delete(ch.receiver);
    }
    this.channels.delete(conn);
    this.queuedBytes.delete(conn);
  }

  private clearQueue(ch: TwinChannel): void {
    let n = 0;
    for (const q of ch.queue) n += q.bytes;
    ch.queue = [];
    const left = (this.queuedBytes.get(ch.conn) ?? 0) - n;
    if (left > 0) this.queuedBytes.set(ch.conn, left); else this.queuedBytes.delete(ch.conn);
  }

  private send(ch: TwinChannel, m: Message): void {
    if (!ch.sender || ch.sender.is_closed()) { this.log(`AMQP ${ch.key} twin message dropped: no twin receiver link with channel-correlation-id ${q(ch.correlation)}`); return; }
    const bytes = bodyBytes(m).length + 64;
    ch.queue.push({ m, bytes });
    const total = (this.queuedBytes.get(ch.conn) ?? 0) + bytes;
    this.queuedBytes.set(ch.conn, total);
    this.pump(ch);
    if (ch.queue.length > TWIN_MAX_QUEUED || (ch.queue.length && (this.queuedBytes.get(ch.conn) ?? 0) > TWIN_MAX_QUEUED_BYTES)) {
      const why = ch.queue.length > TWIN_MAX_QUEUED ? `more than ${TWIN_MAX_QUEUED} twin messages wait for credit` :
        `more than ${TWIN_MAX_QUEUED_BYTES} bytes of twin messages wait for credit on this connection`;
      this.log(`AMQP ${ch.key} twin link detached: ${why}`);
      const s = ch.sender;
      this.drop(s);
      s.close({ condition: 'amqp:resource-limit-exceeded', description: why });
    }
  }

  private pump(ch: TwinChannel): void {
    const s = ch.sender;
    while (s && ch.queue.length && !s.is_closed() && s.sendable()) {
      const { m, bytes } = ch.queue.shift()!;
      const left = (this.queuedBytes.get(ch.conn) ?? 0) - bytes;
      if (left > 0) this.queuedBytes.set(ch.conn, left); else this.queuedBytes.delete(ch.conn);
      s.send(m);
    }
  }
}

/** A peer-supplied value for the log: quoted and short. */
function q(v: unknown, max = 60): string {
  const t = String(v);
  return JSON.stringify(t.length > max ? `${t.slice(0, max)}…` : t);
}
