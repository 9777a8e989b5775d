// The hub's CA store: certificate authorities that may sign the certificates of CA-signed X.509 devices
// (`authentication.type: certificateAuthority`), kept in `{dataDir}/certificates.json` by name. Only a *verified* CA
// admits devices. IoT Hub verifies a CA by proof of possession (a certificate signed with the CA's key over a code it
// hands out); the local hub takes the user's word for it (`hub ca add … --verified`), and says so.
// The chain rule: the device's certificate, through the intermediates it presented, leads to a verified CA of the
// store; each link's signature checks (node:crypto X509Certificate checkIssued + verify), each certificate is within
// its validity, each intermediate is a CA; the leaf's subject CN is the device id.
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { HubError, invalidArgument } from '../errors.js';
import { JsonFile } from './store.js';
import { StoredRecord, isObject } from './json.js';

export interface CaRecord {
  name: string;
  /** The CA certificate (PEM). */
  pem: string;
  /** SHA-256 thumbprint, upper-case hex without separators. */
  thumbprint: string;
  subject: string;
  validTo: string;
  isVerified: boolean;
  createdAt: string;
}

interface CaFile { version: 1; certificates: CaRecord[] }

/** Intermediates followed from a device certificate to a CA of the store. */
export const CHAIN_MAX_DEPTH = 5;

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** The CN of an X509Certificate's subject (`CN=dev-1\nO=…`), or undefined. */
export function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

const thumbprintOf = (cert: X509Certificate) => cert.fingerprint256.replace(/:/g, '').toUpperCase();

function within(cert: X509Certificate, now: number): 'early' | 'expired' | undefined {
  if (!(Date.parse(cert.validFrom) <= now)) return 'early';
  if (!(now < Date.parse(cert.validTo))) return 'expired';
  return undefined;
}

function parseRecord(raw: unknown, where: string): CaRecord {
  const r = StoredRecord.of(raw, where);
  const isVerified = r.get('isVerified');
  if (typeof isVerified !== 'boolean') throw r.bad(`'isVerified' must be true or false`);
  const rec: CaRecord = {
    name: r.str('name'), pem: r.str('pem'), thumbprint: r.str('thumbprint'), subject: r.str('subject'),
    validTo: r.str('validTo'), isVerified, createdAt: r.str('createdAt'),
  };
  if (!NAME_RE.test(rec.name)) throw r.bad(`'name' must be 1-64 characters from A-Z a-z 0-9 _ . -`);
  try { new X509Certificate(rec.pem); } catch { throw r.bad(`'pem' is not a certificate`); }
  return rec;
}

export type ChainVerdict = { ok: true; /** seconds since the epoch: the earliest end of validity along the chain */ expiresAt: number; ca: string } | { ok: false; reason: string };

/**
 * The CA store, shared like the registry by the running hub and `iothub-wasm hub ca …` in another process: each change
 * is a read-modify-write under the file's lock, and a lookup re-reads the file when it changed on disk.
 */
export class CertificateAuthorities {
  private cas = new Map<string, CaRecord>();
  private parsed = new Map<string, X509Certificate>();
  private readonly file: JsonFile<CaFile>;

  constructor(dataDir: string | null) {
    this.file = new JsonFile<CaFile>(dataDir ? join(dataDir, 'certificates.json') : null,
      () => ({ version: 1, certificates: [...this.cas.values()] }));
    this.adopt(this.file.load());
  }

  private adopt(loaded: CaFile | undefined): void {
    const next = new Map<string, CaRecord>();
    if (loaded !== undefined) {
      const list = isObject(loaded) && Object.hasOwn(loaded, 'certificates') ? (loaded as { certificates: unknown }).certificates : undefined;
      if (!Array.isArray(list)) throw new Error(`${this.file.path}: 'certificates' must be an array; fix or delete the file`);
      list.forEach((raw, i) => { const r = parseRecord(raw, `${this.file.path}: certificates[${i}]`); next.set(r.name, r); });
    }
    this.cas = next;
    this.parsed = new Map([...next.values()].map((r) => [r.name, new X509Certificate(r.pem)]));
  }

  private refresh(): void {
    if (!this.file.changedOnDisk()) return;
    try { this.adopt(this.file.load()); } catch { /* keep what was read before: the next change is read again */ }
  }

  /** Adds a CA certificate (PEM) by name; `verified` marks it as proven (the local hub's stand-in for proof of possession). */
  async add(name: string, pem: string, opts: { verified?: boolean } = {}): Promise<CaRecord> {
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw invalidArgument(`invalid CA name ${JSON.stringify(String(name).slice(0, 70))}: 1-64 characters from A-Z a-z 0-9 _ . -`);
    let cert: X509Certificate;
    try { cert = new X509Certificate(pem); } catch { throw invalidArgument(`'${name}': not a PEM certificate`); }
    if (!cert.ca) throw invalidArgument(`'${name}' (${commonName(cert) ?? cert.subject}) is not a CA certificate: it needs basicConstraints CA:TRUE`);
    if (within(cert, Date.now()) === 'expired') throw invalidArgument(`'${name}' expired ${cert.validTo}`);
    const rec: CaRecord = {
      name, pem: cert.toString(), thumbprint: thumbprintOf(cert), subject: cert.subject.replace(/\n/g, ', '),
      validTo: new Date(Date.parse(cert.validTo)).toISOString(), isVerified: !!opts.verified, createdAt: new Date().toISOString(),
    };
    await this.file.update((onDisk) => {
      if (this.file.path) this.adopt(onDisk);
      if (this.cas.has(name)) throw new HubError(409, 'DeviceAlreadyExists', `a CA named '${name}' already exists (remove it first)`);
      const same = [...this.cas.values()].find((c) => c.thumbprint === rec.thumbprint);
      if (same) throw new HubError(409, 'DeviceAlreadyExists', `this certificate is already in the store as '${same.name}'`);
      this.cas.set(name, rec);
      this.parsed.set(name, cert);
    }, 'the CA store');
    return rec;
  }

  /** Removes a CA by name; false when there was none. */
  async remove(name: string): Promise<boolean> {
    return this.file.update((onDisk) => {
      if (this.file.path) this.adopt(onDisk);
      this.parsed.delete(name);
      return this.cas.delete(name);
    }, 'the CA store');
  }

  list(): CaRecord[] {
    this.refresh();
    return [...this.cas.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  flush(): Promise<void> { return this.file.flush(); }

  /**
   * Whether `leaf` (with the intermediates the device presented) chains to a verified CA of the store and names
   * `deviceId` as its subject CN; the refusal says which rule failed.
   */
  verifyChain(deviceId: string, leaf: X509Certificate, presented: X509Certificate[], now = Date.now()): ChainVerdict {
    this.refresh();
    const cn = commonName(leaf);
    if (cn !== deviceId) return { ok: false, reason: `client certificate subject CN ${cn === undefined ? '(none)' : `'${cn}'`} is not the device id '${deviceId}'` };
    const lifetime = (c: X509Certificate, what: string): string | undefined => {
      const w = within(c, now);
      return w === 'early' ? `${what} is not valid before ${c.validFrom}` : w === 'expired' ? `${what} expired ${c.validTo}` : undefined;
    };
    const leafTime = lifetime(leaf, `client certificate of '${deviceId}'`);
    if (leafTime) return { ok: false, reason: leafTime };
    let expiresAt = Date.parse(leaf.validTo);
    const signedBy = (c: X509Certificate, issuer: X509Certificate) => {
      try { return c.checkIssued(issuer) && c.verify(issuer.publicKey); } catch { return false; }
    };
    let cur = leaf;
    for (let depth = 0; depth <= CHAIN_MAX_DEPTH; depth++) {
      const issuers = [...this.parsed.entries()].filter(([, ca]) => signedBy(cur, ca));
      const verified = issuers.find(([name]) => this.cas.get(name)?.isVerified);
      if (verified) {
        const [name, ca] = verified;
        const caTime = lifetime(ca, `CA '${name}'`);
        if (caTime) return { ok: false, reason: caTime };
        expiresAt = Math.min(expiresAt, Date.parse(ca.validTo));
        return { ok: true, expiresAt: Math.floor(expiresAt / 1000), ca: name };
      }
      if (issuers.length) return { ok: false, reason: `client certificate of '${deviceId}' is signed by CA '${issuers[0]![0]}', which is not verified (iothub-wasm hub ca add … --verified)` };
      const next = presented.find((p) => p !== cur && p.ca && signedBy(cur, p));
      if (!next) return { ok: false, reason: `client certificate of '${deviceId}' (issuer ${cur.issuer.replace(/\n/g, ', ')}) chains to no CA in the hub's store` };
      const t = lifetime(next, `intermediate CA '${commonName(next) ?? next.subject}' of '${deviceId}'`);
      if (t) return { ok: false, reason: t };
      expiresAt = Math.min(expiresAt, Date.parse(next.validTo));
      cur = next;
    }
    return { ok: false, reason: `client certificate chain of '${deviceId}' is longer than ${CHAIN_MAX_DEPTH} intermediates` };
  }
}
