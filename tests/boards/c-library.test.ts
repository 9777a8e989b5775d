// The portable board library (boards/c) compiles warning-free for a Cortex-M3 and for the host, and allocates
// nothing: no object of it refers to malloc and friends. Its provisioning half (iothub_provision.c and the binding of
// the dps_* exports) compiles against mcu-full.wasm's translation.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { boardTest, ROOT } from './support.js';

const SOURCES = ['iothub_device.c', 'iothub_store.c', 'iothub_json.c', 'core_wasm2c.c', 'wasm-rt/wasm_rt_static.c', 'app/thermostat.c'];
/** Compiled with mcu-full.wasm's translation first on the include path (boards/c/board.mk IOTHUB_DPS_CPPFLAGS). */
const DPS_SOURCES = ['iothub_provision.c', 'core_wasm2c_dps.c', 'core_wasm2c.c'];
const GENERATED = ['build/wasm2c/mcu.h', 'build/wasm2c/mcu-full/mcu.h', 'build/wasm2c/wasm-rt.h'];
const FLAGS = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-Wpedantic', '-Os',
  `-I${join(ROOT, 'boards/c')}`, `-I${join(ROOT, 'boards/c/wasm-rt')}`, `-I${join(ROOT, 'build/wasm2c')}`,
  '-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0', '-DWASM_RT_STATIC_PAGES=1'];
const ALLOCATORS = new Set(['malloc', 'calloc', 'realloc', 'free', 'mmap', 'sbrk', '_sbrk', '_malloc_r', '_free_r']);

function compileAll(cc: string, nm: string, target: string[]): void {
  const out = mkdtempSync(join(tmpdir(), 'iothub-board-c-'));
  try {
    const units = [...SOURCES.map((src) => ({ src, include: [] as string[] })),
      ...DPS_SOURCES.map((src) => ({ src, include: [`-I${join(ROOT, 'build/wasm2c/mcu-full')}`] }))];
    for (const [i, { src, include }] of units.entries()) {
      const obj = join(out, `${i}-${basename(src, '.c')}.o`);
      const r = spawnSync(cc, [...target, ...include, ...FLAGS, '-c', join(ROOT, 'boards/c', src), '-o', obj], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${cc} ${src}:\n${r.stderr}`);
      assert.equal(r.stderr, '', `${cc} ${src} printed diagnostics`);
      const syms = spawnSync(nm, ['-u', obj], { encoding: 'utf8' });
      assert.equal(syms.status, 0, syms.stderr);
      const undefinedSyms = syms.stdout.split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '').filter(Boolean);
      const allocs = undefinedSyms.filter((s) => ALLOCATORS.has(s));
      assert.deepEqual(allocs, [], `${src} refers to an allocator`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

boardTest('the board library compiles for a Cortex-M3 (arm-none-eabi-gcc -mthumb) with -Wall -Wextra -Werror -Wpedantic and never allocates',
  { packages: ['wabt', 'gcc-arm-none-eabi', 'libnewlib-arm-none-eabi'], built: GENERATED }, () => {
    compileAll('arm-none-eabi-gcc', 'arm-none-eabi-nm', ['-mcpu=cortex-m3', '-mthumb']);
  });

boardTest('the board library compiles for the host (gcc) with -Wall -Wextra -Werror -Wpedantic and never allocates',
  { packages: ['wabt', 'gcc'], built: GENERATED }, () => {
    compileAll('gcc', 'nm', []);
  });
