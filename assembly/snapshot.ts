// Snapshots of one device's whole client state, so that a gateway can run many devices on one instance of the
// core: save the current device, restore the next (client_snapshot_save / client_snapshot_restore). A snapshot is
// a header, the ClientState struct copied whole, then each live buffer (pending bytes, queued messages, the
// strings actually configured, the twin requests and events actually pending), written and read by the module
// that owns it with these helpers. Only what is live is kept: an idle device's snapshot is a few hundred bytes,
// which is what a gateway holds per device and copies at every switch.
import { SNAPSHOT_CAPACITY } from "./profile";
import { STATE_LAYOUT_HASH } from "./client/state-layout.generated";

export const SNAP: usize = memory.data(SNAPSHOT_CAPACITY, 16);
// Header: "IHS3", the layout hash of ClientState, the profile's snapshot capacity. A snapshot from another
// build, profile or struct layout is refused rather than misread.
const MAGIC: u32 = 0x33534849;
const HEADER_WORDS: i32 = 3;
let cur: usize = 0;
let ok: bool = true;

// @ts-ignore: decorator
@inline function room(n: usize): bool {
  if (!ok || cur + n > SNAP + <usize>SNAPSHOT_CAPACITY) { ok = false; return false; }
  return true;
}

export function snapBegin(): void { cur = SNAP; ok = true; put32(MAGIC); put32(STATE_LAYOUT_HASH); put32(<u32>SNAPSHOT_CAPACITY); }
/** The snapshot's length, or -1 when it did not fit. */
export function snapEnd(): i32 { return ok ? <i32>(cur - SNAP) : -1; }
/** Starts reading a snapshot of `len` bytes at SNAP; false when it is not one of ours. */
export function readBegin(len: i32): bool {
  cur = SNAP;
  ok = len >= HEADER_WORDS * 4 && len <= SNAPSHOT_CAPACITY;
  return ok && get32() == MAGIC && get32() == STATE_LAYOUT_HASH && get32() == <u32>SNAPSHOT_CAPACITY;
}
export function readOk(): bool { return ok; }
/** Marks the snapshot being read as bad (a value out of range): client_snapshot_restore refuses it. */
export function readFail(): void { ok = false; }

export function put32(v: u32): void { if (room(4)) { store<u32>(cur, v); cur += 4; } }
export function put64(v: u64): void { if (room(8)) { store<u64>(cur, v); cur += 8; } }
export function putBytes(src: usize, n: i32): void {
  put32(<u32>n);
  if (n > 0 && room(<usize>n)) { memory.copy(cur, src, <usize>n); cur += (<usize>n + 3) & ~3; }
}
/** `n` bytes (a multiple of 4) whose length the reader knows: no length word. */
export function putRaw(src: usize, n: i32): void {
  if (n > 0 && room(<usize>n)) { memory.copy(cur, src, <usize>n); cur += <usize>n; }
}
export function getRaw(dst: usize, n: i32): bool {
  if (n > 0 && room(<usize>n)) { memory.copy(dst, cur, <usize>n); cur += <usize>n; }
  return ok;
}
export function get32(): u32 {
  if (!room(4)) return 0;
  const v = load<u32>(cur);
  cur += 4;
  return v;
}
export function get64(): u64 {
  if (!room(8)) return 0;
  const v = load<u64>(cur);
  cur += 8;
  return v;
}
/** Copies a byte run back to dst (at most cap bytes); returns its length, or -1 when the snapshot is bad. */
export function getBytes(dst: usize, cap: i32): i32 {
  const n = <i32>get32();
  if (!ok || n < 0 || n > cap) { ok = false; return -1; }
  if (n > 0 && room(<usize>n)) { memory.copy(dst, cur, <usize>n); cur += (<usize>n + 3) & ~3; }
  return ok ? n : -1;
}
