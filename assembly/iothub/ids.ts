// Validation of the names that end up in topics, usernames and SAS resources.

import { E_IOTHUB_ID_EMPTY, E_IOTHUB_ID_TOO_LONG, E_IOTHUB_ID_BAD_CHAR, E_IOTHUB_ID_NOT_TOPIC_SAFE, E_IOTHUB_BAD_REQUEST_ID, E_IOTHUB_BAD_HOST } from "./status";
import { OK } from "../status";

export const ID_MAX_LEN: i32 = 128;

/**
 * Device and module ids (IoT Hub docs): 1..128 ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ '.
 * With topicSafe, '+' and '#' are refused too: they are MQTT wildcards, so such an id cannot appear in a
 * PUBLISH topic or a subscription (the hub allows them for AMQP/HTTP devices only).
 */
export function checkId(ptr: usize, len: i32, topicSafe: bool): i32 {
  if (len <= 0) return E_IOTHUB_ID_EMPTY;
  if (len > ID_MAX_LEN) return E_IOTHUB_ID_TOO_LONG;
  let wildcard = false;
  for (let i: i32 = 0; i < len; i++) {
    const c = <u32>load<u8>(ptr + i);
    if ((c - 48 < 10) || ((c | 32) - 97 < 26)) continue;
    switch (c) {
      case 45: case 58: case 46: case 37: case 95: case 42: case 63: case 33: case 40: case 41:
      case 44: case 61: case 64: case 59: case 36: case 39: continue;
      case 43: case 35: wildcard = true; continue;
    }
    return E_IOTHUB_ID_BAD_CHAR;
  }
  return wildcard && topicSafe ? E_IOTHUB_ID_NOT_TOPIC_SAFE : OK;
}

/**
 * Request ids, versions and similar tokens echoed into topics: non-empty, printable ASCII, and none of
 * & / + # ? or space, which would end or re-shape the topic.
 */
export function checkToken(ptr: usize, len: i32): i32 {
  if (len <= 0 || len > 256) return E_IOTHUB_BAD_REQUEST_ID;
  for (let i: i32 = 0; i < len; i++) {
    const c = <u32>load<u8>(ptr + i);
    if (c <= 32 || c >= 127 || c == 38 || c == 47 || c == 43 || c == 35 || c == 63) return E_IOTHUB_BAD_REQUEST_ID;
  }
  return OK;
}

/** Host names (optionally with :port): non-empty, <= 255, printable ASCII without / ? # & + @ ; or space. */
export function checkHost(ptr: usize, len: i32): i32 {
  if (len <= 0 || len > 255) return E_IOTHUB_BAD_HOST;
  for (let i: i32 = 0; i < len; i++) {
    const c = <u32>load<u8>(ptr + i);
    if (c <= 32 || c >= 127 || c == 47 || c == 63 || c == 35 || c == 38 || c == 43 || c == 64 || c == 59) return E_IOTHUB_BAD_HOST;
  }
  return OK;
}
