// Connections come and go; accepted QoS 1 telemetry is delivered at least once or rejected with a code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LocalHub } from '../../host/hub/index.js';
import { IotHubWasmError } from '../../host/errors.js';
import { startHub, device, sleep, waitFor } from './support.js';
import { fcParams } from '../support/fast-check.js';

test('SAS tokens with a few seconds of lifetime are renewed without losing anything', async () => {
  const rig = await startHub();
  try {
    const { client } = await device(rig.hub, 'short-token', { tokenLifetimeSeconds: 2 });
    const reasons: string[] = [];
    client.on('disconnected', (e: { code: string }) => reasons.push(e.code));
    let connects = 0;
    rig.hub.on('connected', (e: { deviceId: string }) => { if (e.deviceId === 'short-token') connects++; });
    const received = new Set<string>();
    rig.hub.on('telemetry', (m) => { if (m.deviceId === 'short-token') received.add(m.body.toString()); });
    await client.connect();
    const sent: Array<Promise<void>> = [];
    const t0 = performance.now();
    for (let i = 0; performance.now() - t0 < 4500; i++) {
      sent.push(client.sendTelemetry(`m${i}`));
      await sleep(10);
    }
    await Promise.all(sent); // every message acknowledged across the renewals
    assert.ok(reasons.filter((r) => r === 'CLIENT_TOKEN_RENEWAL').length >= 2, `renewals: ${reasons}`);
    assert.ok(connects >= 3);
    for (let i = 0; i < sent.length; i++) assert.ok(received.has(`m${i}`), `m${i} reached the hub`);
    assert.ok(typeof (await client.updateReportedProperties({ alive: true })) === 'number', 'twin works after renewals');
    await client.close();
  } finally {
    await rig.stop();
  }
});

test('the hub restarted under a running device: it reconnects, resubscribes and delivers what was queued', async () => {
  const rig = await startHub();
  let hub2: LocalHub | undefined;
  try {
    const { client } = await device(rig.hub, 'survivor');
    client.onMethod('hello', () => ({ status: 200, payload: 'again' }));
    await client.connect();
    await client.sendTelemetry('before');
    const port = rig.hub.port;
    const reconnected = waitFor<void>((done) => client.on('connected', () => done()), 10000, 'reconnect');
    await rig.hub.stop();
    const during = client.sendTelemetry('during the outage');
    await sleep(100);
    hub2 = await LocalHub.start({ port, dataDir: rig.dataDir, log: false });
    const seen = waitFor<string>((done) => hub2!.on('telemetry', (m) => { if (m.deviceId === 'survivor') done(m.body.toString()); }), 10000, 'telemetry');
    await reconnected;
    await during;
    assert.equal(await seen, 'during the outage');
    assert.deepEqual(await hub2.invokeMethod('survivor', 'hello', null, { responseTimeoutInSeconds: 5 }), { status: 200, payload: 'again' });
    await client.close();
  } finally {
    await hub2?.stop();
    await rig.stop().catch(() => {});
  }
});

test('random schedules of dropped connections: every resolved message reached the hub, every other one has a code', async () => {
  const rig = await startHub();
  let n = 0;
  try {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ afterMessages: fc.integer({ min: 0, max: 15 }), pauseMs: fc.integer({ min: 0, max: 30 }) }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 10, max: 60 }),
      async (drops, total) => {
        const id = `chaos-${n++}`;
        const { client } = await device(rig.hub, id);
        const received = new Set<string>();
        const listener = (m: { deviceId: string; body: Buffer }) => { if (m.deviceId === id) received.add(m.body.toString()); };
        rig.hub.on('telemetry', listener);
        await client.connect();
        const outcomes: Array<Promise<'ok' | string>> = [];
        let sent = 0;
        for (const d of drops) {
          for (let i = 0; i < d.afterMessages && sent < total; i++, sent++) {
            outcomes.push(client.sendTelemetry(`m${sent}`).then(() => 'ok', (e: unknown) => (e instanceof IotHubWasmError ? e.code : `untyped ${String(e)}`)));
          }
          await rig.hub.dropConnection(id);
          await sleep(d.pauseMs);
        }
        for (; sent < total; sent++) outcomes.push(client.sendTelemetry(`m${sent}`).then(() => 'ok', (e: unknown) => (e instanceof IotHubWasmError ? e.code : `untyped ${String(e)}`)));
        let timer: NodeJS.Timeout | undefined;
        const results = await Promise.race([Promise.all(outcomes), new Promise<null>((r) => { timer = setTimeout(() => r(null), 15000); })]);
        clearTimeout(timer);
        await client.close();
        rig.hub.off('telemetry', listener);
        assert.ok(results, 'every message settled');
        results.forEach((r, i) => {
          if (r === 'ok') assert.ok(received.has(`m${i}`), `m${i} resolved but never reached the hub`);
          else assert.match(r, /^[A-Z0-9_]+$/, `m${i} rejected without a code: ${r}`);
        });
      }), fcParams(25, { timeout: 20000 }));
  } finally {
    await rig.stop();
  }
});
