// Who a device's CONNECT says it is, and whether it proves it: client id and username (IoT Hub's
// `{host}/{deviceId}[/{moduleId}]/?api-version=…`) against the registry, then a SAS token signed with one of the
// identity's keys, or, for an X.509 identity, a registered client certificate within its validity (self-signed: by
// thumbprint; CA-signed: its chain to a verified CA of the hub's store, subject CN = the device id). The CONNACK
// return codes are IoT Hub's: 2 (bad client id), 4 (bad username or password), 5 (not authorised).
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { verifySasToken } from '../auth/sas.js';
import { normalizeThumbprint, type IdentityRecord, type Registry } from '../state/registry.js';
import type { CertificateAuthorities } from '../state/certificates.js';
import type { Identity } from '../state/messages.js';
import { parseUsername } from './topics.js';

export interface ConnectClaim {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  /** The hub's name (named in a refusal). */
  hostName: string;
  /** Every host name a username and SAS resource may carry, lower case. */
  hosts: string[];
  registry: Registry;
  /** The TLS client certificate, if the connection is TLS and the device presented one (with its chain when `detailed`). */
  peerCertificate: PeerCertificateSource;
}

/**
 * The TLS socket's getPeerCertificate: with `detailed`, the certificates the device sent after its own are reachable
 * through `issuerCertificate` (a CA-signed device may send intermediates). A source that ignores the argument
 * still admits devices whose certificate a CA of the store signed directly.
 */
export type PeerCertificateSource = (detailed?: boolean) => PeerCertificate | DetailedPeerCertificate | undefined;

/** The leaf certificate and what the device sent with it, parsed; undefined when there is no certificate. */
function presentedChain(source: PeerCertificateSource): { leaf: X509Certificate; rest: X509Certificate[] } | undefined {
  const peer = source(true);
  if (!peer || !peer.raw) return undefined;
  const leaf = new X509Certificate(peer.raw);
  const rest: X509Certificate[] = [];
  let c = peer as Partial<DetailedPeerCertificate>;
  for (let i = 0; i < 8 && c.issuerCertificate && c.issuerCertificate !== c && c.issuerCertificate.raw; i++) {
    c = c.issuerCertificate;
    try { rest.push(new X509Certificate(c.raw!)); } catch { break; }
  }
  return { leaf, rest };
}

export type ConnectVerdict =
  | { ok: true; identity: Identity; /** When the credential expires (seconds since the epoch). */ expiresAt: number }
  | { ok: false; returnCode: 2 | 4 | 5; reason: string };

const refused = (returnCode: 2 | 4 | 5, reason: string): ConnectVerdict => ({ ok: false, returnCode, reason });

export type Proof = { ok: true; /** seconds since the epoch */ expiresAt: number } | { ok: false; reason: string; malformed?: boolean };

/** Whether an identity authenticates with a client certificate (self-signed or CA-signed) rather than a SAS token. */
export const usesCertificate = (rec: IdentityRecord): boolean =>
  (Object.hasOwn(rec, 'x509Thumbprints') && !!rec.x509Thumbprints) || (Object.hasOwn(rec, 'x509Ca') && rec.x509Ca === true);

/**
 * Whether a credential proves an identity the registry holds: for an X.509 identity, a client certificate within its
 * validity (the one of the TLS handshake) that is registered by thumbprint (self-signed) or chains to a verified CA of
 * `authorities` with the device id as its subject CN (CA-signed); else a SAS token for
 * `{host}/devices/{id}[/modules/{mid}]` signed with one of its keys. The same rule for every device transport (MQTT's
 * password, HTTPS's Authorization, AMQP's SASL). A transport that passes no `authorities` admits no CA-signed device.
 */
export function proveIdentity(rec: IdentityRecord, identity: Identity,
  o: { sasToken: string | undefined; peerCertificate: PeerCertificateSource; hosts: string[]; authorities?: CertificateAuthorities }): Proof {
  const name = identity.moduleId ? `${identity.deviceId}/${identity.moduleId}` : identity.deviceId;
  if (Object.hasOwn(rec, 'x509Ca') && rec.x509Ca === true) {
    let chain: ReturnType<typeof presentedChain>;
    try { chain = presentedChain(o.peerCertificate); } catch { return { ok: false, reason: `the client certificate of '${name}' cannot be read` }; }
    if (!chain) return { ok: false, reason: 'a CA-signed X.509 device must present its client certificate (over TLS)' };
    if (!o.authorities) return { ok: false, reason: `'${name}' is CA-signed, and this transport has no CA store to check its chain against` };
    const v = o.authorities.verifyChain(identity.deviceId, chain.leaf, chain.rest);
    return v.ok ? { ok: true, expiresAt: v.expiresAt } : { ok: false, reason: v.reason };
  }
  if (Object.hasOwn(rec, 'x509Thumbprints') && rec.x509Thumbprints) {
    const cert = o.peerCertificate();
    if (!cert || !cert.fingerprint) return { ok: false, reason: 'an X.509 device must present its client certificate (over TLS)' };
    const presented = [normalizeThumbprint(cert.fingerprint), normalizeThumbprint(cert.fingerprint256 ?? '')];
    const allowed = [rec.x509Thumbprints.primary, rec.x509Thumbprints.secondary].filter((t): t is string => !!t);
    if (!presented.some((t) => allowed.includes(t))) return { ok: false, reason: `client certificate ${presented[0]} is not registered for '${name}'` };
    const validFrom = Date.parse(cert.valid_from), validTo = Date.parse(cert.valid_to), now = Date.now();
    if (!(validFrom <= now)) return { ok: false, reason: `client certificate of '${name}' is not valid before ${cert.valid_from}` };
    if (!(now < validTo)) return { ok: false, reason: `client certificate of '${name}' expired ${cert.valid_to}` };
    return { ok: true, expiresAt: Math.floor(validTo / 1000) };
  }
  if (!o.sasToken) return { ok: false, reason: 'no SAS token given', malformed: true };
  const path = identity.moduleId ? `/devices/${identity.deviceId}/modules/${identity.moduleId}` : `/devices/${identity.deviceId}`;
  return verifySasToken(o.sasToken, o.hosts.map((h) => h + path), [rec.primaryKey, rec.secondaryKey], Math.floor(Date.now() / 1000));
}

export function authenticateDevice(o: ConnectClaim): ConnectVerdict {
  const { clientId, username, password } = o;
  const slash = clientId.indexOf('/');
  const identity: Identity = slash < 0 ? { deviceId: clientId } : { deviceId: clientId.slice(0, slash), moduleId: clientId.slice(slash + 1) };
  if (!identity.deviceId || identity.moduleId === '' || identity.moduleId?.includes('/')) {
    return refused(2, 'client id must be {deviceId} or {deviceId}/{moduleId}');
  }
  if (username === undefined) return refused(4, 'no username');
  const u = parseUsername(username);
  if (!u) return refused(4, `malformed username '${username}'`);
  if (!o.hosts.includes(u.host.toLowerCase())) return refused(4, `username host '${u.host}' is not this hub (${o.hostName})`);
  if (u.deviceId !== identity.deviceId || u.moduleId !== identity.moduleId) {
    return refused(4, `username names '${u.moduleId ? `${u.deviceId}/${u.moduleId}` : u.deviceId}' but the client id is '${clientId}'`);
  }
  const rec = o.registry.record(identity.deviceId, identity.moduleId);
  if (!rec) return refused(5, `${identity.moduleId ? 'module' : 'device'} '${clientId}' is not registered`);
  if (rec.status !== 'enabled') return refused(5, `'${clientId}' is disabled`);
  if (!usesCertificate(rec) && (!password || password.length === 0)) return refused(4, 'no password (SAS token) given');
  const proof = proveIdentity(rec, identity, { sasToken: password?.toString('utf8'), peerCertificate: o.peerCertificate, hosts: o.hosts, authorities: o.registry.authorities });
  if (!proof.ok) return refused(proof.malformed ? 4 : 5, proof.reason);
  const expiresAt = proof.expiresAt;
  return { ok: true, identity, expiresAt };
}
