// Bad input and refusals get named codes, quickly, and nothing is silently lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, device, sleep, waitFor, type Rig } from './support.js';
import { DeviceClient } from '../../host/device/client.js';
import { IotHubWasmError } from '../../host/errors.js';

let rig: Rig;
before(async () => { rig = await startHub(); });
after(async () => { await rig.stop(); });

test('a wrong key is refused quickly with a named error and no reconnect storm', async () => {
  const { connectionString } = await rig.hub.registry.addDevice('wrong-key');
  const bad = connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
  let attempts = 0;
  rig.hub.on('refused', (e: { clientId: string }) => { if (e.clientId === 'wrong-key') attempts++; });
  const client = DeviceClient.fromConnectionString(bad, { ca: rig.hub.ca, retry: { minMs: 10, maxMs: 20, jitterMs: 0 } });
  const t0 = performance.now();
  // IoT Hub answers a bad signature with CONNACK 5 (not authorized); 4 (bad user name or password) is refused alike.
  await assert.rejects(client.connect(), (e: unknown) => e instanceof IotHubWasmError && /^CLIENT_CONNACK_(NOT_AUTHORIZED|BAD_CREDENTIALS)$/.test(e.code));
  assert.ok(performance.now() - t0 < 5000);
  await sleep(300); // with a 10-20 ms back-off a storm would show dozens of attempts here
  assert.equal(attempts, 1);
  assert.equal(client.state, 'stopped');
});

test('a bad connection string is a typed error before anything is opened', () => {
  assert.throws(() => DeviceClient.fromConnectionString('HostName=h;DeviceId=d'), (e: unknown) => e instanceof IotHubWasmError && e.code === 'IOTHUB_CS_MISSING_CREDENTIAL');
  assert.throws(() => DeviceClient.fromConnectionString('HostName=h;DeviceId=d;SharedAccessKey=***'), (e: unknown) => e instanceof IotHubWasmError && /^IOTHUB_CS_BAD_KEY|BASE64/.test(e.code));
});

test('a 300 KB message is refused with a code before anything is sent', async () => {
  const { client } = await device(rig.hub, 'big-dev');
  await client.connect();
  let received = 0;
  rig.hub.on('telemetry', (m) => { if (m.deviceId === 'big-dev') received++; });
  await assert.rejects(client.sendTelemetry(Buffer.alloc(300 * 1024, 1)), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_MESSAGE_TOO_LARGE');
  // Body and properties together count against the 256 KB limit.
  await assert.rejects(client.sendTelemetry(Buffer.alloc(255 * 1024), { properties: { pad: 'x'.repeat(2048) } }), { code: 'CLIENT_MESSAGE_TOO_LARGE' });
  await client.sendTelemetry('still fine');
  await sleep(50);
  assert.equal(received, 1);
  await client.close();
});

test('a message larger than the MCU profile buffer is refused with a code, not truncated', async () => {
  const { client } = await device(rig.hub, 'mcu-big', { profile: 'mcu' });
  await assert.rejects(client.sendTelemetry(Buffer.alloc(8000)), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_MESSAGE_TOO_LARGE');
});

test('a full outbox is back-pressure (CLIENT_QUEUE_FULL), and everything accepted is delivered in order', async () => {
  const { client } = await device(rig.hub, 'queue-dev', { profile: 'mcu' });
  // Not connected yet: messages wait in the outbox (8 slots in the MCU profile); the rest are refused.
  const settled = Promise.allSettled(Array.from({ length: 20 }, (_v, i) => client.sendTelemetry(`m${i}`)));
  const seen: string[] = [];
  rig.hub.on('telemetry', (m) => { if (m.deviceId === 'queue-dev') seen.push(m.body.toString()); });
  await client.connect();
  const results = await settled;
  const accepted = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`m${i}`] : []));
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(accepted.length, 8);
  assert.ok(refused.length === 12 && refused.every((r) => r.reason instanceof IotHubWasmError && r.reason.code === 'CLIENT_QUEUE_FULL'));
  await sleep(20);
  assert.deepEqual(seen, accepted);
  await client.close();
});

test('closing rejects unacknowledged telemetry with CLIENT_CLOSED (reported, not dropped), and later sends too', async () => {
  const { client } = await device(rig.hub, 'close-dev');
  const pending = client.sendTelemetry('never connected');
  await client.close();
  await assert.rejects(pending, { code: 'CLIENT_CLOSED' });
  await assert.rejects(client.sendTelemetry('after close'), { code: 'CLIENT_CLOSED' });
  await client.connect(); // a closed client can connect again, and then sends
  await client.sendTelemetry('after reconnecting');
  await client.close();
});

test('a twin request that gets no answer times out with CLIENT_TIMEOUT', async () => {
  const { client } = await device(rig.hub, 'slow-twin', { requestTimeoutMs: 100 });
  // Never connected: the request waits in the outbox and times out.
  await assert.rejects(client.getTwin(), { code: 'CLIENT_TIMEOUT' });
  await client.close();
});

test('an incoming message larger than the MCU profile holds is refused by name and the connection survives', async () => {
  const { client } = await device(rig.hub, 'mcu-in', { profile: 'mcu' });
  const warnings: string[] = [];
  const disconnects: string[] = [];
  client.on('warning', (e: IotHubWasmError) => warnings.push(e.code));
  client.on('disconnected', (e: { code: string }) => disconnects.push(e.code));
  const bodies: string[] = [];
  client.onC2D((m) => { bodies.push(m.body.toString()); });
  client.onMethod('echo', (p) => ({ status: 200, payload: p }));
  await client.connect();
  await rig.hub.sendC2D('mcu-in', Buffer.alloc(6000, 0x61), { messageId: 'big' });
  await rig.hub.sendC2D('mcu-in', 'small', { messageId: 'small' });
  await waitFor<void>((done) => { const i = setInterval(() => { if (bodies.length) { clearInterval(i); done(); } }, 5); });
  assert.deepEqual(bodies, ['small']);
  assert.deepEqual(warnings, ['CLIENT_INCOMING_TOO_LARGE']);
  // A method payload too large for the device is answered 413; a twin too large fails the request by name.
  assert.equal((await rig.hub.invokeMethod('mcu-in', 'echo', 'x'.repeat(6000), { responseTimeoutInSeconds: 5 })).status, 413);
  await rig.hub.updateDesired('mcu-in', { blob: 'y'.repeat(5000) });
  await assert.rejects(client.getTwin(), { code: 'CLIENT_INCOMING_TOO_LARGE' });
  assert.deepEqual(await rig.hub.invokeMethod('mcu-in', 'echo', 'ok', { responseTimeoutInSeconds: 5 }), { status: 200, payload: 'ok' });
  assert.deepEqual(disconnects, []);
  await client.close();
});

test('throttled (429) and 5xx twin answers are retried with back-off; other statuses are final', async () => {
  const { client } = await device(rig.hub, 'throttled', { twinRetries: 3 });
  const warnings: string[] = [];
  client.on('warning', (e: IotHubWasmError) => warnings.push(`${e.code}/${e.status}`));
  await client.connect();
  rig.hub.failTwinRequests('throttled', 2);
  const twin = await client.getTwin();
  assert.ok(twin.reported, 'answered after two throttled attempts');
  assert.deepEqual(warnings, ['CLIENT_TWIN_THROTTLED/429', 'CLIENT_TWIN_THROTTLED/429']);
  rig.hub.failTwinRequests('throttled', 1, { status: 503 });
  assert.equal(typeof (await client.updateReportedProperties({ ok: true })), 'number');
  rig.hub.failTwinRequests('throttled', 10);
  await assert.rejects(client.getTwin(), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_TWIN_THROTTLED' && e.status === 429);
  rig.hub.failTwinRequests('throttled', 0);
  rig.hub.failTwinRequests('throttled', 1, { status: 404 });
  const before = warnings.length;
  await assert.rejects(client.getTwin(), { code: 'CLIENT_TWIN_REFUSED', status: 404 });
  assert.equal(warnings.length, before, 'not retried');
  await client.close();
});

test('a hub that answers late: twin requests time out by name and the late answer is ignored; telemetry still completes', async () => {
  const { client } = await device(rig.hub, 'slow-hub', { requestTimeoutMs: 150 });
  await client.connect();
  rig.hub.delayDevice('slow-hub', 400);
  await assert.rejects(client.getTwin(), { code: 'CLIENT_TIMEOUT' });
  const sent = client.sendTelemetry('late but acknowledged');
  await sent; // PUBACK after the delay: QoS 1 waits, no time-out of its own
  rig.hub.delayDevice('slow-hub', 0);
  await sleep(400); // the late twin answer arrives and must not disturb anything
  assert.ok((await client.getTwin()).reported);
  await rig.hub.expireToken('slow-hub'); // the hub ends the connection as for an expired token: the device comes back
  await waitFor<void>((done) => client.once('connected', () => done()), 5000, 'reconnect');
  await client.sendTelemetry('after expiry');
  await client.close();
});
