// The ABI is declared once, in the core, and everything else is generated from it (scripts/gen-abi.mjs): the
// host's typed exports and constants, the boards' C header and the tables of boards/README.md. These tests prove
// the generated files are fresh, the header is valid C that a board can build, and that what it says about
// statuses is what both builds of the module say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Core, wasmPath, type Profile } from '../../host/wasm/core.js';
import { STATUS, EVENT, STATE, ABI_VERSION, type GatewayExports, type McuExports } from '../../host/wasm/abi.generated.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const header = join(root, 'boards/c/iothub_wasm_abi.h');
const profiles: Profile[] = ['gateway', 'mcu'];

/** Compiles and runs a C program against the header; fails with the Debian package to install when there is no cc. */
function runC(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-abi-'));
  try {
    writeFileSync(join(dir, 'main.c'), source);
    const cc = spawnSync('cc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-I', join(root, 'boards/c'), '-o', join(dir, 'main'), join(dir, 'main.c')], { encoding: 'utf8' });
    if (cc.error && (cc.error as NodeJS.ErrnoException).code === 'ENOENT') {
      assert.fail('no C compiler: `cc` is not on PATH. Install the Debian package `gcc` (apt-get install gcc) to run this test.');
    }
    assert.equal(cc.status, 0, `cc -std=c99 -Wall -Werror failed:\n${cc.stderr}`);
    const run = spawnSync(join(dir, 'main'), [], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    return run.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the generated TypeScript, C header and boards/README.md tables are what the core says now', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts/gen-abi.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `stale generated files (run npm run build):\n${r.stderr}`);
});

test('the C header compiles with cc -std=c99 -Wall -Werror, and every IOTHUB_WASM_STATUS_LIST entry is abi_status_name(code) in both builds', () => {
  const out = runC(`#include <stdio.h>
#include "iothub_wasm_abi.h"
#define PRINT(name, code) printf("%d %s\\n", (int)(code), #name);
int main(void) {
  printf("version %d\\n", IOTHUB_WASM_ABI_VERSION);
  IOTHUB_WASM_STATUS_LIST(PRINT)
  return 0;
}
`);
  const lines = out.trim().split('\n');
  assert.equal(lines.shift(), `version ${ABI_VERSION}`);
  const list = lines.map((l) => { const [code, name] = l.split(' '); return { code: Number(code), name }; });
  assert.ok(list.length > 50, 'the list holds every status');
  for (const profile of profiles) {
    const core = new Core(profile);
    for (const { code, name } of list) assert.equal(core.statusName(code), name, `${profile}: abi_status_name(${code})`);
    // …and nothing the module names is missing from the list.
    const listed = new Set(list.map((s) => s.code));
    for (let code = 0; code >= -999; code--) {
      if (core.statusName(code) !== 'UNKNOWN_STATUS') assert.ok(listed.has(code), `${profile}: status ${code} (${core.statusName(code)}) is in the list`);
    }
  }
  assert.deepEqual(Object.fromEntries(list.map((s) => [s.name, s.code])), STATUS, 'the TypeScript constants are the same list');
});

test('IOTHUB_WASM_EVENT_LIST gives every event type, as the host constants do', () => {
  const out = runC(`#include <stdio.h>
#include "iothub_wasm_abi.h"
#define PRINT(name, type) printf("%s %d\\n", #name, (int)(type));
int main(void) { IOTHUB_WASM_EVENT_LIST(PRINT) return 0; }
`);
  const events = Object.fromEntries(out.trim().split('\n').map((l) => { const [name, type] = l.split(' '); return [name, Number(type)]; }));
  assert.deepEqual(events, EVENT);
});

test('every export is named <area>_<noun>[_<verb>], and both builds report the one ABI version', () => {
  for (const profile of profiles) {
    const core = new Core(profile);
    assert.equal(core.exports.abi_version(), ABI_VERSION);
    for (const { name, kind } of WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(wasmPath(profile))))) {
      if (kind === 'memory') continue;
      assert.match(name, /^(abi|mqtt|crypto|iothub|client|dps)_[a-z0-9]+(_[a-z0-9]+)*$/, `${profile}: ${name}`);
      assert.doesNotMatch(name, /_abi_version$/, 'one abi_version, no per-area versions');
    }
  }
});

test('mcu.wasm exports only what a device needs: the shared abi_* exports and the device client (provisioning is in mcu-full.wasm)', () => {
  const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(wasmPath('mcu')))).map((e) => e.name);
  assert.ok(names.includes('client_poll') && names.includes('abi_status_name'));
  const other = names.filter((n) => n !== 'memory' && !/^(abi|client)_/.test(n));
  assert.deepEqual(other, [], 'no codec, crypto, SAS, topic, DPS helpers or provisioning');
  const full = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(wasmPath('mcu-full')))).map((e) => e.name);
  assert.ok(full.includes('dps_poll'), 'the MCU profile with provisioning is mcu-full.wasm');
  // The type says the same: DPS helpers are not part of McuExports.
  // @ts-expect-error: iothub_dps_username is a gateway export
  const dps = (e: McuExports) => e.iothub_dps_username(0, 0, 0, 0, 0, 0);
  assert.equal(typeof dps, 'function');
});

test('the host sees typed exports: a misspelled export or a wrong number of arguments does not compile', () => {
  const ex = new Core('mcu').exports;
  // @ts-expect-error: no such export (client_state is)
  const misspelled = (e: GatewayExports) => e.client_stat();
  // @ts-expect-error: client_start takes nowMs
  const tooFew = (e: GatewayExports) => e.client_start();
  // @ts-expect-error: client_init takes (ptr, len)
  const tooMany = (e: GatewayExports) => e.client_init(0, 0, 0);
  assert.equal(typeof misspelled, 'function');
  assert.equal(typeof tooFew, 'function');
  assert.equal(typeof tooMany, 'function');
  assert.equal(ex.client_state(), STATE.IDLE);
});

test("boards/README.md names exactly the exports that take an i64 (all else is i32)", async () => {
  const { default: binaryen } = await import('binaryen');
  const m = binaryen.readBinary(readFileSync(wasmPath('gateway')));
  const wide: string[] = [];
  try {
    for (let i = 0; i < m.getNumExports(); i++) {
      const e = binaryen.getExportInfo(m.getExportByIndex(i));
      if (e.kind !== binaryen.ExternalFunction) continue;
      const f = binaryen.getFunctionInfo(m.getFunction(e.value));
      if ([...binaryen.expandType(f.params), ...binaryen.expandType(f.results)].some((t) => t === binaryen.i64)) wide.push(e.name);
    }
  } finally { m.dispose(); }
  const readme = readFileSync(new URL('../../../boards/README.md', import.meta.url), 'utf8');
  const said = /except (\w+) that take an `i64` expiry \(([^)]*)\)/.exec(readme);
  assert.ok(said, 'the README says which exports take an i64');
  const names = [...said[2]!.matchAll(/`(\w+)`/g)].map((x) => x[1]!);
  assert.deepEqual(names.sort(), wide.sort());
  assert.equal(said[1], ['none', 'one', 'two', 'three', 'four', 'five'][wide.length]);
});
