// The REST service API with plain https requests shaped like the service SDK's: api-version, SharedAccessSignature
// authorization, JSON, IoT Hub error bodies, etags, PUT twin replacement, methods 404 offline; desired patches reach
// an MQTT device.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import type { LocalHub } from '../../host/hub/index.js';
import { startHub, connectRaw, endClient, inSeconds } from './helpers.js';
import { policySas } from './amqp-client.js';

let hub: LocalHub;
let done: () => Promise<void>;
before(async () => { ({ hub, done } = await startHub({ restPort: 0, log: !!process.env['HUB_TEST_LOG'] })); });
after(async () => { await done?.(); });

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, policy = 'iothubowner'):
  Promise<{ status: number; json: Record<string, unknown> | null; type: string | undefined }> {
  const p = hub.policies.get(policy)!;
  const text = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({
      host: 'localhost', port: hub.restPort, method, path, ca: hub.ca, agent: false,
      headers: {
        Authorization: policySas(hub.hostName, p.primaryKey, policy, inSeconds(600)),
        'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers,
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, json: t ? JSON.parse(t) as Record<string, unknown> : null, type: res.headers['content-type'] });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

const V = 'api-version=2021-04-12';

test('devices: PUT generates keys, GET, If-Match, DELETE; errors as {"Message":"ErrorCode:…"}', async () => {
  const noVersion = await call('GET', '/devices/x');
  assert.equal(noVersion.status, 400);
  const created = await call('PUT', `/devices/r1?${V}`, { deviceId: 'r1' });
  assert.equal(created.status, 200);
  assert.match(created.type ?? '', /^application\/json/);
  const keys = (created.json!['authentication'] as { symmetricKey: { primaryKey: string } }).symmetricKey;
  assert.equal(Buffer.from(keys.primaryKey, 'base64').length, 32);
  const dup = await call('PUT', `/devices/r1?${V}`, { deviceId: 'r1' });
  assert.equal(dup.status, 409);
  assert.match(String(dup.json!['Message']), /^ErrorCode:DeviceAlreadyExists;/);
  const stale = await call('PUT', `/devices/r1?${V}`, { deviceId: 'r1', status: 'disabled' }, { 'If-Match': '"nope"' });
  assert.equal(stale.status, 412);
  const disabled = await call('PUT', `/devices/r1?${V}`, { deviceId: 'r1', status: 'disabled' }, { 'If-Match': `"${String(created.json!['etag'])}"` });
  assert.equal(disabled.json!['status'], 'disabled');
  assert.equal((await call('GET', `/devices/r1?${V}`)).json!['status'], 'disabled');
  assert.equal((await call('DELETE', `/devices/r1?${V}`, undefined, { 'If-Match': '*' })).status, 204);
  const gone = await call('GET', `/devices/r1?${V}`);
  assert.equal(gone.status, 404);
  assert.match(String(gone.json!['Message']), /^ErrorCode:DeviceNotFound;/);
  const unauth = await call('GET', `/devices/r1?${V}`, undefined, { Authorization: 'SharedAccessSignature sr=localhost&sig=AAAA&se=1&skn=iothubowner' });
  assert.equal(unauth.status, 401);
  assert.match(String(unauth.json!['Message']), /^ErrorCode:IotHubUnauthorizedAccess;/);
  assert.equal((await call('PUT', `/devices/r2?${V}`, {}, {}, 'registryRead')).status, 401);
});

test('twins: PATCH merges and reaches the MQTT device, 412 on a stale etag, PUT replaces; methods 404 offline', async () => {
  const dev = await hub.registry.addDevice('r-twin');
  const device = await connectRaw(hub, { deviceId: 'r-twin', key: dev.primaryKey });
  try {
    await device.subscribeAsync('$iothub/twin/PATCH/properties/desired/#', { qos: 0 });
    const patched = new Promise<{ topic: string; body: Record<string, unknown> }>((resolve) => device.on('message', (topic, p) => resolve({ topic, body: JSON.parse(p.toString()) as Record<string, unknown> })));
    const t0 = await call('GET', `/twins/r-twin?${V}`);
    const etag0 = String(t0.json!['etag']);
    const t1 = await call('PATCH', `/twins/r-twin?${V}`, { properties: { desired: { a: 1, nested: { x: 1, y: 2 } } }, tags: { floor: 3 } }, { 'If-Match': `"${etag0}"` });
    assert.equal(t1.status, 200);
    const got = await patched;
    assert.match(got.topic, /\$version=2$/);
    assert.deepEqual(got.body, { a: 1, nested: { x: 1, y: 2 }, $version: 2 });
    const stale = await call('PATCH', `/twins/r-twin?${V}`, { properties: { desired: { a: 2 } } }, { 'If-Match': `"${etag0}"` });
    assert.equal(stale.status, 412);
    assert.match(String(stale.json!['Message']), /^ErrorCode:PreconditionFailed;/);
    const t2 = await call('PUT', `/twins/r-twin?${V}`, { properties: { desired: { nested: { y: 3 } } }, tags: {} }, { 'If-Match': '*' });
    assert.deepEqual((t2.json!['properties'] as { desired: unknown }).desired, { nested: { y: 3 }, $version: 3 });
    assert.deepEqual(t2.json!['tags'], {});
    await endClient(device);
    const offline = await call('POST', `/twins/r-twin/methods?${V}`, { methodName: 'm', payload: null, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 0 });
    assert.equal(offline.status, 404);
    assert.match(String(offline.json!['Message']), /^ErrorCode:DeviceNotOnline;/);
  } finally {
    await endClient(device);
  }
});
