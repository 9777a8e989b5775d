// The core's provisioning client (dps_*), driven in memory against mqtt-packet (the oracle for every byte in
// and out) with the answers the Device Provisioning Service documents. node:crypto checks the SAS tokens and
// the group-derived key. The end-to-end tests (tests/device/provisioning.test.ts) run it against the local DPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type mqttPacket from 'mqtt-packet';
import { ScriptedDps, ridOf, ID_SCOPE, REG_ID, KEY, type DpsEvent } from '../support/scripted-dps.js';
import { DPS_EVENT as EV, DPS_STATE, DPS_OPTION, DPS_OPTION_DEFAULT, STATUS, WANT, TRANSPORT } from '../../host/wasm/abi.generated.js';

type Pub = mqttPacket.IPublishPacket;
const builds = ['gateway', 'mcu-full'] as const; // the MCU profile's provisioning is in mcu-full.wasm

function started(d: ScriptedDps, key = KEY): ScriptedDps {
  assert.equal(d.with(key, (p, n) => d.ex.dps_symmetric_key_set(p, n)), STATUS.OK);
  return d;
}

/** Checks a SAS token the way the service does: sr, skn, se, and sig = HMAC-SHA256(key, urlenc(sr) "\n" se). */
function checkSas(password: string, key: Buffer, resource: string, expiry: number): void {
  const m = /^SharedAccessSignature sr=([^&]+)&sig=([^&]+)&se=(\d+)&skn=registration$/.exec(password);
  assert.ok(m, `token shape: ${password}`);
  assert.equal(decodeURIComponent(m[1]!), resource);
  assert.equal(Number(m[3]), expiry);
  const expected = createHmac('sha256', key).update(`${encodeURIComponent(resource)}\n${m[3]}`).digest('base64');
  assert.equal(decodeURIComponent(m[2]!), expected, 'signature');
}

function only(events: DpsEvent[], type: number): DpsEvent {
  const e = events.filter((x) => x.type === type);
  assert.equal(e.length, 1, `one event ${type} in ${JSON.stringify(events.map((x) => [x.type, x.status]))}`);
  return e[0]!;
}

const assigning = (op = '4.ab12cd.0001') => ({ operationId: op, status: 'assigning' });
const assigned = (op = '4.ab12cd.0001', payload?: unknown) => ({
  operationId: op, status: 'assigned',
  registrationState: {
    registrationId: REG_ID, createdDateTimeUtc: '2026-12-01T11:00:00.0000000Z', assignedHub: 'hub-a.azure-devices.net',
    deviceId: 'sensor-7-dev', status: 'assigned', substatus: 'initialAssignment', lastUpdatedDateTimeUtc: '2026-12-01T11:00:01Z',
    etag: 'IjEi', ...(payload !== undefined ? { payload } : {}),
  },
});

for (const build of builds) {
  test(`${build}: a registration is CONNECT (client id, username, SAS for {idScope}/registrations/{id}), SUBSCRIBE $dps/registrations/res/#, register with the payload, poll after retry-after, assigned`, () => {
    const d = started(new ScriptedDps(build));
    assert.equal(d.with('{"modelId":"dtmi:com:example:Thermostat;1"}', (p, n) => d.ex.dps_payload_set(p, n)), STATUS.OK);
    const [connect, subscribe, register] = d.connect() as [mqttPacket.IConnectPacket, mqttPacket.ISubscribePacket, Pub];
    assert.equal(connect.cmd, 'connect');
    assert.equal(connect.clientId, REG_ID);
    assert.equal(connect.username, `${ID_SCOPE}/registrations/${REG_ID}/api-version=2019-03-31`);
    assert.equal(connect.clean, true);
    checkSas(String(connect.password), Buffer.from(KEY, 'base64'), `${ID_SCOPE}/registrations/${REG_ID}`, d.unix + DPS_OPTION_DEFAULT.TOKEN_LIFETIME_S);
    assert.deepEqual(subscribe.subscriptions, [{ topic: '$dps/registrations/res/#', qos: 1 }]);
    assert.equal(register.cmd, 'publish');
    assert.match(register.topic, /^\$dps\/registrations\/PUT\/iotdps-register\/\?\$rid=\d+$/);
    assert.deepEqual(JSON.parse(String(register.payload)), { registrationId: REG_ID, payload: { modelId: 'dtmi:com:example:Thermostat;1' } });
    assert.equal(d.ex.dps_state(), DPS_STATE.REQUESTING);

    // 202 assigning, retry-after 3: nothing is sent for three seconds, then the operation is polled.
    const a = only(d.answer(202, ridOf(register), assigning(), '&retry-after=3'), EV.ASSIGNING);
    assert.equal(a.operation, '4.ab12cd.0001');
    assert.equal(a.retryAfterMs, 3000);
    assert.equal(a.serviceStatus, 202);
    assert.equal(d.ex.dps_next_timeout(), 3000);
    d.advance(2999);
    assert.deepEqual(d.sent(), [], 'not before retry-after');
    d.advance(1);
    const [poll] = d.sent() as [Pub];
    assert.equal(poll.topic, `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${ridOf(poll)}&operationId=4.ab12cd.0001`);
    assert.notEqual(ridOf(poll), ridOf(register), 'each request has its own $rid');

    const e = only(d.answer(200, ridOf(poll), assigned('4.ab12cd.0001', { modelId: 'dtmi:com:example:Thermostat;1', tier: 'gold' })), EV.ASSIGNED);
    assert.equal(e.status, STATUS.OK);
    assert.equal(e.hub, 'hub-a.azure-devices.net');
    assert.equal(e.device, 'sensor-7-dev');
    assert.deepEqual(JSON.parse(e.payload), { modelId: 'dtmi:com:example:Thermostat;1', tier: 'gold' });
    assert.equal(JSON.parse(e.body).registrationState.substatus, 'initialAssignment', 'the whole body is there for the host');
    // The registration is over: DISCONNECT, close, done; the assignment is readable from the event on.
    assert.equal(d.connectionString(), `HostName=hub-a.azure-devices.net;DeviceId=sensor-7-dev;SharedAccessKey=${KEY}`);
    assert.deepEqual(d.sent().map((p) => p.cmd), ['disconnect']);
    assert.equal(d.ex.dps_wants(), WANT.CLOSE);
    d.down();
    assert.equal(d.ex.dps_state(), DPS_STATE.DONE);
    assert.equal(d.ex.dps_result(), STATUS.OK);
    assert.equal(d.ex.dps_next_timeout(), -1);
    assert.equal(d.connectionString(), `HostName=hub-a.azure-devices.net;DeviceId=sensor-7-dev;SharedAccessKey=${KEY}`);
  });
}

test('the register body without a payload is {"registrationId":…}; a poll has an empty body', () => {
  const d = started(new ScriptedDps());
  const register = d.connect()[2] as Pub;
  assert.equal(String(register.payload), `{"registrationId":"${REG_ID}"}`);
  d.answer(202, ridOf(register), assigning());
  d.advance(DPS_OPTION_DEFAULT.RETRY_AFTER_DEFAULT_MS);
  const [poll] = d.sent() as [Pub];
  assert.equal(poll.payload.length, 0);
});

test('a group enrollment: the device key is HMAC-SHA256(groupKey, registrationId), for the SAS token and the hub connection string', () => {
  const groupKey = Buffer.alloc(64, 0x5a);
  const d = new ScriptedDps('mcu-full');
  assert.equal(d.with(groupKey.toString('base64'), (p, n) => d.ex.dps_group_key_set(p, n)), STATUS.OK);
  const derived = createHmac('sha256', groupKey).update(REG_ID).digest();
  const [connect, , register] = d.connect() as [mqttPacket.IConnectPacket, unknown, Pub];
  checkSas(String(connect.password), derived, `${ID_SCOPE}/registrations/${REG_ID}`, d.unix + 3600);
  only(d.answer(200, ridOf(register), assigned()), EV.ASSIGNED);
  d.down();
  assert.equal(d.connectionString(), `HostName=hub-a.azure-devices.net;DeviceId=sensor-7-dev;SharedAccessKey=${derived.toString('base64')}`);
});

test('X.509: CONNECT carries no password, and the hub connection string says x509=true', () => {
  const d = new ScriptedDps();
  assert.equal(d.ex.dps_x509_set(1), STATUS.OK);
  const [connect, , register] = d.connect() as [mqttPacket.IConnectPacket, unknown, Pub];
  assert.equal(connect.password, undefined);
  assert.equal(connect.username, `${ID_SCOPE}/registrations/${REG_ID}/api-version=2019-03-31`);
  d.answer(200, ridOf(register), assigned());
  d.down();
  assert.equal(d.connectionString(), 'HostName=hub-a.azure-devices.net;DeviceId=sensor-7-dev;x509=true');
});

test('answers arriving one byte at a time are read exactly as whole ones', () => {
  const d = started(new ScriptedDps('mcu-full'));
  const register = d.connect()[2] as Pub;
  const events = d.answer(200, ridOf(register), assigned('op-1', { a: [1, 2, { b: 'c' }] }), '', 1);
  const e = only(events, EV.ASSIGNED);
  assert.equal(e.device, 'sensor-7-dev');
  assert.deepEqual(JSON.parse(e.payload), { a: [1, 2, { b: 'c' }] });
});

test('refusals by name: 401 DPS_UNAUTHORIZED, 404 DPS_NOT_FOUND, other 4xx DPS_REFUSED, status failed DPS_FAILED, disabled DPS_DISABLED, each with the service\'s errorCode and message', () => {
  const cases: Array<[number, unknown, keyof typeof STATUS, number, string]> = [
    [401, { errorCode: 401002, trackingId: 't', message: 'Unauthorized', timestampUtc: 'x' }, 'DPS_UNAUTHORIZED', 401002, 'Unauthorized'],
    [404, { errorCode: 404201, message: 'Not found' }, 'DPS_NOT_FOUND', 404201, 'Not found'],
    [400, { errorCode: 400004, message: 'Bad request' }, 'DPS_REFUSED', 400004, 'Bad request'],
    [200, { operationId: 'o', status: 'failed', registrationState: { registrationId: REG_ID, status: 'failed', errorCode: 400207, errorMessage: 'Custom allocation failed' } }, 'DPS_FAILED', 400207, 'Custom allocation failed'],
    [200, { operationId: 'o', status: 'disabled', registrationState: { registrationId: REG_ID, status: 'disabled' } }, 'DPS_DISABLED', 0, ''],
  ];
  for (const [status, body, name, errorCode, message] of cases) {
    const d = started(new ScriptedDps());
    const register = d.connect()[2] as Pub;
    const e = only(d.answer(status, ridOf(register), body), EV.FAILED);
    assert.equal(e.status, STATUS[name], `${status} ${JSON.stringify(body)} → ${name}`);
    assert.equal(e.serviceStatus, status);
    assert.equal(e.errorCode, errorCode);
    assert.equal(e.message, message);
    d.down();
    assert.equal(d.ex.dps_result(), STATUS[name]);
    assert.equal(d.ex.dps_connection_string(d.io, 1024), STATUS.BAD_STATE, 'no assignment, no connection string');
  }
});

test('CONNACK 4 or 5 is DPS_UNAUTHORIZED (final, no reconnect); CONNACK 3 is retried after a back-off', () => {
  for (const rc of [4, 5]) {
    const d = started(new ScriptedDps());
    d.ex.dps_start(d.now);
    d.ex.dps_transport_up(d.now);
    d.sent();
    const e = only(d.feed({ cmd: 'connack', returnCode: rc, sessionPresent: false }), EV.FAILED);
    assert.equal(e.status, STATUS.DPS_UNAUTHORIZED);
    assert.equal(e.errorCode, rc);
    assert.deepEqual(d.sent(), [], 'no DISCONNECT after a refused CONNACK');
    d.down();
    assert.equal(d.ex.dps_state(), DPS_STATE.DONE);
  }
  const d = started(new ScriptedDps());
  d.ex.dps_option_set(DPS_OPTION.RETRY_JITTER_MS, 0);
  d.ex.dps_start(d.now);
  d.ex.dps_transport_up(d.now);
  d.sent();
  const r = only(d.feed({ cmd: 'connack', returnCode: 3, sessionPresent: false }), EV.RETRY);
  assert.equal(r.status, STATUS.DPS_SERVER_UNAVAILABLE);
  assert.equal(r.retryAfterMs, DPS_OPTION_DEFAULT.RETRY_MIN_MS);
  d.down();
  assert.equal(d.ex.dps_state(), DPS_STATE.BACKOFF);
  d.advance(DPS_OPTION_DEFAULT.RETRY_MIN_MS);
  assert.equal(d.ex.dps_wants(), WANT.OPEN);
});

test('a 429 is honoured: the same request goes again after retry-after (DPS_EV_RETRY), and DPS_THROTTLED ends it when the resends run out', () => {
  const d = started(new ScriptedDps());
  d.ex.dps_option_set(DPS_OPTION.RETRIES, 2);
  const register = d.connect()[2] as Pub;
  let rid = ridOf(register);
  for (let i = 0; i < 2; i++) {
    const r = only(d.answer(429, rid, { errorCode: 429001, message: 'Throttled' }, '&retry-after=7'), EV.RETRY);
    assert.equal(r.status, STATUS.DPS_THROTTLED);
    assert.equal(r.serviceStatus, 429);
    assert.equal(r.retryAfterMs, 7000);
    assert.equal(r.errorCode, 429001);
    d.advance(6999);
    assert.deepEqual(d.sent(), [], 'not before retry-after');
    d.advance(1);
    const [again] = d.sent() as [Pub];
    assert.match(again.topic, /iotdps-register/, 'no operation yet: the register request goes again');
    assert.deepEqual(JSON.parse(String(again.payload)), { registrationId: REG_ID });
    rid = ridOf(again);
  }
  const e = only(d.answer(429, rid, { errorCode: 429001, message: 'Throttled' }, '&retry-after=7'), EV.FAILED);
  assert.equal(e.status, STATUS.DPS_THROTTLED);
  assert.equal(e.message, 'Throttled');
});

test('retry-after: the default when the answer has none, the floor for 0, the cap for a huge one; 5xx is retried like 429', () => {
  const d = started(new ScriptedDps());
  const register = d.connect()[2] as Pub;
  assert.equal(only(d.answer(202, ridOf(register), assigning()), EV.ASSIGNING).retryAfterMs, DPS_OPTION_DEFAULT.RETRY_AFTER_DEFAULT_MS);
  d.advance(DPS_OPTION_DEFAULT.RETRY_AFTER_DEFAULT_MS);
  let [p] = d.sent() as [Pub];
  assert.equal(only(d.answer(202, ridOf(p), assigning(), '&retry-after=0'), EV.ASSIGNING).retryAfterMs, DPS_OPTION_DEFAULT.RETRY_AFTER_MIN_MS);
  d.advance(DPS_OPTION_DEFAULT.RETRY_AFTER_MIN_MS);
  [p] = d.sent() as [Pub];
  const r = only(d.answer(503, ridOf(p), '', '&retry-after=100000'), EV.RETRY);
  assert.equal(r.status, STATUS.DPS_SERVER_ERROR);
  assert.equal(r.retryAfterMs, DPS_OPTION_DEFAULT.RETRY_AFTER_MAX_MS);
  d.advance(DPS_OPTION_DEFAULT.RETRY_AFTER_MAX_MS);
  [p] = d.sent() as [Pub];
  assert.match(p.topic, /iotdps-get-operationstatus.*operationId=4\.ab12cd\.0001$/, 'the operation is polled again');
});

test('an answer to an older request, or on another topic, is ignored; an unanswered request is sent again after the request time-out', () => {
  const d = started(new ScriptedDps());
  d.ex.dps_option_set(DPS_OPTION.REQUEST_TIMEOUT_MS, 10_000);
  const register = d.connect()[2] as Pub;
  assert.deepEqual(d.answer(200, String(Number(ridOf(register)) + 50), assigned()), []);
  assert.deepEqual(d.feed({ cmd: 'publish', topic: 'devices/x/messages/devicebound/', payload: 'x', qos: 0, retain: false, dup: false }), []);
  assert.equal(d.ex.dps_state(), DPS_STATE.REQUESTING);
  const r = only(d.advance(10_000), EV.RETRY);
  assert.equal(r.status, STATUS.DPS_REQUEST_TIMEOUT);
  const [again] = d.sent() as [Pub];
  assert.match(again.topic, /iotdps-register/);
  assert.equal(only(d.answer(200, ridOf(again), assigned()), EV.ASSIGNED).device, 'sensor-7-dev');
});

test('a lost transport reconnects after the back-off and polls the operation already started instead of registering again', () => {
  const d = started(new ScriptedDps());
  d.ex.dps_option_set(DPS_OPTION.RETRY_JITTER_MS, 0);
  const register = d.connect()[2] as Pub;
  d.answer(202, ridOf(register), assigning('op-77'), '&retry-after=2');
  const r = only(d.down(), EV.RETRY);
  assert.equal(r.status, STATUS.DPS_TRANSPORT_CLOSED);
  assert.equal(d.ex.dps_state(), DPS_STATE.BACKOFF);
  d.advance(r.retryAfterMs);
  const packets = d.connect();
  const poll = packets[2] as Pub;
  assert.match(poll.topic, /iotdps-get-operationstatus\/\?\$rid=\d+&operationId=op-77$/);
});

test('the whole registration times out with DPS_TIMEOUT (naming the last cause) however the service keeps it waiting', () => {
  const d = started(new ScriptedDps());
  d.ex.dps_option_set(DPS_OPTION.REGISTRATION_TIMEOUT_MS, 20_000);
  let p = d.connect()[2] as Pub;
  let events: DpsEvent[] = [];
  for (let i = 0; i < 10 && d.ex.dps_state() !== DPS_STATE.CLOSING; i++) {
    d.answer(202, ridOf(p), assigning(), '&retry-after=3');
    events = d.advance(3000);
    const next = d.sent().find((x) => x.cmd === 'publish') as Pub | undefined;
    if (next) p = next;
  }
  const e = only(events, EV.FAILED);
  assert.equal(e.status, STATUS.DPS_TIMEOUT);
  assert.equal(d.ex.dps_wants(), WANT.CLOSE);
  d.down();
  assert.equal(d.ex.dps_result(), STATUS.DPS_TIMEOUT);
});

test('bad answers are DPS_BAD_ANSWER: not JSON, an assignment without a hub, an unknown status, an assigning answer without operationId', () => {
  for (const body of ['{"status":"assigned"', { operationId: 'o', status: 'assigned', registrationState: { deviceId: 'd' } }, { status: 'mystery' }, { status: 'assigning' }]) {
    const d = started(new ScriptedDps('mcu-full'));
    const register = d.connect()[2] as Pub;
    assert.equal(only(d.answer(200, ridOf(register), body), EV.FAILED).status, STATUS.DPS_BAD_ANSWER, JSON.stringify(body));
  }
});

test('calls refused by name: no credential DPS_NOT_CONFIGURED, no clock DPS_TIME_NOT_SET, a bad id IOTHUB_ID_*, a payload that is not JSON DPS_BAD_PAYLOAD, too large DPS_PAYLOAD_TOO_LARGE', () => {
  const d = new ScriptedDps('mcu-full');
  assert.equal(d.ex.dps_start(d.now), STATUS.DPS_NOT_CONFIGURED);
  const fresh = new ScriptedDps('mcu-full');
  const n = fresh.put(ID_SCOPE);
  fresh.ex.dps_init(fresh.io, n, fresh.io + n, fresh.put(REG_ID, fresh.io + n)); // clears the clock too
  fresh.with(KEY, (p, len) => fresh.ex.dps_symmetric_key_set(p, len));
  assert.equal(fresh.ex.dps_start(fresh.now), STATUS.DPS_TIME_NOT_SET);
  assert.equal(d.ex.dps_init(d.io, d.put('scope'), d.io + 5, d.put('a/b', d.io + 5)), STATUS.IOTHUB_ID_BAD_CHAR);
  assert.equal(d.ex.dps_init(d.io, d.put('scope'), d.io + 5, d.put('a+b', d.io + 5)), STATUS.IOTHUB_ID_NOT_TOPIC_SAFE);
  const ok = new ScriptedDps('mcu-full');
  for (const bad of ['{"modelId":', '{modelId:1}', "{'a':1}", '[1,]', '01', '"\\x"', 'nul', '{} {}']) {
    assert.equal(ok.with(bad, (p, len) => ok.ex.dps_payload_set(p, len)), STATUS.DPS_BAD_PAYLOAD, bad);
  }
  const cap = ok.ex.dps_payload_capacity();
  assert.equal(ok.with(`"${'x'.repeat(cap)}"`, (p, len) => ok.ex.dps_payload_set(p, len)), STATUS.DPS_PAYLOAD_TOO_LARGE);
  assert.equal(ok.with(KEY.slice(1), (p, len) => ok.ex.dps_symmetric_key_set(p, len)) < 0, true, 'a key that is not base64');
  assert.equal(ok.ex.dps_option_set(999, 1), STATUS.DPS_BAD_OPTION);
  assert.equal(ok.ex.dps_option_set(DPS_OPTION.RETRY_AFTER_MAX_MS, 500_000), STATUS.BAD_ARGUMENT);
});

test('the endpoint: global.azure-devices-provisioning.net:8883 by default; dps_host_set host:port names the local one', () => {
  const d = new ScriptedDps('mcu-full');
  const host = () => Buffer.from(d.mem.subarray(d.ex.dps_endpoint_ptr(), d.ex.dps_endpoint_ptr() + d.ex.dps_endpoint_len())).toString();
  assert.equal(host(), 'global.azure-devices-provisioning.net');
  assert.equal(d.ex.dps_endpoint_port(TRANSPORT.MQTTS), 8883);
  assert.equal(d.ex.dps_endpoint_port(TRANSPORT.WSS), 443);
  assert.equal(d.with('localhost:18884', (p, n) => d.ex.dps_host_set(p, n)), STATUS.OK);
  assert.equal(host(), 'localhost');
  assert.equal(d.ex.dps_endpoint_port(TRANSPORT.MQTTS), 18884);
});

test('dps_stop ends a registration with DPS_CLOSED; dps_start refuses while the device client holds the receive buffer (DPS_BUSY)', () => {
  const d = started(new ScriptedDps());
  d.connect();
  const e = only(d.poll().concat((() => { d.ex.dps_stop(d.now); return d.poll(); })()), EV.FAILED);
  assert.equal(e.status, STATUS.DPS_CLOSED);
  assert.deepEqual(d.sent().map((p) => p.cmd), ['disconnect']);
  d.down();
  assert.equal(d.ex.dps_result(), STATUS.DPS_CLOSED);

  const c = started(new ScriptedDps());
  const cs = 'HostName=h.example.net;DeviceId=d;SharedAccessKey=' + KEY;
  assert.equal(c.ex.client_init(c.io, c.put(cs)), STATUS.OK);
  c.ex.client_time_set(c.unix, c.now);
  c.ex.client_start(c.now);
  assert.equal(c.ex.dps_start(c.now), STATUS.DPS_BUSY);
});

test('the payload check agrees with JSON.parse on arbitrary JSON-like text (fast-check)', () => {
  const d = new ScriptedDps('gateway');
  const alphabet = fc.constantFrom(...'{}[]:,"\\ -+.0123456789eEtrufalsn\nxu/'.split(''));
  const texts = fc.oneof(fc.json(), fc.string({ unit: alphabet, maxLength: 40 }), fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))));
  fc.assert(fc.property(texts, (text) => {
    if (Buffer.byteLength(text) === 0 || Buffer.byteLength(text) > d.ex.dps_payload_capacity()) return;
    let valid = true;
    try { JSON.parse(text); } catch { valid = false; }
    const rc = d.with(text, (p, n) => d.ex.dps_payload_set(p, n));
    assert.equal(rc === STATUS.OK, valid, `${JSON.stringify(text)}: ${rc}`);
  }), { numRuns: 3000 });
});

test('arbitrary answer bodies and statuses never trap: every answer ends in a known event (fast-check)', () => {
  fc.assert(fc.property(fc.constantFrom(200, 202, 400, 401, 404, 429, 500), fc.oneof(fc.json(), fc.string({ maxLength: 200 })), (status, body) => {
    const d = started(new ScriptedDps('mcu-full'));
    const register = d.connect()[2] as Pub;
    const events = d.answer(status, ridOf(register), body, '&retry-after=1');
    assert.ok(events.length <= 1);
    for (const e of events) assert.ok(([EV.ASSIGNING, EV.RETRY, EV.ASSIGNED, EV.FAILED] as number[]).includes(e.type));
  }), { numRuns: 300 });
});
