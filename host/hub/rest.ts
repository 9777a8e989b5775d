// The hub's REST surface, shaped like IoT Hub's service API: `Authorization: SharedAccessSignature …` (a policy
// token), `api-version`, JSON bodies, errors as `{"Message":"ErrorCode:<Code>;<text>"}`.
//   PUT/GET/DELETE /devices/{id}    GET/PATCH/PUT /twins/{id}    POST /twins/{id}/methods
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policies, Right } from './policies.js';
import { RegistryError, type Registry, type IdentityRecord } from './registry.js';
import { TwinError, isObject, type Twin, type JsonObject, type Json } from './twin-store.js';
import { HubError, type MethodResult } from './methods.js';
import type { InvokeOptions } from './hub.js';

export interface RestHub {
  readonly hostName: string;
  hostNames(): string[];
  readonly policies: Policies;
  readonly registry: Registry;
  getTwin(deviceId: string, moduleId?: string): Promise<Twin>;
  updateDesired(deviceId: string, patch: JsonObject, opts?: { moduleId?: string }): Promise<Twin>;
  updateTags(deviceId: string, patch: JsonObject, opts?: { moduleId?: string }): Promise<Twin>;
  invokeMethod(deviceId: string, methodName: string, payload?: unknown, opts?: InvokeOptions): Promise<MethodResult>;
  isConnected(deviceId: string, moduleId?: string): boolean;
  readonly c2d: { pending(deviceId: string): readonly unknown[] };
}

class RestError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

const MAX_BODY = 256 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) { reject(new RestError(413, 'MessageTooLarge', `request body over ${MAX_BODY} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function unquote(etag: string): string { return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'); }

/** A merge patch that turns `from` into `to` (keys missing from `to` become null). */
export function replacementPatch(from: JsonObject, to: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(from)) if (!k.startsWith('$') && !(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (k.startsWith('$')) continue;
    const cur = from[k];
    out[k] = isObject(v) && isObject(cur) ? replacementPatch(cur, v) : (v as Json);
  }
  return out;
}

export class RestService {
  constructor(private readonly hub: RestHub, private readonly log: (line: string) => void = () => {}) {}

  /** node:https request handler. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    this.route(req).then(({ status, body, headers }) => {
      this.send(res, status, body, headers);
      this.log(`REST ${req.method} ${req.url} → ${status} (${Date.now() - started} ms)`);
    }, (e: Error) => {
      const err = e instanceof RestError ? e :
        e instanceof HubError ? new RestError(e.status, e.code, e.message) :
        e instanceof RegistryError ? new RestError(e.code === 'NotFound' ? 404 : e.code === 'Conflict' ? 409 : 400,
          e.code === 'NotFound' ? 'DeviceNotFound' : e.code === 'Conflict' ? 'DeviceAlreadyExists' : 'ArgumentInvalid', e.message) :
        e instanceof TwinError ? new RestError(e.status, e.status === 413 ? 'MessageTooLarge' : 'ArgumentInvalid', e.message) :
        new RestError(500, 'ServerError', e.message);
      this.send(res, err.status, { Message: `ErrorCode:${err.code};${err.message}`, ExceptionMessage: `Tracking ID:local-${Date.now()} ${err.message}` });
      this.log(`REST ${req.method} ${req.url} → ${err.status} ${err.code} (${err.message})`);
    });
  };

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(text ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) } : { 'Content-Length': 0 }),
      'iothub-errorcode': status >= 400 && isObject(body) ? String((body as { Message?: string }).Message ?? '').replace(/^ErrorCode:([^;]*);.*$/s, '$1') : '',
      ...headers,
    });
    res.end(text);
  }

  private authorize(req: IncomingMessage, any: Right[]): void {
    const auth = req.headers['authorization'];
    if (!auth) throw new RestError(401, 'IotHubUnauthorizedAccess', 'no Authorization header (SharedAccessSignature …)');
    const r = this.hub.policies.verify(String(auth), this.hub.hostNames(), Math.floor(Date.now() / 1000));
    if (!r.ok) throw new RestError(401, 'IotHubUnauthorizedAccess', r.reason);
    if (!any.some((x) => r.claims.rights.has(x))) throw new RestError(401, 'IotHubUnauthorizedAccess', `policy '${r.claims.policy}' lacks ${any.join(' or ')}`);
  }

  private async route(req: IncomingMessage): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (!url.searchParams.get('api-version')) throw new RestError(400, 'InvalidProtocolVersion', 'the api-version query parameter is required');
    const parts = url.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
    const method = req.method ?? 'GET';
    const ifMatch = req.headers['if-match'] ? unquote(String(req.headers['if-match'])) : undefined;
    const json = async (): Promise<unknown> => {
      const b = await readBody(req);
      if (b.length === 0) return {};
      try { return JSON.parse(b.toString('utf8')); } catch { throw new RestError(400, 'ArgumentInvalid', 'the body is not JSON'); }
    };
    const [kind, id, sub, mid] = parts;
    if (kind === 'devices' && id && parts.length === 2) {
      if (method === 'GET') {
        this.authorize(req, ['RegistryRead']);
        return { status: 200, body: this.device(this.record(id)) };
      }
      if (method === 'PUT') {
        this.authorize(req, ['RegistryWrite']);
        const body = await json() as { deviceId?: string; status?: string; authentication?: { symmetricKey?: { primaryKey?: string; secondaryKey?: string } } };
        if (body.deviceId !== undefined && body.deviceId !== id) throw new RestError(400, 'ArgumentInvalid', `body deviceId '${body.deviceId}' differs from the URL's '${id}'`);
        const status = body.status === 'disabled' ? 'disabled' : 'enabled';
        const existing = this.hub.registry.record(id);
        if (existing) {
          if (!ifMatch) throw new RestError(409, 'DeviceAlreadyExists', `device '${id}' already exists`);
          if (ifMatch !== '*' && ifMatch !== this.etag(existing)) throw new RestError(412, 'PreconditionFailed', `etag '${ifMatch}' is stale`);
          if (existing.status !== status) await this.hub.registry.setStatus(id, undefined, status);
          return { status: 200, body: this.device(this.record(id)) };
        }
        const keys = body.authentication?.symmetricKey ?? {};
        await this.hub.registry.addDevice(id, {
          ...(keys.primaryKey ? { primaryKey: keys.primaryKey } : {}), ...(keys.secondaryKey ? { secondaryKey: keys.secondaryKey } : {}), status,
        });
        return { status: 200, body: this.device(this.record(id)) };
      }
      if (method === 'DELETE') {
        this.authorize(req, ['RegistryWrite']);
        const rec = this.record(id);
        if (ifMatch && ifMatch !== '*' && ifMatch !== this.etag(rec)) throw new RestError(412, 'PreconditionFailed', `etag '${ifMatch}' is stale`);
        await this.hub.registry.remove(id);
        return { status: 204 };
      }
    }
    if (kind === 'twins' && id && (parts.length === 2 || (sub === 'modules' && mid && parts.length === 4))) {
      const moduleId = sub === 'modules' ? mid : undefined;
      this.record(id, moduleId);
      if (method === 'GET') {
        this.authorize(req, ['ServiceConnect', 'RegistryRead']);
        return { status: 200, body: this.twin(await this.hub.getTwin(id, moduleId)) };
      }
      if (method === 'PATCH' || method === 'PUT') {
        this.authorize(req, ['ServiceConnect', 'RegistryWrite']);
        const body = await json();
        if (!isObject(body)) throw new RestError(400, 'ArgumentInvalid', 'a twin patch must be a JSON object');
        const cur = await this.hub.getTwin(id, moduleId);
        if (ifMatch && ifMatch !== '*' && ifMatch !== cur.etag) throw new RestError(412, 'PreconditionFailed', `etag '${ifMatch}' is stale (now '${cur.etag}')`);
        const props = isObject(body['properties']) ? body['properties'] : {};
        let desired = isObject(props['desired']) ? props['desired'] : undefined;
        let tags = isObject(body['tags']) ? body['tags'] : undefined;
        if (method === 'PUT') {
          desired = replacementPatch(cur.properties.desired, desired ?? {});
          tags = replacementPatch(cur.tags, tags ?? {});
        }
        const o = moduleId ? { moduleId } : {};
        if (tags && Object.keys(tags).length) await this.hub.updateTags(id, tags, o);
        if (desired && Object.keys(desired).length) await this.hub.updateDesired(id, desired, o);
        return { status: 200, body: this.twin(await this.hub.getTwin(id, moduleId)) };
      }
    }
    if (kind === 'twins' && id && method === 'POST' && (sub === 'methods' && parts.length === 3 || (sub === 'modules' && mid && parts[4] === 'methods' && parts.length === 5))) {
      this.authorize(req, ['ServiceConnect']);
      const moduleId = sub === 'modules' ? mid : undefined;
      const body = await json() as { methodName?: string; payload?: unknown; responseTimeoutInSeconds?: number; connectTimeoutInSeconds?: number };
      if (typeof body.methodName !== 'string') throw new RestError(400, 'ArgumentInvalid', 'methodName is required');
      this.record(id, moduleId);
      const r = await this.hub.invokeMethod(id, body.methodName, body.payload, {
        ...(body.responseTimeoutInSeconds !== undefined ? { responseTimeoutInSeconds: Number(body.responseTimeoutInSeconds) } : {}),
        ...(body.connectTimeoutInSeconds !== undefined ? { connectTimeoutInSeconds: Number(body.connectTimeoutInSeconds) } : {}),
        ...(moduleId ? { moduleId } : {}),
      });
      return { status: 200, body: { status: r.status, payload: r.payload } };
    }
    throw new RestError(404, 'NotFound', `no route ${method} ${url.pathname}`);
  }

  private record(id: string, moduleId?: string): IdentityRecord {
    this.hub.registry.refresh();
    const rec = this.hub.registry.record(id, moduleId);
    if (!rec) throw new RestError(404, 'DeviceNotFound', `${moduleId ? `module '${id}/${moduleId}'` : `device '${id}'`} is not registered`);
    return rec;
  }

  private etag(rec: IdentityRecord): string {
    return createHash('sha256').update(JSON.stringify([rec.primaryKey, rec.secondaryKey, rec.status, rec.createdAt])).digest('base64').slice(0, 12);
  }

  private device(rec: IdentityRecord): Record<string, unknown> {
    const connected = this.hub.isConnected(rec.deviceId, rec.moduleId);
    return {
      deviceId: rec.deviceId, ...(rec.moduleId ? { moduleId: rec.moduleId } : {}),
      generationId: createHash('sha256').update(rec.deviceId + rec.createdAt).digest('hex').slice(0, 18),
      etag: this.etag(rec),
      connectionState: connected ? 'Connected' : 'Disconnected',
      status: rec.status, statusReason: null,
      connectionStateUpdatedTime: '0001-01-01T00:00:00Z', statusUpdatedTime: '0001-01-01T00:00:00Z', lastActivityTime: '0001-01-01T00:00:00Z',
      cloudToDeviceMessageCount: rec.moduleId ? 0 : this.hub.c2d.pending(rec.deviceId).length,
      authentication: {
        symmetricKey: { primaryKey: rec.primaryKey, secondaryKey: rec.secondaryKey },
        x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null }, type: 'sas',
      },
      capabilities: { iotEdge: false },
    };
  }

  private twin(t: Twin): Record<string, unknown> {
    const rec = this.hub.registry.record(t.deviceId, t.moduleId);
    return {
      deviceId: t.deviceId, ...(t.moduleId ? { moduleId: t.moduleId } : {}),
      etag: t.etag, deviceEtag: rec ? this.etag(rec) : '', version: t.version,
      status: rec?.status ?? 'enabled', connectionState: this.hub.isConnected(t.deviceId, t.moduleId) ? 'Connected' : 'Disconnected',
      tags: t.tags, properties: t.properties,
      authenticationType: 'sas', capabilities: { iotEdge: false },
    };
  }
}
