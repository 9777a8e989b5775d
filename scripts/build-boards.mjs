// Builds the C boards: translates build/mcu.wasm to C with wasm2c (build/wasm2c/, never in git), then runs
// `make -C boards/<board>` for every board directory that has a Makefile (boards/c, the library, first).
//   node scripts/build-boards.mjs [--strict]
// --strict (or CI set): every board must build; a missing Debian package fails the build, naming them all.
// Otherwise a board whose packages are missing is skipped with the apt-get line that would enable it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { missing } from './board-tools.mjs';

const strict = process.argv.includes('--strict') || !!process.env.CI;
const ALL = ['wabt', 'libmbedtls-dev', 'gcc-arm-none-eabi', 'libnewlib-arm-none-eabi', 'qemu-system-arm'];
const ARM = ['gcc-arm-none-eabi', 'libnewlib-arm-none-eabi'];
// What each board needs to build (qemu-system-arm is needed to run the Cortex-M image: its tests check for it).
const NEEDS = {
  c: ['make', 'gcc', 'wabt'],
  posix: ['make', 'gcc', 'wabt', 'libmbedtls-dev'],
  'mps2-an385': ['make', 'wabt', ...ARM],
};

function run(cmd, args) {
  console.log(`build-boards: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-boards: ${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
}

const absent = missing(['make', 'gcc', ...ALL]);
if (strict && absent.length) {
  console.error(`build-boards: missing Debian packages: ${absent.join(' ')}\n  apt-get install ${absent.join(' ')}`);
  process.exit(1);
}
if (!existsSync('build/mcu.wasm')) {
  console.error('build-boards: build/mcu.wasm is missing: run `npm run build` first');
  process.exit(1);
}

if (absent.includes('wabt')) {
  console.log('build-boards: skipping every C board: wasm2c is missing (apt-get install wabt)');
  process.exit(0);
}
// Regenerate only when the translation changes, so that make does not recompile the core for nothing.
mkdirSync('build/wasm2c/.next', { recursive: true });
run('wasm2c', ['build/mcu.wasm', '-o', 'build/wasm2c/.next/mcu.c']);
for (const f of ['mcu.c', 'mcu.h']) {
  const next = join('build/wasm2c/.next', f), cur = join('build/wasm2c', f);
  if (existsSync(cur) && readFileSync(cur).equals(readFileSync(next))) continue;
  renameSync(next, cur);
}
rmSync('build/wasm2c/.next', { recursive: true, force: true });
// Beside the generated code, so that a cross compiler finds it without the host's /usr/include.
const rt = 'build/wasm2c/wasm-rt.h';
if (!existsSync(rt) || !readFileSync(rt).equals(readFileSync('/usr/include/wasm-rt.h'))) copyFileSync('/usr/include/wasm-rt.h', rt);

const boards = readdirSync('boards', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join('boards', d.name, 'Makefile')))
  .map((d) => d.name)
  .sort((a, b) => (a === 'c' ? -1 : b === 'c' ? 1 : a.localeCompare(b)));
for (const board of boards) {
  const lacking = missing(NEEDS[board] ?? ['make', 'gcc', ...ALL]);
  if (lacking.length) {
    console.log(`build-boards: skipping boards/${board}: apt-get install ${lacking.join(' ')}`);
    continue;
  }
  const extra = board === 'c' && missing(ARM).length ? ['ARM=0'] : [];
  if (extra.length) console.log(`build-boards: boards/c: not compiling for Cortex-M3 (apt-get install ${missing(ARM).join(' ')})`);
  run('make', ['--no-print-directory', '-C', join('boards', board), ...extra]);
}
