// The device's identity and options, copied out of the connection string at init so the host may reuse its
// buffers. Strings are kept as (offset, length) in one static area.
import { OK } from "../status";
import { parseConnectionString, csResult, CS_HOST, CS_DEVICE, CS_MODULE, CS_KEY_NAME, CS_GATEWAY, CS_X509, CS_KEY_LEN } from "../iothub/connection-string";
import { keyBuffer } from "../iothub/keys";
import { E_BAD_ARGUMENT } from "../status";
import { E_BAD_OPTION } from "./status";
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

// Options (client_set_option): integers with defaults chosen for IoT Hub.
export const OPT_KEEPALIVE_S: i32 = 1; // MQTT keepalive; the hub allows up to 1177 s
export const OPT_TOKEN_LIFETIME_S: i32 = 2; // SAS token lifetime; renewed at 80 %
export const OPT_CONNECT_TIMEOUT_MS: i32 = 3; // CONNACK/SUBACK after the transport is up
export const OPT_REQUEST_TIMEOUT_MS: i32 = 4; // twin requests
export const OPT_RETRY_MIN_MS: i32 = 5; // back-off: min(min·2^attempt, max) + jitter
export const OPT_RETRY_MAX_MS: i32 = 6;
export const OPT_RETRY_JITTER_MS: i32 = 7;
export const OPT_STABLE_MS: i32 = 8; // connected this long → back-off starts over
export const OPT_FEATURES: i32 = 9; // bit 0 C2D, bit 1 methods, bit 2 twin
export const OPT_PING_TIMEOUT_MS: i32 = 10;

export let keepaliveS: i32 = 60;
export let tokenLifetimeS: i32 = 3600;
export let connectTimeoutMs: i32 = 30000;
export let requestTimeoutMs: i32 = 30000;
export let retryMinMs: i32 = 1000;
export let retryMaxMs: i32 = 100000;
export let retryJitterMs: i32 = 5000;
export let stableMs: i32 = 30000;
export let features: i32 = 7;
export let pingTimeoutMs: i32 = 30000;

export function setOption(opt: i32, value: i32): i32 {
  if (value < 0) return E_BAD_ARGUMENT;
  switch (opt) {
    case OPT_KEEPALIVE_S: if (value > 1177) return E_BAD_ARGUMENT; keepaliveS = value; break;
    case OPT_TOKEN_LIFETIME_S: if (value < 1) return E_BAD_ARGUMENT; tokenLifetimeS = value; break;
    case OPT_CONNECT_TIMEOUT_MS: connectTimeoutMs = value; break;
    case OPT_REQUEST_TIMEOUT_MS: requestTimeoutMs = value; break;
    case OPT_RETRY_MIN_MS: retryMinMs = value; break;
    case OPT_RETRY_MAX_MS: retryMaxMs = value; break;
    case OPT_RETRY_JITTER_MS: retryJitterMs = value; break;
    case OPT_STABLE_MS: stableMs = value; break;
    case OPT_FEATURES: if (value > 7) return E_BAD_ARGUMENT; features = value; break;
    case OPT_PING_TIMEOUT_MS: pingTimeoutMs = value; break;
    default: return E_BAD_OPTION;
  }
  return OK;
}

/** Back to an unconfigured client with default options. */
export function resetConfig(): void {
  for (let f = 0; f < FIELD_COUNT; f++) store<i32>(LENGTHS + <usize>(f << 2), 0);
  keyLen = 0;
  x509 = false;
  configured = false;
  keepaliveS = 60; tokenLifetimeS = 3600; connectTimeoutMs = 30000; requestTimeoutMs = 30000;
  retryMinMs = 1000; retryMaxMs = 100000; retryJitterMs = 5000; stableMs = 30000; features = 7; pingTimeoutMs = 30000;
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
