// Status codes of the MQTT codec (-10 .. -99). One code per rule, so a refusal says exactly what was wrong.

/** Packet type 0 or 15 (reserved), or an unknown type asked of the encoder. */
export const E_MQTT_RESERVED_PACKET_TYPE: i32 = -10;
/** Fixed-header flag bits that the packet type does not allow (PUBREL/SUBSCRIBE/UNSUBSCRIBE need 0b0010). */
export const E_MQTT_BAD_FLAGS: i32 = -11;
/** A QoS of 3 (PUBLISH, will, subscription or SUBACK). */
export const E_MQTT_BAD_QOS: i32 = -12;
/** The remaining length uses more than 4 bytes. */
export const E_MQTT_REMAINING_LENGTH: i32 = -13;
/** The packet is larger than this profile's buffer: refused when its header is read, never truncated. */
export const E_MQTT_PACKET_TOO_LARGE: i32 = -14;
/** A packet with a fixed size (CONNACK, acks, PINGREQ/PINGRESP, DISCONNECT) has another length, or a body is too short. */
export const E_MQTT_BAD_LENGTH: i32 = -15;
/** A string or binary field runs past the remaining length. */
export const E_MQTT_FIELD_OVERRUN: i32 = -16;
/** Bytes left over after the last field of a packet whose layout is fixed. */
export const E_MQTT_TRAILING_BYTES: i32 = -17;
/** Not well-formed UTF-8: bad sequence, overlong form, surrogate or beyond U+10FFFF. */
export const E_MQTT_UTF8_INVALID: i32 = -18;
/** U+0000 inside a string. */
export const E_MQTT_UTF8_NULL: i32 = -19;
/** A PUBLISH topic of length zero. */
export const E_MQTT_TOPIC_EMPTY: i32 = -20;
/** A wildcard (+ or #) in a PUBLISH topic. */
export const E_MQTT_TOPIC_WILDCARD: i32 = -21;
/** A topic filter that is empty or uses a wildcard in the wrong place. */
export const E_MQTT_TOPIC_FILTER_INVALID: i32 = -22;
/** Packet identifier 0 where one is required. */
export const E_MQTT_PACKET_ID_ZERO: i32 = -23;
/** CONNACK acknowledge flags with reserved bits set, or session present with a refusal. */
export const E_MQTT_CONNACK_FLAGS: i32 = -24;
/** CONNACK return code above 5. */
export const E_MQTT_CONNACK_RETURN_CODE: i32 = -25;
/** A SUBACK return code other than 0, 1, 2 or 0x80. */
export const E_MQTT_SUBACK_RETURN_CODE: i32 = -26;
/** SUBSCRIBE, UNSUBSCRIBE or SUBACK with no entries. */
export const E_MQTT_NO_TOPICS: i32 = -27;
/** CONNECT protocol name is not "MQTT" (or "MQIsdp" with level 3). */
export const E_MQTT_PROTOCOL_NAME: i32 = -28;
/** CONNECT protocol level is not 4 (3 for "MQIsdp"). */
export const E_MQTT_PROTOCOL_LEVEL: i32 = -29;
/** CONNECT reserved flag bit set. */
export const E_MQTT_CONNECT_RESERVED: i32 = -30;
/** CONNECT password flag without user name flag. */
export const E_MQTT_PASSWORD_WITHOUT_USERNAME: i32 = -31;
/** Will QoS or will retain set without the will flag. */
export const E_MQTT_WILL_FLAGS: i32 = -32;
/** SUBSCRIBE options byte with reserved bits set. */
export const E_MQTT_SUBSCRIBE_RESERVED: i32 = -33;
/** DUP set on a QoS 0 PUBLISH. */
export const E_MQTT_DUP_ON_QOS0: i32 = -34;
/** A string or binary field longer than 65,535 bytes. */
export const E_MQTT_FIELD_TOO_LONG: i32 = -35;

export function mqttStatusName(code: i32): string | null {
  switch (code) {
    case E_MQTT_RESERVED_PACKET_TYPE: return "MQTT_RESERVED_PACKET_TYPE";
    case E_MQTT_BAD_FLAGS: return "MQTT_BAD_FLAGS";
    case E_MQTT_BAD_QOS: return "MQTT_BAD_QOS";
    case E_MQTT_REMAINING_LENGTH: return "MQTT_REMAINING_LENGTH";
    case E_MQTT_PACKET_TOO_LARGE: return "MQTT_PACKET_TOO_LARGE";
    case E_MQTT_BAD_LENGTH: return "MQTT_BAD_LENGTH";
    case E_MQTT_FIELD_OVERRUN: return "MQTT_FIELD_OVERRUN";
    case E_MQTT_TRAILING_BYTES: return "MQTT_TRAILING_BYTES";
    case E_MQTT_UTF8_INVALID: return "MQTT_UTF8_INVALID";
    case E_MQTT_UTF8_NULL: return "MQTT_UTF8_NULL";
    case E_MQTT_TOPIC_EMPTY: return "MQTT_TOPIC_EMPTY";
    case E_MQTT_TOPIC_WILDCARD: return "MQTT_TOPIC_WILDCARD";
    case E_MQTT_TOPIC_FILTER_INVALID: return "MQTT_TOPIC_FILTER_INVALID";
    case E_MQTT_PACKET_ID_ZERO: return "MQTT_PACKET_ID_ZERO";
    case E_MQTT_CONNACK_FLAGS: return "MQTT_CONNACK_FLAGS";
    case E_MQTT_CONNACK_RETURN_CODE: return "MQTT_CONNACK_RETURN_CODE";
    case E_MQTT_SUBACK_RETURN_CODE: return "MQTT_SUBACK_RETURN_CODE";
    case E_MQTT_NO_TOPICS: return "MQTT_NO_TOPICS";
    case E_MQTT_PROTOCOL_NAME: return "MQTT_PROTOCOL_NAME";
    case E_MQTT_PROTOCOL_LEVEL: return "MQTT_PROTOCOL_LEVEL";
    case E_MQTT_CONNECT_RESERVED: return "MQTT_CONNECT_RESERVED";
    case E_MQTT_PASSWORD_WITHOUT_USERNAME: return "MQTT_PASSWORD_WITHOUT_USERNAME";
    case E_MQTT_WILL_FLAGS: return "MQTT_WILL_FLAGS";
    case E_MQTT_SUBSCRIBE_RESERVED: return "MQTT_SUBSCRIBE_RESERVED";
    case E_MQTT_DUP_ON_QOS0: return "MQTT_DUP_ON_QOS0";
    case E_MQTT_FIELD_TOO_LONG: return "MQTT_FIELD_TOO_LONG";
  }
  return null;
}
