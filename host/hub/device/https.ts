// IoT Hub's HTTPS device endpoint: telemetry (one message, or a batch as `application/vnd.microsoft.iothub.json`)
// and the C2D poll with lock tokens — receive (`GET …/messages/devicebound`, the lock token in `ETag`), complete
// (`DELETE …/{etag}`), reject (`DELETE …/{etag}?reject`), abandon (`POST …/{etag}/abandon`). A device proves itself
// per request: a device SAS token in `Authorization`, or its X.509 certificate in the TLS handshake.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { HubError, invalidArgument, restErrorBody } from '../errors.js';
import { UnreadRequestError, readBody } from '../http.js';
import { JsonError, isObject, own, parseJson, setMember } from '../state/json.js';
import { validateId, type Registry } from '../state/registry.js';
import type { C2DMessage, C2DQueue } from '../state/c2d-queue.js';
import type { Identity, PropertyBag, TelemetryMessage } from '../state/messages.js';
import { proveIdentity } from './authenticate.js';
import { D2C_MAX_BYTES } from './broker.js';

/** How long a C2D message received over HTTPS stays locked before it is queued again (IoT Hub's default, 1 minute). */
export const C2D_LOCK_MS = 60_000;
/** A batch of telemetry holds at most this many messages, 256 KiB in all (IoT Hub's limits for HTTPS). */
export const BATCH_MAX_MESSAGES = 500;
const BATCH_CONTENT_TYPE = 'application/vnd.microsoft.iothub.json';
/** Batch entries nest: `[{"body":…,"properties":{…}}]`. */
const BATCH_MAX_NESTING = 3;

/** Request headers that carry system properties (Node lower-cases header names). */
const SYSTEM_HEADERS: Readonly<Record<string, string>> = Object.freeze(Object.assign(Object.create(null) as Record<string, string>, {
  'iothub-messageid': 'messageId', 'iothub-correlationid': 'correlationId', 'iothub-userid': 'userId', 'iothub-to': 'to',
  'iothub-expiry': 'expiryTimeUtc', 'iothub-contenttype': 'contentType', 'iothub-contentencoding': 'contentEncoding',
  'iothub-interface-id': 'interfaceId', 'iothub-ack': 'ack', 'dt-subject': 'componentName',
}));
const APP_PREFIX = 'iothub-app-';

type Operation = 'send' | 'receive' | 'complete' | 'reject' | 'abandon';
interface DeviceRoute { identity: Identity; op: Operation; lockToken?: string }

/**
 * Matches `/devices/{id}[/modules/{mid}]/messages/events` and `…/messages/devicebound[/{lockToken}[/abandon]]`
 * (either case of `deviceBound`); undefined for any other path (the service API's).
 */
export function deviceHttpsRoute(method: string, pathname: string, query: URLSearchParams): DeviceRoute | undefined {
  let parts: string[];
  try { parts = pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p)); } catch { return undefined; }
  if (parts[0] !== 'devices' || !parts[1]) return undefined;
  let i = 2;
  const identity: Identity = { deviceId: parts[1] };
  if (parts[2] === 'modules' && parts[3]) { identity.moduleId = parts[3]; i = 4; }
  if (parts[i] !== 'messages') return undefined;
  const kind = parts[i + 1]?.toLowerCase();
  const rest = parts.slice(i + 2);
  if (kind === 'events' && rest.length === 0 && method === 'POST') return { identity, op: 'send' };
  if (kind !== 'devicebound' || identity.moduleId) return undefined;
  if (rest.length === 0 && method === 'GET') return { identity, op: 'receive' };
  if (rest.length === 1 && method === 'DELETE') return { identity, op: query.has('reject') ? 'reject' : 'complete', lockToken: rest[0]! };
  if (rest.length === 2 && rest[1] === 'abandon' && method === 'POST') return { identity, op: 'abandon', lockToken: rest[0]! };
  return undefined;
}

export interface DeviceHttpsOptions {
  registry: Registry;
  c2d: C2DQueue;
  /** Every host name a SAS resource may carry, lower case. */
  hostNames: () => string[];
  log: (line: string) => void;
  lockMs?: number;
}

export class DeviceHttps extends EventEmitter<{ telemetry: [TelemetryMessage] }> {
  /**
   * C2D messages received over HTTPS and not yet settled, by the lock token given with this delivery (each delivery
   * gets its own, so a lock that expired cannot settle the message's next delivery).
   */
  private readonly locks = new Map<string, { deviceId: string; queueToken: string; timer: NodeJS.Timeout }>();

  constructor(private readonly o: DeviceHttpsOptions) { super(); }

  /** Whether this request is for the device endpoint (else it is the service API's). */
  static claims(req: IncomingMessage): boolean {
    let url: URL;
    try { url = new URL(req.url ?? '/', 'https://localhost'); } catch { return false; }
    return deviceHttpsRoute(req.method ?? 'GET', url.pathname, url.searchParams) !== undefined;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0];
    this.route(req).then(({ status, body, headers }) => {
      send(res, status, body, headers);
      this.o.log(`HTTPS device ${req.method} ${path} → ${status}`);
    }, (e: unknown) => {
      const err = e instanceof HubError ? e : e instanceof JsonError ? (e.reason === 'size' ? new HubError(413, 'MessageTooLarge', e.message) : invalidArgument(e.message)) : undefined;
      if (!err) this.o.log(`HTTPS device ${req.method} ${path} → 500 (${e instanceof Error ? e.message : 'non-error thrown'})`);
      const out = err ?? new HubError(500, 'ServerError', 'the hub failed to handle the request');
      if (res.headersSent) { res.destroy(); return; }
      if (out instanceof UnreadRequestError) res.on('finish', () => req.destroy());
      send(res, out.status, restErrorBody(out), out instanceof UnreadRequestError ? { Connection: 'close' } : {});
      if (err) this.o.log(`HTTPS device ${req.method} ${path} → ${out.status} ${out.code} (${out.message})`);
    });
  };

  /** Stops the lock timers (the hub is stopping; locked messages are queued again when it next loads them). */
  close(): void {
    for (const l of this.locks.values()) clearTimeout(l.timer);
    this.locks.clear();
  }

  private async route(req: IncomingMessage): Promise<{ status: number; body?: Buffer | string; headers?: Record<string, string> }> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const route = deviceHttpsRoute(req.method ?? 'GET', url.pathname, url.searchParams);
    if (!route) throw new HubError(404, 'NotFound', `no route ${req.method} ${url.pathname}`);
    if (!url.searchParams.get('api-version')) throw new HubError(400, 'InvalidProtocolVersion', 'the api-version query parameter is required');
    this.authenticate(req, route.identity);
    const { identity } = route;
    switch (route.op) {
      case 'send': {
        const raw = await readBody(req, D2C_MAX_BYTES);
        const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const messages = type === BATCH_CONTENT_TYPE ? batch(raw, identity) : [single(req, raw, identity)];
        for (const m of messages) this.emit('telemetry', m);
        return { status: 204 };
      }
      case 'receive': {
        const m = this.o.c2d.takeNext(identity.deviceId);
        if (!m) return { status: 204 };
        return { status: 200, body: m.body, headers: c2dHeaders(m, this.lock(m)) };
      }
      case 'complete':
      case 'reject':
      case 'abandon': {
        const token = route.lockToken!;
        const held = this.locks.get(token);
        const q = this.o.c2d;
        const done = held !== undefined && held.deviceId === identity.deviceId &&
          (route.op === 'complete' ? q.complete(held.queueToken) : route.op === 'reject' ? q.reject(held.queueToken) : q.abandon(held.queueToken));
        if (!done) throw new HubError(412, 'DeviceMessageLockLost', `lock token '${token.slice(0, 64)}' is not held: the message was settled, or its lock expired and it was queued again`);
        clearTimeout(held.timer);
        this.locks.delete(token);
        return { status: 204 };
      }
    }
  }

  /** A device SAS token for this identity, or its registered certificate; IoT Hub answers 401 otherwise. */
  private authenticate(req: IncomingMessage, identity: Identity): void {
    validateId('device', identity.deviceId);
    if (identity.moduleId !== undefined) validateId('module', identity.moduleId);
    const unauthorized = (why: string) => new HubError(401, 'IotHubUnauthorizedAccess', why);
    const rec = this.o.registry.record(identity.deviceId, identity.moduleId);
    if (!rec) throw unauthorized(`${identity.moduleId ? 'module' : 'device'} is not registered`);
    if (rec.status !== 'enabled') throw unauthorized('the identity is disabled');
    const auth = req.headers['authorization'];
    const socket = req.socket as TLSSocket;
    const proof = proveIdentity(rec, identity, {
      sasToken: typeof auth === 'string' ? auth : undefined,
      peerCertificate: (detailed) => (typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(detailed) as PeerCertificate : undefined),
      hosts: this.o.hostNames(), authorities: this.o.registry.authorities,
    });
    if (!proof.ok) throw unauthorized(proof.reason);
  }

  /** Until settled, a received message is locked; when the lock expires it is queued again (a later receive gets it). */
  private lock(m: C2DMessage): string {
    const token = randomUUID();
    const timer = setTimeout(() => {
      this.locks.delete(token);
      if (this.o.c2d.abandon(m.lockToken)) this.o.log(`${m.deviceId} C2D ${m.messageId}: lock expired, queued again`);
    }, this.o.lockMs ?? C2D_LOCK_MS);
    timer.unref();
    this.locks.set(token, { deviceId: m.deviceId, queueToken: m.lockToken, timer });
    return token;
  }
}

function send(res: ServerResponse, status: number, body: Buffer | string | object | undefined, headers: Record<string, string> = {}): void {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, {
    ...(body !== undefined && !Buffer.isBuffer(body) && typeof body === 'object' ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
    'Content-Length': bytes.length,
    ...headers,
  });
  res.end(bytes);
}

/** One message: the body as sent; `iothub-app-*` headers are application properties, the other `iothub-*` system ones. */
function single(req: IncomingMessage, body: Buffer, identity: Identity): TelemetryMessage {
  const properties: PropertyBag = {};
  const systemProperties: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value !== 'string') continue;
    if (name.startsWith(APP_PREFIX) && name.length > APP_PREFIX.length) setMember(properties, name.slice(APP_PREFIX.length), value);
    else if (Object.hasOwn(SYSTEM_HEADERS, name)) setMember(systemProperties, SYSTEM_HEADERS[name]!, value);
  }
  return telemetry(identity, body, properties, systemProperties);
}

/** A batch: a JSON array of `{ "body": <base64>, "base64Encoded"?: true, "properties"?: { "iothub-app-x": "…" } }`. */
function batch(raw: Buffer, identity: Identity): TelemetryMessage[] {
  const list = parseJson(raw, { maxDepth: BATCH_MAX_NESTING, maxBytes: D2C_MAX_BYTES });
  if (!Array.isArray(list) || list.length === 0) throw invalidArgument(`a batch (${BATCH_CONTENT_TYPE}) is a non-empty JSON array of messages`);
  if (list.length > BATCH_MAX_MESSAGES) throw invalidArgument(`a batch holds at most ${BATCH_MAX_MESSAGES} messages, not ${list.length}`);
  return list.map((entry, i) => {
    if (!isObject(entry)) throw invalidArgument(`batch entry ${i} is not a JSON object`);
    const b = own(entry, 'body');
    if (typeof b !== 'string') throw invalidArgument(`batch entry ${i}: body must be a string (base64)`);
    const encoded = own(entry, 'base64Encoded');
    const body = encoded === false ? Buffer.from(b, 'utf8') : Buffer.from(b, 'base64');
    const props = own(entry, 'properties');
    const properties: PropertyBag = {};
    const systemProperties: Record<string, string> = {};
    if (props !== undefined && props !== null) {
      if (!isObject(props)) throw invalidArgument(`batch entry ${i}: properties must be an object`);
      for (const [k, v] of Object.entries(props)) {
        if (typeof v !== 'string') throw invalidArgument(`batch entry ${i}: property values are strings`);
        const name = k.toLowerCase();
        if (name.startsWith(APP_PREFIX)) setMember(properties, k.slice(APP_PREFIX.length), v);
        else if (Object.hasOwn(SYSTEM_HEADERS, name)) setMember(systemProperties, SYSTEM_HEADERS[name]!, v);
        else setMember(properties, k, v);
      }
    }
    return telemetry(identity, body, properties, systemProperties);
  });
}

function telemetry(identity: Identity, body: Buffer, properties: PropertyBag, systemProperties: Record<string, string>): TelemetryMessage {
  const path = identity.moduleId ? `/devices/${identity.deviceId}/modules/${identity.moduleId}/messages/events` : `/devices/${identity.deviceId}/messages/events`;
  return {
    deviceId: identity.deviceId, ...(identity.moduleId ? { moduleId: identity.moduleId } : {}),
    body, properties, systemProperties, topic: path, qos: 1, enqueuedTimeUtc: new Date().toISOString(),
  };
}

/** A received C2D message's headers, as IoT Hub sends them (the lock token is the quoted ETag). */
function c2dHeaders(m: C2DMessage, lockToken: string): Record<string, string> {
  const h: Record<string, string> = {
    ETag: `"${lockToken}"`,
    'iothub-to': `/devices/${encodeURIComponent(m.deviceId)}/messages/deviceBound`,
    'iothub-deliverycount': String(m.deliveryCount - 1),
    'iothub-enqueuedtime': new Date(m.enqueuedAt).toUTCString(),
    'iothub-expiry': new Date(m.expiresAt).toISOString(),
    'iothub-ack': m.ack,
  };
  const put = (name: string, v: string | null | undefined) => {
    // the service chose these values: one that cannot be a header value (CR, LF, NUL) is left out, never sent raw
    if (v !== undefined && v !== null && HEADER_VALUE.test(v)) h[name] = v;
  };
  put('iothub-messageid', m.messageId);
  put('iothub-correlationid', m.correlationId);
  put('iothub-userid', m.userId);
  put('Content-Type', m.contentType);
  put('iothub-contentencoding', m.contentEncoding);
  for (const [k, v] of Object.entries(m.properties)) if (HEADER_NAME.test(k)) put(APP_PREFIX + k, v ?? '');
  return h;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
