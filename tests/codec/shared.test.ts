// Decoders share one instance of the core per profile; each keeps only its own incomplete packet and failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket, PacketDecoder, MqttProtocolError, type Packet } from '../../host/codec/index.js';

const publish = (topic: string, payload: string, messageId: number): Packet =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, messageId, retain: false, dup: false }) as Packet;

test('decoders fed in turns, a byte at a time, each get exactly their own packets', () => {
  const streams = Array.from({ length: 5 }, (_, d) =>
    Buffer.concat(Array.from({ length: 3 }, (_, k) => encodePacket(publish(`dev/${d}/t${k}`, `payload ${d}.${k} `.repeat(d + 1), d * 10 + k + 1)))));
  const decoders = streams.map(() => new PacketDecoder());
  const got: Packet[][] = streams.map(() => []);
  const longest = Math.max(...streams.map((s) => s.length));
  for (let i = 0; i < longest; i++) {
    streams.forEach((s, d) => { if (i < s.length) got[d]!.push(...decoders[d]!.push(s.subarray(i, i + 1))); });
  }
  got.forEach((packets, d) => {
    assert.deepEqual(packets.map((p) => (p as { topic: string }).topic), [0, 1, 2].map((k) => `dev/${d}/t${k}`));
    assert.deepEqual(packets.map((p) => (p as { payload: Buffer }).payload.toString()), [0, 1, 2].map((k) => `payload ${d}.${k} `.repeat(d + 1)));
    assert.deepEqual(packets.map((p) => (p as { messageId: number }).messageId), [1, 2, 3].map((k) => d * 10 + k));
  });
});

test("one decoder's malformed stream leaves the others' streams as they were", () => {
  const good = new PacketDecoder();
  const bad = new PacketDecoder();
  const bytes = encodePacket(publish('a/b', 'hello', 7));
  assert.deepEqual(good.push(bytes.subarray(0, 5)), []);
  assert.throws(() => bad.push(Buffer.from('0000', 'hex')), (e: unknown) => e instanceof MqttProtocolError && e.code === 'MQTT_RESERVED_PACKET_TYPE');
  assert.deepEqual(good.push(bytes.subarray(5)).map((p) => (p as { payload: Buffer }).payload.toString()), ['hello']);
  // the failed one stays refused (with its first code) until reset, whoever used the core since
  assert.throws(() => bad.push(Buffer.from('c000', 'hex')), (e: unknown) => e instanceof MqttProtocolError && e.code === 'MQTT_RESERVED_PACKET_TYPE');
  bad.reset();
  assert.deepEqual(bad.push(Buffer.from('c000', 'hex')).map((p) => p.cmd), ['pingreq']);
});

test('reset forgets the incomplete packet of a decoder that does not hold the core', () => {
  const a = new PacketDecoder();
  const b = new PacketDecoder();
  assert.deepEqual(a.push(Buffer.from('30', 'hex')), []); // a PUBLISH begun
  assert.deepEqual(b.push(Buffer.from('c000', 'hex')).map((p) => p.cmd), ['pingreq']);
  a.reset();
  assert.deepEqual(a.push(Buffer.from('d000', 'hex')).map((p) => p.cmd), ['pingresp']);
});

test('a thousand decoders do not each reserve a module memory', () => {
  new PacketDecoder(); // the shared core exists
  const before = process.memoryUsage();
  const many = Array.from({ length: 1000 }, () => new PacketDecoder());
  for (const d of many) d.push(Buffer.from('c0', 'hex')); // each holds an incomplete packet
  const after = process.memoryUsage();
  // A module memory (5 MiB for the gateway profile) counts as external memory: a thousand would add gigabytes.
  assert.ok(after.external - before.external < 32 * 1024 * 1024, `${after.external - before.external} bytes of external memory`);
  assert.deepEqual(many[999]!.push(Buffer.from('00', 'hex')).map((p) => p.cmd), ['pingreq']);
});
