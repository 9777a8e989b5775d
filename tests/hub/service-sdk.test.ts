// Microsoft's service SDK (azure-iothub) and Event Hubs SDK, unchanged but for host name and trust, against the
// local hub: they run in a child process with NODE_EXTRA_CA_CERTS (see service-sdk-child.ts); the device is
// Microsoft's device SDK (azure-iot-device + azure-iot-device-mqtt) in this process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { LocalHub } from '../../host/hub/index.js';
import { startServiceSdk, type ServiceSdk, type SdkError } from './service-sdk-harness.js';

const { Client, Message } = device;
const { Mqtt } = deviceMqtt;

let hub: LocalHub;
let call: ServiceSdk['call'];
let sdk: ServiceSdk;
before(async () => { sdk = await startServiceSdk({ feedbackBatchMs: 50 }); ({ hub, call } = sdk); });
after(async () => { await sdk.done(); });

async function sdkDevice(id: string): Promise<{ client: InstanceType<typeof Client>; messages: InstanceType<typeof Message>[] }> {
  const info = await hub.registry.addDevice(id);
  const client = Client.fromConnectionString(info.connectionString, Mqtt);
  await client.setOptions({ ca: hub.ca });
  const messages: InstanceType<typeof Message>[] = [];
  client.on('message', (m) => { messages.push(m); client.complete(m, () => {}); });
  await client.open();
  return { client, messages };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('Client.send reaches the device SDK; Success feedback arrives on getFeedbackReceiver', async () => {
  const cs = hub.serviceConnectionString();
  const { client, messages } = await sdkDevice('svc-dev1');
  try {
    await call('open', { cs });
    await call('feedbackReceiver', { cs });
    await call('send', { cs, deviceId: 'svc-dev1', data: 'hello from azure-iothub', messageId: 'svc-1', ack: 'full', properties: { k: 'v w' } });
    await until(() => messages.length === 1);
    assert.equal(messages[0]!.data.toString(), 'hello from azure-iothub');
    assert.equal(messages[0]!.messageId, 'svc-1');
    assert.equal(messages[0]!.properties.getValue('k'), 'v w');
    const records = await call<Record<string, string>[]>('nextFeedback');
    assert.deepEqual(records.map((r) => [r['originalMessageId'], r['deviceId'], r['statusCode']]), [['svc-1', 'svc-dev1', 'Success']]);
  } finally {
    await client.close();
  }
});

test('an expired message gives Expired feedback', async () => {
  const cs = hub.serviceConnectionString();
  await hub.registry.addDevice('svc-offline');
  await call('send', { cs, deviceId: 'svc-offline', data: 'too late', messageId: 'svc-exp', ack: 'full', expiryMs: 300 });
  const records = await call<Record<string, string>[]>('nextFeedback');
  assert.deepEqual(records.map((r) => [r['originalMessageId'], r['statusCode']]), [['svc-exp', 'Expired']]);
});

test('an unknown device gives DeviceNotFoundError; the 51st queued message is refused', async () => {
  const cs = hub.serviceConnectionString('service');
  await assert.rejects(call('send', { cs, deviceId: 'nobody-here', data: 'x' }), (e: SdkError) => e.sdkName === 'DeviceNotFoundError');
  await hub.registry.addDevice('svc-full');
  for (let i = 0; i < 50; i++) await call('send', { cs, deviceId: 'svc-full', data: `m${i}` });
  await assert.rejects(call('send', { cs, deviceId: 'svc-full', data: 'm50' }), (e: SdkError) => e.sdkName === 'DeviceMaximumQueueDepthExceededError');
  hub.c2d.purge('svc-full');
});

test('a wrong service key is refused', async () => {
  const bad = hub.serviceConnectionString().replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 3).toString('base64')}`);
  // azure-iothub wraps the CBS 401 (UnauthorizedError) in 'AMQP Transport: Could not connect'
  await assert.rejects(call('open', { cs: bad }), (e: SdkError) => /amqpError: UnauthorizedError: SAS signature does not match/.test(e.message));
});

test('EventHubConsumerClient reads device telemetry from earliest and from a sequence number', async () => {
  const { client } = await sdkDevice('svc-tele');
  try {
    for (let i = 0; i < 3; i++) {
      const m = new Message(JSON.stringify({ i }));
      m.properties.add('n', String(i));
      await client.sendEvent(m);
    }
  } finally {
    await client.close();
  }
  const p = hub.events.partitionOf('svc-tele');
  const cs = hub.eventHubConnectionString();
  const endpoint = `sb://localhost:${hub.amqpPort}`;
  type Read = { hub: { name: string; partitionIds: string[] }; partitions: { id: string; last: number }[]; events: { partitionId: string; sequenceNumber: number; body: unknown; deviceId: string; properties: Record<string, string> }[] };
  const all = await call<Read>('readEvents', { cs, endpoint, count: 3 });
  assert.equal(all.hub.name, hub.eventHubName);
  assert.deepEqual(all.hub.partitionIds, ['0', '1', '2', '3']);
  const mine = all.events.filter((e) => e.deviceId === 'svc-tele');
  assert.deepEqual(mine.map((e) => e.body), [{ i: 0 }, { i: 1 }, { i: 2 }]);
  assert.ok(mine.every((e) => e.partitionId === String(p)));
  assert.deepEqual(mine.map((e) => e.properties['n']), ['0', '1', '2']);
  const first = mine[0]!.sequenceNumber;
  const later = await call<Read>('readEvents', { cs, endpoint, count: 1, fromSequenceNumber: { [String(p)]: first + 1 } });
  assert.deepEqual(later.events.filter((e) => e.deviceId === 'svc-tele').map((e) => e.body), [{ i: 2 }]);
  // the Event Hubs SDK signs with the key's UTF-8 bytes; a wrong key is refused (the SDK retries 401s: no retries here)
  const bad = cs.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 5).toString('base64')}`);
  await assert.rejects(call('readEvents', { cs: bad, endpoint, count: 1, maxRetries: 0 }), (e: SdkError) => /Unauthori[sz]ed|signature/i.test(e.message + e.sdkName));
});

test('Registry create/get/delete over REST (the SDK pointed at the REST port)', async () => {
  const cs = hub.policies.connectionString('registryReadWrite');
  const restPort = hub.restPort;
  const created = await call<{ deviceId: string; etag: string; authentication: { symmetricKey: { primaryKey: string } } }>('regCreate', { cs, restPort, deviceId: 'rest-dev' });
  assert.equal(created.deviceId, 'rest-dev');
  assert.equal(Buffer.from(created.authentication.symmetricKey.primaryKey, 'base64').length, 32);
  assert.equal(hub.registry.get('rest-dev')!.primaryKey, created.authentication.symmetricKey.primaryKey);
  await assert.rejects(call('regCreate', { cs, restPort, deviceId: 'rest-dev' }), (e: SdkError) => e.sdkName === 'DeviceAlreadyExistsError');
  const got = await call<{ deviceId: string; status: string }>('regGet', { cs, restPort, deviceId: 'rest-dev' });
  assert.equal(got.status, 'enabled');
  await call('regDelete', { cs, restPort, deviceId: 'rest-dev' });
  assert.equal(hub.registry.get('rest-dev'), undefined);
  await assert.rejects(call('regGet', { cs, restPort, deviceId: 'rest-dev' }), (e: SdkError) => e.sdkName === 'DeviceNotFoundError');
  // registryRead cannot write
  await assert.rejects(call('regCreate', { cs: hub.policies.connectionString('registryRead'), restPort, deviceId: 'rest-ro' }), (e: SdkError) => e.sdkName === 'UnauthorizedError');
});

test('getTwin/updateTwin with etags reach the device SDK; a stale etag fails; invokeDeviceMethod round trip', async () => {
  const cs = hub.policies.connectionString('iothubowner');
  const restPort = hub.restPort;
  const { client } = await sdkDevice('rest-twin');
  try {
    const twin = await client.getTwin();
    const desired = new Promise<Record<string, unknown>>((resolve) => twin.on('properties.desired', (d: Record<string, unknown>) => { if (d['rate']) resolve(d); }));
    await new Promise((r) => setTimeout(r, 100));
    const t1 = await call<{ etag: string; desired: Record<string, unknown> }>('getTwin', { cs, restPort, deviceId: 'rest-twin' });
    const t2 = await call<{ etag: string; desired: Record<string, unknown>; tags: Record<string, unknown> }>('updateTwin', { cs, restPort, deviceId: 'rest-twin', etag: t1.etag, patch: { tags: { site: 'lab' }, properties: { desired: { rate: 5 } } } });
    assert.equal(t2.desired['rate'], 5);
    assert.deepEqual(t2.tags, { site: 'lab' });
    assert.notEqual(t2.etag, t1.etag);
    assert.equal((await desired)['rate'], 5);
    await assert.rejects(call('updateTwin', { cs, restPort, deviceId: 'rest-twin', etag: t1.etag, patch: { properties: { desired: { rate: 6 } } } }), (e: SdkError) => e.sdkName === 'InvalidEtagError');
    client.onDeviceMethod('echo', (req, res) => { res.send(201, { echo: req.payload }).catch(() => {}); });
    await new Promise((r) => setTimeout(r, 100));
    const r = await call<{ status: number; payload: unknown }>('invoke', { cs, restPort, deviceId: 'rest-twin', methodName: 'echo', payload: { a: 1 } });
    assert.deepEqual(r, { status: 201, payload: { echo: { a: 1 } } });
    // IoT Hub's range for responseTimeoutInSeconds is 5–300 s: 1 s is refused, 5 s of silence is a 504
    await assert.rejects(call('invoke', { cs, restPort, deviceId: 'rest-twin', methodName: 'silent', timeout: 1 }), (e: SdkError) => e.sdkName === 'ArgumentError');
    await assert.rejects(call('invoke', { cs, restPort, deviceId: 'rest-twin', methodName: 'silent', timeout: 5 }), (e: SdkError) => e.sdkName === 'GatewayTimeoutError');
  } finally {
    await client.close();
  }
  await assert.rejects(call('invoke', { cs, restPort, deviceId: 'rest-twin', methodName: 'echo' }), (e: SdkError) => /DeviceNotOnline|Not found/.test(e.message));
});

test('the whole system locally: iothub-wasm DeviceClient firmware, Microsoft service and Event Hubs SDKs as the back end', async () => {
  const { DeviceClient } = await import('../../host/device/client.js');
  const info = await hub.registry.addDevice('wasm-dev');
  const client = DeviceClient.fromConnectionString(info.connectionString, { ca: hub.ca });
  const c2d: Array<{ body: string; messageId?: string; properties: Record<string, string | null> }> = [];
  client.onC2D((m) => { c2d.push({ body: m.body.toString(), messageId: m.messageId, properties: m.properties }); });
  client.onMethod('echo', (payload) => ({ status: 200, payload: { echo: payload } }));
  const desired = new Promise<Record<string, unknown>>((resolve) => client.onDesiredProperties((p) => { if (p['rate']) resolve(p); }));
  await client.connect();
  try {
    const amqp = hub.serviceConnectionString(); // HostName=localhost:<amqp port>
    const cs = hub.policies.connectionString('iothubowner'); // for REST, redirected to the REST port
    const restPort = hub.restPort;
    // C2D from azure-iothub (AMQP) to the WebAssembly device, with its Success feedback.
    await call('open', { cs: amqp });
    await call('feedbackReceiver', { cs: amqp });
    await call('send', { cs: amqp, deviceId: 'wasm-dev', data: 'to the wasm device', messageId: 'wasm-1', ack: 'full', properties: { k: 'v w' } });
    await until(() => c2d.length === 1);
    assert.equal(c2d[0]!.body, 'to the wasm device');
    assert.equal(c2d[0]!.messageId, 'wasm-1');
    // The hub's MQTT topic carries iothub-ack beside the application properties, as IoT Hub does.
    assert.deepEqual(c2d[0]!.properties, { k: 'v w', 'iothub-ack': 'full' });
    const records = await call<Record<string, string>[]>('nextFeedback');
    assert.deepEqual(records.map((r) => [r['originalMessageId'], r['deviceId'], r['statusCode']]), [['wasm-1', 'wasm-dev', 'Success']]);
    // Twin and direct method through the service SDK's REST surface.
    await client.updateReportedProperties({ firmware: 'iothub-wasm' });
    const t1 = await call<{ etag: string; reported: Record<string, unknown> }>('getTwin', { cs, restPort, deviceId: 'wasm-dev' });
    assert.equal(t1.reported['firmware'], 'iothub-wasm');
    await call('updateTwin', { cs, restPort, deviceId: 'wasm-dev', etag: t1.etag, patch: { properties: { desired: { rate: 7 } } } });
    assert.equal((await desired)['rate'], 7);
    assert.deepEqual(await call('invoke', { cs, restPort, deviceId: 'wasm-dev', methodName: 'echo', payload: { a: 1 } }), { status: 200, payload: { echo: { a: 1 } } });
    // Telemetry from the WebAssembly device read back with the Event Hubs SDK, from just before it was sent.
    type Read = { events: { deviceId: string; body: unknown; properties: Record<string, string> }[] };
    const p = hub.events.partitionOf('wasm-dev');
    const before = hub.events.info(p).last_enqueued_sequence_number;
    await client.sendTelemetry({ reading: 42 }, { properties: { unit: 'C' } });
    const read = await call<Read>('readEvents', { cs: hub.eventHubConnectionString(), endpoint: `sb://localhost:${hub.amqpPort}`, count: 1, fromSequenceNumber: { [String(p)]: before } });
    const mine = read.events.filter((e) => e.deviceId === 'wasm-dev');
    assert.deepEqual(mine.map((e) => [e.body, e.properties['unit']]), [[{ reading: 42 }, 'C']]);
  } finally {
    await client.close();
  }
});
