// The provisioning client's whole scalar state in one struct (DpsState) at a fixed address, and its clock.
// Its live buffers (configuration strings, key, payload, transmit buffer, operation id, assignment) are in
// config.ts and machine.ts; received bytes go through the MQTT stream (assembly/mqtt/stream.ts), which the
// device client also uses: a device provisions first, then connects to its hub.
import {
  DPS_DEFAULT_REGISTRATION_TIMEOUT_MS, DPS_DEFAULT_CONNECT_TIMEOUT_MS, DPS_DEFAULT_REQUEST_TIMEOUT_MS,
  DPS_DEFAULT_RETRY_AFTER_DEFAULT_MS, DPS_DEFAULT_RETRY_AFTER_MIN_MS, DPS_DEFAULT_RETRY_AFTER_MAX_MS,
  DPS_DEFAULT_RETRIES, DPS_DEFAULT_TOKEN_LIFETIME_S, DPS_DEFAULT_RETRY_MIN_MS, DPS_DEFAULT_RETRY_MAX_MS,
  DPS_DEFAULT_RETRY_JITTER_MS, DPS_DEFAULT_KEEPALIVE_S,
} from "./options";
import { DPS_STATE_IDLE } from "./states";

@unmanaged
export class DpsState {
  // ---- the machine
  /** DPS_STATE_* */
  state: i32;
  /** the outcome once DONE: OK (assigned) or a DPS_* status; BAD_STATE before */
  result: i32;
  /** what CLOSING leads to: 1 a reconnect, 0 the end */
  retryAfterClose: i32;
  reconnectDelay: i32;
  reconnectAt: u32;
  /** connection attempts in this registration */
  attempt: i32;
  /** resends after 429 / 5xx in this registration */
  resends: i32;
  startedAt: u32;
  transportUpAt: u32;
  requestSentAt: u32;
  /** when WAITING ends */
  sendAt: u32;
  lastTxAt: u32;
  /** request ids: a counter, so an answer to an older request is told apart */
  rid: u32;
  subscribeId: u32;
  nextPacketId: u32;
  /** the last transient cause (reported with DPS_TIMEOUT) */
  lastCause: i32;
  /** bytes waiting in the transmit buffer */
  outLen: i32;
  /** an operation id is known: requests poll it instead of registering again */
  hasOperation: i32;
  // ---- the clock (the board's monotonic milliseconds, only differences used)
  now: u32;
  clockStarted: i32;
  timeSet: i32;
  unixAtBase: u32;
  sinceAnchorMs: u64;
  rng: u32;
  // ---- configuration
  configured: i32;
  x509: i32;
  keyLen: i32;
  payloadLen: i32;
  registrationTimeoutMs: i32;
  connectTimeoutMs: i32;
  requestTimeoutMs: i32;
  retryAfterDefaultMs: i32;
  retryAfterMinMs: i32;
  retryAfterMaxMs: i32;
  retries: i32;
  tokenLifetimeS: i32;
  retryMinMs: i32;
  retryMaxMs: i32;
  retryJitterMs: i32;
  keepaliveS: i32;
  // ---- the ring of view-less events
  ringHead: i32;
  ringCount: i32;
}

const DPS_STATE_SIZE: i32 = offsetof<DpsState>();
const DPS_STATE: usize = memory.data(DPS_STATE_SIZE, 16);

/** The provisioning client's state (a view of the struct at DPS_STATE). */
// @ts-ignore: decorator
@inline export function D(): DpsState { return changetype<DpsState>(DPS_STATE); }

/** Zero, then defaults: a fresh, unconfigured provisioning client. */
export function resetDpsState(): void {
  for (let i: i32 = 0; i < DPS_STATE_SIZE; i += 4) store<u32>(DPS_STATE + <usize>i, 0);
  const d = D();
  d.state = DPS_STATE_IDLE;
  d.result = -3; // BAD_STATE: no outcome yet
  d.nextPacketId = 1;
  d.rng = 0x9E3779B9;
  d.registrationTimeoutMs = DPS_DEFAULT_REGISTRATION_TIMEOUT_MS;
  d.connectTimeoutMs = DPS_DEFAULT_CONNECT_TIMEOUT_MS;
  d.requestTimeoutMs = DPS_DEFAULT_REQUEST_TIMEOUT_MS;
  d.retryAfterDefaultMs = DPS_DEFAULT_RETRY_AFTER_DEFAULT_MS;
  d.retryAfterMinMs = DPS_DEFAULT_RETRY_AFTER_MIN_MS;
  d.retryAfterMaxMs = DPS_DEFAULT_RETRY_AFTER_MAX_MS;
  d.retries = DPS_DEFAULT_RETRIES;
  d.tokenLifetimeS = DPS_DEFAULT_TOKEN_LIFETIME_S;
  d.retryMinMs = DPS_DEFAULT_RETRY_MIN_MS;
  d.retryMaxMs = DPS_DEFAULT_RETRY_MAX_MS;
  d.retryJitterMs = DPS_DEFAULT_RETRY_JITTER_MS;
  d.keepaliveS = DPS_DEFAULT_KEEPALIVE_S;
}
resetDpsState();

// ---- the clock: like the device client's (assembly/client/clock.ts), over this struct ----------------------
/** Moves the clock to the board's `ms`; time never runs backwards here. */
export function advance(ms: u32): void {
  const d = D();
  if (!d.clockStarted) { d.clockStarted = 1; d.now = ms; return; }
  const delta = <i32>(ms - d.now);
  if (delta > 0) { d.sinceAnchorMs += <u64>delta; d.now = ms; }
}

/** `unixSeconds` began at the board's tick `nowMs`. */
export function setTime(unixSeconds: u32, nowMs: u32): void {
  advance(nowMs);
  const d = D();
  d.unixAtBase = unixSeconds;
  const fraction = <i32>(d.now - nowMs);
  d.sinceAnchorMs = fraction > 0 ? <u64>fraction : 0;
  d.timeSet = 1;
}

export function unixNowMs(): u64 { return <u64>D().unixAtBase * 1000 + D().sinceAnchorMs; }

// @ts-ignore: decorator
@inline export function elapsed(since: u32): i32 { return <i32>(D().now - since); }

/** The next value of the xorshift32 jitter generator. */
export function random(): u32 {
  let x = D().rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  D().rng = x;
  return x;
}
