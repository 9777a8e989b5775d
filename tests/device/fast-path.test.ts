// The fast paths beside sendTelemetry: a property bag encoded once (TelemetryProperties) and a batch of messages
// for one promise (sendTelemetryBatch) put the same bytes on the wire as the simple call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TelemetryProperties } from '../../host/device/client.js';
import { IotHubWasmError } from '../../host/errors.js';
import { startHub, device } from './support.js';

const PROPS = { 'weird key &=/ü': 'a b&c=d/e ü€😀?#+', alert: 'high', empty: '', bare: null };

test('a pre-built TelemetryProperties and a batch deliver exactly the properties and bodies the simple call does', async () => {
  const rig = await startHub();
  const { client } = await device(rig.hub, 'fast-1');
  const seen: Array<{ body: string; properties: Record<string, string | null>; messageId?: string }> = [];
  rig.hub.on('telemetry', (m) => seen.push({ body: m.body.toString(), properties: { ...m.properties }, messageId: m.systemProperties['messageId'] }));
  try {
    await client.connect();
    const bag = new TelemetryProperties(PROPS);
    await client.sendTelemetry('simple', { properties: PROPS, messageId: 'm-simple' });
    await client.sendTelemetry('bag', { properties: bag, messageId: 'm-bag' });
    await client.sendTelemetryBatch(['b0', Buffer.from('b1'), { b: 2 }], { properties: bag });
    await client.sendTelemetryBatch([], { properties: bag });
    const deadline = Date.now() + 5000;
    while (seen.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen.map((m) => m.body), ['simple', 'bag', 'b0', 'b1', '{"b":2}']);
    for (const m of seen) assert.deepEqual(m.properties, PROPS, `${m.body}: the same application properties`);
    assert.equal(seen[1]!.messageId, 'm-bag');
  } finally {
    await client.close();
    await rig.stop();
  }
});

test('a batch beyond the outbox rejects with CLIENT_QUEUE_FULL and a bad property name with the core\'s code', async () => {
  const rig = await startHub();
  const { client } = await device(rig.hub, 'fast-2', { profile: 'mcu' });
  try {
    await client.connect();
    const slots = client.maxQueued;
    await assert.rejects(client.sendTelemetryBatch(Array.from({ length: slots + 1 }, (_v, i) => `m${i}`)),
      (e: IotHubWasmError) => e.code === 'CLIENT_QUEUE_FULL');
    const tooBig = new TelemetryProperties({ ['n'.repeat(70_000)]: 'v' });
    await assert.rejects(client.sendTelemetry('x', { properties: tooBig }), (e: IotHubWasmError) => e instanceof IotHubWasmError && /^CLIENT_/.test(e.code));
    assert.throws(() => new TelemetryProperties(null as unknown as Record<string, string>), (e: IotHubWasmError) => e.code === 'BAD_ARGUMENT');
    // Once the queued part of the batch is acknowledged, the client sends again.
    for (let i = 0; ; i++) {
      try { await client.sendTelemetry('still fine', { properties: new TelemetryProperties({ a: 'b' }) }); break; } catch (e) {
        if ((e as IotHubWasmError).code !== 'CLIENT_QUEUE_FULL' || i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    await client.close();
    await rig.stop();
  }
});
