// Each MQTT 3.1.1 rule the decoder and encoder enforce, with the exact code it answers. Several of these
// mqtt-packet accepts; we must not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket, PacketDecoder, MqttProtocolError, type Packet } from '../../host/codec/index.js';

const h = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
function refusedWith(hex: string, code: string, decoder = new PacketDecoder()): void {
  assert.throws(() => decoder.push(h(hex)), (e: unknown) => {
    assert.ok(e instanceof MqttProtocolError, String(e));
    assert.equal(e.code, code);
    return true;
  });
}
const enc = (s: string) => Buffer.from(s).toString('hex');
const str = (s: string) => (Buffer.byteLength(s).toString(16).padStart(4, '0')) + enc(s);
const rawStr = (hex: string) => (hex.length / 2).toString(16).padStart(4, '0') + hex;
/** A PUBLISH QoS 0 with the given raw topic bytes (hex). */
const publishRaw = (topicHex: string) => { const body = rawStr(topicHex); return '30' + (body.length / 2).toString(16).padStart(2, '0') + body; };
const connect = (flags: string, payload: string, name = str('MQTT'), level = '04') => {
  const body = name + level + flags + '003c' + payload;
  return '10' + (body.length / 2).toString(16).padStart(2, '0') + body;
};

test('UTF-8: overlong forms, surrogates, truncated sequences and U+0000 are refused', () => {
  refusedWith(publishRaw('c0af'), 'MQTT_UTF8_INVALID'); // overlong '/'
  refusedWith(publishRaw('e080af'), 'MQTT_UTF8_INVALID'); // overlong 3-byte
  refusedWith(publishRaw('f08080af'), 'MQTT_UTF8_INVALID'); // overlong 4-byte
  refusedWith(publishRaw('eda080'), 'MQTT_UTF8_INVALID'); // U+D800 surrogate
  refusedWith(publishRaw('f4908080'), 'MQTT_UTF8_INVALID'); // beyond U+10FFFF
  refusedWith(publishRaw('61e282'), 'MQTT_UTF8_INVALID'); // truncated
  refusedWith(publishRaw('80'), 'MQTT_UTF8_INVALID'); // lone continuation byte
  refusedWith(publishRaw('610062'), 'MQTT_UTF8_NULL');
});

test('UTF-8 is checked in client id, user name, will topic and topic filters', () => {
  refusedWith(connect('02', rawStr('ff')), 'MQTT_UTF8_INVALID');
  refusedWith(connect('82', str('c') + rawStr('6100')), 'MQTT_UTF8_NULL');
  refusedWith(connect('06', str('c') + rawStr('eda080') + str('p')), 'MQTT_UTF8_INVALID');
  refusedWith('82 06 0001 0001 c0 00'.replace(/ /g, ''), 'MQTT_UTF8_INVALID');
});

test('valid UTF-8 in every plane is accepted', () => {
  const topic = 'a/é/€/😀/\u{10FFFF}';
  const [p] = new PacketDecoder().push(encodePacket({ cmd: 'publish', topic, payload: 'x' }));
  assert.equal((p as { topic: string }).topic, topic);
});

test('PUBLISH topics: no wildcards, not empty', () => {
  refusedWith(publishRaw(enc('a/+')), 'MQTT_TOPIC_WILDCARD');
  refusedWith(publishRaw(enc('a/#')), 'MQTT_TOPIC_WILDCARD');
  refusedWith('30020000', 'MQTT_TOPIC_EMPTY');
  assert.throws(() => encodePacket({ cmd: 'publish', topic: 'a/+', payload: '' }), { code: 'MQTT_TOPIC_WILDCARD' });
  assert.throws(() => encodePacket({ cmd: 'publish', topic: '', payload: '' }), { code: 'MQTT_TOPIC_EMPTY' });
});

test('reserved packet types 0 and 15', () => {
  refusedWith('0000', 'MQTT_RESERVED_PACKET_TYPE');
  refusedWith('f000', 'MQTT_RESERVED_PACKET_TYPE');
});

test('fixed-header flag bits per packet type, refused from the first byte', () => {
  for (const first of ['11', '21', '41', '51', '60', '71', '80', '91', 'a0', 'b1', 'c1', 'd1', 'e1']) refusedWith(first, 'MQTT_BAD_FLAGS');
});

test('QoS 3 and DUP on QoS 0', () => {
  refusedWith('36', 'MQTT_BAD_QOS');
  refusedWith('38', 'MQTT_DUP_ON_QOS0');
  assert.throws(() => encodePacket({ cmd: 'publish', topic: 't', payload: '', qos: 3 as 0 }), { code: 'MQTT_BAD_QOS' });
  assert.throws(() => encodePacket({ cmd: 'publish', topic: 't', payload: '', dup: true }), { code: 'MQTT_DUP_ON_QOS0' });
});

test('packet identifier 0 where one is required', () => {
  refusedWith('32 05 0001 61 0000 '.replace(/ /g, ''), 'MQTT_PACKET_ID_ZERO');
  for (const first of ['40', '50', '62', '70', 'b0']) refusedWith(first + '020000', 'MQTT_PACKET_ID_ZERO');
  refusedWith('82060000' + str('a') + '00', 'MQTT_PACKET_ID_ZERO');
  refusedWith('9003000000', 'MQTT_PACKET_ID_ZERO');
  assert.throws(() => encodePacket({ cmd: 'publish', topic: 't', payload: '', qos: 1 }), { code: 'MQTT_PACKET_ID_ZERO' });
  assert.throws(() => encodePacket({ cmd: 'puback', messageId: 0 }), { code: 'MQTT_PACKET_ID_ZERO' });
});

test('fixed lengths of CONNACK, acks, PINGREQ/PINGRESP and DISCONNECT', () => {
  refusedWith('2003000000', 'MQTT_BAD_LENGTH');
  refusedWith('200100', 'MQTT_BAD_LENGTH');
  for (const first of ['40', '50', '62', '70', 'b0']) refusedWith(first + '03000100', 'MQTT_BAD_LENGTH');
  for (const first of ['c0', 'd0', 'e0']) refusedWith(first + '0100', 'MQTT_BAD_LENGTH');
});

test('CONNACK flag bits and return codes', () => {
  refusedWith('20020200', 'MQTT_CONNACK_FLAGS');
  refusedWith('20020105', 'MQTT_CONNACK_FLAGS'); // session present with a refusal
  refusedWith('20020006', 'MQTT_CONNACK_RETURN_CODE');
  assert.throws(() => encodePacket({ cmd: 'connack', returnCode: 6 }), { code: 'MQTT_CONNACK_RETURN_CODE' });
});

test('SUBACK return codes; SUBSCRIBE/UNSUBSCRIBE/SUBACK with no entries', () => {
  refusedWith('900300017f', 'MQTT_SUBACK_RETURN_CODE');
  refusedWith('90020001', 'MQTT_NO_TOPICS');
  refusedWith('82020001', 'MQTT_NO_TOPICS');
  refusedWith('a2020001', 'MQTT_NO_TOPICS');
  assert.throws(() => encodePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [] }), { code: 'MQTT_NO_TOPICS' });
  assert.throws(() => encodePacket({ cmd: 'suback', messageId: 1, granted: [0x81] }), { code: 'MQTT_SUBACK_RETURN_CODE' });
});

test('topic filters: wildcards only where MQTT allows them', () => {
  for (const bad of ['a+', 'a/#/b', '#a', 'a/b#', '']) {
    assert.throws(() => encodePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: bad, qos: 0 }] }), { code: 'MQTT_TOPIC_FILTER_INVALID' }, bad);
    assert.throws(() => encodePacket({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: [bad] }), { code: 'MQTT_TOPIC_FILTER_INVALID' }, bad);
  }
  for (const good of ['#', '+', 'a/+/b', 'a/#', '+/+', '/', 'devices/d/messages/devicebound/#']) {
    const bytes = encodePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: good, qos: 1 }] });
    assert.equal((new PacketDecoder().push(bytes)[0] as { subscriptions: Array<{ topic: string }> }).subscriptions[0].topic, good);
  }
  refusedWith('8206 0001 0001 61 04'.replace(/ /g, ''), 'MQTT_SUBSCRIBE_RESERVED');
});

test('CONNECT: protocol name and level, reserved flag, password without user name, will flags', () => {
  refusedWith(connect('02', str('c'), str('MQTX')), 'MQTT_PROTOCOL_NAME');
  refusedWith(connect('02', str('c'), str('MQTT'), '05'), 'MQTT_PROTOCOL_LEVEL');
  refusedWith(connect('02', str('c'), str('MQIsdp'), '04'), 'MQTT_PROTOCOL_LEVEL');
  refusedWith(connect('03', str('c')), 'MQTT_CONNECT_RESERVED');
  refusedWith(connect('42', str('c') + str('p')), 'MQTT_PASSWORD_WITHOUT_USERNAME');
  refusedWith(connect('22', str('c')), 'MQTT_WILL_FLAGS');
  refusedWith(connect('0a', str('c')), 'MQTT_WILL_FLAGS');
  refusedWith(connect('1e', str('c') + str('w') + str('p')), 'MQTT_BAD_QOS');
  refusedWith(connect('02', str('c') + '00'), 'MQTT_TRAILING_BYTES');
  assert.throws(() => encodePacket({ cmd: 'connect', clientId: 'c', password: 'p' }), { code: 'MQTT_PASSWORD_WITHOUT_USERNAME' });
  assert.throws(() => encodePacket({ cmd: 'connect', clientId: 'c', protocolVersion: 5 as 4 }), { code: 'MQTT_PROTOCOL_LEVEL' });
});

test('string lengths that run past the remaining length', () => {
  refusedWith('3003000561', 'MQTT_FIELD_OVERRUN');
  refusedWith(connect('02', '0009' + enc('abc')), 'MQTT_FIELD_OVERRUN');
  refusedWith('82 05 0001 0005 61'.replace(/ /g, ''), 'MQTT_FIELD_OVERRUN');
});

test('remaining length over 4 bytes', () => {
  refusedWith('30ffffffff01', 'MQTT_REMAINING_LENGTH');
});

test('a packet larger than the profile buffer is refused as soon as its header is read', () => {
  const decoder = new PacketDecoder({ profile: 'mcu' });
  assert.equal(decoder.maxPacketSize, 4096);
  // Header announces 5000 bytes; only the header is sent: refused without waiting for the body.
  refusedWith('30 88 27'.replace(/ /g, ''), 'MQTT_PACKET_TOO_LARGE', decoder);
  // One byte under the limit is waited for, not refused.
  const ok = new PacketDecoder({ profile: 'mcu' });
  assert.deepEqual(ok.push(h('30fd1f')), []);
});

test('after a malformed packet the stream stays refused until reset', () => {
  const d = new PacketDecoder();
  refusedWith('0000', 'MQTT_RESERVED_PACKET_TYPE', d);
  refusedWith('c000', 'MQTT_RESERVED_PACKET_TYPE', d);
  d.reset();
  assert.deepEqual(d.push(h('c000')).map((p) => p.cmd), ['pingreq']);
});

test('packets decoded before a malformed one are handed back on the error', () => {
  try {
    new PacketDecoder().push(h('c000d0000000'));
    assert.fail('expected a refusal');
  } catch (e) {
    assert.ok(e instanceof MqttProtocolError);
    assert.deepEqual((e.packets as Packet[]).map((p) => p.cmd), ['pingreq', 'pingresp']);
  }
});

test('JavaScript values that are not packets get MQTT_UNKNOWN_COMMAND / MQTT_INVALID_OBJECT', () => {
  assert.throws(() => encodePacket({ cmd: 'nope' } as unknown as Packet), { code: 'MQTT_UNKNOWN_COMMAND' });
  assert.throws(() => encodePacket({ cmd: 'publish', topic: 5, payload: '' } as unknown as Packet), { code: 'MQTT_INVALID_OBJECT' });
  assert.throws(() => encodePacket({ cmd: 'connect', clientId: 'c', keepalive: 3.5 }), { code: 'MQTT_INVALID_OBJECT' });
  assert.throws(() => encodePacket({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 256 as 0 }] }), { code: 'MQTT_INVALID_OBJECT' });
});

test('an encode larger than the profile buffer is refused, not truncated', () => {
  assert.throws(() => encodePacket({ cmd: 'publish', topic: 't', payload: Buffer.alloc(400 * 1024) }), { code: 'MQTT_PACKET_TOO_LARGE' });
});
