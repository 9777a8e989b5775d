// The hub's AMQP 1.0 service surface on rhea: SASL PLAIN (`{policy}@sas.root.{hub}` + SAS token) or SASL ANONYMOUS
// (or no SASL) + CBS put-token; `/messages/devicebound` (C2D into the shared queue), `/messages/serviceBound/feedback`
// (batched feedback records), the Event Hub-compatible `/messages/events/ConsumerGroups/{g}/Partitions/{p}` and
// `$management` READ.
import rhea from 'rhea';
import type { Connection, Container, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import type { Duplex } from 'node:stream';
import type { Policies, Right, ServiceClaims } from './policies.js';
import type { Registry } from './registry.js';
import type { C2DQueue, C2DOptions, FeedbackRecord, AckMode } from './c2d-queue.js';
import type { EventStore, StoredEvent, StartPosition } from './events.js';
import { parseSelector } from './events.js';
import { HubError } from './methods.js';
import type { PropertyBag } from './topics.js';

export const FEEDBACK_CONTENT_TYPE = 'application/vnd.microsoft.iothub.feedback.json';
export const DEVICEBOUND_ADDRESS = '/messages/devicebound';
export const FEEDBACK_ADDRESS = '/messages/serviceBound/feedback';

/** What the AMQP surface needs from the hub. */
export interface AmqpHub {
  readonly hostName: string;
  hostNames(): string[];
  readonly policies: Policies;
  readonly registry: Registry;
  readonly c2d: C2DQueue;
  readonly events: EventStore;
  /** The Event Hub-compatible name (the hub's name). */
  readonly eventHubName: string;
  sendC2D(deviceId: string, body: Buffer, opts: C2DOptions): Promise<{ messageId: string }>;
}

export interface AmqpOptions {
  /** How long feedback records are collected into one message. Default 200 ms. */
  feedbackBatchMs?: number;
  log?: (line: string) => void;
}

interface ConnState {
  id: number;
  /** Claims from SASL PLAIN and from CBS put-token, by audience. */
  claims: Map<string, ServiceClaims>;
  user: string;
  /** Our senders on `$cbs` and `$management` (the peer's reply receivers). */
  replySenders: Set<Sender>;
}

interface FeedbackBatch { records: FeedbackRecord[]; sender: Sender | null }

interface EventReader { sender: Sender; partition: number; nextSeq: number; pumping: boolean }

class PlainMechanism {
  outcome: boolean | undefined = undefined;
  username: string | undefined = undefined;
  claims: ServiceClaims | undefined;
  reason = '';
  constructor(private readonly check: (user: string, password: string) => ServiceClaims | string) {}
  start(response: Buffer): void {
    const fields: string[] = [];
    let start = 0;
    for (let i = 0; i <= response.length; i++) {
      if (i === response.length || response[i] === 0) { fields.push(response.toString('utf8', start, i)); start = i + 1; }
    }
    if (fields.length !== 3) { this.outcome = false; this.reason = 'malformed PLAIN response'; return; }
    const r = this.check(fields[1]!, fields[2]!);
    this.username = fields[1];
    if (typeof r === 'string') { this.outcome = false; this.reason = r; } else { this.outcome = true; this.claims = r; }
  }
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.length === 16 ? rhea.uuid_to_string(v) : v.toString('utf8');
  return String(v);
}

function bodyBuffer(m: Message): Buffer {
  const b = m.body as unknown;
  if (Buffer.isBuffer(b)) return b;
  if (b && typeof b === 'object' && 'content' in (b as object) && Buffer.isBuffer((b as { content: unknown }).content)) return (b as { content: Buffer }).content;
  if (typeof b === 'string') return Buffer.from(b);
  if (b === undefined || b === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(b));
}

function linkAddress(link: Sender | Receiver, end: 'source' | 'target'): string {
  const t = (end === 'source' ? link.source : link.target) as { address?: string } | undefined;
  return t?.address ?? '';
}

const EVENTS_RE = /^\/?(?:messages\/events|[^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/(\d+)$/i;

export class AmqpService {
  readonly container: Container;
  private readonly states = new WeakMap<Connection, ConnState>();
  private readonly connections = new Set<Connection>();
  private readonly feedbackSenders = new Set<Sender>();
  private readonly feedbackQueue: FeedbackRecord[] = [];
  /** Sent feedback messages awaiting settlement, by delivery id; released/closed → requeued. */
  private readonly unsettled = new Map<Delivery, FeedbackBatch>();
  private readonly readers = new Set<EventReader>();
  private feedbackTimer: NodeJS.Timeout | null = null;
  private seq = 0;
  private readonly log: (line: string) => void;
  private readonly batchMs: number;
  private readonly onOutcome = (f: FeedbackRecord) => { if (f.wanted) this.queueFeedback(f); };
  private readonly onAppended = (ev: StoredEvent) => { for (const r of this.readers) if (r.partition === ev.partition) this.pumpEvents(r); };

  constructor(private readonly hub: AmqpHub, opts: AmqpOptions = {}) {
    this.log = opts.log ?? (() => {});
    this.batchMs = opts.feedbackBatchMs ?? 200;
    const c = rhea.create_container({ id: `iothub-wasm-${hub.hostName}` });
    this.container = c;
    c.sasl_server_mechanisms.enable_anonymous();
    c.sasl_server_mechanisms['PLAIN'] = () => new PlainMechanism((u, p) => this.checkPlain(u, p));
    c.on('connection_open', (ctx: EventContext) => this.onConnectionOpen(ctx));
    c.on('receiver_open', (ctx: EventContext) => this.onReceiverOpen(ctx));
    c.on('sender_open', (ctx: EventContext) => this.onSenderOpen(ctx));
    c.on('message', (ctx: EventContext) => this.onMessage(ctx));
    c.on('sendable', (ctx: EventContext) => this.onSendable(ctx));
    c.on('accepted', (ctx: EventContext) => this.onSettled(ctx, true));
    c.on('released', (ctx: EventContext) => this.onSettled(ctx, false));
    c.on('rejected', (ctx: EventContext) => this.onSettled(ctx, true));
    c.on('modified', (ctx: EventContext) => this.onSettled(ctx, false));
    c.on('sender_close', (ctx: EventContext) => this.dropSender(ctx.sender!));
    c.on('disconnected', (ctx: EventContext) => this.onDisconnected(ctx));
    c.on('connection_close', (ctx: EventContext) => this.onDisconnected(ctx));
    c.on('connection_error', () => {});
    c.on('session_error', () => {});
    c.on('sender_error', () => {});
    c.on('receiver_error', () => {});
    c.on('error', (ctx: EventContext) => this.log(`AMQP error: ${(ctx as { error?: Error }).error?.message ?? 'unknown'}`));
    hub.c2d.on('outcome', this.onOutcome);
    hub.events.on('appended', this.onAppended);
  }

  /** Serves one accepted stream (a TLS socket, or a WebSocket stream). */
  accept(stream: Duplex): Connection {
    const conn = this.container.create_connection({ autoaccept: false, container_id: this.container.id } as never);
    conn.accept(stream as never);
    this.connections.add(conn);
    this.states.set(conn, { id: ++this.seq, claims: new Map(), user: 'anonymous', replySenders: new Set() });
    return conn;
  }

  // --- authentication -------------------------------------------------------------------------------------------

  private checkPlain(user: string, password: string): ServiceClaims | string {
    const m = /^([^@]+)@sas\.root\.(.+)$/i.exec(user);
    if (!m) return `SASL PLAIN user '${user}' is not {policy}@sas.root.{hub}`;
    const hub = m[2]!.toLowerCase();
    const names = this.hub.hostNames().flatMap((h) => [h, h.split('.')[0]!, h.split(':')[0]!]);
    if (!names.includes(hub)) return `SASL PLAIN user names hub '${m[2]}', not ${this.hub.hostName}`;
    const r = this.hub.policies.verify(password, this.hub.hostNames(), Math.floor(Date.now() / 1000), m[1]);
    if (!r.ok) { this.log(`AMQP SASL PLAIN refused for ${user}: ${r.reason}`); return r.reason; }
    return r.claims;
  }

  private onConnectionOpen(ctx: EventContext): void {
    const conn = ctx.connection;
    const st = this.state(conn);
    const sasl = (conn as unknown as { sasl_transport?: { mechanism?: unknown; transports?: Record<number, { mechanism?: unknown }> } }).sasl_transport;
    const mech = (sasl?.transports?.[3]?.mechanism ?? sasl?.mechanism) as PlainMechanism | undefined;
    if (mech instanceof PlainMechanism && mech.claims) {
      st.claims.set('sasl', mech.claims);
      st.user = mech.username ?? 'plain';
    }
    this.log(`AMQP connection #${st.id} open (${st.claims.size ? `policy ${st.user}` : 'anonymous: CBS expected'})`);
  }

  private state(conn: Connection): ConnState {
    let st = this.states.get(conn);
    if (!st) { st = { id: ++this.seq, claims: new Map(), user: 'anonymous', replySenders: new Set() }; this.states.set(conn, st); this.connections.add(conn); }
    return st;
  }

  /** Whether the connection holds an unexpired claim with `right`. */
  private has(conn: Connection, right: Right): boolean {
    const now = Math.floor(Date.now() / 1000);
    for (const c of this.state(conn).claims.values()) if (c.expiresAt > now && c.rights.has(right)) return true;
    return false;
  }

  private putToken(ctx: EventContext, m: Message): void {
    const props = (m.application_properties ?? {}) as Record<string, unknown>;
    const reply = (status: number, description: string) => {
      this.reply(ctx.connection, '$cbs', m, { 'status-code': rhea.types.wrap_int(status), 'status-description': description }, undefined);
    };
    if (props['operation'] !== 'put-token') return reply(400, `unsupported CBS operation '${String(props['operation'])}'`);
    const type = String(props['type'] ?? '');
    if (type !== 'servicebus.windows.net:sastoken' && type !== 'azure-devices.net:sastoken') return reply(400, `unsupported token type '${type}'`);
    const token = bodyBuffer(m).toString('utf8');
    const audience = String(props['name'] ?? '');
    const r = this.hub.policies.verify(token, this.hub.hostNames(), Math.floor(Date.now() / 1000));
    const st = this.state(ctx.connection);
    if (!r.ok) {
      this.log(`AMQP #${st.id} CBS put-token for '${audience}' refused: ${r.reason}`);
      return reply(401, r.reason);
    }
    st.claims.set(audience, r.claims);
    st.user = r.claims.policy;
    this.log(`AMQP #${st.id} CBS put-token for '${audience}' accepted (policy ${r.claims.policy})`);
    reply(200, 'OK');
  }

  /** Answers a request on the sender link with source `node` whose target is `reply_to` (or the only one). */
  private reply(conn: Connection, node: string, req: Message, props: Record<string, unknown>, body: unknown): void {
    let best: Sender | undefined;
    for (const s of this.state(conn).replySenders) {
      if (linkAddress(s, 'source') !== node || s.is_closed()) continue;
      if (!best || (req.reply_to && linkAddress(s, 'target') === req.reply_to)) best = s;
    }
    if (!best) { this.log(`AMQP: no reply link for ${node}`); return; }
    const msg: Message = { correlation_id: req.message_id ?? req.correlation_id, application_properties: props } as Message;
    if (req.reply_to) msg.to = req.reply_to;
    if (body !== undefined) msg.body = body;
    best.send(msg);
  }

  // --- links ----------------------------------------------------------------------------------------------------

  /** The peer attached a sender: we receive. */
  private onReceiverOpen(ctx: EventContext): void {
    const r = ctx.receiver!;
    const target = linkAddress(r, 'target');
    if (target === '$cbs' || target === '$management') { r.add_credit(100); return; }
    if (target === DEVICEBOUND_ADDRESS || target === DEVICEBOUND_ADDRESS.slice(1)) {
      if (!this.has(ctx.connection, 'ServiceConnect')) return this.refuseLink(r, 'ServiceConnect', target);
      r.add_credit(100);
      return;
    }
    this.log(`AMQP #${this.state(ctx.connection).id}: no node '${target}' to send to`);
    r.close({ condition: 'amqp:not-found', description: `no node '${target}' on this hub (send to ${DEVICEBOUND_ADDRESS})` });
  }

  /** The peer attached a receiver: we send. */
  private onSenderOpen(ctx: EventContext): void {
    const s = ctx.sender!;
    const source = linkAddress(s, 'source');
    const st = this.state(ctx.connection);
    if (source === '$cbs' || source === '$management') { st.replySenders.add(s); return; }
    if (source === FEEDBACK_ADDRESS || source === FEEDBACK_ADDRESS.slice(1)) {
      if (!this.has(ctx.connection, 'ServiceConnect')) return this.refuseLink(s, 'ServiceConnect', source);
      this.feedbackSenders.add(s);
      this.log(`AMQP #${st.id} feedback receiver attached`);
      this.scheduleFeedback(0);
      return;
    }
    const m = EVENTS_RE.exec(source);
    if (m) {
      if (!this.has(ctx.connection, 'ServiceConnect')) return this.refuseLink(s, 'ServiceConnect', source);
      const p = Number(m[2]);
      if (p >= this.hub.events.partitionCount) {
        s.close({ condition: 'amqp:not-found', description: `partition ${p} does not exist (0-${this.hub.events.partitionCount - 1})` });
        return;
      }
      let from: StartPosition = { kind: 'latest' };
      const filter = (s.source as { filter?: Record<string, unknown> } | undefined)?.filter;
      if (filter) {
        for (const [k, v] of Object.entries(filter)) {
          const text = v && typeof v === 'object' && 'value' in (v as object) ? String((v as { value: unknown }).value) : String(v);
          if (!/selector/i.test(k)) continue;
          const parsed = parseSelector(text);
          if (typeof parsed === 'string') {
            s.close({ condition: 'com.microsoft:argument-error', description: parsed });
            return;
          }
          from = parsed;
        }
      }
      const reader: EventReader = { sender: s, partition: p, nextSeq: this.hub.events.firstSeq(p, from), pumping: false };
      this.readers.add(reader);
      this.log(`AMQP #${st.id} events reader on partition ${p} (consumer group ${m[1]}) from sequence number ${reader.nextSeq}`);
      this.pumpEvents(reader);
      return;
    }
    s.close({ condition: 'amqp:not-found', description: `no node '${source}' on this hub` });
  }

  private refuseLink(link: Sender | Receiver, right: Right, address: string): void {
    const st = this.state(link.connection);
    this.log(`AMQP #${st.id} link to '${address}' refused: needs ${right}`);
    link.close({ condition: 'amqp:unauthorized-access', description: `'${address}' needs a token of a policy with ${right} (put one on $cbs or use SASL PLAIN)` });
  }

  private onMessage(ctx: EventContext): void {
    const r = ctx.receiver!;
    const m = ctx.message!;
    const d = ctx.delivery!;
    const target = linkAddress(r, 'target');
    if (target === '$cbs') { d.accept(); this.putToken(ctx, m); return; }
    if (target === '$management') { d.accept(); this.management(ctx, m); return; }
    void this.devicebound(ctx, m, d);
  }

  private async devicebound(ctx: EventContext, m: Message, d: Delivery): Promise<void> {
    const st = this.state(ctx.connection);
    const reject = (condition: string, description: string) => {
      this.log(`AMQP #${st.id} C2D refused: ${condition} (${description})`);
      d.reject({ condition, description });
    };
    if (!this.has(ctx.connection, 'ServiceConnect')) return reject('amqp:unauthorized-access', 'the token on this connection expired or lacks ServiceConnect');
    const to = str(m.to) ?? '';
    const mt = /^\/devices\/([^/]+)\/messages\/devicebound$/i.exec(to);
    if (!mt) return reject('com.microsoft:argument-error', `'to' must be /devices/{deviceId}/messages/devicebound, not '${to}'`);
    let deviceId: string;
    try { deviceId = decodeURIComponent(mt[1]!); } catch { return reject('com.microsoft:argument-error', `malformed device id in '${to}'`); }
    const app = { ...((m.application_properties ?? {}) as Record<string, unknown>) };
    const ackRaw = app['iothub-ack'];
    delete app['iothub-ack'];
    const ack = (ackRaw === undefined ? 'none' : String(ackRaw)) as AckMode;
    if (!['none', 'positive', 'negative', 'full'].includes(ack)) return reject('com.microsoft:argument-error', `iothub-ack must be none, positive, negative or full, not '${String(ackRaw)}'`);
    const properties: PropertyBag = {};
    for (const [k, v] of Object.entries(app)) properties[k] = v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v);
    const opts: C2DOptions = { properties, ack };
    const mid = str(m.message_id); if (mid !== undefined) opts.messageId = mid;
    const cid = str(m.correlation_id); if (cid !== undefined) opts.correlationId = cid;
    const uid = str(m.user_id); if (uid !== undefined) opts.userId = uid;
    if (m.content_type) opts.contentType = String(m.content_type);
    if (m.content_encoding) opts.contentEncoding = String(m.content_encoding);
    const exp = m.absolute_expiry_time as unknown;
    if (exp !== undefined && exp !== null) {
      const t = exp instanceof Date ? exp.getTime() : Number(exp);
      if (Number.isFinite(t) && t > 0) opts.ttlSeconds = Math.max(0.001, (t - Date.now()) / 1000);
    } else if (typeof m.ttl === 'number' && m.ttl > 0) opts.ttlSeconds = m.ttl / 1000;
    try {
      const r = await this.hub.sendC2D(deviceId, bodyBuffer(m), opts);
      this.log(`AMQP #${st.id} C2D ${r.messageId} for ${deviceId} accepted (iothub-ack ${ack})`);
      d.accept();
    } catch (e) {
      if (e instanceof HubError) {
        const condition = e.status === 404 ? 'amqp:not-found' : e.code === 'DeviceMaximumQueueDepthExceeded' ? 'amqp:resource-limit-exceeded' :
          e.status === 413 ? 'amqp:link:message-size-exceeded' : e.status === 400 ? 'com.microsoft:argument-error' : 'amqp:internal-error';
        return reject(condition, `ErrorCode:${e.code};${e.message}`);
      }
      reject('amqp:internal-error', (e as Error).message);
    }
  }

  // --- feedback -------------------------------------------------------------------------------------------------

  private queueFeedback(f: FeedbackRecord): void {
    this.feedbackQueue.push(f);
    if (this.feedbackQueue.length > 10_000) this.feedbackQueue.splice(0, this.feedbackQueue.length - 10_000);
    this.scheduleFeedback(this.batchMs);
  }

  private scheduleFeedback(ms: number): void {
    if (this.feedbackTimer || this.feedbackQueue.length === 0) return;
    this.feedbackTimer = setTimeout(() => { this.feedbackTimer = null; this.flushFeedback(); }, ms);
    this.feedbackTimer.unref();
  }

  private flushFeedback(): void {
    if (this.feedbackQueue.length === 0) return;
    const sender = [...this.feedbackSenders].find((s) => s.is_open() && s.connection.is_open() && s.sendable());
    if (!sender) return; // waits for a receiver (or credit): onSendable/onSenderOpen reschedule
    const records = this.feedbackQueue.splice(0, 500);
    const body = records.map((f) => ({
      originalMessageId: f.originalMessageId, deviceGenerationId: f.deviceGenerationId, deviceId: f.deviceId,
      statusCode: f.statusCode, description: f.description, enqueuedTimeUtc: f.enqueuedTimeUtc,
    }));
    const lockToken = rhea.generate_uuid();
    const delivery = sender.send({
      message_id: lockToken,
      user_id: Buffer.from(this.hub.hostName),
      content_type: FEEDBACK_CONTENT_TYPE,
      content_encoding: 'utf-8',
      to: FEEDBACK_ADDRESS,
      creation_time: new Date(),
      body: rhea.message.data_section(Buffer.from(JSON.stringify(body))),
    } as unknown as Message);
    this.unsettled.set(delivery, { records, sender });
    this.log(`AMQP #${this.state(sender.connection).id} feedback sent: ${records.map((r) => `${r.originalMessageId} ${r.statusCode}`).join(', ')}`);
    if (this.feedbackQueue.length) this.scheduleFeedback(0);
  }

  private onSettled(ctx: EventContext, done: boolean): void {
    const d = ctx.delivery!;
    const b = this.unsettled.get(d);
    if (!b) return;
    this.unsettled.delete(d);
    if (!done) { this.feedbackQueue.unshift(...b.records); this.scheduleFeedback(this.batchMs); }
  }

  private dropSender(s: Sender): void {
    this.feedbackSenders.delete(s);
    this.states.get(s.connection)?.replySenders.delete(s);
    for (const r of this.readers) if (r.sender === s) this.readers.delete(r);
    for (const [d, b] of this.unsettled) {
      if (b.sender === s) { this.unsettled.delete(d); this.feedbackQueue.unshift(...b.records); }
    }
    this.scheduleFeedback(this.batchMs);
  }

  private onSendable(ctx: EventContext): void {
    const s = ctx.sender!;
    if (this.feedbackSenders.has(s)) this.scheduleFeedback(0);
    for (const r of this.readers) if (r.sender === s) this.pumpEvents(r);
  }

  private onDisconnected(ctx: EventContext): void {
    const conn = ctx.connection;
    for (const s of this.feedbackSenders) if (s.connection === conn) this.dropSender(s);
    for (const r of this.readers) if (r.sender.connection === conn) this.readers.delete(r);
    if (this.connections.delete(conn)) this.log(`AMQP connection #${this.state(conn).id} closed`);
  }

  // --- Event Hub-compatible endpoint ----------------------------------------------------------------------------

  private pumpEvents(r: EventReader): void {
    const s = r.sender;
    if (s.is_closed() || !this.readers.has(r)) return;
    while (s.sendable()) {
      const evs = this.hub.events.readFromSeq(r.partition, r.nextSeq, Math.max(1, Math.min((s as unknown as { credit: number }).credit, 100)));
      if (!evs.length) return;
      for (const ev of evs) {
        if (!s.sendable()) return;
        s.send(eventMessage(ev));
        r.nextSeq = ev.seq + 1;
      }
    }
  }

  private management(ctx: EventContext, m: Message): void {
    const props = (m.application_properties ?? {}) as Record<string, unknown>;
    const reply = (status: number, description: string, body?: unknown) =>
      this.reply(ctx.connection, '$management', m, { 'status-code': rhea.types.wrap_int(status), 'status-description': description }, body);
    const token = props['security_token'];
    let allowed = this.has(ctx.connection, 'ServiceConnect');
    if (!allowed && typeof token === 'string') {
      const r = this.hub.policies.verify(token, this.hub.hostNames(), Math.floor(Date.now() / 1000));
      allowed = r.ok && r.claims.rights.has('ServiceConnect');
    }
    if (!allowed) return reply(401, 'a token of a policy with ServiceConnect is needed');
    if (props['operation'] !== 'READ') return reply(400, `unsupported operation '${String(props['operation'])}'`);
    const name = String(props['name'] ?? '');
    if (name && name.toLowerCase() !== this.hub.eventHubName.toLowerCase()) return reply(404, `no event hub '${name}' (this one is '${this.hub.eventHubName}')`);
    const ev = this.hub.events;
    if (props['type'] === 'com.microsoft:eventhub') {
      return reply(200, 'OK', {
        name: this.hub.eventHubName, created_at: ev.createdAt, partition_count: rhea.types.wrap_int(ev.partitionCount),
        partition_ids: Array.from({ length: ev.partitionCount }, (_, i) => String(i)),
      });
    }
    if (props['type'] === 'com.microsoft:partition') {
      const p = Number(props['partition']);
      if (!Number.isInteger(p) || p < 0 || p >= ev.partitionCount) return reply(404, `partition '${String(props['partition'])}' does not exist`);
      const info = ev.info(p);
      return reply(200, 'OK', {
        name: this.hub.eventHubName, partition: info.partition,
        begin_sequence_number: rhea.types.wrap_long(info.begin_sequence_number),
        last_enqueued_sequence_number: rhea.types.wrap_long(info.last_enqueued_sequence_number),
        last_enqueued_offset: info.last_enqueued_offset, last_enqueued_time_utc: info.last_enqueued_time_utc,
        is_partition_empty: info.is_partition_empty,
      });
    }
    reply(400, `unsupported type '${String(props['type'])}'`);
  }

  close(): void {
    this.hub.c2d.off('outcome', this.onOutcome);
    this.hub.events.off('appended', this.onAppended);
    if (this.feedbackTimer) clearTimeout(this.feedbackTimer);
    for (const c of this.connections) {
      try { c.close({ condition: 'amqp:connection:forced', description: 'the hub is stopping' }); } catch { /* closed */ }
    }
  }
}

/** An event as the Event Hub-compatible endpoint delivers it. */
export function eventMessage(ev: StoredEvent): Message {
  const sys = ev.systemProperties;
  const annotations: Record<string, unknown> = {
    'x-opt-sequence-number': rhea.types.wrap_long(ev.seq),
    'x-opt-offset': ev.offset,
    'x-opt-enqueued-time': new Date(ev.enqueuedAt),
    'iothub-connection-device-id': ev.deviceId,
    'iothub-connection-auth-method': JSON.stringify({ scope: 'device', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null }),
    'iothub-connection-auth-generation-id': '',
    'iothub-enqueuedtime': new Date(ev.enqueuedAt),
    'iothub-message-source': 'Telemetry',
  };
  if (ev.moduleId) annotations['iothub-connection-module-id'] = ev.moduleId;
  const m: Message = {
    message_annotations: annotations,
    application_properties: { ...ev.properties },
    body: rhea.message.data_section(ev.body),
  } as Message;
  if (sys['messageId'] !== undefined) m.message_id = sys['messageId'];
  if (sys['correlationId'] !== undefined) m.correlation_id = sys['correlationId'];
  if (sys['contentType'] !== undefined) m.content_type = sys['contentType'];
  if (sys['contentEncoding'] !== undefined) m.content_encoding = sys['contentEncoding'];
  if (sys['userId'] !== undefined) m.user_id = sys['userId'];
  return m;
}
