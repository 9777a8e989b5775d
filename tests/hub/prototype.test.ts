// JSON member names and property names are data: `__proto__`, `constructor` and `prototype` sent through every entry
// point of the hub (MQTT reported patch, REST twin PATCH/PUT, LocalHub.updateDesired/updateTags, telemetry and C2D
// property bags) are stored and returned as ordinary members, and no login changes afterwards — in particular a
// self-signed certificate whose thumbprint was smuggled into Object.prototype does not log in as a SAS device.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import type { MqttClient } from 'mqtt';
import type { LocalHub } from '../../host/hub/index.js';
import type { JsonObject } from '../../host/hub/state/twin-store.js';
import { startHub, connectRaw, endClient, inSeconds, once, tempDir, removeDir, restCall, type RestAnswer } from './helpers.js';
import { policySas } from './amqp-client.js';

let hub: LocalHub;
let done: () => Promise<void>;
let forged: { cert: string; key: string; sha1: string };
let controlCert: { cert: string; key: string; sha1: string };
let added = 0;

async function certificate(cn: string): Promise<{ cert: string; key: string; sha1: string }> {
  const r = await generate([{ name: 'commonName', value: cn }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  return { cert: r.cert, key: r.private, sha1: new X509Certificate(r.cert).fingerprint.replace(/:/g, '') };
}

before(async () => {
  ({ hub, done } = await startHub({ restPort: 0, log: !!process.env['HUB_TEST_LOG'] }));
  forged = await certificate('attacker');
  controlCert = await certificate('x509-control');
  await hub.registry.addDevice('victim');
  await hub.registry.addDevice('x509-control', { x509: { primaryThumbprint: controlCert.sha1 } });
});
after(async () => { await done?.(); });

/** What an attacker sends: each dangerous name, the first one carrying a registry-shaped record. */
const hostile = (sha1: string) => `{"__proto__":{"x509Thumbprints":{"primary":"${sha1}"}},"constructor":{"prototype":{"x509Thumbprints":{"primary":"${sha1}"}}},"prototype":{"polluted":true}}`;

function tlsConnect(deviceId: string, cert: { cert: string; key: string }, password: string): Promise<MqttClient> {
  return connectRaw(hub, {
    deviceId, password, url: `mqtts://localhost:${hub.port}`,
    extra: { ca: hub.ca, cert: cert.cert, key: cert.key, rejectUnauthorized: true },
  });
}

/** The checks that would have caught the hole: run after every entry point. */
async function loginsIntact(): Promise<void> {
  assert.equal(({} as { x509Thumbprints?: unknown }).x509Thumbprints, undefined, 'Object.prototype gained x509Thumbprints');
  assert.equal(({} as { polluted?: unknown }).polluted, undefined, 'Object.prototype gained a member');
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).filter((n) => /x509|polluted/.test(n)), []);
  assert.equal(hub.registry.record('victim')!.x509Thumbprints, undefined);
  // the SAS device still logs in with its key
  const victim = await connectRaw(hub, { deviceId: 'victim', key: hub.registry.record('victim')!.primaryKey });
  await endClient(victim);
  // the certificate whose thumbprint was smuggled in does not log in as the SAS device …
  await assert.rejects(tlsConnect('victim', forged, 'not-a-sas-token'), /Bad username or password|Not authorized/);
  // … while a registered certificate does log in as its own device (the refusal above is not a TLS problem)
  await endClient(await tlsConnect('x509-control', controlCert, ''));
  // devices added afterwards connect with their keys
  const id = `later-${++added}`;
  const later = await hub.registry.addDevice(id);
  await endClient(await connectRaw(hub, { deviceId: id, key: later.primaryKey }));
}

function rest(method: string, path: string, body: string): Promise<RestAnswer> {
  const p = hub.policies.get('iothubowner')!;
  return restCall({ port: hub.restPort!, ca: hub.ca }, method, path, { body, auth: policySas(hub.hostName, p.primaryKey, 'iothubowner', inSeconds(600)) });
}

/** Each of the three names is an own data member of `o` with the value the attacker sent. */
function storedAsData(o: object, sha1: string): void {
  assert.equal(Object.getPrototypeOf(o), Object.prototype, 'the document kept its prototype');
  for (const n of ['__proto__', 'constructor', 'prototype']) assert.ok(Object.hasOwn(o, n), `${n} is an own member`);
  assert.deepEqual(JSON.parse(JSON.stringify(o)), JSON.parse(hostile(sha1)));
}

const V = 'api-version=2021-04-12';

test('a `__proto__` member in a reported patch over MQTT is stored as data and changes no other device\'s login', async () => {
  const dev = await hub.registry.addDevice('proto-mqtt');
  const device = await connectRaw(hub, { deviceId: 'proto-mqtt', key: dev.primaryKey });
  try {
    await device.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
    const answer = (rid: string) => new Promise<{ topic: string; body: string }>((resolve) => {
      const on = (topic: string, p: Buffer) => { if (topic.includes(`$rid=${rid}`)) { device.off('message', on); resolve({ topic, body: p.toString() }); } };
      device.on('message', on);
    });
    const patched = answer('1');
    await device.publishAsync('$iothub/twin/PATCH/properties/reported/?$rid=1', hostile(forged.sha1), { qos: 0 });
    assert.match((await patched).topic, /^\$iothub\/twin\/res\/204\//);
    await loginsIntact();
    const reported = (await hub.getTwin('proto-mqtt')).properties.reported;
    const { $version, ...rest } = reported;
    assert.equal($version, 2);
    storedAsData(rest, forged.sha1);
    // and the device reads it back as data
    const got = answer('2');
    await device.publishAsync('$iothub/twin/GET/?$rid=2', '', { qos: 0 });
    const doc = JSON.parse((await got).body) as { reported: Record<string, unknown> };
    assert.ok(Object.hasOwn(doc.reported, '__proto__'));
    // a null for the member deletes it like any other
    const removed = answer('3');
    await device.publishAsync('$iothub/twin/PATCH/properties/reported/?$rid=3', '{"__proto__":null}', { qos: 0 });
    assert.match((await removed).topic, /^\$iothub\/twin\/res\/204\//);
    assert.equal(Object.hasOwn((await hub.getTwin('proto-mqtt')).properties.reported, '__proto__'), false);
  } finally {
    await endClient(device);
  }
});

test('a `__proto__` member in REST twin PATCH (tags and desired) is stored as data and changes no login', async () => {
  await hub.registry.addDevice('proto-patch');
  const r = await rest('PATCH', `/twins/proto-patch?${V}`, `{"tags":${hostile(forged.sha1)},"properties":{"desired":${hostile(forged.sha1)}}}`);
  assert.equal(r.status, 200, r.text);
  await loginsIntact();
  const twin = await hub.getTwin('proto-patch');
  storedAsData(twin.tags, forged.sha1);
  const { $version, ...desired } = twin.properties.desired;
  assert.equal($version, 2);
  storedAsData(desired, forged.sha1);
  // the REST answer carries the members as text
  const back = JSON.parse(r.text) as { tags: object };
  assert.ok(Object.hasOwn(back.tags, '__proto__') && Object.hasOwn(back.tags, 'constructor'));
});

test('REST twin PUT stores `__proto__`/`constructor`/`prototype` as data and removes them when the next PUT omits them', async () => {
  await hub.registry.addDevice('proto-put');
  const put = await rest('PUT', `/twins/proto-put?${V}`, `{"tags":${hostile(forged.sha1)},"properties":{"desired":${hostile(forged.sha1)}}}`);
  assert.equal(put.status, 200, put.text);
  await loginsIntact();
  storedAsData((await hub.getTwin('proto-put')).tags, forged.sha1);
  // `k in to` saw Object.prototype's `constructor`, so a replacement never removed that member
  const replaced = await rest('PUT', `/twins/proto-put?${V}`, '{"tags":{"site":"lab"},"properties":{"desired":{}}}');
  assert.equal(replaced.status, 200, replaced.text);
  const twin = await hub.getTwin('proto-put');
  assert.deepEqual(twin.tags, { site: 'lab' });
  assert.deepEqual(twin.properties.desired, { $version: 3 });
});

test('LocalHub.updateDesired and updateTags take `__proto__` members as data and notify the device with them', async () => {
  const dev = await hub.registry.addDevice('proto-api');
  const device = await connectRaw(hub, { deviceId: 'proto-api', key: dev.primaryKey });
  try {
    await device.subscribeAsync('$iothub/twin/PATCH/properties/desired/#', { qos: 0 });
    const sent = new Promise<string>((resolve) => device.once('message', (_t, p) => resolve(p.toString())));
    const t1 = await hub.updateDesired('proto-api', JSON.parse(hostile(forged.sha1)) as JsonObject);
    const t2 = await hub.updateTags('proto-api', JSON.parse(hostile(forged.sha1)) as JsonObject);
    await loginsIntact();
    const { $version, ...desired } = t1.properties.desired;
    assert.equal($version, 2);
    storedAsData(desired, forged.sha1);
    const notified = JSON.parse(await sent) as Record<string, unknown>;
    assert.ok(Object.hasOwn(notified, '__proto__'));
    assert.deepEqual(notified['__proto__'], { x509Thumbprints: { primary: forged.sha1 } });
    storedAsData(t2.tags, forged.sha1);
  } finally {
    await endClient(device);
  }
});

test('telemetry property names `__proto__`, `constructor`, `prototype` arrive as properties and change no login', async () => {
  const dev = await hub.registry.addDevice('proto-d2c');
  const device = await connectRaw(hub, { deviceId: 'proto-d2c', key: dev.primaryKey });
  try {
    const got = once<{ deviceId: string; properties: Record<string, string | null>; systemProperties: Record<string, string> }>(hub, 'telemetry', (m) => m.deviceId === 'proto-d2c');
    await device.publishAsync('devices/proto-d2c/messages/events/__proto__=x&constructor=y&prototype=z&%24.__proto__=s&hasOwnProperty', 'hi', { qos: 1 });
    const m = await got;
    await loginsIntact();
    assert.equal(Object.getPrototypeOf(m.properties), Object.prototype);
    assert.deepEqual(Object.entries(m.properties), [['__proto__', 'x'], ['constructor', 'y'], ['prototype', 'z'], ['hasOwnProperty', null]]);
    assert.ok(Object.hasOwn(m.systemProperties, '__proto__'));
    assert.equal(m.systemProperties['__proto__'], 's');
  } finally {
    await endClient(device);
  }
});

test('C2D properties named `__proto__`, `constructor`, `prototype` reach the device as properties', async () => {
  const dev = await hub.registry.addDevice('proto-c2d');
  const device = await connectRaw(hub, { deviceId: 'proto-c2d', key: dev.primaryKey });
  try {
    await device.subscribeAsync('devices/proto-c2d/messages/devicebound/#', { qos: 1 });
    const got = new Promise<string>((resolve) => device.once('message', (topic) => resolve(topic)));
    const properties = JSON.parse('{"__proto__":"x","constructor":"y","prototype":"z"}') as Record<string, string>;
    await hub.sendC2D('proto-c2d', 'hello', { properties });
    const topic = await got;
    await loginsIntact();
    const bag = new URLSearchParams(topic.slice('devices/proto-c2d/messages/devicebound/'.length));
    assert.equal(bag.get('__proto__'), 'x');
    assert.equal(bag.get('constructor'), 'y');
    assert.equal(bag.get('prototype'), 'z');
  } finally {
    await endClient(device);
  }
});

test('a `__proto__` member survives a restart as data (twins.json) and the restarted hub\'s logins are unchanged', async () => {
  const dir = tempDir();
  try {
    const first = await startHub({ dataDir: dir });
    await first.hub.registry.addDevice('persist');
    const victim = await first.hub.registry.addDevice('persist-victim');
    await first.hub.updateTags('persist', JSON.parse(hostile(forged.sha1)) as JsonObject);
    await first.done();
    const second = await startHub({ dataDir: dir });
    try {
      storedAsData((await second.hub.getTwin('persist')).tags, forged.sha1);
      assert.equal(second.hub.registry.record('persist-victim')!.x509Thumbprints, undefined);
      await endClient(await connectRaw(second.hub, { deviceId: 'persist-victim', key: victim.primaryKey }));
    } finally {
      await second.done();
    }
  } finally {
    removeDir(dir);
  }
});
