// The device client's whole scalar state in one struct (ClientState) at a fixed address: the machine, the clock,
// the configuration and options, and the bookkeeping of the event ring and the outbox. Nothing else outlives a
// call except the live buffers (configured strings, transmit buffer, pending acks, outbox, twin requests, event
// ring, received bytes), so a snapshot is this struct copied whole plus those buffers, and the snapshot header
// carries a hash of this layout (state-layout.generated.ts, written by scripts/gen-abi.mjs from offsetof).
import {
  DEFAULT_KEEPALIVE_S, DEFAULT_TOKEN_LIFETIME_S, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_MIN_MS, DEFAULT_RETRY_MAX_MS, DEFAULT_RETRY_JITTER_MS, DEFAULT_STABLE_MS, DEFAULT_FEATURES,
  DEFAULT_PING_TIMEOUT_MS, DEFAULT_TWIN_RETRIES, DEFAULT_TWIN_RESYNC,
} from "./options";
import { STATE_IDLE, STATE_STOPPED } from "./states";

@unmanaged
export class ClientState {
  // ---- the machine
  /** STATE_* */
  state: i32;
  /** where CLOSING goes once the transport is down: BACKOFF or STOPPED */
  afterClose: i32;
  reconnectDelay: i32;
  reconnectAt: u32;
  /** connection attempts since the last stable connection */
  attempt: i32;
  transportUpAt: u32;
  tokenIssuedAt: u32;
  tokenRenewAfterMs: i32;
  readyAt: u32;
  stable: i32;
  lastTxAt: u32;
  pingOutstanding: i32;
  pingSentAt: u32;
  subscribedOnce: i32;
  subscribeId: u32;
  nextPacketId: u32;
  nextToken: u32;
  nextRid: u32;
  /** bytes waiting in the transmit buffer */
  outLen: i32;
  /** C2D acknowledgements waiting for room in the transmit buffer */
  ackCount: i32;
  /** the property bag of the telemetry message being built (not kept in snapshots) */
  bagLen: i32;
  /** 1 when that bag has a message id ($.mid): client_telemetry_store adds one only when it has none */
  bagMid: i32;
  /** desired patches up to this $version are applied */
  lastDesired: i64;
  /** the twin request the client made itself after a reconnect (OPT_TWIN_RESYNC), 0 = none */
  resyncRid: u32;
  /** connected at least once since client_init (a later connection is a reconnect) */
  connectedOnce: i32;
  // ---- the clock
  /** the board's monotonic milliseconds (wraps every 49.7 days: only differences are used) */
  now: u32;
  clockStarted: i32;
  timeSet: i32;
  /** Unix seconds at the anchor */
  unixAtBase: u32;
  /** accumulated from `now` differences, so it never wraps */
  sinceAnchorMs: u64;
  rng: u32;
  // ---- configuration
  configured: i32;
  x509: i32;
  keyLen: i32;
  keepaliveS: i32;
  tokenLifetimeS: i32;
  connectTimeoutMs: i32;
  requestTimeoutMs: i32;
  retryMinMs: i32;
  retryMaxMs: i32;
  retryJitterMs: i32;
  stableMs: i32;
  features: i32;
  pingTimeoutMs: i32;
  twinRetries: i32;
  twinResync: i32;
  // ---- the event ring and the outbox
  ringHead: i32;
  ringCount: i32;
  arenaEnd: u32;
  outboxLive: i32;
  outboxNextSeq: u32;
}

export const CLIENT_STATE_SIZE: i32 = offsetof<ClientState>();
export const CLIENT_STATE: usize = memory.data(CLIENT_STATE_SIZE, 16);
const RNG_DEFAULT: u32 = 0x9E3779B9;

/** The client's state (a view of the struct at CLIENT_STATE). */
// @ts-ignore: decorator
@inline export function S(): ClientState { return changetype<ClientState>(CLIENT_STATE); }

export function defaultSeed(): u32 { return RNG_DEFAULT; }

/** The options' defaults and an unconfigured client (client_reset). */
export function resetConfigState(): void {
  const s = S();
  s.configured = 0; s.x509 = 0; s.keyLen = 0;
  s.keepaliveS = DEFAULT_KEEPALIVE_S; s.tokenLifetimeS = DEFAULT_TOKEN_LIFETIME_S;
  s.connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS; s.requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
  s.retryMinMs = DEFAULT_RETRY_MIN_MS; s.retryMaxMs = DEFAULT_RETRY_MAX_MS; s.retryJitterMs = DEFAULT_RETRY_JITTER_MS;
  s.stableMs = DEFAULT_STABLE_MS; s.features = DEFAULT_FEATURES; s.pingTimeoutMs = DEFAULT_PING_TIMEOUT_MS;
  s.twinRetries = DEFAULT_TWIN_RETRIES;
  s.twinResync = DEFAULT_TWIN_RESYNC;
}

/** The whole struct as a freshly instantiated module has it. */
function initialState(): void {
  for (let i: i32 = 0; i < CLIENT_STATE_SIZE; i += 4) store<u32>(CLIENT_STATE + <usize>i, 0);
  const s = S();
  s.state = STATE_IDLE;
  s.afterClose = STATE_STOPPED;
  s.tokenRenewAfterMs = 0x7FFFFFFF;
  s.nextPacketId = 1;
  s.nextToken = 1;
  s.nextRid = 1;
  s.lastDesired = -1;
  s.rng = RNG_DEFAULT;
  s.outboxNextSeq = 1;
  resetConfigState();
}
initialState();
