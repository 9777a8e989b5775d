// The provisioning state machine as data: TABLE[state][input] is the next state, or NONE for a transition the
// machine does not make. `go` is the only place the state changes; a transition the table does not list is
// BAD_STATE and leaves the state as it was. What happens on each transition is in machine.ts.
//
//   IDLE ─START→ OPENING ─TRANSPORT_UP→ CONNECTING ─SUBSCRIBING→ SUBSCRIBING ─REQUEST→ REQUESTING
//   REQUESTING ─WAIT→ WAITING ─REQUEST→ REQUESTING (polling, or a resend after 429/5xx; REQUESTING ─REQUEST→
//   REQUESTING resends an unanswered request)
//   OPENING … WAITING ─DROP or TRANSPORT_LOST→ CLOSING ─CLOSED_RETRY→ BACKOFF ─RETRY_DUE→ OPENING …
//   CLOSING ─CLOSED_DONE→ DONE (assigned, refused, timed out or stopped)
//   IDLE / BACKOFF / DONE ─STOP→ DONE          DONE ─START→ OPENING (a new registration)      any ─RESET→ IDLE
import { E_BAD_STATE } from "../status";
import {
  DPS_STATE_IDLE, DPS_STATE_OPENING, DPS_STATE_CONNECTING, DPS_STATE_SUBSCRIBING, DPS_STATE_REQUESTING,
  DPS_STATE_WAITING, DPS_STATE_CLOSING, DPS_STATE_BACKOFF, DPS_STATE_DONE,
} from "./states";
import { D } from "./state";
import { rxReserve } from "../mqtt/stream";

/** dps_start */
export const IN_START: i32 = 0;
/** the board reports the transport up; CONNECT is written */
export const IN_TRANSPORT_UP: i32 = 1;
/** CONNACK accepted, SUBSCRIBE written */
export const IN_SUBSCRIBING: i32 = 2;
/** a register or operation-status request is written */
export const IN_REQUEST: i32 = 3;
/** the answer says to ask again after retry-after */
export const IN_WAIT: i32 = 4;
/** the client ends the connection (an outcome, a time-out, a refusal, dps_stop) */
export const IN_DROP: i32 = 5;
/** the board reports the transport gone while the client still wanted it */
export const IN_TRANSPORT_LOST: i32 = 6;
/** the transport is closed and a reconnect is planned */
export const IN_CLOSED_RETRY: i32 = 7;
/** the transport is closed and the registration is over */
export const IN_CLOSED_DONE: i32 = 8;
/** the registration ends with no transport to close */
export const IN_STOP: i32 = 9;
/** the back-off delay is over */
export const IN_RETRY_DUE: i32 = 10;
/** dps_init */
export const IN_RESET: i32 = 11;
export const INPUT_COUNT: i32 = 12;
export const STATE_COUNT: i32 = 9;

const NONE: i8 = -1;
const I: i8 = <i8>DPS_STATE_IDLE, O: i8 = <i8>DPS_STATE_OPENING, C: i8 = <i8>DPS_STATE_CONNECTING;
const U: i8 = <i8>DPS_STATE_SUBSCRIBING, R: i8 = <i8>DPS_STATE_REQUESTING, W: i8 = <i8>DPS_STATE_WAITING;
const L: i8 = <i8>DPS_STATE_CLOSING, B: i8 = <i8>DPS_STATE_BACKOFF, X: i8 = <i8>DPS_STATE_DONE;
const _: i8 = NONE;

// One row per state, one column per input:
//       START UP SUBSCRIBING REQUEST WAIT DROP LOST CLOSED_RETRY CLOSED_DONE STOP RETRY_DUE RESET
const TABLE = memory.data<i8>([
  /* IDLE        */ O, _, _, _, _, _, _, _, _, X, _, I,
  /* OPENING     */ O, C, _, _, _, L, L, _, _, _, _, I,
  /* CONNECTING  */ C, _, U, _, _, L, L, _, _, _, _, I,
  /* SUBSCRIBING */ U, _, _, R, _, L, L, _, _, _, _, I,
  /* REQUESTING  */ R, _, _, R, W, L, L, _, _, _, _, I,
  /* WAITING     */ W, _, _, R, _, L, L, _, _, _, _, I,
  /* CLOSING     */ L, _, _, _, _, _, _, B, X, L, _, I,
  /* BACKOFF     */ B, _, _, _, _, _, _, _, _, X, O, I,
  /* DONE        */ O, _, _, _, _, _, _, _, _, X, _, I,
]);

/** The state `input` leads to from `state`, or BAD_STATE when the table lists no such transition. */
export function nextState(state: i32, input: i32): i32 {
  if (<u32>state >= <u32>STATE_COUNT || <u32>input >= <u32>INPUT_COUNT) return E_BAD_STATE;
  const next = <i32>load<i8>(TABLE + <usize>(state * INPUT_COUNT + input));
  return next == NONE ? E_BAD_STATE : next;
}

/** Applies `input` to the current state: the new state, or BAD_STATE (and no change). */
export function go(input: i32): i32 {
  const next = nextState(D().state, input);
  if (next >= 0) {
    D().state = next;
    rxReserve(next != DPS_STATE_IDLE && next != DPS_STATE_DONE); // a registration under way holds the receive buffer
  }
  return next;
}

/** CONNECT has been written and the transport not yet closed: CONNECTING … WAITING. */
// @ts-ignore: decorator
@inline export function inSession(state: i32): bool { return state >= DPS_STATE_CONNECTING && state <= DPS_STATE_WAITING; }
/** The board has (or is opening) a transport the client wants: OPENING and the session states. */
// @ts-ignore: decorator
@inline export function transportWanted(state: i32): bool { return state >= DPS_STATE_OPENING && state <= DPS_STATE_WAITING; }
