// base64 (RFC 4648 §4, standard alphabet, '=' padding required). The decoder is strict: bad characters, a
// length that is not a multiple of 4, misplaced padding and non-zero bits under the padding are coded errors,
// so a mistyped key is reported instead of silently signing with different bytes.

import { E_CRYPTO_BASE64_BAD_CHAR, E_CRYPTO_BASE64_BAD_LENGTH, E_CRYPTO_BASE64_BAD_PADDING } from "./status";
import { E_BUFFER_TOO_SMALL } from "../status";

// @ts-ignore: decorator
@inline function enc6(v: u32): u32 {
  // A-Z a-z 0-9 + / without a table (saves 64 bytes of static data on the MCU).
  if (v < 26) return v + 65;
  if (v < 52) return v + 71;
  if (v < 62) return v - 4;
  return v == 62 ? 43 : 47;
}

// @ts-ignore: decorator
@inline function dec6(c: u32): i32 {
  if (c - 65 < 26) return <i32>(c - 65);
  if (c - 97 < 26) return <i32>(c - 71);
  if (c - 48 < 10) return <i32>(c + 4);
  if (c == 43) return 62;
  if (c == 47) return 63;
  return -1;
}

/** Encoded length of n bytes. */
export function base64EncodedLen(n: i32): i32 { return ((n + 2) / 3) * 4; }

/** Encodes len bytes at src into out (cap bytes). Returns the length written or E_BUFFER_TOO_SMALL. */
export function base64Encode(src: usize, len: i32, out: usize, cap: i32): i32 {
  const need = base64EncodedLen(len);
  if (need > cap) return E_BUFFER_TOO_SMALL;
  let i: i32 = 0, o = out;
  for (; i + 3 <= len; i += 3) {
    const v = (<u32>load<u8>(src + i) << 16) | (<u32>load<u8>(src + i + 1) << 8) | <u32>load<u8>(src + i + 2);
    store<u8>(o, enc6(v >>> 18)); store<u8>(o + 1, enc6((v >>> 12) & 63));
    store<u8>(o + 2, enc6((v >>> 6) & 63)); store<u8>(o + 3, enc6(v & 63));
    o += 4;
  }
  const rest = len - i;
  if (rest == 1) {
    const v = <u32>load<u8>(src + i) << 16;
    store<u8>(o, enc6(v >>> 18)); store<u8>(o + 1, enc6((v >>> 12) & 63));
    store<u8>(o + 2, 61); store<u8>(o + 3, 61);
  } else if (rest == 2) {
    const v = (<u32>load<u8>(src + i) << 16) | (<u32>load<u8>(src + i + 1) << 8);
    store<u8>(o, enc6(v >>> 18)); store<u8>(o + 1, enc6((v >>> 12) & 63));
    store<u8>(o + 2, enc6((v >>> 6) & 63)); store<u8>(o + 3, 61);
  }
  return need;
}

/**
 * Decoded length of a base64 text of len bytes at src, after checking its shape (length, padding position);
 * characters are checked by base64Decode. Negative status on a bad shape.
 */
export function base64DecodedLen(src: usize, len: i32): i32 {
  if (len == 0) return 0;
  if ((len & 3) != 0) return E_CRYPTO_BASE64_BAD_LENGTH;
  let pad: i32 = 0;
  if (load<u8>(src + len - 1) == 61) pad = load<u8>(src + len - 2) == 61 ? 2 : 1;
  return (len >> 2) * 3 - pad;
}

/** Decodes base64 at src (len bytes) into out (cap bytes). Returns the decoded length or a negative status. */
export function base64Decode(src: usize, len: i32, out: usize, cap: i32): i32 {
  const n = base64DecodedLen(src, len);
  if (n < 0) return n;
  if (n > cap) return E_BUFFER_TOO_SMALL;
  let o = out;
  for (let i: i32 = 0; i < len; i += 4) {
    const last = i + 4 == len;
    const c0 = dec6(load<u8>(src + i)), c1 = dec6(load<u8>(src + i + 1));
    const b2 = <u32>load<u8>(src + i + 2), b3 = <u32>load<u8>(src + i + 3);
    if (c0 < 0 || c1 < 0) return (load<u8>(src + i) == 61 || load<u8>(src + i + 1) == 61) ? E_CRYPTO_BASE64_BAD_PADDING : E_CRYPTO_BASE64_BAD_CHAR;
    if (b3 == 61) {
      if (!last) return E_CRYPTO_BASE64_BAD_PADDING;
      if (b2 == 61) {
        if ((c1 & 15) != 0) return E_CRYPTO_BASE64_BAD_PADDING;
        store<u8>(o, <u8>((c0 << 2) | (c1 >> 4)));
        o += 1;
      } else {
        const c2 = dec6(b2);
        if (c2 < 0) return E_CRYPTO_BASE64_BAD_CHAR;
        if ((c2 & 3) != 0) return E_CRYPTO_BASE64_BAD_PADDING;
        store<u8>(o, <u8>((c0 << 2) | (c1 >> 4)));
        store<u8>(o + 1, <u8>(((c1 & 15) << 4) | (c2 >> 2)));
        o += 2;
      }
    } else {
      if (b2 == 61) return E_CRYPTO_BASE64_BAD_PADDING;
      const c2 = dec6(b2), c3 = dec6(b3);
      if (c2 < 0 || c3 < 0) return E_CRYPTO_BASE64_BAD_CHAR;
      const v = (<u32>c0 << 18) | (<u32>c1 << 12) | (<u32>c2 << 6) | <u32>c3;
      store<u8>(o, <u8>(v >>> 16)); store<u8>(o + 1, <u8>(v >>> 8)); store<u8>(o + 2, <u8>v);
      o += 3;
    }
  }
  return <i32>(o - out);
}
