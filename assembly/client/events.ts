import { put32, putBytes, get32, getBytes } from "../snapshot";
// Events the client hands to the host, one per client_poll() call, in a fixed record (u32 fields):
//   0 type   1 status (i32)   2 token   3 version   4 aPtr 5 aLen   6 bPtr 7 bLen   8 cPtr 9 cLen   10 extra (i32)
// Views (a, b, c) point into the receive buffer and stay valid until the next client_poll or rx call.
// Events that carry no views can be raised at any time; they wait in a small ring until polled.

export const EV_NONE: u32 = 0;
/** Connected and subscribed: ready. status = session present (0/1). */
export const EV_CONNECTED: u32 = 1;
/** The connection ended. status = reason code; extra = ms until the next attempt, or -1 for none. */
export const EV_DISCONNECTED: u32 = 2;
/** Telemetry `token` was acknowledged (QoS 1: PUBACK; QoS 0: written to the transport). */
export const EV_TELEMETRY_ACKED: u32 = 3;
/** Telemetry `token` failed; status = why. */
export const EV_TELEMETRY_FAILED: u32 = 4;
/** Cloud-to-device message: a = body, b = property bag (encoded; walk with client_bag_*), token = packet id to ack (0 for QoS 0). */
export const EV_C2D: u32 = 5;
/** Direct method request: a = method name, b = request id, c = payload. Answer with client_method_respond. */
export const EV_METHOD: u32 = 6;
/** Twin answer to request `token`: status = hub status (200, 204, 4xx…) or a negative code; version; a = body. */
export const EV_TWIN_RESPONSE: u32 = 7;
/** Desired-properties patch: version, a = body. Older or repeated versions are not reported. */
export const EV_DESIRED: u32 = 8;
/** Something the application should know: status = code, extra = detail. */
export const EV_ERROR: u32 = 9;

export const EVENT_WORDS: i32 = 11;
export const EVENT: usize = memory.data(EVENT_WORDS * 4, 16);

export function setEvent(type: u32, status: i32, token: u32): u32 {
  for (let i = 0; i < EVENT_WORDS; i++) store<u32>(EVENT + <usize>(i << 2), 0);
  store<u32>(EVENT, type);
  store<i32>(EVENT, status, 4);
  store<u32>(EVENT, token, 8);
  return type;
}
// @ts-ignore: decorator
@inline export function setVersion(v: u32): void { store<u32>(EVENT, v, 12); }
// @ts-ignore: decorator
@inline export function setView(which: i32, ptr: usize, len: i32): void {
  store<u32>(EVENT + <usize>(16 + which * 8), <u32>ptr);
  store<i32>(EVENT + <usize>(20 + which * 8), len);
}
// @ts-ignore: decorator
@inline export function setExtra(v: i32): void { store<i32>(EVENT, v, 40); }

// The ring of pending view-less events: (type, status, token, extra).
const RING_SIZE: i32 = 16;
const RING: usize = memory.data(RING_SIZE * 16, 16);
let head: i32 = 0;
let count: i32 = 0;

export function raise(type: u32, status: i32, token: u32, extra: i32): void {
  if (count == RING_SIZE) { // keep the newest: drop the oldest informational event
    head = (head + 1) % RING_SIZE;
    count--;
  }
  const at = RING + <usize>(((head + count) % RING_SIZE) * 16);
  store<u32>(at, type);
  store<i32>(at, status, 4);
  store<u32>(at, token, 8);
  store<i32>(at, extra, 12);
  count++;
}

/** Moves the oldest pending event into the record; returns its type or EV_NONE. */
export function takeRaised(): u32 {
  if (count == 0) return EV_NONE;
  const at = RING + <usize>(head * 16);
  const type = setEvent(load<u32>(at), load<i32>(at, 4), load<u32>(at, 8));
  setExtra(load<i32>(at, 12));
  head = (head + 1) % RING_SIZE;
  count--;
  return type;
}

export function clearRaised(): void { head = 0; count = 0; }

export function saveEvents(): void {
  putBytes(RING, RING_SIZE * 16);
  put32(<u32>head);
  put32(<u32>count);
}
export function restoreEvents(): void {
  getBytes(RING, RING_SIZE * 16);
  head = <i32>get32() % RING_SIZE;
  count = min(<i32>get32(), RING_SIZE);
}
