#!/usr/bin/env node
// The build, step by step, skipping each step whose outputs are newer than its inputs: what `npm start`, `npm test`
// and `npm run bench` run first, so a second `npm start` starts at once. One line per step, run or skipped.
// `npm run build` (or `--force`) runs every step. A step is the same command as in package.json's build:* scripts.
// `--dry-run` says what would run and runs nothing.
//
// Each step leaves a stamp under build/.stamps dated when it started (gen-abi rewrites a file only when it changes,
// and a file saved while a step runs must not count as built). package-lock.json is an input of every step: new
// tools or dependencies rebuild everything.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

process.chdir(fileURLToPath(new URL('..', import.meta.url))); // the repository, wherever it is run from
const force = process.argv.includes('--force');
const dryRun = process.argv.includes('--dry-run');
const node = (script, ...args) => [process.execPath, [script, ...args]];
const asc = (entry, target) => node('node_modules/assemblyscript/bin/asc.js', entry, '--config', 'asconfig.json', '--target', target);
const core = ['assembly', 'asconfig.json', 'package-lock.json'];
const tsInputs = ['host', 'boards/node', 'tests', 'bench', 'tsconfig.json', 'package.json', 'package-lock.json', 'scripts/cjs-types.mjs'];

/** name, commands, inputs (files or folders), outputs (each must exist). */
const steps = [
  { name: 'layout', run: [node('scripts/gen-abi.mjs', '--layout')], inputs: [...core, 'scripts/gen-abi.mjs'], outputs: ['assembly/client/state-layout.generated.ts'] },
  { name: 'wasm gateway', run: [asc('assembly/abi.ts', 'gateway')], inputs: core, outputs: ['build/gateway.wasm'] },
  { name: 'wasm mcu', run: [asc('assembly/mcu.ts', 'mcu')], inputs: core, outputs: ['build/mcu.wasm'] },
  { name: 'wasm mcu-full', run: [asc('assembly/abi.ts', 'mcu-full')], inputs: core, outputs: ['build/mcu-full.wasm'] },
  { name: 'abi', run: [node('scripts/gen-abi.mjs')], inputs: [...core, 'build/gateway.wasm', 'build/mcu.wasm', 'scripts/gen-abi.mjs'], outputs: ['host/wasm/abi.generated.ts', 'boards/c/iothub_wasm_abi.h'] },
  { name: 'typescript', run: [node('node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'), node('scripts/cjs-types.mjs')], inputs: tsInputs, outputs: ['dist/host/index.js', 'dist/cjs/package.json'] },
];

/**
 * The newest modification time of the files under `paths` (files, or folders walked whole), skipping build products.
 * Folders' own times do not count: editors and git touch them without changing a source (a deleted source is
 * caught by its importers' edits, and pruneStale drops its compiled files on every run).
 */
function newest(paths) {
  let t = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const f of readdirSync(p, { recursive: true, encoding: 'utf8' })) {
        if (/(^|[\\/])(node_modules|build|dist|__tests__)([\\/]|$)/.test(f)) continue;
        const fst = statSync(join(p, f));
        if (fst.isFile()) t = Math.max(t, fst.mtimeMs);
      }
    } else t = Math.max(t, st.mtimeMs);
  }
  return t;
}

/** The oldest output, or 0 when one is missing. */
function oldest(paths) {
  let t = Infinity;
  for (const p of paths) t = Math.min(t, existsSync(p) ? statSync(p).mtimeMs : 0);
  return t;
}

/**
 * Compiled files whose TypeScript source is gone (renamed or deleted): tsc leaves them, the test runner would run
 * them and npm pack would ship them. Run on every build, the TypeScript step skipped or not.
 */
function pruneStale() {
  const removed = [];
  if (dryRun) return;
  for (const dir of ['host', 'boards', 'tests', 'bench']) {
    const out = join('dist', dir);
    if (!existsSync(out)) continue;
    for (const f of readdirSync(out, { recursive: true, encoding: 'utf8' })) {
      const m = /^(.*)\.(js|js\.map|d\.ts)$/.exec(f);
      if (m && !existsSync(join(dir, `${m[1]}.ts`))) { rmSync(join(out, f)); removed.push(join(out, f)); }
    }
  }
  if (removed.length) console.log(`build: removed ${removed.length} compiled file(s) whose source is gone (e.g. ${removed[0]})`);
}

pruneStale();
const stamps = join('build', '.stamps');
const pending = []; // --dry-run: outputs of the steps that would run, which make the steps reading them stale too
for (const step of steps) {
  const stampFile = join(stamps, step.name.replaceAll(' ', '-'));
  // when it last ran (its stamp), if every output is there; outputs' own times do not count (gen-abi leaves a file
  // that would not change as it was)
  const built = oldest(step.outputs) === 0 ? 0 : oldest([stampFile]);
  const changed = newest(step.inputs);
  const upstream = pending.some((o) => step.inputs.some((i) => o === i || o.startsWith(`${i}/`)));
  if (!force && !upstream && built > 0 && built >= changed) {
    console.log(`build: ${step.name.padEnd(13)} up to date`);
    continue;
  }
  const started = Date.now();
  const reason = force ? 'building' : oldest(step.outputs) === 0 ? 'building (not built yet)' : built === 0 ? 'building (no stamp of an earlier build)' : upstream ? 'rebuilding (an earlier step may change its inputs)' : 'rebuilding (inputs changed)';
  const what = step.run.map(([c, a]) => [c === process.execPath ? 'node' : c, ...a].join(' ')).join(' && ');
  console.log(`build: ${step.name.padEnd(13)} ${dryRun ? `would be ${reason}` : reason}: ${what}`);
  if (dryRun) { pending.push(...step.outputs); continue; }
  for (const [cmd, args] of step.run) {
    const r = spawnSync(cmd, args, { stdio: 'inherit', shell: process.platform === 'win32' });
    if (r.status !== 0) {
      console.error(`build: ${step.name} failed (${[cmd, ...args].join(' ')} exited ${r.status ?? r.signal})`);
      process.exit(r.status || 1);
    }
  }
  mkdirSync(stamps, { recursive: true });
  writeFileSync(stampFile, `${new Date(started).toISOString()}\n`);
  utimesSync(stampFile, started / 1000, started / 1000);
  console.log(`build: ${step.name.padEnd(13)} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
