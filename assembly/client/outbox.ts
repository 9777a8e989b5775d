// The outbox: every message the device sends (telemetry, twin requests, method responses) waits here, already
// encoded, until it is written to the transport — and QoS 1 telemetry until its PUBACK. Fixed slots over a
// fixed byte arena: a full outbox is back-pressure for the caller (E_CLIENT_QUEUE_FULL), never a silent drop.
//
// Each slot carries a sequence number, so messages go out (and are resent) oldest first; the arena is compacted
// in that order when an append does not fit at its end. Per-state counts make "is there any…?" free.
import { S } from "./state";
import { OUTBOX_CAPACITY, OUTBOX_SLOT_COUNT } from "../profile";
import { put32, putBytes, get32, getBytes } from "../snapshot";

export const FREE: u32 = 0;
export const UNSENT: u32 = 1; // waiting for the transport
export const INFLIGHT: u32 = 2; // QoS 1, written, waiting for PUBACK
export const FAILED: u32 = 3; // to be reported as failed, then freed
export const DONE: u32 = 4; // QoS 0 telemetry written: to be reported as sent, then freed
export const HELD: u32 = 5; // a twin request written, kept until its answer in case it must be sent again
const STATE_KINDS: i32 = 6;

export const KIND_TELEMETRY_QOS0: u32 = 1;
export const KIND_TELEMETRY_QOS1: u32 = 2;
export const KIND_TWIN_REQUEST: u32 = 3;
export const KIND_METHOD_RESPONSE: u32 = 4;

@unmanaged
export class Slot {
  state: u32;
  kind: u32;
  token: u32; // telemetry token, or twin request id
  packetId: u32;
  offset: u32;
  len: u32;
  status: i32; // why it failed
  seq: u32; // age: lower is older
}
const SLOT_SIZE: usize = offsetof<Slot>();
// Hints, not state (a snapshot does not keep them; any value is correct): where reserve looks first, and the slot
// it took last (the unsent one flush usually wants).
let nextFree: i32 = 0;
let lastReserved: i32 = -1;

const ARENA: usize = memory.data(OUTBOX_CAPACITY, 16);
const SLOTS: usize = memory.data(<i32>SLOT_SIZE * OUTBOX_SLOT_COUNT, 16);
// How many slots are in each state, so that "any failed / done / unsent?" costs nothing when the answer is no.
const COUNTS: usize = memory.data(STATE_KINDS * 4, 16);
// @ts-ignore: decorator
@inline function countOf(state: u32): i32 { return load<i32>(COUNTS + (<usize>state << 2)); }
// @ts-ignore: decorator
@inline function bump(state: u32, by: i32): void { store<i32>(COUNTS + (<usize>state << 2), countOf(state) + by); }

/** Moves a slot to another state (the only way states change, so the counts stay true). */
export function setState(s: Slot, state: u32): void {
  bump(s.state, -1);
  bump(state, 1);
  s.state = state;
}

// @ts-ignore: decorator
@inline export function slotAt(i: i32): Slot { return changetype<Slot>(SLOTS + <usize>i * SLOT_SIZE); }
export function slotCount(): i32 { return OUTBOX_SLOT_COUNT; }
export function liveCount(): i32 { return S().outboxLive; }
export function slotBytes(s: Slot): usize { return ARENA + <usize>s.offset; }

export function outboxReset(): void {
  for (let i = 0; i < OUTBOX_SLOT_COUNT; i++) slotAt(i).state = FREE;
  for (let i: i32 = 0; i < STATE_KINDS; i++) store<i32>(COUNTS + (<usize>i << 2), 0);
  store<i32>(COUNTS, OUTBOX_SLOT_COUNT);
  S().arenaEnd = 0;
  S().outboxLive = 0;
}

/** Moves live messages to the front of the arena, oldest first. */
function compact(): void {
  let at: u32 = 0;
  let lastSeq: u32 = 0;
  // Selection by age keeps the order; slot counts are small (≤ a few hundred) and compaction is rare.
  for (let n = 0; n < S().outboxLive; n++) {
    let best = -1;
    let bestSeq: u32 = 0xFFFFFFFF;
    for (let i = 0; i < OUTBOX_SLOT_COUNT; i++) {
      const s = slotAt(i);
      if (s.state != FREE && s.seq > lastSeq && s.seq < bestSeq) { best = i; bestSeq = s.seq; }
    }
    if (best < 0) break;
    const s = slotAt(best);
    if (s.offset != at) memory.copy(ARENA + <usize>at, ARENA + <usize>s.offset, <usize>s.len);
    s.offset = at;
    at += s.len;
    lastSeq = bestSeq;
  }
  S().arenaEnd = at;
}

/**
 * Reserves a slot and `len` bytes for a message of `kind`; returns the slot index, or -1 when the outbox is full.
 * The caller encodes into slotBytes(slot) and must then fill token/packetId.
 */
export function reserve(kind: u32, len: u32): i32 {
  if (S().outboxLive >= OUTBOX_SLOT_COUNT || len > <u32>OUTBOX_CAPACITY) return -1;
  if (S().arenaEnd + len > <u32>OUTBOX_CAPACITY) {
    compact();
    if (S().arenaEnd + len > <u32>OUTBOX_CAPACITY) return -1;
  }
  // Next fit from the slot after the last one taken: acknowledged in order, the slots are used as a ring and the
  // first one looked at is free.
  for (let n = 0, i = nextFree; n < OUTBOX_SLOT_COUNT; n++, i = i + 1 == OUTBOX_SLOT_COUNT ? 0 : i + 1) {
    const s = slotAt(i);
    if (s.state == FREE) {
      nextFree = i + 1 == OUTBOX_SLOT_COUNT ? 0 : i + 1;
      lastReserved = i;
      setState(s, UNSENT);
      s.kind = kind;
      s.token = 0;
      s.packetId = 0;
      s.offset = S().arenaEnd;
      s.len = len;
      s.status = 0;
      s.seq = S().outboxNextSeq++;
      S().arenaEnd += len;
      S().outboxLive++;
      return i;
    }
  }
  return -1;
}

/** Room left for one more message, in bytes (after a compaction if needed). */
export function roomFor(len: u32): bool {
  if (S().outboxLive >= OUTBOX_SLOT_COUNT) return false;
  if (S().arenaEnd + len <= <u32>OUTBOX_CAPACITY) return true;
  compact();
  return S().arenaEnd + len <= <u32>OUTBOX_CAPACITY;
}

export function release(i: i32): void {
  const s = slotAt(i);
  if (s.state == FREE) return;
  setState(s, FREE);
  S().outboxLive--;
  if (S().outboxLive == 0) {
    S().arenaEnd = 0;
  } else if (s.offset + s.len == S().arenaEnd) {
    S().arenaEnd = s.offset;
  }
}

/** The oldest slot in `state`, or -1. The walk ends at the last slot in that state (the counts say how many). */
export function oldest(state: u32): i32 {
  let left = countOf(state);
  if (left == 0) return -1;
  if (left == 1 && lastReserved >= 0 && slotAt(lastReserved).state == state) return lastReserved;
  let best = -1;
  let bestSeq: u32 = 0xFFFFFFFF;
  for (let i = 0; i < OUTBOX_SLOT_COUNT; i++) {
    const s = slotAt(i);
    if (s.state != state) continue;
    if (s.seq < bestSeq) { best = i; bestSeq = s.seq; }
    if (--left == 0) break;
  }
  return best;
}

/**
 * The in-flight slot waiting for PUBACK `packetId`, or -1. QoS 1 ids are chosen by slot (machine.ts
 * slotPacketId: id - 1 ≡ slot modulo the slot count), so this is one look.
 */
export function findInflight(packetId: u32): i32 {
  if (packetId == 0 || packetId > 65535) return -1;
  const i = <i32>((packetId - 1) % <u32>OUTBOX_SLOT_COUNT);
  const s = slotAt(i);
  return s.state == INFLIGHT && s.packetId == packetId ? i : -1;
}

/** Releases slot `i` if it still holds twin request `rid` (it may have been released and reused since). */
export function releaseTwin(i: i32, rid: u32): void {
  if (i < 0 || i >= OUTBOX_SLOT_COUNT) return;
  const s = slotAt(i);
  if (s.state != FREE && s.kind == KIND_TWIN_REQUEST && s.token == rid) release(i);
}

/** Snapshot: live slots (index and record) and the arena's live bytes (compactForSave ran first). */
export function saveOutbox(): void {
  put32(<u32>S().outboxLive);
  let left = S().outboxLive;
  for (let i = 0; left > 0 && i < OUTBOX_SLOT_COUNT; i++) {
    const s = slotAt(i);
    if (s.state != FREE) {
      put32(<u32>i);
      putBytes(changetype<usize>(s), <i32>SLOT_SIZE);
      left--;
    }
  }
  putBytes(ARENA, <i32>S().arenaEnd);
}

/** Before a snapshot: the live messages moved to the arena's front, so that only their bytes are saved. */
export function compactForSave(): void {
  let left = S().outboxLive;
  if (left == 0) return;
  // Already compact when the live messages fill [0, arenaEnd) (they never overlap): the usual case, found in one pass.
  let bytes: u32 = 0;
  for (let i = 0; left > 0 && i < OUTBOX_SLOT_COUNT; i++) {
    const s = slotAt(i);
    if (s.state != FREE) { bytes += s.len; left--; }
  }
  if (bytes != S().arenaEnd) compact();
}
export function restoreOutbox(): void {
  const seq = S().outboxNextSeq; // restored with ClientState
  outboxReset();
  S().outboxNextSeq = seq;
  const n = <i32>get32();
  for (let k = 0; k < n && k < OUTBOX_SLOT_COUNT; k++) {
    const i = <i32>get32();
    if (i < 0 || i >= OUTBOX_SLOT_COUNT) return;
    const s = slotAt(i);
    if (getBytes(changetype<usize>(s), <i32>SLOT_SIZE) < 0) return;
    const state = s.state;
    s.state = FREE;
    bump(FREE, 1);
    setState(s, state);
    S().outboxLive++;
  }
  const end = getBytes(ARENA, OUTBOX_CAPACITY);
  S().arenaEnd = end < 0 ? 0 : <u32>end;
}
