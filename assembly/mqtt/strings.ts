// MQTT string rules: well-formed UTF-8 without U+0000 (MQTT-1.5.3), PUBLISH topic names without wildcards,
// topic filters with wildcards only where MQTT-4.7.1 allows them.
import { OK } from "../status";
import {
  E_MQTT_UTF8_INVALID, E_MQTT_UTF8_NULL, E_MQTT_TOPIC_EMPTY, E_MQTT_TOPIC_WILDCARD, E_MQTT_TOPIC_FILTER_INVALID, E_MQTT_NO_TOPICS, E_MQTT_FIELD_OVERRUN,
  E_MQTT_SUBSCRIBE_RESERVED, E_MQTT_BAD_QOS,
} from "./status";

// SWAR constants: eight bytes are checked per step while the text is plain ASCII (the common case).
const ONES: u64 = 0x0101010101010101;
const HIGH: u64 = 0x8080808080808080;

/** Non-zero if some byte of an all-ASCII word `v` equals `b` (the classic has-zero-byte trick). */
// @ts-ignore: decorator
@inline function hasByte(v: u64, b: u64): u64 {
  const x = v ^ (ONES * b);
  return (x - ONES) & ~x & HIGH;
}

/**
 * OK if [ptr, ptr+len) is well-formed UTF-8 with no U+0000 and, when `noWildcards`, no '+' or '#';
 * otherwise the rule it breaks.
 */
function scanText(ptr: usize, len: u32, noWildcards: bool): i32 {
  let i: usize = 0;
  const n = <usize>len;
  while (i < n) {
    // Fast path: whole words of ASCII with none of the forbidden bytes.
    while (i + 8 <= n) {
      const v = load<u64>(ptr + i);
      let bad = (v & HIGH) | hasByte(v, 0);
      if (noWildcards) bad |= hasByte(v, 0x2B) | hasByte(v, 0x23);
      if (bad != 0) break;
      i += 8;
    }
    if (i >= n) break;
    const b0 = <u32>load<u8>(ptr + i);
    if (b0 < 0x80) {
      if (b0 == 0) return E_MQTT_UTF8_NULL;
      if (noWildcards && (b0 == 0x2B || b0 == 0x23)) return E_MQTT_TOPIC_WILDCARD;
      i++;
      continue;
    }
    if (b0 < 0xC2) return E_MQTT_UTF8_INVALID; // continuation byte first, or overlong 2-byte form (C0, C1)
    if (b0 < 0xE0) {
      if (i + 1 >= n) return E_MQTT_UTF8_INVALID;
      if ((<u32>load<u8>(ptr + i + 1) & 0xC0) != 0x80) return E_MQTT_UTF8_INVALID;
      i += 2;
      continue;
    }
    if (b0 < 0xF0) {
      if (i + 2 >= n) return E_MQTT_UTF8_INVALID;
      const b1 = <u32>load<u8>(ptr + i + 1);
      const b2 = <u32>load<u8>(ptr + i + 2);
      if ((b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80) return E_MQTT_UTF8_INVALID;
      if (b0 == 0xE0 && b1 < 0xA0) return E_MQTT_UTF8_INVALID; // overlong
      if (b0 == 0xED && b1 >= 0xA0) return E_MQTT_UTF8_INVALID; // UTF-16 surrogate D800..DFFF
      i += 3;
      continue;
    }
    if (b0 < 0xF5) {
      if (i + 3 >= n) return E_MQTT_UTF8_INVALID;
      const b1 = <u32>load<u8>(ptr + i + 1);
      const b2 = <u32>load<u8>(ptr + i + 2);
      const b3 = <u32>load<u8>(ptr + i + 3);
      if ((b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80 || (b3 & 0xC0) != 0x80) return E_MQTT_UTF8_INVALID;
      if (b0 == 0xF0 && b1 < 0x90) return E_MQTT_UTF8_INVALID; // overlong
      if (b0 == 0xF4 && b1 >= 0x90) return E_MQTT_UTF8_INVALID; // beyond U+10FFFF
      i += 4;
      continue;
    }
    return E_MQTT_UTF8_INVALID;
  }
  return OK;
}

/** OK if [ptr, ptr+len) is well-formed UTF-8 with no U+0000; otherwise the rule it breaks. */
export function validateUtf8(ptr: usize, len: u32): i32 {
  return scanText(ptr, len, false);
}

/** A PUBLISH topic name: non-empty, valid UTF-8, no wildcard characters. */
export function validateTopicName(ptr: usize, len: u32): i32 {
  if (len == 0) return E_MQTT_TOPIC_EMPTY;
  return scanText(ptr, len, true);
}

/** A topic filter: non-empty, valid UTF-8, '+' alone in its level, '#' alone in the last level. */
export function validateTopicFilter(ptr: usize, len: u32): i32 {
  if (len == 0) return E_MQTT_TOPIC_FILTER_INVALID;
  const n = <usize>len;
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(ptr + i);
    if (c == 0x2B || c == 0x23) {
      const startsLevel = i == 0 || load<u8>(ptr + i - 1) == 0x2F;
      const endsLevel = i + 1 == n || load<u8>(ptr + i + 1) == 0x2F;
      if (!startsLevel || !endsLevel) return E_MQTT_TOPIC_FILTER_INVALID;
      if (c == 0x23 && i + 1 != n) return E_MQTT_TOPIC_FILTER_INVALID;
    }
  }
  return validateUtf8(ptr, len);
}

/** Validates a SUBSCRIBE/UNSUBSCRIBE list in wire form; returns the entry count or a status. */
export function checkTopicList(ptr: usize, len: u32, withOptions: bool): i32 {
  if (len == 0) return E_MQTT_NO_TOPICS;
  let q = ptr;
  const end = ptr + <usize>len;
  let count: i32 = 0;
  while (q < end) {
    if (q + 2 > end) return E_MQTT_FIELD_OVERRUN;
    const n = (<u32>load<u8>(q) << 8) | <u32>load<u8>(q + 1);
    if (q + 2 + <usize>n > end) return E_MQTT_FIELD_OVERRUN;
    const r = validateTopicFilter(q + 2, n);
    if (r != OK) return r;
    q += 2 + <usize>n;
    if (withOptions) {
      if (q >= end) return E_MQTT_FIELD_OVERRUN;
      const o = <u32>load<u8>(q);
      if ((o & 0xFC) != 0) return E_MQTT_SUBSCRIBE_RESERVED;
      if (o == 3) return E_MQTT_BAD_QOS;
      q++;
    }
    count++;
  }
  return count;
}
