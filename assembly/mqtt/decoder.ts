// Decoding one whole packet into a Packet record. Fields become views into the input bytes; every rule of
// MQTT 3.1.1 that a receiver can check is checked here, each with its own status code.
import { OK } from "../status";
import {
  Packet, clearPacket, CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK,
  UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT,
} from "./packet";
import {
  E_MQTT_RESERVED_PACKET_TYPE, E_MQTT_BAD_FLAGS, E_MQTT_BAD_QOS, E_MQTT_BAD_LENGTH, E_MQTT_FIELD_OVERRUN, E_MQTT_TRAILING_BYTES,
  E_MQTT_PACKET_ID_ZERO, E_MQTT_CONNACK_FLAGS, E_MQTT_CONNACK_RETURN_CODE, E_MQTT_SUBACK_RETURN_CODE, E_MQTT_NO_TOPICS,
  E_MQTT_PROTOCOL_NAME, E_MQTT_PROTOCOL_LEVEL, E_MQTT_CONNECT_RESERVED, E_MQTT_PASSWORD_WITHOUT_USERNAME, E_MQTT_WILL_FLAGS,
  E_MQTT_SUBSCRIBE_RESERVED, E_MQTT_DUP_ON_QOS0,
} from "./status";
import { validateUtf8, validateTopicName, checkTopicList } from "./strings";

// @ts-ignore: decorator
@inline function u16be(ptr: usize): u32 {
  return (<u32>load<u8>(ptr) << 8) | <u32>load<u8>(ptr + 1);
}

/**
 * Checks the first byte of a fixed header: a known type and the flag bits that type allows. Called as soon as
 * the byte arrives, so a stream of garbage is refused before its (fake) length is waited for.
 */
export function checkFirstByte(first: u32): i32 {
  const type = first >> 4;
  const flags = first & 0x0F;
  if (type == 0 || type == 15) return E_MQTT_RESERVED_PACKET_TYPE;
  if (type == PUBLISH) {
    const qos = (flags >> 1) & 3;
    if (qos == 3) return E_MQTT_BAD_QOS;
    if (qos == 0 && (flags & 8) != 0) return E_MQTT_DUP_ON_QOS0;
    return OK;
  }
  if (type == PUBREL || type == SUBSCRIBE || type == UNSUBSCRIBE) return flags == 2 ? OK : E_MQTT_BAD_FLAGS;
  return flags == 0 ? OK : E_MQTT_BAD_FLAGS;
}

// Cursor over the body while decoding; globals keep the decoder free of allocation.
let cur: usize = 0;
let end: usize = 0;

/** Reads a length-prefixed field: sets fieldPtr/fieldLen, or returns E_MQTT_FIELD_OVERRUN. */
let fieldPtr: usize = 0;
let fieldLen: u32 = 0;
function readField(): i32 {
  if (cur + 2 > end) return E_MQTT_FIELD_OVERRUN;
  const n = u16be(cur);
  if (cur + 2 + <usize>n > end) return E_MQTT_FIELD_OVERRUN;
  fieldPtr = cur + 2;
  fieldLen = n;
  cur += 2 + <usize>n;
  return OK;
}

function readMessageId(p: Packet): i32 {
  if (cur + 2 > end) return E_MQTT_BAD_LENGTH;
  const id = u16be(cur);
  if (id == 0) return E_MQTT_PACKET_ID_ZERO;
  p.messageId = id;
  cur += 2;
  return OK;
}

/**
 * Decodes the packet whose first byte is `first` and whose body (after the remaining-length field) is
 * [body, body+len). The first byte must already have passed checkFirstByte.
 */
export function decodeBody(p: Packet, first: u32, body: usize, len: u32): i32 {
  clearPacket(p);
  const type = first >> 4;
  p.type = type;
  p.flags = first & 0x0F;
  p.length = len;
  cur = body;
  end = body + <usize>len;
  switch (type) {
    case CONNECT: return decodeConnect(p);
    case CONNACK: {
      if (len != 2) return E_MQTT_BAD_LENGTH;
      const ack = <u32>load<u8>(body);
      const rc = <u32>load<u8>(body + 1);
      if ((ack & 0xFE) != 0) return E_MQTT_CONNACK_FLAGS;
      if (rc > 5) return E_MQTT_CONNACK_RETURN_CODE;
      if (rc != 0 && ack != 0) return E_MQTT_CONNACK_FLAGS; // MQTT-3.2.2-4: no session with a refusal
      p.sessionPresent = ack;
      p.returnCode = rc;
      return OK;
    }
    case PUBLISH: return decodePublish(p);
    case PUBACK: case PUBREC: case PUBREL: case PUBCOMP: case UNSUBACK: {
      if (len != 2) return E_MQTT_BAD_LENGTH;
      if (type == PUBREL) p.qos = 1;
      return readMessageId(p);
    }
    case SUBSCRIBE: case UNSUBSCRIBE: return decodeTopicList(p, type == SUBSCRIBE);
    case SUBACK: {
      const r = readMessageId(p);
      if (r != OK) return r;
      if (cur == end) return E_MQTT_NO_TOPICS;
      p.listPtr = cur;
      p.listLen = <u32>(end - cur);
      p.listCount = <u32>(end - cur);
      for (let q = cur; q < end; q++) {
        const rc = load<u8>(q);
        if (rc > 2 && rc != 0x80) return E_MQTT_SUBACK_RETURN_CODE;
      }
      return OK;
    }
    case PINGREQ: case PINGRESP: case DISCONNECT:
      return len == 0 ? OK : E_MQTT_BAD_LENGTH;
  }
  return E_MQTT_RESERVED_PACKET_TYPE;
}

function decodePublish(p: Packet): i32 {
  const flags = p.flags;
  p.qos = (flags >> 1) & 3;
  p.dup = (flags >> 3) & 1;
  p.retain = flags & 1;
  let r = readField();
  if (r != OK) return r;
  r = validateTopicName(fieldPtr, fieldLen);
  if (r != OK) return r;
  p.topicPtr = fieldPtr;
  p.topicLen = fieldLen;
  if (p.qos > 0) {
    if (cur + 2 > end) return E_MQTT_FIELD_OVERRUN;
    r = readMessageId(p);
    if (r != OK) return r;
  }
  p.payloadPtr = cur;
  p.payloadLen = <u32>(end - cur);
  return OK;
}

function decodeTopicList(p: Packet, withOptions: bool): i32 {
  p.qos = 1; // the flag bits 0b0010, as mqtt-packet reports them
  const r = readMessageId(p);
  if (r != OK) return r;
  const count = checkTopicList(cur, <u32>(end - cur), withOptions);
  if (count < 0) return count;
  p.listPtr = cur;
  p.listLen = <u32>(end - cur);
  p.listCount = <u32>count;
  return OK;
}

function decodeConnect(p: Packet): i32 {
  let r = readField();
  if (r != OK) return r;
  p.protocolPtr = fieldPtr;
  p.protocolLen = fieldLen;
  if (cur + 4 > end) return E_MQTT_FIELD_OVERRUN;
  const level = <u32>load<u8>(cur);
  const flags = <u32>load<u8>(cur + 1);
  p.keepalive = u16be(cur + 2);
  cur += 4;
  r = checkProtocol(p.protocolPtr, p.protocolLen, level);
  if (r != OK) return r;
  p.protocolLevel = level;
  r = checkConnectFlags(flags);
  if (r != OK) return r;
  p.clean = (flags >> 1) & 1;
  p.willFlag = (flags >> 2) & 1;
  p.willQos = (flags >> 3) & 3;
  p.willRetain = (flags >> 5) & 1;
  p.hasPassword = (flags >> 6) & 1;
  p.hasUsername = (flags >> 7) & 1;

  r = readField();
  if (r != OK) return r;
  r = validateUtf8(fieldPtr, fieldLen);
  if (r != OK) return r;
  p.clientIdPtr = fieldPtr;
  p.clientIdLen = fieldLen;
  if (p.willFlag) {
    r = readField();
    if (r != OK) return r;
    r = validateTopicName(fieldPtr, fieldLen);
    if (r != OK) return r;
    p.willTopicPtr = fieldPtr;
    p.willTopicLen = fieldLen;
    r = readField();
    if (r != OK) return r;
    p.willPayloadPtr = fieldPtr;
    p.willPayloadLen = fieldLen;
  }
  if (p.hasUsername) {
    r = readField();
    if (r != OK) return r;
    r = validateUtf8(fieldPtr, fieldLen);
    if (r != OK) return r;
    p.usernamePtr = fieldPtr;
    p.usernameLen = fieldLen;
  }
  if (p.hasPassword) {
    r = readField();
    if (r != OK) return r;
    p.passwordPtr = fieldPtr;
    p.passwordLen = fieldLen;
  }
  return cur == end ? OK : E_MQTT_TRAILING_BYTES;
}

/** "MQTT" level 4 (MQTT 3.1.1), or "MQIsdp" level 3 (MQTT 3.1, same wire format for everything we use). */
export function checkProtocol(ptr: usize, len: u32, level: u32): i32 {
  if (len == 4 && load<u32>(ptr) == 0x5454514D) return level == 4 ? OK : E_MQTT_PROTOCOL_LEVEL; // "MQTT"
  if (len == 6 && load<u32>(ptr) == 0x7349514D && load<u16>(ptr + 4) == 0x7064) { // "MQIsdp"
    return level == 3 ? OK : E_MQTT_PROTOCOL_LEVEL;
  }
  return E_MQTT_PROTOCOL_NAME;
}

/** The CONNECT flags byte: reserved bit clear, will QoS/retain only with a will, no password without user. */
export function checkConnectFlags(flags: u32): i32 {
  if ((flags & 1) != 0) return E_MQTT_CONNECT_RESERVED;
  const will = (flags >> 2) & 1;
  const willQos = (flags >> 3) & 3;
  if (willQos == 3) return E_MQTT_BAD_QOS;
  if (will == 0 && (willQos != 0 || (flags & 0x20) != 0)) return E_MQTT_WILL_FLAGS;
  if ((flags & 0x40) != 0 && (flags & 0x80) == 0) return E_MQTT_PASSWORD_WITHOUT_USERNAME;
  return OK;
}
