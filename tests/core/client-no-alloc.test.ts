// Zero allocation for the whole device client: a long session driven in memory (a scripted peer answers
// CONNECT, SUBSCRIBE, every QoS 1 PUBLISH and twin request, and sends C2D, methods and desired patches) leaves
// the memory size, the heap base, the free memory above the static data and the deepest part of the stack
// untouched. The end-to-end tests run the same client against the real local hub; this one is about memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { wasmPath } from '../../host/wasm/core.js';
import { encodePacket, PacketDecoder, type Packet } from '../../host/codec/index.js';

const CS = 'HostName=hub.example.net;DeviceId=dev-1;SharedAccessKey=' + Buffer.alloc(32, 9).toString('base64');
type Ex = Record<string, (...a: number[]) => number> & { memory: WebAssembly.Memory };

for (const profile of ['mcu', 'gateway'] as const) {
  test(`the ${profile} client runs 100,000 round trips without touching memory outside its static data`, () => {
    const ex = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasmPath(profile))), {}).exports as Ex;
    const mem = new Uint8Array(ex.memory.buffer);
    const io = ex.io_ptr();
    const put = (s: string | Uint8Array, at = io) => { const b = typeof s === 'string' ? Buffer.from(s) : s; mem.set(b, at); return b.length; };
    const heapBase = ex.layout_heap_base();
    const size = ex.memory.buffer.byteLength;
    const canary = (i: number) => (i * 131 + 7) & 0xff;
    for (let i = heapBase; i < size; i++) mem[i] = canary(i);

    assert.equal(ex.client_init(io, put(CS)), 0);
    let now = 1000;
    ex.client_set_time(1_800_000_000, now);
    assert.equal(ex.client_start(now), 0);
    assert.equal(ex.client_wants(), 1);
    assert.equal(ex.client_transport_up(now), 0);

    const peer = new PacketDecoder();
    const sent = (): Packet[] => {
      const n = ex.client_tx_len();
      const p = ex.client_tx_ptr();
      const out = peer.push(Buffer.from(mem.subarray(p, p + n)));
      ex.client_tx_consumed(n);
      return out;
    };
    const feed = (pkt: Packet) => {
      const b = encodePacket(pkt);
      mem.set(b, ex.client_rx_window());
      ex.client_rx_commit(b.length);
    };
    const events: number[] = [];
    const pollAll = () => { let t; while ((t = ex.client_poll(now)) !== 0) { events.push(t); if (t === 5) ex.client_ack(new Uint32Array(ex.memory.buffer, ex.client_event_ptr(), 11)[2]); } };

    assert.equal(sent()[0].cmd, 'connect');
    feed({ cmd: 'connack', returnCode: 0, sessionPresent: false });
    pollAll();
    const sub = sent()[0] as { cmd: string; messageId: number };
    assert.equal(sub.cmd, 'subscribe');
    feed({ cmd: 'suback', messageId: sub.messageId, granted: [1, 0, 0, 0] });
    pollAll();
    assert.ok(events.includes(1), 'connected');

    let acked = 0;
    let twinAnswers = 0;
    for (let i = 0; i < 100_000; i++) {
      now += 3;
      ex.client_telemetry_begin();
      const nl = put('alert');
      ex.client_telemetry_property(io, nl, io + nl, put('high', io + nl));
      ex.client_telemetry_system(0, io, put(`m-${i}`));
      const token = ex.client_telemetry_send(io, put('{"t":21.5}'), 1);
      assert.ok(token > 0);
      for (const p of sent()) if (p.cmd === 'publish' && p.qos === 1) feed({ cmd: 'puback', messageId: p.messageId! });
      if (i % 10 === 0) {
        assert.ok(ex.client_twin_patch(io, put('{"x":1}')) > 0);
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
      for (const t of events) { if (t === 3) acked++; if (t === 7) twinAnswers++; }
      if (events.includes(6)) ex.client_method_respond(io, put('ab'), 200, io + 2, put('{"ok":true}', io + 2));
      events.length = 0;
      sent();
    }
    assert.equal(acked, 100_000, 'every message acknowledged');
    assert.equal(twinAnswers, 10_000);
    ex.client_stop(now);
    pollAll();

    assert.equal(ex.memory.buffer.byteLength, size, 'memory never grew');
    assert.equal(ex.layout_heap_base(), heapBase);
    let touched = -1;
    for (let i = heapBase; i < size; i++) if (mem[i] !== canary(i)) { touched = i; break; }
    assert.equal(touched, -1, `memory above the static data was written at ${touched}`);
  });
}
