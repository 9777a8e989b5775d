// The hub's TLS material: a local CA and a server certificate for localhost (+ 127.0.0.1, ::1, the hub's host name),
// generated with selfsigned on first run and kept in `{dataDir}/tls/`. Clients trust `ca.pem`.
import { X509Certificate, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { ensurePrivateDir, makePrivate, writeFileDurableSync } from './state/store.js';

/** Certificates are public; keys are not (0600, like every private file in the 0700 data folder). */
const CERT_MODE = 0o644;

export interface TlsMaterial { ca: string; cert: string; key: string; generated: boolean }

const DAY = 24 * 3600 * 1000;

function names(hostName: string): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', hostName.toLowerCase()])];
}

/** Whether a private key (PEM) belongs to a certificate: a kill between writing the two leaves a pair that does not. */
function keyMatches(cert: X509Certificate, keyPem: string): boolean {
  try {
    const der = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
    return der(createPublicKey(keyPem)).equals(der(cert.publicKey));
  } catch {
    return false;
  }
}

function leafCovers(certPem: string, keyPem: string, caPem: string, wanted: string[]): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey) || !keyMatches(cert, keyPem)) return false;
    if (Date.parse(cert.validTo) < Date.now() + DAY || Date.parse(ca.validTo) < Date.now() + DAY) return false;
    return wanted.every((n) => (isIP(n) ? cert.checkIP(n) : cert.checkHost(n)) !== undefined);
  } catch {
    return false;
  }
}

async function makeCa(): Promise<{ cert: string; key: string }> {
  const now = new Date(Date.now() - DAY);
  const r = await generate([{ name: 'commonName', value: 'iothub-wasm local hub CA' }, { name: 'organizationName', value: 'iothub-wasm' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    notBeforeDate: now, notAfterDate: new Date(now.getTime() + 10 * 365 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: r.cert, key: r.private };
}

async function makeLeaf(ca: { cert: string; key: string }, hostName: string): Promise<{ cert: string; key: string }> {
  const now = new Date(Date.now() - DAY);
  const r = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    notBeforeDate: now, notAfterDate: new Date(now.getTime() + 800 * DAY),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names(hostName).map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) },
    ],
  });
  return { cert: r.cert, key: r.private };
}

/** Loads the hub's CA and server certificate from `dir`, creating (or renewing) them when needed. */
export async function loadOrCreateTls(dir: string | null, hostName: string): Promise<TlsMaterial> {
  const p = (f: string) => join(dir ?? '', f);
  const wanted = names(hostName);
  if (dir) ensurePrivateDir(dir);
  if (dir && ['ca.pem', 'ca.key', 'cert.pem', 'key.pem'].every((f) => existsSync(p(f)))) {
    // folders written before keys were kept private
    makePrivate(p('ca.key'));
    makePrivate(p('key.pem'));
    const [ca, caKey, cert, key] = ['ca.pem', 'ca.key', 'cert.pem', 'key.pem'].map((f) => readFileSync(p(f), 'utf8')) as [string, string, string, string];
    if (leafCovers(cert, key, ca, wanted)) return { ca, cert, key, generated: false };
    // keep the CA users already trust when it is still valid; renew the leaf
    let caOk = false;
    try {
      const caCert = new X509Certificate(ca);
      caOk = Date.parse(caCert.validTo) > Date.now() + DAY && keyMatches(caCert, caKey);
    } catch { /* regenerate */ }
    if (caOk) {
      const leaf = await makeLeaf({ cert: ca, key: caKey }, hostName);
      // a kill between these two leaves a key that does not match the certificate: the next start renews both
      writeFileDurableSync(p('key.pem'), leaf.key);
      writeFileDurableSync(p('cert.pem'), leaf.cert, CERT_MODE);
      return { ca, cert: leaf.cert, key: leaf.key, generated: true };
    }
  }
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, hostName);
  if (dir) {
    writeFileDurableSync(p('ca.key'), ca.key);
    writeFileDurableSync(p('ca.pem'), ca.cert, CERT_MODE);
    writeFileDurableSync(p('key.pem'), leaf.key);
    writeFileDurableSync(p('cert.pem'), leaf.cert, CERT_MODE);
  }
  return { ca: ca.cert, cert: leaf.cert, key: leaf.key, generated: true };
}
