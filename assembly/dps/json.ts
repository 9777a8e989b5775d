// A small, strict, bounded JSON scanner over bytes in linear memory: no allocation, no recursion (the nesting of
// objects and arrays is a bit stack in one u64, so at most 64 levels), nothing copied. It checks RFC 8259's
// grammar (strings with their escapes, numbers, literals) and finds members of an object as views into the
// input. Used for the service's answers (operationId, status, registrationState…) and to check the payload
// a host gives before it goes into a register request verbatim.

/** Deepest nesting accepted. */
export const JSON_MAX_DEPTH: i32 = 64;

// The member found by jsonMember: its value as [mStart, mEnd) offsets from the object's pointer.
let mStart: i32 = 0;
let mEnd: i32 = 0;
export function foundStart(): i32 { return mStart; }
export function foundLen(): i32 { return mEnd - mStart; }

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): u32 { return <u32>load<u8>(p + <usize>i); }

function ws(p: usize, i: i32, end: i32): i32 {
  while (i < end) {
    const c = at(p, i);
    if (c != 0x20 && c != 0x09 && c != 0x0A && c != 0x0D) break;
    i++;
  }
  return i;
}

function isHex(c: u32): bool { return c - 48 < 10 || (c | 32) - 97 < 6; }

/** At a '"': the offset after the closing quote, or -1. Bytes >= 0x80 pass (UTF-8 is the sender's affair). */
function stringEnd(p: usize, i: i32, end: i32): i32 {
  if (i >= end || at(p, i) != 0x22) return -1;
  i++;
  while (i < end) {
    const c = at(p, i);
    if (c == 0x22) return i + 1;
    if (c < 0x20) return -1;
    if (c == 0x5C) {
      if (i + 1 >= end) return -1;
      const e = at(p, i + 1);
      if (e == 0x75) { // \uXXXX
        if (i + 6 > end) return -1;
        for (let k: i32 = 2; k < 6; k++) if (!isHex(at(p, i + k))) return -1;
        i += 6;
        continue;
      }
      if (e != 0x22 && e != 0x5C && e != 0x2F && e != 0x62 && e != 0x66 && e != 0x6E && e != 0x72 && e != 0x74) return -1;
      i += 2;
      continue;
    }
    i++;
  }
  return -1;
}

function digits(p: usize, i: i32, end: i32): i32 {
  const from = i;
  while (i < end && at(p, i) - 48 < 10) i++;
  return i > from ? i : -1;
}

/** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
function numberEnd(p: usize, i: i32, end: i32): i32 {
  if (i < end && at(p, i) == 0x2D) i++;
  if (i >= end) return -1;
  if (at(p, i) == 0x30) i++;
  else { i = digits(p, i, end); if (i < 0) return -1; }
  if (i < end && at(p, i) == 0x2E) { i = digits(p, i + 1, end); if (i < 0) return -1; }
  if (i < end && (at(p, i) | 32) == 0x65) {
    i++;
    if (i < end && (at(p, i) == 0x2B || at(p, i) == 0x2D)) i++;
    i = digits(p, i, end);
  }
  return i;
}

function literalEnd(p: usize, i: i32, end: i32, lit: string): i32 {
  const n = lit.length;
  if (i + n > end) return -1;
  const q = changetype<usize>(lit);
  for (let k: i32 = 0; k < n; k++) if (at(p, i + k) != <u32>load<u16>(q + (<usize>k << 1))) return -1;
  return i + n;
}

/** A scalar (string, number, true, false, null) at i: the offset after it, or -1. */
function scalarEnd(p: usize, i: i32, end: i32): i32 {
  const c = at(p, i);
  if (c == 0x22) return stringEnd(p, i, end);
  if (c == 0x2D || c - 48 < 10) return numberEnd(p, i, end);
  if (c == 0x74) return literalEnd(p, i, end, "true");
  if (c == 0x66) return literalEnd(p, i, end, "false");
  if (c == 0x6E) return literalEnd(p, i, end, "null");
  return -1;
}

/** `"key" ws : ws` at i (whitespace before it skipped): the offset of the value, or -1. */
function memberHead(p: usize, i: i32, end: i32): i32 {
  i = stringEnd(p, ws(p, i, end), end);
  if (i < 0) return -1;
  i = ws(p, i, end);
  if (i >= end || at(p, i) != 0x3A) return -1;
  return ws(p, i + 1, end);
}

/**
 * The end of the JSON value starting at offset i (leading whitespace skipped) of [p, p+end): the offset just
 * after it, or -1 when it is not one well-formed value (or nests deeper than JSON_MAX_DEPTH).
 */
export function valueEnd(p: usize, i: i32, end: i32): i32 {
  let stack: u64 = 0; // bit d set: level d is an object
  let depth: i32 = 0;
  i = ws(p, i, end);
  for (;;) {
    // A value starts at i.
    if (i >= end) return -1;
    const c = at(p, i);
    if (c == 0x7B || c == 0x5B) {
      const obj = c == 0x7B;
      i = ws(p, i + 1, end);
      if (i < end && at(p, i) == (obj ? <u32>0x7D : <u32>0x5D)) {
        i++; // empty container: a complete value
      } else {
        if (depth == JSON_MAX_DEPTH) return -1;
        if (obj) stack |= (<u64>1) << <u64>depth; else stack &= ~((<u64>1) << <u64>depth);
        depth++;
        if (obj) { i = memberHead(p, i, end); if (i < 0) return -1; }
        continue;
      }
    } else {
      i = scalarEnd(p, i, end);
      if (i < 0) return -1;
    }
    // After a complete value: close containers, or go on to the next element.
    for (;;) {
      if (depth == 0) return i;
      i = ws(p, i, end);
      if (i >= end) return -1;
      const obj = (stack >> <u64>(depth - 1)) & 1;
      const d = at(p, i);
      if (d == 0x2C) {
        i = obj ? memberHead(p, i + 1, end) : ws(p, i + 1, end);
        if (i < 0) return -1;
        break;
      }
      if (d != (obj ? <u32>0x7D : <u32>0x5D)) return -1;
      i++;
      depth--;
    }
  }
  return -1; // not reached: the loop returns
}

/** True when [p, p+len) is exactly one JSON value (whitespace around it allowed). */
export function jsonIsValue(p: usize, len: i32): bool {
  const e = valueEnd(p, 0, len);
  return e >= 0 && ws(p, e, len) == len;
}

/** True when the raw key bytes [p+k, p+k+n) equal the literal (keys with escapes never match). */
function keyIs(p: usize, k: i32, n: i32, key: string): bool {
  if (n != key.length) return false;
  const q = changetype<usize>(key);
  for (let j: i32 = 0; j < n; j++) if (at(p, k + j) != <u32>load<u16>(q + (<usize>j << 1))) return false;
  return true;
}

/**
 * Looks for member `key` of the object [p, p+len): 1 with its value at foundStart()/foundLen() (offsets from p),
 * 0 when the object has no such member, -1 when [p, p+len) is not an object (or is malformed before the member).
 * The first of duplicate members wins.
 */
export function jsonMember(p: usize, len: i32, key: string): i32 {
  let i = ws(p, 0, len);
  if (i >= len || at(p, i) != 0x7B) return -1;
  i = ws(p, i + 1, len);
  if (i < len && at(p, i) == 0x7D) return 0;
  for (;;) {
    const k = ws(p, i, len);
    const kEnd = stringEnd(p, k, len);
    if (kEnd < 0) return -1;
    i = memberHead(p, k, len);
    if (i < 0) return -1;
    const v = i;
    i = valueEnd(p, v, len);
    if (i < 0) return -1;
    if (keyIs(p, k + 1, kEnd - k - 2, key)) { mStart = v; mEnd = i; return 1; }
    i = ws(p, i, len);
    if (i >= len) return -1;
    const c = at(p, i);
    if (c == 0x7D) return 0;
    if (c != 0x2C) return -1;
    i++;
  }
  return -1; // not reached: the loop returns
}

/**
 * A string value [p, p+len) (quotes included) without escapes: 1 with its contents at p+1 (length len-2);
 * 0 when it is not a string or holds a backslash (ids and host names never need one).
 */
export function plainString(p: usize, len: i32): bool {
  if (len < 2 || at(p, 0) != 0x22 || at(p, len - 1) != 0x22) return false;
  for (let i: i32 = 1; i < len - 1; i++) if (at(p, i) == 0x5C) return false;
  return true;
}

/** An integer value [p, p+len) (-?digits, at most 9 digits): its value; 0 when it is something else. */
export function smallInt(p: usize, len: i32): i32 {
  let i: i32 = 0;
  const neg = len > 0 && at(p, 0) == 0x2D;
  if (neg) i = 1;
  if (len - i < 1 || len - i > 9) return 0;
  let v: i32 = 0;
  for (; i < len; i++) {
    const d = at(p, i) - 48;
    if (d > 9) return 0;
    v = v * 10 + <i32>d;
  }
  return neg ? -v : v;
}
