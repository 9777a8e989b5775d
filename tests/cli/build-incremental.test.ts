// scripts/build.mjs (what npm start, npm test and npm run bench run first) runs a step only when an input is newer
// than the step's last build or an output is missing, and an edit upstream rebuilds what reads it. Checked with
// --dry-run on a copy of the script in a folder shaped like the repository, its files dated by hand.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/build.mjs', import.meta.url));
const inputs = ['assembly/client/state.ts', 'assembly/mcu.ts', 'asconfig.json', 'package-lock.json', 'package.json', 'tsconfig.json',
  'scripts/gen-abi.mjs', 'scripts/cjs-types.mjs', 'host/index.ts', 'tests/a.test.ts', 'bench/index.ts', 'boards/node/index.ts'];
const outputs = ['assembly/client/state-layout.generated.ts', 'build/gateway.wasm', 'build/mcu.wasm', 'build/mcu-full.wasm',
  'host/wasm/abi.generated.ts', 'boards/c/iothub_wasm_abi.h', 'dist/host/index.js', 'dist/cjs/package.json'];
const stamps = ['layout', 'wasm-gateway', 'wasm-mcu', 'wasm-mcu-full', 'abi', 'typescript'].map((s) => `build/.stamps/${s}`);
const T0 = 1_700_000_000; // inputs
const T1 = T0 + 100; // builds
const T2 = T0 + 200; // an edit after the builds

let root = '';
function put(path: string, t: number): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, '');
  utimesSync(p, t, t);
}

const STEPS = ['layout', 'wasm gateway', 'wasm mcu', 'wasm mcu-full', 'abi', 'typescript'];

/** Each step's verdict from a dry run: name → 'up to date' | the reason it would run. */
function dryRun(): Map<string, string> {
  const out = execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--dry-run'], { encoding: 'utf8' });
  const lines = out.trim().split('\n');
  assert.equal(lines.length, STEPS.length, out);
  const verdicts = new Map<string, string>();
  STEPS.forEach((name, i) => {
    const line = lines[i]!;
    assert.ok(line.startsWith(`build: ${name} `), `step ${i + 1} is ${name}: ${line}`);
    verdicts.set(name, line.slice(`build: ${name} `.length).trim().replace(/: node .*$/, ''));
  });
  return verdicts;
}
const stale = (v: Map<string, string>) => [...v].filter(([, s]) => s !== 'up to date').map(([k]) => k);

before(() => {
  root = mkdtempSync(join(tmpdir(), 'iothub-wasm-build-'));
  mkdirSync(join(root, 'scripts'));
  copyFileSync(script, join(root, 'scripts/build.mjs'));
});
after(() => { if (root) rmSync(root, { recursive: true, force: true }); });

test('with every output newer than its inputs, every step is skipped', () => {
  for (const f of inputs) put(f, T0);
  utimesSync(join(root, 'scripts/build.mjs'), T0, T0);
  for (const f of [...outputs, ...stamps]) put(f, T1);
  assert.deepEqual(stale(dryRun()), []);
});

test('an edited TypeScript file rebuilds the TypeScript step only', () => {
  put('host/index.ts', T2);
  const v = dryRun();
  assert.deepEqual(stale(v), ['typescript']);
  assert.match(v.get('typescript')!, /inputs changed/);
  put('host/index.ts', T0);
});

test('an edited core file rebuilds the modules, then the generated ABI and the TypeScript that reads it', () => {
  put('assembly/mcu.ts', T2);
  const v = dryRun();
  assert.deepEqual(stale(v), ['layout', 'wasm gateway', 'wasm mcu', 'wasm mcu-full', 'abi', 'typescript']);
  assert.match(v.get('abi')!, /earlier step may change its inputs/);
  put('assembly/mcu.ts', T0);
  assert.deepEqual(stale(dryRun()), []);
});

test('a missing output or a missing record of the last build runs its step', () => {
  rmSync(join(root, 'build/mcu.wasm'));
  let v = dryRun();
  assert.match(v.get('wasm mcu')!, /not built yet/);
  assert.deepEqual(stale(v), ['wasm mcu', 'abi', 'typescript']);
  put('build/mcu.wasm', T1);
  rmSync(join(root, 'build/.stamps/abi'));
  v = dryRun();
  assert.match(v.get('abi')!, /no stamp/);
  put('build/.stamps/abi', T1);
  assert.deepEqual(stale(dryRun()), []);
});

test('a new lockfile (other tools or dependencies) rebuilds everything', () => {
  put('package-lock.json', T2);
  assert.equal(stale(dryRun()).length, 6);
});
