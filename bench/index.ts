// `npm run bench [-- --json] [-- --only NAME] [-- --devices N]`: runs every bench/*.bench.ts suite in one process, each
// against its peer in the same run, and prints ratios. Timings live here, never in pass/fail tests.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchSuite, BenchRow } from './harness.js';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, only: { type: 'string' }, devices: { type: 'string' } } });
// `-- --devices N`: the size of the device bench's fleet (default 1,000).
if (values.devices) process.env.BENCH_FLEET_DEVICES = values.devices;
const dir = fileURLToPath(new URL('.', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.bench.js')).sort()
  .filter((f) => !values.only || f.includes(values.only));

const all: Record<string, BenchRow[]> = {};
for (const f of files) {
  const suite = (await import(new URL(f, import.meta.url).href)).default as BenchSuite;
  if (!values.json) console.log(`\n== ${suite.name}`);
  const rows = await suite.run({ log: values.json ? () => {} : (line: string) => console.log(line) });
  all[suite.name] = rows;
}
if (values.json) console.log(JSON.stringify(all, null, 2));
