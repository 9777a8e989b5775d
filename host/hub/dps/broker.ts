// The local DPS's MQTT endpoint on aedes, behind the hub's framing gate: admission at CONNECT (authenticate.ts), one
// subscription (`$dps/registrations/res/#`), the register and operation-status requests, answers with `retry-after`,
// injected throttling (faults.ts). Written independently of the WebAssembly core, from DPS's documented behaviour.
import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { MqttGate } from '../device/mqtt-gate.js';
import { JsonError, isObject, own, parseJson } from '../state/json.js';
import { preview, type LogSink } from '../log.js';
import { authenticateRegistration, type Attested } from './authenticate.js';
import { assign, type AssignContext, type Assignments, type RegistrationState } from './assign.js';
import type { EnrollmentStore } from './enrollments.js';
import { DpsFaults } from './faults.js';
import { DPS_RESPONSE_FILTER, classifyDpsPublish, dpsResponseTopic } from './topics.js';

/** Bytes a registering device may send before CONNACK: the hub's CONNECT bound. */
export { MQTT_CONNECT_MAX_BYTES as DPS_CONNECT_MAX_BYTES } from '../device/mqtt-gate.js';
/** The largest register request body (`{"registrationId":…,"payload":…}`): DPS bounds the custom payload to a few KiB. */
export const DPS_REQUEST_MAX_BYTES = 16 * 1024;
/** The largest packet after CONNACK: a register request under a topic of at most 1 KiB. */
export const DPS_PACKET_MAX_BYTES = DPS_REQUEST_MAX_BYTES + 1024 + 4;
/** Nesting of a register body: the payload sits one level down. */
export const DPS_REQUEST_MAX_NESTING = 12;
/** Requests one connection may make; a device registers and polls a few times, then disconnects. */
export const DPS_MAX_REQUESTS_PER_CONNECTION = 100;
/** Operations the DPS remembers (the oldest are forgotten first) and for how long. */
export const DPS_MAX_OPERATIONS = 10_000;
export const DPS_OPERATION_TTL_MS = 10 * 60_000;
/** The longest a registering connection lives (a device registers in seconds; its token may be valid for days). */
export const DPS_CONNECTION_MAX_MS = DPS_OPERATION_TTL_MS;
/** What DPS tells a device to wait before polling, by default (Azure says 3 s; a local service is quicker). */
export const DPS_DEFAULT_RETRY_AFTER_SECONDS = 1;

export interface DpsRequestEvent {
  registrationId: string;
  kind: 'register' | 'status';
  /** The status answered. */
  status: number;
  retryAfter?: number;
  at: number;
}

export interface DpsRegisteredEvent { registrationId: string; state: RegistrationState }

export interface DpsBrokerEvents {
  request: [DpsRequestEvent];
  registered: [DpsRegisteredEvent];
  refused: [{ clientId: string; returnCode: number; reason: string }];
}

export interface DpsBrokerOptions extends AssignContext {
  idScope: string;
  enrollments: EnrollmentStore;
  logSink: LogSink | null;
  /** aedes's CONNECT timer, and the lifetime of a connection no enrollment knows. */
  connectTimeoutMs: number;
  retryAfterSeconds?: number;
}

interface Session {
  client: Client;
  registrationId: string;
  attested: Attested;
  expiryTimer: NodeJS.Timeout | null;
  requests: number;
  subscribed: boolean;
}

interface Operation {
  operationId: string;
  registrationId: string;
  createdAt: number;
  /** undefined while assigning */
  state: RegistrationState | undefined;
}

type GatedConn = Duplex & { getPeerCertificate?: TLSSocket['getPeerCertificate'] };

function authError(returnCode: 2 | 4 | 5, message: string): AuthenticateError {
  const e = new Error(message) as AuthenticateError;
  e.returnCode = returnCode as AuthenticateError['returnCode'];
  return e;
}

/** DPS's error body: `{"errorCode":401002,"trackingId":…,"message":…,"timestampUtc":…}`. */
export function dpsError(errorCode: number, message: string): Record<string, unknown> {
  return { errorCode, trackingId: randomUUID(), message, timestampUtc: new Date().toISOString() };
}

export class DpsBroker extends EventEmitter<DpsBrokerEvents> {
  readonly aedes: Aedes;
  readonly faults = new DpsFaults();
  retryAfterSeconds: number;
  private readonly sessions = new WeakMap<Client, Session>();
  private readonly operations = new Map<string, Operation>(); // insertion order: oldest first
  private readonly assignments: Assignments = new Map();
  private readonly o: DpsBrokerOptions;
  private readonly log: LogSink;

  private constructor(o: DpsBrokerOptions, aedes: Aedes) {
    super();
    this.o = o;
    this.aedes = aedes;
    this.log = o.logSink ?? (() => {});
    this.retryAfterSeconds = o.retryAfterSeconds ?? DPS_DEFAULT_RETRY_AFTER_SECONDS;
  }

  static async create(o: DpsBrokerOptions): Promise<DpsBroker> {
    let self: DpsBroker | undefined;
    const aedes = await Aedes.createBroker({
      maxClientsIdLength: 128,
      heartbeatInterval: 3_600_000,
      connectTimeout: o.connectTimeoutMs,
      authenticate: (client, username, password, cb) => self!.authenticate(client, username, password, cb),
      authorizePublish: (client, packet, cb) => self!.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => self!.authorizeSubscribe(client, sub, cb),
    });
    self = new DpsBroker(o, aedes);
    aedes.on('clientReady', (client) => self!.onReady(client));
    aedes.on('clientDisconnect', (client) => self!.onGone(client));
    aedes.on('clientError', (client) => self!.onGone(client));
    return self;
  }

  /** Hands an accepted stream to the broker behind the hub's framing gate (the CONNECT bound, then DPS's packet limit). */
  handle(stream: Duplex, transport: string, opts: { peer?: string; onAdmitted?: () => void } = {}): void {
    const gate = new MqttGate(stream, { maxPacketBytes: DPS_PACKET_MAX_BYTES, peer: `${opts.peer ?? 'a peer'} (DPS ${transport})`, log: this.log });
    gate._hubTransport = transport;
    if (opts.onAdmitted) gate.onAdmitted(opts.onAdmitted);
    this.aedes.handle(gate);
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined,
    cb: (e: AuthenticateError | null, ok: boolean | null) => void): void {
    const conn = client.conn as GatedConn;
    const r = authenticateRegistration({
      clientId: client.id, username, password, idScope: this.o.idScope, enrollments: this.o.enrollments,
      peerCertificate: () => conn.getPeerCertificate?.(),
    });
    if (!r.ok) {
      this.log(`DPS refused ${JSON.stringify(client.id)}: CONNACK ${r.returnCode} (${r.reason})`);
      this.emit('refused', { clientId: client.id, returnCode: r.returnCode, reason: r.reason });
      cb(authError(r.returnCode, r.reason), false);
      return;
    }
    this.sessions.set(client, { client, registrationId: r.registrationId, attested: r.attested, expiryTimer: null, requests: 0, subscribed: false });
    const s = this.sessions.get(client)!;
    // a credential's expiry, or DPS_CONNECTION_MAX_MS, ends the connection; one no enrollment knows lives only as long
    // as a CONNECT may take
    const expiresIn = r.expiresAt * 1000 - Date.now();
    const ms = r.attested.kind === 'unknown' ? this.o.connectTimeoutMs : Math.min(expiresIn, DPS_CONNECTION_MAX_MS);
    const why = r.attested.kind === 'unknown' ? 'unknown registration' : ms === expiresIn ? 'credential expired' : `connected for ${DPS_CONNECTION_MAX_MS / 60_000} minutes`;
    s.expiryTimer = setTimeout(() => { this.log(`DPS ${s.registrationId}: ${why}: closing`); client.close(); }, Math.max(0, ms));
    s.expiryTimer.unref();
    cb(null, true);
  }

  private onReady(client: Client): void {
    const s = this.sessions.get(client);
    if (!s) { client.close(); return; }
    this.log(`DPS ${s.registrationId} connected (${s.attested.kind === 'unknown' ? s.attested.reason : s.attested.kind === 'group' ? `group '${s.attested.group.enrollmentGroupId}'` : 'individual enrollment'})`);
  }

  private onGone(client: Client): void {
    const s = this.sessions.get(client);
    if (s?.expiryTimer) { clearTimeout(s.expiryTimer); s.expiryTimer = null; }
  }

  private authorizeSubscribe(client: Client, sub: Subscription, cb: (e: Error | null, sub?: Subscription | null) => void): void {
    const s = this.sessions.get(client);
    if (!s) return cb(new Error('not authenticated'));
    if (sub.topic !== DPS_RESPONSE_FILTER) {
      this.log(`DPS ${s.registrationId} subscribe '${sub.topic.slice(0, 200)}' refused (0x80): only ${DPS_RESPONSE_FILTER}`);
      return cb(null, null);
    }
    s.subscribed = true;
    if (sub.qos > 1) sub.qos = 1;
    cb(null, sub);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (e?: Error | null) => void): void {
    if (!client) return cb(null);
    const s = this.sessions.get(client);
    if (!s) return cb(new Error('not authenticated'));
    if (packet.qos === 2) return cb(this.broke(s, 'QoS 2 publish (DPS supports QoS 0 and 1)'));
    const req = classifyDpsPublish(packet.topic);
    if (req.kind === 'invalid') return cb(this.broke(s, req.reason));
    if (++s.requests > DPS_MAX_REQUESTS_PER_CONNECTION) return cb(this.broke(s, `more than ${DPS_MAX_REQUESTS_PER_CONNECTION} requests on one connection`));
    const body = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload ?? '');
    // answered, never routed: nothing subscribes to request topics
    cb(null);
    if (req.kind === 'register') this.register(s, req.rid, body);
    else this.status(s, req.rid, req.operationId);
  }

  private broke(s: Session, reason: string): Error {
    this.log(`DPS ${s.registrationId} broke a rule: ${reason}; closing the connection`);
    return new Error(reason);
  }

  private answer(s: Session, kind: 'register' | 'status', status: number, rid: string, body: unknown, retryAfter?: number): void {
    this.emit('request', { registrationId: s.registrationId, kind, status, ...(retryAfter !== undefined ? { retryAfter } : {}), at: Date.now() });
    if (!s.subscribed) { this.log(`DPS ${s.registrationId} ${kind} answer ${status} not sent: not subscribed to ${DPS_RESPONSE_FILTER}`); return; }
    const payload = Buffer.from(JSON.stringify(body));
    this.log(`DPS ${s.registrationId} ${kind} $rid=${rid} → ${status}${retryAfter !== undefined ? ` retry-after=${retryAfter}` : ''} ${preview(payload, 160)}`);
    s.client.publish({ cmd: 'publish', topic: dpsResponseTopic(status, rid, retryAfter), payload, qos: 0, retain: false, dup: false }, () => {});
  }

  /** An injected fault, or the 401 of a registration no enrollment knows; true when the request was answered. */
  private refusedUpFront(s: Session, kind: 'register' | 'status', rid: string): boolean {
    const fault = this.faults.take(s.registrationId, kind);
    if (fault) {
      this.answer(s, kind, fault.status, rid, dpsError(fault.status === 429 ? 429001 : fault.status * 1000, fault.status === 429 ? 'Operations are being throttled (injected)' : 'injected fault'), fault.retryAfterSeconds);
      return true;
    }
    if (s.attested.kind === 'unknown') {
      this.answer(s, kind, 401, rid, dpsError(401002, `Unauthorized: ${s.attested.reason}`));
      return true;
    }
    return false;
  }

  private register(s: Session, rid: string, body: Buffer): void {
    if (this.refusedUpFront(s, 'register', rid)) return;
    let req;
    try {
      req = body.length === 0 || (body.length === 1 && body[0] === 0x20) ? {} : parseJson(body, { maxDepth: DPS_REQUEST_MAX_NESTING, maxBytes: DPS_REQUEST_MAX_BYTES });
    } catch (e) {
      this.answer(s, 'register', 400, rid, dpsError(400004, e instanceof JsonError ? `the request body: ${e.message}` : 'the request body is not JSON'));
      return;
    }
    if (!isObject(req)) { this.answer(s, 'register', 400, rid, dpsError(400004, 'the request body must be a JSON object')); return; }
    const named = own(req, 'registrationId');
    if (named !== undefined && named !== s.registrationId) {
      this.answer(s, 'register', 400, rid, dpsError(400004, `the body's registrationId ${JSON.stringify(String(named).slice(0, 130))} is not the connection's '${s.registrationId}'`));
      return;
    }
    const payload = own(req, 'payload');
    const attested = s.attested as Exclude<Attested, { kind: 'unknown' }>;
    const op: Operation = { operationId: `4.${randomBytes(8).toString('hex')}.${randomUUID()}`, registrationId: s.registrationId, createdAt: Date.now(), state: undefined };
    this.remember(op);
    assign(this.o, s.registrationId, attested, payload, this.assignments).then((state) => {
      op.state = state;
      this.emit('registered', { registrationId: s.registrationId, state });
    }, (e: Error) => {
      this.log(`DPS ${s.registrationId} assignment failed: ${e.message}`);
      const now = new Date().toISOString();
      op.state = { registrationId: s.registrationId, createdDateTimeUtc: now, lastUpdatedDateTimeUtc: now, etag: '', status: 'failed', errorCode: 500000, errorMessage: e.message };
    });
    this.answer(s, 'register', 202, rid, { operationId: op.operationId, status: 'assigning' }, this.retryAfterSeconds);
  }

  private status(s: Session, rid: string, operationId: string): void {
    if (this.refusedUpFront(s, 'status', rid)) return;
    const op = this.operations.get(operationId);
    if (!op || op.registrationId.toLowerCase() !== s.registrationId.toLowerCase() || Date.now() - op.createdAt > DPS_OPERATION_TTL_MS) {
      this.answer(s, 'status', 404, rid, dpsError(404104, `no operation '${operationId.slice(0, 200)}' for registration '${s.registrationId}'`));
      return;
    }
    if (!op.state) { this.answer(s, 'status', 202, rid, { operationId, status: 'assigning' }, this.retryAfterSeconds); return; }
    this.answer(s, 'status', 200, rid, { operationId, status: op.state.status, registrationState: op.state });
  }

  /** Keeps at most DPS_MAX_OPERATIONS, forgetting the oldest; one registration has one live operation. */
  private remember(op: Operation): void {
    for (const [id, o] of this.operations) {
      if (o.registrationId.toLowerCase() === op.registrationId.toLowerCase() && o.state) this.operations.delete(id);
    }
    while (this.operations.size >= DPS_MAX_OPERATIONS) this.operations.delete(this.operations.keys().next().value as string);
    this.operations.set(op.operationId, op);
  }

  /** The last registration state of a registration id, if it was ever assigned. */
  registrationState(registrationId: string): RegistrationState | undefined { return this.assignments.get(registrationId.toLowerCase()); }

  /** Forgets a registration's state (the service API's DELETE /registrations/{id}); the device stays in the hub. */
  forgetRegistration(registrationId: string): boolean { return this.assignments.delete(registrationId.toLowerCase()); }

  close(): Promise<void> {
    return new Promise((resolve) => this.aedes.close(() => resolve()));
  }
}
