// Zero allocation after initialisation, proved three ways (docs/ARCHITECTURE.md):
//  1. compile time: build/*.wasm link a runtime whose allocator bodies are compile errors, and this test shows
//     the mechanism bites by compiling one allocation against it;
//  2. the binary: the MCU module imports nothing, validates as WebAssembly 1.0 (no bulk memory, SIMD, reference
//     types, threads, sign-extension), declares one 64 KiB page and contains no memory.grow / memory.size;
//  3. run time: a million encode/decode operations leave the memory size, the heap base and every byte above
//     the static data untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import binaryen from 'binaryen';
import asc from 'assemblyscript/asc';
import { wasmPath } from '../../host/wasm/core.js';
import { withStackPointerExported } from '../support/stack-pointer.js';
import { PACKET_TYPE, PACKET_RECORD_WORDS, type GatewayExports } from '../../host/wasm/abi.generated.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

async function compile(source: string): Promise<{ ok: boolean; stderr: string }> {
  let stderr = '';
  const { error } = await asc.main(
    ['input.ts', '--runtime', `${root}assembly/runtime/no-alloc`, '--use', 'abort=', '--outFile', 'out.wasm'],
    {
      readFile: (name: string, baseDir: string) => {
        if (name === 'input.ts') return source;
        // Only the runtime under test comes from disk (not the project's asconfig.json or sources).
        if (!name.endsWith('no-alloc.ts')) return null;
        try { return readFileSync(name.startsWith('/') ? name : `${baseDir}/${name}`, 'utf8'); } catch { return null; }
      },
      writeFile: () => {},
      listFiles: () => [],
      stderr: { write: (s: string | Uint8Array) => { stderr += String(s); return true; } } as never,
      stdout: { write: () => true } as never,
    },
  );
  return { ok: !error, stderr };
}

test('compile time: the no-allocation runtime turns any allocation into a build error', async () => {
  const control = await compile('export function f(x: i32): i32 { store<u8>(1024 + x, 1); return x + 1; }');
  assert.ok(control.ok, `a non-allocating module builds: ${control.stderr}`);
  for (const src of [
    'export function f(x: i32): string { return x.toString(); }',
    'export function f(a: string, b: string): string { return a + b; }',
    'class P { x: i32 = 0 } export function f(): i32 { return new P().x; }',
    'export function f(): i32 { const a = new Array<i32>(); a.push(1); return a.length; }',
  ]) {
    const r = await compile(src);
    assert.equal(r.ok, false, `must not build: ${src}`);
    assert.match(r.stderr, /iothub-wasm core must not allocate/);
  }
});

/** Runs fn with binaryen's validator messages kept off the test output. */
function quietly<T>(fn: () => T): T {
  const write = process.stderr.write, log = console.error, out = console.log;
  process.stderr.write = (() => true) as typeof write;
  console.error = () => {}; console.log = () => {};
  try { return fn(); } finally { process.stderr.write = write; console.error = log; console.log = out; }
}

function inspect(profile: 'mcu' | 'mcu-full' | 'gateway') {
  const bytes = readFileSync(wasmPath(profile));
  const mod = binaryen.readBinary(bytes);
  const text = mod.emitText();
  const mvp = quietly(() => { mod.setFeatures(binaryen.Features.MVP); return mod.validate() === 1; });
  const memory = mod.getMemoryInfo();
  mod.dispose();
  return { bytes, text, mvp, memory, imports: WebAssembly.Module.imports(new WebAssembly.Module(bytes)) };
}

for (const build of ['mcu', 'mcu-full'] as const) {
  test(`binary: the MCU module (${build}.wasm) imports nothing, is WebAssembly 1.0, one page, never grows or sizes memory`, () => {
    const m = inspect(build);
    assert.deepEqual(m.imports, []);
    assert.ok(m.mvp, 'validates with the MVP feature set only');
    assert.equal(m.memory.initial, 1);
    assert.equal(m.memory.max, 1);
    assert.doesNotMatch(m.text, /memory\.grow|memory\.size/);
    assert.doesNotMatch(m.text, /memory\.copy|memory\.fill|v128|atomic|ref\.|i32\.extend8_s|i32\.extend16_s|trunc_sat/);
  });
}

test('binary: the gateway module imports nothing and never grows memory (the MVP check can tell the two apart)', () => {
  const g = inspect('gateway');
  assert.deepEqual(g.imports, []);
  assert.doesNotMatch(g.text, /memory\.grow|memory\.size/);
  assert.equal(g.memory.initial, g.memory.max, 'fixed memory');
  // The gateway build uses bulk memory: the same validator refuses it as MVP, so the MCU check above is real.
  assert.equal(g.mvp, false);
});

for (const profile of ['mcu', 'gateway'] as const) {
  test(`run time (${profile}): a million codec operations leave memory size, heap base, stack pointer and free memory untouched`, () => {
    // The codec is exported by the gateway build and by the MCU profile's full-export build (mcu.wasm exports only the client).
    const build = profile === 'mcu' ? 'mcu-full' : 'gateway';
    const instance = new WebAssembly.Instance(new WebAssembly.Module(withStackPointerExported(new Uint8Array(readFileSync(wasmPath(build))))), {});
    const ex = instance.exports as unknown as GatewayExports & { sp: WebAssembly.Global };
    const stackPointer = ex.sp.value as number;
    const mem = new Uint8Array(ex.memory.buffer);
    const heapBase = ex.abi_heap_base();
    const size = ex.memory.buffer.byteLength;
    assert.ok(heapBase <= size, 'static data fits the declared memory');
    // Canary over everything above the static data: any allocation or stack spill there would show.
    for (let i = heapBase; i < size; i++) mem[i] = (i * 31) & 0xff;

    const F = PACKET_RECORD_WORDS;
    const rec = new Uint32Array(ex.memory.buffer, ex.mqtt_packet_encode_ptr(), F.WORDS);
    const io = ex.abi_io_ptr();
    const topic = Buffer.from('devices/dev-1/messages/events/%24.mid=m1&alert=high');
    mem.set(topic, io);
    const payloadPtr = io + topic.length;
    mem.set(Buffer.alloc(100, 0x41), payloadPtr);
    const tx = ex.mqtt_tx_ptr();
    let decoded = 0;
    for (let i = 0; i < 1_000_000; i++) {
      rec.fill(0);
      rec[F.type] = PACKET_TYPE.PUBLISH; rec[F.qos] = 1; rec[F.messageId] = (i % 65535) + 1;
      rec[F.topicPtr] = io; rec[F.topicLen] = topic.length; rec[F.payloadPtr] = payloadPtr; rec[F.payloadLen] = 100;
      const n = ex.mqtt_packet_encode();
      if (n <= 0) assert.fail(`encode failed: ${n}`);
      // Stream the packet through the receive window in two pieces, then decode it.
      const half = n >> 1;
      mem.copyWithin(ex.mqtt_rx_window(), tx, tx + half);
      ex.mqtt_rx_commit(half);
      if (ex.mqtt_packet_decode_next() !== 0) assert.fail('half a packet must wait');
      mem.copyWithin(ex.mqtt_rx_window(), tx + half, tx + n);
      ex.mqtt_rx_commit(n - half);
      if (ex.mqtt_packet_decode_next() === PACKET_TYPE.PUBLISH) decoded++;
    }
    assert.equal(decoded, 1_000_000);
    assert.equal(ex.memory.buffer.byteLength, size, 'memory never grew');
    assert.equal(ex.abi_heap_base(), heapBase, 'heap base unchanged');
    assert.equal(ex.sp.value, stackPointer, 'stack pointer back where it started');
    let touched = -1;
    for (let i = heapBase; i < size; i++) if (mem[i] !== ((i * 31) & 0xff)) { touched = i; break; }
    assert.equal(touched, -1, `free memory above the static data was written at ${touched}`);
  });
}
