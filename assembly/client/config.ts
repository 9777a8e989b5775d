// The device's identity and options, copied out of the connection string at init so the host may reuse its
// buffers. Strings are kept as (offset, length) in one static area.
import { OK } from "../status";
import { parseConnectionString, csResult, CS_HOST, CS_DEVICE, CS_MODULE, CS_KEY_NAME, CS_GATEWAY, CS_X509, CS_KEY_LEN } from "../iothub/connection-string";
import { keyBuffer } from "../iothub/keys";
import { E_BAD_ARGUMENT } from "../status";
import { E_CLIENT_BAD_OPTION } from "./status";
import { put32, putBytes, get32, getBytes } from "../snapshot";

export const F_HOST: i32 = 0;
export const F_DEVICE: i32 = 1;
export const F_MODULE: i32 = 2;
export const F_KEY_NAME: i32 = 3;
export const F_GATEWAY: i32 = 4;
export const F_MODEL_ID: i32 = 5;
export const F_CLIENT_TYPE: i32 = 6;
const FIELD_COUNT: i32 = 7;
const FIELD_CAP: i32 = 256;

const STRINGS: usize = memory.data(FIELD_COUNT * FIELD_CAP, 16);
const LENGTHS: usize = memory.data(FIELD_COUNT * 4, 16);
const KEY: usize = memory.data(64, 16);
export let keyLen: i32 = 0;
export let x509: bool = false;
export let configured: bool = false;

// @ts-ignore: decorator
@inline export function fieldPtr(f: i32): usize { return STRINGS + <usize>(f * FIELD_CAP); }
// @ts-ignore: decorator
@inline export function fieldLen(f: i32): i32 { return load<i32>(LENGTHS + <usize>(f << 2)); }
export function keyPtr(): usize { return KEY; }

export function setField(f: i32, ptr: usize, len: i32): i32 {
  if (len < 0 || len > FIELD_CAP) return E_BAD_ARGUMENT;
  if (len > 0) memory.copy(fieldPtr(f), ptr, <usize>len);
  store<i32>(LENGTHS + <usize>(f << 2), len);
  return OK;
}

function copyFromResult(f: i32, csField: i32): i32 {
  const res = csResult();
  const len = load<i32>(res + <usize>csField + 4);
  return setField(f, len > 0 ? <usize>load<i32>(res + <usize>csField) : 0, len > 0 ? len : 0);
}

/** Parses a device or module connection string into the configuration. OK or the parser's code. */
export function configure(ptr: usize, len: i32): i32 {
  configured = false;
  const rc = parseConnectionString(ptr, len);
  if (rc != OK) return rc;
  const res = csResult();
  let r = copyFromResult(F_HOST, CS_HOST);
  if (r == OK) r = copyFromResult(F_DEVICE, CS_DEVICE);
  if (r == OK) r = copyFromResult(F_MODULE, CS_MODULE);
  if (r == OK) r = copyFromResult(F_KEY_NAME, CS_KEY_NAME);
  if (r == OK) r = copyFromResult(F_GATEWAY, CS_GATEWAY);
  if (r != OK) return r;
  x509 = load<i32>(res + <usize>CS_X509) != 0;
  keyLen = load<i32>(res + <usize>CS_KEY_LEN);
  if (keyLen < 0) keyLen = 0;
  if (keyLen > 0) memory.copy(KEY, keyBuffer(), <usize>keyLen);
  configured = true;
  return OK;
}

// Options (client_option_set): integers with defaults chosen for IoT Hub.
/** MQTT keepalive in seconds, 0..1177 (the hub's maximum); 0 = no PINGREQ */
export const OPT_KEEPALIVE_S: i32 = 1;
/** SAS token lifetime in seconds, >= 1; the client reconnects with a fresh token at 80 % of it */
export const OPT_TOKEN_LIFETIME_S: i32 = 2;
/** transport up → CONNACK and SUBACK */
export const OPT_CONNECT_TIMEOUT_MS: i32 = 3;
/** a twin request → its answer */
export const OPT_REQUEST_TIMEOUT_MS: i32 = 4;
/** back-off: min(min·2^attempt, max) + jitter, capped at max */
export const OPT_RETRY_MIN_MS: i32 = 5;
/** the back-off's cap */
export const OPT_RETRY_MAX_MS: i32 = 6;
/** jitter added to the back-off, drawn from client_seed_set */
export const OPT_RETRY_JITTER_MS: i32 = 7;
/** connected this long → the attempt counter starts over */
export const OPT_STABLE_MS: i32 = 8;
/** which topics are subscribed: FEATURE_* bits */
export const OPT_FEATURES: i32 = 9;
/** PINGREQ → PINGRESP */
export const OPT_PING_TIMEOUT_MS: i32 = 10;

export const DEFAULT_KEEPALIVE_S: i32 = 60;
export const DEFAULT_TOKEN_LIFETIME_S: i32 = 3600;
export const DEFAULT_CONNECT_TIMEOUT_MS: i32 = 30000;
export const DEFAULT_REQUEST_TIMEOUT_MS: i32 = 30000;
export const DEFAULT_RETRY_MIN_MS: i32 = 1000;
export const DEFAULT_RETRY_MAX_MS: i32 = 100000;
export const DEFAULT_RETRY_JITTER_MS: i32 = 5000;
export const DEFAULT_STABLE_MS: i32 = 30000;
export const DEFAULT_FEATURES: i32 = 7;
export const DEFAULT_PING_TIMEOUT_MS: i32 = 30000;
const MAX_KEEPALIVE_S: i32 = 1177;

/** cloud-to-device messages (subscribes to devices/{id}/messages/devicebound/#) */
export const FEATURE_C2D: i32 = 1;
/** direct methods ($iothub/methods/POST/#) */
export const FEATURE_METHODS: i32 = 2;
/** the device twin ($iothub/twin/res/# and desired-property patches) */
export const FEATURE_TWIN: i32 = 4;
const FEATURES_ALL: i32 = FEATURE_C2D | FEATURE_METHODS | FEATURE_TWIN;

export let keepaliveS: i32 = DEFAULT_KEEPALIVE_S;
export let tokenLifetimeS: i32 = DEFAULT_TOKEN_LIFETIME_S;
export let connectTimeoutMs: i32 = DEFAULT_CONNECT_TIMEOUT_MS;
export let requestTimeoutMs: i32 = DEFAULT_REQUEST_TIMEOUT_MS;
export let retryMinMs: i32 = DEFAULT_RETRY_MIN_MS;
export let retryMaxMs: i32 = DEFAULT_RETRY_MAX_MS;
export let retryJitterMs: i32 = DEFAULT_RETRY_JITTER_MS;
export let stableMs: i32 = DEFAULT_STABLE_MS;
export let features: i32 = DEFAULT_FEATURES;
export let pingTimeoutMs: i32 = DEFAULT_PING_TIMEOUT_MS;

export function setOption(opt: i32, value: i32): i32 {
  if (value < 0) return E_BAD_ARGUMENT;
  switch (opt) {
    case OPT_KEEPALIVE_S: if (value > MAX_KEEPALIVE_S) return E_BAD_ARGUMENT; keepaliveS = value; break;
    case OPT_TOKEN_LIFETIME_S: if (value < 1) return E_BAD_ARGUMENT; tokenLifetimeS = value; break;
    case OPT_CONNECT_TIMEOUT_MS: connectTimeoutMs = value; break;
    case OPT_REQUEST_TIMEOUT_MS: requestTimeoutMs = value; break;
    case OPT_RETRY_MIN_MS: retryMinMs = value; break;
    case OPT_RETRY_MAX_MS: retryMaxMs = value; break;
    case OPT_RETRY_JITTER_MS: retryJitterMs = value; break;
    case OPT_STABLE_MS: stableMs = value; break;
    case OPT_FEATURES: if ((value & ~FEATURES_ALL) != 0) return E_BAD_ARGUMENT; features = value; break;
    case OPT_PING_TIMEOUT_MS: pingTimeoutMs = value; break;
    default: return E_CLIENT_BAD_OPTION;
  }
  return OK;
}

/** Back to an unconfigured client with default options. */
export function resetConfig(): void {
  for (let f = 0; f < FIELD_COUNT; f++) store<i32>(LENGTHS + <usize>(f << 2), 0);
  keyLen = 0;
  x509 = false;
  configured = false;
  keepaliveS = DEFAULT_KEEPALIVE_S; tokenLifetimeS = DEFAULT_TOKEN_LIFETIME_S;
  connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS; requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
  retryMinMs = DEFAULT_RETRY_MIN_MS; retryMaxMs = DEFAULT_RETRY_MAX_MS; retryJitterMs = DEFAULT_RETRY_JITTER_MS;
  stableMs = DEFAULT_STABLE_MS; features = DEFAULT_FEATURES; pingTimeoutMs = DEFAULT_PING_TIMEOUT_MS;
}

export function saveConfig(): void {
  for (let f = 0; f < FIELD_COUNT; f++) putBytes(fieldPtr(f), fieldLen(f));
  putBytes(KEY, keyLen);
  put32(x509 ? 1 : 0); put32(configured ? 1 : 0);
  put32(<u32>keepaliveS); put32(<u32>tokenLifetimeS); put32(<u32>connectTimeoutMs); put32(<u32>requestTimeoutMs);
  put32(<u32>retryMinMs); put32(<u32>retryMaxMs); put32(<u32>retryJitterMs); put32(<u32>stableMs);
  put32(<u32>features); put32(<u32>pingTimeoutMs);
}
export function restoreConfig(): void {
  for (let f = 0; f < FIELD_COUNT; f++) {
    const n = getBytes(fieldPtr(f), FIELD_CAP);
    store<i32>(LENGTHS + <usize>(f << 2), n < 0 ? 0 : n);
  }
  keyLen = getBytes(KEY, 64);
  if (keyLen < 0) keyLen = 0;
  x509 = get32() != 0; configured = get32() != 0;
  keepaliveS = <i32>get32(); tokenLifetimeS = <i32>get32(); connectTimeoutMs = <i32>get32(); requestTimeoutMs = <i32>get32();
  retryMinMs = <i32>get32(); retryMaxMs = <i32>get32(); retryJitterMs = <i32>get32(); stableMs = <i32>get32();
  features = <i32>get32(); pingTimeoutMs = <i32>get32();
}
