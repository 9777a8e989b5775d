// Runs every compiled node:test file under dist/tests, shows the spec reporter on the terminal, and ends with
// node:test's own TAP summary lines (# tests / # pass / # fail) so CI and people read the same totals.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = 'dist/tests';
const only = process.argv.slice(2);
const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .map((f) => join(root, f))
  .sort();
const tap = `.test-tap.${process.pid}.log`; // per run: two runs in one checkout do not collide
rmSync(tap, { force: true });
const run = spawnSync(process.execPath, [
  // A test that hangs fails after two minutes instead of holding CI.
  '--test', '--test-concurrency=2', '--test-timeout=120000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tap}`,
  ...files,
], { stdio: 'inherit', timeout: 30 * 60 * 1000 });
const summary = readFileSync(tap, 'utf8').split('\n').filter((l) => /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(l));
console.log(summary.join('\n'));
rmSync(tap, { force: true });
process.exit(run.status ?? 1);
