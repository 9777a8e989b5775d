// The provisioning client's transition table, cell by cell: every (state, input) pair either leads where the
// machine's description says or is BAD_STATE and leaves the state alone. The expectation below is written out
// here, independently of the table in assembly/dps/transitions.ts.
import { E_BAD_STATE } from "../status";
import {
  DPS_STATE_IDLE, DPS_STATE_OPENING, DPS_STATE_CONNECTING, DPS_STATE_SUBSCRIBING, DPS_STATE_REQUESTING,
  DPS_STATE_WAITING, DPS_STATE_CLOSING, DPS_STATE_BACKOFF, DPS_STATE_DONE,
} from "../dps/states";
import {
  go, nextState, STATE_COUNT, INPUT_COUNT, IN_START, IN_TRANSPORT_UP, IN_SUBSCRIBING, IN_REQUEST, IN_WAIT,
  IN_DROP, IN_TRANSPORT_LOST, IN_CLOSED_RETRY, IN_CLOSED_DONE, IN_STOP, IN_RETRY_DUE, IN_RESET,
} from "../dps/transitions";
import { D } from "../dps/state";

/** What the machine is documented to do: the next state for (state, input), or BAD_STATE. */
function expected(state: i32, input: i32): i32 {
  if (input == IN_RESET) return DPS_STATE_IDLE; // dps_init from anywhere
  const session = state >= DPS_STATE_CONNECTING && state <= DPS_STATE_WAITING;
  const wanted = session || state == DPS_STATE_OPENING;
  const rest = state == DPS_STATE_IDLE || state == DPS_STATE_DONE;
  // a new registration from rest; a no-op while one runs
  if (input == IN_START) return rest ? DPS_STATE_OPENING : state;
  if (input == IN_TRANSPORT_UP) return state == DPS_STATE_OPENING ? DPS_STATE_CONNECTING : E_BAD_STATE;
  if (input == IN_SUBSCRIBING) return state == DPS_STATE_CONNECTING ? DPS_STATE_SUBSCRIBING : E_BAD_STATE;
  if (input == IN_REQUEST) {
    const can = state == DPS_STATE_SUBSCRIBING || state == DPS_STATE_REQUESTING || state == DPS_STATE_WAITING;
    return can ? DPS_STATE_REQUESTING : E_BAD_STATE;
  }
  if (input == IN_WAIT) return state == DPS_STATE_REQUESTING ? DPS_STATE_WAITING : E_BAD_STATE;
  if (input == IN_DROP || input == IN_TRANSPORT_LOST) return wanted ? DPS_STATE_CLOSING : E_BAD_STATE;
  if (input == IN_CLOSED_RETRY) return state == DPS_STATE_CLOSING ? DPS_STATE_BACKOFF : E_BAD_STATE;
  if (input == IN_CLOSED_DONE) return state == DPS_STATE_CLOSING ? DPS_STATE_DONE : E_BAD_STATE;
  if (input == IN_STOP) {
    if (state == DPS_STATE_CLOSING) return DPS_STATE_CLOSING; // done once the transport is down
    return rest || state == DPS_STATE_BACKOFF ? DPS_STATE_DONE : E_BAD_STATE;
  }
  if (input == IN_RETRY_DUE) return state == DPS_STATE_BACKOFF ? DPS_STATE_OPENING : E_BAD_STATE;
  return E_BAD_STATE;
}

describe("provisioning transition table", () => {
  it("has one row per state and one column per input", () => {
    expect(STATE_COUNT).toBe(DPS_STATE_DONE + 1);
    expect(INPUT_COUNT).toBe(IN_RESET + 1);
  });

  it("leads every (state, input) cell where the machine's description says, or refuses it with BAD_STATE", () => {
    let cells = 0;
    let refused = 0;
    for (let state = 0; state < STATE_COUNT; state++) {
      for (let input = 0; input < INPUT_COUNT; input++) {
        const want = expected(state, input);
        expect(nextState(state, input)).toBe(want);
        D().state = state;
        expect(go(input)).toBe(want);
        expect(D().state).toBe(want < 0 ? state : want); // a refused transition changes nothing
        cells++;
        if (want < 0) refused++;
      }
    }
    expect(cells).toBe(9 * 12);
    expect(refused).toBeGreaterThan(0);
    D().state = DPS_STATE_IDLE;
  });

  it("refuses states and inputs outside the table", () => {
    expect(nextState(-1, IN_START)).toBe(E_BAD_STATE);
    expect(nextState(STATE_COUNT, IN_START)).toBe(E_BAD_STATE);
    expect(nextState(DPS_STATE_IDLE, -1)).toBe(E_BAD_STATE);
    expect(nextState(DPS_STATE_IDLE, INPUT_COUNT)).toBe(E_BAD_STATE);
  });
});
