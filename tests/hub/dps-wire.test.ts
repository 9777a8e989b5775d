// The local DPS on the wire, with mqtt.js and raw TLS: the exact topics and bodies a device core relies on, CONNECT
// refusals by code, and hostile peers (oversized or missing CONNECT, rule breaking, `__proto__` as data).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { EnrollmentStore, type LocalHub } from '../../host/hub/index.js';
import { startHub, inSeconds, restCall } from './helpers.js';
import { sdkRegister } from './dps-sdk.js';

const DEADLINE_MS = 400;
let hub: LocalHub;
let dir: string;
let done: () => Promise<void>;
const log: string[] = [];

before(async () => {
  ({ hub, dir, done } = await startHub({ plainPort: false, dpsPort: 0, dpsPlainPort: 0, restPort: 0, dpsRetryAfterSeconds: 0, connectTimeoutMs: DEADLINE_MS, log: (l) => { log.push(l); } }));
});

after(async () => { await done?.(); });

/** A DPS SAS token computed with node:crypto: resource `{idScope}/registrations/{id}`, skn=registration. */
function dpsSas(registrationId: string, key: string, expiry = inSeconds(3600), o: { skn?: string; resource?: string } = {}): string {
  const sr = encodeURIComponent(o.resource ?? `${hub.dps!.idScope}/registrations/${registrationId}`);
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=${o.skn ?? 'registration'}`;
}

function connectDps(registrationId: string, o: { password?: string; username?: string; clientId?: string; plain?: boolean } = {}): Promise<MqttClient> {
  const client = mqtt.connect(o.plain ? `mqtt://127.0.0.1:${hub.dps!.plainPort}` : `mqtts://localhost:${hub.dps!.port}`, {
    clientId: o.clientId ?? registrationId, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 5000, ca: hub.ca,
    username: o.username ?? `${hub.dps!.idScope}/registrations/${registrationId}/api-version=2019-03-31`,
    ...(o.password !== undefined ? { password: o.password } : {}),
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => { client.removeAllListeners('error'); client.on('error', () => {}); resolve(client); });
    client.once('error', (err) => { client.end(true); reject(err); });
  });
}

/** Publishes a request and resolves with the first answer on `$dps/registrations/res/…` for its $rid. */
function request(client: MqttClient, topic: string, body: string, rid: string): Promise<{ topic: string; body: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer) => {
      if (!t.startsWith('$dps/registrations/res/') || !t.includes(`$rid=${rid}`)) return;
      client.off('message', on);
      resolve({ topic: t, body: JSON.parse(payload.toString()) as Record<string, unknown> });
    };
    client.on('message', on);
    client.publish(topic, body, { qos: 1 });
  });
}

async function keyOf(registrationId: string, initialTwin?: unknown): Promise<string> {
  const e = await hub.dps!.addEnrollment(registrationId, initialTwin ? { initialTwin: initialTwin as never } : {});
  return e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
}

test('on the wire: register → 202 {operationId, status: assigning} with retry-after, poll → 200 with the registration state', async () => {
  const key = await keyOf('wire-dev');
  const c = await connectDps('wire-dev', { password: dpsSas('wire-dev', key) });
  try {
    await c.subscribeAsync('$dps/registrations/res/#', { qos: 1 });
    const reg = await request(c, '$dps/registrations/PUT/iotdps-register/?$rid=1', JSON.stringify({ registrationId: 'wire-dev', payload: { modelId: 'dtmi:x;1' } }), '1');
    assert.equal(reg.topic, '$dps/registrations/res/202/?$rid=1&retry-after=0');
    assert.equal(reg.body['status'], 'assigning');
    const op = reg.body['operationId'] as string;
    assert.match(op, /^4\.[0-9a-f]{16}\.[0-9a-f-]{36}$/);
    const st = await request(c, `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=${op}`, ' ', '2');
    // the assignment may still be running: then the answer is another 202
    let answer = st;
    for (let rid = 3; answer.topic.includes('/202/'); rid++) answer = await request(c, `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${rid}&operationId=${op}`, '', String(rid));
    assert.match(answer.topic, /^\$dps\/registrations\/res\/200\/\?\$rid=\d+$/);
    assert.equal(answer.body['operationId'], op);
    assert.equal(answer.body['status'], 'assigned');
    const s = answer.body['registrationState'] as Record<string, unknown>;
    assert.equal(s['registrationId'], 'wire-dev');
    assert.equal(s['assignedHub'], hub.assignedHub());
    assert.equal(s['deviceId'], 'wire-dev');
    assert.equal(s['status'], 'assigned');
    assert.equal(s['substatus'], 'initialAssignment');
    assert.deepEqual(s['payload'], { modelId: 'dtmi:x;1' });
    for (const k of ['createdDateTimeUtc', 'lastUpdatedDateTimeUtc']) assert.ok(!Number.isNaN(Date.parse(String(s[k]))), k);
    assert.equal(typeof s['etag'], 'string');
    // an operation of another registration, or none, is 404
    const missing = await request(c, '$dps/registrations/GET/iotdps-get-operationstatus/?$rid=9&operationId=4.nope', '', '9');
    assert.match(missing.topic, /^\$dps\/registrations\/res\/404\//);
    assert.equal(missing.body['errorCode'], 404104);
    // a body naming another registration is 400
    const other = await request(c, '$dps/registrations/PUT/iotdps-register/?$rid=10', JSON.stringify({ registrationId: 'someone-else' }), '10');
    assert.match(other.topic, /^\$dps\/registrations\/res\/400\//);
  } finally {
    await c.endAsync(true);
  }
});

test('the plain DPS port (dpsPlainPort) serves symmetric-key registrations the same way', async () => {
  const key = await keyOf('plain-dev');
  const c = await connectDps('plain-dev', { password: dpsSas('plain-dev', key), plain: true });
  try {
    await c.subscribeAsync('$dps/registrations/res/#', { qos: 0 });
    const reg = await request(c, '$dps/registrations/PUT/iotdps-register/?$rid=p1', '{"registrationId":"plain-dev"}', 'p1');
    assert.match(reg.topic, /^\$dps\/registrations\/res\/202\//);
  } finally {
    await c.endAsync(true);
  }
  // no certificate can be presented there: an X.509 registration is refused (CONNACK 4, no credential)
  await assert.rejects(connectDps('x509-anything', { plain: true }), (e: { code?: number }) => e.code === 4);
});

test('CONNECT refusals: wrong id scope or skn or resource, expired token (5); malformed username or no credential (4); client id ≠ username (4)', async () => {
  const key = await keyOf('refused-dev');
  const rc = async (p: Promise<MqttClient>): Promise<number | undefined> => {
    try { const c = await p; await c.endAsync(true); return 0; } catch (e) { return (e as { code?: number }).code; }
  };
  assert.equal(await rc(connectDps('refused-dev', { password: dpsSas('refused-dev', key) })), 0, 'the control connects');
  assert.equal(await rc(connectDps('refused-dev', { password: dpsSas('refused-dev', key), username: '0ne00000000/registrations/refused-dev/api-version=2019-03-31' })), 5);
  assert.equal(await rc(connectDps('refused-dev', { password: dpsSas('refused-dev', key, inSeconds(3600), { skn: 'device' }) })), 5);
  assert.equal(await rc(connectDps('refused-dev', { password: dpsSas('refused-dev', key, inSeconds(3600), { resource: `${hub.dps!.idScope}/registrations/other` }) })), 5);
  assert.equal(await rc(connectDps('refused-dev', { password: dpsSas('refused-dev', key, inSeconds(-10)) })), 5);
  assert.equal(await rc(connectDps('refused-dev', { password: dpsSas('refused-dev', key), username: `${hub.dps!.idScope}/refused-dev` })), 4);
  assert.equal(await rc(connectDps('refused-dev', {})), 4);
  assert.equal(await rc(connectDps('refused-dev', { password: dpsSas('refused-dev', key), clientId: 'another' })), 4);
  for (const l of log) assert.ok(!l.includes(key) && !/sig=/.test(l), 'no key or token in the log');
});

test('a registering device may subscribe only to $dps/registrations/res/#, and a publish elsewhere closes its connection', async () => {
  const key = await keyOf('rules-dev');
  const c = await connectDps('rules-dev', { password: dpsSas('rules-dev', key) });
  const granted = await c.subscribeAsync({ '$dps/registrations/res/#': { qos: 1 }, 'devices/rules-dev/messages/devicebound/#': { qos: 1 } }).catch((e: { packet?: { granted?: number[] } }) => e.packet?.granted);
  assert.deepEqual((granted as { qos: number }[] | number[]).map((g) => (typeof g === 'number' ? g : g.qos)), [1, 128]);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.publish('devices/rules-dev/messages/events/', 'hello', { qos: 0 });
  await closed;
  await c.endAsync(true);
  assert.ok(log.some((l) => /rules-dev broke a rule: .*is not a DPS request topic/.test(l)));
});

function rawTls(): Promise<{ s: TLSSocket; gone: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: 'localhost', port: hub.dps!.port, ca: hub.ca }, () => resolve({ s, gone }));
    const gone = new Promise<void>((r) => s.once('close', () => r()));
    s.on('error', () => {});
    s.once('error', reject);
  });
}

test('hostile: a packet announcing more than a CONNECT may hold, before CONNECT, closes the connection before its body is buffered', async () => {
  const { s, gone } = await rawTls();
  s.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f])); // a CONNECT of 256 MiB
  const junk = Buffer.alloc(64 * 1024, 0x41);
  for (let i = 0; i < 64 && !s.destroyed && s.writable; i++) s.write(junk);
  await gone;
  assert.ok(log.some((l) => /DPS mqtts\).*CONNECT bound/.test(l)), 'the log names the rule');
  assert.equal(hub.pendingConnections(), 0);
});

test('hostile: no CONNECT within the deadline from accept closes the connection; a first packet other than CONNECT closes it at once', async () => {
  const idle = await rawTls();
  const publishFirst = await rawTls();
  publishFirst.s.write(Buffer.from([0x30, 0x03, 0x00, 0x01, 0x61]));
  await publishFirst.gone;
  await idle.gone;
  assert.ok(log.some((l) => new RegExp(`DPS port: closed .*no CONNACK within ${DEADLINE_MS} ms of accept`).test(l)));
  assert.ok(log.some((l) => /DPS mqtts\).*first packet is of type 3, not CONNECT/.test(l)));
  assert.equal(hub.pendingConnections(), 0);
});

test('hostile: after CONNACK, a packet over the DPS request limit closes the connection before its body is buffered', async () => {
  const key = await keyOf('big-dev');
  const c = await connectDps('big-dev', { password: dpsSas('big-dev', key) });
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  const stream = (c as unknown as { stream: { write(b: Buffer): void } }).stream;
  stream.write(mqttPacket.generate({ cmd: 'publish', topic: '$dps/registrations/PUT/iotdps-register/?$rid=1', payload: Buffer.alloc(64 * 1024, 0x20), qos: 0, dup: false, retain: false }));
  await closed;
  await c.endAsync(true);
  assert.ok(log.some((l) => /over the \d+-byte packet limit/.test(l)));
});

test('hostile: a connection no enrollment knows lives no longer than the CONNECT deadline', async () => {
  const c = await connectDps('stranger', { password: dpsSas('stranger', Buffer.alloc(32, 1).toString('base64')) });
  await new Promise<void>((r) => c.once('close', () => r()));
  await c.endAsync(true);
  assert.ok(log.some((l) => /DPS stranger: unknown registration: closing/.test(l)));
});

const HOSTILE = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';

function assertPrototypeClean(): void {
  assert.equal(({} as { polluted?: unknown }).polluted, undefined, 'Object.prototype gained a member');
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).filter((n) => /polluted/.test(n)), []);
}

test('hostile: __proto__ in a registration payload is data, echoed back as a member', async () => {
  const key = await keyOf('proto-payload');
  const c = await connectDps('proto-payload', { password: dpsSas('proto-payload', key) });
  try {
    await c.subscribeAsync('$dps/registrations/res/#', { qos: 1 });
    const reg = await request(c, '$dps/registrations/PUT/iotdps-register/?$rid=1', `{"registrationId":"proto-payload","payload":${HOSTILE}}`, '1');
    let answer = reg;
    for (let rid = 2; !answer.topic.includes('/200/'); rid++) {
      answer = await request(c, `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${rid}&operationId=${reg.body['operationId'] as string}`, '', String(rid));
    }
    const payload = (answer.body['registrationState'] as { payload: object }).payload;
    assert.ok(Object.hasOwn(payload, '__proto__'), 'the payload kept __proto__ as a member');
    assert.equal(Object.getPrototypeOf(payload), Object.prototype);
  } finally {
    await c.endAsync(true);
  }
  assertPrototypeClean();
});

test('hostile: __proto__ in an initialTwin (service API and the file) is data: it becomes twin members, never a prototype', async () => {
  const token = (() => {
    const p = hub.dps!.identity.policy()!;
    const sr = 'localhost', se = inSeconds(3600);
    const sig = createHmac('sha256', Buffer.from(p.primaryKey, 'base64')).update(`${sr}\n${se}`).digest('base64');
    return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${p.keyName}`;
  })();
  const key = Buffer.alloc(32, 8).toString('base64');
  const body = `{"registrationId":"proto-twin","attestation":{"type":"symmetricKey","symmetricKey":{"primaryKey":"${key}","secondaryKey":"${key}"}},` +
    `"initialTwin":{"tags":${HOSTILE},"properties":{"desired":{"__proto__":{"x":1}}}},"__proto__":{"provisioningStatus":"disabled"}}`;
  const r = await restCall({ port: hub.restPort!, ca: hub.ca }, 'PUT', '/enrollments/proto-twin?api-version=2021-10-01', { auth: token, body });
  assert.equal(r.status, 200, r.text);
  assert.equal(hub.dps!.getEnrollment('proto-twin')?.provisioningStatus, 'enabled', 'a top-level __proto__ is no field');
  // the file keeps it as data, and a fresh reader reads it as data
  assert.ok(readFileSync(join(dir, 'dps-enrollments.json'), 'utf8').includes('"__proto__"'));
  const reread = new EnrollmentStore(dir).getEnrollment('proto-twin')!;
  assert.ok(Object.hasOwn(reread.initialTwin!.tags!, '__proto__'));
  const reg = await sdkRegister(hub, 'proto-twin', { symmetricKey: key });
  const twin = await hub.getTwin(reg.deviceId);
  assert.ok(Object.hasOwn(twin.tags, '__proto__'), 'tags.__proto__ is a member');
  assert.ok(Object.hasOwn(twin.properties.desired, '__proto__'), 'desired.__proto__ is a member');
  assert.equal(Object.getPrototypeOf(twin.tags), Object.prototype);
  assertPrototypeClean();
});
