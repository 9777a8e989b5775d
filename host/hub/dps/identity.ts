// What makes the local DPS one provisioning service across restarts: its id scope (`0ne` + 8 upper-case hex digits,
// like Azure's) and the shared access policy of its service API (`provisioningserviceowner`), generated once and kept
// in `{dataDir}/dps.json` (created under the file's lock, so the hub and `iothub-wasm hub dps` agree on them).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { JsonFile } from '../state/store.js';
import { StoredRecord } from '../state/json.js';
import { parseSasToken, signedWithOneOf, splitResource } from '../auth/sas.js';

export const DPS_SERVICE_POLICY = 'provisioningserviceowner';

export interface DpsPolicy { keyName: string; primaryKey: string; secondaryKey: string }

interface DpsFile { version: 1; idScope: string; policies: DpsPolicy[] }

const ID_SCOPE_RE = /^0ne[0-9A-F]{8}$/;

export const newIdScope = (): string => `0ne${randomBytes(4).toString('hex').toUpperCase()}`;

const newKey = () => randomBytes(32).toString('base64');

function parse(loaded: unknown, path: string): { idScope: string; policies: DpsPolicy[] } | undefined {
  if (loaded === undefined) return undefined;
  const r = StoredRecord.of(loaded, path);
  const idScope = r.str('idScope');
  if (!ID_SCOPE_RE.test(idScope)) throw r.bad(`'idScope' must be 0ne followed by 8 upper-case hex digits`);
  const list = r.get('policies');
  if (!Array.isArray(list)) throw r.bad(`'policies' must be an array`);
  const policies = list.map((raw, i) => {
    const p = StoredRecord.of(raw, `${path}: policies[${i}]`);
    const keyName = p.str('keyName');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(keyName)) throw p.bad('keyName is not a policy name');
    const [primaryKey, secondaryKey] = [p.str('primaryKey'), p.str('secondaryKey')];
    for (const k of [primaryKey, secondaryKey]) if (Buffer.from(k, 'base64').length < 16) throw p.bad('a key must be base64 of at least 16 bytes');
    return { keyName, primaryKey, secondaryKey };
  });
  return { idScope, policies };
}

export type DpsServiceCheck = { ok: true; policy: string; expiresAt: number } | { ok: false; reason: string };

export class DpsIdentity {
  readonly idScope: string;
  private readonly policies: DpsPolicy[];

  constructor(dataDir: string | null) {
    let state: { idScope: string; policies: DpsPolicy[] } | undefined;
    const file = new JsonFile<DpsFile>(dataDir ? join(dataDir, 'dps.json') : null, () => ({ version: 1, idScope: state!.idScope, policies: state!.policies }));
    const path = file.path ?? 'dps.json';
    state = parse(file.load(), path);
    const complete = (s: typeof state) => !!s && s.policies.some((p) => p.keyName === DPS_SERVICE_POLICY);
    if (!complete(state)) {
      file.updateSync((onDisk) => {
        state = (file.path ? parse(onDisk, path) : undefined) ?? { idScope: newIdScope(), policies: [] };
        if (!complete(state)) state.policies.push({ keyName: DPS_SERVICE_POLICY, primaryKey: newKey(), secondaryKey: newKey() });
      }, 'the DPS settings');
    }
    this.idScope = state!.idScope;
    this.policies = state!.policies;
  }

  policy(keyName = DPS_SERVICE_POLICY): DpsPolicy | undefined { return this.policies.find((p) => p.keyName === keyName); }

  /** `HostName={host};SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=…` for azure-iot-provisioning-service. */
  connectionString(host: string, keyName = DPS_SERVICE_POLICY): string {
    const p = this.policy(keyName);
    if (!p) throw new Error(`no DPS shared access policy '${keyName}'`);
    return `HostName=${host};SharedAccessKeyName=${p.keyName};SharedAccessKey=${p.primaryKey}`;
  }

  /** A service token: `skn` names a DPS policy, the resource is one of `hosts`, not expired, signed with the policy's key. */
  verify(token: string, hosts: string[], nowSeconds: number): DpsServiceCheck {
    const t = parseSasToken(token);
    if (typeof t === 'string') return { ok: false, reason: t };
    if (!t.skn) return { ok: false, reason: 'the SAS token names no policy (skn)' };
    const p = this.policy(t.skn);
    if (!p) return { ok: false, reason: `no DPS shared access policy '${t.skn}'` };
    const host = splitResource(t.sr).host;
    if (!hosts.map((h) => h.toLowerCase()).includes(host)) return { ok: false, reason: `SAS resource '${t.sr}' is not this provisioning service (${hosts[0]})` };
    if (t.se <= nowSeconds) return { ok: false, reason: `SAS token expired ${nowSeconds - t.se} s ago` };
    if (!signedWithOneOf(t, [p.primaryKey, p.secondaryKey])) return { ok: false, reason: `SAS signature does not match policy '${p.keyName}'` };
    return { ok: true, policy: p.keyName, expiresAt: t.se };
  }
}
