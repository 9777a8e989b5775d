// Soak: a device on the MCU build talks to the real local hub for tens of thousands of messages, twin updates
// and C2D, through dropped connections, and its linear memory never changes size, the heap base never moves and
// not one byte above the static data is written (zero allocation after initialisation, end to end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Core } from '../../host/wasm/core.js';
import { startHub, device, waitFor } from './support.js';

test('soak: 30,000 QoS 1 messages, twin updates, C2D and dropped connections leave the MCU core\'s memory untouched', async () => {
  const rig = await startHub();
  try {
    const { client } = await device(rig.hub, 'soak', { profile: 'mcu' });
    const core = (client as unknown as { core: Core }).core;
    const mem = new Uint8Array(core.memory.buffer);
    const heapBase = core.exports.abi_heap_base();
    const size = core.memory.buffer.byteLength;
    const canary = (i: number) => (i * 167 + 3) & 0xff;
    for (let i = heapBase; i < size; i++) mem[i] = canary(i);

    let c2d = 0;
    client.onC2D(() => { c2d++; });
    await client.connect();
    let received = 0;
    rig.hub.on('telemetry', (m) => { if (m.deviceId === 'soak') received++; });
    const total = 30_000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        await client.sendTelemetry(`{"i":${i}}`, { properties: { k: String(i % 7) } });
        if (i % 2000 === 0) await client.updateReportedProperties({ i });
        if (i % 5000 === 2500) { await rig.hub.sendC2D('soak', `c${i}`); }
        if (i % 10000 === 5000) await rig.hub.dropConnection('soak');
      }
    };
    await Promise.all(Array.from({ length: client.maxQueued }, worker));
    await waitFor<void>((done) => { const t = setInterval(() => { if (c2d >= 6) { clearInterval(t); done(); } }, 10); }, 10000, 'C2D');
    await client.close();
    assert.ok(received >= total, `every acknowledged message reached the hub (${received})`);
    assert.equal(core.memory.buffer.byteLength, size, 'memory never grew');
    assert.equal(core.exports.abi_heap_base(), heapBase);
    let touched = -1;
    for (let i = heapBase; i < size; i++) if (mem[i] !== canary(i)) { touched = i; break; }
    assert.equal(touched, -1, `memory above the static data was written at ${touched}`);
  } finally {
    await rig.stop();
  }
});
