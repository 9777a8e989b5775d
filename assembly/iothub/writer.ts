// A cursor over the caller's output buffer. Writes past the end are dropped and remembered, so builders can be
// written straight-line and report E_BUFFER_TOO_SMALL once at the end (never a truncated result).
// Single-threaded core: one writer at a time; builders never nest.

import { E_BUFFER_TOO_SMALL } from "../status";

let wStart: usize = 0;
let wPos: usize = 0;
let wEnd: usize = 0;
let wOk: bool = true;

export function wBegin(out: usize, cap: i32): void {
  wStart = out; wPos = out; wEnd = out + <usize>(cap < 0 ? 0 : cap); wOk = true;
}

/** Current write position (for callers that hash or re-read what they wrote). */
// @ts-ignore: decorator
@inline export function wHere(): usize { return wPos; }
// @ts-ignore: decorator
@inline export function wFits(): bool { return wOk; }

export function wByte(b: u32): void {
  if (wPos < wEnd) { store<u8>(wPos, <u8>b); wPos++; } else wOk = false;
}

export function wBytes(ptr: usize, len: i32): void {
  if (len <= 0) return;
  if (<usize>len > wEnd - wPos) { wOk = false; return; }
  memory.copy(wPos, ptr, <usize>len);
  wPos += len;
}

/** Writes an ASCII string literal (AssemblyScript literals are static UTF-16; no allocation). */
export function wLit(s: string): void {
  const p = changetype<usize>(s);
  const n = s.length;
  for (let i: i32 = 0; i < n; i++) wByte(load<u16>(p + (<usize>i << 1)));
}

/** Writes an unsigned decimal. */
export function wDecimal(v: u64): void {
  let div: u64 = 1;
  while (v / div >= 10) div *= 10;
  while (div > 0) { wByte(<u32>((v / div) % 10) + 48); div /= 10; }
}

const HEX: usize = memory.data<u8>([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 65, 66, 67, 68, 69, 70]);

export function wPercent(b: u32): void {
  wByte(37); wByte(load<u8>(HEX + (b >>> 4))); wByte(load<u8>(HEX + (b & 15)));
}

/** Length written since wBegin, or E_BUFFER_TOO_SMALL if anything did not fit. */
export function wDone(): i32 { return wOk ? <i32>(wPos - wStart) : E_BUFFER_TOO_SMALL; }

/** Writes the decimal form of v to out (cap): the length, or E_BUFFER_TOO_SMALL. For request ids from a counter. */
export function writeDecimal(v: u64, out: usize, cap: i32): i32 {
  wBegin(out, cap);
  wDecimal(v);
  return wDone();
}
