// The hub's AMQP 1.0 surface on rhea. Services: SASL PLAIN (`{policy}@sas.root.{hub}` + SAS token) or SASL ANONYMOUS
// (or no SASL) + CBS put-token; `/messages/devicebound` (C2D into the shared queue), `/messages/serviceBound/feedback`
// (batched feedback records), the Event Hub-compatible `/messages/events/ConsumerGroups/{g}/Partitions/{p}` and
// `$management` READ. Devices and modules: SASL PLAIN `{id}[/modules/{mid}]@sas.{hub}`, CBS with their own tokens
// (renewed on the same link; links end when it expires), or their X.509 certificate on the TLS socket (SASL EXTERNAL,
// or no SASL at all as Microsoft's SDK does); their telemetry, C2D, twin and direct-method links (device-links.ts,
// twin-links.ts, method-links.ts). Every connection is read through an AmqpGate (frame limits) and holds a bounded number of
// sessions, links and tokens; before it holds a valid claim only `$cbs` can be reached.
import rhea from 'rhea';
import type { Connection, Container, Delivery, EventContext, Message, Receiver, Sender, Session } from 'rhea';
import type { Duplex } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import { AmqpGate } from './gate.js';
import { claimsCover, type Policies, type Right, type ServiceClaims } from '../service/policies.js';
import { dict } from '../state/json.js';
import { parseSasToken, splitResource } from '../auth/sas.js';
import type { Registry } from '../state/registry.js';
import type { C2DQueue, C2DOptions, FeedbackRecord, AckMode } from '../state/c2d-queue.js';
import type { EventStore, StoredEvent, StartPosition } from '../state/events.js';
import { parseSelector } from '../state/events.js';
import { HubError } from '../errors.js';
import type { Identity, PropertyBag, TelemetryMessage } from '../state/messages.js';
import { proveIdentity, usesCertificate, type PeerCertificateSource } from '../device/authenticate.js';
import { AmqpDeviceLinks, deviceNode } from './device-links.js';
import { AmqpTwinLinks } from './twin-links.js';
import { AmqpMethodLinks } from './method-links.js';
import type { TwinStore, JsonObject } from '../state/twin-store.js';
import type { MethodInvoker, MethodResult } from '../state/methods.js';
import { identityKey } from '../state/messages.js';
import { bodyBytes, propertyText } from './message.js';

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
  readonly twins: TwinStore;
  readonly methods: MethodInvoker;
  /** The Event Hub-compatible name (the hub's name). */
  readonly eventHubName: string;
  sendC2D(deviceId: string, body: Buffer, opts: C2DOptions): Promise<{ messageId: string }>;
  /** Telemetry a device sent over AMQP: into the event store and `hub.on('telemetry')`. */
  acceptTelemetry(t: TelemetryMessage): void;
}

export interface AmqpOptions {
  /** How long feedback records are collected into one message. Default 200 ms. */
  feedbackBatchMs?: number;
  log?: (line: string) => void;
  /** SASL and `open` must be done this long after accept, or the connection is closed. Default 10 s. */
  openDeadlineMs?: number;
  /** The max-frame-size advertised in `open` (AMQP 1.0 §2.4.1). Default 64 KiB. */
  maxFrameSize?: number;
  /** The largest message (all its transfer frames). Default 256 KiB, IoT Hub's AMQP message limit. */
  maxMessageBytes?: number;
  /** Sessions a connection may hold (before authentication: 4). Default 64. */
  maxSessions?: number;
  /** Links a connection may hold, including refused ones the peer has not detached (before authentication: 4). Default 128. */
  maxLinks?: number;
  /** Distinct CBS audiences a connection may hold tokens for. Default 16. */
  maxTokens?: number;
  /** Refused CBS put-tokens after which the connection is closed. Default 8. */
  maxRefusedTokens?: number;
  /** idle-time-out advertised in `open`: a peer silent for twice this long is closed. Default 240 s (IoT Hub's). */
  idleTimeoutMs?: number;
  /** A device patched its reported properties over AMQP (the hub's 'reported' event). */
  onReported?: (e: { deviceId: string; moduleId?: string; patch: JsonObject; version: number }) => void;
  /** The status of an injected fault for an identity's next twin request (`dev` or `dev/mod`), if one is pending. */
  twinFault?: (identityKey: string) => number | undefined;
  /** An identity's first device link attached (up), or its last one ended: its connection state over AMQP. */
  onDeviceConnection?: (e: { deviceId: string; moduleId?: string; up: boolean; reason?: string }) => void;
}

/** A claim and the resource path (segments after the host, lower case) it covers. */
/**
 * What a connection has proved: a service policy's claims (with the resource path its token covers), or a device's
 * (or module's) identity. Both end when their token does.
 */
type Claim =
  | { kind: 'service'; claims: ServiceClaims; scope: string[]; expiresAt: number }
  | { kind: 'device'; identity: Identity; expiresAt: number };

/** A device node link (telemetry, C2D, twin, methods) and the identity it serves: ended when no claim covers it. */
type DeviceLink = { link: Sender | Receiver; identity: Identity };

interface ConnState {
  id: number;
  /** Claims from SASL PLAIN ('sasl') and from CBS put-token, by audience. */
  claims: Map<string, Claim>;
  user: string;
  /** Our senders on `$cbs` and `$management` (the peer's reply receivers). */
  replySenders: Set<Sender>;
  gate: AmqpGate;
  deadline: NodeJS.Timeout | null;
  /** Sessions and links the peer began/attached and has not ended/detached (refused ones included). */
  sessions: Set<Session>;
  links: Set<Sender | Receiver>;
  refusedTokens: number;
  /** Whether the connection has ever held a valid claim: the small pre-authentication bounds apply until it has
   *  (a token that expires later does not shrink them under the peer's open links). */
  everAuthenticated: boolean;
  /** rhea diagnostics seen (the first few are logged, without their text). */
  diagnostics: number;
  shut: boolean;
  /** The TLS client certificate (X.509 devices), from the TLS socket under the stream. */
  peerCertificate: PeerCertificateSource;
  deviceLinks: Set<DeviceLink>;
  /** Fires when the earliest claim expires: the links it covered end. */
  expiryTimer: NodeJS.Timeout | null;
}

interface FeedbackBatch { records: FeedbackRecord[]; sender: Sender | null }

interface EventReader { sender: Sender; partition: number; nextSeq: number; pumping: boolean }

class PlainMechanism {
  outcome: boolean | undefined = undefined;
  username: string | undefined = undefined;
  claims: Claim | undefined;
  reason = '';
  constructor(private readonly check: (user: string, password: string) => Claim | string) {}
  start(response: Buffer): void {
    const fields: string[] = [];
    let start = 0;
    for (let i = 0; i <= response.length; i++) {
      if (i === response.length || response[i] === 0) { fields.push(response.toString('utf8', start, i)); start = i + 1; }
    }
    if (fields.length !== 3) { this.outcome = false; this.reason = 'malformed PLAIN response'; return; }
    let r: Claim | string;
    try { r = this.check(fields[1]!, fields[2]!); } catch { r = 'malformed SASL PLAIN credentials'; }
    this.username = fields[1];
    if (typeof r === 'string') { this.outcome = false; this.reason = r; } else { this.outcome = true; this.claims = r; }
  }
}

/**
 * SASL EXTERNAL (RFC 4422 appendix A): the credential is the TLS client certificate; which device it proves is known at
 * attach, when a link names `/devices/{id}/…` (checked against that device's thumbprints).
 */
class ExternalMechanism {
  outcome: boolean | undefined = undefined;
  username: string | undefined = undefined;
  constructor(private readonly st: ConnState | null) {}
  start(): void {
    const cert = this.st?.peerCertificate();
    this.outcome = !!cert?.fingerprint;
    this.username = this.outcome ? 'x509' : undefined;
  }
}

function linkAddress(link: Sender | Receiver, end: 'source' | 'target'): string {
  const t = (end === 'source' ? link.source : link.target) as { address?: string } | undefined;
  return t?.address ?? '';
}

const EVENTS_RE = /^\/?(.+)\/ConsumerGroups\/([^/]+)\/Partitions\/(\d+)$/i;
const DEVICEBOUND_PATH = ['messages', 'devicebound'];
const FEEDBACK_PATH = ['messages', 'servicebound', 'feedback'];
/** Sessions and links a connection may hold before it has a valid claim: `$cbs` and its reply link, twice over. */
const PRE_AUTH_SESSIONS = 4;
const PRE_AUTH_LINKS = 4;

/** A resource URI or CBS audience (`sb://host:port/a/b`, `host/a/b`) as its host (no port) and path segments. */
export function resourceParts(resource: string): { host: string; path: string[] } {
  // AMQP node addresses are matched without case (`/messages/serviceBound/feedback`), and the host without its port
  const { host, path } = splitResource(resource);
  return { host: host.replace(/:\d+$/, ''), path: path.map((x) => x.toLowerCase()) };
}

/** IoT Hub: a token's `sr` is a URI prefix, by path segment, of what it may reach (policies.ts holds the rule). */
function scopeCovers(scope: readonly string[], path: readonly string[]): boolean {
  return claimsCover({ resource: '/' + scope.join('/') }, '/' + path.join('/'));
}

/** Keeps secrets out of a log line: SAS tokens, signatures, keys, and anything long and key-like. */
export function redact(line: string): string {
  return line
    .replace(/SharedAccessSignature\s*\S*/gi, 'SharedAccessSignature <redacted>')
    .replace(/\b(sig|SharedAccessKey|key)=[^&;\s'"]*/gi, '<$1 redacted>')
    .replace(/[A-Za-z0-9+/]{40,}={0,2}/g, '<redacted>');
}

/** A peer-supplied string for the log: quoted and short. */
function q(v: unknown, max = 100): string {
  const t = String(v);
  return JSON.stringify(t.length > max ? `${t.slice(0, max)}…` : t);
}

/** What rhea prints to the console when a peer misbehaves (matched on its fixed text; the rest is never logged). */
const RHEA_DIAGNOSTICS = ['received flow with drain set', 'Received transfer when credit', 'unrecognised outcome',
  'did not recognise message section', 'expected described message section', 'Unknown terminus', 'error on read',
  'error on write', 'Uncaught error', 'disconnected', 'Next pending delivery', 'An array must specify'];

type RheaTypes = { unwrap_map_simple: (o: unknown) => unknown; unwrap: (o: unknown, leave?: boolean) => unknown };

/** The one place a HubError becomes an AMQP condition (a rejected C2D delivery). */
export function amqpCondition(e: HubError): string {
  if (e.status === 404) return 'amqp:not-found';
  if (e.code === 'DeviceMaximumQueueDepthExceeded') return 'amqp:resource-limit-exceeded';
  if (e.status === 413) return 'amqp:link:message-size-exceeded';
  if (e.status === 400) return 'com.microsoft:argument-error';
  return 'amqp:internal-error';
}

export class AmqpService {
  readonly container: Container;
  private readonly states = new WeakMap<Connection, ConnState>();
  private readonly deviceLinks: AmqpDeviceLinks;
  private readonly twinLinks: AmqpTwinLinks;
  private readonly methodLinks: AmqpMethodLinks;
  /** Device links attached per identity key, over all connections (0 → absent: not connected over AMQP). */
  private readonly linkCount = new Map<string, number>();
  private readonly onDeviceConnection: AmqpOptions['onDeviceConnection'];
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
  private readonly openDeadlineMs: number;
  private readonly maxFrameSize: number;
  private readonly maxMessageBytes: number;
  private readonly maxSessions: number;
  private readonly maxLinks: number;
  private readonly maxTokens: number;
  private readonly maxRefusedTokens: number;
  private readonly idleTimeoutMs: number;
  /** The connection whose bytes rhea is reading right now (rhea reports errors without naming it). */
  private reading: ConnState | null = null;
  private readonly onOutcome = (f: FeedbackRecord) => { if (f.wanted) this.queueFeedback(f); };
  private readonly onAppended = (ev: StoredEvent) => { for (const r of this.readers) if (r.partition === ev.partition) this.pumpEvents(r); };

  constructor(private readonly hub: AmqpHub, opts: AmqpOptions = {}) {
    const sink = opts.log;
    this.log = sink ? (line) => sink(redact(line)) : () => {};
    this.batchMs = opts.feedbackBatchMs ?? 200;
    this.openDeadlineMs = opts.openDeadlineMs ?? 10_000;
    this.maxFrameSize = Math.max(4096, opts.maxFrameSize ?? 64 * 1024);
    this.maxMessageBytes = opts.maxMessageBytes ?? 256 * 1024;
    this.maxSessions = opts.maxSessions ?? 64;
    this.maxLinks = opts.maxLinks ?? 128;
    this.maxTokens = opts.maxTokens ?? 16;
    this.maxRefusedTokens = opts.maxRefusedTokens ?? 8;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 240_000;
    const c = rhea.create_container({ id: `iothub-wasm-${hub.hostName}` });
    this.container = c;
    c.sasl_server_mechanisms.enable_anonymous();
    c.sasl_server_mechanisms['PLAIN'] = () => new PlainMechanism((u, p) => this.checkPlain(u, p));
    // rhea creates a mechanism while it reads the connection's bytes: `reading` is that connection
    c.sasl_server_mechanisms['EXTERNAL'] = () => new ExternalMechanism(this.reading);
    c.on('connection_open', (ctx: EventContext) => this.onConnectionOpen(ctx));
    c.on('receiver_open', (ctx: EventContext) => this.onReceiverOpen(ctx));
    c.on('sender_open', (ctx: EventContext) => this.onSenderOpen(ctx));
    c.on('message', (ctx: EventContext) => this.onMessage(ctx));
    c.on('sendable', (ctx: EventContext) => this.onSendable(ctx));
    for (const outcome of ['accepted', 'rejected', 'released', 'modified'] as const) {
      c.on(outcome, (ctx: EventContext) => {
        if (!this.deviceLinks.settled(ctx.delivery!, outcome)) this.onSettled(ctx, outcome === 'accepted' || outcome === 'rejected');
      });
    }
    c.on('sender_close', (ctx: EventContext) => { this.forgetLink(ctx.connection, ctx.sender!); this.dropSender(ctx.sender!); });
    c.on('receiver_close', (ctx: EventContext) => { this.forgetLink(ctx.connection, ctx.receiver!); this.twinLinks.drop(ctx.receiver!); });
    c.on('session_open', (ctx: EventContext) => this.onSessionOpen(ctx));
    c.on('session_close', (ctx: EventContext) => this.onSessionClose(ctx));
    c.on('disconnected', (ctx: EventContext) => this.onDisconnected(ctx));
    c.on('connection_close', (ctx: EventContext) => this.onDisconnected(ctx));
    c.on('connection_error', () => {});
    c.on('session_error', () => {});
    c.on('sender_error', () => {});
    c.on('receiver_error', () => {});
    // rhea prints a peer's read buffer in hex (SAS tokens included) unless 'protocol_error' is handled
    c.on('protocol_error', (e: unknown) => this.log(`AMQP #${this.reading?.id ?? '?'} protocol error: ${q(e instanceof Error ? e.message : e)}`));
    c.on('error', (e: unknown) => {
      const err = e instanceof Error ? e : (e as { error?: Error } | undefined)?.error;
      this.log(`AMQP #${this.reading?.id ?? '?'} error: ${q(err?.message ?? 'unknown')}`);
    });
    this.deviceLinks = new AmqpDeviceLinks(hub, this.log);
    const { onReported, twinFault } = opts;
    this.onDeviceConnection = opts.onDeviceConnection;
    this.twinLinks = new AmqpTwinLinks({
      twins: hub.twins, ...(onReported ? { reportedPatched: onReported } : {}), ...(twinFault ? { twinFault } : {}),
    }, this.log);
    this.methodLinks = new AmqpMethodLinks(hub, this.log);
    hub.c2d.on('outcome', this.onOutcome);
    hub.events.on('appended', this.onAppended);
  }

  /**
   * Serves one accepted stream (a TLS socket, or a WebSocket stream over `tls`): through the framing gate, with a
   * deadline. The TLS socket's client certificate authenticates X.509 devices.
   */
  accept(stream: Duplex, tls?: Duplex): Connection {
    const conn = this.container.create_connection({
      autoaccept: false, container_id: this.container.id,
      max_frame_size: this.maxFrameSize, channel_max: this.maxSessions - 1, idle_time_out: this.idleTimeoutMs,
    } as never);
    const holder: { st?: ConnState } = {};
    const gate = new AmqpGate(stream, {
      limits: {
        maxFrameSize: this.maxFrameSize, maxMessageBytes: this.maxMessageBytes,
        maxIncompleteBytes: 2 * this.maxMessageBytes, maxPendingOutput: 1024 * 1024,
      },
      onViolation: (rule, condition) => { if (holder.st) this.shut(conn, holder.st, condition, rule); },
      deliver: (run) => this.rheaInput(holder.st!, run),
    });
    const st: ConnState = {
      id: ++this.seq, claims: new Map(), user: 'anonymous', replySenders: new Set(), gate, deadline: null,
      sessions: new Set(), links: new Set(), refusedTokens: 0, everAuthenticated: false, diagnostics: 0, shut: false,
      peerCertificate: (detailed?: boolean) => {
        const s = (tls ?? stream) as Duplex & { getPeerCertificate?: (detailed?: boolean) => PeerCertificate };
        const cert = s.getPeerCertificate?.(detailed);
        return cert && cert.fingerprint ? cert : undefined;
      },
      deviceLinks: new Set(), expiryTimer: null,
    };
    holder.st = st;
    this.states.set(conn, st);
    this.connections.add(conn);
    gate.on('writable', () => { for (const r of this.readers) if (r.sender.connection === conn) this.pumpEvents(r); });
    st.deadline = setTimeout(() => {
      st.deadline = null;
      this.shut(conn, st, 'amqp:connection:forced', `SASL and open not done within ${this.openDeadlineMs} ms of accept`);
    }, this.openDeadlineMs);
    st.deadline.unref();
    conn.accept(gate as never);
    return conn;
  }

  /**
   * Runs rhea's handling of a peer's bytes. rhea writes diagnostics about bad input to the console (one of them the
   * read buffer in hex); while it reads, they become one log line without their text. rhea also decodes application
   * properties into a plain object, where a `__proto__` member sets the object's prototype instead of being data:
   * while it reads, map sections decode into prototype-free objects.
   */
  private rheaInput(st: ConnState, run: () => void): void {
    const saved = { error: console.error, warn: console.warn, trace: console.trace };
    const types = rhea.types as unknown as RheaTypes;
    const unwrapMap = types.unwrap_map_simple;
    const diagnostic = (...args: unknown[]) => {
      if (st.diagnostics++ >= 3) return;
      const text = typeof args[0] === 'string' ? args[0] : '';
      const what = RHEA_DIAGNOSTICS.find((d) => text.includes(d)) ?? 'an unrecognised condition';
      this.log(`AMQP #${st.id}: rhea reported '${what}' for this peer (not printed)`);
    };
    const outer = this.reading;
    this.reading = st;
    console.error = diagnostic; console.warn = diagnostic; console.trace = diagnostic;
    types.unwrap_map_simple = (o: unknown) => {
      const items = ((o as { value?: unknown[] }).value ?? []).map((i) => types.unwrap(i, true));
      const out = dict<unknown>();
      for (let i = 0; i + 1 < items.length; i += 2) out[String(items[i])] = items[i + 1];
      return out;
    };
    try {
      run();
    } finally {
      types.unwrap_map_simple = unwrapMap;
      console.error = saved.error; console.warn = saved.warn; console.trace = saved.trace;
      this.reading = outer;
    }
  }

  /** Closes a connection for a broken rule: a close frame when `open` was exchanged, then the stream. */
  private shut(conn: Connection, st: ConnState, condition: string, rule: string): void {
    if (st.shut) return;
    st.shut = true;
    if (st.deadline) { clearTimeout(st.deadline); st.deadline = null; }
    this.log(`AMQP #${st.id} closed: ${rule}`);
    try {
      if (conn.is_remote_open() && !conn.is_closed()) conn.close({ condition, description: rule });
    } catch { /* already closing */ }
    st.gate.stop();
  }

  // --- authentication -------------------------------------------------------------------------------------------

  private checkPlain(user: string, password: string): Claim | string {
    const dm = /^([^@]+)@sas\.(?!root\.)(.+)$/i.exec(user);
    if (dm) return this.checkDevicePlain(dm[1]!, dm[2]!, password);
    const m = /^([^@]+)@sas\.root\.(.+)$/i.exec(user);
    if (!m) { this.log(`AMQP SASL PLAIN refused: user ${q(user)} is not {policy}@sas.root.{hub}`); return 'SASL PLAIN user is not {policy}@sas.root.{hub}'; }
    if (!this.isOurHubName(m[2]!)) { this.log(`AMQP SASL PLAIN refused: user names hub ${q(m[2])}, not ${this.hub.hostName}`); return 'SASL PLAIN user names another hub'; }
    const r = this.hub.policies.verify(password, this.hub.hostNames(), Math.floor(Date.now() / 1000), m[1]);
    if (!r.ok) { this.log(`AMQP SASL PLAIN refused for ${q(user)}: ${r.reason}`); return r.reason; }
    const t = parseSasToken(password);
    return { kind: 'service', claims: r.claims, scope: typeof t === 'string' ? [] : resourceParts(t.sr).path, expiresAt: r.claims.expiresAt };
  }

  /** Whether `name` (the hub of a SASL PLAIN user: `{hub}`, `{hub}.azure-devices.net`, `localhost`) is this hub. */
  private isOurHubName(name: string): boolean {
    const names = this.hub.hostNames().flatMap((h) => [h, h.split('.')[0]!, h.split(':')[0]!]);
    return names.includes(name.toLowerCase());
  }

  /** SASL PLAIN as a device: `{deviceId}@sas.{hub}` or `{deviceId}/modules/{moduleId}@sas.{hub}` with a device token. */
  private checkDevicePlain(who: string, hubName: string, token: string): Claim | string {
    if (!this.isOurHubName(hubName)) { this.log(`AMQP SASL PLAIN refused: user names hub ${q(hubName)}, not ${this.hub.hostName}`); return 'SASL PLAIN user names another hub'; }
    const m = /^([^/]+)(?:\/modules\/([^/]+))?$/.exec(who);
    if (!m) return 'SASL PLAIN user is not {deviceId}[/modules/{moduleId}]@sas.{hub}';
    const identity: Identity = m[2] ? { deviceId: m[1]!, moduleId: m[2] } : { deviceId: m[1]! };
    const r = this.proveDevice(identity, token, this.reading);
    if (typeof r === 'string') this.log(`AMQP SASL PLAIN refused for ${q(who)}: ${r}`);
    return r;
  }

  /** A device token for `identity`, checked with its keys (device/authenticate.ts holds the rule). */
  private proveDevice(identity: Identity, token: string | undefined, st: ConnState | null): Claim | string {
    const rec = this.hub.registry.record(identity.deviceId, identity.moduleId);
    const name = identity.moduleId ? `module '${identity.deviceId}/${identity.moduleId}'` : `device '${identity.deviceId}'`;
    if (!rec) return `${name} is not registered`;
    if (rec.status !== 'enabled') return `${name} is disabled`;
    const proof = proveIdentity(rec, identity, { sasToken: token, peerCertificate: st ? st.peerCertificate : () => undefined, hosts: this.hub.hostNames(), authorities: this.hub.registry.authorities });
    if (!proof.ok) return proof.reason;
    return { kind: 'device', identity, expiresAt: proof.expiresAt };
  }

  /** Whether the connection holds an unexpired device claim for exactly this device or module. */
  private mayDevice(conn: Connection, identity: Identity): boolean {
    const now = Math.floor(Date.now() / 1000);
    for (const c of this.state(conn).claims.values()) {
      if (c.kind === 'device' && c.expiresAt > now && c.identity.deviceId === identity.deviceId && c.identity.moduleId === identity.moduleId) return true;
    }
    return false;
  }

  /** Whether `host` (a CBS audience's, port stripped) is one of this hub's names. */
  private isOurHost(host: string): boolean {
    return this.hub.hostNames().some((h) => h.replace(/:\d+$/, '') === host);
  }

  private onConnectionOpen(ctx: EventContext): void {
    const conn = ctx.connection;
    const st = this.state(conn);
    const sasl = (conn as unknown as { sasl_transport?: { mechanism?: unknown; transports?: Record<number, { mechanism?: unknown }> } }).sasl_transport;
    const mech = (sasl?.transports?.[3]?.mechanism ?? sasl?.mechanism) as PlainMechanism | undefined;
    if (st.deadline) { clearTimeout(st.deadline); st.deadline = null; }
    if (mech instanceof PlainMechanism && mech.claims) {
      st.claims.set('sasl', mech.claims);
      st.everAuthenticated = true;
      st.user = mech.username ?? 'plain';
      this.armExpiry(conn, st);
    } else if (mech instanceof ExternalMechanism) {
      st.user = 'x509 (SASL EXTERNAL)';
    }
    const how = st.claims.size ? q(st.user) : mech instanceof ExternalMechanism ? 'SASL EXTERNAL: the client certificate is checked at attach' :
      st.peerCertificate() ? 'anonymous: CBS, or the client certificate at attach' : 'anonymous: CBS expected';
    this.log(`AMQP connection #${st.id} open (${how})`);
  }

  private state(conn: Connection): ConnState {
    const st = this.states.get(conn);
    if (!st) throw new Error('AMQP connection not accepted by this service');
    return st;
  }

  /** Whether the connection holds an unexpired claim with `right` whose scope covers `path`. */
  private may(conn: Connection, right: Right, ...paths: string[][]): boolean {
    const now = Math.floor(Date.now() / 1000);
    for (const c of this.state(conn).claims.values()) {
      if (c.kind === 'service' && c.expiresAt > now && c.claims.rights.has(right) && paths.some((p) => scopeCovers(c.scope, p))) return true;
    }
    return false;
  }

  /** Whether the connection holds any unexpired claim (SASL PLAIN or CBS): before that only `$cbs` can be reached. */
  private authenticated(conn: Connection): boolean {
    const now = Math.floor(Date.now() / 1000);
    for (const c of this.state(conn).claims.values()) if (c.expiresAt > now) return true;
    return false;
  }

  private onSessionOpen(ctx: EventContext): void {
    const conn = ctx.connection;
    const st = this.state(conn);
    const s = ctx.session!;
    st.sessions.add(s);
    const limit = st.everAuthenticated ? this.maxSessions : PRE_AUTH_SESSIONS;
    if (st.sessions.size > 2 * limit) {
      this.shut(conn, st, 'amqp:resource-limit-exceeded', `more than ${2 * limit} sessions begun and not ended${limit === PRE_AUTH_SESSIONS ? ' before authentication' : ''}`);
    } else if (st.sessions.size > limit) {
      this.log(`AMQP #${st.id} session refused: at most ${limit} per connection${limit === PRE_AUTH_SESSIONS ? ' before authentication' : ''}`);
      s.close({ condition: 'amqp:resource-limit-exceeded', description: `at most ${limit} sessions per connection${limit === PRE_AUTH_SESSIONS ? ' before a token is put on $cbs' : ''}` });
    }
  }

  private onSessionClose(ctx: EventContext): void {
    const st = this.states.get(ctx.connection);
    const s = ctx.session!;
    if (!st) return;
    st.sessions.delete(s);
    for (const l of st.links) if (l.session === s) st.links.delete(l);
  }

  /**
   * Counts a link the peer attached; refuses it beyond the connection's limit (which is small before
   * authentication) and closes the connection when refused links pile up undetached. False when refused.
   */
  private admitLink(link: Sender | Receiver, address: string): boolean {
    const conn = link.connection;
    const st = this.state(conn);
    st.links.add(link);
    const authed = this.authenticated(conn);
    const limit = st.everAuthenticated ? this.maxLinks : PRE_AUTH_LINKS;
    const when = st.everAuthenticated ? '' : ' before authentication';
    if (st.links.size > 2 * limit) {
      this.shut(conn, st, 'amqp:resource-limit-exceeded', `more than ${2 * limit} links attached and not detached${when}`);
      return false;
    }
    if (st.links.size > limit) {
      this.log(`AMQP #${st.id} link to ${q(address)} refused: at most ${limit} links per connection${when}`);
      link.close({ condition: 'amqp:resource-limit-exceeded', description: `at most ${limit} links per connection${when}` });
      return false;
    }
    if (!authed && address !== '$cbs' && !this.claimX509Node(conn, address)) {
      this.log(`AMQP #${st.id} link to ${q(address)} refused: no token yet (only $cbs before authentication)`);
      link.close({ condition: 'amqp:unauthorized-access', description: `put a token on $cbs (or use SASL PLAIN) before attaching to '${address.slice(0, 200)}'` });
      return false;
    }
    return true;
  }

  private putToken(ctx: EventContext, m: Message): void {
    const conn = ctx.connection;
    const props = (m.application_properties ?? {}) as Record<string, unknown>;
    const reply = (status: number, description: string) => {
      this.reply(conn, '$cbs', m, { 'status-code': rhea.types.wrap_int(status), 'status-description': description }, undefined);
    };
    const st = this.state(conn);
    const refuse = (status: number, reason: string) => {
      this.log(`AMQP #${st.id} CBS put-token for ${q(props['name'])} refused: ${reason}`);
      reply(status, reason);
      if (++st.refusedTokens >= this.maxRefusedTokens) this.shut(conn, st, 'amqp:unauthorized-access', `${st.refusedTokens} CBS put-tokens refused`);
    };
    if (props['operation'] !== 'put-token') return refuse(400, `unsupported CBS operation ${q(props['operation'], 40)}`);
    const type = String(props['type'] ?? '');
    if (type !== 'servicebus.windows.net:sastoken' && type !== 'azure-devices.net:sastoken') return refuse(400, `unsupported token type ${q(type, 60)}`);
    const token = bodyBytes(m).toString('utf8');
    const audience = typeof props['name'] === 'string' ? props['name'] : '';
    if (!audience || audience.length > 1024) return refuse(400, 'the put-token names no audience (name), or one longer than 1024 characters');
    const now = Math.floor(Date.now() / 1000);
    if (!st.claims.has(audience) && st.claims.size >= this.maxTokens) {
      for (const [k, c] of st.claims) if (c.expiresAt <= now) st.claims.delete(k);
      if (st.claims.size >= this.maxTokens) return refuse(403, `at most ${this.maxTokens} tokens per connection`);
    }
    const parsed = parseSasToken(token);
    if (typeof parsed !== 'string' && !parsed.skn) {
      // a device's own token (no skn): the audience names the device or module, {host}/devices/{id}[/modules/{mid}]
      // the device SDK sends the token's sr as the audience, percent-encoded (`host%2Fdevices%2Fid`)
      let aud = audience;
      if (!aud.includes('/')) { try { aud = decodeURIComponent(aud); } catch { /* left as it is: refused below */ } }
      const { host, path } = splitResource(aud);
      if (!this.isOurHost(host.replace(/:\d+$/, ''))) return refuse(401, `the audience ${q(audience)} is not this hub (${this.hub.hostName})`);
      let identity: Identity | undefined;
      try {
        const seg = path.map((x) => decodeURIComponent(x));
        if (seg.length === 2 && seg[0] === 'devices') identity = { deviceId: seg[1]! };
        else if (seg.length === 4 && seg[0] === 'devices' && seg[2] === 'modules') identity = { deviceId: seg[1]!, moduleId: seg[3]! };
      } catch { /* malformed escape: not an identity */ }
      if (!identity) return refuse(401, `a device token's audience must be {host}/devices/{id}[/modules/{moduleId}], not ${q(audience)}`);
      const claim = this.proveDevice(identity, token, st);
      if (typeof claim === 'string') return refuse(401, claim);
      const renewed = st.claims.has(audience);
      st.claims.set(audience, claim);
      st.everAuthenticated = true;
      st.user = identity.moduleId ? `${identity.deviceId}/${identity.moduleId}` : identity.deviceId;
      this.armExpiry(conn, st);
      this.log(`AMQP #${st.id} CBS put-token for ${q(audience)} ${renewed ? 'renewed' : 'accepted'} (${q(st.user)}, valid ${claim.expiresAt - now} s)`);
      return reply(200, 'OK');
    }
    const r = this.hub.policies.verify(token, this.hub.hostNames(), now);
    if (!r.ok) return refuse(401, r.reason);
    const t = parseSasToken(token);
    const aud = resourceParts(audience);
    if (!this.isOurHost(aud.host)) return refuse(401, `the audience ${q(audience)} is not this hub (${this.hub.hostName})`);
    const scope = typeof t === 'string' ? [] : resourceParts(t.sr).path;
    if (!scopeCovers(scope, aud.path)) return refuse(401, `the token's sr does not cover the audience ${q(audience)}`);
    st.claims.set(audience, { kind: 'service', claims: r.claims, scope: aud.path, expiresAt: r.claims.expiresAt });
    st.everAuthenticated = true;
    this.armExpiry(conn, st);
    st.user = r.claims.policy;
    this.log(`AMQP #${st.id} CBS put-token for ${q(audience)} accepted (policy ${r.claims.policy})`);
    reply(200, 'OK');
  }

  /** Answers a request on the sender link with source `node` whose target is `reply_to` (or the only one). */
  private reply(conn: Connection, node: string, req: Message, props: Record<string, unknown>, body: unknown): void {
    let best: Sender | undefined;
    for (const s of this.state(conn).replySenders) {
      if (linkAddress(s, 'source') !== node || s.is_closed()) continue;
      if (!best || (req.reply_to && linkAddress(s, 'target') === req.reply_to)) best = s;
    }
    if (!best) { this.log(`AMQP #${this.state(conn).id}: no reply link for ${node}`); return; }
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
    if (!this.admitLink(r, target)) return;
    // advertised so that senders split nothing larger (the gate closes the connection beyond it)
    (r as unknown as { local: { attach: { max_message_size?: unknown } } }).local.attach.max_message_size = this.maxMessageBytes;
    if (target === '$cbs' || target === '$management') {
      if (target === '$management' && !this.authenticated(ctx.connection)) return this.refuseLink(r, 'a token', target);
      r.add_credit(100);
      return;
    }
    if (target === DEVICEBOUND_ADDRESS || target === DEVICEBOUND_ADDRESS.slice(1)) {
      if (!this.may(ctx.connection, 'ServiceConnect', DEVICEBOUND_PATH)) return this.refuseLink(r, 'ServiceConnect', target);
      r.add_credit(100);
      return;
    }
    const dn = deviceNode(target);
    if (dn?.node === 'events' || dn?.node === 'twin' || dn?.node === 'methods') {
      if (!this.deviceMay(r, dn.identity)) return this.refuseDeviceLink(r, dn.identity, target);
      if (dn.node === 'events') this.deviceLinks.attachEvents(r);
      else if (dn.node === 'twin') this.twinLinks.attachRequests(r, dn.identity);
      else this.methodLinks.attachResponses(r);
      this.log(`AMQP #${this.state(ctx.connection).id} ${dn.node === 'events' ? 'telemetry' : dn.node === 'twin' ? 'twin request' : 'method response'} link for ${q(target)} attached`);
      return;
    }
    this.log(`AMQP #${this.state(ctx.connection).id}: no node ${q(target)} to send to`);
    r.close({ condition: 'amqp:not-found', description: `no node '${target.slice(0, 200)}' on this hub (send to ${DEVICEBOUND_ADDRESS})` });
  }

  /** The peer attached a receiver: we send. */
  private onSenderOpen(ctx: EventContext): void {
    const s = ctx.sender!;
    const source = linkAddress(s, 'source');
    const st = this.state(ctx.connection);
    if (!this.admitLink(s, source)) return;
    if (source === '$cbs' || source === '$management') { st.replySenders.add(s); return; }
    const dn = deviceNode(source);
    if (dn?.node === 'devicebound' || dn?.node === 'twin' || dn?.node === 'methods') {
      if (!this.deviceMay(s, dn.identity)) return this.refuseDeviceLink(s, dn.identity, source);
      this.log(`AMQP #${st.id} ${dn.node === 'devicebound' ? 'C2D' : dn.node === 'twin' ? 'twin response' : 'method request'} link for ${q(source)} attached`);
      if (dn.node === 'devicebound') this.deviceLinks.attachDevicebound(s, dn.identity);
      else if (dn.node === 'twin') this.twinLinks.attachResponses(s, dn.identity);
      else this.methodLinks.attachRequests(s, dn.identity);
      return;
    }
    if (source === FEEDBACK_ADDRESS || source === FEEDBACK_ADDRESS.slice(1)) {
      if (!this.may(ctx.connection, 'ServiceConnect', FEEDBACK_PATH)) return this.refuseLink(s, 'ServiceConnect', source);
      this.feedbackSenders.add(s);
      this.log(`AMQP #${st.id} feedback receiver attached`);
      this.scheduleFeedback(0);
      return;
    }
    const m = EVENTS_RE.exec(source);
    const entity = m?.[1]!.toLowerCase();
    if (m && (entity === 'messages/events' || entity === this.hub.eventHubName.toLowerCase())) {
      if (!this.may(ctx.connection, 'ServiceConnect', resourceParts(`host/${source}`).path)) return this.refuseLink(s, 'ServiceConnect', source);
      const p = Number(m[3]);
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
      this.log(`AMQP #${st.id} events reader on partition ${p} (consumer group ${q(m[2])}) from sequence number ${reader.nextSeq}`);
      this.pumpEvents(reader);
      return;
    }
    s.close({ condition: 'amqp:not-found', description: `no node '${source.slice(0, 200)}' on this hub` });
  }

  /**
   * Whether a device link for `identity` may attach: a claim on the connection covers it, or the TLS client certificate
   * proves it (an X.509 device); the link is then counted among those the claim's expiry ends.
   */
  private deviceMay(link: Sender | Receiver, identity: Identity): boolean {
    const conn = link.connection;
    if (!this.mayDevice(conn, identity) && !this.claimX509(conn, identity)) return false;
    this.state(conn).deviceLinks.add({ link, identity });
    const key = identityKey(identity);
    const n = (this.linkCount.get(key) ?? 0) + 1;
    this.linkCount.set(key, n);
    if (n === 1) this.onDeviceConnection?.({ ...identity, up: true });
    return true;
  }

  /** A device link ended (detached, refused later, or its connection went): the last one of an identity disconnects it. */
  private untrack(st: ConnState, dl: DeviceLink, reason: string): void {
    if (!st.deviceLinks.delete(dl)) return;
    const key = identityKey(dl.identity);
    const n = (this.linkCount.get(key) ?? 1) - 1;
    if (n > 0) { this.linkCount.set(key, n); return; }
    this.linkCount.delete(key);
    this.onDeviceConnection?.({ ...dl.identity, up: false, reason });
  }

  /** An X.509 identity (self-signed or CA-signed) proved by the connection's TLS client certificate (the rule: device/authenticate.ts). */
  private claimX509(conn: Connection, identity: Identity): boolean {
    const st = this.state(conn);
    const rec = this.hub.registry.record(identity.deviceId, identity.moduleId);
    if (!rec || rec.status !== 'enabled' || !usesCertificate(rec)) return false;
    if (!st.peerCertificate()) return false;
    const proof = proveIdentity(rec, identity, { sasToken: undefined, peerCertificate: st.peerCertificate, hosts: this.hub.hostNames(), authorities: this.hub.registry.authorities });
    const key = identityKey(identity);
    if (!proof.ok) { this.log(`AMQP #${st.id} X.509 identity ${q(key)} refused: ${proof.reason}`); return false; }
    st.claims.set(`x509:${key}`, { kind: 'device', identity, expiresAt: proof.expiresAt });
    st.everAuthenticated = true;
    st.user = key;
    this.armExpiry(conn, st);
    this.log(`AMQP #${st.id} X.509 identity ${q(key)} proved by its client certificate`);
    return true;
  }

  /** claimX509 for the identity a device node address names (a link attached before any token). */
  private claimX509Node(conn: Connection, address: string): boolean {
    const dn = deviceNode(address);
    return dn !== undefined && this.claimX509(conn, dn.identity);
  }

  private forgetLink(conn: Connection, link: Sender | Receiver): void {
    const st = this.states.get(conn);
    if (!st) return;
    st.links.delete(link);
    for (const dl of [...st.deviceLinks]) if (dl.link === link) this.untrack(st, dl, 'link detached');
  }

  /** Sets the connection's timer to its earliest unexpired claim's expiry (a renewal moves it). */
  private armExpiry(conn: Connection, st: ConnState): void {
    if (st.expiryTimer) { clearTimeout(st.expiryTimer); st.expiryTimer = null; }
    const now = Date.now() / 1000;
    let first = Infinity;
    for (const c of st.claims.values()) if (c.expiresAt > now && c.expiresAt < first) first = c.expiresAt;
    if (first === Infinity || st.shut) return;
    const ms = Math.min(2 ** 31 - 1, Math.max(0, first * 1000 - Date.now()) + 20);
    st.expiryTimer = setTimeout(() => { st.expiryTimer = null; this.expire(conn, st); }, ms);
    st.expiryTimer.unref();
  }

  /**
   * Ends what expired claims covered, as IoT Hub does when a device does not renew its token: each device link whose
   * identity no longer holds a valid claim is detached with amqp:unauthorized-access. Then waits for the next expiry.
   */
  private expire(conn: Connection, st: ConnState): void {
    const now = Math.floor(Date.now() / 1000);
    for (const [k, c] of st.claims) if (c.expiresAt <= now) st.claims.delete(k);
    for (const dl of [...st.deviceLinks]) {
      if (this.mayDevice(conn, dl.identity)) continue;
      this.untrack(st, dl, 'SAS token expired');
      const key = identityKey(dl.identity);
      this.log(`AMQP #${st.id} link ${q(linkAddress(dl.link, dl.link.is_sender() ? 'source' : 'target'))} detached: the token of ${q(key)} expired`);
      try {
        dl.link.close({ condition: 'amqp:unauthorized-access', description: `the token of ${key.slice(0, 300)} expired: put a new one on $cbs before it does` });
      } catch { /* the connection is going */ }
    }
    this.armExpiry(conn, st);
  }

  // --- the device side, for the hub ------------------------------------------------------------------------------

  /** Sends a stored desired patch to the identity's subscribed twin links; false when it has none. */
  notifyDesired(identity: Identity, version: number, patch: JsonObject): boolean {
    return this.twinLinks.notifyDesired(identity, version, patch);
  }

  /** Whether the identity has a direct-method link attached (it can be invoked over AMQP). */
  hasMethodLink(identity: Identity): boolean { return this.methodLinks.has(identity); }

  invokeMethod(identity: Identity, name: string, payload: Buffer, timeoutMs: number): Promise<MethodResult> {
    return this.methodLinks.invoke(identity, name, payload, timeoutMs);
  }

  /**
   * Ends what an identity holds on every connection (it was removed or disabled): its claims go and its device links
   * are detached with amqp:unauthorized-access; a device's modules with it when `withModules`. Returns the links ended.
   */
  dropIdentity(identity: Identity, reason: string, withModules = false): number {
    const hit = (i: Identity) => i.deviceId === identity.deviceId && (i.moduleId === identity.moduleId || (withModules && identity.moduleId === undefined));
    let n = 0;
    for (const c of this.connections) {
      const st = this.states.get(c);
      if (!st) continue;
      for (const [k, cl] of st.claims) if (cl.kind === 'device' && hit(cl.identity)) st.claims.delete(k);
      let here = 0;
      for (const dl of [...st.deviceLinks]) {
        if (!hit(dl.identity)) continue;
        this.untrack(st, dl, reason);
        here++;
        try { dl.link.close({ condition: 'amqp:unauthorized-access', description: reason }); } catch { /* closing */ }
      }
      n += here;
      if (here) this.log(`AMQP #${st.id} links of ${q(identityKey(identity))} detached: ${reason}`);
    }
    return n;
  }

  /** Whether the identity has a device link attached on a connection (its connectionState over AMQP). */
  isConnected(identity: Identity): boolean {
    return this.linkCount.has(identityKey(identity));
  }

  private refuseDeviceLink(link: Sender | Receiver, identity: Identity, address: string): void {
    const st = this.state(link.connection);
    const name = identity.moduleId ? `${identity.deviceId}/modules/${identity.moduleId}` : identity.deviceId;
    this.log(`AMQP #${st.id} link to ${q(address)} refused: no valid token of ${q(name)} on this connection`);
    link.close({ condition: 'amqp:unauthorized-access', description: `'${address.slice(0, 200)}' needs a token of ${name.slice(0, 300)} (SASL PLAIN {id}@sas.{hub}, or put it on $cbs), or for an X.509 identity its registered client certificate` });
  }

  private refuseLink(link: Sender | Receiver, right: string, address: string): void {
    const st = this.state(link.connection);
    this.log(`AMQP #${st.id} link to ${q(address)} refused: needs ${right} for that address`);
    link.close({ condition: 'amqp:unauthorized-access', description: `'${address.slice(0, 200)}' needs a token of a policy with ${right} whose sr covers it (put one on $cbs or use SASL PLAIN)` });
  }

  private onMessage(ctx: EventContext): void {
    const r = ctx.receiver!;
    const m = ctx.message!;
    const d = ctx.delivery!;
    const target = linkAddress(r, 'target');
    if (target === '$cbs') { d.accept(); this.putToken(ctx, m); return; }
    if (target === '$management') { d.accept(); this.management(ctx, m); return; }
    const dn = deviceNode(target);
    if (dn?.node === 'events' || dn?.node === 'twin' || dn?.node === 'methods') {
      // the token may have expired since the link was attached
      if (!this.mayDevice(ctx.connection, dn.identity)) { d.reject({ condition: 'amqp:unauthorized-access', description: 'the device token on this connection expired: put a new one on $cbs' }); return; }
      if (dn.node === 'events') this.deviceLinks.telemetry(ctx, dn.identity, target);
      else if (dn.node === 'twin') this.twinLinks.request(ctx);
      else this.methodLinks.response(ctx, dn.identity);
      return;
    }
    void this.devicebound(ctx, m, d);
  }

  private async devicebound(ctx: EventContext, m: Message, d: Delivery): Promise<void> {
    const st = this.state(ctx.connection);
    const reject = (condition: string, description: string) => {
      this.log(`AMQP #${st.id} C2D refused: ${condition} (${description})`);
      d.reject({ condition, description });
    };
    if (!this.may(ctx.connection, 'ServiceConnect', DEVICEBOUND_PATH)) return reject('amqp:unauthorized-access', 'the token on this connection expired, lacks ServiceConnect or does not cover /messages/devicebound');
    const to = propertyText(m.to) ?? '';
    const mt = /^\/devices\/([^/]+)\/messages\/devicebound$/i.exec(to);
    if (!mt) return reject('com.microsoft:argument-error', `'to' must be /devices/{deviceId}/messages/devicebound, not ${q(to)}`);
    let deviceId: string;
    try { deviceId = decodeURIComponent(mt[1]!); } catch { return reject('com.microsoft:argument-error', `malformed device id in ${q(to)}`); }
    // member names are data: copied by own key into prototype-free maps
    const src = (m.application_properties ?? {}) as Record<string, unknown>;
    const app = dict<unknown>();
    for (const k of Object.keys(src)) app[k] = src[k];
    const ackRaw = app['iothub-ack'];
    delete app['iothub-ack'];
    const ack = (ackRaw === undefined ? 'none' : String(ackRaw)) as AckMode;
    if (!['none', 'positive', 'negative', 'full'].includes(ack)) return reject('com.microsoft:argument-error', `iothub-ack must be none, positive, negative or full, not ${q(ackRaw, 40)}`);
    const properties: PropertyBag = dict<string | null>();
    for (const k of Object.keys(app)) {
      const v = app[k];
      properties[k] = v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v);
    }
    const opts: C2DOptions = { properties, ack };
    const mid = propertyText(m.message_id); if (mid !== undefined) opts.messageId = mid;
    const cid = propertyText(m.correlation_id); if (cid !== undefined) opts.correlationId = cid;
    const uid = propertyText(m.user_id); if (uid !== undefined) opts.userId = uid;
    if (m.content_type) opts.contentType = String(m.content_type);
    if (m.content_encoding) opts.contentEncoding = String(m.content_encoding);
    const exp = m.absolute_expiry_time as unknown;
    if (exp !== undefined && exp !== null) {
      const t = exp instanceof Date ? exp.getTime() : Number(exp);
      if (Number.isFinite(t) && t > 0) opts.ttlSeconds = Math.max(0.001, (t - Date.now()) / 1000);
    } else if (typeof m.ttl === 'number' && m.ttl > 0) opts.ttlSeconds = m.ttl / 1000;
    try {
      const r = await this.hub.sendC2D(deviceId, bodyBytes(m), opts);
      this.log(`AMQP #${st.id} C2D ${r.messageId} for ${deviceId} accepted (iothub-ack ${ack})`);
      d.accept();
    } catch (e) {
      if (e instanceof HubError) return reject(amqpCondition(e), `ErrorCode:${e.code};${e.message}`);
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
    this.deviceLinks.drop(s);
    this.twinLinks.drop(s);
    this.methodLinks.drop(s);
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
    this.deviceLinks.sendable(s);
    this.twinLinks.sendable(s);
    this.methodLinks.sendable(s);
    for (const r of this.readers) if (r.sender === s) this.pumpEvents(r);
  }

  private onDisconnected(ctx: EventContext): void {
    const conn = ctx.connection;
    for (const s of this.feedbackSenders) if (s.connection === conn) this.dropSender(s);
    this.deviceLinks.dropConnection(conn);
    this.twinLinks.dropConnection(conn);
    this.methodLinks.dropConnection(conn);
    for (const r of this.readers) if (r.sender.connection === conn) this.readers.delete(r);
    const st = this.states.get(conn);
    if (st?.deadline) { clearTimeout(st.deadline); st.deadline = null; }
    if (st?.expiryTimer) { clearTimeout(st.expiryTimer); st.expiryTimer = null; }
    if (st) for (const dl of [...st.deviceLinks]) this.untrack(st, dl, 'connection closed');
    if (this.connections.delete(conn)) this.log(`AMQP connection #${st?.id ?? '?'} closed`);
  }

  // --- Event Hub-compatible endpoint ----------------------------------------------------------------------------

  private pumpEvents(r: EventReader): void {
    const s = r.sender;
    if (s.is_closed() || !this.readers.has(r)) return;
    while (s.sendable() && !this.state(s.connection).gate.congested) {
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
    // the Event Hub-compatible entity's management node, or the events it describes
    const paths = [[this.hub.eventHubName.toLowerCase(), '$management'], ['messages', 'events']];
    let allowed = this.may(ctx.connection, 'ServiceConnect', ...paths);
    if (!allowed && typeof token === 'string') {
      const r = this.hub.policies.verify(token, this.hub.hostNames(), Math.floor(Date.now() / 1000));
      const t = parseSasToken(token);
      allowed = r.ok && r.claims.rights.has('ServiceConnect') && typeof t !== 'string' && paths.some((p) => scopeCovers(resourceParts(t.sr).path, p));
    }
    if (!allowed) return reply(401, 'a token of a policy with ServiceConnect covering the event hub is needed');
    if (props['operation'] !== 'READ') return reply(400, `unsupported operation ${q(props['operation'], 40)}`);
    const name = String(props['name'] ?? '');
    if (name && name.toLowerCase() !== this.hub.eventHubName.toLowerCase()) return reply(404, `no event hub ${q(name, 100)} (this one is '${this.hub.eventHubName}')`);
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
      const st = this.states.get(c);
      if (st?.deadline) { clearTimeout(st.deadline); st.deadline = null; }
      if (st?.expiryTimer) { clearTimeout(st.expiryTimer); st.expiryTimer = null; }
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
  // the device's own creation time ($.ctime over MQTT), as IoT Hub stamps it beside its enqueued time
  if (sys['iothub-creation-time-utc'] !== undefined) annotations['iothub-creation-time-utc'] = sys['iothub-creation-time-utc'];
  const m: Message = {
    message_annotations: annotations,
    application_properties: Object.assign(dict<string | null>(), ev.properties),
    body: rhea.message.data_section(ev.body),
  } as Message;
  if (sys['messageId'] !== undefined) m.message_id = sys['messageId'];
  if (sys['correlationId'] !== undefined) m.correlation_id = sys['correlationId'];
  if (sys['contentType'] !== undefined) m.content_type = sys['contentType'];
  if (sys['contentEncoding'] !== undefined) m.content_encoding = sys['contentEncoding'];
  if (sys['userId'] !== undefined) m.user_id = sys['userId'];
  return m;
}
