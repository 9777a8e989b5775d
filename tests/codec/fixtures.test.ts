// mqtt-packet's own byte-exact cases (tests/fixtures/mqtt-packet-v4-fixtures.json): our decoder and encoder
// agree with mqtt-packet on every valid packet, and refuse every malformed one with a named code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { encodePacket, PacketDecoder, MqttProtocolError, type Packet } from '../../host/codec/index.js';
import { fixture } from '../support/fixtures.js';

interface Fixture { helper: string; name: string; object?: Record<string, unknown>; hex?: Buffer | string; expectedError?: string; opts?: { protocolVersion?: number } }
const fixtures = fixture<Fixture[]>('mqtt-packet-v4-fixtures.json');
const hexOf = (f: Fixture) => (Buffer.isBuffer(f.hex) ? f.hex : Buffer.from(String(f.hex), 'hex'));

function theirParse(bytes: Buffer): unknown[] {
  const out: unknown[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p) => out.push({ ...p }));
  parser.on('error', (e) => { throw e; });
  parser.parse(bytes);
  return out;
}

// Where a fixture's rule has an exact counterpart, the code must be that one; otherwise any named code.
const expectedCodes: Record<string, string> = {
  'Not supported': 'MQTT_RESERVED_PACKET_TYPE',
  'Invalid variable byte integer': 'MQTT_REMAINING_LENGTH',
  // These three fixtures say protocol "MQTT" with level 3, which we refuse before looking at the flags;
  // tests/codec/rules.test.ts checks the flag rules themselves with level 4.
  'Will Retain Flag must be set to zero when Will Flag is set to 0': 'MQTT_PROTOCOL_LEVEL',
  'Will QoS must be set to zero when Will Flag is set to 0': 'MQTT_PROTOCOL_LEVEL',
  'Connect flag bit 0 must be 0, but got 1': 'MQTT_PROTOCOL_LEVEL',
  'Malformed unsuback, payload length must be 2': 'MQTT_BAD_LENGTH',
  'Invalid connack flags, bits 7-1 must be set to 0': 'MQTT_CONNACK_FLAGS',
  'Packet must not have both QoS bits set to 1': 'MQTT_BAD_QOS',
  'Invalid subscribe QoS, must be <= 2': 'MQTT_BAD_QOS',
  'Invalid subscribe topic flag bits, bits 7-2 must be 0': 'MQTT_SUBSCRIBE_RESERVED',
  'Invalid suback QoS, must be 0, 1, 2 or 128': 'MQTT_SUBACK_RETURN_CODE',
  'Invalid protocolId': 'MQTT_PROTOCOL_NAME',
  'Invalid protocol version': 'MQTT_PROTOCOL_LEVEL',
  'Not supported auth packet for this version MQTT': 'MQTT_RESERVED_PACKET_TYPE',
};

for (const f of fixtures) {
  if (f.opts?.protocolVersion === 5) continue;
  if (f.helper === 'testParseGenerate' || f.helper === 'testParseAndGenerate' || f.helper === 'testParseGenerateDefaults') {
    if (f.object?.bridgeMode) {
      // Bridge mode (protocol level | 0x80) is a Mosquitto extension, not MQTT 3.1.1: refused by name.
      test(`fixture bridge mode refused: ${f.name}`, () => {
        assert.throws(() => new PacketDecoder().push(hexOf(f)), (e: unknown) => e instanceof MqttProtocolError && e.code === 'MQTT_PROTOCOL_LEVEL');
      });
      continue;
    }
    test(`fixture parse+generate: ${f.name}`, () => {
      const bytes = hexOf(f);
      const ours = new PacketDecoder().push(bytes);
      assert.deepStrictEqual(ours, theirParse(bytes), 'decode equals mqtt-packet parse');
      for (const [k, v] of Object.entries((f.helper === 'testParseGenerateDefaults' ? {} : f.object) ?? {})) {
        const mine = (ours[0] as unknown as Record<string, unknown>)[k];
        // The fixtures sometimes give a Buffer for a string field or a string for a binary one; compare bytes.
        const same = Buffer.isBuffer(v) || Buffer.isBuffer(mine) ? Buffer.from(mine as string).equals(Buffer.from(v as string)) : undefined;
        if (same !== undefined) assert.ok(same, `field ${k} equals the fixture`);
        else assert.deepStrictEqual(mine, v, `field ${k} equals the fixture`);
      }
      assert.equal(encodePacket(f.object as unknown as Packet).toString('hex'), bytes.toString('hex'), 'encode equals the fixture bytes');
    });
  } else if (f.helper === 'testGenerateOnly') {
    test(`fixture generate: ${f.name}`, () => {
      const obj = { ...f.object } as Record<string, unknown>;
      // mqtt-packet also takes Buffers for string fields; our JS face takes strings for strings.
      for (const [k, v] of Object.entries(obj)) if (Buffer.isBuffer(v) && ['clientId', 'username', 'topic'].includes(k)) obj[k] = v.toString('utf8');
      assert.equal(encodePacket(obj as unknown as Packet).toString('hex'), hexOf(f).toString('hex'));
    });
  } else if (f.helper === 'testParseError') {
    test(`fixture parse error: ${f.name} (${hexOf(f).toString('hex').slice(0, 24)})`, () => {
      const err = (() => { try { new PacketDecoder().push(hexOf(f)); } catch (e) { return e; } return undefined; })();
      assert.ok(err instanceof MqttProtocolError, `refused with MqttProtocolError, got ${String(err)}`);
      assert.match(err.code, /^MQTT_[A-Z0-9_]+$/);
      const want = expectedCodes[f.name];
      if (want) assert.equal(err.code, want);
    });
  } else if (f.helper === 'testGenerateError') {
    test(`fixture generate error: ${f.name}`, () => {
      assert.throws(() => encodePacket(f.object as unknown as Packet), (e: unknown) => e instanceof MqttProtocolError && /^MQTT_/.test(e.code));
    });
  }
}
