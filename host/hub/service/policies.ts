// Shared access policies of the hub's service side (iothubowner, service, registryRead, registryReadWrite, device):
// keys kept in `{dataDir}/policies.json`, service connection strings, and SAS checks for service clients.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { JsonFile } from '../state/store.js';
import { StoredRecord } from '../state/json.js';
import { parseSasToken, signedWithOneOf, splitResource } from '../auth/sas.js';

export type Right = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

export interface PolicyRecord {
  keyName: string;
  primaryKey: string;
  secondaryKey: string;
  rights: Right[];
}

interface PolicyFile { version: 1; policies: PolicyRecord[] }

/** IoT Hub's default policies and their rights. */
export const DEFAULT_POLICIES: Readonly<Record<string, readonly Right[]>> = {
  iothubowner: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'],
  service: ['ServiceConnect'],
  device: ['DeviceConnect'],
  registryRead: ['RegistryRead'],
  registryReadWrite: ['RegistryRead', 'RegistryWrite'],
};

/** An authenticated service principal: which policy, its rights, until when, and what the token may reach. */
export interface ServiceClaims {
  policy: string;
  rights: Set<Right>;
  expiresAt: number;
  /** The token's scope under the hub, from its `sr`: `''` for the whole hub, else a path such as `/devices/A`. */
  resource: string;
}

export type PolicyCheck = { ok: true; claims: ServiceClaims } | { ok: false; reason: string };

const newKey = () => randomBytes(32).toString('base64');

const RIGHTS: readonly Right[] = ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'];

/** policies.json checked and copied into fresh records (known fields, own properties); anything else is an error. */
function parsePolicyFile(loaded: unknown, path: string): PolicyRecord[] {
  if (loaded === undefined) return [];
  const bad = (why: string) => new Error(`${path}: ${why}; fix or delete the file`);
  const list = typeof loaded === 'object' && loaded !== null && Object.hasOwn(loaded, 'policies') ? (loaded as { policies: unknown }).policies : undefined;
  if (!Array.isArray(list)) throw bad(`'policies' must be an array`);
  return list.map((raw: unknown, i) => {
    const r = StoredRecord.of(raw, `${path}: policies[${i}]`);
    const keyName = r.get('keyName'), rights = r.get('rights');
    if (typeof keyName !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(keyName)) throw r.bad('keyName is not a policy name');
    const [primaryKey, secondaryKey] = [r.str('primaryKey'), r.str('secondaryKey')];
    for (const [n, k] of [['primaryKey', primaryKey], ['secondaryKey', secondaryKey]] as const) {
      if (Buffer.from(k, 'base64').length < 16) throw r.bad(`${n} must be a base64 key`);
    }
    if (!Array.isArray(rights) || !rights.every((x) => RIGHTS.includes(x as Right))) throw r.bad(`rights must list ${RIGHTS.join(', ')}`);
    return { keyName, primaryKey, secondaryKey, rights: [...new Set(rights as Right[])] };
  });
}

/** The host part of a SAS resource or audience (`sb://host:port/path` → `host:port`), lower case. */
export function resourceHost(resource: string): string {
  return splitResource(resource).host;
}

/**
 * The path segments of a resource under the hub (`sb://host:port/a//b/` → `['a', 'b']`). `twins/{id}` is written
 * `devices/{id}`: IoT Hub keeps a device's twin and methods under the device's resource.
 */
function scopeSegments(pathOrResource: string, hasHost: boolean): string[] {
  const segs = hasHost ? splitResource(pathOrResource).path : pathOrResource.split('/').filter((x) => x !== '');
  if (segs[0] === 'twins') segs[0] = 'devices';
  return segs;
}

/** The normalised scope of a SAS resource (`localhost/devices/A/` → `/devices/A`; the bare host → `''`). */
export function resourceScope(sr: string): string {
  const segs = scopeSegments(sr, true);
  return segs.length ? '/' + segs.join('/') : '';
}

/**
 * Whether a token's scope reaches `path` (e.g. `/devices/B`, `/twins/B/methods`): IoT Hub treats `sr` as a URI prefix
 * matched by whole path segments, so `/devices/A` covers `/devices/A/modules/m` but not `/devices/AB` or `/devices/B`.
 */
export function claimsCover(claims: Pick<ServiceClaims, 'resource'>, path: string): boolean {
  const scope = scopeSegments(claims.resource, false);
  const want = scopeSegments(path, false);
  return scope.length <= want.length && scope.every((s, i) => s === want[i]);
}

export class Policies {
  private readonly byName = new Map<string, PolicyRecord>();
  private readonly file: JsonFile<PolicyFile>;

  constructor(dataDir: string | null, public hostName: string) {
    this.file = new JsonFile<PolicyFile>(dataDir ? join(dataDir, 'policies.json') : null,
      () => ({ version: 1, policies: [...this.byName.values()] }));
    // Created once, under the file's lock, so that the hub and `iothub-wasm hub policy` (and two hubs started
    // together) end up with the same keys; afterwards the file is only read.
    const adopt = (loaded: PolicyFile | undefined) => {
      this.byName.clear();
      for (const p of parsePolicyFile(loaded, this.file.path ?? '')) this.byName.set(p.keyName, p);
      return Object.keys(DEFAULT_POLICIES).some((k) => !this.byName.has(k));
    };
    if (adopt(this.file.load())) {
      this.file.updateSync((onDisk) => {
        if (this.file.path) adopt(onDisk);
        for (const [keyName, rights] of Object.entries(DEFAULT_POLICIES)) {
          if (!this.byName.has(keyName)) this.byName.set(keyName, { keyName, primaryKey: newKey(), secondaryKey: newKey(), rights: [...rights] });
        }
      }, 'the shared access policies');
    }
  }

  get(keyName: string): PolicyRecord | undefined { return this.byName.get(keyName); }

  list(): PolicyRecord[] { return [...this.byName.values()]; }

  /** `HostName=…;SharedAccessKeyName=…;SharedAccessKey=…` (host may carry a port, e.g. `localhost:5671` for AMQP). */
  connectionString(keyName = 'iothubowner', host = this.hostName, which: 'primary' | 'secondary' = 'primary'): string {
    const p = this.byName.get(keyName);
    if (!p) throw new Error(`no shared access policy '${keyName}'`);
    return `HostName=${host};SharedAccessKeyName=${p.keyName};SharedAccessKey=${which === 'primary' ? p.primaryKey : p.secondaryKey}`;
  }

  /** An Event Hub-compatible connection string for the built-in events endpoint. */
  eventHubConnectionString(keyName: string, endpointHost: string, entityPath: string): string {
    const p = this.byName.get(keyName);
    if (!p) throw new Error(`no shared access policy '${keyName}'`);
    return `Endpoint=sb://${endpointHost}/;SharedAccessKeyName=${p.keyName};SharedAccessKey=${p.primaryKey};EntityPath=${entityPath}`;
  }

  /**
   * Checks a service token: `skn` names a policy (or `keyName` does, for SASL PLAIN users), the resource's host is one
   * of `hosts`, not expired, signed with either key of the policy. The claims carry the token's scope: callers check
   * what is reached with claimsCover.
   */
  verify(token: string, hosts: string[], nowSeconds: number, keyName?: string): PolicyCheck {
    const t = parseSasToken(token);
    if (typeof t === 'string') return { ok: false, reason: t };
    const name = t.skn ?? keyName;
    if (!name) return { ok: false, reason: 'the SAS token names no policy (skn)' };
    if (keyName && t.skn && keyName !== t.skn) return { ok: false, reason: `user names policy '${keyName}' but the token '${t.skn}'` };
    const p = this.byName.get(name);
    if (!p) return { ok: false, reason: `no shared access policy '${name}'` };
    const host = resourceHost(t.sr);
    if (!hosts.map((h) => h.toLowerCase()).includes(host)) return { ok: false, reason: `SAS resource '${t.sr}' is not this hub (${hosts[0]})` };
    if (t.se <= nowSeconds) return { ok: false, reason: `SAS token expired ${nowSeconds - t.se} s ago` };
    // Event Hubs SDKs sign with the key's UTF-8 bytes, IoT Hub SDKs with the decoded key: both are accepted.
    if (signedWithOneOf(t, [p.primaryKey, p.secondaryKey], true)) {
      return { ok: true, claims: { policy: p.keyName, rights: new Set(p.rights), expiresAt: t.se, resource: resourceScope(t.sr) } };
    }
    return { ok: false, reason: `SAS signature does not match policy '${p.keyName}'` };
  }

  flush(): Promise<void> { return this.file.flush(); }
}
