// What wasm2c translates for the C boards (build/wasm2c/mcu.wasm, scripts/merge-data-segments.mjs) is mcu.wasm with
// its nearby data segments merged: the same exports and, once instantiated, the same memory, byte for byte.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import binaryen from 'binaryen';
import { boardTest, ROOT } from './support.js';

boardTest('the module the C boards are built from has fewer data segments than mcu.wasm, the same exports and the same memory image', { packages: ['wabt'], built: ['build/wasm2c/mcu.wasm'] }, () => {
  const original = readFileSync(join(ROOT, 'build/mcu.wasm'));
  const merged = readFileSync(join(ROOT, 'build/wasm2c/mcu.wasm'));
  const segments = (bytes: Uint8Array) => { const m = binaryen.readBinary(bytes); try { return m.getNumMemorySegments(); } finally { m.dispose(); } };
  assert.ok(segments(merged) * 10 < segments(original), `${segments(merged)} segments, from ${segments(original)}`);

  const a = new WebAssembly.Instance(new WebAssembly.Module(original), {}).exports;
  const b = new WebAssembly.Instance(new WebAssembly.Module(merged), {}).exports;
  assert.deepEqual(Object.keys(b), Object.keys(a));
  const memory = (e: WebAssembly.Exports) => Buffer.from((e.memory as WebAssembly.Memory).buffer);
  assert.ok(memory(a).equals(memory(b)), 'the same memory after instantiation');
  for (const name of ['abi_version', 'abi_io_ptr', 'abi_heap_base', 'client_event_ptr']) {
    assert.equal((b[name] as () => number)(), (a[name] as () => number)(), name);
  }
});
