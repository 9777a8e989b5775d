// Entry points of the iothub area exported through assembly/abi.ts (integers and offsets only).
// Conventions (boards/README.md): strings are UTF-8 (ptr, len) pairs that must lie inside the core's static data
// (below abi_heap_base(); normally the IO window at abi_io_ptr()); a bad range returns E_BAD_ARGUMENT, never a
// trap. Builders write to (out, cap) — which must not overlap their inputs — and return the length written or a
// negative status; an output that does not fit is E_BUFFER_TOO_SMALL, never truncated. A length of 0 means
// "absent" for optional inputs (moduleId, keyName, model-id, DeviceClientType, property bag).
// Struct layouts are documented in connection-string.ts (CS result), property-bag.ts (bag iterator) and
// parsers.ts (topic result); all fields are little-endian i32 unless stated, pointers absolute.

import { inRange } from "../crypto/bytes";
import { E_BAD_ARGUMENT } from "../status";
import { E_IOTHUB_BAD_EXPIRY } from "./status";
import { keyBuffer, decodeKey } from "./keys";
import { parseConnectionString, csResult } from "./connection-string";
import { sasToken, sasDevicePassword, dpsSasToken, dpsDeriveKey } from "./sas";
import { clientId, username, dpsUsername } from "./identity";
import {
  telemetryTopic, subscribeTopic, twinGetTopic, twinPatchTopic, methodResponseTopic, dpsRegisterTopic, dpsPollTopic,
  dpsRegisterPayload,
} from "./topics";
import { bagAppend, bagAppendSystem, bagIterBegin, bagIterNext, bagFind, BAG_ITER_SIZE, BagIterator } from "./property-bag";
import { urlEncode, urlDecode } from "./urlencode";
import { parseTwinTopic, parseMethodTopic, parseC2dTopic, parseDpsTopic, classifyTopic, TOPIC_RESULT_SIZE } from "./parsers";
import { retryDelay, jitterFrom, statusRetriable, statusSucceeded } from "./retry";


const BAG_IT: usize = memory.data(BAG_ITER_SIZE, 8);
const TOPIC_RES: usize = memory.data(TOPIC_RESULT_SIZE, 8);

// @ts-ignore: decorator
@inline function ok2(a: usize, al: i32, b: usize, bl: i32): bool { return inRange(a, al) && inRange(b, bl); }

/** iothub_key_ptr() → address of the 64-byte decoded-key buffer (filled by connection_string_parse / decode_key). */
export function iothub_key_ptr(): usize { return keyBuffer(); }

/** iothub_key_decode(b64, len) → decoded length (1..64) | CRYPTO_BASE64_* | IOTHUB_KEY_EMPTY | IOTHUB_KEY_TOO_LONG. */
export function iothub_key_decode(b64: usize, len: i32): i32 {
  if (!inRange(b64, len)) return E_BAD_ARGUMENT;
  return decodeKey(b64, len);
}

/**
 * iothub_connection_string_parse(ptr, len) → 0 | IOTHUB_CS_* | IOTHUB_ID_* | IOTHUB_BAD_HOST | IOTHUB_KEY_TOO_LONG. Result struct (64 bytes)
 * at iothub_connection_string_result_ptr(): 0 HostName ptr,len · 8 DeviceId · 16 ModuleId · 24 SharedAccessKey ·
 * 32 SharedAccessKeyName · 40 GatewayHostName · 48 SharedAccessSignature · 56 x509 (0/1) · 60 decoded key length
 * (-1 none). Absent fields: ptr 0, len -1. Views point into the input.
 */
export function iothub_connection_string_parse(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  return parseConnectionString(ptr, len);
}
export function iothub_connection_string_result_ptr(): usize { return csResult(); }

/**
 * iothub_sas_token(uri, uriLen, keyB64, keyLen, skn, sknLen, expiry: i64, out, cap) → token length.
 * uri is plain (encoded here); keyB64 is the base64 key; sknLen 0 = no skn. Errors: CRYPTO_BASE64_* | IOTHUB_KEY_EMPTY |
 * IOTHUB_KEY_TOO_LONG | IOTHUB_BAD_EXPIRY | E_BUFFER_TOO_SMALL | E_BAD_ARGUMENT.
 */
export function iothub_sas_token(uri: usize, uriLen: i32, key: usize, keyLen: i32, skn: usize, sknLen: i32,
                                 expiry: i64, out: usize, cap: i32): i32 {
  if (!ok2(uri, uriLen, key, keyLen) || !ok2(skn, sknLen, out, cap)) return E_BAD_ARGUMENT;
  if (expiry < 0) return E_IOTHUB_BAD_EXPIRY;
  const n = decodeKey(key, keyLen);
  if (n < 0) return n;
  return sasToken(uri, uriLen, keyBuffer(), n, skn, sknLen, <u64>expiry, out, cap);
}

/**
 * iothub_sas_device_password(host, hostLen, dev, devLen, mod, modLen, keyB64, keyLen, skn, sknLen, expiry: i64,
 * out, cap) → length of the token for `{host}/devices/{dev}[/modules/{mod}]`.
 */
export function iothub_sas_device_password(host: usize, hostLen: i32, dev: usize, devLen: i32, mod: usize, modLen: i32,
                                           key: usize, keyLen: i32, skn: usize, sknLen: i32, expiry: i64,
                                           out: usize, cap: i32): i32 {
  if (!ok2(host, hostLen, dev, devLen) || !ok2(mod, modLen, key, keyLen) || !ok2(skn, sknLen, out, cap)) return E_BAD_ARGUMENT;
  if (expiry < 0) return E_IOTHUB_BAD_EXPIRY;
  const n = decodeKey(key, keyLen);
  if (n < 0) return n;
  return sasDevicePassword(host, hostLen, dev, devLen, mod, modLen, keyBuffer(), n, skn, sknLen, <u64>expiry, out, cap);
}

/** iothub_dps_sas_token(scope, scopeLen, reg, regLen, keyB64, keyLen, expiry: i64, out, cap) → length (skn=registration). */
export function iothub_dps_sas_token(scope: usize, scopeLen: i32, reg: usize, regLen: i32, key: usize, keyLen: i32,
                                     expiry: i64, out: usize, cap: i32): i32 {
  if (!ok2(scope, scopeLen, reg, regLen) || !ok2(key, keyLen, out, cap)) return E_BAD_ARGUMENT;
  if (expiry < 0) return E_IOTHUB_BAD_EXPIRY;
  const n = decodeKey(key, keyLen);
  if (n < 0) return n;
  return dpsSasToken(scope, scopeLen, reg, regLen, keyBuffer(), n, <u64>expiry, out, cap);
}

/** iothub_dps_key_derive(groupKeyB64, len, reg, regLen, out, cap) → 44 (base64 device key) | code. */
export function iothub_dps_key_derive(key: usize, keyLen: i32, reg: usize, regLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(key, keyLen, reg, regLen) || !inRange(out, cap)) return E_BAD_ARGUMENT;
  const n = decodeKey(key, keyLen);
  if (n < 0) return n;
  return dpsDeriveKey(keyBuffer(), n, reg, regLen, out, cap);
}

/** iothub_client_id(dev, devLen, mod, modLen, out, cap) → length. */
export function iothub_client_id(dev: usize, devLen: i32, mod: usize, modLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(dev, devLen, mod, modLen) || !inRange(out, cap)) return E_BAD_ARGUMENT;
  return clientId(dev, devLen, mod, modLen, out, cap);
}

/** iothub_username(host, hostLen, dev, devLen, mod, modLen, modelId, modelLen, clientType, typeLen, out, cap) → length. */
export function iothub_username(host: usize, hostLen: i32, dev: usize, devLen: i32, mod: usize, modLen: i32,
                                model: usize, modelLen: i32, type: usize, typeLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(host, hostLen, dev, devLen) || !ok2(mod, modLen, model, modelLen) || !ok2(type, typeLen, out, cap)) return E_BAD_ARGUMENT;
  return username(host, hostLen, dev, devLen, mod, modLen, model, modelLen, type, typeLen, out, cap);
}

/** iothub_dps_username(scope, scopeLen, reg, regLen, out, cap) → length. */
export function iothub_dps_username(scope: usize, scopeLen: i32, reg: usize, regLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(scope, scopeLen, reg, regLen) || !inRange(out, cap)) return E_BAD_ARGUMENT;
  return dpsUsername(scope, scopeLen, reg, regLen, out, cap);
}

/** iothub_telemetry_topic(dev, devLen, mod, modLen, bag, bagLen, out, cap) → length (bag already encoded). */
export function iothub_telemetry_topic(dev: usize, devLen: i32, mod: usize, modLen: i32, bag: usize, bagLen: i32,
                                       out: usize, cap: i32): i32 {
  if (!ok2(dev, devLen, mod, modLen) || !ok2(bag, bagLen, out, cap)) return E_BAD_ARGUMENT;
  return telemetryTopic(dev, devLen, mod, modLen, bag, bagLen, out, cap);
}

/** iothub_subscribe_topic(kind, dev, devLen, out, cap) → length. kind: 0 C2D, 1 methods, 2 twin res, 3 desired, 4 DPS. */
export function iothub_subscribe_topic(kind: i32, dev: usize, devLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(dev, devLen, out, cap)) return E_BAD_ARGUMENT;
  return subscribeTopic(kind, dev, devLen, out, cap);
}

/** iothub_twin_get_topic(rid, ridLen, out, cap) → length. */
export function iothub_twin_get_topic(rid: usize, ridLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(rid, ridLen, out, cap)) return E_BAD_ARGUMENT;
  return twinGetTopic(rid, ridLen, out, cap);
}

/** iothub_twin_patch_topic(rid, ridLen, out, cap) → length (reported properties PATCH). */
export function iothub_twin_patch_topic(rid: usize, ridLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(rid, ridLen, out, cap)) return E_BAD_ARGUMENT;
  return twinPatchTopic(rid, ridLen, out, cap);
}

/** iothub_method_response_topic(status, rid, ridLen, out, cap) → length. */
export function iothub_method_response_topic(status: i32, rid: usize, ridLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(rid, ridLen, out, cap)) return E_BAD_ARGUMENT;
  return methodResponseTopic(status, rid, ridLen, out, cap);
}

/** iothub_dps_register_topic(rid, ridLen, out, cap) → length. */
export function iothub_dps_register_topic(rid: usize, ridLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(rid, ridLen, out, cap)) return E_BAD_ARGUMENT;
  return dpsRegisterTopic(rid, ridLen, out, cap);
}

/** iothub_dps_poll_topic(rid, ridLen, operationId, opLen, out, cap) → length. */
export function iothub_dps_poll_topic(rid: usize, ridLen: i32, op: usize, opLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(rid, ridLen, op, opLen) || !inRange(out, cap)) return E_BAD_ARGUMENT;
  return dpsPollTopic(rid, ridLen, op, opLen, out, cap);
}

/** iothub_dps_register_payload(regId, regLen, payload, payloadLen, out, cap) → length of {"registrationId":…[,"payload":…]}. */
export function iothub_dps_register_payload(reg: usize, regLen: i32, payload: usize, payloadLen: i32, out: usize, cap: i32): i32 {
  if (!ok2(reg, regLen, payload, payloadLen) || !inRange(out, cap)) return E_BAD_ARGUMENT;
  return dpsRegisterPayload(reg, regLen, payload, payloadLen, out, cap);
}

/**
 * iothub_bag_append(bag, bagLen, bagCap, name, nameLen, value, valueLen) → new bag length.
 * valueLen -1 = null value (bare name). Name and value are plain UTF-8; encoded like encodeURIComponent.
 */
export function iothub_bag_append(bag: usize, bagLen: i32, cap: i32, name: usize, nameLen: i32,
                                           value: usize, valueLen: i32): i32 {
  if (!inRange(bag, cap) || !ok2(name, nameLen, value, valueLen < 0 ? 0 : valueLen)) return E_BAD_ARGUMENT;
  return bagAppend(bag, bagLen, cap, name, nameLen, value, valueLen);
}

/**
 * iothub_bag_system_append(bag, bagLen, bagCap, which, value, valueLen) → new bag length.
 * which: 0 $.mid 1 $.cid 2 $.uid 3 $.to 4 $.ct 5 $.ce 6 $.ifid 7 $.exp 8 $.sub (sent as %24.xxx).
 */
export function iothub_bag_system_append(bag: usize, bagLen: i32, cap: i32, which: i32, value: usize, valueLen: i32): i32 {
  if (!inRange(bag, cap) || !inRange(value, valueLen)) return E_BAD_ARGUMENT;
  return bagAppendSystem(bag, bagLen, cap, which, value, valueLen);
}

/** iothub_url_encode(src, len, component, out, cap) → length. component 1 = encodeURIComponent set, 0 = strict. */
export function iothub_url_encode(src: usize, len: i32, component: i32, out: usize, cap: i32): i32 {
  if (!ok2(src, len, out, cap)) return E_BAD_ARGUMENT;
  return urlEncode(src, len, out, cap, component != 0);
}

/** iothub_url_decode(src, len, out, cap) → decoded length | IOTHUB_URL_BAD_ESCAPE. out may equal src (in place). */
export function iothub_url_decode(src: usize, len: i32, out: usize, cap: i32): i32 {
  if (!ok2(src, len, out, cap)) return E_BAD_ARGUMENT;
  return urlDecode(src, len, out, cap);
}

/**
 * Property-bag iterator (one, static) at iothub_bag_iterator_ptr(): 0 bag ptr · 4 bag len · 8 next offset · 12 name
 * ptr · 16 name len · 20 value ptr · 24 value len (-1 = null) · 28 system property index (-1 = application).
 * iothub_bag_begin(ptr, len) → 0; iothub_bag_next() → 1 (a property) | 0 (end) | IOTHUB_URL_BAD_ESCAPE |
 * IOTHUB_BAG_EMPTY_NAME; iothub_bag_find(ptr, len, name, nameLen) → 1 found | 0 not found | code (name is plain).
 */
export function iothub_bag_iterator_ptr(): usize { return BAG_IT; }
export function iothub_bag_begin(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) { bagIterBegin(BAG_IT, 0, 0); return E_BAD_ARGUMENT; }
  bagIterBegin(BAG_IT, ptr, len);
  return 0;
}
export function iothub_bag_next(): i32 {
  // The struct is host-writable memory: re-check its view so a scribbled pointer is a status, not a trap.
  const len = load<i32>(BAG_IT, offsetof<BagIterator>("bagLen")), pos = load<i32>(BAG_IT, offsetof<BagIterator>("next"));
  if (!inRange(<usize>load<i32>(BAG_IT, offsetof<BagIterator>("bagPtr")), len) || pos < 0) return E_BAD_ARGUMENT;
  return bagIterNext(BAG_IT);
}
export function iothub_bag_find(ptr: usize, len: i32, name: usize, nameLen: i32): i32 {
  if (!ok2(ptr, len, name, nameLen)) return E_BAD_ARGUMENT;
  return bagFind(BAG_IT, ptr, len, name, nameLen);
}

/**
 * Topic parsers. Result struct (64 bytes) at iothub_topic_result_ptr(): 0 kind · 4 status (-1) · 8 rid ptr,len ·
 * 16 version ptr,len · 24 i64 version (-1 absent/non-numeric) · 32 method name ptr,len · 40 C2D bag ptr,len ·
 * 48 retry-after s (-1) · 52 C2D device id ptr,len. Absent views: ptr 0, len -1.
 * Each returns its kind (1 C2D, 2 twin response, 3 desired patch, 4 method request, 5 DPS response) or
 * IOTHUB_TOPIC_NOT_MATCHED / IOTHUB_TOPIC_MALFORMED; iothub_topic_parse returns 0 (other) instead of IOTHUB_TOPIC_NOT_MATCHED.
 */
export function iothub_topic_result_ptr(): usize { return TOPIC_RES; }
export function iothub_topic_parse(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  return classifyTopic(ptr, len, TOPIC_RES);
}
export function iothub_twin_topic_parse(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  return parseTwinTopic(ptr, len, TOPIC_RES);
}
export function iothub_method_topic_parse(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  return parseMethodTopic(ptr, len, TOPIC_RES);
}
export function iothub_c2d_topic_parse(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  return parseC2dTopic(ptr, len, TOPIC_RES);
}
export function iothub_dps_topic_parse(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  return parseDpsTopic(ptr, len, TOPIC_RES);
}

/** iothub_retry_delay(operationMs, attempt, minMs, maxMs, jitterMs) → delay ms | E_BAD_ARGUMENT. */
export function iothub_retry_delay(operationMs: i32, attempt: i32, minMs: i32, maxMs: i32, jitterMs: i32): i32 {
  return retryDelay(operationMs, attempt, minMs, maxMs, jitterMs);
}
/** iothub_retry_jitter(random: u32, jitterMaxMs) → 0..jitterMaxMs. */
export function iothub_retry_jitter(random: u32, jitterMaxMs: i32): i32 { return jitterFrom(random, jitterMaxMs); }
/** iothub_status_retriable(status) → 1 for 429 and 5xx. iothub_status_succeeded(status) → 1 for < 400. */
export function iothub_status_retriable(status: i32): i32 { return statusRetriable(status) ? 1 : 0; }
export function iothub_status_succeeded(status: i32): i32 { return statusSucceeded(status) ? 1 : 0; }
