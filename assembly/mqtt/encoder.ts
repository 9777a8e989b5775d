// Encoding a Packet record into bytes. Like coreMQTT, sizing and writing are separate steps so nothing is
// written unless the whole packet fits; the encoder refuses what the decoder would refuse.
import { OK } from "../status";
import {
  Packet, CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE,
  UNSUBACK, PINGREQ, PINGRESP, DISCONNECT,
} from "./packet";
import {
  E_MQTT_RESERVED_PACKET_TYPE, E_MQTT_BAD_QOS, E_MQTT_PACKET_TOO_LARGE, E_MQTT_FIELD_OVERRUN, E_MQTT_PACKET_ID_ZERO,
  E_MQTT_CONNACK_FLAGS, E_MQTT_CONNACK_RETURN_CODE, E_MQTT_SUBACK_RETURN_CODE, E_MQTT_NO_TOPICS, E_MQTT_SUBSCRIBE_RESERVED,
  E_MQTT_DUP_ON_QOS0, E_MQTT_FIELD_TOO_LONG, E_MQTT_WILL_FLAGS, E_MQTT_PASSWORD_WITHOUT_USERNAME,
} from "./status";
import { validateUtf8, validateTopicName, checkTopicList } from "./strings";
import { checkProtocol } from "./decoder";
import { varintSize, writeVarint, MAX_REMAINING_LENGTH } from "./varint";

// @ts-ignore: decorator
@inline function putU16(ptr: usize, v: u32): void {
  store<u8>(ptr, <u8>(v >> 8));
  store<u8>(ptr + 1, <u8>v);
}

// @ts-ignore: decorator
@inline function putField(at: usize, src: usize, len: u32): usize {
  putU16(at, len);
  memory.copy(at + 2, src, <usize>len);
  return at + 2 + <usize>len;
}

/** The CONNECT flags byte a Packet record asks for. */
function connectFlags(p: Packet): u32 {
  let f: u32 = 0;
  if (p.clean) f |= 0x02;
  if (p.willFlag) f |= 0x04 | ((p.willQos & 3) << 3) | (p.willRetain ? 0x20 : 0);
  if (p.hasPassword) f |= 0x40;
  if (p.hasUsername) f |= 0x80;
  return f;
}

/** Validates `p` and returns its remaining length, or a negative status. */
export function remainingLength(p: Packet): i32 {
  const type = p.type;
  switch (type) {
    case CONNECT: {
      if (p.protocolLen > 0xFFFF || p.clientIdLen > 0xFFFF || p.willTopicLen > 0xFFFF || p.willPayloadLen > 0xFFFF
        || p.usernameLen > 0xFFFF || p.passwordLen > 0xFFFF) return E_MQTT_FIELD_TOO_LONG;
      let r = checkProtocol(p.protocolPtr, p.protocolLen, p.protocolLevel);
      if (r != OK) return r;
      if (p.willFlag) {
        if (p.willQos > 2) return E_MQTT_BAD_QOS;
      } else if (p.willQos != 0 || p.willRetain != 0) return E_MQTT_WILL_FLAGS;
      if (p.hasPassword && !p.hasUsername) return E_MQTT_PASSWORD_WITHOUT_USERNAME;
      r = validateUtf8(p.clientIdPtr, p.clientIdLen);
      if (r != OK) return r;
      let n: u32 = 2 + p.protocolLen + 4 + 2 + p.clientIdLen;
      if (p.willFlag) {
        r = validateTopicName(p.willTopicPtr, p.willTopicLen);
        if (r != OK) return r;
        n += 4 + p.willTopicLen + p.willPayloadLen;
      }
      if (p.hasUsername) {
        r = validateUtf8(p.usernamePtr, p.usernameLen);
        if (r != OK) return r;
        n += 2 + p.usernameLen;
      }
      if (p.hasPassword) n += 2 + p.passwordLen;
      return <i32>n;
    }
    case CONNACK: {
      if (p.sessionPresent > 1) return E_MQTT_CONNACK_FLAGS;
      if (p.returnCode > 5) return E_MQTT_CONNACK_RETURN_CODE;
      if (p.returnCode != 0 && p.sessionPresent != 0) return E_MQTT_CONNACK_FLAGS;
      return 2;
    }
    case PUBLISH: {
      if (p.qos > 2) return E_MQTT_BAD_QOS;
      if (p.qos == 0 && p.dup) return E_MQTT_DUP_ON_QOS0;
      if (p.topicLen > 0xFFFF) return E_MQTT_FIELD_TOO_LONG;
      const r = validateTopicName(p.topicPtr, p.topicLen);
      if (r != OK) return r;
      if (p.qos > 0 && (p.messageId == 0 || p.messageId > 0xFFFF)) return E_MQTT_PACKET_ID_ZERO;
      const n = <u64>2 + <u64>p.topicLen + (p.qos > 0 ? 2 : 0) + <u64>p.payloadLen;
      if (n > <u64>MAX_REMAINING_LENGTH) return E_MQTT_PACKET_TOO_LARGE;
      return <i32>n;
    }
    case PUBACK: case PUBREC: case PUBREL: case PUBCOMP: case UNSUBACK:
      return p.messageId == 0 || p.messageId > 0xFFFF ? E_MQTT_PACKET_ID_ZERO : 2;
    case SUBSCRIBE: case UNSUBSCRIBE: {
      if (p.messageId == 0 || p.messageId > 0xFFFF) return E_MQTT_PACKET_ID_ZERO;
      const r = checkTopicList(p.listPtr, p.listLen, type == SUBSCRIBE);
      if (r < 0) return r;
      return 2 + <i32>p.listLen;
    }
    case SUBACK: {
      if (p.messageId == 0 || p.messageId > 0xFFFF) return E_MQTT_PACKET_ID_ZERO;
      if (p.listLen == 0) return E_MQTT_NO_TOPICS;
      for (let i: usize = 0; i < <usize>p.listLen; i++) {
        const rc = load<u8>(p.listPtr + i);
        if (rc > 2 && rc != 0x80) return rc == 3 ? E_MQTT_BAD_QOS : E_MQTT_SUBACK_RETURN_CODE;
      }
      return 2 + <i32>p.listLen;
    }
    case PINGREQ: case PINGRESP: case DISCONNECT:
      return 0;
  }
  return E_MQTT_RESERVED_PACKET_TYPE;
}

/** Total bytes `p` encodes to, or a negative status. */
export function packetSize(p: Packet): i32 {
  const rem = remainingLength(p);
  if (rem < 0) return rem;
  if (<u32>rem > MAX_REMAINING_LENGTH) return E_MQTT_PACKET_TOO_LARGE;
  return 1 + varintSize(<u32>rem) + rem;
}

/** Encodes `p` into [out, out+cap): returns the bytes written, or a negative status (nothing written). */
export function encodePacket(p: Packet, out: usize, cap: i32): i32 {
  return encode(p, out, cap, true);
}

/**
 * Encodes all of `p` but a PUBLISH payload, which the caller appends itself (a host that holds the payload in
 * its own memory saves a copy through linear memory). Returns the header's length; the packet is that plus
 * payloadLen, and must still fit `cap`.
 */
export function encodePacketHead(p: Packet, out: usize, cap: i32): i32 {
  return encode(p, out, cap, false);
}

function encode(p: Packet, out: usize, cap: i32, withPayload: bool): i32 {
  const rem = remainingLength(p);
  if (rem < 0) return rem;
  if (<u32>rem > MAX_REMAINING_LENGTH) return E_MQTT_PACKET_TOO_LARGE;
  const total = 1 + varintSize(<u32>rem) + rem;
  if (total > cap) return E_MQTT_PACKET_TOO_LARGE;
  const type = p.type;
  let flags: u32 = 0;
  if (type == PUBLISH) flags = (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
  else if (type == PUBREL || type == SUBSCRIBE || type == UNSUBSCRIBE) flags = 2;
  store<u8>(out, <u8>((type << 4) | flags));
  let at = out + 1 + <usize>writeVarint(out + 1, <u32>rem);
  switch (type) {
    case CONNECT: {
      at = putField(at, p.protocolPtr, p.protocolLen);
      store<u8>(at, <u8>p.protocolLevel);
      store<u8>(at + 1, <u8>connectFlags(p));
      putU16(at + 2, p.keepalive & 0xFFFF);
      at = putField(at + 4, p.clientIdPtr, p.clientIdLen);
      if (p.willFlag) {
        at = putField(at, p.willTopicPtr, p.willTopicLen);
        at = putField(at, p.willPayloadPtr, p.willPayloadLen);
      }
      if (p.hasUsername) at = putField(at, p.usernamePtr, p.usernameLen);
      if (p.hasPassword) at = putField(at, p.passwordPtr, p.passwordLen);
      break;
    }
    case CONNACK: {
      store<u8>(at, <u8>p.sessionPresent);
      store<u8>(at + 1, <u8>p.returnCode);
      break;
    }
    case PUBLISH: {
      at = putField(at, p.topicPtr, p.topicLen);
      if (p.qos > 0) {
        putU16(at, p.messageId);
        at += 2;
      }
      if (withPayload) memory.copy(at, p.payloadPtr, <usize>p.payloadLen);
      else return <i32>(at - out);
      break;
    }
    case PUBACK: case PUBREC: case PUBREL: case PUBCOMP: case UNSUBACK: {
      putU16(at, p.messageId);
      break;
    }
    case SUBSCRIBE: case UNSUBSCRIBE: case SUBACK: {
      putU16(at, p.messageId);
      memory.copy(at + 2, p.listPtr, <usize>p.listLen);
      break;
    }
  }
  return total;
}
