// SAS tokens per second, same process, same inputs (a device token for a hub resource, a new expiry each time):
//  - ours through generateSasToken (JS strings in, token string out, everything else in the core);
//  - ours at core level: iothub_sas_token with URI and key already in module memory (what firmware does);
//  - azure-iot-common's SharedAccessSignature.create(encodeUriComponentStrict(uri), …).toString(), as azure-iot-device calls it;
//  - a hand-written node:crypto version (key decoded once, createHmac per token).
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { Core } from '../host/wasm/core.js';
import { generateSasToken } from '../host/iothub/index.js';
import { opsPerSecond, fmtRate, type BenchSuite, type BenchRow } from './harness.js';

const require = createRequire(import.meta.url);
const { SharedAccessSignature } = require('azure-iot-common') as {
  SharedAccessSignature: { create(sr: string, keyName: string | undefined, key: string, expiry: number): { toString(): string } };
};
const { encodeUriComponentStrict } = require('azure-iot-common/dist/authorization.js') as { encodeUriComponentStrict(s: string): string };

const URI = 'myhub.azure-devices.net/devices/thermostat-0042';
const KEY = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const BASE = 1_800_000_000;

function coreLevel(profile: 'gateway' | 'mcu'): () => void {
  const core = new Core(profile === 'mcu' ? 'mcu-full' : 'gateway'); // mcu.wasm exports only the device client
  const ex = core.exports;
  const uri = core.io;
  const uriLen = core.buf.write(URI, uri);
  const key = uri + uriLen;
  const keyLen = core.buf.write(KEY, key);
  const out = key + keyLen;
  const cap = 256;
  let se = BASE;
  const check = ex.iothub_sas_token(uri, uriLen, key, keyLen, 0, 0, BigInt(se), out, cap);
  if (check <= 0) throw new Error(`core sas failed: ${check}`);
  return () => { ex.iothub_sas_token(uri, uriLen, key, keyLen, 0, 0, BigInt(++se), out, cap); };
}

const suite: BenchSuite = {
  name: 'sas',
  async run({ log }) {
    // Same token from all four before timing anything.
    const a = generateSasToken({ resourceUri: URI, key: KEY, expiry: BASE });
    const b = SharedAccessSignature.create(encodeUriComponentStrict(URI), undefined, KEY, BASE).toString();
    const keyBytes = Buffer.from(KEY, 'base64');
    const hand = (se: number) => {
      const sr = encodeURIComponent(URI);
      const sig = crypto.createHmac('sha256', keyBytes).update(`${sr}\n${se}`).digest('base64');
      return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}`;
    };
    if (a !== b || a !== hand(BASE)) throw new Error(`tokens differ:\n${a}\n${b}\n${hand(BASE)}`);

    let s1 = BASE, s2 = BASE, s3 = BASE;
    const ms = 1500;
    const rates: Record<string, number> = {
      'iothub-wasm generateSasToken': opsPerSecond(() => { generateSasToken({ resourceUri: URI, key: KEY, expiry: ++s1 }); }, ms),
      'iothub-wasm core (gateway)': opsPerSecond(coreLevel('gateway'), ms),
      'iothub-wasm core (mcu build)': opsPerSecond(coreLevel('mcu'), ms),
      'azure-iot-common SharedAccessSignature.create': opsPerSecond(() => {
        SharedAccessSignature.create(encodeUriComponentStrict(URI), undefined, KEY, ++s2).toString();
      }, ms),
      'node:crypto by hand': opsPerSecond(() => { hand(++s3); }, ms),
    };
    const peer = rates['azure-iot-common SharedAccessSignature.create'];
    const nodeHand = rates['node:crypto by hand'];
    const rows: BenchRow[] = [];
    for (const [name, rate] of Object.entries(rates)) {
      const row: BenchRow = { name, opsPerSec: Math.round(rate), vsAzureIotCommon: +(rate / peer).toFixed(2), vsNodeCrypto: +(rate / nodeHand).toFixed(2) };
      rows.push(row);
      log(`${name.padEnd(48)} ${fmtRate(rate).padStart(11)}   ×${row.vsAzureIotCommon} azure-iot-common   ×${row.vsNodeCrypto} node:crypto`);
    }
    const ours = rates['iothub-wasm generateSasToken'];
    log(`target ≥ 1.5× azure-iot-common through generateSasToken: ${(ours / peer).toFixed(2)}× ${ours / peer >= 1.5 ? '(met)' : '(NOT met)'}`);
    return rows;
  },
};

export default suite;
