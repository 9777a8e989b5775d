// The hub's REST surface, shaped like IoT Hub's service API: `Authorization: SharedAccessSignature …` (a policy
// token), `api-version`, JSON bodies, errors as `{"Message":"ErrorCode:<Code>;<text>"}`. Every request is
// authenticated before anything is looked up, then checked against ROUTE_RIGHTS and the token's scope.
//   GET/POST /devices    POST /devices/query    PUT/GET/DELETE /devices/{id}[/modules/{mid}]    GET /devices/{id}/modules
//   GET/PATCH/PUT /twins/{id}[/modules/{mid}]    POST /twins/{id}[/modules/{mid}]/methods
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError, invalidArgument, restErrorBody } from '../errors.js';
import { UnreadRequestError, readBody } from '../http.js';
import { claimsCover, type Policies, type Right, type ServiceClaims } from './policies.js';
import { validateId, type Registry, type IdentityRecord } from '../state/registry.js';
import { TWIN_DOCUMENT_MAX_NESTING, validatePatch, type Twin } from '../state/twin-store.js';
import { METHOD_CONNECT_TIMEOUT, METHOD_MAX_NESTING, METHOD_RESPONSE_TIMEOUT, type InvokeOptions, type MethodResult } from '../state/methods.js';
import { JsonError, hasOwn, isObject, own, parseJson, setMember, type JsonObject } from '../state/json.js';
import { identityDocument, identityEtag, objectMember, readIdentityBody } from './identities.js';
import { bulkImport, BULK_MAX_DEVICES } from './bulk.js';
import { pageSize, runQuery, type QueryDocument } from './query/run.js';

export interface RestHub {
  readonly hostName: string;
  hostNames(): string[];
  readonly policies: Policies;
  readonly registry: Registry;
  getTwin(deviceId: string, moduleId?: string): Promise<Twin>;
  /** The twin store, read synchronously by queries (a twin of an identity with none yet is empty). */
  readonly twins: { get(deviceId: string, moduleId?: string): Twin };
  updateDesired(deviceId: string, patch: JsonObject, opts?: { moduleId?: string }): Promise<Twin>;
  updateTags(deviceId: string, patch: JsonObject, opts?: { moduleId?: string }): Promise<Twin>;
  invokeMethod(deviceId: string, methodName: string, payload?: unknown, opts?: InvokeOptions): Promise<MethodResult>;
  isConnected(deviceId: string, moduleId?: string): boolean;
  connectionStateUpdatedTime(deviceId: string, moduleId?: string): Date | undefined;
  readonly c2d: { pending(deviceId: string): readonly unknown[] };
}

const MAX_BODY = 256 * 1024;
/** Nesting of a device PUT body (`authentication.symmetricKey.primaryKey` is 3 deep). */
const DEVICE_BODY_MAX_NESTING = 6;
/** A method body carries its payload one level down. */
const METHOD_BODY_MAX_NESTING = METHOD_MAX_NESTING + 1;

/** The routes of the REST API and the rights each needs, any one of them (IoT Hub's permission table). */
export const ROUTE_RIGHTS = {
  'GET /devices': ['RegistryRead'],
  'POST /devices': ['RegistryWrite'],
  'POST /devices/query': ['RegistryRead'],
  'GET /devices/{id}': ['RegistryRead'],
  'PUT /devices/{id}': ['RegistryWrite'],
  'DELETE /devices/{id}': ['RegistryWrite'],
  'GET /devices/{id}/modules': ['RegistryRead'],
  'GET /devices/{id}/modules/{mid}': ['RegistryRead'],
  'PUT /devices/{id}/modules/{mid}': ['RegistryWrite'],
  'DELETE /devices/{id}/modules/{mid}': ['RegistryWrite'],
  // reading a twin: the registry readers and the back end; changing one (tags, desired): ServiceConnect only
  'GET /twins/{id}': ['RegistryRead', 'ServiceConnect'],
  'PATCH /twins/{id}': ['ServiceConnect'],
  'PUT /twins/{id}': ['ServiceConnect'],
  'GET /twins/{id}/modules/{mid}': ['RegistryRead', 'ServiceConnect'],
  'PATCH /twins/{id}/modules/{mid}': ['ServiceConnect'],
  'PUT /twins/{id}/modules/{mid}': ['ServiceConnect'],
  'POST /twins/{id}/methods': ['ServiceConnect'],
  'POST /twins/{id}/modules/{mid}/methods': ['ServiceConnect'],
} as const satisfies Record<string, readonly Right[]>;

export type RouteName = keyof typeof ROUTE_RIGHTS;

interface Route { name: RouteName; deviceId?: string; moduleId?: string; /** What a token must cover (claimsCover). */ resource: string }

/** Matches decoded path segments to a route; undefined when there is none. */
function matchRoute(method: string, parts: string[]): Route | undefined {
  const [kind, id, sub, mid, tail] = parts;
  if (kind === 'devices' && parts.length === 1) {
    const name = `${method} /devices`;
    return Object.hasOwn(ROUTE_RIGHTS, name) ? { name: name as RouteName, resource: '/devices' } : undefined;
  }
  if (!id) return undefined;
  if (kind === 'devices' && parts.length === 2 && id === 'query' && method === 'POST') return { name: 'POST /devices/query', resource: '/devices' };
  let name: string | undefined;
  let moduleId: string | undefined;
  let resource = `/devices/${id}`;
  if (kind === 'devices' && parts.length === 2) name = `${method} /devices/{id}`;
  else if (kind === 'devices' && parts.length === 3 && sub === 'modules') { name = `${method} /devices/{id}/modules`; resource += '/modules'; }
  else if (kind === 'devices' && parts.length === 4 && sub === 'modules' && mid) {
    moduleId = mid;
    resource += `/modules/${mid}`;
    name = `${method} /devices/{id}/modules/{mid}`;
  } else if (kind === 'twins' && parts.length === 2) name = `${method} /twins/{id}`;
  else if (kind === 'twins' && parts.length === 3 && sub === 'methods') { name = `${method} /twins/{id}/methods`; resource += '/methods'; }
  else if (kind === 'twins' && sub === 'modules' && mid && (parts.length === 4 || (parts.length === 5 && tail === 'methods'))) {
    moduleId = mid;
    resource += `/modules/${mid}`;
    name = parts.length === 4 ? `${method} /twins/{id}/modules/{mid}` : `${method} /twins/{id}/modules/{mid}/methods`;
    if (parts.length === 5) resource += '/methods';
  }
  if (!name || !Object.hasOwn(ROUTE_RIGHTS, name)) return undefined;
  return { name: name as RouteName, deviceId: id, ...(moduleId ? { moduleId } : {}), resource };
}

function unquote(etag: string): string { return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'); }



/** A merge patch that turns `from` into `to` (members missing from `to` become null); own members only. */
export function replacementPatch(from: JsonObject, to: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(from)) if (!k.startsWith('$') && !hasOwn(to, k)) setMember(out, k, null);
  for (const [k, v] of Object.entries(to)) {
    if (k.startsWith('$')) continue;
    const cur = own(from, k);
    setMember(out, k, isObject(v) && isObject(cur) ? replacementPatch(cur, v) : v);
  }
  return out;
}

/** An optional whole number of seconds in IoT Hub's range for a direct method call. */
function seconds(body: JsonObject, name: string, range: { min: number; max: number }): number | undefined {
  const v = own(body, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
    throw invalidArgument(`${name} must be a whole number of seconds from ${range.min} to ${range.max}`);
  }
  return v;
}

export class RestService {
  constructor(private readonly hub: RestHub, private readonly log: (line: string) => void = () => {}) {}

  /** node:https request handler. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    const path = (req.url ?? '').split('?')[0];
    this.route(req).then(({ status, body, headers }) => {
      this.send(res, status, body, headers);
      this.log(`REST ${req.method} ${path} → ${status} (${Date.now() - started} ms)`);
    }, (e: unknown) => {
      // the one place an error becomes a REST answer: a HubError as itself, a body JSON could not read as 400/413
      const err = e instanceof HubError ? e :
        e instanceof JsonError ? (e.reason === 'size' ? new HubError(413, 'MessageTooLarge', e.message) : invalidArgument(e.message)) :
        undefined;
      if (!err) {
        // a bug: the caller gets a generic answer, the log the detail
        this.log(`REST ${req.method} ${path} → 500 (${e instanceof Error ? `${e.name}: ${e.message}` : 'non-error thrown'})`);
      }
      const out = err ?? new HubError(500, 'ServerError', 'the hub failed to handle the request');
      const closeAfter = out instanceof UnreadRequestError;
      if (res.headersSent) { res.destroy(); return; }
      if (closeAfter) res.on('finish', () => req.destroy());
      this.send(res, out.status, restErrorBody(out),
        closeAfter ? { Connection: 'close' } : {});
      if (err) this.log(`REST ${req.method} ${path} → ${out.status} ${out.code} (${out.message})`);
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

  /** The caller's claims: a valid policy token for this hub, or 401. Nothing of the request is looked at before. */
  private authenticate(req: IncomingMessage): ServiceClaims {
    const auth = req.headers['authorization'];
    if (!auth) throw new HubError(401, 'IotHubUnauthorizedAccess', 'no Authorization header (SharedAccessSignature …)');
    const r = this.hub.policies.verify(String(auth), this.hub.hostNames(), Math.floor(Date.now() / 1000));
    if (!r.ok) throw new HubError(401, 'IotHubUnauthorizedAccess', r.reason);
    return r.claims;
  }

  /** The route's rights (ROUTE_RIGHTS) and the token's scope (`sr`, by path segment) must both allow it. */
  private authorize(claims: ServiceClaims, route: Route): void {
    const any: readonly Right[] = ROUTE_RIGHTS[route.name];
    if (!any.some((x) => claims.rights.has(x))) {
      throw new HubError(401, 'IotHubUnauthorizedAccess', `policy '${claims.policy}' lacks ${any.join(' or ')}`);
    }
    if (!claimsCover(claims, route.resource)) {
      throw new HubError(401, 'IotHubUnauthorizedAccess', `the SAS token's resource '${claims.resource || '/'}' does not cover ${route.resource}`);
    }
  }

  private async route(req: IncomingMessage): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const claims = this.authenticate(req);
    let url: URL;
    try { url = new URL(req.url ?? '/', 'https://localhost'); } catch { throw invalidArgument('the request URL is malformed'); }
    if (!url.searchParams.get('api-version')) throw new HubError(400, 'InvalidProtocolVersion', 'the api-version query parameter is required');
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
    } catch {
      throw invalidArgument('the request path has a malformed percent-encoding');
    }
    const method = req.method ?? 'GET';
    const route = matchRoute(method, parts);
    if (!route) throw new HubError(404, 'NotFound', `no route ${method} ${url.pathname}`);
    this.authorize(claims, route);
    // the registry's one rule for ids, before anything is looked up
    if (route.deviceId !== undefined) validateId('device', route.deviceId);
    if (route.moduleId !== undefined) validateId('module', route.moduleId);
    const ifMatch = req.headers['if-match'] ? unquote(String(req.headers['if-match'])) : undefined;
    const json = async (maxDepth: number): Promise<JsonObject> => {
      const b = await readBody(req, MAX_BODY);
      if (b.length === 0) return {};
      const v = parseJson(b, { maxDepth, maxBytes: MAX_BODY });
      if (!isObject(v)) throw invalidArgument(`the body must be a JSON object, not ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
      return v;
    };
    if (route.name === 'GET /devices') {
      const top = url.searchParams.get('top');
      const n = top === null ? 1000 : Number(top);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw invalidArgument('top must be a whole number from 1 to 1000');
      return { status: 200, body: this.hub.registry.list().slice(0, n).map((d) => this.device(d)) };
    }
    if (route.name === 'POST /devices') {
      const b = await readBody(req, MAX_BODY);
      const list = parseJson(b, { maxDepth: DEVICE_BODY_MAX_NESTING + 1, maxBytes: MAX_BODY });
      if (!Array.isArray(list)) throw invalidArgument('a bulk registry operation is a JSON array of devices (at most 100)');
      if (list.length > BULK_MAX_DEVICES) throw invalidArgument(`a bulk registry operation takes at most ${BULK_MAX_DEVICES} devices, not ${list.length}`);
      return { status: 200, body: await bulkImport(this.hub.registry, list) };
    }
    if (route.name === 'POST /devices/query') {
      const body = await json(2);
      const continuation = req.headers['x-ms-continuation'];
      const page = runQuery(own(body, 'query') as string, (from) => this.queryDocuments(from), {
        pageSize: pageSize(req.headers['x-ms-max-item-count'] as string | undefined),
        ...(typeof continuation === 'string' && continuation ? { continuation } : {}),
      });
      return {
        status: 200, body: page.items,
        headers: { 'x-ms-item-type': page.itemType, ...(page.continuation ? { 'x-ms-continuation': page.continuation } : {}) },
      };
    }
    const id = route.deviceId!;
    const { moduleId } = route;
    switch (route.name) {
      case 'GET /devices/{id}':
      case 'GET /devices/{id}/modules/{mid}':
        return { status: 200, body: this.device(this.record(id, moduleId)) };
      case 'GET /devices/{id}/modules':
        this.record(id);
        return { status: 200, body: this.hub.registry.list(id).map((m) => this.device(m)) };
      case 'PUT /devices/{id}':
      case 'PUT /devices/{id}/modules/{mid}': {
        const body = await json(DEVICE_BODY_MAX_NESTING);
        for (const [member, want] of [['deviceId', id], ['moduleId', moduleId]] as const) {
          const v = own(body, member);
          if (v !== undefined && v !== null && v !== want) throw invalidArgument(`body ${member} ${JSON.stringify(v).slice(0, 140)} differs from the URL's '${want ?? ''}'`);
        }
        const { add, changes } = readIdentityBody(body);
        const existing = this.hub.registry.record(id, moduleId);
        if (existing) {
          const what = moduleId ? `module '${id}/${moduleId}'` : `device '${id}'`;
          if (!ifMatch) throw new HubError(409, moduleId ? 'ModuleAlreadyExistsOnDevice' : 'DeviceAlreadyExists', `${what} already exists (send If-Match: "*" or its etag to update it)`);
          if (ifMatch !== '*' && ifMatch !== identityEtag(existing)) throw new HubError(412, 'PreconditionFailed', `etag '${ifMatch}' is stale`);
          await this.hub.registry.update(id, moduleId, changes);
          return { status: 200, body: this.device(this.record(id, moduleId)) };
        }
        // an update naming an etag needs the identity it names
        if (ifMatch && ifMatch !== '*') this.record(id, moduleId);
        if (moduleId) await this.hub.registry.addModule(id, moduleId, add);
        else await this.hub.registry.addDevice(id, add);
        return { status: 200, body: this.device(this.record(id, moduleId)) };
      }
      case 'DELETE /devices/{id}':
      case 'DELETE /devices/{id}/modules/{mid}': {
        const rec = this.record(id, moduleId);
        if (ifMatch && ifMatch !== '*' && ifMatch !== identityEtag(rec)) throw new HubError(412, 'PreconditionFailed', `etag '${ifMatch}' is stale`);
        await this.hub.registry.remove(id, moduleId);
        return { status: 204 };
      }
      case 'GET /twins/{id}':
      case 'GET /twins/{id}/modules/{mid}':
        this.record(id, moduleId);
        return { status: 200, body: this.twin(await this.hub.getTwin(id, moduleId)) };
      case 'PATCH /twins/{id}':
      case 'PUT /twins/{id}':
      case 'PATCH /twins/{id}/modules/{mid}':
      case 'PUT /twins/{id}/modules/{mid}': {
        const body = await json(TWIN_DOCUMENT_MAX_NESTING);
        const props = objectMember(body, 'properties', '');
        // `"desired": null` removes every desired property (IoT Hub's semantics), as `{}` does in a PUT
        const clearDesired = props !== undefined && hasOwn(props, 'desired') && own(props, 'desired') === null;
        let desired = props ? objectMember(props, 'desired', 'properties.') : undefined;
        let tags = objectMember(body, 'tags', '');
        if (desired) validatePatch(desired, 'desired');
        if (tags) validatePatch(tags, 'tags');
        this.record(id, moduleId);
        const cur = await this.hub.getTwin(id, moduleId);
        if (ifMatch && ifMatch !== '*' && ifMatch !== cur.etag) throw new HubError(412, 'PreconditionFailed', `etag '${ifMatch}' is stale (now '${cur.etag}')`);
        if (method === 'PUT' || clearDesired) {
          desired = replacementPatch(cur.properties.desired, desired ?? {});
          tags = replacementPatch(cur.tags, tags ?? {});
        }
        const o = moduleId ? { moduleId } : {};
        if (tags && Object.keys(tags).length) await this.hub.updateTags(id, tags, o);
        if (desired && Object.keys(desired).length) await this.hub.updateDesired(id, desired, o);
        return { status: 200, body: this.twin(await this.hub.getTwin(id, moduleId)) };
      }
      case 'POST /twins/{id}/methods':
      case 'POST /twins/{id}/modules/{mid}/methods': {
        const body = await json(METHOD_BODY_MAX_NESTING);
        const methodName = own(body, 'methodName');
        if (typeof methodName !== 'string') throw invalidArgument('methodName is required (a string)');
        const responseTimeoutInSeconds = seconds(body, 'responseTimeoutInSeconds', METHOD_RESPONSE_TIMEOUT);
        const connectTimeoutInSeconds = seconds(body, 'connectTimeoutInSeconds', METHOD_CONNECT_TIMEOUT);
        this.record(id, moduleId);
        const r = await this.hub.invokeMethod(id, methodName, own(body, 'payload') ?? null, {
          ...(responseTimeoutInSeconds !== undefined ? { responseTimeoutInSeconds } : {}),
          ...(connectTimeoutInSeconds !== undefined ? { connectTimeoutInSeconds } : {}),
          ...(moduleId ? { moduleId } : {}),
        });
        return { status: 200, body: { status: r.status, payload: r.payload } };
      }
    }
    throw new HubError(404, 'NotFound', `no route ${method} ${url.pathname}`);
  }

  /** What `FROM devices` or `FROM devices.modules` sees: each identity's twin, in ordinal key order. */
  private queryDocuments(from: 'devices' | 'devices.modules'): QueryDocument[] {
    const out: QueryDocument[] = [];
    for (const rec of this.hub.registry.records()) {
      if ((from === 'devices') !== (rec.moduleId === undefined)) continue;
      out.push({ key: rec.moduleId === undefined ? rec.deviceId : `${rec.deviceId}/${rec.moduleId}`, doc: () => this.twin(this.hub.twins.get(rec.deviceId, rec.moduleId), rec) as JsonObject });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private record(id: string, moduleId?: string): IdentityRecord {
    const rec = this.hub.registry.record(id, moduleId);
    if (!rec && moduleId && this.hub.registry.record(id)) throw new HubError(404, 'ModuleNotFound', `module '${id}/${moduleId}' is not registered`);
    if (!rec) throw new HubError(404, 'DeviceNotFound', `device '${id}' is not registered`);
    return rec;
  }

  private device(rec: IdentityRecord): Record<string, unknown> {
    return identityDocument(rec, {
      connected: this.hub.isConnected(rec.deviceId, rec.moduleId),
      stateSince: this.hub.connectionStateUpdatedTime(rec.deviceId, rec.moduleId),
      c2dPending: rec.moduleId ? 0 : this.hub.c2d.pending(rec.deviceId).length,
    });
  }

  /** The twin document; `known` is the identity's record when the caller has it (a query reads thousands). */
  private twin(t: Twin, known?: IdentityRecord): Record<string, unknown> {
    const rec = known ?? this.hub.registry.record(t.deviceId, t.moduleId);
    return {
      deviceId: t.deviceId, ...(t.moduleId ? { moduleId: t.moduleId } : {}),
      etag: t.etag, deviceEtag: rec ? identityEtag(rec) : '', version: t.version,
      status: rec?.status ?? 'enabled', connectionState: this.hub.isConnected(t.deviceId, t.moduleId) ? 'Connected' : 'Disconnected',
      tags: t.tags, properties: t.properties,
      authenticationType: rec?.x509Ca ? 'certificateAuthority' : rec?.x509Thumbprints ? 'selfSigned' : 'sas', capabilities: { iotEdge: rec?.iotEdge ?? false },
    };
  }
}
