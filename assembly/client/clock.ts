// The client's clock and jitter source. The board passes its monotonic milliseconds into every call; the clock
// only moves forwards, accumulates differences into a 64-bit count since the wall-clock anchor (so the board's
// 32-bit tick may wrap), and gives Unix time for SAS token expiry. State lives in ClientState.
import { S, defaultSeed } from "./state";

/** Moves the clock to the board's `ms`; time never runs backwards here. */
export function advance(ms: u32): void {
  const s = S();
  if (!s.clockStarted) {
    s.clockStarted = 1;
    s.now = ms;
    return;
  }
  const d = <i32>(ms - s.now);
  if (d > 0) {
    s.sinceAnchorMs += <u64>d;
    s.now = ms;
  }
}

/** `unixSeconds` began at the board's tick `nowMs` (hosts pass the tick of the second's start for precision). */
export function setTime(unixSeconds: u32, nowMs: u32): void {
  advance(nowMs);
  const s = S();
  s.unixAtBase = unixSeconds;
  const fraction = <i32>(s.now - nowMs);
  s.sinceAnchorMs = fraction > 0 ? <u64>fraction : 0;
  s.timeSet = 1;
}

export function unixNowMs(): u64 { return <u64>S().unixAtBase * 1000 + S().sinceAnchorMs; }

/** Milliseconds from `since` to now (a difference, so it survives the tick wrapping). */
// @ts-ignore: decorator
@inline export function elapsed(since: u32): i32 { return <i32>(S().now - since); }

/** Seeds the jitter generator from the board's entropy (0 → a fixed default). */
export function seed(v: u32): void { S().rng = v != 0 ? v : defaultSeed(); }

/** The next value of the xorshift32 jitter generator. */
export function random(): u32 {
  let x = S().rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  S().rng = x;
  return x;
}
