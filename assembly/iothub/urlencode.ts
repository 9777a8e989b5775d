// Percent-encoding over UTF-8 bytes, two flavours:
//  - strict (SAS resource URIs, signatures, key names, DPS operation ids): only A-Z a-z 0-9 - _ . ~ stay bare,
//    as azure-sdk-for-c and the hub's SDKs do; hex digits are uppercase.
//  - component (property bags, username query values): exactly JavaScript's encodeURIComponent, which also
//    leaves ! ' ( ) * bare — what the hub's Node SDK sends and the hub decodes.
// Decoding turns %XX back into bytes and refuses a '%' without two hex digits ('+' is not a space here).

import { wBegin, wByte, wPercent, wDone } from "./writer";
import { E_IOTHUB_URL_BAD_ESCAPE } from "./status";
import { E_BUFFER_TOO_SMALL } from "../status";

// @ts-ignore: decorator
@inline function isAlnum(c: u32): bool { return (c - 48 < 10) || ((c | 32) - 97 < 26); }

// @ts-ignore: decorator
@inline export function isUnreservedStrict(c: u32): bool { return isAlnum(c) || c == 45 || c == 95 || c == 46 || c == 126; }

/** encodeURIComponent's bare set: A-Z a-z 0-9 - _ . ! ~ * ' ( ). */
// @ts-ignore: decorator
@inline export function isUnreservedComponent(c: u32): bool {
  return isUnreservedStrict(c) || c == 33 || c == 42 || c == 39 || c == 40 || c == 41;
}

/** Appends len bytes at src to the current writer, percent-encoded. */
export function wEncoded(src: usize, len: i32, component: bool): void {
  for (let i: i32 = 0; i < len; i++) {
    const c = <u32>load<u8>(src + i);
    if (component ? isUnreservedComponent(c) : isUnreservedStrict(c)) wByte(c); else wPercent(c);
  }
}

/** Encodes into out (cap). Returns the length written or E_BUFFER_TOO_SMALL. */
export function urlEncode(src: usize, len: i32, out: usize, cap: i32, component: bool): i32 {
  wBegin(out, cap);
  wEncoded(src, len, component);
  return wDone();
}

// @ts-ignore: decorator
@inline export function hexVal(c: u32): i32 {
  if (c - 48 < 10) return <i32>(c - 48);
  const l = c | 32;
  if (l - 97 < 6) return <i32>(l - 87);
  return -1;
}

/** Decoded length of [src, src+len), or E_IOTHUB_URL_BAD_ESCAPE. */
export function urlDecodedLen(src: usize, len: i32): i32 {
  let n: i32 = 0;
  for (let i: i32 = 0; i < len; i++) {
    if (load<u8>(src + i) == 37) {
      if (i + 2 >= len || hexVal(load<u8>(src + i + 1)) < 0 || hexVal(load<u8>(src + i + 2)) < 0) return E_IOTHUB_URL_BAD_ESCAPE;
      i += 2;
    }
    n++;
  }
  return n;
}

/** Decodes into out (cap). Returns the decoded length, E_IOTHUB_URL_BAD_ESCAPE or E_BUFFER_TOO_SMALL. out may equal src. */
export function urlDecode(src: usize, len: i32, out: usize, cap: i32): i32 {
  const n = urlDecodedLen(src, len);
  if (n < 0) return n;
  if (n > cap) return E_BUFFER_TOO_SMALL;
  let o = out;
  for (let i: i32 = 0; i < len; i++) {
    let c = <u32>load<u8>(src + i);
    if (c == 37) { c = <u32>((hexVal(load<u8>(src + i + 1)) << 4) | hexVal(load<u8>(src + i + 2))); i += 2; }
    store<u8>(o, <u8>c); o++;
  }
  return n;
}

/**
 * 1 when the percent-encoded bytes [raw, raw+rawLen) decode to exactly [plain, plain+plainLen), else 0.
 * Lets a caller look a property up by its plain name without decoding into a buffer.
 */
export function urlDecodedEquals(raw: usize, rawLen: i32, plain: usize, plainLen: i32): bool {
  let j: i32 = 0;
  for (let i: i32 = 0; i < rawLen; i++) {
    let c = <u32>load<u8>(raw + i);
    if (c == 37) {
      if (i + 2 >= rawLen) return false;
      const h = hexVal(load<u8>(raw + i + 1)), l = hexVal(load<u8>(raw + i + 2));
      if (h < 0 || l < 0) return false;
      c = <u32>((h << 4) | l); i += 2;
    }
    if (j >= plainLen || <u32>load<u8>(plain + j) != c) return false;
    j++;
  }
  return j == plainLen;
}
