// The decoded device/group key lives in one static buffer: IoT Hub keys are 32 or 64 bytes once decoded,
// so 64 bytes is enough and anything longer is refused with a code.

import { base64Decode, base64DecodedLen } from "../crypto/base64";
import { E_IOTHUB_KEY_TOO_LONG, E_IOTHUB_KEY_EMPTY } from "./status";

export const KEY_CAPACITY: i32 = 64;
const KEY: usize = memory.data(64, 8);

export function keyBuffer(): usize { return KEY; }

/** Decodes a base64 key into the key buffer. Returns its length, or CRYPTO_BASE64_* / IOTHUB_KEY_TOO_LONG / IOTHUB_KEY_EMPTY. */
export function decodeKey(b64: usize, len: i32): i32 {
  const n = base64DecodedLen(b64, len);
  if (n < 0) return n;
  if (n == 0) return E_IOTHUB_KEY_EMPTY;
  if (n > KEY_CAPACITY) return E_IOTHUB_KEY_TOO_LONG;
  return base64Decode(b64, len, KEY, KEY_CAPACITY);
}
