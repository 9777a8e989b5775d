// Properties over the built module, with mqtt-packet as the oracle in both directions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { encodePacket, PacketDecoder, MqttProtocolError, type Packet } from '../../host/codec/index.js';
import { fcParams } from '../support/fast-check.js';
import { anyPacket } from './arbitraries.js';

function theirParse(bytes: Buffer): { packets: unknown[]; error?: Error } {
  const packets: unknown[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let error: Error | undefined;
  parser.on('packet', (p) => packets.push({ ...p }));
  parser.on('error', (e) => { error ??= e; });
  parser.parse(bytes);
  return { packets, error };
}

const decoder = new PacketDecoder();
function ourDecode(bytes: Uint8Array): unknown[] {
  decoder.reset();
  return decoder.push(bytes);
}

test('mqtt-packet generate → our decode equals mqtt-packet parse', () => {
  fc.assert(fc.property(anyPacket, (obj) => {
    const bytes = mqttPacket.generate(obj as never);
    assert.deepStrictEqual(ourDecode(bytes), theirParse(bytes).packets);
  }), fcParams(5000));
});

test('our encode is byte-identical to mqtt-packet generate', () => {
  fc.assert(fc.property(anyPacket, (obj) => {
    assert.equal(encodePacket(obj as Packet).toString('hex'), mqttPacket.generate(obj as never).toString('hex'));
  }), fcParams(5000));
});

test('packets concatenated and cut at random points decode exactly as when whole', () => {
  fc.assert(fc.property(fc.array(anyPacket, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (objs, cuts) => {
    const whole = Buffer.concat(objs.map((o) => encodePacket(o as Packet)));
    const expected = ourDecode(whole);
    assert.equal(expected.length, objs.length);
    const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
    decoder.reset();
    const got: unknown[] = [];
    let prev = 0;
    for (const p of [...points, whole.length]) {
      got.push(...decoder.push(whole.subarray(prev, p)));
      prev = p;
    }
    assert.deepStrictEqual(got, expected);
  }), fcParams(3000));
});

test('one byte at a time decodes exactly as whole', () => {
  fc.assert(fc.property(fc.array(anyPacket, { minLength: 1, maxLength: 4 }), (objs) => {
    const whole = Buffer.concat(objs.map((o) => encodePacket(o as Packet)));
    decoder.reset();
    const got: unknown[] = [];
    for (let i = 0; i < whole.length; i++) got.push(...decoder.push(whole.subarray(i, i + 1)));
    assert.deepStrictEqual(got, theirParse(whole).packets);
  }), fcParams(1000));
});

function decodeOrCode(bytes: Uint8Array): { packets: unknown[]; code?: string } {
  try {
    return { packets: ourDecode(bytes) };
  } catch (e) {
    // A trap (WebAssembly.RuntimeError) or any other error type fails the property.
    if (!(e instanceof MqttProtocolError)) throw e;
    assert.match(e.code, /^MQTT_[A-Z0-9_]+$/);
    return { packets: (e.packets ?? []) as unknown[], code: e.code };
  }
}

test('random bytes give packets or a coded error, never a trap; what we accept mqtt-packet parses the same', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (u) => {
    const bytes = Buffer.from(u);
    const ours = decodeOrCode(bytes);
    const theirs = theirParse(bytes);
    // Everything we decoded, mqtt-packet decodes identically (we are stricter, never looser or different).
    assert.deepStrictEqual(ours.packets, theirs.packets.slice(0, ours.packets.length));
  }), fcParams(20000));
});

test('mutated valid packets give packets or a coded error, never a trap', () => {
  fc.assert(fc.property(anyPacket, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (obj, flips) => {
    const bytes = Buffer.from(encodePacket(obj as Packet));
    for (const [i, v] of flips) bytes[i % bytes.length] = v;
    const ours = decodeOrCode(bytes);
    const theirs = theirParse(bytes);
    assert.deepStrictEqual(ours.packets, theirs.packets.slice(0, ours.packets.length));
  }), fcParams(20000));
});

test('large binary payloads (encoded without a copy through linear memory) are byte-identical too', () => {
  const large = fc.record({ topic: fc.constantFrom('a/b', 'devices/d-1/messages/events/%24.mid=1'), size: fc.integer({ min: 1000, max: 70000 }), qos: fc.constantFrom(0 as const, 1 as const), messageId: fc.integer({ min: 1, max: 65535 }) });
  fc.assert(fc.property(large, ({ topic, size, qos, messageId }) => {
    const payload = Buffer.alloc(size, size & 0xff);
    const obj = qos === 0 ? { cmd: 'publish' as const, topic, payload, qos } : { cmd: 'publish' as const, topic, payload, qos, messageId };
    const ours = encodePacket(obj);
    assert.ok(ours.equals(mqttPacket.generate(obj as never)));
    assert.deepStrictEqual(ourDecode(ours), theirParse(ours).packets);
  }), fcParams(500));
});
