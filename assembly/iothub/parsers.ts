// Parsers for topics the hub publishes to the device. They return views into the topic (no copies) in a
// result struct (TopicResult below; ptrs absolute, len -1 = absent).
// Topics are matched from their first byte, as IoT Hub sends them. (azure-sdk-for-c also accepts
// "$iothub/twin/" anywhere in the topic; the hub never sends that, so we report IOTHUB_TOPIC_NOT_MATCHED.)
// Query parameters may come in any order (DPS sends retry-after before $rid); unknown ones are ignored.

import { E_IOTHUB_TOPIC_NOT_MATCHED, E_IOTHUB_TOPIC_MALFORMED } from "./status";
import { bagValidate, BAG_ITER_SIZE } from "./property-bag";

/** What a topic parser found: views into the topic (ptr 0, len -1 when absent). */
@unmanaged
export class TopicResult {
  /** TOPIC_* */
  kind: i32;
  /** the hub's status (twin response, DPS), -1 when absent */
  status: i32;
  /** $rid: pointer */
  ridPtr: u32;
  /** $rid: length */
  ridLen: i32;
  /** $version as text: pointer */
  versionPtr: u32;
  /** $version as text: length */
  versionLen: i32;
  /** $version as a number, -1 when absent or not a number */
  version: i64;
  /** method name: pointer */
  namePtr: u32;
  /** method name: length */
  nameLen: i32;
  /** C2D property bag (still encoded): pointer */
  bagPtr: u32;
  /** C2D property bag: length */
  bagLen: i32;
  /** retry-after in seconds (DPS), -1 when absent */
  retryAfterS: i32;
  /** C2D device id: pointer */
  devicePtr: u32;
  /** C2D device id: length */
  deviceLen: i32;
  /** zero */
  reserved: i32;
}
export const TOPIC_RESULT_SIZE: i32 = offsetof<TopicResult>();
/** none of the kinds below (iothub_topic_parse only) */
export const TOPIC_OTHER: i32 = 0;
/** a cloud-to-device message */
export const TOPIC_C2D: i32 = 1;
/** an answer to a twin request */
export const TOPIC_TWIN_RESPONSE: i32 = 2;
/** a desired-properties patch */
export const TOPIC_TWIN_DESIRED: i32 = 3;
/** a direct-method request */
export const TOPIC_METHOD_REQUEST: i32 = 4;
/** an answer from the Device Provisioning Service */
export const TOPIC_DPS_RESPONSE: i32 = 5;

const CHECK_IT: usize = memory.data(BAG_ITER_SIZE, 8);

function reset(res: usize): void {
  store<i32>(res, 0, offsetof<TopicResult>("kind")); store<i32>(res, -1, offsetof<TopicResult>("status"));
  store<i32>(res, 0, offsetof<TopicResult>("ridPtr")); store<i32>(res, -1, offsetof<TopicResult>("ridLen"));
  store<i32>(res, 0, offsetof<TopicResult>("versionPtr")); store<i32>(res, -1, offsetof<TopicResult>("versionLen"));
  store<i64>(res, -1, offsetof<TopicResult>("version"));
  store<i32>(res, 0, offsetof<TopicResult>("namePtr")); store<i32>(res, -1, offsetof<TopicResult>("nameLen"));
  store<i32>(res, 0, offsetof<TopicResult>("bagPtr")); store<i32>(res, -1, offsetof<TopicResult>("bagLen"));
  store<i32>(res, -1, offsetof<TopicResult>("retryAfterS"));
  store<i32>(res, 0, offsetof<TopicResult>("devicePtr")); store<i32>(res, -1, offsetof<TopicResult>("deviceLen"));
  store<i32>(res, 0, offsetof<TopicResult>("reserved"));
}

/** Length of the literal prefix s if the topic starts with it, else -1. */
function prefix(p: usize, len: i32, s: string): i32 {
  const n = s.length;
  if (len < n) return -1;
  const q = changetype<usize>(s);
  for (let i: i32 = 0; i < n; i++) if (<u32>load<u8>(p + i) != <u32>load<u16>(q + (<usize>i << 1))) return -1;
  return n;
}

/** Decimal value of [p, p+len) (1..18 digits), or -1 (also for request ids the client wrote itself). */
export function number(p: usize, len: i32): i64 {
  if (len <= 0 || len > 18) return -1;
  let v: i64 = 0;
  for (let i: i32 = 0; i < len; i++) {
    const d = <u32>load<u8>(p + i) - 48;
    if (d > 9) return -1;
    v = v * 10 + <i64>d;
  }
  return v;
}

function keyIs(p: usize, len: i32, s: string): bool { return prefix(p, len, s) == len && len == s.length; }

/**
 * Reads `{status}/` at offset i (status 1..5 digits), storing it. Returns the offset after '/', or -1.
 */
function status(p: usize, len: i32, i: i32, res: usize): i32 {
  let j = i;
  while (j < len && j - i < 6 && load<u8>(p + j) != 47) j++;
  if (j >= len || j == i || j - i > 5) return -1;
  const v = number(p + i, j - i);
  if (v < 0) return -1;
  store<i32>(res, <i32>v, offsetof<TopicResult>("status"));
  return j + 1;
}

/** Parses `?k=v&k=v` from offset i to the end. false when the '?' is missing or retry-after is not a number. */
function query(p: usize, len: i32, i: i32, res: usize): bool {
  if (i >= len || load<u8>(p + i) != 63) return false;
  i++;
  while (i < len) {
    let end = i;
    while (end < len && load<u8>(p + end) != 38) end++;
    let eq = i;
    while (eq < end && load<u8>(p + eq) != 61) eq++;
    const kLen = eq - i;
    const vPtr = p + eq + 1;
    const vLen = eq < end ? end - eq - 1 : 0;
    if (keyIs(p + i, kLen, "$rid")) { store<i32>(res, <i32>vPtr, offsetof<TopicResult>("ridPtr")); store<i32>(res, vLen, offsetof<TopicResult>("ridLen")); }
    else if (keyIs(p + i, kLen, "$version")) {
      store<i32>(res, <i32>vPtr, offsetof<TopicResult>("versionPtr")); store<i32>(res, vLen, offsetof<TopicResult>("versionLen"));
      store<i64>(res, number(vPtr, vLen), offsetof<TopicResult>("version"));
    } else if (keyIs(p + i, kLen, "retry-after")) {
      const v = number(vPtr, vLen);
      if (v < 0 || v > 0x7fffffff) return false;
      store<i32>(res, <i32>v, offsetof<TopicResult>("retryAfterS"));
    }
    i = end + 1;
  }
  return true;
}

// @ts-ignore: decorator
@inline function ridLen(res: usize): i32 { return load<i32>(res, offsetof<TopicResult>("ridLen")); }

/** `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]` or `$iothub/twin/PATCH/properties/desired/?$version={v}`. */
export function parseTwinTopic(p: usize, len: i32, res: usize): i32 {
  reset(res);
  let i = prefix(p, len, "$iothub/twin/res/");
  if (i >= 0) {
    i = status(p, len, i, res);
    if (i < 0 || !query(p, len, i, res) || ridLen(res) <= 0) return E_IOTHUB_TOPIC_MALFORMED;
    store<i32>(res, TOPIC_TWIN_RESPONSE, offsetof<TopicResult>("kind"));
    return TOPIC_TWIN_RESPONSE;
  }
  i = prefix(p, len, "$iothub/twin/PATCH/properties/desired/");
  if (i >= 0) {
    if (!query(p, len, i, res) || load<i32>(res, offsetof<TopicResult>("versionLen")) <= 0) return E_IOTHUB_TOPIC_MALFORMED;
    store<i32>(res, TOPIC_TWIN_DESIRED, offsetof<TopicResult>("kind"));
    return TOPIC_TWIN_DESIRED;
  }
  return E_IOTHUB_TOPIC_NOT_MATCHED;
}

/** `$iothub/methods/POST/{name}/?$rid={rid}`. */
export function parseMethodTopic(p: usize, len: i32, res: usize): i32 {
  reset(res);
  let i = prefix(p, len, "$iothub/methods/POST/");
  if (i < 0) return E_IOTHUB_TOPIC_NOT_MATCHED;
  let j = i;
  while (j < len && load<u8>(p + j) != 47) j++;
  if (j == i || j >= len) return E_IOTHUB_TOPIC_MALFORMED;
  store<i32>(res, <i32>(p + i), offsetof<TopicResult>("namePtr")); store<i32>(res, j - i, offsetof<TopicResult>("nameLen"));
  if (!query(p, len, j + 1, res) || ridLen(res) <= 0) return E_IOTHUB_TOPIC_MALFORMED;
  store<i32>(res, TOPIC_METHOD_REQUEST, offsetof<TopicResult>("kind"));
  return TOPIC_METHOD_REQUEST;
}

/** `devices/{id}/messages/devicebound/{bag}`; the bag is checked (escapes, names) but left encoded. */
export function parseC2dTopic(p: usize, len: i32, res: usize): i32 {
  reset(res);
  let i = prefix(p, len, "devices/");
  if (i < 0) return E_IOTHUB_TOPIC_NOT_MATCHED;
  let j = i;
  while (j < len && load<u8>(p + j) != 47) j++;
  if (j == i) return E_IOTHUB_TOPIC_NOT_MATCHED;
  const k = prefix(p + j, len - j, "/messages/devicebound/");
  if (k < 0) return E_IOTHUB_TOPIC_NOT_MATCHED;
  store<i32>(res, <i32>(p + i), offsetof<TopicResult>("devicePtr")); store<i32>(res, j - i, offsetof<TopicResult>("deviceLen"));
  const b = j + k;
  if (bagValidate(CHECK_IT, p + b, len - b) < 0) return E_IOTHUB_TOPIC_MALFORMED;
  store<i32>(res, <i32>(p + b), offsetof<TopicResult>("bagPtr")); store<i32>(res, len - b, offsetof<TopicResult>("bagLen"));
  store<i32>(res, TOPIC_C2D, offsetof<TopicResult>("kind"));
  return TOPIC_C2D;
}

/** `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]`. */
export function parseDpsTopic(p: usize, len: i32, res: usize): i32 {
  reset(res);
  let i = prefix(p, len, "$dps/registrations/res/");
  if (i < 0) return E_IOTHUB_TOPIC_NOT_MATCHED;
  i = status(p, len, i, res);
  if (i < 0 || !query(p, len, i, res) || ridLen(res) <= 0) return E_IOTHUB_TOPIC_MALFORMED;
  store<i32>(res, TOPIC_DPS_RESPONSE, offsetof<TopicResult>("kind"));
  return TOPIC_DPS_RESPONSE;
}

/**
 * Classifies and parses an incoming PUBLISH topic: TOPIC_C2D / TWIN_RESPONSE / TWIN_DESIRED / METHOD_REQUEST /
 * DPS_RESPONSE with the struct filled, TOPIC_OTHER (0) when it is none of them, or IOTHUB_TOPIC_MALFORMED.
 */
export function classifyTopic(p: usize, len: i32, res: usize): i32 {
  let r = parseTwinTopic(p, len, res);
  if (r == E_IOTHUB_TOPIC_NOT_MATCHED) r = parseMethodTopic(p, len, res);
  if (r == E_IOTHUB_TOPIC_NOT_MATCHED) r = parseC2dTopic(p, len, res);
  if (r == E_IOTHUB_TOPIC_NOT_MATCHED) r = parseDpsTopic(p, len, res);
  if (r == E_IOTHUB_TOPIC_NOT_MATCHED) { reset(res); return TOPIC_OTHER; }
  return r;
}
