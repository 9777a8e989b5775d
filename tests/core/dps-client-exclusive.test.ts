// The provisioning client and the device client share the core's receive buffer, so they take turns: client_start
// refuses with DPS_BUSY from dps_start until the registration is done (and dps_start refuses while the client is
// connected: tests/core/dps-protocol.test.ts). Driven in memory with mqtt-packet, as dps-protocol.test.ts does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { ScriptedDps, ridOf, KEY } from '../support/scripted-dps.js';
import { DPS_STATE, STATE, STATUS, WANT } from '../../host/wasm/abi.generated.js';

const CS = `HostName=hub-a.azure-devices.net;DeviceId=sensor-7-dev;SharedAccessKey=${KEY}`;

/** A provisioning client with a key, and a configured device client (not started) on the same core. */
function both(build: 'gateway' | 'mcu-full'): ScriptedDps {
  const d = new ScriptedDps(build);
  assert.equal(d.with(KEY, (p, n) => d.ex.dps_symmetric_key_set(p, n)), STATUS.OK);
  assert.equal(d.ex.client_init(d.io, d.put(CS)), STATUS.OK);
  d.ex.client_time_set(d.unix, d.now);
  return d;
}

/** client_start is refused by name and leaves the device client as it was: stopped, wanting no transport. */
function refusesClient(d: ScriptedDps, where: string): void {
  const before = d.ex.client_state();
  assert.equal(d.ex.client_start(d.now), STATUS.DPS_BUSY, `client_start while ${where}`);
  assert.equal(d.ex.client_state(), before, `the device client did not move while ${where}`);
  assert.equal(d.ex.client_wants(), WANT.NOTHING, `the device client wants no transport while ${where}`);
}

for (const build of ['gateway', 'mcu-full'] as const) {
  test(`${build}: client_start says DPS_BUSY from dps_start to the outcome (opening, connecting, requesting, waiting out retry-after, closing), then starts`, () => {
    const d = both(build);
    assert.equal(d.ex.dps_start(d.now), STATUS.OK);
    d.poll();
    assert.equal(d.ex.dps_state(), DPS_STATE.OPENING);
    refusesClient(d, 'the registration waits for its transport');

    d.ex.dps_transport_up(d.now);
    d.sent();
    assert.equal(d.ex.dps_state(), DPS_STATE.CONNECTING);
    refusesClient(d, 'CONNECT is unanswered');
    d.feed({ cmd: 'connack', returnCode: 0, sessionPresent: false });
    const sub = d.sent().find((p) => p.cmd === 'subscribe') as mqttPacket.ISubscribePacket;
    d.feed({ cmd: 'suback', messageId: sub.messageId, granted: [1] });
    const [register] = d.sent();
    assert.equal(d.ex.dps_state(), DPS_STATE.REQUESTING);
    refusesClient(d, 'the register request is unanswered');

    d.answer(202, ridOf(register!), { operationId: 'op-1', status: 'assigning' }, '&retry-after=2');
    assert.equal(d.ex.dps_state(), DPS_STATE.WAITING);
    refusesClient(d, 'waiting out retry-after');

    d.advance(2000);
    const [poll] = d.sent();
    d.answer(200, ridOf(poll!), {
      operationId: 'op-1', status: 'assigned',
      registrationState: { registrationId: 'sensor-7', assignedHub: 'hub-a.azure-devices.net', deviceId: 'sensor-7-dev', status: 'assigned' },
    });
    assert.equal(d.ex.dps_state(), DPS_STATE.CLOSING);
    refusesClient(d, 'the registration closes its transport');

    d.down();
    assert.equal(d.ex.dps_state(), DPS_STATE.DONE);
    assert.equal(d.ex.dps_result(), STATUS.OK);
    assert.equal(d.ex.client_start(d.now), STATUS.OK, 'the registration is over: the receive buffer is free');
    assert.equal(d.ex.client_state(), STATE.OPENING);
    assert.equal(d.ex.client_wants(), WANT.OPEN);
  });

  test(`${build}: client_start says DPS_BUSY while a registration backs off after a dropped transport; dps_stop or dps_init frees the buffer`, () => {
    const d = both(build);
    d.connect();
    d.down(); // the transport dropped mid-registration: the core backs off and will reconnect
    assert.equal(d.ex.dps_state(), DPS_STATE.BACKOFF);
    refusesClient(d, 'the registration backs off');
    d.ex.dps_stop(d.now);
    d.poll();
    assert.equal(d.ex.dps_state(), DPS_STATE.DONE);
    assert.equal(d.ex.dps_result(), STATUS.DPS_CLOSED);
    assert.equal(d.ex.client_start(d.now), STATUS.OK);
    d.ex.client_stop(d.now);

    const e = both(build);
    assert.equal(e.ex.dps_start(e.now), STATUS.OK);
    refusesClient(e, 'a registration is starting');
    const n = e.put('0ne00A1B2C3');
    assert.equal(e.ex.dps_init(e.io, n, e.io + n, e.put('sensor-7', e.io + n)), STATUS.OK); // a new registration: not started
    assert.equal(e.ex.dps_state(), DPS_STATE.IDLE);
    assert.equal(e.ex.client_init(e.io, e.put(CS)), STATUS.OK);
    e.ex.client_time_set(e.unix, e.now);
    assert.equal(e.ex.client_start(e.now), STATUS.OK);
    assert.equal(e.ex.client_wants(), WANT.OPEN);
  });
}
