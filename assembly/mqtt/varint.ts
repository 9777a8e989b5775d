// The remaining-length field: 1 to 4 bytes, 7 bits each, least significant first (MQTT-2.2.3).
import { E_MQTT_REMAINING_LENGTH } from "./status";

export const MAX_REMAINING_LENGTH: u32 = 268435455;

/** Bytes the remaining-length field takes for `value`. */
// @ts-ignore: decorator
@inline export function varintSize(value: u32): i32 {
  return value < 128 ? 1 : value < 16384 ? 2 : value < 2097152 ? 3 : 4;
}

/** Writes `value` at `out` and returns the bytes written. The caller checked the room. */
export function writeVarint(out: usize, value: u32): i32 {
  let n: i32 = 0;
  do {
    let b = value & 0x7F;
    value >>= 7;
    if (value != 0) b |= 0x80;
    store<u8>(out + <usize>n, <u8>b);
    n++;
  } while (value != 0);
  return n;
}

// The result of readVarint: its value, kept in a global so the function stays allocation-free.
export let varintValue: u32 = 0;

/**
 * Reads a remaining length from [ptr, ptr+avail): the bytes it takes (value in `varintValue`), 0 if more bytes
 * are needed, or E_MQTT_REMAINING_LENGTH if a fourth byte still says "more".
 */
export function readVarint(ptr: usize, avail: i32): i32 {
  let value: u32 = 0;
  for (let i: i32 = 0; i < 4; i++) {
    if (i >= avail) return 0;
    const b = <u32>load<u8>(ptr + <usize>i);
    value |= (b & 0x7F) << (7 * <u32>i);
    if ((b & 0x80) == 0) {
      varintValue = value;
      return i + 1;
    }
  }
  return E_MQTT_REMAINING_LENGTH;
}
