// The identity registry: devices and modules with primary and secondary keys, kept in `{dataDir}/registry.json`.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { JsonFile } from './store.js';

export interface IdentityRecord {
  deviceId: string;
  moduleId?: string;
  primaryKey: string;
  secondaryKey: string;
  status: 'enabled' | 'disabled';
  createdAt: string;
  /** X.509 self-signed authentication: SHA-1 or SHA-256 thumbprints (hex) of the certificates the device may present. */
  x509Thumbprints?: { primary: string; secondary?: string };
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
}

/** A thumbprint in the hub's canonical form: upper-case hex without separators. */
export function normalizeThumbprint(t: string): string {
  return t.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

interface RegistryFile { version: 1; identities: IdentityRecord[] }

const ID_RE = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;

export class RegistryError extends Error {
  constructor(message: string, readonly code: 'NotFound' | 'Conflict' | 'BadRequest') {
    super(message);
  }
}

export function validateId(kind: 'device' | 'module', id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new RegistryError(
      `invalid ${kind} id '${id}': 1-128 characters from A-Z a-z 0-9 - . % _ * ? ! ( ) , : = @ $ ' (no '/', '#' or '+')`,
      'BadRequest');
  }
}

function validateKey(key: string): void {
  const raw = Buffer.from(key, 'base64');
  if (raw.length < 16 || raw.length > 64 || raw.toString('base64') !== key) {
    throw new RegistryError('a key must be base64 of 16 to 64 bytes', 'BadRequest');
  }
}

export const newKey = () => randomBytes(32).toString('base64');

export interface RegistryEvents {
  added: [IdentityInfo];
  removed: [deviceId: string, moduleId: string | undefined];
  disabled: [deviceId: string, moduleId: string | undefined];
}

export class Registry extends EventEmitter<RegistryEvents> {
  private readonly ids = new Map<string, IdentityRecord>();
  private readonly file: JsonFile<RegistryFile>;
  /** Set by the hub when it listens, e.g. `localhost:8883`; added to connection strings as GatewayHostName. */
  gatewayHostName: string | undefined;

  constructor(dataDir: string | null, public hostName: string) {
    super();
    this.file = new JsonFile<RegistryFile>(dataDir ? join(dataDir, 'registry.json') : null,
      () => ({ version: 1, identities: [...this.ids.values()] }));
    this.load();
  }

  private load(): void {
    const loaded = this.file.load();
    this.ids.clear();
    for (const r of loaded?.identities ?? []) this.ids.set(key(r.deviceId, r.moduleId), r);
  }

  /** Re-reads the file when another process (e.g. `iothub-wasm hub device add`) changed it. */
  refresh(): boolean {
    if (!this.file.changedOnDisk()) return false;
    try { this.load(); } catch { return false; }
    return true;
  }

  async addDevice(deviceId: string, opts: AddOptions = {}): Promise<IdentityInfo> {
    validateId('device', deviceId);
    return this.add(deviceId, undefined, opts);
  }

  async addModule(deviceId: string, moduleId: string, opts: AddOptions = {}): Promise<IdentityInfo> {
    validateId('device', deviceId);
    validateId('module', moduleId);
    if (!this.ids.has(key(deviceId))) throw new RegistryError(`device '${deviceId}' does not exist`, 'NotFound');
    return this.add(deviceId, moduleId, opts);
  }

  private async add(deviceId: string, moduleId: string | undefined, opts: AddOptions): Promise<IdentityInfo> {
    const k = key(deviceId, moduleId);
    if (this.ids.has(k)) throw new RegistryError(`${describe(deviceId, moduleId)} already exists`, 'Conflict');
    if (opts.primaryKey) validateKey(opts.primaryKey);
    if (opts.secondaryKey) validateKey(opts.secondaryKey);
    const rec: IdentityRecord = {
      deviceId,
      ...(moduleId ? { moduleId } : {}),
      primaryKey: opts.primaryKey ?? newKey(),
      secondaryKey: opts.secondaryKey ?? newKey(),
      status: opts.status ?? 'enabled',
      createdAt: new Date().toISOString(),
      ...(opts.x509 ? {
        x509Thumbprints: {
          primary: normalizeThumbprint(opts.x509.primaryThumbprint),
          ...(opts.x509.secondaryThumbprint ? { secondary: normalizeThumbprint(opts.x509.secondaryThumbprint) } : {}),
        },
      } : {}),
    };
    if (rec.x509Thumbprints && !/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(rec.x509Thumbprints.primary)) {
      throw new RegistryError('an X.509 thumbprint is 40 (SHA-1) or 64 (SHA-256) hex digits', 'BadRequest');
    }
    this.ids.set(k, rec);
    await this.file.save();
    const info = this.info(rec);
    this.emit('added', info);
    return info;
  }

  /** Removes a device (and its modules), or one module. Returns false when there was nothing to remove. */
  async remove(deviceId: string, moduleId?: string): Promise<boolean> {
    const k = key(deviceId, moduleId);
    if (!this.ids.has(k)) return false;
    this.ids.delete(k);
    if (!moduleId) for (const [kk, r] of this.ids) if (r.deviceId === deviceId) this.ids.delete(kk);
    await this.file.save();
    this.emit('removed', deviceId, moduleId);
    return true;
  }

  /** Enables or disables an identity; a disabled identity cannot connect. */
  async setStatus(deviceId: string, moduleId: string | undefined, status: 'enabled' | 'disabled'): Promise<IdentityInfo> {
    const rec = this.record(deviceId, moduleId);
    if (!rec) throw new RegistryError(`${describe(deviceId, moduleId)} does not exist`, 'NotFound');
    rec.status = status;
    await this.file.save();
    if (status === 'disabled') this.emit('disabled', deviceId, moduleId);
    return this.info(rec);
  }

  get(deviceId: string, moduleId?: string): IdentityInfo | undefined {
    const rec = this.record(deviceId, moduleId);
    return rec ? this.info(rec) : undefined;
  }

  /** All identities; with `deviceId`, only that device's modules. */
  list(deviceId?: string): IdentityInfo[] {
    const out: IdentityInfo[] = [];
    for (const r of this.ids.values()) {
      if (deviceId === undefined ? !r.moduleId : r.deviceId === deviceId && r.moduleId) out.push(this.info(r));
    }
    return out.sort((a, b) => (a.deviceId + '/' + (a.moduleId ?? '')).localeCompare(b.deviceId + '/' + (b.moduleId ?? '')));
  }

  /** The raw record (keys included), for authentication. */
  record(deviceId: string, moduleId?: string): IdentityRecord | undefined {
    return this.ids.get(key(deviceId, moduleId));
  }

  get size(): number { return this.ids.size; }

  connectionString(rec: IdentityRecord, which: 'primary' | 'secondary' = 'primary'): string {
    return `HostName=${this.hostName};DeviceId=${rec.deviceId}` + (rec.moduleId ? `;ModuleId=${rec.moduleId}` : '') +
      (rec.x509Thumbprints ? ';x509=true' : `;SharedAccessKey=${which === 'primary' ? rec.primaryKey : rec.secondaryKey}`) +
      (this.gatewayHostName ? `;GatewayHostName=${this.gatewayHostName}` : '');
  }

  flush(): Promise<void> { return this.file.flush(); }

  private info(rec: IdentityRecord): IdentityInfo {
    return { ...rec, connectionString: this.connectionString(rec), secondaryConnectionString: this.connectionString(rec, 'secondary') };
  }
}

function key(deviceId: string, moduleId?: string): string {
  return moduleId ? `${deviceId}/${moduleId}` : deviceId;
}

function describe(deviceId: string, moduleId?: string): string {
  return moduleId ? `module '${deviceId}/${moduleId}'` : `device '${deviceId}'`;
}
