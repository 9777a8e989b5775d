// The device's identity, copied out of the connection string at init so the host may reuse its buffers, and the
// options. Strings are kept as (offset, length) in one static area; the scalars live in ClientState (state.ts).
import { OK } from "../status";
import { parseConnectionString, csResult, CS_HOST, CS_DEVICE, CS_MODULE, CS_KEY_NAME, CS_GATEWAY, CS_X509, CS_KEY_LEN } from "../iothub/connection-string";
import { keyBuffer } from "../iothub/keys";
import { E_BAD_ARGUMENT } from "../status";
import { E_CLIENT_BAD_OPTION } from "./status";
import { putBytes, getBytes } from "../snapshot";
import { S, resetConfigState } from "./state";
import {
  OPT_KEEPALIVE_S, OPT_TOKEN_LIFETIME_S, OPT_CONNECT_TIMEOUT_MS, OPT_REQUEST_TIMEOUT_MS, OPT_RETRY_MIN_MS,
  OPT_RETRY_MAX_MS, OPT_RETRY_JITTER_MS, OPT_STABLE_MS, OPT_FEATURES, OPT_PING_TIMEOUT_MS, OPT_TWIN_RETRIES, OPT_TWIN_RESYNC, MAX_KEEPALIVE_S,
  FEATURES_ALL, TRANSPORT_MQTTS, TRANSPORT_WSS, TRANSPORT_MQTT,
} from "./options";

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
const KEY_CAP: i32 = 64;
const KEY: usize = memory.data(KEY_CAP, 16);

// @ts-ignore: decorator
@inline export function fieldPtr(f: i32): usize { return STRINGS + <usize>(f * FIELD_CAP); }
// @ts-ignore: decorator
@inline export function fieldLen(f: i32): i32 { return load<i32>(LENGTHS + <usize>(f << 2)); }
export function keyPtr(): usize { return KEY; }

// The endpoint: GatewayHostName (`host[:port]`) if set, else HostName.
// @ts-ignore: decorator
@inline function endpointField(): i32 { return fieldLen(F_GATEWAY) > 0 ? F_GATEWAY : F_HOST; }
/** Where the port starts (the colon before its digits), or -1 when the endpoint names none. */
function portColon(): i32 {
  const f = endpointField(), p = fieldPtr(f), n = fieldLen(f);
  let i = n - 1;
  while (i >= 0 && load<u8>(p + <usize>i) >= 48 && load<u8>(p + <usize>i) <= 57) i--;
  return i >= 0 && i < n - 1 && load<u8>(p + <usize>i) == 58 ? i : -1;
}
export function endpointPtr(): usize { return fieldPtr(endpointField()); }
export function endpointHostLen(): i32 { const c = portColon(); return c >= 0 ? c : fieldLen(endpointField()); }
/** The endpoint's explicit port, else the default of `transport` (TRANSPORT_*); BAD_ARGUMENT for another transport. */
export function endpointPort(transport: i32): i32 {
  const c = portColon();
  if (c >= 0) {
    const f = endpointField(), p = fieldPtr(f), n = fieldLen(f);
    let v: i32 = 0;
    for (let i = c + 1; i < n && v < 100000; i++) v = v * 10 + <i32>(load<u8>(p + <usize>i) - 48);
    return v;
  }
  switch (transport) {
    case TRANSPORT_MQTTS: return 8883;
    case TRANSPORT_WSS: return 443;
    case TRANSPORT_MQTT: return 1883;
  }
  return E_BAD_ARGUMENT;
}

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
  const st = S();
  st.configured = 0;
  const rc = parseConnectionString(ptr, len);
  if (rc != OK) return rc;
  const res = csResult();
  let r = copyFromResult(F_HOST, CS_HOST);
  if (r == OK) r = copyFromResult(F_DEVICE, CS_DEVICE);
  if (r == OK) r = copyFromResult(F_MODULE, CS_MODULE);
  if (r == OK) r = copyFromResult(F_KEY_NAME, CS_KEY_NAME);
  if (r == OK) r = copyFromResult(F_GATEWAY, CS_GATEWAY);
  if (r != OK) return r;
  st.x509 = load<i32>(res + <usize>CS_X509) != 0 ? 1 : 0;
  const keyLen = load<i32>(res + <usize>CS_KEY_LEN);
  st.keyLen = keyLen > 0 ? keyLen : 0;
  if (keyLen > 0) memory.copy(KEY, keyBuffer(), <usize>keyLen);
  st.configured = 1;
  return OK;
}

export function setOption(opt: i32, value: i32): i32 {
  if (value < 0) return E_BAD_ARGUMENT;
  const st = S();
  switch (opt) {
    case OPT_KEEPALIVE_S: if (value > MAX_KEEPALIVE_S) return E_BAD_ARGUMENT; st.keepaliveS = value; break;
    case OPT_TOKEN_LIFETIME_S: if (value < 1) return E_BAD_ARGUMENT; st.tokenLifetimeS = value; break;
    case OPT_CONNECT_TIMEOUT_MS: st.connectTimeoutMs = value; break;
    case OPT_REQUEST_TIMEOUT_MS: st.requestTimeoutMs = value; break;
    case OPT_RETRY_MIN_MS: st.retryMinMs = value; break;
    case OPT_RETRY_MAX_MS: st.retryMaxMs = value; break;
    case OPT_RETRY_JITTER_MS: st.retryJitterMs = value; break;
    case OPT_STABLE_MS: st.stableMs = value; break;
    case OPT_FEATURES: if ((value & ~FEATURES_ALL) != 0) return E_BAD_ARGUMENT; st.features = value; break;
    case OPT_PING_TIMEOUT_MS: st.pingTimeoutMs = value; break;
    case OPT_TWIN_RETRIES: st.twinRetries = value; break;
    case OPT_TWIN_RESYNC: if (value > 1) return E_BAD_ARGUMENT; st.twinResync = value; break;
    default: return E_CLIENT_BAD_OPTION;
  }
  return OK;
}

/** Back to an unconfigured client with default options. */
export function resetConfig(): void {
  for (let f = 0; f < FIELD_COUNT; f++) store<i32>(LENGTHS + <usize>(f << 2), 0);
  resetConfigState();
}

/** The configured strings and key (the scalars are in ClientState). */
export function saveConfig(): void {
  for (let f = 0; f < FIELD_COUNT; f++) putBytes(fieldPtr(f), fieldLen(f));
  putBytes(KEY, S().keyLen);
}
export function restoreConfig(): void {
  for (let f = 0; f < FIELD_COUNT; f++) {
    const n = getBytes(fieldPtr(f), FIELD_CAP);
    store<i32>(LENGTHS + <usize>(f << 2), n < 0 ? 0 : n);
  }
  const k = getBytes(KEY, KEY_CAP);
  S().keyLen = k < 0 ? 0 : k;
}
