// The identity registry: devices and modules with primary and secondary keys, kept in `{dataDir}/registry.json`.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { HubError, invalidArgument } from '../errors.js';
import { JsonFile } from './store.js';
import { StoredRecord } from './json.js';
import { CertificateAuthorities } from './certificates.js';

export interface IdentityRecord {
  deviceId: string;
  moduleId?: string;
  primaryKey: string;
  secondaryKey: string;
  status: 'enabled' | 'disabled';
  createdAt: string;
  /** X.509 self-signed authentication: SHA-1 or SHA-256 thumbprints (hex) of the certificates the device may present. */
  x509Thumbprints?: { primary: string; secondary?: string };
  /** X.509 CA-signed authentication: a certificate with subject CN = the device id, chaining to a verified CA of the store. */
  x509Ca?: true;
  /** Why the identity is disabled (or anything a back end wants to note), as IoT Hub keeps it. */
  statusReason?: string;
  /** An IoT Edge device (capabilities.iotEdge). */
  iotEdge?: boolean;
}

/** What an update may change; members left out keep their value. `x509: null` turns an X.509 identity back into SAS. */
export interface IdentityChanges {
  primaryKey?: string;
  secondaryKey?: string;
  status?: 'enabled' | 'disabled';
  statusReason?: string | null;
  iotEdge?: boolean;
  x509?: { primaryThumbprint: string; secondaryThumbprint?: string } | null;
  /** true: authenticate with a CA-signed certificate from now on (thumbprints and SAS no longer admit it). */
  certificateAuthority?: boolean;
}

export interface IdentityInfo extends IdentityRecord {
  /** Connection string with the primary key (and `GatewayHostName` when the hub knows where it listens). */
  connectionString: string;
  secondaryConnectionString: string;
}

export interface AddOptions {
  primaryKey?: string;
  secondaryKey?: string;
  status?: 'enabled' | 'disabled';
  /** Authenticate with a self-signed X.509 certificate instead of SAS: its thumbprint(s), SHA-1 or SHA-256 hex. */
  x509?: { primaryThumbprint: string; secondaryThumbprint?: string };
  /** Authenticate with a certificate signed by a verified CA of the hub's store (subject CN = the device id). */
  certificateAuthority?: boolean;
  statusReason?: string;
  iotEdge?: boolean;
}

/** A thumbprint in the hub's canonical form: upper-case hex without separators. */
export function normalizeThumbprint(t: string): string {
  return t.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

interface RegistryFile { version: 1; identities: IdentityRecord[] }

const ID_RE = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;

export function validateId(kind: 'device' | 'module', id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw invalidArgument(`invalid ${kind} id ${JSON.stringify(String(id).slice(0, 130))}: 1-128 characters from A-Z a-z 0-9 - . % _ * ? ! ( ) , : = @ $ ' (no '/', '#' or '+')`);
  }
}

function validateKey(key: string): void {
  const raw = Buffer.from(key, 'base64');
  if (raw.length < 16 || raw.length > 64 || raw.toString('base64') !== key) {
    throw invalidArgument('a key must be base64 of 16 to 64 bytes');
  }
}

export const newKey = () => randomBytes(32).toString('base64');

export interface RegistryEvents {
  added: [IdentityInfo];
  removed: [deviceId: string, moduleId: string | undefined];
  disabled: [deviceId: string, moduleId: string | undefined];
}

/** A registry change seen on disk (made by another process), announced as a registry event. */
type Change = { ev: 'added'; info: IdentityRecord } | { ev: 'removed' | 'disabled'; deviceId: string; moduleId: string | undefined };

const THUMBPRINT_RE = /^([0-9A-F]{40}|[0-9A-F]{64})$/;

/**
 * One record of registry.json, checked and copied into a fresh object: known fields only, own properties only, each
 * of the type it must be; anything else is an error naming the record (a tampered file cannot smuggle structure).
 */
export function parseIdentityRecord(raw: unknown, where: string): IdentityRecord {
  const r = StoredRecord.of(raw, where);
  const deviceId = r.str('deviceId');
  const moduleId = r.optStr('moduleId');
  try {
    validateId('device', deviceId);
    if (moduleId !== undefined) validateId('module', moduleId);
    validateKey(r.str('primaryKey'));
    validateKey(r.str('secondaryKey'));
  } catch (e) {
    throw r.bad((e as Error).message);
  }
  const status = r.get('status');
  if (status !== 'enabled' && status !== 'disabled') throw r.bad(`'status' must be 'enabled' or 'disabled'`);
  const x509 = r.record('x509Thumbprints', true);
  let x509Thumbprints: IdentityRecord['x509Thumbprints'];
  if (x509 !== undefined) {
    const t = (k: string): string | undefined => {
      const v = x509.get(k);
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || !THUMBPRINT_RE.test(normalizeThumbprint(v))) throw r.bad(`x509Thumbprints.${k} must be 40 or 64 hex digits`);
      return normalizeThumbprint(v);
    };
    const primary = t('primary');
    if (!primary) throw r.bad('x509Thumbprints.primary is missing');
    const secondary = t('secondary');
    x509Thumbprints = { primary, ...(secondary ? { secondary } : {}) };
  }
  const x509Ca = r.get('x509Ca');
  if (x509Ca !== undefined && x509Ca !== true) throw r.bad(`'x509Ca' must be true when present`);
  if (x509Ca && x509Thumbprints) throw r.bad(`an identity is either CA-signed ('x509Ca') or self-signed ('x509Thumbprints'), not both`);
  const statusReason = r.optStr('statusReason');
  const iotEdge = r.get('iotEdge');
  if (iotEdge !== undefined && typeof iotEdge !== 'boolean') throw r.bad(`'iotEdge' must be true or false`);
  return {
    deviceId,
    ...(moduleId !== undefined ? { moduleId } : {}),
    primaryKey: r.str('primaryKey'),
    secondaryKey: r.str('secondaryKey'),
    status,
    createdAt: r.str('createdAt'),
    ...(x509Thumbprints ? { x509Thumbprints } : {}),
    ...(x509Ca ? { x509Ca: true as const } : {}),
    ...(statusReason !== undefined ? { statusReason } : {}),
    ...(iotEdge ? { iotEdge } : {}),
  };
}

function parseRegistryFile(loaded: unknown, path: string): Map<string, IdentityRecord> {
  const ids = new Map<string, IdentityRecord>();
  if (loaded === undefined) return ids;
  const list = typeof loaded === 'object' && loaded !== null && Object.hasOwn(loaded, 'identities') ?
    (loaded as { identities: unknown }).identities : undefined;
  if (!Array.isArray(list)) throw new Error(`${path}: 'identities' must be an array; fix or delete the file`);
  list.forEach((raw, i) => {
    const r = parseIdentityRecord(raw, `${path}: identities[${i}]`);
    ids.set(key(r.deviceId, r.moduleId), r);
  });
  return ids;
}

/**
 * The registry is shared by the running hub and `iothub-wasm hub device …` in another process: every change is a
 * read-modify-write of registry.json under its lock file (JsonFile.update), and the hub re-reads the file when it
 * changed (before each lookup and on a file watch), announcing what another process removed or disabled.
 */
export class Registry extends EventEmitter<RegistryEvents> {
  private ids = new Map<string, IdentityRecord>();
  private readonly file: JsonFile<RegistryFile>;
  private watcher: FSWatcher | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  /** The CAs that CA-signed devices' certificates must chain to (`{dataDir}/certificates.json`). */
  readonly authorities: CertificateAuthorities;
  /** Set by the hub when it listens, e.g. `localhost:8883`; added to connection strings as GatewayHostName. */
  gatewayHostName: string | undefined;

  constructor(private readonly dataDir: string | null, public hostName: string) {
    super();
    this.file = new JsonFile<RegistryFile>(dataDir ? join(dataDir, 'registry.json') : null,
      () => ({ version: 1, identities: [...this.ids.values()] }));
    this.ids = parseRegistryFile(this.file.load(), this.file.path ?? '');
    this.authorities = new CertificateAuthorities(dataDir);
  }

  /** Replaces the in-memory registry with what was read from disk; returns what changed. */
  private adopt(loaded: RegistryFile | undefined): Change[] {
    const next = parseRegistryFile(loaded, this.file.path ?? '');
    const before = this.ids;
    this.ids = next;
    const changes: Change[] = [];
    for (const [k, r] of before) {
      const now = next.get(k);
      if (!now || now.createdAt !== r.createdAt) {
        // removed, or removed and added again: a device removed takes its modules with it (one 'removed')
        const dev = next.get(key(r.deviceId));
        const deviceGone = r.moduleId !== undefined && (!dev || dev.createdAt !== before.get(key(r.deviceId))?.createdAt);
        if (!deviceGone) changes.push({ ev: 'removed', deviceId: r.deviceId, moduleId: r.moduleId });
        if (now) changes.push({ ev: 'added', info: now });
      } else if (r.status === 'enabled' && now.status === 'disabled') {
        changes.push({ ev: 'disabled', deviceId: r.deviceId, moduleId: r.moduleId });
      }
    }
    for (const [k, r] of next) if (!before.has(k)) changes.push({ ev: 'added', info: r });
    return changes;
  }

  private announce(changes: Change[]): void {
    for (const c of changes) {
      if (c.ev === 'added') this.emit('added', this.info(c.info));
      else this.emit(c.ev, c.deviceId, c.moduleId);
    }
  }

  /** A change under the registry's lock: first adopt what other processes wrote, then apply `change`, then write. */
  private async mutate<R>(change: () => R): Promise<R> {
    let seen: Change[] = [];
    try {
      return await this.file.update((onDisk) => {
        if (this.file.path) seen = this.adopt(onDisk);
        return change();
      }, 'the device registry');
    } finally {
      this.announce(seen);
    }
  }

  /** Re-reads the file when another process (e.g. `iothub-wasm hub device add`) changed it. */
  refresh(): boolean {
    if (!this.file.changedOnDisk()) return false;
    let changes: Change[];
    try { changes = this.adopt(this.file.load()); } catch { return false; }
    this.announce(changes);
    return true;
  }

  /** Refreshes as soon as registry.json changes on disk (the running hub); close() ends it. */
  watch(): void {
    if (!this.dataDir || this.watcher) return;
    try {
      this.watcher = watch(this.dataDir, (_ev, name) => {
        if (name !== 'registry.json' || this.watchTimer) return;
        // a burst of events for one rename is one refresh
        this.watchTimer = setTimeout(() => { this.watchTimer = null; this.refresh(); }, 10);
      });
      this.watcher.on('error', () => {});
    } catch { /* no file watch here: lookups still refresh */ }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = null;
  }

  async addDevice(deviceId: string, opts: AddOptions = {}): Promise<IdentityInfo> {
    validateId('device', deviceId);
    return this.add(deviceId, undefined, opts);
  }

  async addModule(deviceId: string, moduleId: string, opts: AddOptions = {}): Promise<IdentityInfo> {
    validateId('device', deviceId);
    validateId('module', moduleId);
    return this.add(deviceId, moduleId, opts);
  }

  /**
   * Registers many devices in one change of the registry (one read-modify-write of registry.json, however many):
   * a fleet of 10,000 registers in about a second instead of rewriting the file 10,000 times. Devices already
   * registered are returned as they are when `existing` is 'keep' (default), refused with 409 when 'fail' (then
   * nothing is added). The identities come back in the order given. Keys given in `opts` are every new device's
   * (a test fleet behind one connection-string template); otherwise each draws its own.
   */
  async addDevices(deviceIds: readonly string[], opts: AddOptions = {}, existing: 'keep' | 'fail' = 'keep'): Promise<IdentityInfo[]> {
    for (const id of deviceIds) validateId('device', id);
    if (opts.primaryKey) validateKey(opts.primaryKey);
    if (opts.secondaryKey) validateKey(opts.secondaryKey);
    if (opts.certificateAuthority && opts.x509) throw invalidArgument('an identity is either CA-signed or self-signed (thumbprints), not both');
    const added: IdentityRecord[] = [];
    const records = await this.mutate(() => {
      const out: IdentityRecord[] = [];
      const fresh = new Map<string, IdentityRecord>();
      for (const id of deviceIds) {
        const had = this.ids.get(key(id)) ?? fresh.get(id);
        if (had && existing === 'fail') throw new HubError(409, 'DeviceAlreadyExists', `${describe(id)} already exists`);
        if (had) { out.push(had); continue; }
        const rec = this.record0(id, undefined, opts);
        fresh.set(id, rec);
        out.push(rec);
      }
      for (const [id, rec] of fresh) { this.ids.set(key(id), rec); added.push(rec); }
      return out;
    });
    for (const rec of added) this.emit('added', this.info(rec));
    return records.map((r) => this.info(r));
  }

  /** A new identity's record (keys drawn unless given). */
  private record0(deviceId: string, moduleId: string | undefined, opts: AddOptions): IdentityRecord {
    return {
      deviceId,
      ...(moduleId ? { moduleId } : {}),
      primaryKey: opts.primaryKey ?? newKey(),
      secondaryKey: opts.secondaryKey ?? newKey(),
      status: opts.status ?? 'enabled',
      createdAt: new Date().toISOString(),
      ...(opts.x509 ? { x509Thumbprints: thumbprints(opts.x509) } : {}),
      ...(opts.certificateAuthority ? { x509Ca: true as const } : {}),
      ...(opts.statusReason ? { statusReason: opts.statusReason } : {}),
      ...(opts.iotEdge && !moduleId ? { iotEdge: true } : {}),
    };
  }

  private async add(deviceId: string, moduleId: string | undefined, opts: AddOptions): Promise<IdentityInfo> {
    const k = key(deviceId, moduleId);
    if (opts.primaryKey) validateKey(opts.primaryKey);
    if (opts.secondaryKey) validateKey(opts.secondaryKey);
    if (opts.certificateAuthority && opts.x509) throw invalidArgument('an identity is either CA-signed or self-signed (thumbprints), not both');
    if (opts.certificateAuthority && moduleId) throw invalidArgument('CA-signed authentication is for devices here: give the module a thumbprint (self-signed) or keys');
    const rec = this.record0(deviceId, moduleId, opts);
    await this.mutate(() => {
      if (moduleId && !this.ids.has(key(deviceId))) throw new HubError(404, 'DeviceNotFound', `device '${deviceId}' does not exist`);
      if (this.ids.has(k)) throw new HubError(409, 'DeviceAlreadyExists', `${describe(deviceId, moduleId)} already exists`);
      this.ids.set(k, rec);
    });
    const info = this.info(rec);
    this.emit('added', info);
    return info;
  }

  /** Removes a device (and its modules), or one module. Returns false when there was nothing to remove. */
  async remove(deviceId: string, moduleId?: string): Promise<boolean> {
    const k = key(deviceId, moduleId);
    const removed = await this.mutate(() => {
      if (!this.ids.has(k)) return false;
      this.ids.delete(k);
      if (!moduleId) for (const [kk, r] of this.ids) if (r.deviceId === deviceId) this.ids.delete(kk);
      return true;
    });
    if (removed) this.emit('removed', deviceId, moduleId);
    return removed;
  }

  /** Enables or disables an identity; a disabled identity cannot connect. */
  async setStatus(deviceId: string, moduleId: string | undefined, status: 'enabled' | 'disabled'): Promise<IdentityInfo> {
    const { rec, was } = await this.mutate(() => {
      const r = this.ids.get(key(deviceId, moduleId));
      if (!r) throw new HubError(404, 'DeviceNotFound', `${describe(deviceId, moduleId)} does not exist`);
      const before = r.status;
      r.status = status;
      return { rec: r, was: before };
    });
    if (status === 'disabled' && was !== 'disabled') this.emit('disabled', deviceId, moduleId);
    return this.info(rec);
  }

  /**
   * Changes an identity in place (a REST update): keys, status and its reason, X.509 thumbprints, capabilities.
   * Disabling announces 'disabled' (the hub drops its connection); new keys apply from the next connect.
   */
  async update(deviceId: string, moduleId: string | undefined, changes: IdentityChanges): Promise<IdentityInfo> {
    if (changes.primaryKey !== undefined) validateKey(changes.primaryKey);
    if (changes.secondaryKey !== undefined) validateKey(changes.secondaryKey);
    const x509 = changes.x509 ? thumbprints(changes.x509) : changes.x509;
    if (changes.certificateAuthority && x509) throw invalidArgument('an identity is either CA-signed or self-signed (thumbprints), not both');
    if (changes.certificateAuthority && moduleId) throw invalidArgument('CA-signed authentication is for devices here: give the module a thumbprint (self-signed) or keys');
    const { rec, was } = await this.mutate(() => {
      const r = this.ids.get(key(deviceId, moduleId));
      if (!r) throw new HubError(404, 'DeviceNotFound', `${describe(deviceId, moduleId)} does not exist`);
      const before = r.status;
      if (changes.primaryKey !== undefined) r.primaryKey = changes.primaryKey;
      if (changes.secondaryKey !== undefined) r.secondaryKey = changes.secondaryKey;
      if (changes.status !== undefined) r.status = changes.status;
      if (changes.statusReason === null) delete r.statusReason;
      else if (changes.statusReason !== undefined) r.statusReason = changes.statusReason;
      if (changes.iotEdge !== undefined) { if (changes.iotEdge) r.iotEdge = true; else delete r.iotEdge; }
      if (x509 === null) { delete r.x509Thumbprints; delete r.x509Ca; }
      else if (x509 !== undefined) { r.x509Thumbprints = x509; delete r.x509Ca; }
      if (changes.certificateAuthority) { r.x509Ca = true; delete r.x509Thumbprints; }
      return { rec: r, was: before };
    });
    if (rec.status === 'disabled' && was !== 'disabled') this.emit('disabled', deviceId, moduleId);
    return this.info(rec);
  }

  get(deviceId: string, moduleId?: string): IdentityInfo | undefined {
    this.refresh();
    const rec = this.record(deviceId, moduleId);
    return rec ? this.info(rec) : undefined;
  }

  /** All identities; with `deviceId`, only that device's modules. */
  list(deviceId?: string): IdentityInfo[] {
    this.refresh();
    const out: IdentityInfo[] = [];
    for (const r of this.ids.values()) {
      if (deviceId === undefined ? !r.moduleId : r.deviceId === deviceId && r.moduleId) out.push(this.info(r));
    }
    return out.sort((a, b) => (a.deviceId + '/' + (a.moduleId ?? '')).localeCompare(b.deviceId + '/' + (b.moduleId ?? '')));
  }

  /** Every identity, devices and modules, as raw records (for queries; keys included). */
  records(): IdentityRecord[] {
    this.refresh();
    return [...this.ids.values()];
  }

  /** The raw record (keys included), for authentication. */
  record(deviceId: string, moduleId?: string): IdentityRecord | undefined {
    this.refresh();
    return this.ids.get(key(deviceId, moduleId));
  }

  get size(): number { this.refresh(); return this.ids.size; }

  connectionString(rec: IdentityRecord, which: 'primary' | 'secondary' = 'primary'): string {
    return `HostName=${this.hostName};DeviceId=${rec.deviceId}` + (rec.moduleId ? `;ModuleId=${rec.moduleId}` : '') +
      (rec.x509Thumbprints || rec.x509Ca ? ';x509=true' : `;SharedAccessKey=${which === 'primary' ? rec.primaryKey : rec.secondaryKey}`) +
      (this.gatewayHostName ? `;GatewayHostName=${this.gatewayHostName}` : '');
  }

  flush(): Promise<void> { return this.file.flush(); }

  private info(rec: IdentityRecord): IdentityInfo {
    return { ...rec, connectionString: this.connectionString(rec), secondaryConnectionString: this.connectionString(rec, 'secondary') };
  }
}

/** Thumbprints in canonical form, or an error saying what a thumbprint is. */
function thumbprints(x: { primaryThumbprint: string; secondaryThumbprint?: string }): { primary: string; secondary?: string } {
  const primary = normalizeThumbprint(x.primaryThumbprint);
  const secondary = x.secondaryThumbprint ? normalizeThumbprint(x.secondaryThumbprint) : undefined;
  if (![primary, secondary ?? primary].every((t) => THUMBPRINT_RE.test(t))) {
    throw invalidArgument('an X.509 thumbprint is 40 (SHA-1) or 64 (SHA-256) hex digits');
  }
  return { primary, ...(secondary ? { secondary } : {}) };
}

function key(deviceId: string, moduleId?: string): string {
  return moduleId ? `${deviceId}/${moduleId}` : deviceId;
}

function describe(deviceId: string, moduleId?: string): string {
  return moduleId ? `module '${deviceId}/${moduleId}'` : `device '${deviceId}'`;
}
