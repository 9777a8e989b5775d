// What the provisioning client is configured with: the id scope and registration id, the credential (a key,
// decoded once; a group key is turned into the device's own key here), the registration payload, the service's
// host, and the options. Everything is copied in, so the host may reuse its buffers at once.
import { OK, E_BAD_ARGUMENT } from "../status";
import { IS_MCU } from "../profile";
import { checkId, checkHost } from "../iothub/ids";
import { decodeKey, keyBuffer } from "../iothub/keys";
import { hmacSha256 } from "../crypto/hmac";
import { D } from "./state";
import { E_DPS_BAD_OPTION, E_DPS_BAD_PAYLOAD, E_DPS_PAYLOAD_TOO_LARGE, E_DPS_NOT_CONFIGURED } from "./status";
import { jsonIsValue } from "./json";
import {
  DPS_OPT_REGISTRATION_TIMEOUT_MS, DPS_OPT_CONNECT_TIMEOUT_MS, DPS_OPT_REQUEST_TIMEOUT_MS,
  DPS_OPT_RETRY_AFTER_DEFAULT_MS, DPS_OPT_RETRY_AFTER_MIN_MS, DPS_OPT_RETRY_AFTER_MAX_MS, DPS_OPT_RETRIES,
  DPS_OPT_TOKEN_LIFETIME_S, DPS_OPT_RETRY_MIN_MS, DPS_OPT_RETRY_MAX_MS, DPS_OPT_RETRY_JITTER_MS, DPS_OPT_KEEPALIVE_S,
  RETRY_AFTER_CAP_MS,
} from "./options";
import { MAX_KEEPALIVE_S, TRANSPORT_MQTTS, TRANSPORT_WSS, TRANSPORT_MQTT } from "../client/options";

/** The largest registration payload (custom allocation data, a Plug and Play model id) this profile sends. */
export const DPS_PAYLOAD_CAPACITY: i32 = IS_MCU ? 512 : 8192;

export const F_SCOPE: i32 = 0;
export const F_REG: i32 = 1;
export const F_HOST: i32 = 2;
export const F_OPERATION: i32 = 3;
export const F_HUB: i32 = 4;
export const F_DEVICE: i32 = 5;
const FIELD_COUNT: i32 = 6;
// Ids are at most 128 characters (IOTHUB_ID_TOO_LONG beyond); host names 255; DPS operation ids are ~60.
const CAPS = memory.data<i32>([128, 128, 256, 256, 256, 128]);
const OFFSETS = memory.data<i32>([0, 128, 256, 512, 768, 1024]);
const STRINGS: usize = memory.data(1152, 16);
const LENGTHS: usize = memory.data(FIELD_COUNT * 4, 16);
const KEY_CAP: i32 = 64;
const KEY: usize = memory.data(KEY_CAP, 16);
const PAYLOAD: usize = memory.data(DPS_PAYLOAD_CAPACITY, 16);

/** "global.azure-devices-provisioning.net": the public service's host, the default. */
const GLOBAL_HOST = memory.data<u8>([103, 108, 111, 98, 97, 108, 46, 97, 122, 117, 114, 101, 45, 100, 101, 118, 105, 99, 101, 115,
  45, 112, 114, 111, 118, 105, 115, 105, 111, 110, 105, 110, 103, 46, 110, 101, 116]);

// @ts-ignore: decorator
@inline export function fieldPtr(f: i32): usize { return STRINGS + <usize>load<i32>(OFFSETS + <usize>(f << 2)); }
// @ts-ignore: decorator
@inline export function fieldLen(f: i32): i32 { return load<i32>(LENGTHS + <usize>(f << 2)); }
export function keyPtr(): usize { return KEY; }
export function payloadPtr(): usize { return PAYLOAD; }

/** Copies [ptr, ptr+len) into field f: OK, or E_BAD_ARGUMENT when it does not fit. */
export function setField(f: i32, ptr: usize, len: i32): i32 {
  if (len < 0 || len > load<i32>(CAPS + <usize>(f << 2))) return E_BAD_ARGUMENT;
  for (let i: i32 = 0; i < len; i++) store<u8>(fieldPtr(f) + <usize>i, load<u8>(ptr + <usize>i));
  store<i32>(LENGTHS + <usize>(f << 2), len);
  return OK;
}

/** A new registration: id scope and registration id (both topic-safe ids), default host, no credential. */
export function configure(scope: usize, scopeLen: i32, reg: usize, regLen: i32): i32 {
  let rc = checkId(scope, scopeLen, true);
  if (rc != OK) return rc;
  rc = checkId(reg, regLen, true);
  if (rc != OK) return rc;
  for (let f = 0; f < FIELD_COUNT; f++) store<i32>(LENGTHS + <usize>(f << 2), 0);
  setField(F_SCOPE, scope, scopeLen);
  setField(F_REG, reg, regLen);
  setField(F_HOST, GLOBAL_HOST, 37);
  D().configured = 1;
  return OK;
}

/** An individual enrollment's key (base64): decoded into the key buffer. */
export function setSymmetricKey(b64: usize, len: i32): i32 {
  if (!D().configured) return E_DPS_NOT_CONFIGURED;
  const n = decodeKey(b64, len);
  if (n < 0) return n;
  for (let i: i32 = 0; i < n; i++) store<u8>(KEY + <usize>i, load<u8>(keyBuffer() + <usize>i));
  D().keyLen = n;
  D().x509 = 0;
  return OK;
}

/** A group enrollment's key (base64): the device's key is HMAC-SHA256(groupKey, registrationId), kept raw. */
export function setGroupKey(b64: usize, len: i32): i32 {
  if (!D().configured) return E_DPS_NOT_CONFIGURED;
  const n = decodeKey(b64, len);
  if (n < 0) return n;
  hmacSha256(keyBuffer(), n, fieldPtr(F_REG), fieldLen(F_REG), KEY);
  D().keyLen = 32;
  D().x509 = 0;
  return OK;
}

/** X.509: the board presents the device certificate in TLS; CONNECT carries no password. */
export function setX509(on: i32): i32 {
  if (!D().configured) return E_DPS_NOT_CONFIGURED;
  D().x509 = on != 0 ? 1 : 0;
  if (on != 0) D().keyLen = 0;
  return OK;
}

/** The registration's payload: one JSON value, sent as "payload" in the register request; 0 length = none. */
export function setPayload(ptr: usize, len: i32): i32 {
  if (!D().configured) return E_DPS_NOT_CONFIGURED;
  if (len < 0) return E_BAD_ARGUMENT;
  if (len > DPS_PAYLOAD_CAPACITY) return E_DPS_PAYLOAD_TOO_LARGE;
  if (len > 0 && !jsonIsValue(ptr, len)) return E_DPS_BAD_PAYLOAD;
  for (let i: i32 = 0; i < len; i++) store<u8>(PAYLOAD + <usize>i, load<u8>(ptr + <usize>i));
  D().payloadLen = len;
  return OK;
}

/** The service's endpoint, `host[:port]`. */
export function setHost(ptr: usize, len: i32): i32 {
  if (!D().configured) return E_DPS_NOT_CONFIGURED;
  const rc = checkHost(ptr, len);
  if (rc != OK) return rc;
  return setField(F_HOST, ptr, len);
}

/** Where the port starts in the host field (the colon before its digits), or -1. */
function portColon(): i32 {
  const p = fieldPtr(F_HOST), n = fieldLen(F_HOST);
  let i = n - 1;
  while (i >= 0 && load<u8>(p + <usize>i) >= 48 && load<u8>(p + <usize>i) <= 57) i--;
  return i >= 0 && i < n - 1 && load<u8>(p + <usize>i) == 58 ? i : -1;
}
export function endpointHostLen(): i32 { const c = portColon(); return c >= 0 ? c : fieldLen(F_HOST); }
/** The host's explicit port, else the default of `transport` (TRANSPORT_*); BAD_ARGUMENT for another transport. */
export function endpointPort(transport: i32): i32 {
  const c = portColon();
  if (c >= 0) {
    const p = fieldPtr(F_HOST), n = fieldLen(F_HOST);
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

export function setOption(opt: i32, value: i32): i32 {
  if (value < 0) return E_BAD_ARGUMENT;
  const d = D();
  switch (opt) {
    case DPS_OPT_REGISTRATION_TIMEOUT_MS: if (value < 1) return E_BAD_ARGUMENT; d.registrationTimeoutMs = value; break;
    case DPS_OPT_CONNECT_TIMEOUT_MS: d.connectTimeoutMs = value; break;
    case DPS_OPT_REQUEST_TIMEOUT_MS: if (value < 1) return E_BAD_ARGUMENT; d.requestTimeoutMs = value; break;
    case DPS_OPT_RETRY_AFTER_DEFAULT_MS: d.retryAfterDefaultMs = value; break;
    case DPS_OPT_RETRY_AFTER_MIN_MS: d.retryAfterMinMs = value; break;
    case DPS_OPT_RETRY_AFTER_MAX_MS: if (value > RETRY_AFTER_CAP_MS) return E_BAD_ARGUMENT; d.retryAfterMaxMs = value; break;
    case DPS_OPT_RETRIES: d.retries = value; break;
    case DPS_OPT_TOKEN_LIFETIME_S: if (value < 1) return E_BAD_ARGUMENT; d.tokenLifetimeS = value; break;
    case DPS_OPT_RETRY_MIN_MS: d.retryMinMs = value; break;
    case DPS_OPT_RETRY_MAX_MS: d.retryMaxMs = value; break;
    case DPS_OPT_RETRY_JITTER_MS: d.retryJitterMs = value; break;
    case DPS_OPT_KEEPALIVE_S: if (value > MAX_KEEPALIVE_S) return E_BAD_ARGUMENT; d.keepaliveS = value; break;
    default: return E_DPS_BAD_OPTION;
  }
  return OK;
}
