// Reading the hub's twin document ({"desired":{…,"$version":n},"reported":{…}}) for the client's catch-up after a
// reconnect: a member of an object as a view, and a small integer. Lax on purpose and small (it runs on every
// microcontroller build): it follows strings (with escapes) and nesting, and never reads outside the input, but
// does not check the grammar — the hub's document is used only for its desired member and that member's version.

let foundAt: i32 = 0;
let foundEnd: i32 = 0;
/** The value found by objectMember, as offsets from the object's pointer. */
export function memberStart(): i32 { return foundAt; }
export function memberLen(): i32 { return foundEnd - foundAt; }

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): u32 { return <u32>load<u8>(p + <usize>i); }

/** From the '"' at i: the offset just after the closing quote, or `len` when the string does not end. */
function skipString(p: usize, i: i32, len: i32): i32 {
  for (i++; i < len; i++) {
    const c = at(p, i);
    if (c == 0x5C) i++;
    else if (c == 0x22) return i + 1;
  }
  return len;
}

/** Whether bytes [p+i, p+i+n) are the ASCII text of `key`. */
function keyIs(p: usize, i: i32, n: i32, key: string): bool {
  if (n != key.length) return false;
  const q = changetype<usize>(key);
  for (let k: i32 = 0; k < n; k++) if (at(p, i + k) != <u32>load<u16>(q + (<usize>k << 1))) return false;
  return true;
}

/**
 * Finds member `key` of the object [p, p+len) (not of objects inside it): true with its value at
 * memberStart()/memberLen(), false when there is none or the input is not an object.
 */
export function objectMember(p: usize, len: i32, key: string): bool {
  let i: i32 = 0;
  while (i < len && at(p, i) <= 0x20) i++;
  if (i >= len || at(p, i) != 0x7B) return false;
  let depth: i32 = 0;
  let value: i32 = -1; // where the wanted member's value starts, once its key was seen
  for (; i < len; i++) {
    const c = at(p, i);
    if (c == 0x22) {
      const end = skipString(p, i, len);
      if (depth == 1 && value < 0) {
        // a key at the top level when a ':' follows
        let j = end;
        while (j < len && at(p, j) <= 0x20) j++;
        if (j < len && at(p, j) == 0x3A && keyIs(p, i + 1, end - i - 2, key)) {
          j++;
          while (j < len && at(p, j) <= 0x20) j++;
          value = j;
        }
      }
      i = end - 1;
    } else if (c == 0x7B || c == 0x5B) {
      depth++;
    } else if (c == 0x7D || c == 0x5D || c == 0x2C) {
      if (depth == 1 && value >= 0) {
        // the ',' or '}' at the top level after the wanted value ends it (a nested value has closed by now)
        let e = i;
        while (e > value && at(p, e - 1) <= 0x20) e--;
        foundAt = value;
        foundEnd = e;
        return e > value;
      }
      if (c != 0x2C) depth--;
    }
  }
  return false;
}

/** A non-negative integer of at most 9 digits at [p, p+len): its value, or -1. */
export function smallNatural(p: usize, len: i32): i32 {
  if (len < 1 || len > 9) return -1;
  let v: i32 = 0;
  for (let i: i32 = 0; i < len; i++) {
    const d = at(p, i) - 48;
    if (d > 9) return -1;
    v = v * 10 + <i32>d;
  }
  return v;
}
