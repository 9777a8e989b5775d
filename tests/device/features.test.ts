// End to end, our DeviceClient (WebAssembly core) against the local hub over real TLS: every device feature.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, device, waitFor, type Rig } from './support.js';
import type { C2DMessage } from '../../host/device/client.js';

let rig: Rig;
before(async () => { rig = await startHub({ wsPort: 0 }); });
after(async () => { await rig.stop(); });

test('telemetry with system and application properties arrives exactly as sent (QoS 1 and QoS 0)', async () => {
  const { client } = await device(rig.hub, 'telemetry-dev');
  await client.connect();
  const seen: Array<{ body: Buffer; properties: Record<string, string | null>; systemProperties: Record<string, unknown> }> = [];
  rig.hub.on('telemetry', (m) => { if (m.deviceId === 'telemetry-dev') seen.push(m); });
  const properties = { 'weird key &=/ü': 'a b&c=d/e ü€😀?#+', alert: 'high', empty: '', bare: null };
  await client.sendTelemetry({ t: 1 }, { messageId: 'msg-1', correlationId: 'corr-1', contentType: 'application/json', contentEncoding: 'utf-8', properties });
  await client.sendTelemetry('qos0 body', { qos: 0 });
  await waitFor<void>((done) => { const i = setInterval(() => { if (seen.length >= 2) { clearInterval(i); done(); } }, 5); });
  assert.equal(seen[0].body.toString(), '{"t":1}');
  assert.deepEqual(seen[0].properties, properties);
  assert.equal(seen[0].systemProperties.messageId, 'msg-1');
  assert.equal(seen[0].systemProperties.correlationId, 'corr-1');
  assert.equal(seen[0].systemProperties.contentType, 'application/json');
  assert.equal(seen[0].systemProperties.contentEncoding, 'utf-8');
  assert.equal(seen[1].body.toString(), 'qos0 body');
  await client.close();
});

test('twin: GET, reported PATCH with its new version, desired patches in $version order', async () => {
  const { client } = await device(rig.hub, 'twin-dev');
  await rig.hub.updateDesired('twin-dev', { mode: 'eco' });
  await client.connect();
  const twin = await client.getTwin();
  assert.equal(twin.desired.mode, 'eco');
  const v1 = await client.updateReportedProperties({ fw: '1.0', nested: { a: 1 } });
  const v2 = await client.updateReportedProperties({ nested: { a: null, b: 2 } });
  assert.equal(v2, v1 + 1);
  const hubTwin = await rig.hub.getTwin('twin-dev');
  assert.deepEqual((hubTwin.properties.reported as Record<string, unknown>).nested, { b: 2 });
  const versions: number[] = [];
  client.onDesiredProperties((_p, v) => versions.push(v));
  const got = waitFor<Record<string, unknown>>((done) => client.onDesiredProperties((p) => { if (p.mode === 'turbo') done(p); }));
  await rig.hub.updateDesired('twin-dev', { mode: 'normal' });
  await rig.hub.updateDesired('twin-dev', { mode: 'turbo' });
  assert.equal((await got).mode, 'turbo');
  assert.deepEqual(versions, [...versions].sort((a, b) => a - b));
  assert.ok(versions.every((v) => v > (twin.desired.$version as number)), 'patches older than the GET are not reported again');
  await client.close();
});

test('direct methods: handler result goes back with its status; unknown methods get 404; throwing gives 500', async () => {
  const { client } = await device(rig.hub, 'method-dev');
  client.onMethod('add', (p) => ({ status: 200, payload: { sum: (p as { a: number; b: number }).a + (p as { a: number; b: number }).b } }));
  client.onMethod('boom', () => { throw new Error('nope'); });
  await client.connect();
  assert.deepEqual(await rig.hub.invokeMethod('method-dev', 'add', { a: 2, b: 3 }, { responseTimeoutInSeconds: 5 }), { status: 200, payload: { sum: 5 } });
  assert.equal((await rig.hub.invokeMethod('method-dev', 'missing', null, { responseTimeoutInSeconds: 5 })).status, 404);
  assert.equal((await rig.hub.invokeMethod('method-dev', 'boom', null, { responseTimeoutInSeconds: 5 })).status, 500);
  await client.close();
});

test('C2D: body, system properties, and a property without value stays null', async () => {
  const { client } = await device(rig.hub, 'c2d-dev');
  await client.connect();
  const got = waitFor<C2DMessage>((done) => client.onC2D(done));
  await rig.hub.sendC2D('c2d-dev', 'hello device', { messageId: 'c2d-7', correlationId: 'k-1', properties: { 'a b': 'c&d', flag: null } });
  const msg = await got;
  assert.equal(msg.body.toString(), 'hello device');
  assert.equal(msg.messageId, 'c2d-7');
  assert.equal(msg.correlationId, 'k-1');
  assert.deepEqual(msg.properties, { 'a b': 'c&d', flag: null });
  await client.close();
});

test('C2D sent while the device is offline arrives on connect (persistent session) and is completed once', async () => {
  const { client } = await device(rig.hub, 'offline-dev');
  await client.connect();
  await client.close();
  await rig.hub.sendC2D('offline-dev', 'queued', { messageId: 'q-1' });
  const bodies: string[] = [];
  client.onC2D((m) => { bodies.push(m.body.toString()); });
  await client.connect();
  await waitFor<void>((done) => { const i = setInterval(() => { if (bodies.length) { clearInterval(i); done(); } }, 5); });
  assert.deepEqual(bodies, ['queued']);
  await client.close();
});

test('MQTT over WebSocket (wss, path /$iothub/websocket) carries the same session', async () => {
  const { client } = await device(rig.hub, 'ws-dev', { transport: 'wss', gatewayHostName: `localhost:${rig.hub.wsPort}` });
  await client.connect();
  const seen = waitFor<string>((done) => rig.hub.on('telemetry', (m) => { if (m.deviceId === 'ws-dev') done(m.body.toString()); }));
  await client.sendTelemetry('over websocket');
  assert.equal(await seen, 'over websocket');
  assert.equal((await client.getTwin()).reported.$version, 1);
  await client.close();
});

test('the MCU profile (one 64 KiB page) runs the same client', async () => {
  const { client } = await device(rig.hub, 'mcu-dev', { profile: 'mcu' });
  client.onMethod('ping', () => ({ status: 200, payload: 'pong' }));
  await client.connect();
  await client.sendTelemetry({ small: true }, { properties: { k: 'v' } });
  assert.deepEqual(await rig.hub.invokeMethod('mcu-dev', 'ping', null, { responseTimeoutInSeconds: 5 }), { status: 200, payload: 'pong' });
  assert.ok(typeof (await client.updateReportedProperties({ x: 1 })) === 'number');
  await client.close();
});

test('the client knows its identity and its back-pressure bound from the core', async () => {
  const { client } = await device(rig.hub, 'ident-dev');
  assert.equal(client.deviceId, 'ident-dev');
  assert.equal(client.moduleId, undefined);
  assert.equal(client.maxQueued, 256);
  const { client: small } = await device(rig.hub, 'ident-mcu', { profile: 'mcu' });
  assert.equal(small.maxQueued, 8);
  const mod = await rig.hub.registry.addModule('ident-dev', 'filter');
  const { DeviceClient } = await import('../../host/device/client.js');
  const m = DeviceClient.fromConnectionString(mod.connectionString, { ca: rig.hub.ca });
  assert.equal(m.moduleId, 'filter');
  const seen = waitFor<{ deviceId: string; moduleId?: string }>((done) => rig.hub.on('telemetry', (t) => { if (t.moduleId === 'filter') done(t); }));
  await m.connect();
  await m.sendTelemetry('from a module');
  assert.deepEqual({ ...(await seen) }.deviceId, 'ident-dev');
  await m.close();
});
