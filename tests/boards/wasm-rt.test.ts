// Our freestanding wasm-rt (boards/c/wasm-rt): a trap is reported through the board's hook and never hangs or
// resumes, the static linear memory is exactly the pages mcu.wasm declares, and call_indirect's signature table
// gives equal signatures equal indices.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { boardTest, ROOT, unmet } from './support.js';

const NEEDS = { packages: ['wabt', 'gcc'], built: ['build/wasm2c/mcu.c', 'build/wasm2c/wasm-rt.h'] };
let dir = '';
const probes = { pages: '', heapBase: '', short: '' };

/** The page count mcu.wasm declares (its text form, written by the build beside it). */
function declaredPages(): number {
  const m = /\(memory \$\w+ (\d+)(?: (\d+))?\)/.exec(readFileSync(join(ROOT, 'build/mcu.wat'), 'utf8'));
  assert.ok(m, 'mcu.wat declares a memory');
  assert.equal(m[2], m[1], 'min = max: the core never grows its memory');
  return Number(m[1]);
}

/** abi_heap_base() of mcu.wasm: the end of everything the core touches. */
function heapBase(): number {
  const core = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(ROOT, 'build/mcu.wasm'))), {});
  return (core.exports.abi_heap_base as () => number)();
}

function compileProbe(out: string, defines: string[]): void {
  const c = join(ROOT, 'boards/c');
  const r = spawnSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-O0',
    `-I${c}`, `-I${join(c, 'wasm-rt')}`, `-I${join(ROOT, 'build/wasm2c')}`,
    '-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0', `-DWASM_RT_STATIC_PAGES=${declaredPages()}`, ...defines,
    join(ROOT, 'tests/boards/wasm_rt_probe.c'), join(c, 'wasm-rt/wasm_rt_static.c'), join(c, 'core_wasm2c.c'),
    '-x', 'c', '-std=gnu99', '-w', join(ROOT, 'build/wasm2c/mcu.c'), '-o', out, '-lm'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

before(() => {
  if (unmet(NEEDS) !== null) return;
  dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-rt-'));
  probes.pages = join(dir, 'probe');
  probes.heapBase = join(dir, 'probe-heap-base');
  probes.short = join(dir, 'probe-short');
  compileProbe(probes.pages, []);
  compileProbe(probes.heapBase, [`-DWASM_RT_STATIC_BYTES=${heapBase()}`]);
  compileProbe(probes.short, [`-DWASM_RT_STATIC_BYTES=${heapBase() - 1024}`]);
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const run = (c: string, probe = probes.pages) => spawnSync(probe, [c], { encoding: 'utf8', timeout: 10000 });

boardTest('a trap is reported through the board hook with its kind and name, and the board decides what happens next', NEEDS, () => {
  const r = run('trap');
  assert.equal(r.status, 7);
  assert.equal(r.stderr, 'trap 5 unreachable executed\n');
});

boardTest('a trap hook that returns does not resume the core or hang: the runtime aborts', NEEDS, () => {
  const r = run('hook-returns');
  assert.equal(r.stderr, 'trap 1 out of bounds access\n');
  assert.equal(r.signal, 'SIGABRT');
});

boardTest('the static linear memory is exactly the pages mcu.wasm declares, and a module wanting more traps at instantiation', NEEDS, () => {
  const r = run('core');
  const bytes = declaredPages() * 65536;
  assert.equal(r.stdout, `load 0 reserved ${bytes} size ${bytes}\n`);
  const more = run('too-many-pages');
  assert.equal(more.status, 7);
  assert.equal(more.stderr, 'trap 1 out of bounds access\n');
});

boardTest('a memory reserved only up to abi_heap_base() loads the core; one shorter than that is refused with BAD_STATE', NEEDS, () => {
  const base = heapBase();
  assert.equal(run('core', probes.heapBase).stdout, `load 0 reserved ${base} size ${base}\n`);
  assert.equal(run('core', probes.short).stdout, `load -3 reserved ${base - 1024} size ${base - 1024}\n`);
});

boardTest('function types: equal signatures get equal indices, different ones different', NEEDS, () => {
  assert.equal(run('func-types').stdout, 'types ok\n');
});
