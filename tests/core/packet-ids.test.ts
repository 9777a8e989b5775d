// QoS 1 packet ids are chosen by outbox slot (assembly/client/machine.ts slotPacketId): whatever order PUBACKs come
// in — and stale, duplicate or unknown ones among them — the ids in flight are distinct and in 1..65534 (65535 is
// SUBSCRIBE's), each PUBACK settles exactly the message that carried its id, once, and every message is settled.
// The client's bytes are read by mqtt-packet, an independent decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { ScriptedCore } from '../support/scripted-core.js';
import { fcParams } from '../support/fast-check.js';
import { EVENT as EV, STATUS } from '../../host/wasm/abi.generated.js';

/** What the client wrote since the last call, decoded by mqtt-packet. */
function written(c: ScriptedCore): mqttPacket.Packet[] {
  const n = c.ex.client_tx_len();
  const p = c.ex.client_tx_ptr();
  const out: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (pkt) => out.push(pkt));
  parser.on('error', (e) => { throw e; });
  parser.parse(Buffer.from(c.mem.subarray(p, p + n)));
  c.ex.client_tx_consumed(n);
  return out;
}

const puback = (c: ScriptedCore, messageId: number) => c.feed({ cmd: 'puback', messageId });

for (const profile of ['mcu', 'gateway'] as const) {
  test(`${profile}: PUBACKs in any order settle exactly their own message; stale, repeated and unknown ones change nothing`, () => {
    // One action: send a message, acknowledge the k-th one in flight, repeat an old PUBACK, or an unknown id.
    const action = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), count: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('ack' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('stale' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('unknown' as const), id: fc.integer({ min: 1, max: 65535 }) }),
    );
    fc.assert(fc.property(fc.array(action, { minLength: 1, maxLength: 80 }), (actions) => {
      const c = new ScriptedCore(profile);
      c.connect();
      const slots = c.ex.client_outbox_slots();
      const inFlight = new Map<number, number>(); // packet id → token
      const acked: number[] = []; // packet ids acknowledged before (stale if repeated)
      const settled = new Set<number>();
      const pending = new Set<number>();
      const settle = () => {
        for (const e of c.poll()) {
          if (e.type !== EV.TELEMETRY_ACKED) continue;
          assert.ok(pending.has(e.token), `token ${e.token} settled once, and only if it was sent`);
          pending.delete(e.token);
          settled.add(e.token);
        }
        for (const pkt of written(c)) {
          if (pkt.cmd !== 'publish') continue;
          const id = pkt.messageId!;
          assert.ok(id >= 1 && id <= 65534, `id ${id} in 1..65534`);
          assert.ok(!inFlight.has(id), `id ${id} is not in flight twice`);
          inFlight.set(id, -1);
        }
      };
      for (const a of actions) {
        if (a.kind === 'send') {
          for (let i = 0; i < a.count; i++) {
            c.ex.client_telemetry_begin();
            const token = c.ex.client_telemetry_send(c.io, c.put(`m${i}`), 1);
            if (token === STATUS.CLIENT_QUEUE_FULL) { assert.equal(pending.size, slots, 'full only when every slot waits'); break; }
            assert.ok(token > 0);
            pending.add(token);
          }
        } else if (a.kind === 'ack' && inFlight.size > 0) {
          const ids = [...inFlight.keys()];
          const id = ids[a.pick % ids.length]!;
          inFlight.delete(id);
          acked.push(id);
          puback(c, id);
          const before = pending.size;
          settle();
          assert.equal(pending.size, before - 1, `the PUBACK for ${id} settled one message`);
          continue;
        } else if (a.kind === 'stale' && acked.length > 0) {
          const id = acked[a.pick % acked.length]!;
          if (inFlight.has(id)) continue; // reused by a newer message: then it is not stale
          puback(c, id);
        } else if (a.kind === 'unknown' && !inFlight.has(a.id)) {
          puback(c, a.id);
        }
        const before = pending.size;
        settle();
        if (a.kind !== 'send') assert.equal(pending.size, before, `${a.kind} PUBACK settled nothing`);
      }
      // Acknowledge the rest, newest first: every message is settled.
      for (const id of [...inFlight.keys()].reverse()) { puback(c, id); inFlight.delete(id); }
      settle();
      assert.equal(pending.size, 0, 'every message settled');
    }), fcParams(profile === 'mcu' ? 300 : 150));
  });
}

test('over 70,000 messages through 8 slots, ids change from one use of a slot to the next and never repeat one in flight', () => {
  const c = new ScriptedCore('mcu');
  c.connect();
  const inFlight: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < 70_000; i++) {
    c.ex.client_telemetry_begin();
    assert.ok(c.ex.client_telemetry_send(c.io, c.put('x'), 1) > 0);
    for (const pkt of written(c)) {
      const id = pkt.messageId!;
      assert.ok(!inFlight.includes(id) && id !== 65535);
      inFlight.push(id);
      seen.add(id);
    }
    if (inFlight.length === 8) { puback(c, inFlight.shift()!); c.poll(); }
  }
  assert.ok(seen.size > 8 * 1000, `${seen.size} distinct ids used, not a handful per slot`);
});
