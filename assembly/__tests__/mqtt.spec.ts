// Unit specs for the MQTT codec's building blocks (as-pect; the built modules are tested from node:test).
import { OK } from "../status";
import { readVarint, varintValue, writeVarint, varintSize } from "../mqtt/varint";
import { validateUtf8, validateTopicName, validateTopicFilter } from "../mqtt/strings";
import { checkFirstByte } from "../mqtt/decoder";
import { encodePacket } from "../mqtt/encoder";
import { Packet, clearPacket, PUBLISH, SUBSCRIBE, PACKET_SIZE } from "../mqtt/packet";
import { rxWindow, rxSpace, rxCommit, rxReset, decodeNext } from "../mqtt/stream";
import * as S from "../mqtt/status";

const BUF = memory.data(512);
const REC = memory.data(PACKET_SIZE);
const REC2 = memory.data(PACKET_SIZE);

function bytes(list: u8[]): usize {
  for (let i = 0; i < list.length; i++) store<u8>(BUF + <usize>i, list[i]);
  return BUF;
}
function text(s: string): usize {
  const n = String.UTF8.byteLength(s);
  const b = String.UTF8.encode(s);
  memory.copy(BUF + 256, changetype<usize>(b), <usize>n);
  return BUF + 256;
}

describe("varint", () => {
  it("round-trips the boundaries of each size", () => {
    const values: u32[] = [0, 127, 128, 16383, 16384, 2097151, 2097152, 268435455];
    for (let i = 0; i < values.length; i++) {
      const n = writeVarint(BUF, values[i]);
      expect(n).toBe(varintSize(values[i]));
      expect(readVarint(BUF, n)).toBe(n);
      expect(varintValue).toBe(values[i]);
    }
  });
  it("asks for more bytes, and refuses a fifth", () => {
    bytes([0x80, 0x80]);
    expect(readVarint(BUF, 2)).toBe(0);
    bytes([0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(readVarint(BUF, 5)).toBe(S.E_MQTT_REMAINING_LENGTH);
  });
});

describe("strings", () => {
  it("accepts UTF-8 in every plane", () => {
    const s = "a/é/€/😀";
    expect(validateUtf8(text(s), String.UTF8.byteLength(s))).toBe(OK);
  });
  it("names each UTF-8 fault", () => {
    expect(validateUtf8(bytes([0xc0, 0xaf]), 2)).toBe(S.E_MQTT_UTF8_INVALID);
    expect(validateUtf8(bytes([0xed, 0xa0, 0x80]), 3)).toBe(S.E_MQTT_UTF8_INVALID);
    expect(validateUtf8(bytes([0x61, 0x00]), 2)).toBe(S.E_MQTT_UTF8_NULL);
    // The fault is found after a long ASCII run too (the 8-byte fast path hands over correctly).
    const s = "0123456789abcdef0123";
    const p = text(s);
    store<u8>(p + 17, 0);
    expect(validateUtf8(p, 20)).toBe(S.E_MQTT_UTF8_NULL);
  });
  it("checks topic names and filters", () => {
    expect(validateTopicName(text("devices/d/messages/events/"), 26)).toBe(OK);
    expect(validateTopicName(text("devices/d/messages/events/+"), 27)).toBe(S.E_MQTT_TOPIC_WILDCARD);
    expect(validateTopicName(BUF, 0)).toBe(S.E_MQTT_TOPIC_EMPTY);
    expect(validateTopicFilter(text("a/+/#"), 5)).toBe(OK);
    expect(validateTopicFilter(text("a/#/b"), 5)).toBe(S.E_MQTT_TOPIC_FILTER_INVALID);
    expect(validateTopicFilter(text("a+"), 2)).toBe(S.E_MQTT_TOPIC_FILTER_INVALID);
  });
});

describe("fixed header", () => {
  it("checks flag bits per packet type", () => {
    expect(checkFirstByte(0x30)).toBe(OK);
    expect(checkFirstByte(0x3d)).toBe(OK);
    expect(checkFirstByte(0x36)).toBe(S.E_MQTT_BAD_QOS);
    expect(checkFirstByte(0x38)).toBe(S.E_MQTT_DUP_ON_QOS0);
    expect(checkFirstByte(0x82)).toBe(OK);
    expect(checkFirstByte(0x80)).toBe(S.E_MQTT_BAD_FLAGS);
    expect(checkFirstByte(0x00)).toBe(S.E_MQTT_RESERVED_PACKET_TYPE);
    expect(checkFirstByte(0xf0)).toBe(S.E_MQTT_RESERVED_PACKET_TYPE);
  });
});

describe("encoder and streaming decoder", () => {
  it("round-trips a PUBLISH delivered one byte at a time", () => {
    const p = changetype<Packet>(REC);
    clearPacket(p);
    p.type = PUBLISH;
    p.qos = 1;
    p.messageId = 77;
    p.topicPtr = text("a/b");
    p.topicLen = 3;
    p.payloadPtr = p.topicPtr;
    p.payloadLen = 3;
    const n = encodePacket(p, BUF, 200);
    expect(n).toBe(2 + 2 + 3 + 2 + 3);
    rxReset();
    const q = changetype<Packet>(REC2);
    for (let i = 0; i < n; i++) {
      store<u8>(rxWindow(), load<u8>(BUF + <usize>i));
      rxCommit(1);
      const t = decodeNext(q);
      expect(t).toBe(i == n - 1 ? <i32>PUBLISH : 0);
    }
    expect(q.messageId).toBe(77);
    expect(q.topicLen).toBe(3);
    expect(load<u8>(q.topicPtr + 2)).toBe(0x62);
  });
  it("refuses to encode what it would refuse to decode", () => {
    const p = changetype<Packet>(REC);
    clearPacket(p);
    p.type = SUBSCRIBE;
    p.messageId = 1;
    expect(encodePacket(p, BUF, 200)).toBe(S.E_MQTT_NO_TOPICS);
    p.type = 0;
    expect(encodePacket(p, BUF, 200)).toBe(S.E_MQTT_RESERVED_PACKET_TYPE);
  });
  it("refuses a packet larger than the receive buffer from its header", () => {
    rxReset();
    const w = rxWindow();
    expect(rxSpace()).toBeGreaterThan(3);
    store<u8>(w, 0x30);
    store<u8>(w + 1, 0xff);
    store<u8>(w + 2, 0x7f); // 16383 bytes announced, buffer is 8192 in the spec build
    rxCommit(3);
    expect(decodeNext(changetype<Packet>(REC2))).toBe(S.E_MQTT_PACKET_TOO_LARGE);
    rxReset();
  });
});
