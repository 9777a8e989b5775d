// Zero allocation for the provisioning client: 10,000 whole registrations (CONNECT, SUBSCRIBE, register,
// 202 assigning, a 429 honoured, polls, assigned, the hub connection string, DISCONNECT, close) on one instance
// leave the memory size, the heap base, the stack pointer and every byte above the static data untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { ScriptedDps, ridOf, KEY, REG_ID } from '../support/scripted-dps.js';
import { DPS_EVENT as EV, DPS_OPTION, STATUS } from '../../host/wasm/abi.generated.js';

for (const build of ['mcu-full', 'gateway'] as const) { // the MCU profile with provisioning, and the gateway build
  test(`${build}: 10,000 registrations with polls, a 429 and a group key leave memory outside the static data untouched`, () => {
    const d = new ScriptedDps(build);
    const { ex, mem } = d;
    const heapBase = ex.abi_heap_base();
    const stackPointer = ex.sp.value as number;
    const size = ex.memory.buffer.byteLength;
    const canary = (i: number) => (i * 151 + 3) & 0xff;
    for (let i = heapBase; i < size; i++) mem[i] = canary(i);
    const group = Buffer.alloc(64, 3).toString('base64');
    let assigned = 0;
    for (let i = 0; i < 10_000; i++) {
      if (i % 2 === 0) d.with(KEY, (p, n) => ex.dps_symmetric_key_set(p, n));
      else d.with(group, (p, n) => ex.dps_group_key_set(p, n));
      d.with('{"modelId":"dtmi:example:x;1"}', (p, n) => ex.dps_payload_set(p, n));
      ex.dps_option_set(DPS_OPTION.RETRY_AFTER_MIN_MS, 0);
      const register = d.connect()[2] as mqttPacket.IPublishPacket;
      d.answer(429, ridOf(register), '{"errorCode":429001,"message":"slow down"}', '&retry-after=1');
      d.advance(1000);
      const again = d.sent()[0] as mqttPacket.IPublishPacket;
      d.answer(202, ridOf(again), `{"operationId":"op-${i}","status":"assigning"}`, '&retry-after=1');
      d.advance(1000);
      const poll = d.sent()[0] as mqttPacket.IPublishPacket;
      const events = d.answer(200, ridOf(poll), {
        operationId: `op-${i}`, status: 'assigned',
        registrationState: { registrationId: REG_ID, assignedHub: 'hub.example.net', deviceId: `dev-${i}`, status: 'assigned', payload: { n: i } },
      });
      if (events.some((e) => e.type === EV.ASSIGNED)) assigned++;
      d.sent();
      d.down();
      assert.ok(d.connectionString().startsWith('HostName=hub.example.net;DeviceId=dev-'));
      d.now += 17;
    }
    assert.equal(assigned, 10_000);
    assert.equal(ex.dps_result(), STATUS.OK);
    assert.equal(ex.memory.buffer.byteLength, size, 'memory never grew');
    assert.equal(ex.abi_heap_base(), heapBase);
    assert.equal(ex.sp.value, stackPointer, 'stack pointer back where it started');
    let touched = -1;
    for (let i = heapBase; i < size; i++) if (mem[i] !== canary(i)) { touched = i; break; }
    assert.equal(touched, -1, `memory above the static data was written at ${touched}`);
  });
}
