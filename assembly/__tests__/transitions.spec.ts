// The client's transition table, cell by cell: every (state, input) pair either leads where the machine's
// description says or is BAD_STATE and leaves the state alone. The expectation below is written out here,
// independently of the table in assembly/client/transitions.ts.
import { E_BAD_STATE } from "../status";
import {
  STATE_IDLE, STATE_OPENING, STATE_CONNECTING, STATE_SUBSCRIBING, STATE_READY, STATE_CLOSING, STATE_BACKOFF,
  STATE_STOPPED,
} from "../client/states";
import {
  go, nextState, STATE_COUNT, INPUT_COUNT, IN_START, IN_TRANSPORT_UP, IN_SUBSCRIBING, IN_CONNECTED, IN_DROP,
  IN_TRANSPORT_LOST, IN_CLOSED_RETRY, IN_CLOSED_STOP, IN_STOP, IN_RETRY_DUE, IN_RESET,
} from "../client/transitions";
import { S } from "../client/state";

/** What the machine is documented to do: the next state for (state, input), or BAD_STATE. */
function expected(state: i32, input: i32): i32 {
  if (input == IN_RESET) return STATE_IDLE; // client_init / client_reset from anywhere
  const session = state == STATE_CONNECTING || state == STATE_SUBSCRIBING || state == STATE_READY;
  const wanted = session || state == STATE_OPENING;
  if (input == IN_START) {
    // a new connection from rest; a no-op while one is being made, held or closed
    return state == STATE_IDLE || state == STATE_BACKOFF || state == STATE_STOPPED ? STATE_OPENING : state;
  }
  if (input == IN_TRANSPORT_UP) return state == STATE_OPENING ? STATE_CONNECTING : E_BAD_STATE;
  if (input == IN_SUBSCRIBING) return state == STATE_CONNECTING ? STATE_SUBSCRIBING : E_BAD_STATE;
  if (input == IN_CONNECTED) return state == STATE_CONNECTING || state == STATE_SUBSCRIBING ? STATE_READY : E_BAD_STATE;
  if (input == IN_DROP || input == IN_TRANSPORT_LOST) return wanted ? STATE_CLOSING : E_BAD_STATE;
  if (input == IN_CLOSED_RETRY) return state == STATE_CLOSING ? STATE_BACKOFF : E_BAD_STATE;
  if (input == IN_CLOSED_STOP) return state == STATE_CLOSING ? STATE_STOPPED : E_BAD_STATE;
  if (input == IN_STOP) {
    if (state == STATE_CLOSING) return STATE_CLOSING; // it stops once the transport is down
    return state == STATE_IDLE || state == STATE_BACKOFF || state == STATE_STOPPED ? STATE_STOPPED : E_BAD_STATE;
  }
  if (input == IN_RETRY_DUE) return state == STATE_BACKOFF ? STATE_OPENING : E_BAD_STATE;
  return E_BAD_STATE;
}

describe("client transition table", () => {
  it("has one row per state and one column per input", () => {
    expect(STATE_COUNT).toBe(STATE_STOPPED + 1);
    expect(INPUT_COUNT).toBe(IN_RESET + 1);
  });

  it("leads every (state, input) cell where the machine's description says, or refuses it with BAD_STATE", () => {
    let cells = 0;
    let refused = 0;
    for (let state = 0; state < STATE_COUNT; state++) {
      for (let input = 0; input < INPUT_COUNT; input++) {
        const want = expected(state, input);
        expect(nextState(state, input)).toBe(want);
        S().state = state;
        expect(go(input)).toBe(want);
        expect(S().state).toBe(want < 0 ? state : want); // a refused transition changes nothing
        cells++;
        if (want < 0) refused++;
      }
    }
    expect(cells).toBe(8 * 11);
    expect(refused).toBeGreaterThan(0);
    S().state = STATE_IDLE;
  });

  it("refuses states and inputs outside the table", () => {
    expect(nextState(-1, IN_START)).toBe(E_BAD_STATE);
    expect(nextState(STATE_COUNT, IN_START)).toBe(E_BAD_STATE);
    expect(nextState(STATE_IDLE, -1)).toBe(E_BAD_STATE);
    expect(nextState(STATE_IDLE, INPUT_COUNT)).toBe(E_BAD_STATE);
  });
});
