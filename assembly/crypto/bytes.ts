// Byte helpers shared by crypto and iothub. Plain loops on purpose: the MCU profile has no bulk-memory
// (no memory.copy / memory.fill), and these buffers are small.

/** Copies len bytes from src to dst (regions must not overlap unless dst <= src). */
// @ts-ignore: decorator
@inline export function copyBytes(dst: usize, src: usize, len: usize): void {
  for (let i: usize = 0; i < len; i++) store<u8>(dst + i, load<u8>(src + i));
}

/** Sets len bytes at dst to v. */
// @ts-ignore: decorator
@inline export function fillBytes(dst: usize, v: u8, len: usize): void {
  for (let i: usize = 0; i < len; i++) store<u8>(dst + i, v);
}

/** 1 when the two byte ranges are equal. */
export function bytesEqual(a: usize, b: usize, len: usize): bool {
  for (let i: usize = 0; i < len; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

/**
 * True when [ptr, ptr+len) lies inside the core's static data (below __heap_base). The core never uses memory
 * above it, and checking here (rather than with memory.size, which the MCU profile avoids) means a host's bad
 * pointer becomes a status instead of a trap.
 */
export function inRange(ptr: usize, len: i32): bool {
  if (len < 0) return false;
  const top: usize = __heap_base;
  return ptr <= top && <usize>len <= top - ptr;
}
