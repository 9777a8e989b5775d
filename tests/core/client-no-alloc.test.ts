// Zero allocation for the whole device client: a long session driven in memory (a scripted peer answers
// CONNECT, SUBSCRIBE, every QoS 1 PUBLISH and twin request, and sends C2D, methods and desired patches) leaves
// the memory size, the heap base, the free memory above the static data and the deepest part of the stack
// untouched (every fifth message through store and forward: record, check, restore, completion marker). The end-to-end tests run the same client against the real local hub; this one is about memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedCore } from '../support/scripted-core.js';
import { EVENT, STATUS, SYSTEM_PROPERTY } from '../../host/wasm/abi.generated.js';

for (const profile of ['mcu', 'gateway'] as const) {
  test(`the ${profile} client runs 100,000 round trips without touching memory outside its static data`, () => {
    const c = new ScriptedCore(profile);
    const { ex, mem, io } = c;
    const heapBase = ex.abi_heap_base();
    const stackPointer = ex.sp.value as number;
    const size = ex.memory.buffer.byteLength;
    const canary = (i: number) => (i * 131 + 7) & 0xff;
    for (let i = heapBase; i < size; i++) mem[i] = canary(i);
    const put = (s: string, at = io) => c.put(s, at);
    const sent = () => c.sent();
    const feed = (p: Parameters<ScriptedCore['feed']>[0]) => c.feed(p);
    const events: number[] = [];
    const pollAll = () => { for (const e of c.poll()) { events.push(e.type); if (e.type === EVENT.C2D) ex.client_c2d_ack(e.token); } };
    assert.ok(c.connect().events.some((e) => e.type === EVENT.CONNECTED), 'connected');

    let acked = 0;
    let twinAnswers = 0;
    for (let i = 0; i < 100_000; i++) {
      c.now += 3;
      ex.client_telemetry_begin();
      const nl = put('alert');
      ex.client_telemetry_property_add(io, nl, io + nl, put('high', io + nl));
      ex.client_telemetry_system_add(SYSTEM_PROPERTY.MESSAGE_ID, io, put(`m-${i}`));
      let token: number;
      if (i % 5 === 0) {
        // store and forward: the record written, checked (and once in a while corrupted), queued, completed
        token = ex.client_telemetry_store(io, put('{"t":21.5}'), c.now);
        const ptr = ex.client_store_ptr(), len = ex.client_store_len();
        assert.equal(ex.client_store_check(ptr, len), len);
        if (i % 1000 === 0) {
          mem[ptr + len - 9] ^= 1;
          assert.equal(ex.client_store_check(ptr, len), STATUS.CLIENT_STORE_CORRUPT);
          mem[ptr + len - 9] ^= 1;
          assert.equal(ex.client_store_check(ptr, len - 1), STATUS.CLIENT_STORE_TRUNCATED);
        }
        assert.equal(ex.client_store_restore(ptr, len), token);
        assert.equal(ex.client_store_done(token), ex.client_store_len());
        assert.equal(ex.client_store_check(ptr, ex.client_store_len()), ex.client_store_len());
      } else {
        token = ex.client_telemetry_send(io, put('{"t":21.5}'), 1);
      }
      assert.ok(token > 0);
      for (const p of sent()) if (p.cmd === 'publish' && p.qos === 1) feed({ cmd: 'puback', messageId: p.messageId! });
      if (i % 10 === 0) {
        assert.ok(ex.client_twin_patch(io, put('{"x":1}'), c.now) > 0);
        for (const p of sent()) {
          if (p.cmd === 'publish' && p.topic.startsWith('$iothub/twin/')) {
            const rid = /\$rid=(\d+)/.exec(p.topic)![1];
            feed({ cmd: 'publish', topic: `$iothub/twin/res/204/?$rid=${rid}&$version=${i + 2}`, payload: '' });
          }
        }
        feed({ cmd: 'publish', topic: 'devices/dev-1/messages/devicebound/%24.mid=c&k=v&flag', payload: 'c2d', qos: 1, messageId: (i % 60000) + 1 });
        feed({ cmd: 'publish', topic: `$iothub/twin/PATCH/properties/desired/?$version=${i + 2}`, payload: '{"a":1}' });
        feed({ cmd: 'publish', topic: '$iothub/methods/POST/reboot/?$rid=ab', payload: '{}' });
      }
      pollAll();
      for (const t of events) { if (t === EVENT.TELEMETRY_ACKED) acked++; if (t === EVENT.TWIN_RESPONSE) twinAnswers++; }
      if (events.includes(EVENT.METHOD)) ex.client_method_respond(io, put('ab'), 200, io + 2, put('{"ok":true}', io + 2));
      events.length = 0;
      sent();
    }
    assert.equal(acked, 100_000, 'every message acknowledged');
    assert.equal(twinAnswers, 10_000);
    ex.client_stop(c.now);
    pollAll();

    assert.equal(ex.memory.buffer.byteLength, size, 'memory never grew');
    assert.equal(ex.abi_heap_base(), heapBase);
    assert.equal(ex.sp.value, stackPointer, 'stack pointer back where it started');
    let touched = -1;
    for (let i = heapBase; i < size; i++) if (mem[i] !== canary(i)) { touched = i; break; }
    assert.equal(touched, -1, `memory above the static data was written at ${touched}`);
  });
}
