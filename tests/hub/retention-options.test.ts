// The Event Hub-compatible endpoint's retention is the hub's to set: LocalHubOptions and `iothub-wasm hub --retention`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retentionOf } from '../../host/hub/cli.js';
import { startHub, connectRaw, endClient } from './helpers.js';

test('--retention reads an age, a count and a size in any order, and refuses anything else by name', () => {
  assert.deepEqual(retentionOf('24h,10000,64MiB'), { retentionHours: 24, retentionMaxEvents: 10_000, retentionMaxBytes: 64 * 1024 * 1024 });
  assert.deepEqual(retentionOf('0.5mib, 2h'), { retentionMaxBytes: 512 * 1024, retentionHours: 2 });
  for (const bad of ['10GB', '-1', '0h', '1.5', 'forever']) assert.throws(() => retentionOf(bad), /--retention: /, bad);
});

test('retentionMaxEvents bounds what the events endpoint keeps per partition: the newest stay', async () => {
  const rig = await startHub({ retentionMaxEvents: 5 });
  try {
    const { primaryKey } = await rig.hub.registry.addDevice('kept');
    const c = await connectRaw(rig.hub, { deviceId: 'kept', key: primaryKey });
    for (let i = 0; i < 40; i++) {
      await new Promise<void>((resolve, reject) => c.publish('devices/kept/messages/events/', `m${i}`, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    }
    await endClient(c);
    const p = rig.hub.events.partitionOf('kept');
    const kept = rig.hub.events.read(p, { kind: 'seq', value: 0, inclusive: true }).map((e) => e.body.toString());
    assert.ok(kept.length >= 1 && kept.length <= 5, `kept ${kept.length}`);
    assert.equal(kept.at(-1), 'm39', 'the newest is kept');
    assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => `m${40 - kept.length + i}`), 'a contiguous newest run');
  } finally {
    await rig.done();
  }
});
