// The state machine as data: TABLE[state][input] is the next state, or NONE for a transition the machine does
// not make. `go` is the only place the state changes; a transition the table does not list is BAD_STATE and
// leaves the state as it was. What happens on each transition (packets, timers, events) is in machine.ts.
//
//   IDLE ─START→ OPENING ─TRANSPORT_UP→ CONNECTING ─SUBSCRIBING→ SUBSCRIBING ─CONNECTED→ READY
//     (CONNECTING ─CONNECTED→ READY when the session is present or nothing is subscribed)
//   OPENING / CONNECTING / SUBSCRIBING / READY ─DROP or TRANSPORT_LOST→ CLOSING
//   CLOSING ─CLOSED_RETRY→ BACKOFF ─RETRY_DUE→ OPENING …      CLOSING ─CLOSED_STOP→ STOPPED
//   IDLE / BACKOFF / STOPPED ─STOP→ STOPPED                     STOPPED / BACKOFF ─START→ OPENING
//   any ─RESET→ IDLE
import { E_BAD_STATE } from "../status";
import {
  STATE_IDLE, STATE_OPENING, STATE_CONNECTING, STATE_SUBSCRIBING, STATE_READY, STATE_CLOSING, STATE_BACKOFF,
  STATE_STOPPED,
} from "./states";
import { S } from "./state";

/** client_start */
export const IN_START: i32 = 0;
/** the board reports the transport up; CONNECT is written */
export const IN_TRANSPORT_UP: i32 = 1;
/** CONNACK accepted, SUBSCRIBE written */
export const IN_SUBSCRIBING: i32 = 2;
/** connected (SUBACK, or a CONNACK that needs no subscription) */
export const IN_CONNECTED: i32 = 3;
/** the client ends the connection (refusal, time-out, renewal, protocol error, stop) */
export const IN_DROP: i32 = 4;
/** the board reports the transport gone while the client still wanted it */
export const IN_TRANSPORT_LOST: i32 = 5;
/** the transport is closed and a reconnect is planned */
export const IN_CLOSED_RETRY: i32 = 6;
/** the transport is closed for good */
export const IN_CLOSED_STOP: i32 = 7;
/** client_stop with no transport to close */
export const IN_STOP: i32 = 8;
/** the back-off delay is over */
export const IN_RETRY_DUE: i32 = 9;
/** client_init / client_reset */
export const IN_RESET: i32 = 10;
export const INPUT_COUNT: i32 = 11;
export const STATE_COUNT: i32 = 8;

const NONE: i8 = -1;
const I: i8 = <i8>STATE_IDLE, O: i8 = <i8>STATE_OPENING, C: i8 = <i8>STATE_CONNECTING, U: i8 = <i8>STATE_SUBSCRIBING;
const R: i8 = <i8>STATE_READY, L: i8 = <i8>STATE_CLOSING, B: i8 = <i8>STATE_BACKOFF, X: i8 = <i8>STATE_STOPPED;
const _: i8 = NONE;

// One row per state, one column per input:
//       START UP SUBSCRIBING CONNECTED DROP LOST CLOSED_RETRY CLOSED_STOP STOP RETRY_DUE RESET
const TABLE = memory.data<i8>([
  /* IDLE        */ O, _, _, _, _, _, _, _, X, _, I,
  /* OPENING     */ O, C, _, _, L, L, _, _, _, _, I,
  /* CONNECTING  */ C, _, U, R, L, L, _, _, _, _, I,
  /* SUBSCRIBING */ U, _, _, R, L, L, _, _, _, _, I,
  /* READY       */ R, _, _, _, L, L, _, _, _, _, I,
  /* CLOSING     */ L, _, _, _, _, _, B, X, L, _, I,
  /* BACKOFF     */ O, _, _, _, _, _, _, _, X, O, I,
  /* STOPPED     */ O, _, _, _, _, _, _, _, X, _, I,
]);

/** The state `input` leads to from `state`, or BAD_STATE when the table lists no such transition. */
export function nextState(state: i32, input: i32): i32 {
  if (<u32>state >= <u32>STATE_COUNT || <u32>input >= <u32>INPUT_COUNT) return E_BAD_STATE;
  const next = <i32>load<i8>(TABLE + <usize>(state * INPUT_COUNT + input));
  return next == NONE ? E_BAD_STATE : next;
}

/** Applies `input` to the current state: the new state, or BAD_STATE (and no change). */
export function go(input: i32): i32 {
  const next = nextState(S().state, input);
  if (next >= 0) S().state = next;
  return next;
}

/** CONNECT has been written and not yet answered by a closed transport: CONNECTING, SUBSCRIBING, READY. */
// @ts-ignore: decorator
@inline export function inSession(state: i32): bool { return state >= STATE_CONNECTING && state <= STATE_READY; }
/** The board has (or is opening) a transport the client wants: OPENING and the session states. */
// @ts-ignore: decorator
@inline export function transportWanted(state: i32): bool { return state >= STATE_OPENING && state <= STATE_READY; }
