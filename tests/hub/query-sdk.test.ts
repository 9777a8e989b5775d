// Device and twin queries through Microsoft's azure-iothub (Registry.createQuery, nextAsTwin and next paging through
// the continuation token) and with plain https: the headers IoT Hub answers with (x-ms-item-type, x-ms-continuation),
// its error shape for a syntax error, and the right a query needs (RegistryRead).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { startServiceSdk, SdkError, type ServiceSdk } from './service-sdk-harness.js';
import { policySas } from './amqp-client.js';
import { inSeconds } from './helpers.js';

let sdk: ServiceSdk;
before(async () => {
  sdk = await startServiceSdk();
  const hub = sdk.hub;
  for (let i = 0; i < 7; i++) {
    const id = `q-${i}`;
    await hub.registry.addDevice(id, i === 6 ? { iotEdge: true } : {});
    await hub.updateTags(id, { location: { region: i % 2 ? 'EU' : 'US' }, index: i });
    if (i < 3) await hub.twins.patchReported(id, undefined, { firmware: i === 0 ? '1.0' : '2.0' });
  }
  await hub.registry.addModule('q-1', 'sensor');
  await hub.twins.patchReported('q-1', 'sensor', { ok: true });
});
after(async () => { await sdk?.done(); });

type Page = { items: { deviceId?: string; moduleId?: string; isTwin?: boolean; [k: string]: unknown }[]; continuation: string | null };

function query(sql: string, pageSize?: number, twin = true): Promise<Page[]> {
  return sdk.call<Page[]>('query', { cs: sdk.hub.policies.connectionString('iothubowner'), restPort: sdk.hub.restPort, sql, pageSize, twin });
}

test('Registry.createQuery with a page size: nextAsTwin pages through the continuation token to the last page', async () => {
  const pages = await query("SELECT * FROM devices WHERE tags.location.region = 'US'", 3);
  assert.deepEqual(pages.map((p) => p.items.map((t) => t.deviceId)), [['q-0', 'q-2', 'q-4'], ['q-6']]);
  assert.ok(pages[0]!.continuation, 'the first page names where the next begins');
  assert.equal(pages[1]!.continuation, null, 'the last page has no token, so hasMoreResults ends');
  assert.ok(pages.every((p) => p.items.every((t) => t.isTwin)), 'the SDK made Twin objects');
  const all = await query('SELECT * FROM devices', 2);
  assert.deepEqual(all.map((p) => p.items.length), [2, 2, 2, 1]);
  assert.deepEqual(all.flatMap((p) => p.items.map((t) => t.deviceId)), ['q-0', 'q-1', 'q-2', 'q-3', 'q-4', 'q-5', 'q-6']);
});

test('queries over tags, reported properties, IS_DEFINED, capabilities, IN and modules find what they name', async () => {
  const found = async (sql: string) => (await query(sql)).flatMap((p) => p.items.map((t) => t.moduleId ? `${t.deviceId}/${t.moduleId}` : t.deviceId));
  assert.deepEqual(await found("SELECT * FROM devices WHERE properties.reported.firmware = '2.0'"), ['q-1', 'q-2']);
  assert.deepEqual(await found('SELECT * FROM devices WHERE IS_DEFINED(properties.reported.firmware) AND tags.index >= 1'), ['q-1', 'q-2']);
  assert.deepEqual(await found('SELECT * FROM devices WHERE capabilities.iotEdge = true'), ['q-6']);
  assert.deepEqual(await found("SELECT * FROM devices WHERE deviceId IN ['q-3', 'q-5', 'nope'] OR NOT (tags.index > 0)"), ['q-0', 'q-3', 'q-5']);
  assert.deepEqual(await found('SELECT * FROM devices.modules WHERE properties.reported.ok = true'), ['q-1/sensor']);
  assert.deepEqual(await found("SELECT * FROM devices WHERE connectionState = 'Connected'"), []);
});

test('COUNT() and projections come back through Query.next as raw JSON', async () => {
  assert.deepEqual((await query("SELECT COUNT() AS n FROM devices WHERE tags.location.region = 'EU'", undefined, false)).flatMap((p) => p.items), [{ n: 3 }]);
  const rows = (await query('SELECT deviceId, tags.index AS i FROM devices WHERE tags.index < 2', 1, false));
  assert.deepEqual(rows.map((p) => p.items), [[{ deviceId: 'q-0', i: 0 }], [{ deviceId: 'q-1', i: 1 }]]);
});

test('a query with a syntax error is refused with 400 and a message saying where; the SDK surfaces it', async () => {
  await assert.rejects(query('SELECT * FROM devices WHERE tags.location.region = '), (e: unknown) => {
    assert.ok(e instanceof SdkError, String(e));
    assert.match(e.message, /line 1, column 52: expected a value/);
    return true;
  });
});

function post(body: string, headers: Record<string, string> = {}, policy = 'iothubowner'): Promise<{ status: number; headers: Record<string, unknown>; json: unknown }> {
  const hub = sdk.hub;
  const p = hub.policies.get(policy)!;
  return new Promise((resolve, reject) => {
    const req = request({
      host: 'localhost', port: hub.restPort, method: 'POST', path: '/devices/query?api-version=2021-04-12', ca: hub.ca, agent: false,
      headers: { Authorization: policySas(hub.hostName, p.primaryKey, policy, inSeconds(600)), 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json: t ? JSON.parse(t) : null });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('POST /devices/query over https: a JSON array, x-ms-item-type twin or raw, x-ms-continuation only while more follow, IoT Hub\'s error body', async () => {
  const first = await post(JSON.stringify({ query: 'SELECT * FROM devices' }), { 'x-ms-max-item-count': '4' });
  assert.equal(first.status, 200);
  assert.ok(Array.isArray(first.json) && first.json.length === 4);
  assert.equal(first.headers['x-ms-item-type'], 'twin');
  const token = first.headers['x-ms-continuation'];
  assert.equal(typeof token, 'string');
  const last = await post(JSON.stringify({ query: 'SELECT * FROM devices' }), { 'x-ms-max-item-count': '4', 'x-ms-continuation': token as string });
  assert.deepEqual([(last.json as unknown[]).length, last.headers['x-ms-continuation']], [3, undefined]);
  assert.equal((await post(JSON.stringify({ query: 'SELECT COUNT() AS n FROM devices' }))).headers['x-ms-item-type'], 'raw');
  const bad = await post(JSON.stringify({ query: 'SELECT * FROM devices WHERE (' }));
  assert.equal(bad.status, 400);
  assert.equal(bad.headers['iothub-errorcode'], 'BadRequest');
  assert.match(String((bad.json as { Message: string }).Message), /^ErrorCode:BadRequest;Syntax error at line 1, column 30: expected/);
  assert.equal((await post(JSON.stringify({ query: 'SELECT * FROM devices' }), { 'x-ms-max-item-count': '0' })).status, 400);
  assert.equal((await post(JSON.stringify({ nope: 1 }))).status, 400);
  // a query reads the registry: a policy without RegistryRead is refused
  const service = await post(JSON.stringify({ query: 'SELECT * FROM devices' }), {}, 'service');
  assert.equal(service.status, 401);
  assert.equal((await post(JSON.stringify({ query: 'SELECT * FROM devices' }), {}, 'registryRead')).status, 200);
});
