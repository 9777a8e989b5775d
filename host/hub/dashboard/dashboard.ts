// The hub's web dashboard, on the REST listener under /dashboard/: the page (static files), a JSON API under
// /dashboard/api/ and a Server-Sent Events stream of connection states, telemetry, twin changes and refusals.
// Every API call and the stream need a session (sessions.ts); state-changing calls must also come from the page's own
// origin as JSON (a cross-origin page, another localhost port included, cannot send them). Bodies are bounded, JSON
// member names are data, and the page renders every value as text under a strict Content Security Policy.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError, invalidArgument, restErrorBody } from '../errors.js';
import { UnreadRequestError, readBody } from '../http.js';
import { JsonError, isObject, own, parseJson, type Json, type JsonObject } from '../state/json.js';
import { validateId, type Registry, type IdentityInfo } from '../state/registry.js';
import type { EventStore, StoredEvent } from '../state/events.js';
import type { Twin } from '../state/twin-store.js';
import { TWIN_DOCUMENT_MAX_NESTING } from '../state/twin-store.js';
import { METHOD_MAX_NESTING, METHOD_RESPONSE_TIMEOUT, type InvokeOptions, type MethodResult } from '../state/methods.js';
import type { C2DOptions } from '../state/c2d-queue.js';
import type { PropertyBag } from '../state/messages.js';
import { claimsCover, type Policies } from '../service/policies.js';
import { replacementPatch } from '../service/rest.js';
import { RefusalLog, type Refusal } from './refusals.js';
import { Sessions } from './sessions.js';
import { assets } from './assets.js';

export const DASHBOARD_PATH = '/dashboard';
/** Request bodies: a twin's desired document (32 KiB), a C2D message (64 KiB) or a method payload (128 KiB), as JSON text. */
const MAX_BODY = 512 * 1024;
/** Telemetry served when a device is selected (the newest of the last TELEMETRY_SCAN events of its partition). */
const TELEMETRY_RECENT = 50;
const TELEMETRY_SCAN = 500;
const TELEMETRY_CHUNK = 50;
const TELEMETRY_SCAN_BYTES = 8 * 1024 * 1024;
/** A telemetry body is shown up to this many bytes. */
const BODY_PREVIEW = 16 * 1024;
const MAX_STREAMS = 16;
/** Devices the list shows (the REST API's `top` is at most 1000 as well). */
const LIST_MAX = 1000;
const MODULES_UP_TO = 500;
/** A stream whose client reads slower than this much buffered output skips telemetry until it catches up. */
const STREAM_BACKLOG = 1024 * 1024;
const STREAM_PING_MS = 20_000;

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
const SECURITY_HEADERS = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

type Listener = (...args: never[]) => void;
interface Emitter { on(event: string, f: Listener): unknown; off(event: string, f: Listener): unknown }

/** What the dashboard uses of the hub (LocalHub has all of it). */
export interface DashboardHub {
  readonly hostName: string;
  /** The names a SAS token's resource may use for this hub. */
  hostNames(): string[];
  readonly registry: Registry;
  readonly policies: Policies;
  readonly events: EventStore;
  readonly c2d: { pending(deviceId: string): readonly unknown[] };
  getTwin(deviceId: string, moduleId?: string): Promise<Twin>;
  updateDesired(deviceId: string, patch: JsonObject, opts?: { moduleId?: string }): Promise<Twin>;
  invokeMethod(deviceId: string, methodName: string, payload?: unknown, opts?: InvokeOptions): Promise<MethodResult>;
  sendC2D(deviceId: string, body: Buffer, opts?: C2DOptions): Promise<{ messageId: string; queued: number }>;
  isConnected(deviceId: string, moduleId?: string): boolean;
  connectionStateUpdatedTime(deviceId: string, moduleId?: string): Date | undefined;
}

interface ConnectionEvent { deviceId: string; moduleId?: string; reason?: string; transport?: string }
interface Stream { res: ServerResponse; deviceId?: string; moduleId?: string; skipped: number }

/**
 * The reasons a connection ends that are no refusal: the device left or its network failed (a socket error, as aedes
 * words it), the hub stopped, or a back end removed, disabled or dropped it. The others are the hub enforcing a rule
 * (a topic, QoS 2, a size), an expired token or a missed keep-alive.
 */
const ORDINARY_CLOSE = new Set(['connection closed', 'hub stopping', 'dropped by the hub (dropConnection)', 'identity removed', 'identity disabled']);
const NETWORK_ERROR = /\bE[A-Z]{3,}\b|socket hang up|[Dd]isconnected|[Cc]losed/;
const isRefusal = (reason: string | undefined): reason is string => !!reason && !ORDINARY_CLOSE.has(reason) && !NETWORK_ERROR.test(reason);

export interface DashboardOptions {
  /** The REST port, which names the session cookie (cookies are per host, not per port); known once it listens. */
  port: () => number | undefined;
  log?: (line: string) => void;
}

export class Dashboard {
  readonly refusals = new RefusalLog();
  private readonly sessions: Sessions;
  private readonly streams = new Set<Stream>();
  private readonly log: (line: string) => void;
  private readonly port: () => number | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private telemetryOn = false;
  private pinger: NodeJS.Timeout | null = null;

  /** `emitter` is the hub (its connected, disconnected, refused and reported events); `dps` the provisioning service's. */
  constructor(private readonly hub: DashboardHub, emitter: Emitter, dps: Emitter | undefined, o: DashboardOptions) {
    this.sessions = new Sessions(hub.policies, () => `iothub-wasm-dashboard-${o.port() ?? 0}`);
    this.log = o.log ?? (() => {});
    this.port = o.port;
    assets();
    const on = (e: Emitter, ev: string, f: Listener) => { e.on(ev, f); this.unsubscribe.push(() => e.off(ev, f)); };
    const who = (e: { deviceId: string; moduleId?: string }) => (e.moduleId ? `${e.deviceId}/${e.moduleId}` : e.deviceId);
    on(emitter, 'refused', ((e: { clientId: string; returnCode?: number; reason: string }) =>
      this.refusals.add('mqtt', e.clientId, `CONNACK ${e.returnCode ?? '?'}: ${e.reason}`)) as Listener);
    if (dps) on(dps, 'refused', ((e: { clientId: string; returnCode?: number; reason: string }) =>
      this.refusals.add('dps', e.clientId, `CONNACK ${e.returnCode ?? '?'}: ${e.reason}`)) as Listener);
    on(emitter, 'connected', ((e: ConnectionEvent) => this.broadcast('state', { deviceId: e.deviceId, ...(e.moduleId ? { moduleId: e.moduleId } : {}), connected: true })) as Listener);
    on(emitter, 'disconnected', ((e: ConnectionEvent) => {
      if (isRefusal(e.reason)) this.refusals.add('connection', who(e), `closed by the hub: ${e.reason}`);
      this.broadcast('state', { deviceId: e.deviceId, ...(e.moduleId ? { moduleId: e.moduleId } : {}), connected: false });
    }) as Listener);
    on(emitter, 'reported', ((e: { deviceId: string; moduleId?: string; version: number }) => {
      for (const s of this.streams) if (s.deviceId === e.deviceId && s.moduleId === e.moduleId) this.send(s, 'twin', { reportedVersion: e.version });
    }) as Listener);
    const registryChanged = () => this.broadcast('devices', {});
    for (const ev of ['added', 'removed', 'disabled']) on(hub.registry as unknown as Emitter, ev, registryChanged);
    on(this.refusals as unknown as Emitter, 'added', ((r: Refusal) => this.broadcast('refusal', r)) as Listener);
  }

  /** A new one-time sign-in URL (the banner prints one). */
  signInUrl(): string {
    return `https://localhost:${this.port() ?? 0}${DASHBOARD_PATH}/#token=${this.sessions.issueToken()}`;
  }

  /**
   * `POST /dashboard/api/links` with a service SAS token (what `iothub-wasm hub dashboard` sends): a new sign-in link
   * for whoever holds a policy with RegistryRead and ServiceConnect, as the connection-string sign-in asks.
   */
  private link(req: IncomingMessage, res: ServerResponse): void {
    const auth = req.headers['authorization'];
    const r = auth ? this.hub.policies.verify(String(auth), this.hub.hostNames(), Math.floor(Date.now() / 1000)) : { ok: false as const, reason: 'no Authorization header (SharedAccessSignature …)' };
    const lacks = r.ok ? (['RegistryRead', 'ServiceConnect'] as const).filter((x) => !r.claims.rights.has(x)) : [];
    // the dashboard reaches every device: a token scoped to some of them (`sr` with a path) does not open it
    const scoped = r.ok && !claimsCover(r.claims, '/');
    if (!r.ok || lacks.length || scoped) {
      const reason = !r.ok ? r.reason : lacks.length ? `policy '${r.claims.policy}' lacks ${lacks.join(' and ')}` :
        `the SAS token's resource '${r.claims.resource}' is not the whole hub`;
      this.refusals.add('dashboard', peer(req), `sign-in link refused: ${reason}`);
      throw new HubError(401, 'IotHubUnauthorizedAccess', reason);
    }
    req.resume();
    this.log(`dashboard: a new sign-in link for policy ${r.claims.policy}`);
    this.json(res, 200, { url: this.signInUrl() });
  }

  /** The paths this serves. */
  static claims(req: IncomingMessage): boolean {
    const path = (req.url ?? '').split('?')[0]!;
    return path === DASHBOARD_PATH || path.startsWith(DASHBOARD_PATH + '/');
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe.length = 0;
    this.telemetry(false);
    for (const s of this.streams) s.res.destroy();
    this.streams.clear();
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = null;
  }

  /** node:https request handler for DASHBOARD_PATH and below. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0]!;
    // the query is never logged: it is nobody's business, and a sign-in must not leave a token in a log
    this.route(req, res, path).catch((e: unknown) => {
      const err = e instanceof HubError ? e :
        e instanceof JsonError ? (e.reason === 'size' ? new HubError(413, 'MessageTooLarge', e.message) : invalidArgument(e.message)) : undefined;
      if (!err) this.log(`dashboard ${req.method} ${path} → 500 (${e instanceof Error ? `${e.name}: ${e.message}` : 'non-error thrown'})`);
      const out = err ?? new HubError(500, 'ServerError', 'the hub failed to handle the request');
      if (res.headersSent) { res.destroy(); return; }
      if (out instanceof UnreadRequestError) res.on('finish', () => req.destroy());
      this.json(res, out.status, restErrorBody(out), out instanceof UnreadRequestError ? { Connection: 'close' } : {});
      if (err) this.log(`dashboard ${req.method} ${path} → ${out.status} ${out.code} (${out.message})`);
    });
  };

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)),
      'Cache-Control': 'no-store', ...headers,
    });
    res.end(text);
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === DASHBOARD_PATH) {
      res.writeHead(308, { ...SECURITY_HEADERS, Location: `${DASHBOARD_PATH}/`, 'Content-Length': '0' });
      res.end();
      return;
    }
    const rel = path.slice(DASHBOARD_PATH.length + 1);
    if (!rel.startsWith('api/')) {
      const a = assets().get(rel === 'index.html' ? '' : rel);
      if (!a || (method !== 'GET' && method !== 'HEAD')) throw new HubError(404, 'NotFound', `no dashboard file ${path}`);
      res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': a.type, 'Content-Length': String(a.body.length), 'Cache-Control': 'no-cache' });
      res.end(method === 'HEAD' ? undefined : a.body);
      return;
    }
    const api = rel.slice(4);
    if (method !== 'GET' && method !== 'HEAD') this.sameOrigin(req);
    if (api === 'session') return this.session(req, res, method);
    if (api === 'links' && method === 'POST') return this.link(req, res);
    if (!this.sessions.session(req)) throw new HubError(401, 'IotHubUnauthorizedAccess', 'sign in first: open the URL the hub printed, or give a service connection string');
    if (api === 'stream' && method === 'GET') return this.stream(req, res);
    if (api === 'devices' && method === 'GET') return this.json(res, 200, this.devices());
    if (api === 'refusals' && method === 'GET') return this.json(res, 200, this.refusals.list());
    let segs: string[];
    try { segs = api.split('/').map((s) => decodeURIComponent(s)); } catch { throw invalidArgument('the request path has a malformed percent-encoding'); }
    // identities/{id}[/modules/{mid}]/{twin|twin/desired|methods|messages|telemetry}
    if (segs[0] !== 'identities' || !segs[1]) throw new HubError(404, 'NotFound', `no dashboard API ${method} ${path}`);
    const deviceId = segs[1];
    let rest = segs.slice(2);
    let moduleId: string | undefined;
    if (rest[0] === 'modules') { moduleId = rest[1]; rest = rest.slice(2); if (!moduleId) throw new HubError(404, 'NotFound', 'no module id'); }
    validateId('device', deviceId);
    if (moduleId !== undefined) validateId('module', moduleId);
    if (!this.hub.registry.record(deviceId, moduleId)) {
      throw new HubError(404, moduleId ? 'ModuleNotFound' : 'DeviceNotFound', `${moduleId ? `module '${deviceId}/${moduleId}'` : `device '${deviceId}'`} is not registered`);
    }
    const action = `${method} ${rest.join('/')}`;
    const mod = moduleId ? { moduleId } : {};
    if (action === 'GET twin') return this.json(res, 200, await this.hub.getTwin(deviceId, moduleId));
    if (action === 'GET telemetry') return this.json(res, 200, this.recentTelemetry(deviceId, moduleId));
    if (action === 'PUT twin/desired') {
      const b = await this.body(req, TWIN_DOCUMENT_MAX_NESTING);
      const desired = own(b, 'desired');
      const version = own(b, 'version');
      if (!isObject(desired)) throw invalidArgument('desired must be a JSON object');
      if (typeof version !== 'number') throw invalidArgument('version (the desired $version the edit started from) must be a number');
      const current = (await this.hub.getTwin(deviceId, moduleId)).properties.desired;
      if (own(current, '$version') !== version) {
        throw new HubError(412, 'PreconditionFailed', `the desired properties changed meanwhile (now $version ${String(own(current, '$version'))}, the edit began at ${version}): reload and edit again`);
      }
      const patch = replacementPatch(current, desired);
      // an edit that changes nothing is no update (the device would get a patch of only a new $version)
      return this.json(res, 200, Object.keys(patch).length ? await this.hub.updateDesired(deviceId, patch, mod) : await this.hub.getTwin(deviceId, moduleId));
    }
    if (action === 'POST methods') {
      const b = await this.body(req, METHOD_MAX_NESTING + 1);
      const methodName = own(b, 'methodName');
      if (typeof methodName !== 'string' || !methodName) throw invalidArgument('methodName must be a non-empty string');
      const t = own(b, 'responseTimeoutInSeconds');
      const timeout = t === undefined || t === null ? 30 : t;
      if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < METHOD_RESPONSE_TIMEOUT.min || timeout > METHOD_RESPONSE_TIMEOUT.max) {
        throw invalidArgument(`responseTimeoutInSeconds must be a whole number of seconds from ${METHOD_RESPONSE_TIMEOUT.min} to ${METHOD_RESPONSE_TIMEOUT.max}`);
      }
      const payload = own(b, 'payload');
      return this.json(res, 200, await this.hub.invokeMethod(deviceId, methodName, payload === undefined ? null : payload, { ...mod, responseTimeoutInSeconds: timeout }));
    }
    if (action === 'POST messages') {
      if (moduleId) throw invalidArgument('cloud-to-device messages go to devices, not modules');
      const b = await this.body(req, 4);
      const body = own(b, 'body');
      if (typeof body !== 'string') throw invalidArgument('body must be a string (the message body, sent as UTF-8)');
      const props = own(b, 'properties') ?? [];
      const properties = propertyBag(props);
      const receipt = await this.hub.sendC2D(deviceId, Buffer.from(body, 'utf8'), Object.keys(properties).length ? { properties } : {});
      return this.json(res, 200, { messageId: receipt.messageId, queued: receipt.queued });
    }
    throw new HubError(404, 'NotFound', `no dashboard API ${method} ${path}`);
  }

  /**
   * State-changing calls come from the page itself: JSON (a cross-origin page cannot send that without a CORS
   * preflight, which the hub never grants) and, when the browser says where from, from this origin.
   */
  private sameOrigin(req: IncomingMessage): void {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    const host = req.headers.host;
    if (type !== 'application/json') throw new UnreadRequestError(415, 'ArgumentInvalid', 'dashboard API calls that change something send application/json');
    if ((origin !== undefined && (!host || origin !== `https://${host}`)) || (site !== undefined && site !== 'same-origin')) {
      this.refusals.add('dashboard', peer(req), `cross-origin ${req.method} from ${String(origin ?? site).slice(0, 200)}`);
      throw new UnreadRequestError(403, 'IotHubUnauthorizedAccess', 'dashboard API calls that change something come from the dashboard page itself');
    }
  }

  private async body(req: IncomingMessage, maxDepth: number): Promise<JsonObject> {
    const v = parseJson(await readBody(req, MAX_BODY), { maxDepth, maxBytes: MAX_BODY });
    if (!isObject(v)) throw invalidArgument('the body must be a JSON object');
    return v;
  }

  private async session(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    if (method === 'GET') {
      const s = this.sessions.session(req);
      if (!s) throw new HubError(401, 'IotHubUnauthorizedAccess', 'not signed in');
      return this.json(res, 200, { hostName: this.hub.hostName, via: s.via, ...(s.policy ? { policy: s.policy } : {}) });
    }
    if (method === 'DELETE') {
      this.sessions.end(req);
      return this.json(res, 200, {}, { 'Set-Cookie': this.sessions.clearCookie() });
    }
    if (method !== 'POST') throw new HubError(404, 'NotFound', `no dashboard API ${method} /dashboard/api/session`);
    const b = await this.body(req, 2);
    const token = own(b, 'token');
    const cs = own(b, 'connectionString');
    const r = typeof token === 'string' ? this.sessions.signInWithToken(token) :
      typeof cs === 'string' ? this.sessions.signInWithConnectionString(cs) : undefined;
    if (!r) throw invalidArgument('sign in with {"token": …} or {"connectionString": …}');
    if (!r.ok) {
      this.refusals.add('dashboard', peer(req), `sign-in refused: ${r.reason}`);
      throw new HubError(r.status, 'IotHubUnauthorizedAccess', r.reason);
    }
    this.log(`dashboard: signed in from ${peer(req)} (${r.via === 'token' ? 'one-time token' : `policy ${r.policy}`})`);
    this.json(res, 200, { hostName: this.hub.hostName, via: r.via, ...(r.policy ? { policy: r.policy } : {}) }, { 'Set-Cookie': this.sessions.cookie(r.sid) });
  }

  /**
   * The first LIST_MAX devices (by id) and, when there are at most MODULES_UP_TO devices, their modules after each
   * (finding a device's modules reads the whole registry); `total` counts the devices.
   */
  private devices(): { identities: unknown[]; total: number } {
    const all = this.hub.registry.list();
    const devices = all.slice(0, LIST_MAX);
    const withModules = this.hub.registry.size > all.length && all.length <= MODULES_UP_TO;
    const ids = withModules ? devices.flatMap((d) => [d, ...this.hub.registry.list(d.deviceId)]) : devices;
    const identities = ids.map((d: IdentityInfo) => {
      const since = this.hub.connectionStateUpdatedTime(d.deviceId, d.moduleId);
      return {
        deviceId: d.deviceId, ...(d.moduleId ? { moduleId: d.moduleId } : {}), status: d.status,
        auth: d.x509Thumbprints ? 'x509' : 'sas', connected: this.hub.isConnected(d.deviceId, d.moduleId),
        ...(since ? { since: since.toISOString() } : {}),
        ...(d.moduleId ? {} : { c2dPending: this.hub.c2d.pending(d.deviceId).length }),
      };
    });
    return { identities, total: all.length };
  }

  /**
   * The identity's newest telemetry, newest first, from the events its partition still holds: read back from the end
   * in chunks, at most TELEMETRY_SCAN events and about TELEMETRY_SCAN_BYTES of them (other devices share the partition).
   */
  private recentTelemetry(deviceId: string, moduleId: string | undefined): unknown[] {
    const p = this.hub.events.partitionOf(deviceId);
    const info = this.hub.events.info(p);
    const out: unknown[] = [];
    let end = info.last_enqueued_sequence_number + 1;
    const begin = Math.max(info.begin_sequence_number, end - TELEMETRY_SCAN);
    let bytes = 0;
    while (end > begin && out.length < TELEMETRY_RECENT && bytes < TELEMETRY_SCAN_BYTES) {
      const from = Math.max(begin, end - TELEMETRY_CHUNK);
      const evs = this.hub.events.readFromSeq(p, from, end - from).filter((ev) => ev.seq < end);
      if (!evs.length) break;
      for (let i = evs.length - 1; i >= 0 && out.length < TELEMETRY_RECENT; i--) {
        const ev = evs[i]!;
        bytes += ev.body.length;
        if (ev.deviceId === deviceId && ev.moduleId === moduleId) out.push(telemetryView(ev));
      }
      end = evs[0]!.seq;
    }
    return out;
  }

  private stream(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) throw new HubError(503, 'ServiceUnavailable', `at most ${MAX_STREAMS} dashboard streams at once`);
    const q = new URL(req.url ?? '/', 'https://localhost').searchParams;
    const deviceId = q.get('device') ?? undefined;
    const moduleId = q.get('module') ?? undefined;
    if (deviceId !== undefined) validateId('device', deviceId);
    if (moduleId !== undefined) validateId('module', moduleId);
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.write(': iothub-wasm dashboard\n\n');
    const s: Stream = { res, ...(deviceId ? { deviceId } : {}), ...(moduleId ? { moduleId } : {}), skipped: 0 };
    this.streams.add(s);
    const done = () => {
      this.streams.delete(s);
      if (!this.streams.size) {
        this.telemetry(false);
        if (this.pinger) clearInterval(this.pinger);
        this.pinger = null;
      }
    };
    res.on('close', done);
    req.socket.setNoDelay(true);
    if (deviceId) this.telemetry(true);
    if (!this.pinger) {
      this.pinger = setInterval(() => { for (const st of this.streams) st.res.write(': ping\n\n'); }, STREAM_PING_MS);
      this.pinger.unref();
    }
  }

  /** The event store's appended events reach the streams only while one of them has a device selected. */
  private telemetry(on: boolean): void {
    if (on === this.telemetryOn) return;
    this.telemetryOn = on;
    if (on) this.hub.events.on('appended', this.onAppended);
    else this.hub.events.off('appended', this.onAppended);
  }

  private readonly onAppended = (ev: StoredEvent): void => {
    for (const s of this.streams) {
      if (s.deviceId !== ev.deviceId || s.moduleId !== ev.moduleId) continue;
      if (s.res.writableLength > STREAM_BACKLOG) { s.skipped++; continue; }
      this.send(s, 'telemetry', { ...(telemetryView(ev) as object), ...(s.skipped ? { skippedBefore: s.skipped } : {}) });
      s.skipped = 0;
    }
  };

  private send(s: Stream, event: string, data: unknown): void {
    // one line of JSON: SSE ends a field at a newline, and JSON.stringify escapes those inside strings
    s.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast(event: string, data: unknown): void {
    for (const s of this.streams) this.send(s, event, data);
  }
}

const peer = (req: IncomingMessage) => `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;

/** `[[name, value], …]` (names are data: a list, not an object) into a property bag. */
function propertyBag(v: Json): PropertyBag {
  if (!Array.isArray(v) || v.length > 64) throw invalidArgument('properties must be a list of at most 64 [name, value] pairs');
  const bag = Object.create(null) as PropertyBag;
  for (const pair of v) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !pair[0] || typeof pair[1] !== 'string') {
      throw invalidArgument('each property is a [name, value] pair of strings, the name not empty');
    }
    Object.defineProperty(bag, pair[0], { value: pair[1], enumerable: true, writable: true, configurable: true });
  }
  return bag;
}

/** An event as the page shows it: the body as text (or base64 when not UTF-8), properties as [name, value] lists. */
function telemetryView(ev: StoredEvent): unknown {
  const cut = ev.body.length > BODY_PREVIEW;
  const bytes = cut ? ev.body.subarray(0, BODY_PREVIEW) : ev.body;
  let body: { text: string } | { base64: string };
  // (a cut body may end inside a character: decoded as a stream, that tail is held back instead of failing)
  try { body = { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: cut }) }; } catch { body = { base64: bytes.toString('base64') }; }
  return {
    partition: ev.partition, seq: ev.seq, enqueuedTime: new Date(ev.enqueuedAt).toISOString(), deviceId: ev.deviceId,
    ...(ev.moduleId ? { moduleId: ev.moduleId } : {}), size: ev.body.length, ...(cut ? { truncated: true } : {}), body,
    properties: Object.entries(ev.properties), systemProperties: Object.entries(ev.systemProperties),
  };
}
