// Message property bags: `name=value&name=value`, each part percent-encoded like encodeURIComponent over UTF-8
// (system properties `$.mid` … are therefore sent as `%24.mid`). A bare `name` (no '=') is a property whose
// value is null, which is how the hub sends it; an empty value (`name=`) is the empty string.
//
// Iterator (BagIterator below; views are absolute pointers into the bag, still percent-encoded — decode with
// urlDecode into a buffer of your own when you need the bytes).

import { wBegin, wByte, wDone, wLit } from "./writer";
import { wEncoded, hexVal, urlDecodedEquals } from "./urlencode";
import { E_IOTHUB_BAG_EMPTY_NAME, E_IOTHUB_URL_BAD_ESCAPE, E_IOTHUB_BAD_SYSTEM_PROPERTY } from "./status";
import { E_BAD_ARGUMENT } from "../status";

/** The property-bag iterator. */
@unmanaged
export class BagIterator {
  /** the bag being walked */
  bagPtr: u32;
  /** its length */
  bagLen: i32;
  /** offset of the next property */
  next: i32;
  /** the property's name (percent-encoded) */
  namePtr: u32;
  /** its length */
  nameLen: i32;
  /** the property's value (percent-encoded) */
  valuePtr: u32;
  /** its length, -1 = null (a bare name) */
  valueLen: i32;
  /** SYS_* for a system property, -1 for an application property */
  system: i32;
}
export const BAG_ITER_SIZE: i32 = offsetof<BagIterator>();

export const SYS_MESSAGE_ID: i32 = 0;       // $.mid
export const SYS_CORRELATION_ID: i32 = 1;   // $.cid
export const SYS_USER_ID: i32 = 2;          // $.uid
export const SYS_TO: i32 = 3;               // $.to
export const SYS_CONTENT_TYPE: i32 = 4;     // $.ct
export const SYS_CONTENT_ENCODING: i32 = 5; // $.ce
export const SYS_INTERFACE_ID: i32 = 6;     // $.ifid
export const SYS_EXPIRY: i32 = 7;           // $.exp
export const SYS_COMPONENT: i32 = 8;        // $.sub (IoT Plug and Play component)
export const SYS_COUNT: i32 = 9;

/** The suffix after "$." of a system property, or "" for an unknown index. */
export function sysSuffix(which: i32): string {
  switch (which) {
    case SYS_MESSAGE_ID: return "mid";
    case SYS_CORRELATION_ID: return "cid";
    case SYS_USER_ID: return "uid";
    case SYS_TO: return "to";
    case SYS_CONTENT_TYPE: return "ct";
    case SYS_CONTENT_ENCODING: return "ce";
    case SYS_INTERFACE_ID: return "ifid";
    case SYS_EXPIRY: return "exp";
    case SYS_COMPONENT: return "sub";
  }
  return "";
}

function appendStart(bag: usize, bagLen: i32, cap: i32): bool {
  if (bagLen < 0 || cap < bagLen) return false;
  wBegin(bag + <usize>bagLen, cap - bagLen);
  if (bagLen > 0) wByte(38);
  return true;
}

function appendEnd(bagLen: i32): i32 {
  const n = wDone();
  return n < 0 ? n : bagLen + n;
}

/**
 * Appends `enc(name)[=enc(value)]` to the bag of bagLen bytes at bag (capacity cap). valueLen < 0 = null value
 * (bare name). Returns the new bag length, E_BUFFER_TOO_SMALL, IOTHUB_BAG_EMPTY_NAME or E_BAD_ARGUMENT.
 */
export function bagAppend(bag: usize, bagLen: i32, cap: i32, namePtr: usize, nameLen: i32, valuePtr: usize, valueLen: i32): i32 {
  if (nameLen <= 0) return E_IOTHUB_BAG_EMPTY_NAME;
  if (!appendStart(bag, bagLen, cap)) return E_BAD_ARGUMENT;
  wEncoded(namePtr, nameLen, true);
  if (valueLen >= 0) { wByte(61); wEncoded(valuePtr, valueLen, true); }
  return appendEnd(bagLen);
}

/** Appends the system property `which` (SYS_*) as `%24.xxx=enc(value)`. */
export function bagAppendSystem(bag: usize, bagLen: i32, cap: i32, which: i32, valuePtr: usize, valueLen: i32): i32 {
  if (which < 0 || which >= SYS_COUNT) return E_IOTHUB_BAD_SYSTEM_PROPERTY;
  if (valueLen < 0) return E_BAD_ARGUMENT;
  if (!appendStart(bag, bagLen, cap)) return E_BAD_ARGUMENT;
  wLit("%24.");
  wLit(sysSuffix(which));
  wByte(61);
  wEncoded(valuePtr, valueLen, true);
  return appendEnd(bagLen);
}

/** 1 when the percent-encoded [raw, raw+len) decodes to "$." + suffix. */
function isSys(raw: usize, len: i32, suffix: string): bool {
  let i: i32;
  if (len >= 1 && load<u8>(raw) == 36) i = 1;
  else if (len >= 3 && load<u8>(raw) == 37 && load<u8>(raw + 1) == 50 && load<u8>(raw + 2) == 52) i = 3;
  else return false;
  if (i >= len || load<u8>(raw + i) != 46) return false;
  i++;
  const n = suffix.length;
  if (len - i != n) return false;
  const p = changetype<usize>(suffix);
  for (let k: i32 = 0; k < n; k++) if (<u32>load<u8>(raw + i + k) != <u32>load<u16>(p + (<usize>k << 1))) return false;
  return true;
}

export function sysIndexOf(raw: usize, len: i32): i32 {
  for (let s: i32 = 0; s < SYS_COUNT; s++) if (isSys(raw, len, sysSuffix(s))) return s;
  return -1;
}

function checkEscapes(p: usize, len: i32): bool {
  for (let i: i32 = 0; i < len; i++) {
    if (load<u8>(p + i) == 37) {
      if (i + 2 >= len || hexVal(load<u8>(p + i + 1)) < 0 || hexVal(load<u8>(p + i + 2)) < 0) return false;
      i += 2;
    }
  }
  return true;
}

export function bagIterBegin(it: usize, bag: usize, len: i32): void {
  store<i32>(it, <i32>bag, offsetof<BagIterator>("bagPtr")); store<i32>(it, len, offsetof<BagIterator>("bagLen")); store<i32>(it, 0, offsetof<BagIterator>("next"));
  store<i32>(it, 0, offsetof<BagIterator>("namePtr")); store<i32>(it, -1, offsetof<BagIterator>("nameLen")); store<i32>(it, 0, offsetof<BagIterator>("valuePtr")); store<i32>(it, -1, offsetof<BagIterator>("valueLen")); store<i32>(it, -1, offsetof<BagIterator>("system"));
}

/** Advances to the next property: 1 = one is in the struct, 0 = end, IOTHUB_URL_BAD_ESCAPE / IOTHUB_BAG_EMPTY_NAME on a bad part. */
export function bagIterNext(it: usize): i32 {
  const bag = <usize>load<i32>(it, offsetof<BagIterator>("bagPtr")), len = load<i32>(it, offsetof<BagIterator>("bagLen"));
  let i = load<i32>(it, offsetof<BagIterator>("next"));
  // Empty parts (`a=1&&b=2`, a trailing '&') are skipped.
  while (i < len && load<u8>(bag + i) == 38) i++;
  if (i >= len) { store<i32>(it, len, offsetof<BagIterator>("next")); return 0; }
  let end = i;
  while (end < len && load<u8>(bag + end) != 38) end++;
  let eq = i;
  while (eq < end && load<u8>(bag + eq) != 61) eq++;
  store<i32>(it, end, offsetof<BagIterator>("next"));
  if (eq == i) return E_IOTHUB_BAG_EMPTY_NAME;
  if (!checkEscapes(bag + i, end - i)) return E_IOTHUB_URL_BAD_ESCAPE;
  store<i32>(it, <i32>(bag + i), offsetof<BagIterator>("namePtr"));
  store<i32>(it, eq - i, offsetof<BagIterator>("nameLen"));
  if (eq < end) { store<i32>(it, <i32>(bag + eq + 1), offsetof<BagIterator>("valuePtr")); store<i32>(it, end - eq - 1, offsetof<BagIterator>("valueLen")); }
  else { store<i32>(it, 0, offsetof<BagIterator>("valuePtr")); store<i32>(it, -1, offsetof<BagIterator>("valueLen")); }
  store<i32>(it, sysIndexOf(bag + i, eq - i), offsetof<BagIterator>("system"));
  return 1;
}

/**
 * Finds the first property whose decoded name equals the nameLen plain bytes at name. 1 = found (the iterator
 * struct holds it), 0 = not found, or a negative code for a malformed bag before it.
 */
export function bagFind(it: usize, bag: usize, len: i32, name: usize, nameLen: i32): i32 {
  bagIterBegin(it, bag, len);
  while (true) {
    const r = bagIterNext(it);
    if (r <= 0) return r;
    if (urlDecodedEquals(<usize>load<i32>(it, offsetof<BagIterator>("namePtr")), load<i32>(it, offsetof<BagIterator>("nameLen")), name, nameLen)) return 1;
  }
  return 0;
}

/** Checks a whole bag: OK (0) or the first code bagIterNext would return. */
export function bagValidate(it: usize, bag: usize, len: i32): i32 {
  bagIterBegin(it, bag, len);
  while (true) {
    const r = bagIterNext(it);
    if (r <= 0) return r;
  }
  return 0;
}
