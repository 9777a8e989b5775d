// Twin requests awaiting their answer, correlated by `$rid`. A fixed table (REQUEST_SLOTS entries): a request
// is waiting until its answer, its deadline or a lost connection; then it is reported once and freed. One
// answered 429 or 5xx may instead wait out a back-off (BACKOFF) and be sent again from its outbox slot.
import { REQUEST_SLOT_COUNT } from "../profile";
import { put32, get32, putRaw, getRaw, readFail } from "../snapshot";

@unmanaged
class Request {
  state: u32; // FREE, WAITING or FAILED
  rid: u32;
  deadline: u32; // board milliseconds
  sent: u32; // 1 once written to the transport: its answer can only come on that connection
  slot: i32; // its outbox slot (the encoded PUBLISH, kept until the request is closed)
  status: i32; // why it failed
  attempt: u32; // resends so far
  retryAt: u32; // BACKOFF: when to send it again
}
const REQUEST_SIZE: i32 = offsetof<Request>();
const FREE: u32 = 0;
const WAITING: u32 = 1;
const FAILED: u32 = 2;
const BACKOFF: u32 = 3;

const TABLE: usize = memory.data(REQUEST_SLOT_COUNT * REQUEST_SIZE, 16);
// @ts-ignore: decorator
@inline function at(i: i32): Request { return changetype<Request>(TABLE + <usize>(i * REQUEST_SIZE)); }

// Entries not FREE: the poll's look for due and expired requests costs nothing while there are none (derived, so
// not in a snapshot: restoreRequests counts them).
let inUse: i32 = 0;

export function requestsReset(): void {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) at(i).state = FREE;
  inUse = 0;
}

/** True when every entry is in use (a new request would be refused). */
export function requestsFull(): bool { return inUse >= REQUEST_SLOT_COUNT; }

/** True while a request written to the transport waits for its answer (only that connection can bring it). */
export function requestsAwaitingAnswer(): bool {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == WAITING && r.sent != 0) return true;
  }
  return false;
}

/** Opens a request; false when every entry is in use. */
export function requestOpen(rid: u32, deadline: u32, slot: i32): bool {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == FREE) {
      inUse++;
      r.state = WAITING;
      r.rid = rid;
      r.deadline = deadline;
      r.sent = 0;
      r.slot = slot;
      r.status = 0;
      r.attempt = 0;
      r.retryAt = 0;
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

/** The entry waiting for an answer to `rid`, or -1 (none: it timed out, failed or never was). */
export function requestFind(rid: i64): i32 {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == WAITING && <i64>r.rid == rid) return i;
  }
  return -1;
}
/** An answer arrived for `rid`: true (and the request is closed) if one was waiting for it. */
export function requestAnswered(rid: i64): bool {
  const i = requestFind(rid);
  if (i < 0) return false;
  requestClose(i);
  return true;
}
/** Closes entry `i` (answered); returns its outbox slot, for the caller to release. */
export function requestClose(i: i32): i32 {
  if (at(i).state != FREE) inUse--;
  at(i).state = FREE;
  return at(i).slot;
}
export function requestAttempt(i: i32): u32 { return at(i).attempt; }
/** Entry `i` waits until `retryAt` and is then sent again (requestsDue). Its answer can no longer be lost. */
export function requestBackoff(i: i32, retryAt: u32): void {
  const r = at(i);
  r.state = BACKOFF;
  r.retryAt = retryAt;
  r.sent = 0;
  r.attempt++;
}
/** A request whose back-off is over: waiting again (deadline from now), and its outbox slot; -1 when none is due. */
export function requestsDue(now: u32, timeoutMs: i32): i32 {
  for (let i = 0; inUse > 0 && i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if (r.state == BACKOFF && <i32>(now - r.retryAt) >= 0) {
      r.state = WAITING;
      r.deadline = now + <u32>timeoutMs;
      dueRid = r.rid;
      return r.slot;
    }
  }
  return -1;
}
/** The request requestsDue returned. */
export let dueRid: u32 = 0;

/** Fails waiting requests with `status`: all of them, or only those already sent (their answer is lost). */
export function requestsFail(status: i32, onlySent: bool): void {
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    if ((r.state == WAITING || r.state == BACKOFF) && (!onlySent || r.sent != 0)) {
      r.state = FAILED;
      r.status = status;
    }
  }
}

// The request taken by requestTakeDone, for the caller to report.
export let doneRid: u32 = 0;
export let doneSlot: i32 = -1; // its outbox slot (release it if the request still holds it)
export let doneStatus: i32 = 0;
export let doneExpired: bool = false;

/** Closes one failed or expired request and describes it in done*; false when there is none. */
export function requestTakeDone(now: u32): bool {
  for (let i = 0; inUse > 0 && i < REQUEST_SLOT_COUNT; i++) {
    const r = at(i);
    const expired = r.state == WAITING && <i32>(now - r.deadline) >= 0;
    if (r.state == FAILED || expired) {
      doneRid = r.rid;
      doneSlot = r.slot;
      doneStatus = r.status;
      doneExpired = expired;
      r.state = FREE;
      inUse--;
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
    else if (r.state == BACKOFF) best = min(best, <i32>(r.retryAt - now));
  }
  return best;
}

// Only the entries in use, each with its index (an idle device has none).
export function saveRequests(): void {
  let n: u32 = 0;
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) if (at(i).state != FREE) n++;
  put32(n);
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) {
    if (at(i).state == FREE) continue;
    put32(<u32>i);
    putRaw(changetype<usize>(at(i)), REQUEST_SIZE);
  }
}
export function restoreRequests(): void {
  requestsReset();
  const n = get32();
  if (n > <u32>REQUEST_SLOT_COUNT) { readFail(); return; }
  for (let k: u32 = 0; k < n; k++) {
    const i = get32();
    if (i >= <u32>REQUEST_SLOT_COUNT) { readFail(); return; }
    if (!getRaw(changetype<usize>(at(<i32>i)), REQUEST_SIZE)) return;
  }
  for (let i = 0; i < REQUEST_SLOT_COUNT; i++) if (at(i).state != FREE) inUse++;
}
