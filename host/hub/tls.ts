// The hub's TLS material: a local CA and a server certificate for localhost (+ 127.0.0.1, ::1, the hub's host name),
// generated with selfsigned on first run and kept in `{dataDir}/tls/`. Clients trust `ca.pem`.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial { ca: string; cert: string; key: string; generated: boolean }

const DAY = 24 * 3600 * 1000;

function names(hostName: string): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', hostName.toLowerCase()])];
}

function leafCovers(certPem: string, caPem: string, wanted: string[]): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
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
  if (dir && ['ca.pem', 'ca.key', 'cert.pem', 'key.pem'].every((f) => existsSync(p(f)))) {
    const [ca, caKey, cert, key] = ['ca.pem', 'ca.key', 'cert.pem', 'key.pem'].map((f) => readFileSync(p(f), 'utf8')) as [string, string, string, string];
    if (leafCovers(cert, ca, wanted)) return { ca, cert, key, generated: false };
    // keep the CA users already trust when it is still valid; renew the leaf
    let caOk = false;
    try { caOk = Date.parse(new X509Certificate(ca).validTo) > Date.now() + DAY; } catch { /* regenerate */ }
    if (caOk) {
      const leaf = await makeLeaf({ cert: ca, key: caKey }, hostName);
      writeFileSync(p('cert.pem'), leaf.cert);
      writeFileSync(p('key.pem'), leaf.key, { mode: 0o600 });
      return { ca, cert: leaf.cert, key: leaf.key, generated: true };
    }
  }
  const ca = await makeCa();
  const leaf = await makeLeaf(ca, hostName);
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(p('ca.pem'), ca.cert);
    writeFileSync(p('ca.key'), ca.key, { mode: 0o600 });
    writeFileSync(p('cert.pem'), leaf.cert);
    writeFileSync(p('key.pem'), leaf.key, { mode: 0o600 });
  }
  return { ca: ca.cert, cert: leaf.cert, key: leaf.key, generated: true };
}
