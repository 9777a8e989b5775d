// IoT Hub's MQTT rules on top of aedes: admission at CONNECT (decided by authenticate.ts), per-identity topic
// rules, one connection per identity, QoS 2 → close, ≤ 5 subscriptions, retain → `mqtt-retain`, size limits,
// telemetry decoding, twin, methods and C2D delivery. Written independently of the WebAssembly core.
import { EventEmitter } from 'node:events';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Registry } from '../state/registry.js';
import type { TwinStore, JsonObject } from '../state/twin-store.js';
import { type C2DMessage, type C2DQueue } from '../state/c2d-queue.js';
import { METHOD_MAX_PAYLOAD_BYTES, type MethodInvoker, type MethodResult } from '../state/methods.js';
import {
  METHODS_FILTER, TWIN_DESIRED_FILTER, TWIN_RES_FILTER, checkSubscription, classifyPublish, topicMatches, desiredPatchTopic,
  encodePropertyBag, identityKey, methodRequestTopic, parsePropertyBag, parseUsername, splitSystemProperties,
  twinResponseTopic, type Identity, type PropertyBag,
} from './topics.js';
import { HubError } from '../errors.js';
import { preview, type LogSink } from '../log.js';
import { setMember } from '../state/json.js';
import { MqttGate, MQTT_CONNECT_MAX_BYTES } from './mqtt-gate.js';
import { DeviceFaults } from './faults.js';
import { authenticateDevice } from './authenticate.js';
import type { TelemetryMessage } from '../state/messages.js';

export type { TelemetryMessage } from '../state/messages.js';

export const D2C_MAX_BYTES = 256 * 1024;
/**
 * The largest MQTT packet (remaining length) a device may send after CONNACK: a PUBLISH carrying the largest D2C
 * payload (D2C_MAX_BYTES) under the longest topic MQTT can encode (its 16-bit length: 65,535 bytes, which bounds the
 * URL-encoded property bag too), plus the topic length and packet id fields. Twin patches and method responses are
 * smaller. The framing gate closes the connection on a larger one before its body is buffered.
 */
export const MQTT_PACKET_MAX_BYTES = D2C_MAX_BYTES + 2 + 65_535 + 2;
export const MAX_SUBSCRIPTIONS = 5;
export const MAX_KEEPALIVE_SECONDS = 1177;
/** C2D messages in flight (sent, not yet PUBACKed) per device connection. */
export const C2D_MAX_INFLIGHT = 50;

export interface ConnectionEvent { deviceId: string; moduleId?: string; reason?: string; clean?: boolean; transport?: string }
export interface RefusedEvent { clientId: string; returnCode?: number; reason: string }
export interface ReportedEvent { deviceId: string; moduleId?: string; patch: JsonObject; version: number }

export interface BrokerEvents {
  telemetry: [TelemetryMessage];
  connected: [ConnectionEvent];
  disconnected: [ConnectionEvent];
  refused: [RefusedEvent];
  reported: [ReportedEvent];
  c2dDelivered: [C2DMessage];
}

export interface BrokerOptions {
  hostName: string;
  registry: Registry;
  twins: TwinStore;
  c2d: C2DQueue;
  methods: MethodInvoker;
  log: LogSink | null;
  /** Other names accepted as the host part of usernames and SAS resources (e.g. `localhost:8883`). */
  hostAliases?: () => string[];
  /** Bytes a peer may send before CONNACK (all packets; the first must be CONNECT). Default MQTT_CONNECT_MAX_BYTES. */
  maxConnectBytes?: number;
  /** Largest packet after CONNACK. Default MQTT_PACKET_MAX_BYTES. */
  maxPacketBytes?: number;
  /** aedes's own CONNECT timer (the hub also counts a deadline from accept). Default 30 s. */
  connectTimeoutMs?: number;
}

export interface HandleOptions {
  /** Names the peer in log lines (address and transport). */
  peer?: string;
  /** Called when CONNACK 0 is sent (the hub's connect deadline ends). */
  onAdmitted?: () => void;
  /** The TLS socket under a WebSocket stream: its client certificate authenticates X.509 devices over WebSocket. */
  tls?: Duplex;
}

/** The per-connection state the rules need. */
interface Session {
  client: Client;
  identity: Identity;
  key: string;
  clean: boolean;
  keepalive: number;
  expiresAt: number;
  subs: Set<string>;
  inflight: Map<number, C2DMessage>;
  nextId: number;
  expiryTimer: NodeJS.Timeout | null;
  ready: boolean;
  closeReason?: string;
  transport: string;
}

/**
 * The one aedes internal the broker uses: the client's packet parser, to see two packets before aedes handles them.
 * aedes's public hooks do not suffice for either (aedes 1.2):
 * - SUBSCRIBE QoS 2 → granted QoS 1: aedes fixes each filter's granted QoS for the SUBACK from the packet before it
 *   calls authorizeSubscribe (lib/handlers/subscribe.js, doSubscribe), so lowering `sub.qos` there changes the stored
 *   subscription but the SUBACK still grants 2. authorizeSubscribe lowers it too, for the subscription itself.
 * - PUBACK of a C2D message: the hub writes C2D PUBLISHes itself (its own packet ids, tied to the queue's lock
 *   tokens, and none of aedes's outgoing persistence, which would redeliver them beside the C2D queue), so aedes's
 *   'ack' event finds no packet of its own for the id (outgoingClearMessageId) and carries none.
 * Everything else is public: the hooks passed to createBroker, the events, `client.conn`, `client.closed`.
 */
type ClientParser = Client & { _parser: EventEmitter };

/** The stream aedes was handed: the framing gate, which carries the transport name and the TLS client certificate. */
type GatedConn = Duplex & { _hubTransport?: string; getPeerCertificate?: TLSSocket['getPeerCertificate'] };

function authError(returnCode: 4 | 5 | 2, message: string): AuthenticateError {
  const e = new Error(message) as AuthenticateError;
  e.returnCode = returnCode as AuthenticateError['returnCode'];
  return e;
}

export class HubBroker extends EventEmitter<BrokerEvents> {
  readonly aedes: Aedes;
  private readonly sessions = new WeakMap<Client, Session>();
  /** Live, fully connected sessions by identity key (`dev` or `dev/mod`). */
  readonly connections = new Map<string, Session>();
  /** Faults injected per identity (LocalHub.delayDevice, failTwinRequests). */
  readonly faults = new DeviceFaults();
  private readonly o: BrokerOptions;
  private readonly log: LogSink;

  private constructor(o: BrokerOptions, aedes: Aedes) {
    super();
    this.o = o;
    this.aedes = aedes;
    this.log = o.log ?? (() => {});
  }

  static async create(o: BrokerOptions): Promise<HubBroker> {
    let self: HubBroker | undefined;
    const aedes = await Aedes.createBroker({
      // IoT Hub client ids are `{deviceId}` or `{deviceId}/{moduleId}`: up to 257 characters
      maxClientsIdLength: 257,
      heartbeatInterval: 3_600_000,
      connectTimeout: o.connectTimeoutMs ?? 30_000,
      preConnect: (client, packet, cb) => self!.preConnect(client, packet, cb),
      authenticate: (client, username, password, cb) => self!.authenticate(client, username, password, cb),
      authorizePublish: (client, packet, cb) => self!.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => self!.authorizeSubscribe(client, sub, cb),
    });
    self = new HubBroker(o, aedes);
    self.wire();
    return self;
  }

  /**
   * Hands a connected stream (TLS socket, TCP socket, WebSocket stream) to the broker, behind the framing gate:
   * before CONNACK only a CONNECT of bounded size, after it packets up to IoT Hub's limit.
   */
  handle(stream: Duplex, req?: IncomingMessage, transport = 'mqtt', opts: HandleOptions = {}): void {
    const gate = new MqttGate(stream, {
      ...(opts.tls ? { certificateFrom: opts.tls } : {}),
      maxConnectBytes: this.o.maxConnectBytes ?? MQTT_CONNECT_MAX_BYTES,
      maxPacketBytes: this.o.maxPacketBytes ?? MQTT_PACKET_MAX_BYTES,
      peer: `${opts.peer ?? 'a peer'} (${transport})`,
      log: this.log,
    });
    gate._hubTransport = transport;
    if (opts.onAdmitted) gate.onAdmitted(opts.onAdmitted);
    this.aedes.handle(gate, req);
  }

  private wire(): void {
    const a = this.aedes;
    a.on('client', (client) => {
      // registered (an older connection of the same identity is closed by now); CONNACK follows
      const s = this.sessions.get(client);
      if (s) this.connections.set(s.key, s);
    });
    a.on('clientReady', (client) => this.onReady(client));
    a.on('clientDisconnect', (client) => this.onDisconnect(client));
    a.on('subscribe', (subs, client) => this.onSubscribed(subs, client));
    a.on('unsubscribe', (topics, client) => {
      const s = this.sessions.get(client);
      if (!s) return;
      for (const t of topics) s.subs.delete(t);
      this.log(`${s.key} unsubscribed ${topics.join(', ')}`);
    });
    a.on('clientError', (client, err) => {
      const s = this.sessions.get(client);
      if (s && !s.closeReason) s.closeReason = err.message;
    });
    a.on('keepaliveTimeout', (client) => {
      const s = this.sessions.get(client);
      if (s) s.closeReason = 'keep-alive timeout';
    });
  }

  // --- connect -------------------------------------------------------------------------------------------------

  private preConnect(client: Client, packet: { clientId: string; clean?: boolean; keepalive?: number; protocolVersion?: number }, cb: (e: Error | null, ok: boolean) => void): void {
    // See PUBACKs (C2D completion) and SUBSCRIBE QoS before aedes does (ClientParser says why no public hook will do).
    const c = client as ClientParser;
    c._parser.prependListener('packet', (p: mqttPacket.Packet) => this.onPacket(client, p));
    cb(null, true);
  }

  private onPacket(client: Client, p: mqttPacket.Packet): void {
    if (p.cmd === 'subscribe') {
      for (const sub of p.subscriptions) if (sub.qos > 1) sub.qos = 1;
    } else if (p.cmd === 'puback') {
      const s = this.sessions.get(client);
      const m = s?.inflight.get(p.messageId ?? -1);
      if (s && m && p.messageId !== undefined) {
        s.inflight.delete(p.messageId);
        this.o.c2d.complete(m.lockToken);
        this.log(`${s.key} completed C2D ${m.messageId} (PUBACK)`);
        setImmediate(() => this.pumpC2D(s));
      }
    }
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined,
    cb: (e: AuthenticateError | null, ok: boolean | null) => void): void {
    const clientId = client.id;
    const refuse = (rc: 2 | 4 | 5, reason: string) => {
      this.log(`refused ${JSON.stringify(clientId)}: CONNACK ${rc} (${reason})`);
      this.emit('refused', { clientId, returnCode: rc, reason });
      cb(authError(rc, reason), false);
    };
    const conn = client.conn as GatedConn;
    const r = authenticateDevice({
      clientId, username, password, hostName: this.o.hostName, hosts: this.hostNames(), registry: this.o.registry,
      peerCertificate: (detailed) => conn.getPeerCertificate?.(detailed),
    });
    if (!r.ok) return refuse(r.returnCode, r.reason);
    const { identity, expiresAt } = r;
    this.sessions.set(client, {
      client, identity, key: identityKey(identity), clean: client.clean, keepalive: 0, expiresAt,
      subs: new Set(), inflight: new Map(), nextId: 1, expiryTimer: null, ready: false, transport: conn._hubTransport ?? 'mqtt',
    });
    cb(null, true);
  }

  private hostNames(): string[] {
    return [...new Set([this.o.hostName, ...(this.o.hostAliases?.() ?? [])].map((h) => h.toLowerCase()))];
  }

  private onReady(client: Client): void {
    const s = this.sessions.get(client);
    if (!s) { client.close(); return; }
    s.ready = true;
    this.connections.set(s.key, s);
    const ms = s.expiresAt * 1000 - Date.now();
    this.armExpiry(s, ms);
    const restored = s.subs.size ? `, session restored: ${[...s.subs].join(' ')}` : '';
    this.log(`${s.key} connected over ${s.transport} (clean=${client.clean ? 1 : 0}, token valid ${Math.round(ms / 1000)} s${restored})`);
    this.emit('connected', { deviceId: s.identity.deviceId, ...(s.identity.moduleId ? { moduleId: s.identity.moduleId } : {}), clean: client.clean, transport: s.transport });
    this.pumpC2D(s);
  }

  private armExpiry(s: Session, ms: number): void {
    const MAX = 2 ** 31 - 1;
    s.expiryTimer = setTimeout(() => {
      if (ms > MAX) return this.armExpiry(s, ms - MAX);
      s.closeReason = 'SAS token expired';
      this.log(`${s.key} SAS token expired: closing the connection`);
      s.client.close();
    }, Math.max(0, Math.min(ms, MAX)));
  }

  private onDisconnect(client: Client): void {
    const s = this.sessions.get(client);
    if (!s) return;
    if (s.expiryTimer) clearTimeout(s.expiryTimer);
    s.expiryTimer = null;
    for (const m of s.inflight.values()) this.o.c2d.abandon(m.lockToken);
    s.inflight.clear();
    if (this.connections.get(s.key) === s) this.connections.delete(s.key);
    if (!s.ready) return;
    const reason = s.closeReason ?? 'connection closed';
    this.log(`${s.key} disconnected (${reason})`);
    this.emit('disconnected', { deviceId: s.identity.deviceId, ...(s.identity.moduleId ? { moduleId: s.identity.moduleId } : {}), reason });
    // another connection for the same identity may be waiting for C2D (it replaced this one)
    const now = this.connections.get(s.key);
    if (now) this.pumpC2D(now);
  }

  /** Closes a connection with a reason, as IoT Hub does when a rule is broken. */
  private closeFor(s: Session | undefined, client: Client, reason: string): Error {
    if (s) s.closeReason = reason;
    this.log(`${s?.key ?? client.id} broke a rule: ${reason}; closing the connection`);
    return new Error(reason);
  }

  // --- publish from a device -----------------------------------------------------------------------------------

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (e?: Error | null) => void): void {
    if (!client) return cb(null); // the hub's own publishes
    const s = this.sessions.get(client);
    if (!s) return cb(new Error('not authenticated'));
    const delay = this.faults.delayOf(s.key);
    if (delay) {
      setTimeout(() => { if (this.sessions.has(client)) this.handlePublish(s, client, packet, cb); }, delay);
      return;
    }
    this.handlePublish(s, client, packet, cb);
  }

  private handlePublish(s: Session, client: Client, packet: PublishPacket, cb: (e?: Error | null) => void): void {
    if (packet.qos === 2) return cb(this.closeFor(s, client, `QoS 2 publish on '${packet.topic}' (IoT Hub supports QoS 0 and 1)`));
    const c = classifyPublish(s.identity, packet.topic);
    const body = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload ?? '');
    switch (c.kind) {
      case 'foreign':
      case 'unsupported':
        return cb(this.closeFor(s, client, `publish on '${packet.topic}' refused: ${c.reason}`));
      case 'telemetry': {
        let bag: PropertyBag;
        try { bag = parsePropertyBag(c.bag); } catch { return cb(this.closeFor(s, client, 'malformed property bag')); }
        const retain = packet.retain;
        packet.retain = false; // IoT Hub does not store retained messages: it forwards them with mqtt-retain
        const { properties, systemProperties } = splitSystemProperties(bag);
        if (retain) properties['mqtt-retain'] = 'true';
        let size = body.length;
        for (const [k, v] of Object.entries(bag)) size += Buffer.byteLength(k) + (v === null ? 0 : Buffer.byteLength(v));
        if (size > D2C_MAX_BYTES) return cb(this.closeFor(s, client, `telemetry of ${size} bytes exceeds ${D2C_MAX_BYTES} bytes`));
        const msg: TelemetryMessage = {
          deviceId: s.identity.deviceId, ...(s.identity.moduleId ? { moduleId: s.identity.moduleId } : {}),
          body, properties, systemProperties, topic: packet.topic, qos: packet.qos as 0 | 1,
          enqueuedTimeUtc: new Date().toISOString(),
        };
        if (this.o.log) { // the hot path: build the line only when someone reads it
          const sys = Object.keys(systemProperties).length ? ` sys=${JSON.stringify(systemProperties)}` : '';
          const props = Object.keys(properties).length ? ` props=${JSON.stringify(properties)}` : '';
          this.log(`${s.key} telemetry qos${packet.qos} ${preview(body)}${props}${sys}`);
        }
        this.emit('telemetry', msg);
        return cb(null);
      }
      case 'twin-get':
        this.twinGet(s, c.rid);
        return cb(null);
      case 'twin-reported':
        this.twinReported(s, c.rid, body);
        return cb(null);
      case 'method-response': {
        const ok = this.o.methods.respond(s.key, c.rid, c.status, body);
        this.log(`${s.key} method response ${c.status} $rid=${c.rid} ${preview(body)}${ok ? '' : ' (no such request: ignored)'}`);
        return cb(null);
      }
    }
  }

  // --- subscribe -----------------------------------------------------------------------------------------------

  private authorizeSubscribe(client: Client, sub: Subscription, cb: (e: Error | null, sub?: Subscription | null) => void): void {
    const s = this.sessions.get(client);
    if (!s) return cb(new Error('not authenticated'));
    const why = checkSubscription(s.identity, sub.topic);
    if (why) {
      this.log(`${s.key} subscribe '${sub.topic}' refused (0x80): ${why}`);
      return cb(null, null);
    }
    if (!s.subs.has(sub.topic) && s.subs.size >= MAX_SUBSCRIPTIONS) {
      this.log(`${s.key} subscribe '${sub.topic}' refused (0x80): at most ${MAX_SUBSCRIPTIONS} subscriptions`);
      return cb(null, null);
    }
    s.subs.add(sub.topic);
    if (sub.qos > 1) sub.qos = 1;
    cb(null, sub);
  }

  private onSubscribed(subs: Subscription[], client: Client): void {
    const s = this.sessions.get(client);
    if (!s) return;
    this.log(`${s.key} subscribed ${subs.map((x) => `${x.topic} ${(x.qos as number) === 128 ? '(refused 0x80)' : `qos${x.qos}`}`).join(', ')}`);
    if (s.identity.moduleId === undefined && subs.some((x) => x.topic.startsWith(`devices/${s.identity.deviceId}/messages/devicebound/`) && (x.qos as number) !== 128)) {
      this.pumpC2D(s);
    }
  }

  // --- twin ----------------------------------------------------------------------------------------------------

  private subscribed(s: Session, topic: string): boolean {
    for (const f of s.subs) if (topicMatches(f, topic)) return true;
    return false;
  }

  private sendTo(s: Session, topic: string, payload: Buffer | string, filter: string, what: string): boolean {
    if (!this.subscribed(s, topic)) {
      this.log(`${s.key} ${what} not sent: the device has not subscribed to ${filter}`);
      return false;
    }
    s.client.publish({ cmd: 'publish', topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 0, retain: false, dup: false }, () => {});
    return true;
  }

  /** Answers an injected fault instead of the request, if one is pending for this identity. */
  private twinFault(s: Session, rid: string): boolean {
    const status = this.faults.takeTwinFault(s.key);
    if (status === undefined) return false;
    this.log(`${s.key} twin request $rid=${rid} → ${status} (injected fault)`);
    this.sendTo(s, twinResponseTopic(status, rid), JSON.stringify({ message: status === 429 ? 'throttled' : 'injected fault' }), TWIN_RES_FILTER, 'twin response');
    return true;
  }

  private twinGet(s: Session, rid: string): void {
    if (this.twinFault(s, rid)) return;
    const doc = this.o.twins.deviceView(s.identity.deviceId, s.identity.moduleId);
    this.log(`${s.key} twin GET $rid=${rid} → 200 (desired $version ${doc.desired['$version']}, reported $version ${doc.reported['$version']})`);
    this.sendTo(s, twinResponseTopic(200, rid), JSON.stringify(doc), TWIN_RES_FILTER, 'twin response');
  }

  private twinReported(s: Session, rid: string, body: Buffer): void {
    if (this.twinFault(s, rid)) return;
    let patch: unknown;
    try {
      patch = JSON.parse(body.toString('utf8'));
    } catch {
      this.log(`${s.key} twin reported PATCH $rid=${rid} → 400 (body is not JSON)`);
      this.sendTo(s, twinResponseTopic(400, rid), '{"message":"body is not JSON"}', TWIN_RES_FILTER, 'twin response');
      return;
    }
    this.o.twins.patchReported(s.identity.deviceId, s.identity.moduleId, patch).then((version) => {
      this.log(`${s.key} twin reported PATCH $rid=${rid} → 204 $version=${version} ${preview(body)}`);
      this.sendTo(s, twinResponseTopic(204, rid, version), '', TWIN_RES_FILTER, 'twin response');
      this.emit('reported', { deviceId: s.identity.deviceId, ...(s.identity.moduleId ? { moduleId: s.identity.moduleId } : {}), patch: patch as JsonObject, version });
    }, (err: Error) => {
      // the one place a twin refusal becomes an MQTT answer: the HubError's status and message
      const status = err instanceof HubError ? err.status : 500;
      this.log(`${s.key} twin reported PATCH $rid=${rid} → ${status} (${err.message})`);
      this.sendTo(s, twinResponseTopic(status, rid), JSON.stringify({ message: err.message }), TWIN_RES_FILTER, 'twin response');
    });
  }

  /** Sends a desired-properties patch (already stored) to the identity if it is connected and subscribed. */
  notifyDesired(deviceId: string, moduleId: string | undefined, version: number, patch: JsonObject): boolean {
    const s = this.connections.get(identityKey({ deviceId, ...(moduleId ? { moduleId } : {}) }));
    if (!s) return false;
    const sent = this.sendTo(s, desiredPatchTopic(version), JSON.stringify(patch), TWIN_DESIRED_FILTER, 'desired patch');
    if (sent) this.log(`${s.key} desired PATCH $version=${version} sent ${JSON.stringify(patch)}`);
    return sent;
  }

  // --- methods -------------------------------------------------------------------------------------------------

  /** Sends a method request; 404 when the identity is not connected or not subscribed to methods. */
  invokeMethod(identity: Identity, name: string, payload: Buffer, timeoutMs: number): Promise<MethodResult> {
    const key = identityKey(identity);
    const s = this.connections.get(key);
    if (!s) return Promise.reject(new HubError(404, 'DeviceNotOnline', `'${key}' is not connected`));
    if (!this.subscribed(s, methodRequestTopic(name, 'x'))) return Promise.reject(new HubError(404, 'DeviceNotOnline', `'${key}' has not subscribed to direct methods`));
    if (payload.length > METHOD_MAX_PAYLOAD_BYTES) {
      return Promise.reject(new HubError(413, 'MessageTooLarge', `method payload of ${payload.length} bytes exceeds ${METHOD_MAX_PAYLOAD_BYTES}`));
    }
    const { rid, result } = this.o.methods.start(key, name, timeoutMs);
    this.log(`${key} method '${name}' $rid=${rid} ${preview(payload)} (timeout ${timeoutMs / 1000} s)`);
    this.sendTo(s, methodRequestTopic(name, rid), payload, METHODS_FILTER, 'method request');
    return result;
  }

  // --- C2D -----------------------------------------------------------------------------------------------------

  /** Delivers queued C2D messages to a device if it is connected and subscribed. */
  pumpC2D(s: Session | string): void {
    const sess = typeof s === 'string' ? this.connections.get(s) : s;
    if (!sess || !sess.ready || sess.identity.moduleId !== undefined) return;
    if (![...sess.subs].some((f) => f.startsWith(`devices/${sess.identity.deviceId}/messages/devicebound/`))) return;
    const c = sess.client;
    while (sess.inflight.size < C2D_MAX_INFLIGHT && this.connections.get(sess.key) === sess && !c.closed && !c.conn.destroyed) {
      const m = this.o.c2d.takeNext(sess.identity.deviceId);
      if (!m) break;
      const topic = c2dTopic(m);
      if (!this.subscribed(sess, topic)) {
        // a narrower filter that does not match this message: it waits
        this.o.c2d.abandon(m.lockToken);
        m.deliveryCount--;
        break;
      }
      let id = sess.nextId;
      while (sess.inflight.has(id)) id = id >= 65535 ? 1 : id + 1;
      sess.nextId = id >= 65535 ? 1 : id + 1;
      sess.inflight.set(id, m);
      this.log(`${sess.key} C2D ${m.messageId} sent (delivery ${m.deliveryCount}) ${preview(m.body)}`);
      try {
        mqttPacket.writeToStream({ cmd: 'publish', topic, payload: m.body, qos: 1, messageId: id, retain: false, dup: m.deliveryCount > 1 }, c.conn);
        this.emit('c2dDelivered', m);
      } catch (err) {
        sess.inflight.delete(id);
        this.o.c2d.abandon(m.lockToken);
        this.log(`${sess.key} C2D ${m.messageId} could not be written: ${(err as Error).message}`);
        break;
      }
    }
  }

  /** Closes the connection of an identity; false if it was not connected. */
  drop(identity: Identity, reason = 'dropped by the hub'): Promise<boolean> {
    const s = this.connections.get(identityKey(identity));
    if (!s) return Promise.resolve(false);
    s.closeReason = reason;
    return new Promise((resolve) => s.client.close(() => resolve(true)));
  }

  close(): Promise<void> {
    for (const s of this.connections.values()) s.closeReason = 'hub stopping';
    return new Promise((resolve) => this.aedes.close(() => resolve()));
  }
}

/** `devices/{id}/messages/devicebound/%24.mid=…&%24.to=…&…&key=value` */
export function c2dTopic(m: C2DMessage): string {
  const bag: PropertyBag = {
    '$.mid': m.messageId,
    '$.to': `/devices/${m.deviceId}/messages/deviceBound`,
  };
  if (m.correlationId !== undefined) bag['$.cid'] = m.correlationId;
  if (m.userId !== undefined) bag['$.uid'] = m.userId;
  if (m.contentType !== undefined) bag['$.ct'] = m.contentType;
  if (m.contentEncoding !== undefined) bag['$.ce'] = m.contentEncoding;
  bag['$.exp'] = new Date(m.expiresAt).toISOString();
  if (m.ack !== 'none') bag['iothub-ack'] = m.ack;
  for (const [k, v] of Object.entries(m.properties)) setMember(bag, k, v); // `__proto__` is a property name too
  return `devices/${m.deviceId}/messages/devicebound/${encodePropertyBag(bag)}`;
}
