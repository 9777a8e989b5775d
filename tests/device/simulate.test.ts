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

test('simulate: a running fleet takes C2D, methods and desired updates; after the hub drops every device they come back at jittered times, and every acknowledged message reached the hub', async () => {
  const rig = await startHub({ plainPort: 0 });
  const arrived = new Set<string>();
  rig.hub.on('telemetry', (m) => { const id = m.systemProperties['messageId'] ?? m.systemProperties['$.mid']; if (id) arrived.add(id); });
  // Plain MQTT behind one connection-string template (one key for the fleet, registered in one write): a few
  // hundred TLS handshakes on each side of one loaded process would be most of the test's time.
  const key = Buffer.alloc(32, 9).toString('base64');
  await rig.hub.registry.addDevices(Array.from({ length: DEVICES }, (_, i) => `sim-${i + 1}`), { primaryKey: key });
  const template = `HostName=${rig.hub.hostName};DeviceId=sim-{n};SharedAccessKey=${key};GatewayHostName=localhost:${rig.hub.plainPort}`;
  const ac = new AbortController();
  let fleet: Fleet | undefined;
  let rc = -1;
  const run = main(['--devices', String(DEVICES), '--rate', '1000', '--connect-rate', '400', '--plain', '--connection-string', template], {
    signal: ac.signal, onStart: (f) => { fleet = f; f.recordAcked = true; },
  });
  try {
    await until('the fleet to start', () => fleet !== undefined);
    const f = fleet!;
    await until('every device to connect', () => f.stats().allConnectedMs >= 0);
    assert.equal(rig.hub.connectedIdentities().length, DEVICES);
    await until('telemetry from the fleet', () => f.stats().acked >= DEVICES);

    // While the fleet sends: C2D, a direct method and a desired update to some of its devices.
    const ids = f.clients.map((c) => c.deviceId);
    assert.equal(new Set(ids).size, DEVICES, 'each device is its own identity');
    const some = [0, 7, 42, 150, DEVICES - 1];
    await Promise.all(some.map((i) => rig.hub.sendC2D(ids[i]!, `c2d for ${ids[i]}`, { properties: { n: String(i) } })));
    const answers = await Promise.all(some.map((i) => rig.hub.invokeMethod(ids[i]!, 'reboot', { delay: i }, { responseTimeoutInSeconds: 30 })));
    assert.deepEqual(answers.map((a) => [a.status, a.payload]), some.map((i) => [200, { rebooting: true, delay: i }]));
    await Promise.all(some.map((i) => rig.hub.updateDesired(ids[i]!, { targetTemperature: 30 + i })));
    await until('the C2D messages and desired updates to arrive', () => some.every((i) => {
      const fw = f.firmwares[i]!;
      return fw.received.length === 1 && fw.targetTemperature === 30 + i;
    }));
    for (const i of some) {
      const fw = f.firmwares[i]!;
      assert.equal(fw.received[0]!.body.toString(), `c2d for ${ids[i]}`);
      assert.deepEqual(fw.received[0]!.properties, { n: String(i) });
      assert.deepEqual(fw.methodCalls, ['reboot']);
    }
    assert.ok(f.firmwares.every((fw, i) => some.includes(i) || (fw.received.length === 0 && fw.methodCalls.length === 0)), 'the others got nothing');

    // The hub drops every connection at once; the core's jittered back-off brings each device back.
    const reconnected = new Set<string>();
    const retryIn: number[] = [];
    for (const c of f.clients) {
      c.once('disconnected', (e: { retryInMs: number }) => retryIn.push(e.retryInMs));
      c.once('connected', () => reconnected.add(c.deviceId));
    }
    const drops = await Promise.all(ids.map((id) => rig.hub.dropConnection(id)));
    assert.equal(drops.filter(Boolean).length, DEVICES, 'the hub dropped every device');
    // A C2D message sent while the fleet is away waits at the hub and arrives after the reconnect.
    const away = [3, 99];
    await Promise.all(away.map((i) => rig.hub.sendC2D(ids[i]!, `while away ${i}`)));
    await until('every device to reconnect', () => reconnected.size === DEVICES && f.stats().connected === DEVICES);
    assert.ok(f.stats().reconnects >= DEVICES);
    // No thundering herd: each device waited its own jittered delay before trying again. Counted in 10 ms buckets
    // (the default jitter spreads them over seconds): many distinct buckets, none holding a crowd.
    assert.equal(retryIn.length, DEVICES, "every device heard of the drop ('disconnected' with its retry delay)");
    assert.ok(retryIn.every((ms) => ms >= 0), 'every device retries');
    const buckets = new Map<number, number>();
    for (const ms of retryIn) buckets.set(Math.floor(ms / 10), (buckets.get(Math.floor(ms / 10)) ?? 0) + 1);
    assert.ok(buckets.size >= DEVICES / 10, `retry delays in only ${buckets.size} distinct 10 ms buckets`);
    assert.ok(Math.max(...buckets.values()) <= DEVICES / 10, `${Math.max(...buckets.values())} devices retry in the same 10 ms`);
    await until('the C2D messages sent while away', () => away.every((i) => f.firmwares[i]!.received.some((m) => m.body.toString() === `while away ${i}`)));
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

test('simulate --hub-data-dir registers the fleet on the running hub in one go (a device registered before keeps its keys) and runs it over TLS', async () => {
  const rig = await startHub();
  const before = await rig.hub.registry.addDevice('tls-2');
  const ac = new AbortController();
  let fleet: Fleet | undefined;
  const log = console.log;
  const lines: string[] = [];
  console.log = (line: string) => { lines.push(String(line)); };
  try {
    const run = main(['--devices', '5', '--rate', '50', '--prefix', 'tls', '--hub-data-dir', rig.dataDir], { signal: ac.signal, onStart: (f) => { fleet = f; } });
    try {
      await until('the fleet to start', () => fleet !== undefined);
      await until('every device to connect and send', () => fleet!.stats().allConnectedMs >= 0 && fleet!.stats().acked >= 5);
    } finally {
      ac.abort();
      assert.equal(await run, 0);
    }
    assert.ok(lines.some((l) => /^registered 5 devices on /.test(l)), lines.join('\n'));
    const ids = rig.hub.registry.list().map((d) => d.deviceId).filter((id) => id.startsWith('tls-')).sort();
    assert.deepEqual(ids, ['tls-1', 'tls-2', 'tls-3', 'tls-4', 'tls-5']);
    assert.equal(rig.hub.registry.get('tls-2')!.primaryKey, before.primaryKey, 'registered before: same key');
    assert.equal(fleet!.clients[1]!.deviceId, 'tls-2');
  } finally {
    console.log = log;
    await rig.stop().catch(() => {});
  }
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
