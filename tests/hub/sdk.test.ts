// Microsoft's device SDK (azure-iot-device + azure-iot-device-mqtt), unchanged, against the local hub over TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { LocalHub, TelemetryMessage, FeedbackRecord } from '../../host/hub/index.js';
import { startHub, once } from './helpers.js';

const { Client, Message } = device;
const { Mqtt } = deviceMqtt;
type DeviceClient = InstanceType<typeof Client>;

let hub: LocalHub;
let done: () => Promise<void>;
let client: DeviceClient;
let connectionString: string;

before(async () => {
  ({ hub, done } = await startHub({ plainPort: false }));
  const info = await hub.registry.addDevice('sdk-dev');
  connectionString = info.connectionString;
  assert.match(connectionString, new RegExp(`GatewayHostName=localhost:${hub.port}`));
  client = Client.fromConnectionString(connectionString, Mqtt);
  await client.setOptions({ ca: hub.ca });
  await client.open();
});

after(async () => {
  await client?.close().catch(() => {});
  await done?.();
});

test('telemetry with properties including spaces, &, =, / and non-ASCII', async () => {
  const got = once<TelemetryMessage>(hub, 'telemetry', (m) => m.deviceId === 'sdk-dev');
  const msg = new Message(JSON.stringify({ t: 21.5 }));
  msg.messageId = 'msg-1';
  msg.correlationId = 'corr 1/&=';
  msg.contentType = 'application/json';
  msg.contentEncoding = 'utf-8';
  msg.properties.add('alert', 'high');
  msg.properties.add('weird key &=/ü', 'a b&c=d/e ü€😀?#+');
  await client.sendEvent(msg);
  const m = await got;
  assert.equal(m.body.toString(), '{"t":21.5}');
  assert.equal(m.systemProperties['messageId'], 'msg-1');
  assert.equal(m.systemProperties['correlationId'], 'corr 1/&=');
  assert.equal(m.systemProperties['contentType'], 'application/json');
  assert.equal(m.systemProperties['contentEncoding'], 'utf-8');
  assert.deepEqual(m.properties, { alert: 'high', 'weird key &=/ü': 'a b&c=d/e ü€😀?#+' });
  assert.equal(m.qos, 1);
});

test('twin GET, reported update, desired update arriving with $version', async () => {
  await hub.updateDesired('sdk-dev', { interval: 10, nested: { a: 1, b: 2 } });
  const twin = await client.getTwin();
  assert.equal(twin.properties.desired['interval'], 10);
  assert.equal(twin.properties.desired['$version'], 2);

  await new Promise<void>((resolve, reject) => twin.properties.reported.update({ firmware: '1.0.0', nested: { x: 1 } }, (err?: Error) => err ? reject(err) : resolve()));
  let t = await hub.getTwin('sdk-dev');
  assert.deepEqual(t.properties.reported, { firmware: '1.0.0', nested: { x: 1 }, $version: 2 });
  await new Promise<void>((resolve, reject) => twin.properties.reported.update({ nested: null }, (err?: Error) => err ? reject(err) : resolve()));
  t = await hub.getTwin('sdk-dev');
  assert.deepEqual(t.properties.reported, { firmware: '1.0.0', $version: 3 });

  const patch = new Promise<Record<string, unknown>>((resolve) => {
    twin.on('properties.desired', (delta: Record<string, unknown>) => { if (delta['$version'] === 3) resolve(delta); });
  });
  await new Promise((r) => setTimeout(r, 100)); // let the SDK subscribe to desired patches
  await hub.updateDesired('sdk-dev', { interval: 30, nested: { a: null } });
  const delta = await patch;
  assert.equal(delta['interval'], 30);
  assert.equal(delta['$version'], 3);
  assert.deepEqual((await hub.getTwin('sdk-dev')).properties.desired, { interval: 30, nested: { b: 2 }, $version: 3 });
});

test('direct method round trip', async () => {
  client.onDeviceMethod('reboot', (req, res) => {
    res.send(200, { ok: true, echo: req.payload }).catch(() => {});
  });
  await new Promise((r) => setTimeout(r, 100));
  const r = await hub.invokeMethod('sdk-dev', 'reboot', { delay: 5 }, { responseTimeoutInSeconds: 5 });
  assert.deepEqual(r, { status: 200, payload: { ok: true, echo: { delay: 5 } } });
  await assert.rejects(hub.invokeMethod('sdk-dev', 'nobody', {}, { responseTimeoutInSeconds: 0.3 }), { status: 504 });
});

test('C2D with properties is received and completed', async () => {
  const received = new Promise<InstanceType<typeof Message>>((resolve) => client.on('message', (m) => {
    client.complete(m, () => {});
    resolve(m);
  }));
  const fb = once<FeedbackRecord>(hub, 'feedback');
  await hub.sendC2D('sdk-dev', 'hello device', {
    messageId: 'c2d-1', correlationId: 'corr-c2d', contentType: 'text/plain', ack: 'full',
    properties: { 'custom kü': 'v&w=x/y €', plain: 'x' },
  });
  const m = await received;
  assert.equal(m.data.toString(), 'hello device');
  assert.equal(m.messageId, 'c2d-1');
  assert.equal(m.correlationId, 'corr-c2d');
  assert.equal(m.contentType, 'text/plain');
  assert.equal(m.properties.getValue('custom kü'), 'v&w=x/y €');
  assert.equal(m.properties.getValue('plain'), 'x');
  const f = await fb;
  assert.equal(f.statusCode, 'Success');
  assert.equal(f.originalMessageId, 'c2d-1');
  assert.deepEqual(hub.takeFeedback().map((x) => x.statusCode), ['Success']);
});

test('a wrong key is refused', async () => {
  const bad = connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
  const c = Client.fromConnectionString(bad, Mqtt);
  await c.setOptions({ ca: hub.ca });
  await assert.rejects(c.open(), (e: Error) => /unauthori[sz]ed|not authorized|Connection refused/i.test(`${e.name} ${e.message}`));
  await c.close().catch(() => {});
});
