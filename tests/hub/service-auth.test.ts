// The REST service API's authorization and input rules, over node:https against a real hub: authentication before
// any lookup, IoT Hub's 400 shape for malformed input, IoT Hub's twin and method limits (MQTT shares the twin ones),
// SAS scope by path segment, and the permission table route by route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import type { LocalHub } from '../../host/hub/index.js';
import { claimsCover, resourceScope } from '../../host/hub/service/policies.js';
import { startHub, connectRaw, endClient, inSeconds, restCall, type RestAnswer } from './helpers.js';
import { policySas } from './amqp-client.js';

let hub: LocalHub;
let done: () => Promise<void>;
before(async () => {
  ({ hub, done } = await startHub({ restPort: 0, log: !!process.env['HUB_TEST_LOG'] }));
  for (const id of ['A', 'AB', 'B']) await hub.registry.addDevice(id);
  await hub.registry.addModule('A', 'm');
});
after(async () => { await done?.(); });

const V = 'api-version=2021-04-12';

/** A policy token; `resource` defaults to the hub itself. */
function token(policy = 'iothubowner', resource = hub.hostName): string {
  return policySas(resource, hub.policies.get(policy)!.primaryKey, policy, inSeconds(600));
}

type Answer = RestAnswer;

function call(method: string, path: string, o: { body?: string; auth?: string | null } = {}): Promise<Answer> {
  return restCall({ port: hub.restPort!, ca: hub.ca }, method, path, { ...o, auth: o.auth === undefined ? token() : o.auth });
}

/** IoT Hub's error shape: `{"Message":"ErrorCode:<code>;…","ExceptionMessage":"…"}` and the iothub-errorcode header. */
function assertError(r: Answer, status: number, code: string, what: string): void {
  assert.equal(r.status, status, `${what}: ${r.text}`);
  assert.ok(r.json, `${what}: the body is JSON`);
  assert.match(String(r.json['Message']), new RegExp(`^ErrorCode:${code};`), what);
  assert.equal(typeof r.json['ExceptionMessage'], 'string', what);
  assert.equal(r.errorCode, code, `${what}: iothub-errorcode`);
  assert.doesNotMatch(r.text, /at .*\.js:\d+|TypeError|RangeError|SyntaxError|Cannot read/, `${what}: no internals`);
}

const nested = (levels: number, leaf = '1') => '{"a":'.repeat(levels) + leaf + '}'.repeat(levels);

test('an unauthenticated GET /twins/{id} answers 401 whether or not the device exists', async () => {
  for (const auth of [null, 'SharedAccessSignature sr=localhost&sig=AAAA&se=9999999999&skn=iothubowner', 'Basic dXNlcjpwdw==']) {
    const known = await call('GET', `/twins/A?${V}`, { auth });
    const unknown = await call('GET', `/twins/nobody?${V}`, { auth });
    assertError(known, 401, 'IotHubUnauthorizedAccess', `existing device, auth ${String(auth).slice(0, 20)}`);
    assertError(unknown, 401, 'IotHubUnauthorizedAccess', `missing device, auth ${String(auth).slice(0, 20)}`);
    assert.equal(String(known.json!['Message']), String(unknown.json!['Message']), 'the answers do not tell the two apart');
  }
  // and the same for the other routes
  for (const [m, p] of [['GET', '/devices/nobody'], ['DELETE', '/devices/nobody'], ['PATCH', '/twins/nobody'], ['POST', '/twins/nobody/methods'], ['GET', `/twins/%ZZ`]]) {
    assertError(await call(m!, `${p}?${V}`, { auth: null, body: '{}' }), 401, 'IotHubUnauthorizedAccess', `${m} ${p}`);
  }
});

test('malformed input gets IoT Hub\'s 400 shape, never a 500: bad escapes, null and non-object bodies, wrong field types', async () => {
  assertError(await call('GET', `/twins/%ZZ?${V}`), 400, 'ArgumentInvalid', '%ZZ in the path');
  assertError(await call('GET', `/devices/a%E0%A4%A?${V}`), 400, 'ArgumentInvalid', 'a cut UTF-8 escape');
  assertError(await call('GET', `/twins/a%2Fm?${V}`), 400, 'ArgumentInvalid', 'a slash inside a device id');
  for (const body of ['null', '5', '"text"', '[]', '[{"tags":{}}]', 'true', '{"tags":', '\u0000']) {
    assertError(await call('PATCH', `/twins/A?${V}`, { body }), 400, 'ArgumentInvalid', `twin body ${body}`);
    assertError(await call('POST', `/twins/A/methods?${V}`, { body }), 400, 'ArgumentInvalid', `method body ${body}`);
    assertError(await call('PUT', `/devices/new-${body.length}?${V}`, { body }), 400, 'ArgumentInvalid', `device body ${body}`);
  }
  const wrong: [string, string, string][] = [
    ['PATCH', '/twins/A', '{"tags":5}'],
    ['PATCH', '/twins/A', '{"tags":[1]}'],
    ['PATCH', '/twins/A', '{"properties":"x"}'],
    ['PATCH', '/twins/A', '{"properties":{"desired":[]}}'],
    ['PUT', '/twins/A', '{"properties":{"desired":"x"}}'],
    ['POST', '/twins/A/methods', '{"methodName":5}'],
    ['POST', '/twins/A/methods', '{"payload":1}'],
    ['POST', '/twins/A/methods', '{"methodName":"m","responseTimeoutInSeconds":"10"}'],
    ['POST', '/twins/A/methods', '{"methodName":"m","connectTimeoutInSeconds":true}'],
    ['POST', '/twins/A/methods', '{"methodName":"m","responseTimeoutInSeconds":7.5}'],
    ['PUT', '/devices/typed', '{"status":"sleeping"}'],
    ['PUT', '/devices/typed', '{"deviceId":5}'],
    ['PUT', '/devices/typed', '{"authentication":5}'],
    ['PUT', '/devices/typed', '{"authentication":{"symmetricKey":{"primaryKey":5}}}'],
  ];
  for (const [m, p, body] of wrong) assertError(await call(m, `${p}?${V}`, { body }), 400, 'ArgumentInvalid', `${m} ${p} ${body}`);
  assert.equal(hub.registry.record('typed'), undefined, 'nothing was created by a refused PUT');
});

test('desired properties nested 5,000 deep are a 400 on REST and over MQTT, and the hub keeps serving', async () => {
  const deep = nested(5000);
  assertError(await call('PATCH', `/twins/A?${V}`, { body: `{"properties":{"desired":${deep}}}` }), 400, 'ArgumentInvalid', 'PATCH 5,000 deep');
  assertError(await call('PUT', `/twins/A?${V}`, { body: `{"tags":${deep}}` }), 400, 'ArgumentInvalid', 'PUT 5,000 deep');
  assertError(await call('POST', `/twins/A/methods?${V}`, { body: `{"methodName":"m","payload":${deep}}` }), 400, 'ArgumentInvalid', 'method payload 5,000 deep');
  const dev = hub.registry.record('B')!;
  const device = await connectRaw(hub, { deviceId: 'B', key: dev.primaryKey });
  try {
    await device.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
    const res = new Promise<string>((resolve) => device.once('message', (topic) => resolve(topic)));
    await device.publishAsync('$iothub/twin/PATCH/properties/reported/?$rid=deep', nested(5000), { qos: 0 });
    assert.match(await res, /^\$iothub\/twin\/res\/400\/\?\$rid=deep/);
  } finally {
    await endClient(device);
  }
  assert.equal((await call('GET', `/twins/A?${V}`)).status, 200);
  // the same document through the LocalHub API, and a payload that cannot be serialised
  const deepObject = JSON.parse(`{"properties":{"desired":${deep}}}`) as { properties: { desired: Record<string, never> } };
  await assert.rejects(hub.updateDesired('A', deepObject.properties.desired), { status: 400, code: 'ArgumentInvalid' });
  await assert.rejects(hub.updateTags('A', deepObject.properties.desired), { status: 400, code: 'ArgumentInvalid' });
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  await assert.rejects(hub.invokeMethod('A', 'm', cyclic), { status: 400, code: 'ArgumentInvalid' });
});

test('twin limits as IoT Hub documents them: tags 8 KB, desired 32 KB, depth 10, keys 1 KB without . $ or space', async () => {
  await hub.registry.addDevice('limits');
  const patch = (section: 'tags' | 'desired', doc: string) =>
    call('PATCH', `/twins/limits?${V}`, { body: section === 'tags' ? `{"tags":${doc}}` : `{"properties":{"desired":${doc}}}` });
  // IoT Hub's own example of a valid document: `one` … `ten` nested under the section
  // (the section's root plus 10 nested objects: nested(11))
  assert.equal((await patch('tags', nested(11, '"v"'))).status, 200);
  assert.equal((await patch('desired', nested(11, '"v"'))).status, 200);
  assertError(await patch('tags', nested(12, '"v"')), 400, 'ArgumentInvalid', 'tags 11 levels below the root');
  assertError(await patch('desired', nested(12, '"v"')), 400, 'ArgumentInvalid', 'desired 11 levels below the root');
  assertError(await patch('desired', nested(11, '[1]')), 400, 'ArgumentInvalid', 'an array as the 11th level');
  // sizes: keys and values as IoT Hub counts them
  assert.equal((await patch('tags', `{"big":"${'x'.repeat(7000)}"}`)).status, 200);
  assertError(await patch('tags', `{"big2":"${'x'.repeat(2000)}"}`), 413, 'MessageTooLarge', 'tags over 8 KB in total');
  assert.equal((await patch('desired', `{"big":"${'x'.repeat(30_000)}"}`)).status, 200);
  assertError(await patch('desired', `{"more":"${'x'.repeat(3000)}"}`), 413, 'MessageTooLarge', 'desired over 32 KB in total');
  // a refused patch changed nothing
  const twin = await hub.getTwin('limits');
  assert.equal(Object.hasOwn(twin.tags, 'big2'), false);
  assert.equal(Object.hasOwn(twin.properties.desired, 'more'), false);
  // keys
  assertError(await patch('tags', `{"${'k'.repeat(1025)}":1}`), 400, 'ArgumentInvalid', 'a key over 1 KB');
  for (const k of ['a.b', 'a b', 'a$b', 'a\\u0001b', 'a\\u0085b']) assertError(await patch('desired', `{"${k}":1}`), 400, 'ArgumentInvalid', `key ${JSON.stringify(k)}`);
  assert.equal((await patch('desired', `{"${'k'.repeat(1024)}":1}`)).status, 200);
  // over MQTT the same limits answer on $iothub/twin/res/{status}
  const dev = hub.registry.record('limits')!;
  const device = await connectRaw(hub, { deviceId: 'limits', key: dev.primaryKey });
  try {
    await device.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
    const answers = new Map<string, string>();
    const waiting = new Map<string, () => void>();
    device.on('message', (topic) => {
      const rid = /\$rid=([^&]+)/.exec(topic)?.[1] ?? '';
      answers.set(rid, topic);
      waiting.get(rid)?.();
    });
    const report = async (rid: string, body: string): Promise<string> => {
      const got = new Promise<void>((resolve) => waiting.set(rid, resolve));
      await device.publishAsync(`$iothub/twin/PATCH/properties/reported/?$rid=${rid}`, body, { qos: 0 });
      await got;
      return answers.get(rid)!;
    };
    assert.match(await report('big', `{"big":"${'x'.repeat(33_000)}"}`), /^\$iothub\/twin\/res\/413\//);
    assert.match(await report('deep', nested(12)), /^\$iothub\/twin\/res\/400\//);
    assert.match(await report('dot', '{"a.b":1}'), /^\$iothub\/twin\/res\/400\//);
    assert.match(await report('ok', nested(11)), /^\$iothub\/twin\/res\/204\//);
  } finally {
    await endClient(device);
  }
});

test('direct method time-outs outside IoT Hub\'s ranges (response 5–300 s, connect 0–300 s) are a 400', async () => {
  const invoke = (extra: string) => call('POST', `/twins/A/methods?${V}`, { body: `{"methodName":"m","payload":null${extra}}` });
  for (const extra of [',"responseTimeoutInSeconds":4', ',"responseTimeoutInSeconds":301', ',"responseTimeoutInSeconds":0',
    ',"connectTimeoutInSeconds":-1', ',"connectTimeoutInSeconds":301']) {
    assertError(await invoke(extra), 400, 'ArgumentInvalid', extra);
  }
  // the bounds themselves are accepted: the offline device then answers 404
  for (const extra of [',"responseTimeoutInSeconds":5,"connectTimeoutInSeconds":0', ',"responseTimeoutInSeconds":300']) {
    assertError(await invoke(extra), 404, 'DeviceNotOnline', extra);
  }
});

test('a policy token reaches only what its sr covers, by path segment: devices/A reads and patches A, not B or AB', async () => {
  const a = token('iothubowner', `${hub.hostName}/devices/A`);
  assert.equal((await call('GET', `/twins/A?${V}`, { auth: a })).status, 200);
  assert.equal((await call('GET', `/devices/A?${V}`, { auth: a })).status, 200);
  assert.equal((await call('PATCH', `/twins/A?${V}`, { auth: a, body: '{"tags":{"by":"A"}}' })).status, 200);
  assert.equal((await call('GET', `/twins/A/modules/m?${V}`, { auth: a })).status, 200, 'a module is under its device');
  assertError(await call('POST', `/twins/A/methods?${V}`, { auth: a, body: '{"methodName":"m"}' }), 404, 'DeviceNotOnline', 'methods of A');
  for (const [m, p, body] of [['GET', '/twins/B', ''], ['PATCH', '/twins/B', '{"tags":{"by":"A"}}'], ['PUT', '/twins/B', '{}'],
    ['GET', '/devices/B', ''], ['DELETE', '/devices/B', ''], ['POST', '/twins/B/methods', '{"methodName":"m"}'], ['GET', '/twins/AB', '']] as const) {
    assertError(await call(m, `${p}?${V}`, { auth: a, body }), 401, 'IotHubUnauthorizedAccess', `token for A: ${m} ${p}`);
  }
  assert.equal(Object.hasOwn((await hub.getTwin('B')).tags, 'by'), false, 'B was not patched');
  assert.ok(hub.registry.record('B'), 'B was not deleted');
  // the twins path names the same resource; a module token does not reach its device
  assert.equal((await call('GET', `/twins/A?${V}`, { auth: token('iothubowner', `${hub.hostName}/twins/A`) })).status, 200);
  const mod = token('iothubowner', `${hub.hostName}/devices/A/modules/m`);
  assert.equal((await call('GET', `/twins/A/modules/m?${V}`, { auth: mod })).status, 200);
  assertError(await call('GET', `/twins/A?${V}`, { auth: mod }), 401, 'IotHubUnauthorizedAccess', 'module token on the device twin');
  // a token for another hub is refused, even when correctly signed
  assertError(await call('GET', `/twins/A?${V}`, { auth: token('iothubowner', 'otherhub.azure-devices.net') }), 401, 'IotHubUnauthorizedAccess', 'another hub');
  assertError(await call('GET', `/twins/A?${V}`, { auth: token('iothubowner', 'otherhub/devices/A') }), 401, 'IotHubUnauthorizedAccess', 'another hub, device path');
});

test('claimsCover: a SAS resource is a prefix by whole path segments', () => {
  const c = (sr: string) => ({ resource: resourceScope(sr) });
  assert.equal(resourceScope('localhost'), '');
  assert.equal(resourceScope('sb://LocalHost:443//devices/A/'), '/devices/A');
  assert.ok(claimsCover(c('localhost'), '/devices/B'));
  assert.ok(claimsCover(c('localhost/devices/A'), '/devices/A/modules/m/methods'));
  assert.ok(claimsCover(c('localhost/devices/A'), '/twins/A'));
  assert.ok(!claimsCover(c('localhost/devices/A'), '/devices/AB'));
  assert.ok(!claimsCover(c('localhost/devices/A'), '/devices'));
  assert.ok(!claimsCover(c('localhost/devices/A/modules/m'), '/devices/A'));
  assert.ok(!claimsCover(c('localhost/messages/devicebound'), '/messages/events'));
});

/** Who may do what, cell by cell (IoT Hub: RegistryRead reads identities and twins, RegistryWrite changes identities, ServiceConnect changes twins and calls methods). */
test('the permission table: registryRead reads, registryReadWrite writes identities but not twins, service changes twins and calls methods', async () => {
  type Cell = [method: string, path: string, body: string];
  const cells: Record<string, Cell> = {
    'GET device': ['GET', '/devices/A', ''],
    'PUT device': ['PUT', '/devices/perm-new', '{}'],
    'DELETE device': ['DELETE', '/devices/perm-gone', ''],
    'GET twin': ['GET', '/twins/A', ''],
    'PATCH twin tags': ['PATCH', '/twins/A', '{"tags":{"perm":1}}'],
    'PATCH twin desired': ['PATCH', '/twins/A', '{"properties":{"desired":{"perm":1}}}'],
    'PUT twin': ['PUT', '/twins/A', '{"tags":{"perm":2}}'],
    'GET module twin': ['GET', '/twins/A/modules/m', ''],
    'PATCH module twin': ['PATCH', '/twins/A/modules/m', '{"tags":{"perm":1}}'],
    'invoke method': ['POST', '/twins/A/methods', '{"methodName":"m"}'],
  };
  const allowed: Record<string, string[]> = {
    registryRead: ['GET device', 'GET twin', 'GET module twin'],
    registryReadWrite: ['GET device', 'PUT device', 'DELETE device', 'GET twin', 'GET module twin'],
    service: ['GET twin', 'PATCH twin tags', 'PATCH twin desired', 'PUT twin', 'GET module twin', 'PATCH module twin', 'invoke method'],
    device: [],
    iothubowner: Object.keys(cells),
  };
  for (const [policy, may] of Object.entries(allowed)) {
    for (const [name, [m, p, body]] of Object.entries(cells)) {
      if (!hub.registry.record('perm-gone')) await hub.registry.addDevice('perm-gone');
      if (hub.registry.record('perm-new')) await hub.registry.remove('perm-new');
      const r = await call(m, `${p}?${V}`, { auth: token(policy), body });
      if (may.includes(name)) {
        // allowed: the operation ran (an offline device answers the method with 404 DeviceNotOnline)
        assert.ok(r.status < 300 || r.errorCode === 'DeviceNotOnline', `${policy} may ${name}: ${r.status} ${r.text}`);
      } else {
        assertError(r, 401, 'IotHubUnauthorizedAccess', `${policy} may not ${name}`);
      }
    }
    if (policy === 'registryRead' || policy === 'registryReadWrite') {
      // the first two policies run before anyone may write: their refused twin writes left nothing
      const twin = await hub.getTwin('A');
      assert.equal(Object.hasOwn(twin.tags, 'perm') || Object.hasOwn(twin.properties.desired, 'perm'), false, `${policy} wrote the twin`);
    }
  }
  assert.equal((await hub.getTwin('A')).tags['perm'], 2, 'the allowed PUT wrote the tags');
});

test('a request body over 256 KB is answered 413 MessageTooLarge (with or without Content-Length) and is not buffered', async () => {
  const big = `{"tags":{"x":"${'x'.repeat(300 * 1024)}"}}`;
  assertError(await call('PATCH', `/twins/B?${V}`, { body: big }), 413, 'MessageTooLarge', 'declared length');
  const chunked = await new Promise<Answer>((resolve, reject) => {
    const req = request({
      host: 'localhost', port: hub.restPort, method: 'PATCH', path: `/twins/B?${V}`, ca: hub.ca, agent: false,
      headers: { Authorization: token(), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown>, text, errorCode: String(res.headers['iothub-errorcode']) });
      });
    });
    req.on('error', reject);
    // written in pieces, as a client streaming a body of unknown length does
    for (let i = 0; i < 10; i++) req.write(big.slice(i * (big.length / 10), (i + 1) * (big.length / 10)));
    req.end();
  });
  assertError(chunked, 413, 'MessageTooLarge', 'chunked');
  assert.equal((await hub.getTwin('B')).tags['x'], undefined, 'nothing stored');
});
