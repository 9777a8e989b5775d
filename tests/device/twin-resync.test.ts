// Twin resync: IoT Hub sends desired patches only to a connected device, so after every reconnect the core reads
// the twin and delivers a desired document newer than the last one it delivered, once, as one patch with that
// version, before later patches (OPT_TWIN_RESYNC, on by default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, waitFor } from './support.js';
import { DeviceClient } from '../../host/device/client.js';

test('desired properties changed while the device was away arrive once after the reconnect, newest version, then later patches as usual', async () => {
  const rig = await startHub();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('resync-dev');
    // a back-off long enough that the updates below land while the device is away
    const client = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, retry: { minMs: 1500, maxMs: 1500, jitterMs: 0, stableMs: 60000 } });
    const seen: Array<[Record<string, unknown>, number]> = [];
    client.onDesiredProperties((patch, version) => seen.push([patch, version]));
    await client.connect();
    const first = waitFor<void>((done) => client.once('desired', () => done()), 5000, 'the first patch');
    const v1 = (await rig.hub.updateDesired('resync-dev', { rate: 1 })).properties.desired['$version'] as number;
    await first;
    assert.deepEqual(seen.map(([, v]) => v), [v1]);

    const back = waitFor<void>((done) => client.once('connected', () => done()), 10000, 'the reconnect');
    await rig.hub.dropConnection('resync-dev');
    await rig.hub.updateDesired('resync-dev', { rate: 2 });
    const v3 = (await rig.hub.updateDesired('resync-dev', { mode: 'eco' })).properties.desired['$version'] as number;
    assert.equal(seen.length, 1, 'nothing arrives while the device is away');
    await back;
    await waitFor<void>((done) => { const t = setInterval(() => { if (seen.length >= 2) { clearInterval(t); done(); } }, 10); }, 5000, 'the catch-up');
    const [patch, version] = seen[1]!;
    assert.equal(version, v3, 'the newest version, not the one in between');
    assert.equal(patch['rate'], 2);
    assert.equal(patch['mode'], 'eco');

    const v4 = (await rig.hub.updateDesired('resync-dev', { rate: 3 })).properties.desired['$version'] as number;
    await waitFor<void>((done) => { const t = setInterval(() => { if (seen.length >= 3) { clearInterval(t); done(); } }, 10); }, 5000, 'a later patch');
    assert.deepEqual(seen.map(([, v]) => v), [v1, v3, v4], 'each version once, in order');
    assert.deepEqual(seen[2]![0], { rate: 3, $version: v4 });
    await client.close();
  } finally {
    await rig.stop();
  }
});

test('with OPT_TWIN_RESYNC off (twinResync: false) nothing is read after a reconnect', async () => {
  const rig = await startHub();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('no-resync');
    const client = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, twinResync: false, retry: { minMs: 1000, maxMs: 1000, jitterMs: 0 } });
    const seen: number[] = [];
    client.onDesiredProperties((_p, v) => seen.push(v));
    await client.connect();
    const back = waitFor<void>((done) => client.once('connected', () => done()), 10000, 'the reconnect');
    await rig.hub.dropConnection('no-resync');
    await rig.hub.updateDesired('no-resync', { rate: 9 });
    await back;
    const twin = await client.getTwin(); // a round trip: a resync answer would have arrived before this one
    assert.equal(twin.desired['rate'], 9);
    assert.deepEqual(seen, []);
    await client.close();
  } finally {
    await rig.stop();
  }
});
