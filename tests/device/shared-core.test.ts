// Many devices on one instance of the core (gateways): each device's state is swapped in and out as a snapshot.
// Interleaved traffic on several devices must behave exactly as with one instance each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedCore } from '../../host/device/shared-core.js';
import { IotHubWasmError } from '../../host/errors.js';
import { startHub, device, waitFor, sleep } from './support.js';
import type { C2DMessage } from '../../host/device/client.js';

test('eight devices on one shared core: telemetry, twin, methods, C2D and a dropped connection, interleaved', async () => {
  const rig = await startHub();
  const shared = new SharedCore('gateway');
  const clients: Array<import('../../host/device/client.js').DeviceClient> = [];
  try {
    const ids = Array.from({ length: 8 }, (_v, i) => `gw-dev-${i}`);
    clients.push(...await Promise.all(ids.map(async (id) => {
      const { client } = await device(rig.hub, id, { shared });
      client.onMethod('whoami', () => ({ status: 200, payload: id }));
      return client;
    })));
    const received = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]));
    rig.hub.on('telemetry', (m) => received.get(m.deviceId)?.add(m.body.toString()));
    await Promise.all(clients.map((c) => c.connect()));

    const c2d = clients.map((c) => waitFor<C2DMessage>((done) => c.onC2D(done), 10000, 'C2D'));
    const sends = clients.flatMap((c, i) => Array.from({ length: 30 }, (_v, k) => c.sendTelemetry(`${ids[i]}#${k}`, { properties: { k: String(k) } })));
    // Drop one device while its telemetry is in flight: it reconnects and resends; the others carry on.
    const back = waitFor<void>((done) => clients[3].once('connected', () => done()), 10000, 'reconnect');
    await rig.hub.dropConnection(ids[3]);
    await back;
    const twins = await Promise.all(clients.map((c, i) => c.updateReportedProperties({ me: ids[i] })));
    await Promise.all(sends);
    for (const [i, id] of ids.entries()) {
      for (let k = 0; k < 30; k++) assert.ok(received.get(id)!.has(`${id}#${k}`), `${id}#${k} arrived`);
      assert.equal((await rig.hub.getTwin(id)).properties.reported.me, id);
      assert.ok(twins[i] >= 2);
      assert.deepEqual(await rig.hub.invokeMethod(id, 'whoami', null, { responseTimeoutInSeconds: 5 }), { status: 200, payload: id });
      await rig.hub.sendC2D(id, `for ${id}`, { properties: { n: null } });
    }
    const msgs = await Promise.all(c2d);
    msgs.forEach((m, i) => { assert.equal(m.body.toString(), `for ${ids[i]}`); assert.deepEqual(m.properties, { n: null }); });
    assert.ok(shared.switches > ids.length, `the core switched devices (${shared.switches} times)`);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sleep(10);
    await rig.stop();
  }
});

test('the MCU profile refuses to be shared, by name', () => {
  assert.throws(() => new SharedCore('mcu'), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_BAD_SNAPSHOT');
});

test('devices on a shared core write after the burst, each in its order, and a closing device writes everything first', { timeout: 30_000 }, async () => {
  const rig = await startHub();
  const shared = new SharedCore('gateway');
  const ids = ['gw-burst-0', 'gw-burst-1', 'gw-burst-2'];
  const clients = await Promise.all(ids.map(async (id) => (await device(rig.hub, id, { shared })).client));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const order = new Map<string, number[]>(ids.map((id) => [id, []]));
    const bodies = new Set<string>();
    rig.hub.on('telemetry', (m) => {
      bodies.add(m.body.toString());
      if (m.body.toString() !== 'last words') order.get(m.deviceId)?.push(Number(m.body.toString()));
    });
    // One burst, round robin over the devices (a switch before every message), QoS 1 and QoS 0 mixed.
    const sends: Array<Promise<void>> = [];
    for (let k = 0; k < 60; k++) for (const c of clients) sends.push(c.sendTelemetry(String(k), { qos: k % 3 === 0 ? 0 : 1 }));
    await Promise.all(sends);
    await waitFor<void>((done) => { const t = setInterval(() => { if ([...order.values()].every((l) => l.length === 60)) { clearInterval(t); done(); } }, 10); }, 5000, 'all telemetry');
    for (const id of ids) assert.deepEqual(order.get(id), Array.from({ length: 60 }, (_v, k) => k), `${id}'s messages arrived once each, in order`);
    // QoS 0 settles once written; closing at once must still put it (and the DISCONNECT) on the wire before the socket ends.
    const last = clients[1]!.sendTelemetry('last words', { qos: 0 });
    await clients[1]!.close();
    await last;
    await waitFor<void>((done) => { const t = setInterval(() => { if (bodies.has('last words')) { clearInterval(t); done(); } }, 10); }, 5000, 'the message sent just before close');
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await sleep(10);
    await rig.stop();
  }
});
