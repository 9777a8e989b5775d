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
let probe = '';

/** The page count mcu.wasm declares (its text form, written by the build beside it). */
function declaredPages(): number {
  const m = /\(memory \$\w+ (\d+)(?: (\d+))?\)/.exec(readFileSync(join(ROOT, 'build/mcu.wat'), 'utf8'));
  assert.ok(m, 'mcu.wat declares a memory');
  assert.equal(m[2], m[1], 'min = max: the core never grows its memory');
  return Number(m[1]);
}

before(() => {
  if (unmet(NEEDS) !== null) return;
  dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-rt-'));
  probe = join(dir, 'probe');
  const c = join(ROOT, 'boards/c');
  const r = spawnSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-O0',
    `-I${c}`, `-I${join(c, 'wasm-rt')}`, `-I${join(ROOT, 'build/wasm2c')}`,
    '-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0', `-DWASM_RT_STATIC_PAGES=${declaredPages()}`,
    join(ROOT, 'tests/boards/wasm_rt_probe.c'), join(c, 'wasm-rt/wasm_rt_static.c'), join(c, 'core_wasm2c.c'),
    '-x', 'c', '-std=gnu99', '-w', join(ROOT, 'build/wasm2c/mcu.c'), '-o', probe, '-lm'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const run = (c: string) => spawnSync(probe, [c], { encoding: 'utf8', timeout: 10000 });

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

boardTest('function types: equal signatures get equal indices, different ones different', NEEDS, () => {
  assert.equal(run('func-types').stdout, 'types ok\n');
});
