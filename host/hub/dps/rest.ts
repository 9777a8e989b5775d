// The provisioning service API of the local DPS, as azure-iot-provisioning-service calls it (api-version 2021-10-01):
//   PUT/GET/DELETE /enrollments/{id}       POST /enrollments/query        POST /enrollments/{id}/attestationmechanism
//   PUT/GET/DELETE /enrollmentGroups/{id}  POST /enrollmentGroups/query   POST /enrollmentGroups/{id}/attestationmechanism
//   GET/DELETE /registrations/{id}
// Authenticated first with a token of the DPS's own policy (`provisioningserviceowner`); errors in DPS's shape,
// `{"errorCode":404201,"trackingId":…,"message":…,"timestampUtc":…}`. Served on the hub's HTTPS port beside its REST API.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError, invalidArgument } from '../errors.js';
import { JsonError, isObject, own, parseJson, type JsonObject } from '../state/json.js';
import { dpsError } from './broker.js';
import type { RegistrationState } from './assign.js';
import {
  certificateThumbprints, checkKey, checkThumbprint, parseInitialTwin, type Attestation, type EnrollmentGroup, type EnrollmentOptions,
  type EnrollmentStore, type IndividualEnrollment, type InitialTwin,
} from './enrollments.js';
import type { DpsIdentity } from './identity.js';

export interface DpsRestContext {
  enrollments: EnrollmentStore;
  identity: DpsIdentity;
  /** Host names a service token's resource may carry (the hub's, with and without ports). */
  hostNames: () => string[];
  assignedHub: () => string;
  registrationState: (registrationId: string) => RegistrationState | undefined;
  forgetRegistration: (registrationId: string) => boolean;
}

const MAX_BODY = 128 * 1024;
const MAX_NESTING = 16;
const PREFIXES = ['enrollments', 'enrollmentgroups', 'registrations'];

/** Whether a request path belongs to the provisioning service API (the hub's REST port serves both). */
export function isDpsServicePath(url: string | undefined): boolean {
  const first = (url ?? '').split('?')[0]!.split('/').filter(Boolean)[0]?.toLowerCase();
  return first !== undefined && PREFIXES.includes(first);
}

/** DPS's error codes for the answers the local DPS gives (the HTTP status × 1000 plus a detail). */
const ERROR_CODES: Record<number, number> = { 400: 400004, 401: 401002, 404: 404201, 409: 409201, 412: 412002, 413: 413001, 500: 500000 };

class Unread extends HubError {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const tooLarge = () => new Unread(413, 'MessageTooLarge', `request body over ${MAX_BODY} bytes`);
    if (Number(req.headers['content-length']) > MAX_BODY) { req.resume(); reject(tooLarge()); return; }
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) { chunks.length = 0; req.off('data', onData).on('data', () => {}); reject(tooLarge()); return; }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const unquote = (etag: string): string => etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

function status(v: unknown): 'enabled' | 'disabled' {
  if (v === undefined || v === null) return 'enabled';
  if (v !== 'enabled' && v !== 'disabled') throw invalidArgument(`provisioningStatus must be 'enabled' or 'disabled'`);
  return v;
}

function objectOf(v: unknown, where: string): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalidArgument(`${where} must be a JSON object`);
  return v;
}

/** The keys of a `symmetricKey` attestation; empty ones are generated. */
function symmetricKeys(att: JsonObject): { primaryKey?: string; secondaryKey?: string } {
  const sk = objectOf(own(att, 'symmetricKey'), 'attestation.symmetricKey') ?? {};
  const out: { primaryKey?: string; secondaryKey?: string } = {};
  for (const k of ['primaryKey', 'secondaryKey'] as const) {
    const v = own(sk, k);
    if (v !== undefined && v !== null && v !== '') out[k] = checkKey(v, `attestation.symmetricKey.${k}`);
  }
  return out;
}

/** A client certificate of an x509 attestation: its PEM (`certificate`) or, as the service returns it, its `info`'s thumbprints. */
function certificateThumbprint(v: unknown, where: string): string | undefined {
  const c = objectOf(v, where);
  if (!c) return undefined;
  const pem = own(c, 'certificate');
  if (typeof pem === 'string' && pem) return certificateThumbprints(pem).sha256;
  const info = objectOf(own(c, 'info'), `${where}.info`);
  const t = info ? own(info, 'sha256Thumbprint') ?? own(info, 'sha1Thumbprint') : undefined;
  if (t === undefined || t === null) throw invalidArgument(`${where} needs a certificate (PEM)`);
  return checkThumbprint(t, `${where}.info thumbprint`);
}

function thumbprintInfo(t: string): JsonObject {
  return { info: { ...(t.length === 40 ? { sha1Thumbprint: t } : { sha256Thumbprint: t }) } };
}

export class DpsRestService {
  constructor(private readonly ctx: DpsRestContext, private readonly log: (line: string) => void = () => {}) {}

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    const path = (req.url ?? '').split('?')[0];
    this.route(req).then(({ status: code, body }) => {
      this.send(res, code, body);
      this.log(`DPS REST ${req.method} ${path} → ${code} (${Date.now() - started} ms)`);
    }, (e: unknown) => {
      const err = e instanceof HubError ? e :
        e instanceof JsonError ? (e.reason === 'size' ? new HubError(413, 'MessageTooLarge', e.message) : invalidArgument(e.message)) : undefined;
      if (!err) this.log(`DPS REST ${req.method} ${path} → 500 (${e instanceof Error ? `${e.name}: ${e.message}` : 'non-error thrown'})`);
      const out = err ?? new HubError(500, 'ServerError', 'the provisioning service failed to handle the request');
      if (res.headersSent) { res.destroy(); return; }
      if (out instanceof Unread) res.on('finish', () => req.destroy());
      this.send(res, out.status, dpsError(ERROR_CODES[out.status] ?? out.status * 1000, out.message), out instanceof Unread ? { Connection: 'close' } : {});
      if (err) this.log(`DPS REST ${req.method} ${path} → ${out.status} (${out.message})`);
    });
  };

  private send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(code, {
      ...(text ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) } : { 'Content-Length': 0 }),
      ...headers,
    });
    res.end(text);
  }

  private async route(req: IncomingMessage): Promise<{ status: number; body?: unknown }> {
    const auth = req.headers['authorization'];
    if (!auth) throw new HubError(401, 'IotHubUnauthorizedAccess', 'no Authorization header (SharedAccessSignature …)');
    const check = this.ctx.identity.verify(String(auth), this.ctx.hostNames(), Math.floor(Date.now() / 1000));
    if (!check.ok) throw new HubError(401, 'IotHubUnauthorizedAccess', check.reason);
    let url: URL;
    try { url = new URL(req.url ?? '/', 'https://localhost'); } catch { throw invalidArgument('the request URL is malformed'); }
    if (!url.searchParams.get('api-version')) throw new HubError(400, 'InvalidProtocolVersion', 'the api-version query parameter is required');
    let parts: string[];
    try { parts = url.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p)); } catch { throw invalidArgument('the request path has a malformed percent-encoding'); }
    const [kindRaw, id, tail] = parts;
    const kind = kindRaw?.toLowerCase();
    const method = req.method ?? 'GET';
    const ifMatch = req.headers['if-match'] ? unquote(String(req.headers['if-match'])) : undefined;
    const json = async (): Promise<JsonObject> => {
      const b = await readBody(req);
      if (b.length === 0) return {};
      const v = parseJson(b, { maxDepth: MAX_NESTING, maxBytes: MAX_BODY });
      if (!isObject(v)) throw invalidArgument('the body must be a JSON object');
      return v;
    };
    const notFound = (what: string) => new HubError(404, 'NotFound', `${what} not found`);
    const noRoute = () => new HubError(404, 'NotFound', `no route ${method} ${url.pathname}`);
    if (parts.length > 3 || !id) throw noRoute();

    if (kind === 'enrollments' || kind === 'enrollmentgroups') {
      const group = kind === 'enrollmentgroups';
      if (id === 'query' && parts.length === 2 && method === 'POST') {
        await json();
        const items = group ? this.ctx.enrollments.listGroups().map((g) => this.groupView(g)) : this.ctx.enrollments.listEnrollments().map((e) => this.enrollmentView(e));
        return { status: 200, body: items };
      }
      if (tail !== undefined) {
        if (tail.toLowerCase() !== 'attestationmechanism' || method !== 'POST') throw noRoute();
        const rec = group ? this.ctx.enrollments.getGroup(id) : this.ctx.enrollments.getEnrollment(id);
        if (!rec) throw notFound(group ? `enrollment group '${id}'` : `enrollment '${id}'`);
        return { status: 200, body: this.attestationView(rec.attestation) };
      }
      switch (method) {
        case 'GET': {
          const rec = group ? this.ctx.enrollments.getGroup(id) : this.ctx.enrollments.getEnrollment(id);
          if (!rec) throw notFound(group ? `enrollment group '${id}'` : `enrollment '${id}'`);
          return { status: 200, body: group ? this.groupView(rec as EnrollmentGroup) : this.enrollmentView(rec as IndividualEnrollment) };
        }
        case 'DELETE': {
          const ok = group ? await this.ctx.enrollments.removeGroup(id, ifMatch) : await this.ctx.enrollments.removeEnrollment(id, ifMatch);
          if (!ok) throw notFound(group ? `enrollment group '${id}'` : `enrollment '${id}'`);
          return { status: 204 };
        }
        case 'PUT': {
          const body = await json();
          return { status: 200, body: group ? this.groupView(await this.putGroup(id, body, ifMatch)) : this.enrollmentView(await this.putEnrollment(id, body, ifMatch)) };
        }
      }
      throw noRoute();
    }
    if (kind === 'registrations' && tail === undefined) {
      if (method === 'GET') {
        const s = this.ctx.registrationState(id);
        if (!s) throw notFound(`registration '${id}'`);
        return { status: 200, body: s };
      }
      if (method === 'DELETE') {
        if (!this.ctx.forgetRegistration(id)) throw notFound(`registration '${id}'`);
        return { status: 204 };
      }
    }
    throw noRoute();
  }

  private common(body: JsonObject): { provisioningStatus: 'enabled' | 'disabled'; initialTwin?: InitialTwin } {
    const initialTwin = parseInitialTwin(own(body, 'initialTwin'));
    return { provisioningStatus: status(own(body, 'provisioningStatus')), ...(initialTwin ? { initialTwin } : {}) };
  }

  private async putEnrollment(id: string, body: JsonObject, ifMatchHeader: string | undefined): Promise<IndividualEnrollment> {
    const named = own(body, 'registrationId');
    if (named !== undefined && named !== id) throw invalidArgument(`the body's registrationId ${JSON.stringify(String(named).slice(0, 130))} differs from the URL's '${id}'`);
    const att = objectOf(own(body, 'attestation'), 'attestation');
    if (!att) throw invalidArgument('attestation is required (symmetricKey or x509)');
    const type = own(att, 'type');
    const deviceId = own(body, 'deviceId');
    if (deviceId !== undefined && deviceId !== null && typeof deviceId !== 'string') throw invalidArgument('deviceId must be a string');
    const o: EnrollmentOptions = { ...this.common(body), replace: true, ...(ifMatchHeader ? { ifMatch: ifMatchHeader } : {}), ...(deviceId ? { deviceId } : {}) };
    if (type === 'symmetricKey') Object.assign(o, symmetricKeys(att));
    else if (type === 'x509') {
      const x = objectOf(own(att, 'x509'), 'attestation.x509') ?? {};
      if (own(x, 'signingCertificates') !== undefined || own(x, 'caReferences') !== undefined) throw invalidArgument('an individual enrollment names its device\'s own certificate (clientCertificates)');
      const certs = objectOf(own(x, 'clientCertificates'), 'attestation.x509.clientCertificates');
      const primary = certs ? certificateThumbprint(own(certs, 'primary'), 'attestation.x509.clientCertificates.primary') : undefined;
      if (!primary) throw invalidArgument('attestation.x509.clientCertificates.primary is required');
      const secondary = certs ? certificateThumbprint(own(certs, 'secondary'), 'attestation.x509.clientCertificates.secondary') : undefined;
      o.x509Thumbprint = primary;
      if (secondary) o.x509SecondaryThumbprint = secondary;
    } else if (type === 'tpm') {
      throw invalidArgument('TPM attestation is not supported by the local DPS (use symmetricKey or x509)');
    } else {
      throw invalidArgument(`attestation.type must be 'symmetricKey' or 'x509'`);
    }
    return this.ctx.enrollments.addEnrollment(id, o);
  }

  private async putGroup(id: string, body: JsonObject, ifMatch: string | undefined): Promise<EnrollmentGroup> {
    const named = own(body, 'enrollmentGroupId');
    if (named !== undefined && named !== id) throw invalidArgument(`the body's enrollmentGroupId ${JSON.stringify(String(named).slice(0, 130))} differs from the URL's '${id}'`);
    const att = objectOf(own(body, 'attestation'), 'attestation');
    if (!att) throw invalidArgument('attestation is required (symmetricKey)');
    if (own(att, 'type') !== 'symmetricKey') throw invalidArgument('the local DPS supports symmetric-key enrollment groups only');
    return this.ctx.enrollments.addGroup(id, { ...this.common(body), ...symmetricKeys(att), replace: true, ...(ifMatch ? { ifMatch } : {}) });
  }

  private attestationView(a: Attestation): JsonObject {
    if (a.type === 'symmetricKey') return { type: 'symmetricKey', symmetricKey: { primaryKey: a.primaryKey, secondaryKey: a.secondaryKey } };
    return {
      type: 'x509',
      x509: { clientCertificates: { primary: thumbprintInfo(a.primaryThumbprint), ...(a.secondaryThumbprint ? { secondary: thumbprintInfo(a.secondaryThumbprint) } : {}) } },
    };
  }

  private twinView(t: InitialTwin | undefined): JsonObject | null {
    if (!t) return null;
    return { tags: t.tags ?? {}, properties: { desired: t.desired ?? {} } };
  }

  private commonView(r: IndividualEnrollment | EnrollmentGroup): JsonObject {
    const hub = this.ctx.assignedHub();
    return {
      attestation: this.attestationView(r.attestation),
      capabilities: { iotEdge: false },
      iotHubHostName: hub,
      initialTwin: this.twinView(r.initialTwin),
      etag: r.etag,
      provisioningStatus: r.provisioningStatus,
      reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
      createdDateTimeUtc: r.createdDateTimeUtc,
      lastUpdatedDateTimeUtc: r.lastUpdatedDateTimeUtc,
      allocationPolicy: 'hashed',
      iotHubs: [hub],
    };
  }

  private enrollmentView(e: IndividualEnrollment): JsonObject {
    const s = this.ctx.registrationState(e.registrationId);
    return {
      registrationId: e.registrationId, ...(e.deviceId ? { deviceId: e.deviceId } : {}),
      ...(s ? { registrationState: s as unknown as JsonObject } : {}),
      ...this.commonView(e),
    };
  }

  private groupView(g: EnrollmentGroup): JsonObject {
    return { enrollmentGroupId: g.enrollmentGroupId, ...this.commonView(g) };
  }
}
