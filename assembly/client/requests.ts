// Twin requests awaiting their answer, correlated by `$rid`. A fixed table (REQUEST_SLOTS entries): a request
// is waiting until its answer, its deadline or a lost connection; then it is reported once and freed.
import { REQUEST_SLOT_COUNT } from "../profile";
import { putBytes, getBytes } from "../snapshot";

@unmanaged
class Request {
  state: u32; // FREE, WAITING or FAILED
  rid: u32;
  deadline: u32; // board milliseconds
  sent: u32; // 1 once written to the transport: its answer can only come on that connection
  slot: i32; // its outbox slot while unsent
  status: i32; // why it failed
}
const REQUEST_SIZE: i32 = offsetof<Request>();
const FREE: u32 = 0;
const WAITING: u32 = 1;
const FAILED: u32 = 2;

const TABLE: usize = memory.data(REQUEST_SLOT_COUNT * REQUEST_SIZE, 16);
// @ts-ignore: decorator
@inline function at(i: i32): Request { return changetype<Request>(TABLE + <usize>(i * REQUEST_SIZE)); }

export function requestsReset(): void {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) at(i).state = FREE;
}

/** True when every entry is in use (a new request would be refused). */
export function requestsFull(): bool {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) if (at(i).state == FREE) return false;
  return true;
}

/** Opens a request; false when every entry is in use. */
export function requestOpen(rid: u32, deadline: u32, slot: i32): bool {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == FREE) {
      r.state = WAITING;
      r.rid = rid;
      r.deadline = deadline;
      r.sent = 0;
      r.slot = slot;
      r.status = 0;
      return true;
    }
  }
  return false;
}

export function requestSent(rid: u32): void {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == WAITING && r.rid == rid) r.sent = 1;
  }
}

/** An answer arrived for `rid`: true (and the request is closed) if one was waiting for it. */
export function requestAnswered(rid: i64): bool {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == WAITING && <i64>r.rid == rid) {
      r.state = FREE;
      return true;
    }
  }
  return false;
}

/** Fails waiting requests with `status`: all of them, or only those already sent (their answer is lost). */
export function requestsFail(status: i32, onlySent: bool): void {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == WAITING && (!onlySent || r.sent != 0)) {
      r.state = FAILED;
      r.status = status;
    }
  }
}

// The request taken by requestTakeDone, for the caller to report.
export let doneRid: u32 = 0;
export let doneSlot: i32 = -1; // its outbox slot when it timed out before being sent, else -1
export let doneStatus: i32 = 0;
export let doneExpired: bool = false;

/** Closes one failed or expired request and describes it in done*; false when there is none. */
export function requestTakeDone(now: u32): bool {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    const expired = r.state == WAITING && <i32>(now - r.deadline) >= 0;
    if (r.state == FAILED || expired) {
      doneRid = r.rid;
      doneSlot = expired && r.sent == 0 ? r.slot : -1;
      doneStatus = r.status;
      doneExpired = expired;
      r.state = FREE;
      return true;
    }
  }
  return false;
}

/** Milliseconds until the earliest deadline (may be negative), or 0x7FFFFFFF when nothing waits. */
export function requestsNextDeadline(now: u32): i32 {
  let best: i32 = 0x7FFFFFFF;
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == WAITING) best = min(best, <i32>(r.deadline - now));
  }
  return best;
}

export function saveRequests(): void { putBytes(TABLE, REQUEST_SLOT_COUNT * REQUEST_SIZE); }
export function restoreRequests(): void { getBytes(TABLE, REQUEST_SLOT_COUNT * REQUEST_SIZE); }
