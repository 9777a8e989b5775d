// Topics the device publishes to and subscribes to, as IoT Hub's MQTT support documents them (api-version 2021-04-12).

import { wBegin, wLit, wBytes, wDecimal, wDone } from "./writer";
import { wEncoded } from "./urlencode";
import { checkId, checkToken } from "./ids";
import { E_IOTHUB_BAD_STATUS } from "./status";
import { OK, E_BAD_ARGUMENT } from "../status";

export const SUB_C2D: i32 = 0;          // devices/{id}/messages/devicebound/#   (QoS 1)
export const SUB_METHODS: i32 = 1;      // $iothub/methods/POST/#
export const SUB_TWIN_RESPONSE: i32 = 2; // $iothub/twin/res/#
export const SUB_TWIN_DESIRED: i32 = 3; // $iothub/twin/PATCH/properties/desired/#
export const SUB_DPS: i32 = 4;          // $dps/registrations/res/#

/**
 * `devices/{dev}[/modules/{mod}]/messages/events/{bag}`; bag is an already encoded property bag (bagLen 0 = none).
 * Returns the length, E_BUFFER_TOO_SMALL or IOTHUB_ID_*.
 */
export function telemetryTopic(devPtr: usize, devLen: i32, modPtr: usize, modLen: i32, bagPtr: usize, bagLen: i32,
                               out: usize, cap: i32): i32 {
  let rc = checkId(devPtr, devLen, true);
  if (rc != OK) return rc;
  if (modLen != 0) { rc = checkId(modPtr, modLen, true); if (rc != OK) return rc; }
  if (bagLen < 0) return E_BAD_ARGUMENT;
  wBegin(out, cap);
  wLit("devices/");
  wBytes(devPtr, devLen);
  if (modLen != 0) { wLit("/modules/"); wBytes(modPtr, modLen); }
  wLit("/messages/events/");
  wBytes(bagPtr, bagLen);
  return wDone();
}

/** A subscription filter (SUB_*); the device id is used by SUB_C2D only. */
export function subscribeTopic(kind: i32, devPtr: usize, devLen: i32, out: usize, cap: i32): i32 {
  wBegin(out, cap);
  switch (kind) {
    case SUB_C2D: {
      const rc = checkId(devPtr, devLen, true);
      if (rc != OK) return rc;
      wLit("devices/"); wBytes(devPtr, devLen); wLit("/messages/devicebound/#");
      break;
    }
    case SUB_METHODS: wLit("$iothub/methods/POST/#"); break;
    case SUB_TWIN_RESPONSE: wLit("$iothub/twin/res/#"); break;
    case SUB_TWIN_DESIRED: wLit("$iothub/twin/PATCH/properties/desired/#"); break;
    case SUB_DPS: wLit("$dps/registrations/res/#"); break;
    default: return E_BAD_ARGUMENT;
  }
  return wDone();
}

/** `$iothub/twin/GET/?$rid={rid}`. Returns the length, E_BUFFER_TOO_SMALL or IOTHUB_BAD_REQUEST_ID. */
export function twinGetTopic(ridPtr: usize, ridLen: i32, out: usize, cap: i32): i32 {
  const rc = checkToken(ridPtr, ridLen);
  if (rc != OK) return rc;
  wBegin(out, cap);
  wLit("$iothub/twin/GET/?$rid=");
  wBytes(ridPtr, ridLen);
  return wDone();
}

/** `$iothub/twin/PATCH/properties/reported/?$rid={rid}`. */
export function twinPatchTopic(ridPtr: usize, ridLen: i32, out: usize, cap: i32): i32 {
  const rc = checkToken(ridPtr, ridLen);
  if (rc != OK) return rc;
  wBegin(out, cap);
  wLit("$iothub/twin/PATCH/properties/reported/?$rid=");
  wBytes(ridPtr, ridLen);
  return wDone();
}

/** `$iothub/methods/res/{status}/?$rid={rid}`; status 0..65535 (IOTHUB_BAD_STATUS otherwise). */
export function methodResponseTopic(status: i32, ridPtr: usize, ridLen: i32, out: usize, cap: i32): i32 {
  if (status < 0 || status > 65535) return E_IOTHUB_BAD_STATUS;
  const rc = checkToken(ridPtr, ridLen);
  if (rc != OK) return rc;
  wBegin(out, cap);
  wLit("$iothub/methods/res/");
  wDecimal(<u64>status);
  wLit("/?$rid=");
  wBytes(ridPtr, ridLen);
  return wDone();
}

/** `$dps/registrations/PUT/iotdps-register/?$rid={rid}`. */
export function dpsRegisterTopic(ridPtr: usize, ridLen: i32, out: usize, cap: i32): i32 {
  const rc = checkToken(ridPtr, ridLen);
  if (rc != OK) return rc;
  wBegin(out, cap);
  wLit("$dps/registrations/PUT/iotdps-register/?$rid=");
  wBytes(ridPtr, ridLen);
  return wDone();
}

/** `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={enc(op)}`. */
export function dpsPollTopic(ridPtr: usize, ridLen: i32, opPtr: usize, opLen: i32, out: usize, cap: i32): i32 {
  const rc = checkToken(ridPtr, ridLen);
  if (rc != OK) return rc;
  if (opLen <= 0) return E_BAD_ARGUMENT;
  wBegin(out, cap);
  wLit("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=");
  wBytes(ridPtr, ridLen);
  wLit("&operationId=");
  wEncoded(opPtr, opLen, false);
  return wDone();
}

/**
 * The DPS register request body: `{"registrationId":"{regId}"}` or, with a custom payload (JSON, inserted
 * verbatim), `{"registrationId":"{regId}","payload":{payload}}`. The id is checked (its characters need no
 * JSON escaping). Returns the length, E_BUFFER_TOO_SMALL or IOTHUB_ID_*.
 */
export function dpsRegisterPayload(regPtr: usize, regLen: i32, payloadPtr: usize, payloadLen: i32, out: usize, cap: i32): i32 {
  const rc = checkId(regPtr, regLen, true);
  if (rc != OK) return rc;
  wBegin(out, cap);
  wLit("{\"registrationId\":\"");
  wBytes(regPtr, regLen);
  wLit("\"");
  if (payloadLen > 0) { wLit(",\"payload\":"); wBytes(payloadPtr, payloadLen); }
  wLit("}");
  return wDone();
}
