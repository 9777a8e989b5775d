// npm run build:boards on a machine without the Debian tools: strict (as in CI) it fails naming exactly the
// packages to install; the local, non-strict build skips the boards and says what would enable them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support.js';

function buildBoards(args: string[], env: Record<string, string>): { status: number | null; out: string } {
  const empty = mkdtempSync(join(tmpdir(), 'iothub-no-tools-'));
  try {
    // No program on PATH and no package file under the sysroot: as a machine with none of them installed.
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-boards.mjs'), ...args], {
      cwd: ROOT, encoding: 'utf8', env: { PATH: empty, IOTHUB_BOARD_TOOLS_SYSROOT: empty, ...env },
    });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

test('build:boards --strict exits 1 naming exactly the missing Debian packages', () => {
  const r = buildBoards(['--strict'], {});
  assert.equal(r.status, 1);
  assert.equal(r.out, 'build-boards: missing Debian packages: make gcc wabt libmbedtls-dev gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm\n' +
    '  apt-get install make gcc wabt libmbedtls-dev gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm\n');
});

test('with CI set the board build is strict without being asked', () => {
  const r = buildBoards([], { CI: 'true' });
  assert.equal(r.status, 1);
  assert.match(r.out, /missing Debian packages: .*wabt/);
});

test('the local build (pretest) skips the C boards without their tools, naming the package, and succeeds', () => {
  const r = buildBoards([], {});
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /skipping every C board: wasm2c is missing \(apt-get install wabt\)/);
});
