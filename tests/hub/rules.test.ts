// IoT Hub's rules, each shown with a raw MQTT client (mqtt.js) against the local hub over plain TCP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt';
import type { LocalHub, TelemetryMessage, ConnectionEvent, FeedbackRecord, C2DMessage } from '../../host/hub/index.js';
import { startHub, connectRaw, closed, endClient, once, sas, inSeconds, grantedQos } from './helpers.js';

let hub: LocalHub;
let done: () => Promise<void>;
const keys: Record<string, string> = {};

before(async () => {
  ({ hub, done } = await startHub());
  for (const id of ['a', 'b', 'dup', 'q2', 'ret', 'big', 'subs', 'exp', 'sess', 'redeliver', 'queue', 'twin', 'meth', 'bag']) {
    keys[id] = (await hub.registry.addDevice(id)).primaryKey;
  }
  keys['a/m1'] = (await hub.registry.addModule('a', 'm1')).primaryKey;
});

after(async () => { await done(); });

const resource = (id: string) => `${hub.hostName}/devices/${id}`;

function refusedWith(code: number) {
  return (e: Error & { code?: number }) => { assert.equal(e.code, code, e.message); return true; };
}

test('expired token: CONNACK 5', async () => {
  await assert.rejects(connectRaw(hub, { deviceId: 'a', password: sas(resource('a'), keys['a']!, inSeconds(-10)) }), refusedWith(5));
});

test('token for another device: CONNACK 5', async () => {
  await assert.rejects(connectRaw(hub, { deviceId: 'a', password: sas(resource('b'), keys['b']!, inSeconds(60)) }), refusedWith(5));
});

test('forged signature: CONNACK 5', async () => {
  await assert.rejects(connectRaw(hub, { deviceId: 'a', password: sas(resource('a'), Buffer.alloc(32, 1).toString('base64'), inSeconds(60)) }), refusedWith(5));
});

test('either key works; unknown device, malformed password and wrong username are refused', async () => {
  const rec = hub.registry.get('a')!;
  await endClient(await connectRaw(hub, { deviceId: 'a', key: rec.secondaryKey }));
  await assert.rejects(connectRaw(hub, { deviceId: 'nobody', key: keys['a'] }), refusedWith(5));
  await assert.rejects(connectRaw(hub, { deviceId: 'a', password: 'not a token' }), refusedWith(4));
  await assert.rejects(connectRaw(hub, { deviceId: 'a', key: keys['a'], username: `other.host/a/?api-version=2021-04-12` }), refusedWith(4));
  await assert.rejects(connectRaw(hub, { deviceId: 'a', key: keys['a'], clientId: 'b' }), refusedWith(4));
});

test('a module authenticates with its own key and resource; telemetry carries moduleId', async () => {
  const c = await connectRaw(hub, { deviceId: 'a', moduleId: 'm1', key: keys['a/m1'] });
  const got = once<TelemetryMessage>(hub, 'telemetry', (m) => m.moduleId === 'm1');
  c.publish('devices/a/modules/m1/messages/events/k=v', 'mod', { qos: 1 });
  const m = await got;
  assert.equal(m.deviceId, 'a');
  assert.deepEqual(m.properties, { k: 'v' });
  await endClient(c);
  // the device key does not open the module
  await assert.rejects(connectRaw(hub, { deviceId: 'a', moduleId: 'm1', password: sas(`${resource('a')}/modules/m1`, keys['a']!, inSeconds(60)) }), refusedWith(5));
});

test('publishing on another device\'s topic closes the connection', async () => {
  const c = await connectRaw(hub, { deviceId: 'a', key: keys['a'] });
  const bye = closed(c);
  c.publish('devices/b/messages/events/', 'x', { qos: 1 });
  await bye;
  c.end(true);
});

test('an unsupported topic closes the connection', async () => {
  const c = await connectRaw(hub, { deviceId: 'a', key: keys['a'] });
  const bye = closed(c);
  c.publish('some/topic', 'x', { qos: 0 });
  await bye;
  c.end(true);
});

test('subscribing to another device\'s topics is refused with 0x80', async () => {
  const c = await connectRaw(hub, { deviceId: 'a', key: keys['a'] });
  const granted = await grantedQos(c, {
    'devices/b/messages/devicebound/#': { qos: 1 },
    '#': { qos: 0 },
    'devices/a/messages/devicebound/#': { qos: 1 },
  });
  assert.deepEqual(granted, [128, 128, 1]);
  await endClient(c);
});

test('a second connection for the same device drops the first', async () => {
  const first = await connectRaw(hub, { deviceId: 'dup', key: keys['dup'] });
  const gone = once<ConnectionEvent>(hub, 'disconnected', (e) => e.deviceId === 'dup');
  const firstClosed = closed(first);
  const second = await connectRaw(hub, { deviceId: 'dup', key: keys['dup'] });
  await firstClosed;
  await gone;
  first.end(true);
  assert.ok(second.connected);
  assert.ok(hub.isConnected('dup'));
  await endClient(second);
});

test('QoS 2 publish closes the connection; QoS 2 subscribe is granted QoS 1', async () => {
  const c = await connectRaw(hub, { deviceId: 'q2', key: keys['q2'] });
  const granted = await grantedQos(c, { 'devices/q2/messages/devicebound/#': { qos: 2 } });
  assert.equal(granted[0], 1);
  const bye = closed(c);
  c.publish('devices/q2/messages/events/', 'x', { qos: 2 });
  await bye;
  c.end(true);
});

test('retain is forwarded as mqtt-retain=true and not stored', async () => {
  const c = await connectRaw(hub, { deviceId: 'ret', key: keys['ret'] });
  const got = once<TelemetryMessage>(hub, 'telemetry', (m) => m.deviceId === 'ret');
  await c.publishAsync('devices/ret/messages/events/a=1', 'r', { qos: 1, retain: true });
  const m = await got;
  assert.deepEqual(m.properties, { a: '1', 'mqtt-retain': 'true' });
  await endClient(c);
});

test('size limits: D2C over 256 KB closes; C2D over 64 KB and method payload over 128 KB are refused', async () => {
  const c = await connectRaw(hub, { deviceId: 'big', key: keys['big'] });
  const ok = once<TelemetryMessage>(hub, 'telemetry', (m) => m.deviceId === 'big');
  await c.publishAsync('devices/big/messages/events/', Buffer.alloc(256 * 1024 - 10), { qos: 1 });
  assert.equal((await ok).body.length, 256 * 1024 - 10);
  const bye = closed(c);
  c.publish('devices/big/messages/events/p=' + 'x'.repeat(20), Buffer.alloc(256 * 1024), { qos: 1 });
  await bye;
  c.end(true);
  await assert.rejects(hub.sendC2D('big', Buffer.alloc(64 * 1024 + 1)), { status: 413 });
  await hub.sendC2D('big', Buffer.alloc(64 * 1024)); // exactly the limit is fine
  await assert.rejects(hub.invokeMethod('big', 'm', 'x'.repeat(128 * 1024)), (e: { status?: number }) => e.status === 404 || e.status === 413);
});

test('at most 5 subscriptions: the 6th is refused with 0x80', async () => {
  const c = await connectRaw(hub, { deviceId: 'subs', key: keys['subs'] });
  const granted = await grantedQos(c, {
    'devices/subs/messages/devicebound/#': { qos: 1 },
    '$iothub/methods/POST/#': { qos: 0 },
    '$iothub/twin/res/#': { qos: 0 },
    '$iothub/twin/PATCH/properties/desired/#': { qos: 0 },
  });
  assert.deepEqual(granted, [1, 0, 0, 0]);
  // same filter again does not count twice
  assert.equal((await grantedQos(c, { '$iothub/twin/res/#': { qos: 0 } }))[0], 0);
  // a module-input filter is not valid for a device: refused, and so are extra ones
  const more = await grantedQos(c, { 'devices/subs/modules/x/inputs/#': { qos: 0 } });
  assert.equal(more[0], 128);
  await endClient(c);
  // 5 distinct filters are allowed; a 6th is refused
  const m = await connectRaw(hub, { deviceId: 'a', moduleId: 'm1', key: keys['a/m1'] });
  const g = await grantedQos(m, {
    '$iothub/methods/POST/#': { qos: 0 },
    '$iothub/twin/res/#': { qos: 0 },
    '$iothub/twin/PATCH/properties/desired/#': { qos: 0 },
    'devices/a/modules/m1/inputs/#': { qos: 1 },
    '$iothub/methods/POST/reboot/#': { qos: 0 },
    '$iothub/methods/POST/reset/#': { qos: 0 },
  });
  assert.deepEqual(g, [0, 0, 0, 1, 0, 128]);
  // an unsupported filter is refused too
  assert.equal((await grantedQos(m, { '$iothub/twin/GET/#': { qos: 0 } }))[0], 128);
  await endClient(m);
});

test('a connection is closed when its token expires', async () => {
  const c = await connectRaw(hub, { deviceId: 'exp', password: sas(resource('exp'), keys['exp']!, inSeconds(2)) });
  const ev = once<ConnectionEvent>(hub, 'disconnected', (e) => e.deviceId === 'exp', 4000);
  await closed(c);
  assert.match((await ev).reason ?? '', /expired/);
  c.end(true);
});

test('clean session 0 keeps subscriptions and undelivered C2D across reconnects', async () => {
  const c1 = await connectRaw(hub, { deviceId: 'sess', key: keys['sess'], clean: false });
  await c1.subscribeAsync({ 'devices/sess/messages/devicebound/#': { qos: 1 } });
  await endClient(c1);
  await hub.sendC2D('sess', 'while offline', { messageId: 'off-1', properties: { k: 'v w', bare: null } });
  const c2 = await connectRaw(hub, { deviceId: 'sess', key: keys['sess'], clean: false });
  const [topic, payload] = await new Promise<[string, Buffer]>((resolve) => c2.on('message', (t, p) => resolve([t, p])));
  assert.equal(payload.toString(), 'while offline');
  assert.match(topic, /^devices\/sess\/messages\/devicebound\/%24\.mid=off-1&%24\.to=%2Fdevices%2Fsess%2Fmessages%2FdeviceBound&/);
  assert.match(topic, /&k=v%20w&bare$/);
  await endClient(c2);
  // clean session 1 forgets the subscription
  await hub.sendC2D('sess', 'second');
  const c3 = await connectRaw(hub, { deviceId: 'sess', key: keys['sess'], clean: true });
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(hub.c2d.pending('sess').length, 1);
  await endClient(c3);
});

test('C2D not acknowledged is redelivered with a higher delivery count; completion on PUBACK', async () => {
  const seen: string[] = [];
  const c1 = await connectRaw(hub, { deviceId: 'redeliver', key: keys['redeliver'] });
  // mqtt.js sends PUBACK when handleMessage calls back: never calling back means never acknowledging
  c1.handleMessage = (packet: IPublishPacket) => { seen.push(packet.topic); };
  const first = once<C2DMessage>(hub, 'c2dDelivered', (m) => m.deviceId === 'redeliver');
  await c1.subscribeAsync({ 'devices/redeliver/messages/devicebound/#': { qos: 1 } });
  await hub.sendC2D('redeliver', 'once', { messageId: 'r-1', ack: 'full' });
  assert.equal((await first).deliveryCount, 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen.length, 1);
  await endClient(c1);
  const c2 = await connectRaw(hub, { deviceId: 'redeliver', key: keys['redeliver'] });
  const again = once<C2DMessage>(hub, 'c2dDelivered', (m) => m.deviceId === 'redeliver');
  const fb = once<FeedbackRecord>(hub, 'feedback', (f) => f.deviceId === 'redeliver');
  await c2.subscribeAsync({ 'devices/redeliver/messages/devicebound/#': { qos: 1 } });
  assert.equal((await again).deliveryCount, 2);
  assert.equal((await fb).statusCode, 'Success');
  assert.equal(hub.c2d.pending('redeliver').length, 0);
  await endClient(c2);
});

test('C2D queue: at most 50 per device; TTL expiry is fed back', async () => {
  for (let i = 0; i < 50; i++) await hub.sendC2D('queue', `m${i}`);
  await assert.rejects(hub.sendC2D('queue', 'one too many'), { status: 403 });
  assert.equal(hub.c2d.purge('queue'), 50);
  const fb = once<FeedbackRecord>(hub, 'feedback', (f) => f.originalMessageId === 'ttl-1');
  await hub.sendC2D('queue', 'short-lived', { messageId: 'ttl-1', ttlSeconds: 0.1 });
  await new Promise((r) => setTimeout(r, 150));
  hub.c2d.sweep();
  assert.equal((await fb).statusCode, 'Expired');
  await assert.rejects(hub.sendC2D('nobody', 'x'), { status: 404 });
});

test('twin over raw MQTT: GET 200, reported PATCH 204 with $version, bad JSON 400, desired PATCH with $version', async () => {
  const c = await connectRaw(hub, { deviceId: 'twin', key: keys['twin'] });
  await c.subscribeAsync(['$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#']);
  const next = () => new Promise<[string, string]>((resolve) => c.once('message', (t, p) => resolve([t, p.toString()])));
  let r = next();
  c.publish('$iothub/twin/GET/?$rid=1', '');
  assert.deepEqual(await r, ['$iothub/twin/res/200/?$rid=1', '{"desired":{"$version":1},"reported":{"$version":1}}']);
  r = next();
  c.publish('$iothub/twin/PATCH/properties/reported/?$rid=2', '{"a":{"b":1},"c":2}');
  assert.deepEqual(await r, ['$iothub/twin/res/204/?$rid=2&$version=2', '']);
  r = next();
  c.publish('$iothub/twin/PATCH/properties/reported/?$rid=3', '{"a":null}');
  assert.deepEqual(await r, ['$iothub/twin/res/204/?$rid=3&$version=3', '']);
  r = next();
  c.publish('$iothub/twin/PATCH/properties/reported/?$rid=4', 'not json');
  assert.equal((await r)[0], '$iothub/twin/res/400/?$rid=4');
  r = next();
  await hub.updateDesired('twin', { x: 1 });
  assert.deepEqual(await r, ['$iothub/twin/PATCH/properties/desired/?$version=2', '{"x":1,"$version":2}']);
  assert.deepEqual((await hub.getTwin('twin')).properties, { desired: { x: 1, $version: 2 }, reported: { c: 2, $version: 3 } });
  await endClient(c);
});

test('methods: 404 when not connected, 504 on timeout, status and payload of the device', async () => {
  await assert.rejects(hub.invokeMethod('meth', 'm', {}), { status: 404 });
  const c = await connectRaw(hub, { deviceId: 'meth', key: keys['meth'] });
  await assert.rejects(hub.invokeMethod('meth', 'm', {}), { status: 404 }); // not subscribed
  await c.subscribeAsync('$iothub/methods/POST/#');
  c.on('message', (topic, payload) => {
    const m = /^\$iothub\/methods\/POST\/([^/]+)\/\?\$rid=(.+)$/.exec(topic);
    if (!m || m[1] === 'silent') return;
    c.publish(`$iothub/methods/res/${m[1] === 'fail' ? 500 : 200}/?$rid=${m[2]}`, m[1] === 'empty' ? '' : JSON.stringify({ got: JSON.parse(payload.toString()) }));
  });
  assert.deepEqual(await hub.invokeMethod('meth', 'echo', { a: 1 }), { status: 200, payload: { got: { a: 1 } } });
  assert.deepEqual(await hub.invokeMethod('meth', 'fail', null), { status: 500, payload: { got: null } });
  assert.deepEqual(await hub.invokeMethod('meth', 'empty', 1), { status: 200, payload: null });
  await assert.rejects(hub.invokeMethod('meth', 'silent', {}, { responseTimeoutInSeconds: 0.2 }), { status: 504 });
  await endClient(c);
});

test('telemetry property bag: percent-decoding, raw $. keys, bare keys are null, system properties', async () => {
  const c = await connectRaw(hub, { deviceId: 'bag', key: keys['bag'] });
  const got = once<TelemetryMessage>(hub, 'telemetry', (m) => m.deviceId === 'bag');
  c.publish('devices/bag/messages/events/$.mid=m1&%24.cid=c%201&%24.ct=application%2Fjson&%24.ce=utf-8&%24.uid=u&%24.exp=2030&%24.ifid=i&flag&empty=&k%C3%BC=%E2%82%AC%20%26%3D%2F', '{}');
  const m = await got;
  assert.deepEqual(m.systemProperties, { messageId: 'm1', correlationId: 'c 1', contentType: 'application/json', contentEncoding: 'utf-8', userId: 'u', expiryTimeUtc: '2030', interfaceId: 'i' });
  assert.deepEqual(m.properties, { flag: null, empty: '', 'kü': '€ &=/' });
  assert.equal(m.qos, 0);
  await endClient(c);
});

test('dropConnection closes a device connection', async () => {
  const up = once<ConnectionEvent>(hub, 'connected', (e) => e.deviceId === 'b');
  const c = await connectRaw(hub, { deviceId: 'b', key: keys['b'] });
  await up;
  const bye = closed(c);
  assert.equal(await hub.dropConnection('b'), true);
  await bye;
  c.end(true);
  assert.equal(await hub.dropConnection('b'), false);
});
