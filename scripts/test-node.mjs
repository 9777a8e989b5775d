// Runs every compiled node:test file under dist/tests with the spec reporter, and ends with the totals as
// node:test's TAP summary lines (# tests / # pass / # fail …) so that CI and people read the same numbers.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = 'dist/tests';
const only = process.argv.slice(2);
const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .map((f) => join(root, f))
  .sort();

const child = spawn(process.execPath, [
  // A test that hangs fails after two minutes instead of holding CI; once a file's tests are done, a handle a
  // test leaked cannot keep it from exiting (scripts/test-exit-guard.mjs).
  '--test', '--test-concurrency=2', '--test-timeout=120000', '--import', './scripts/test-exit-guard.mjs',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  ...files,
], { stdio: ['ignore', 'pipe', 'inherit'] });

const totals = new Map();
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  const text = tail + chunk.toString('utf8');
  const lines = text.split('\n');
  tail = lines.pop() ?? '';
  for (const line of lines) {
    const m = /^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)/.exec(line);
    if (m) totals.set(m[1], m[2]);
  }
});
const timer = setTimeout(() => child.kill('SIGKILL'), 30 * 60 * 1000);
child.on('close', (code) => {
  clearTimeout(timer);
  for (const [k, v] of totals) console.log(`# ${k} ${v}`);
  if (!totals.has('pass')) console.log('# no totals: the test runner did not finish');
  process.exit(code ?? 1);
});
