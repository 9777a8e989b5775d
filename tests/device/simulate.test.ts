// `iothub-wasm simulate`: a fleet of thermostats on one shared core against the real local hub (in this process,
// on a data folder, as `iothub-wasm hub` runs). Not timed: every wait is bounded and waits for an event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main, type Fleet } from '../../host/commands/simulate.js';
import { startHub } from './support.js';

const DEVICES = 300;

async function until(what: string, ok: () => boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('simulate: every device of a fleet reconnects after the hub drops them all, and every acknowledged message reached the hub', async () => {
  const rig = await startHub({ plainPort: 0 });
  const arrived = new Set<string>();
  rig.hub.on('telemetry', (m) => { const id = m.systemProperties['messageId'] ?? m.systemProperties['$.mid']; if (id) arrived.add(id); });
  const ac = new AbortController();
  let fleet: Fleet | undefined;
  let rc = -1;
  const run = main(['--devices', String(DEVICES), '--rate', '1000', '--connect-rate', '400', '--hub-data-dir', rig.dataDir], {
    signal: ac.signal, onStart: (f) => { fleet = f; f.recordAcked = true; },
  });
  try {
    await until('the fleet to start', () => fleet !== undefined);
    const f = fleet!;
    await until('every device to connect', () => f.stats().allConnectedMs >= 0);
    assert.equal(rig.hub.connectedIdentities().length, DEVICES);
    await until('telemetry from the fleet', () => f.stats().acked >= DEVICES);

    // The hub drops every connection at once; the core's jittered back-off brings each device back.
    const ids = f.clients.map((c) => c.deviceId);
    assert.equal(new Set(ids).size, DEVICES, 'each device is its own identity');
    const reconnected = new Set<string>();
    for (const c of f.clients) c.once('connected', () => reconnected.add(c.deviceId));
    const drops = await Promise.all(ids.map((id) => rig.hub.dropConnection(id)));
    assert.equal(drops.filter(Boolean).length, DEVICES, 'the hub dropped every device');
    await until('every device to reconnect', () => reconnected.size === DEVICES && f.stats().connected === DEVICES);
    assert.ok(f.stats().reconnects >= DEVICES);
    const ackedBefore = f.stats().acked;
    await until('telemetry after the reconnect', () => f.stats().acked >= ackedBefore + DEVICES);
    await until('the hub to count every device', () => rig.hub.connectedIdentities().length === DEVICES, 10_000);
  } finally {
    ac.abort();
    rc = await run.catch(() => -1);
    await rig.stop();
  }
  assert.equal(rc, 0);
  const f = fleet!;
  assert.ok(f.ackedIds.size >= 2 * DEVICES);
  const missing = [...f.ackedIds].filter((id) => !arrived.has(id));
  assert.deepEqual(missing, [], 'every message the hub acknowledged arrived at the hub');
});

test('simulate: bad arguments exit 2 without connecting anything', async () => {
  const err = console.error;
  console.error = () => {};
  try {
    assert.equal(await main(['--devices', '0', '--rate', '1', '--connection-string', 'HostName=h;DeviceId=d{n};SharedAccessKey=a2V5']), 2);
    assert.equal(await main(['--devices', '2', '--rate', 'fast', '--connection-string', 'HostName=h;DeviceId=d{n};SharedAccessKey=a2V5']), 2);
    assert.equal(await main(['--devices', '2', '--rate', '1', '--connection-string', 'HostName=h;DeviceId=d;SharedAccessKey=a2V5']), 2, 'a template without {n}');
    assert.equal(await main(['--devices', '2', '--rate', '1']), 2, 'neither a template nor a hub folder');
    assert.equal(await main(['--devices', '2', '--rate', '1', '--hub-data-dir', '/nonexistent-iothub-wasm']), 2, 'no hub running there');
    assert.equal(await main(['--devices', '2', '--rate', '1', '--bogus']), 2);
  } finally {
    console.error = err;
  }
});
