// A snapshot is ClientState copied whole plus the live buffers, behind a header carrying a hash of the struct's
// layout. These tests take a device through every state of its machine, and in each one save it, wipe the
// instance, restore it and check that it is the same device (state, timers, what it wants, its next snapshot)
// and that it goes on from there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedCore } from '../support/scripted-core.js';
import { EVENT as EV, STATE, STATUS, WANT } from '../../host/wasm/abi.generated.js';

/** Save, wipe (client_reset), restore; asserts the device came back exactly. Returns the snapshot. */
function roundTrip(c: ScriptedCore): Uint8Array {
  const { ex, mem } = c;
  const before = { state: ex.client_state(), wants: ex.client_wants(), timeout: ex.client_next_timeout(), tx: ex.client_tx_len() };
  const n = ex.client_snapshot_save();
  assert.ok(n > 0, `saved (${n})`);
  const ptr = ex.client_snapshot_ptr();
  const snap = mem.slice(ptr, ptr + n);
  ex.client_reset();
  assert.equal(ex.client_state(), STATE.IDLE, 'wiped');
  mem.fill(0, ptr, ptr + n);
  mem.set(snap, ptr);
  assert.equal(ex.client_snapshot_restore(n), STATUS.OK);
  assert.deepEqual({ state: ex.client_state(), wants: ex.client_wants(), timeout: ex.client_next_timeout(), tx: ex.client_tx_len() }, before);
  const again = ex.client_snapshot_save();
  assert.deepEqual(mem.slice(ptr, ptr + again), snap, 'the restored device saves to the same bytes');
  return snap;
}

test('snapshot/restore round-trips a device through every state of the machine, and it carries on from each', () => {
  const c = new ScriptedCore('gateway');
  const { ex, io } = c;
  const seen = new Set<number>();
  const at = (state: number) => { assert.equal(ex.client_state(), state); roundTrip(c); seen.add(state); };

  at(STATE.IDLE);
  ex.client_start(c.now);
  assert.equal(ex.client_wants(), WANT.OPEN);
  at(STATE.OPENING);
  ex.client_transport_up(c.now);
  at(STATE.CONNECTING); // CONNECT waits in tx across the round trip
  assert.equal(c.sent()[0]?.cmd, 'connect');
  c.feed({ cmd: 'connack', returnCode: 0, sessionPresent: false });
  c.poll();
  at(STATE.SUBSCRIBING);
  const sub = c.sent().find((p) => p.cmd === 'subscribe') as { messageId: number };
  c.feed({ cmd: 'suback', messageId: sub.messageId, granted: [1, 0, 0, 0] });
  assert.ok(c.poll().length > 0, 'connected');
  // Something in every buffer: queued telemetry, a twin request awaiting its answer, bytes not yet written.
  ex.client_telemetry_begin();
  const token = ex.client_telemetry_send(io, c.put('{"t":1}'), 1);
  assert.ok(token > 0);
  assert.ok(ex.client_twin_get(c.now) > 0);
  at(STATE.READY);
  const out = c.sent();
  const publish = out.find((p) => p.cmd === 'publish' && p.qos === 1) as { messageId: number };
  c.feed({ cmd: 'puback', messageId: publish.messageId });
  assert.ok(c.poll().some((e) => e.token === token), 'the restored device still knows its telemetry');

  c.now += 10;
  ex.client_transport_down(c.now); // the peer went away: back-off
  c.poll();
  at(STATE.BACKOFF);
  c.now += 200_000;
  c.poll();
  assert.equal(ex.client_state(), STATE.OPENING, 'the back-off timer survived the round trip');
  c.connect();
  assert.equal(ex.client_state(), STATE.READY);

  ex.client_stop(c.now);
  at(STATE.CLOSING);
  assert.equal(ex.client_wants(), WANT.CLOSE);
  ex.client_transport_down(c.now);
  c.poll();
  at(STATE.STOPPED);

  assert.deepEqual([...seen].sort(), Object.values(STATE).sort(), 'every state');
});

test('a snapshot whose ClientState layout hash differs is refused (CLIENT_BAD_SNAPSHOT) and the client is reset', () => {
  const c = new ScriptedCore('gateway');
  const { ex, mem } = c;
  ex.client_start(c.now);
  const n = ex.client_snapshot_save();
  const ptr = ex.client_snapshot_ptr();
  mem[ptr + 4] ^= 0x01; // the header's second word is the layout hash
  assert.equal(ex.client_snapshot_restore(n), STATUS.CLIENT_BAD_SNAPSHOT);
  assert.equal(ex.client_state(), STATE.IDLE);
  mem[ptr + 4] ^= 0x01;
  assert.equal(ex.client_snapshot_restore(n), STATUS.OK, 'the same bytes with the right hash restore');
  assert.equal(ex.client_state(), STATE.OPENING);
});

test('a snapshot keeps only what is pending: twin requests and unread events make it larger, come back in order, and once settled it is as small as an idle one', () => {
  const c = new ScriptedCore('gateway');
  const { ex, io } = c;
  c.connect();
  c.sent();
  c.poll();
  const idle = ex.client_snapshot_save();
  assert.ok(idle > 0);

  // A twin request awaiting its answer, and three telemetry acknowledgements of which one was read.
  const rid = ex.client_twin_get(c.now);
  assert.ok(rid > 0);
  const tokens: number[] = [];
  for (let i = 0; i < 3; i++) {
    ex.client_telemetry_begin();
    tokens.push(ex.client_telemetry_send(io, c.put(`{"n":${i}}`), 1));
  }
  const publishes = c.sent().filter((p) => p.cmd === 'publish' && p.qos === 1) as Array<{ messageId: number }>;
  assert.equal(publishes.length, 3);
  for (const p of publishes) c.feed({ cmd: 'puback', messageId: p.messageId });
  assert.equal(ex.client_poll(c.now), EV.TELEMETRY_ACKED, 'the first acknowledgement is read');
  // (Not roundTrip: saving compacts the outbox after ClientState is copied, so its arenaEnd differs once restored.)
  const busy = ex.client_snapshot_save();
  const ptr = ex.client_snapshot_ptr();
  const snap = c.mem.slice(ptr, ptr + busy);
  ex.client_reset();
  c.mem.set(snap, ptr);
  assert.equal(ex.client_snapshot_restore(busy), STATUS.OK);
  assert.ok(busy > idle, `a pending request and unread events are kept (${busy} vs ${idle} bytes idle)`);
  assert.deepEqual(c.poll().filter((e) => e.type === EV.TELEMETRY_ACKED).map((e) => e.token), tokens.slice(1), 'the unread events, in order');

  c.feed({ cmd: 'publish', topic: `$iothub/twin/res/200/?$rid=${rid}`, payload: '{"desired":{},"reported":{}}' });
  assert.equal(c.poll().find((e) => e.type === EV.TWIN_RESPONSE)?.status, 200, 'the restored request is answered');
  assert.equal(roundTrip(c).length, idle, 'settled: no larger than before');
});

test('a device whose outbox has a hole (the oldest message acknowledged, newer ones in flight) saves to the same bytes after a restore', () => {
  const c = new ScriptedCore('gateway');
  c.connect();
  const ids: number[] = [];
  for (let i = 0; i < 3; i++) {
    c.ex.client_telemetry_begin();
    assert.ok(c.ex.client_telemetry_send(c.io, c.put(`message ${i} `.repeat(10)), 1) > 0);
  }
  for (const p of c.sent()) if (p.cmd === 'publish') ids.push(p.messageId!);
  assert.equal(ids.length, 3);
  c.feed({ cmd: 'puback', messageId: ids[0]! });
  assert.deepEqual(c.poll().map((e) => e.type), [EV.TELEMETRY_ACKED]);
  roundTrip(c); // the arena is compacted before ClientState (which holds its end) is saved
  for (const id of ids.slice(1)) c.feed({ cmd: 'puback', messageId: id });
  assert.deepEqual(c.poll().map((e) => e.type), [EV.TELEMETRY_ACKED, EV.TELEMETRY_ACKED], 'the restored device settles the other two');
});
