// Protocol corners of the device client that a well-behaved hub rarely shows, each where Microsoft's Node SDK
// falls short (docs/ARCHITECTURE.md), driven with a scripted peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedCore } from '../support/scripted-core.js';
import { EVENT as EV, OPTION, STATUS, TRANSPORT, WANT } from '../../host/wasm/abi.generated.js';

const statusName = (c: ScriptedCore, code: number) => {
  const p = c.ex.abi_status_name(code);
  const len = new DataView(c.ex.memory.buffer).getUint32(p - 4, true);
  return Buffer.from(c.mem.subarray(p, p + len)).toString('utf16le');
};

test('the core resends a twin request answered 429 or 5xx after its back-off (EV_TWIN_RETRY), OPT_TWIN_RETRIES times, then reports the answer', () => {
  const c = new ScriptedCore();
  c.ex.client_option_set(OPTION.TWIN_RETRIES, 2);
  c.ex.client_option_set(OPTION.RETRY_MIN_MS, 100);
  c.ex.client_option_set(OPTION.RETRY_JITTER_MS, 0);
  c.connect();
  const rid = c.ex.client_twin_patch(c.io, c.put('{"a":1}'), c.now);
  const first = c.sent().filter((p) => p.cmd === 'publish');
  assert.equal(first.length, 1);
  const answer = (status: number) => c.feed({ cmd: 'publish', topic: `$iothub/twin/res/${status}/?$rid=${rid}&$version=4`, payload: '' });
  answer(429);
  const retry = c.poll().find((e) => e.type === EV.TWIN_RETRY)!;
  assert.deepEqual([retry.token, retry.status, retry.extra], [rid, 429, 100], 'resent in min·2^0 ms');
  assert.equal(c.ex.client_twin_error(retry.status), STATUS.CLIENT_TWIN_THROTTLED);
  assert.deepEqual(c.sent(), [], 'nothing before the delay');
  assert.equal(c.ex.client_next_timeout(), 100, 'the resend is a deadline');
  c.now += 100;
  c.poll();
  const again = c.sent().filter((p) => p.cmd === 'publish');
  assert.deepEqual(again.map((p) => [p.topic, String(p.payload)]), first.map((p) => [p.topic, String(p.payload)]), 'the same request, same $rid and body');
  answer(503);
  assert.equal(c.poll().find((e) => e.type === EV.TWIN_RETRY)!.extra, 200, 'min·2^1 ms');
  c.now += 200;
  c.poll();
  assert.equal(c.sent().filter((p) => p.cmd === 'publish').length, 1);
  answer(503); // the retries are spent: the hub's answer is final
  const final = c.poll().find((e) => e.type === EV.TWIN_RESPONSE)!;
  assert.deepEqual([final.token, final.status], [rid, 503]);
  assert.equal(c.ex.client_twin_error(final.status), STATUS.CLIENT_TWIN_SERVER_ERROR);
  assert.equal(c.ex.client_twin_error(404), STATUS.CLIENT_TWIN_REFUSED);
  assert.equal(c.ex.client_twin_error(204), STATUS.OK);
});

test('a refused subscription (SUBACK 0x80) is an error, not a success', () => {
  const c = new ScriptedCore();
  const { events } = c.connect(false, [1, 0x80, 0, 0]);
  const err = events.find((e) => e.type === EV.ERROR);
  assert.ok(err, 'an error event');
  assert.equal(statusName(c, err.status), 'CLIENT_SUBSCRIBE_REFUSED');
  assert.equal(err.extra, 0b10, 'says which subscription: the second (methods)');
});

test('subscriptions are renewed when the hub lost the session, and not when it kept it', () => {
  const c = new ScriptedCore();
  assert.equal(c.connect(false).subscribed, true);
  c.drop();
  c.now += 100_000;
  c.poll();
  assert.equal(c.connect(true).subscribed, false, 'session present: nothing to renew');
  c.drop();
  c.now += 100_000;
  c.poll();
  assert.equal(c.connect(false).subscribed, true, 'session lost: subscribe again');
});

test('desired patches are applied in $version order; older or repeated ones are not reported', () => {
  const c = new ScriptedCore();
  c.connect();
  for (const v of [3, 2, 3, 5, 4, 6]) c.feed({ cmd: 'publish', topic: `$iothub/twin/PATCH/properties/desired/?$version=${v}`, payload: `{"v":${v}}` });
  const versions = c.poll().filter((e) => e.type === EV.DESIRED).map((e) => e.version);
  assert.deepEqual(versions, [3, 5, 6]);
});

test('twin answers: status codes are reported, unknown request ids are ignored, silence times out', () => {
  const c = new ScriptedCore();
  c.ex.client_option_set(OPTION.TWIN_RETRIES, 0); // a 429 is final here (resends are the next test's)
  c.connect();
  const rid = c.ex.client_twin_get(c.now);
  const topic = c.sent().find((p) => p.cmd === 'publish')!.topic;
  assert.equal(topic, `$iothub/twin/GET/?$rid=${rid}`);
  c.feed({ cmd: 'publish', topic: '$iothub/twin/res/200/?$rid=999', payload: '{}' });
  assert.deepEqual(c.poll().filter((e) => e.type === EV.TWIN_RESPONSE), []);
  c.feed({ cmd: 'publish', topic: `$iothub/twin/res/429/?$rid=${rid}`, payload: '' });
  const answer = c.poll().find((e) => e.type === EV.TWIN_RESPONSE)!;
  assert.equal(answer.status, 429);
  const late = c.ex.client_twin_get(c.now);
  c.sent();
  c.now += 31_000; // default time-out 30 s
  const timedOut = c.poll().find((e) => e.type === EV.TWIN_RESPONSE)!;
  assert.equal(timedOut.token, late);
  assert.equal(statusName(c, timedOut.status), 'CLIENT_TIMEOUT');
});

test('bad credentials stop the client; "server unavailable" is retried with growing delays', () => {
  const c = new ScriptedCore();
  c.ex.client_start(c.now);
  c.ex.client_transport_up(c.now);
  c.sent();
  c.feed({ cmd: 'connack', returnCode: 5 });
  const stop = c.poll().find((e) => e.type === EV.DISCONNECTED)!;
  assert.equal(statusName(c, stop.status), 'CLIENT_CONNACK_NOT_AUTHORIZED');
  assert.equal(stop.extra, -1, 'no retry');
  assert.equal(c.ex.client_wants(), WANT.CLOSE, 'asks to close');
  c.ex.client_transport_down(c.now);
  c.now += 1_000_000;
  c.poll();
  assert.equal(c.ex.client_wants(), WANT.NOTHING, 'and never asks to open again');

  const u = new ScriptedCore();
  u.ex.client_option_set(OPTION.RETRY_JITTER_MS, 0); // no jitter: delays are exactly min·2^attempt
  u.ex.client_start(u.now);
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    u.ex.client_transport_up(u.now);
    u.sent();
    u.feed({ cmd: 'connack', returnCode: 3 });
    const d = u.poll().find((e) => e.type === EV.DISCONNECTED)!;
    assert.equal(statusName(u, d.status), 'CLIENT_CONNACK_SERVER_UNAVAILABLE');
    delays.push(d.extra);
    u.ex.client_transport_down(u.now);
    u.now += d.extra;
    u.poll();
    assert.equal(u.ex.client_wants(), WANT.OPEN, 'reopens after the delay');
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000]);
});

test('a connect-then-drop loop backs off too (the Node SDK reconnects ~650 times a second)', () => {
  const c = new ScriptedCore();
  c.ex.client_option_set(OPTION.RETRY_JITTER_MS, 0);
  c.connect();
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const d = c.drop().find((e) => e.type === EV.DISCONNECTED)!;
    delays.push(d.extra);
    c.now += d.extra;
    c.poll();
    c.connect(true);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000]);
});

test('QoS 1 telemetry in flight when the connection drops is sent again with DUP, then acknowledged once', () => {
  const c = new ScriptedCore();
  c.connect();
  const token = c.ex.client_telemetry_send(c.io, c.put('hello'), 1);
  const first = c.sent().find((p) => p.cmd === 'publish')!;
  assert.equal(first.dup, false);
  c.drop();
  c.now += 2000;
  c.poll();
  const again = c.connect(true).packets.find((p) => p.cmd === 'publish');
  assert.ok(again, 'resent after reconnecting');
  assert.equal(again.dup, true);
  assert.equal(again.messageId, first.messageId);
  c.feed({ cmd: 'puback', messageId: again.messageId! });
  assert.deepEqual(c.poll().filter((e) => e.type === EV.TELEMETRY_ACKED).map((e) => e.token), [token]);
});

test('a C2D message addressed to another identity is reported (CLIENT_FOREIGN_TOPIC), never delivered', () => {
  const EV_C2D = 5;
  const c = new ScriptedCore();
  c.connect();
  c.feed({ cmd: 'publish', topic: 'devices/dev-2/messages/devicebound/%24.mid=x', payload: 'not yours', qos: 1, messageId: 7 });
  c.feed({ cmd: 'publish', topic: 'devices/dev-10/messages/devicebound/', payload: 'a longer id', qos: 0 });
  c.feed({ cmd: 'publish', topic: 'devices/dev-/messages/devicebound/', payload: 'a shorter id', qos: 0 });
  const events = c.poll();
  assert.equal(events.filter((e) => e.type === EV_C2D).length, 0, 'nothing delivered');
  const errors = events.filter((e) => e.type === EV.ERROR);
  assert.equal(errors.length, 3);
  for (const e of errors) assert.equal(statusName(c, e.status), 'CLIENT_FOREIGN_TOPIC');
  assert.ok(c.sent().some((p) => p.cmd === 'puback' && p.messageId === 7), 'acknowledged, so the hub does not redeliver it forever');
  c.feed({ cmd: 'publish', topic: 'devices/dev-1/messages/devicebound/', payload: 'mine', qos: 0 });
  assert.equal(c.poll().filter((e) => e.type === EV_C2D).length, 1, 'its own C2D still arrives');
});

test('a module gets no C2D over MQTT: one addressed to its device is reported, not delivered', () => {
  const EV_C2D = 5;
  const c = new ScriptedCore('gateway', 'HostName=hub.example.net;DeviceId=dev-1;ModuleId=m;SharedAccessKey=' + Buffer.alloc(32, 9).toString('base64'));
  c.connect();
  c.feed({ cmd: 'publish', topic: 'devices/dev-1/messages/devicebound/', payload: 'for the device', qos: 0 });
  const events = c.poll();
  assert.equal(events.filter((e) => e.type === EV_C2D).length, 0);
  assert.equal(statusName(c, events.find((e) => e.type === EV.ERROR)!.status), 'CLIENT_FOREIGN_TOPIC');
});

test('the endpoint comes from the core: GatewayHostName\'s host and port, else HostName and the transport\'s default port', () => {
  const c = new ScriptedCore();
  const endpoint = () => [Buffer.from(c.mem.subarray(c.ex.client_endpoint_ptr(), c.ex.client_endpoint_ptr() + c.ex.client_endpoint_len())).toString(),
    c.ex.client_endpoint_port(TRANSPORT.MQTTS), c.ex.client_endpoint_port(TRANSPORT.WSS), c.ex.client_endpoint_port(TRANSPORT.MQTT)];
  assert.deepEqual(endpoint(), ['hub.example.net', 8883, 443, 1883]);
  c.ex.client_gateway_set(c.io, c.put('edge.local:9000'));
  assert.deepEqual(endpoint(), ['edge.local', 9000, 9000, 9000]);
  c.ex.client_gateway_set(c.io, c.put('edge.local'));
  assert.deepEqual(endpoint(), ['edge.local', 8883, 443, 1883]);
  assert.equal(c.ex.client_endpoint_port(7), STATUS.BAD_ARGUMENT);
});

test('a planned token renewal waits for a twin answer on its way (until 90 % of the validity), then renews', () => {
  const c = new ScriptedCore();
  c.ex.client_option_set(OPTION.TOKEN_LIFETIME_S, 100); // renewal due at 80 s, at the latest at 90 s
  c.ex.client_option_set(OPTION.REQUEST_TIMEOUT_MS, 200_000);
  c.connect();
  const renewals = (events: { type: number; status: number }[]) =>
    events.filter((e) => e.type === EV.DISCONNECTED && statusName(c, e.status) === 'CLIENT_TOKEN_RENEWAL').length;

  const rid = c.ex.client_twin_get(c.now);
  c.sent();
  c.now += 85_000;
  assert.equal(renewals(c.poll()), 0, 'an answer is on its way over this connection: the renewal waits');
  c.feed({ cmd: 'publish', topic: `$iothub/twin/res/200/?$rid=${rid}`, payload: '{"desired":{},"reported":{}}' });
  const after = c.poll();
  assert.equal(after.find((e) => e.type === EV.TWIN_RESPONSE)?.status, 200, 'the request is answered, not failed');
  assert.equal(renewals(after.concat(c.poll())), 1, 'then the renewal comes at once');

  c.sent();
  c.drop(); // the board closes the transport the renewal asked it to close
  c.connect(true);
  const late = c.ex.client_twin_get(c.now);
  c.sent();
  c.now += 91_000;
  const events = c.poll();
  assert.equal(renewals(events), 1, 'past 90 % it does not wait any longer');
  const failed = events.find((e) => e.type === EV.TWIN_RESPONSE && e.token === late);
  assert.equal(statusName(c, failed!.status), 'CLIENT_DISCONNECTED');
});

test('a connection that lasted stableMs resets the back-off, found when it ends (no timer of its own wakes the device for it)', () => {
  const c = new ScriptedCore();
  c.ex.client_option_set(OPTION.RETRY_MIN_MS, 100);
  c.ex.client_option_set(OPTION.RETRY_MAX_MS, 100_000);
  c.ex.client_option_set(OPTION.RETRY_JITTER_MS, 0);
  c.ex.client_option_set(OPTION.STABLE_MS, 5_000);
  c.ex.client_option_set(OPTION.KEEPALIVE_S, 60);
  const retryDelay = () => c.drop().find((e) => e.type === EV.DISCONNECTED)!.extra;
  const reconnect = (delay: number) => { c.now += delay; c.poll(); c.connect(); };
  c.connect();
  assert.equal(c.ex.client_next_timeout(), 60_000, 'the next deadline is the keep-alive, not the stable mark');
  const short: number[] = [];
  for (let i = 0; i < 3; i++) { c.now += 1_000; const d = retryDelay(); short.push(d); reconnect(d); }
  assert.deepEqual(short, [100, 200, 400], 'short connections: the back-off grows');
  c.now += 6_000; // stable, and no poll in between
  assert.equal(retryDelay(), 100, 'after a stable connection the back-off starts over');
});
