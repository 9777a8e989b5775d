// `iothub-wasm hub ca …`: the CA store of CA-signed X.509 devices (`{dataDir}/certificates.json`), which the running
// hub re-reads when it changes. `--verified` stands in for IoT Hub's proof of possession.
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { CertificateAuthorities } from './state/certificates.js';

export const CA_USAGE = `       iothub-wasm hub ca add <name> <cert.pem> [--verified]   a CA whose certificates CA-signed devices present
                                  (--verified: taken as proven; IoT Hub asks for proof of possession)
       iothub-wasm hub ca list | ca remove <name>`;

export class CaUsageError extends Error {}

export async function caMain(v: Record<string, unknown>, pos: string[], dataDir: string): Promise<number> {
  const [sub, name, file, ...extra] = pos;
  if (extra.length) throw new CaUsageError(`unexpected argument '${extra[0]}'`);
  const store = new CertificateAuthorities(dataDir);
  const json = !!v['json'];
  switch (sub) {
    case 'add': {
      const certFile = file ?? (typeof v['cert'] === 'string' ? v['cert'] : undefined);
      if (!name || !certFile) throw new CaUsageError(`ca add needs a name and a PEM file\n${CA_USAGE}`);
      let pem: string;
      try { pem = readFileSync(resolvePath(certFile), 'utf8'); } catch (e) { throw new CaUsageError(`cannot read ${certFile}: ${(e as Error).message}`); }
      const rec = await store.add(name, pem, { verified: !!v['verified'] });
      await store.flush();
      if (json) console.log(JSON.stringify(rec, null, 2));
      else {
        console.log(`added CA ${rec.name} (${rec.subject}; SHA-256 ${rec.thumbprint}; valid until ${rec.validTo})`);
        console.log(rec.isVerified ? '  verified: devices with authentication type certificateAuthority whose certificate it signed (CN = device id) may connect' :
          '  not verified: devices it signed are refused until it is added again with --verified');
      }
      return 0;
    }
    case 'list':
    case undefined: {
      const list = store.list();
      if (json) { console.log(JSON.stringify(list, null, 2)); return 0; }
      if (list.length === 0) { console.log(`no CA certificates yet (in ${dataDir}); add one with: iothub-wasm hub ca add <name> <cert.pem> --verified`); return 0; }
      for (const c of list) console.log(`${c.name}${c.isVerified ? '' : ' (not verified)'}  ${c.subject}  SHA-256 ${c.thumbprint}  valid until ${c.validTo}`);
      return 0;
    }
    case 'remove': {
      if (!name) throw new CaUsageError('ca remove needs a name');
      const ok = await store.remove(name);
      await store.flush();
      if (!ok) throw new CaUsageError(`no CA named '${name}' (see: iothub-wasm hub ca list)`);
      console.log(`removed CA ${name}`);
      return 0;
    }
    default:
      throw new CaUsageError(`unknown ca command '${sub}' (add, list, remove)`);
  }
}
