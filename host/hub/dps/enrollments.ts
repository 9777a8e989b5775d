// The local DPS's enrollments: individual enrollments (symmetric key or X.509 thumbprint) and enrollment groups
// (symmetric key; a device's key is derived from the group key and its registration id), kept in
// `{dataDir}/dps-enrollments.json`. Shared with `iothub-wasm hub dps …` in another process like the registry: every
// change is a read-modify-write under the file's lock, and lookups re-read a file another process changed.
import { createHmac, randomBytes, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { HubError, invalidArgument } from '../errors.js';
import { JsonFile } from '../state/store.js';
import { StoredRecord, cloneJson, isObject, own, type JsonObject } from '../state/json.js';
import { validatePatch } from '../state/twin-store.js';
import { normalizeThumbprint } from '../state/registry.js';
import { REGISTRATION_ID_RULE, isGroupId, isRegistrationId } from './topics.js';

export type ProvisioningStatus = 'enabled' | 'disabled';

export type Attestation =
  | { type: 'symmetricKey'; primaryKey: string; secondaryKey: string }
  | { type: 'x509'; primaryThumbprint: string; secondaryThumbprint?: string };

/** What a device gets on its first assignment: tags and desired properties (DPS's `initialTwin`). */
export interface InitialTwin { tags?: JsonObject; desired?: JsonObject }

interface Common {
  attestation: Attestation;
  provisioningStatus: ProvisioningStatus;
  initialTwin?: InitialTwin;
  createdDateTimeUtc: string;
  lastUpdatedDateTimeUtc: string;
  etag: string;
}

export interface IndividualEnrollment extends Common {
  registrationId: string;
  /** The device id in the hub; default: the registration id. */
  deviceId?: string;
}

export interface EnrollmentGroup extends Common {
  enrollmentGroupId: string;
  attestation: Extract<Attestation, { type: 'symmetricKey' }>;
}

export interface EnrollmentOptions {
  /** Symmetric key (base64, 16-64 bytes); generated when neither a key nor a thumbprint is given. */
  primaryKey?: string;
  secondaryKey?: string;
  /** X.509 attestation instead: the SHA-1 or SHA-256 thumbprint (hex) of the device's certificate. */
  x509Thumbprint?: string;
  x509SecondaryThumbprint?: string;
  deviceId?: string;
  initialTwin?: InitialTwin;
  provisioningStatus?: ProvisioningStatus;
  /** With an existing enrollment: replace it (create-or-update) instead of refusing; with `ifMatch`, only that version. */
  replace?: boolean;
  ifMatch?: string;
}

export interface GroupOptions {
  primaryKey?: string;
  secondaryKey?: string;
  initialTwin?: InitialTwin;
  provisioningStatus?: ProvisioningStatus;
  replace?: boolean;
  ifMatch?: string;
}

interface EnrollmentFile { version: 1; enrollments: IndividualEnrollment[]; groups: EnrollmentGroup[] }

const THUMBPRINT_RE = /^([0-9A-F]{40}|[0-9A-F]{64})$/;

export const newKey = (): string => randomBytes(32).toString('base64');

/** A device's key in a symmetric-key enrollment group: base64(HMAC-SHA256(base64decode(groupKey), registrationId)). */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  return createHmac('sha256', Buffer.from(groupKey, 'base64')).update(registrationId, 'utf8').digest('base64');
}

export function checkKey(key: unknown, what = 'a key'): string {
  if (typeof key !== 'string') throw invalidArgument(`${what} must be a string`);
  const raw = Buffer.from(key, 'base64');
  if (raw.length < 16 || raw.length > 64 || raw.toString('base64') !== key) throw invalidArgument(`${what} must be base64 of 16 to 64 bytes`);
  return key;
}

export function checkThumbprint(t: unknown, what = 'an X.509 thumbprint'): string {
  if (typeof t !== 'string' || !THUMBPRINT_RE.test(normalizeThumbprint(t))) throw invalidArgument(`${what} is 40 (SHA-1) or 64 (SHA-256) hex digits`);
  return normalizeThumbprint(t);
}

/** The SHA-1 and SHA-256 thumbprints of a PEM certificate (what DPS computes from an uploaded certificate). */
export function certificateThumbprints(pem: string): { sha1: string; sha256: string } {
  let c: X509Certificate;
  try { c = new X509Certificate(pem); } catch { throw invalidArgument('the certificate is not a PEM or DER X.509 certificate'); }
  return { sha1: normalizeThumbprint(c.fingerprint), sha256: normalizeThumbprint(c.fingerprint256) };
}

/** An initialTwin in DPS's shape (`{tags, properties: {desired}}`) or ours (`{tags, desired}`), checked like a twin patch. */
export function parseInitialTwin(v: unknown, where = 'initialTwin'): InitialTwin | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalidArgument(`${where} must be a JSON object`);
  const tags = own(v, 'tags');
  const props = own(v, 'properties');
  const desired = own(v, 'desired') ?? (isObject(props) ? own(props, 'desired') : undefined);
  if (props !== undefined && props !== null && !isObject(props)) throw invalidArgument(`${where}.properties must be a JSON object`);
  const out: InitialTwin = {};
  if (tags !== undefined && tags !== null) out.tags = cloneJson(validatePatch(tags, 'tags'));
  if (desired !== undefined && desired !== null) out.desired = cloneJson(validatePatch(desired, 'desired'));
  return out.tags || out.desired ? out : undefined;
}

const newEtag = (): string => randomBytes(9).toString('base64');

function parseStatus(r: StoredRecord): ProvisioningStatus {
  const s = r.get('provisioningStatus');
  if (s !== 'enabled' && s !== 'disabled') throw r.bad(`'provisioningStatus' must be 'enabled' or 'disabled'`);
  return s;
}

function parseAttestation(r: StoredRecord): Attestation {
  const a = r.record('attestation');
  const type = a.get('type');
  try {
    if (type === 'symmetricKey') return { type, primaryKey: checkKey(a.get('primaryKey'), 'primaryKey'), secondaryKey: checkKey(a.get('secondaryKey'), 'secondaryKey') };
    if (type === 'x509') {
      const secondary = a.get('secondaryThumbprint');
      return { type, primaryThumbprint: checkThumbprint(a.get('primaryThumbprint')), ...(secondary !== undefined ? { secondaryThumbprint: checkThumbprint(secondary) } : {}) };
    }
  } catch (e) {
    throw a.bad((e as Error).message);
  }
  throw a.bad(`'type' must be 'symmetricKey' or 'x509'`);
}

function parseCommon(r: StoredRecord): Common {
  let initialTwin: InitialTwin | undefined;
  try { initialTwin = parseInitialTwin(r.get('initialTwin')); } catch (e) { throw r.bad((e as Error).message); }
  return {
    attestation: parseAttestation(r),
    provisioningStatus: parseStatus(r),
    ...(initialTwin ? { initialTwin } : {}),
    createdDateTimeUtc: r.str('createdDateTimeUtc'),
    lastUpdatedDateTimeUtc: r.str('lastUpdatedDateTimeUtc'),
    etag: r.str('etag'),
  };
}

function parseFile(loaded: unknown, path: string): { enrollments: Map<string, IndividualEnrollment>; groups: Map<string, EnrollmentGroup> } {
  const enrollments = new Map<string, IndividualEnrollment>();
  const groups = new Map<string, EnrollmentGroup>();
  if (loaded === undefined) return { enrollments, groups };
  const f = StoredRecord.of(loaded, path);
  const list = (k: string): unknown[] => {
    const v = f.get(k);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw f.bad(`'${k}' must be an array`);
    return v;
  };
  list('enrollments').forEach((raw, i) => {
    const r = StoredRecord.of(raw, `${path}: enrollments[${i}]`);
    const registrationId = r.str('registrationId');
    if (!isRegistrationId(registrationId)) throw r.bad(`'registrationId' must be ${REGISTRATION_ID_RULE}`);
    const deviceId = r.optStr('deviceId');
    enrollments.set(registrationId.toLowerCase(), { registrationId, ...(deviceId ? { deviceId } : {}), ...parseCommon(r) });
  });
  list('groups').forEach((raw, i) => {
    const r = StoredRecord.of(raw, `${path}: groups[${i}]`);
    const enrollmentGroupId = r.str('enrollmentGroupId');
    if (!isGroupId(enrollmentGroupId)) throw r.bad(`'enrollmentGroupId' must be ${REGISTRATION_ID_RULE}`);
    const common = parseCommon(r);
    if (common.attestation.type !== 'symmetricKey') throw r.bad('an enrollment group attests with a symmetric key');
    groups.set(enrollmentGroupId.toLowerCase(), { enrollmentGroupId, ...common, attestation: common.attestation });
  });
  return { enrollments, groups };
}

function describeEnrollment(id: string): string { return `enrollment '${id}'`; }

/**
 * Individual enrollments and enrollment groups. The CLI and the running hub both write the file: each change re-reads
 * it under its lock first (JsonFile.update), and every lookup re-reads a file changed on disk.
 */
export class EnrollmentStore {
  private enrollments = new Map<string, IndividualEnrollment>();
  private groups = new Map<string, EnrollmentGroup>();
  private readonly file: JsonFile<EnrollmentFile>;

  constructor(dataDir: string | null) {
    this.file = new JsonFile<EnrollmentFile>(dataDir ? join(dataDir, 'dps-enrollments.json') : null,
      () => ({ version: 1, enrollments: [...this.enrollments.values()], groups: [...this.groups.values()] }));
    this.adopt(this.file.load());
  }

  private adopt(loaded: unknown): void {
    const { enrollments, groups } = parseFile(loaded, this.file.path ?? 'dps-enrollments.json');
    this.enrollments = enrollments;
    this.groups = groups;
  }

  /** Re-reads the file when another process changed it (a damaged file keeps what we had, and the next change names it). */
  private refresh(): void {
    if (!this.file.changedOnDisk()) return;
    try { this.adopt(this.file.load()); } catch { /* reported by the next change */ }
  }

  private mutate<R>(change: () => R): Promise<R> {
    return this.file.update((onDisk) => {
      if (this.file.path) this.adopt(onDisk);
      return change();
    }, 'the DPS enrollments');
  }

  // --- individual enrollments ----------------------------------------------------------------------------------

  async addEnrollment(registrationId: string, o: EnrollmentOptions = {}): Promise<IndividualEnrollment> {
    if (!isRegistrationId(registrationId)) throw invalidArgument(`invalid registration id ${JSON.stringify(String(registrationId).slice(0, 130))}: ${REGISTRATION_ID_RULE}`);
    if (o.x509Thumbprint && (o.primaryKey || o.secondaryKey)) throw invalidArgument('an enrollment attests with a symmetric key or an X.509 thumbprint, not both');
    const attestation: Attestation = o.x509Thumbprint ?
      { type: 'x509', primaryThumbprint: checkThumbprint(o.x509Thumbprint), ...(o.x509SecondaryThumbprint ? { secondaryThumbprint: checkThumbprint(o.x509SecondaryThumbprint) } : {}) } :
      { type: 'symmetricKey', primaryKey: o.primaryKey ? checkKey(o.primaryKey, 'the primary key') : newKey(), secondaryKey: o.secondaryKey ? checkKey(o.secondaryKey, 'the secondary key') : newKey() };
    if (o.deviceId !== undefined && !/^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/.test(o.deviceId)) throw invalidArgument(`invalid device id ${JSON.stringify(o.deviceId.slice(0, 130))}`);
    const initialTwin = o.initialTwin ? parseInitialTwin(o.initialTwin) : undefined;
    const status = o.provisioningStatus ?? 'enabled';
    if (status !== 'enabled' && status !== 'disabled') throw invalidArgument(`provisioningStatus must be 'enabled' or 'disabled'`);
    return this.mutate(() => {
      const k = registrationId.toLowerCase();
      const existing = this.enrollments.get(k);
      if (existing && !o.replace) throw new HubError(409, 'DeviceAlreadyExists', `${describeEnrollment(registrationId)} already exists`);
      if (existing && o.ifMatch && o.ifMatch !== '*' && o.ifMatch !== existing.etag) throw new HubError(412, 'PreconditionFailed', `etag '${o.ifMatch}' is stale`);
      if (!existing && o.ifMatch && o.ifMatch !== '*') throw new HubError(404, 'NotFound', `${describeEnrollment(registrationId)} does not exist`);
      const now = new Date().toISOString();
      const rec: IndividualEnrollment = {
        registrationId, ...(o.deviceId ? { deviceId: o.deviceId } : {}), attestation, provisioningStatus: status,
        ...(initialTwin ? { initialTwin } : {}),
        createdDateTimeUtc: existing?.createdDateTimeUtc ?? now, lastUpdatedDateTimeUtc: now, etag: newEtag(),
      };
      this.enrollments.set(k, rec);
      return rec;
    });
  }

  getEnrollment(registrationId: string): IndividualEnrollment | undefined {
    this.refresh();
    return typeof registrationId === 'string' ? this.enrollments.get(registrationId.toLowerCase()) : undefined;
  }

  listEnrollments(): IndividualEnrollment[] {
    this.refresh();
    return [...this.enrollments.values()].sort((a, b) => a.registrationId.localeCompare(b.registrationId));
  }

  async removeEnrollment(registrationId: string, ifMatch?: string): Promise<boolean> {
    return this.mutate(() => {
      const k = registrationId.toLowerCase();
      const e = this.enrollments.get(k);
      if (!e) return false;
      if (ifMatch && ifMatch !== '*' && ifMatch !== e.etag) throw new HubError(412, 'PreconditionFailed', `etag '${ifMatch}' is stale`);
      this.enrollments.delete(k);
      return true;
    });
  }

  async setEnrollmentStatus(registrationId: string, status: ProvisioningStatus): Promise<IndividualEnrollment> {
    return this.mutate(() => {
      const e = this.enrollments.get(registrationId.toLowerCase());
      if (!e) throw new HubError(404, 'NotFound', `${describeEnrollment(registrationId)} does not exist`);
      e.provisioningStatus = status;
      e.lastUpdatedDateTimeUtc = new Date().toISOString();
      e.etag = newEtag();
      return e;
    });
  }

  // --- enrollment groups ---------------------------------------------------------------------------------------

  async addGroup(enrollmentGroupId: string, o: GroupOptions = {}): Promise<EnrollmentGroup> {
    if (!isGroupId(enrollmentGroupId)) throw invalidArgument(`invalid enrollment group id ${JSON.stringify(String(enrollmentGroupId).slice(0, 130))}: ${REGISTRATION_ID_RULE}`);
    const attestation = {
      type: 'symmetricKey' as const,
      primaryKey: o.primaryKey ? checkKey(o.primaryKey, 'the primary key') : newKey(),
      secondaryKey: o.secondaryKey ? checkKey(o.secondaryKey, 'the secondary key') : newKey(),
    };
    const initialTwin = o.initialTwin ? parseInitialTwin(o.initialTwin) : undefined;
    const status = o.provisioningStatus ?? 'enabled';
    if (status !== 'enabled' && status !== 'disabled') throw invalidArgument(`provisioningStatus must be 'enabled' or 'disabled'`);
    return this.mutate(() => {
      const k = enrollmentGroupId.toLowerCase();
      const existing = this.groups.get(k);
      if (existing && !o.replace) throw new HubError(409, 'DeviceAlreadyExists', `enrollment group '${enrollmentGroupId}' already exists`);
      if (existing && o.ifMatch && o.ifMatch !== '*' && o.ifMatch !== existing.etag) throw new HubError(412, 'PreconditionFailed', `etag '${o.ifMatch}' is stale`);
      if (!existing && o.ifMatch && o.ifMatch !== '*') throw new HubError(404, 'NotFound', `enrollment group '${enrollmentGroupId}' does not exist`);
      const now = new Date().toISOString();
      const rec: EnrollmentGroup = {
        enrollmentGroupId, attestation, provisioningStatus: status, ...(initialTwin ? { initialTwin } : {}),
        createdDateTimeUtc: existing?.createdDateTimeUtc ?? now, lastUpdatedDateTimeUtc: now, etag: newEtag(),
      };
      this.groups.set(k, rec);
      return rec;
    });
  }

  getGroup(enrollmentGroupId: string): EnrollmentGroup | undefined {
    this.refresh();
    return typeof enrollmentGroupId === 'string' ? this.groups.get(enrollmentGroupId.toLowerCase()) : undefined;
  }

  listGroups(): EnrollmentGroup[] {
    this.refresh();
    return [...this.groups.values()].sort((a, b) => a.enrollmentGroupId.localeCompare(b.enrollmentGroupId));
  }

  async removeGroup(enrollmentGroupId: string, ifMatch?: string): Promise<boolean> {
    return this.mutate(() => {
      const k = enrollmentGroupId.toLowerCase();
      const g = this.groups.get(k);
      if (!g) return false;
      if (ifMatch && ifMatch !== '*' && ifMatch !== g.etag) throw new HubError(412, 'PreconditionFailed', `etag '${ifMatch}' is stale`);
      this.groups.delete(k);
      return true;
    });
  }

  async setGroupStatus(enrollmentGroupId: string, status: ProvisioningStatus): Promise<EnrollmentGroup> {
    return this.mutate(() => {
      const g = this.groups.get(enrollmentGroupId.toLowerCase());
      if (!g) throw new HubError(404, 'NotFound', `enrollment group '${enrollmentGroupId}' does not exist`);
      g.provisioningStatus = status;
      g.lastUpdatedDateTimeUtc = new Date().toISOString();
      g.etag = newEtag();
      return g;
    });
  }

  flush(): Promise<void> { return this.file.flush(); }
}
