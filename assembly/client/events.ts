import { putRaw, getRaw } from "../snapshot";
import { S } from "./state";
// Events the client hands to the host, one per client_poll() call, in a fixed record (EventRecord below).
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
/** Direct method request: a = method name, b = request id, c = payload; extra = offset of the '*' in `component*command` (IoT Plug and Play), -1 for none. Answer with client_method_respond. */
export const EV_METHOD: u32 = 6;
/** Twin answer to request `token`: status = hub status (200, 204, 4xx…) or a negative code; version; a = body. */
export const EV_TWIN_RESPONSE: u32 = 7;
/** Desired-properties patch: version, a = body. Older or repeated versions are not reported. */
export const EV_DESIRED: u32 = 8;
/** Something the application should know: status = code, extra = detail. */
export const EV_ERROR: u32 = 9;
/** Twin request `token` was answered 429 or 5xx (status = the hub's status) and will be sent again in extra ms. */
export const EV_TWIN_RETRY: u32 = 10;

/** The event record at client_event_ptr(), zeroed for each event. */
@unmanaged
export class EventRecord {
  /** EV_* (0 = none) */
  type: u32;
  /** a status, a reason or a hub status, by event type */
  status: i32;
  /** telemetry token, twin request id or C2D packet id */
  token: u32;
  /** twin $version */
  version: u32;
  /** view a: pointer into the receive buffer */
  aPtr: u32;
  /** view a: length */
  aLen: i32;
  /** view b: pointer */
  bPtr: u32;
  /** view b: length */
  bLen: i32;
  /** view c: pointer */
  cPtr: u32;
  /** view c: length */
  cLen: i32;
  /** detail, by event type */
  extra: i32;
}
const EVENT_SIZE: i32 = offsetof<EventRecord>();
export const EVENT: usize = memory.data(EVENT_SIZE, 16);
// @ts-ignore: decorator
@inline function ev(): EventRecord { return changetype<EventRecord>(EVENT); }

export function setEvent(type: u32, status: i32, token: u32): u32 {
  for (let i = 0; i < EVENT_SIZE; i += 4) store<u32>(EVENT + <usize>i, 0);
  const e = ev();
  e.type = type;
  e.status = status;
  e.token = token;
  return type;
}
// @ts-ignore: decorator
@inline export function setVersion(v: u32): void { ev().version = v; }
// @ts-ignore: decorator
@inline export function setView(which: i32, ptr: usize, len: i32): void {
  const view = offsetof<EventRecord>("bPtr") - offsetof<EventRecord>("aPtr");
  store<u32>(EVENT + offsetof<EventRecord>("aPtr") + <usize>which * view, <u32>ptr);
  store<i32>(EVENT + offsetof<EventRecord>("aLen") + <usize>which * view, len);
}
// @ts-ignore: decorator
@inline export function setExtra(v: i32): void { ev().extra = v; }

// Property bags of C2D messages, walked with client_bag_begin/next.
/** A C2D property, decoded: name and value are UTF-8 in core buffers, valid until the next client_bag_next. */
@unmanaged
export class BagItem {
  /** the decoded name */
  namePtr: u32;
  /** its length */
  nameLen: i32;
  /** the decoded value */
  valuePtr: u32;
  /** its length, -1 = null (a bare name) */
  valueLen: i32;
  /** SYS_* for a system property, -1 for an application property */
  system: i32;
}

// The ring of pending view-less events: (type, status, token, extra).
const RING_SIZE: i32 = 16;
const RING: usize = memory.data(RING_SIZE * 16, 16);

export function raise(type: u32, status: i32, token: u32, extra: i32): void {
  const s = S();
  if (s.ringCount == RING_SIZE) { // keep the newest: drop the oldest informational event
    s.ringHead = (s.ringHead + 1) % RING_SIZE;
    s.ringCount--;
  }
  const at = RING + <usize>(((s.ringHead + s.ringCount) % RING_SIZE) * 16);
  store<u32>(at, type);
  store<i32>(at, status, 4);
  store<u32>(at, token, 8);
  store<i32>(at, extra, 12);
  s.ringCount++;
}

/** Moves the oldest pending event into the record; returns its type or EV_NONE. */
export function takeRaised(): u32 {
  const s = S();
  if (s.ringCount == 0) return EV_NONE;
  const at = RING + <usize>(s.ringHead * 16);
  const type = setEvent(load<u32>(at), load<i32>(at, 4), load<u32>(at, 8));
  setExtra(load<i32>(at, 12));
  s.ringHead = (s.ringHead + 1) % RING_SIZE;
  s.ringCount--;
  return type;
}

export function clearRaised(): void { S().ringHead = 0; S().ringCount = 0; }

// Only the pending events, oldest first, back in their places (ringHead and ringCount travel in ClientState).
export function saveEvents(): void {
  const s = S();
  for (let k = 0; k < s.ringCount; k++) putRaw(RING + <usize>(((s.ringHead + k) % RING_SIZE) * 16), 16);
}
export function restoreEvents(): void {
  const s = S(); // restored with the struct: keep them inside the ring whatever the bytes said
  s.ringHead = <i32>(<u32>s.ringHead % <u32>RING_SIZE);
  s.ringCount = <i32>min(<u32>s.ringCount, <u32>RING_SIZE);
  for (let k = 0; k < s.ringCount; k++) getRaw(RING + <usize>(((s.ringHead + k) % RING_SIZE) * 16), 16);
}
