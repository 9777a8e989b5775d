// MQTT CONNECT identity for IoT Hub and DPS.
//   client id  {deviceId} | {deviceId}/{moduleId}
//   username   {host}/{deviceId}[/{moduleId}]/?api-version=2021-04-12[&model-id={enc}][&DeviceClientType={enc}]
//   DPS        client id {registrationId}; username {idScope}/registrations/{registrationId}/api-version=2019-03-31
// model-id and DeviceClientType are percent-encoded like encodeURIComponent (the Node SDK's encoding of
// DeviceClientType; azure-sdk-for-c encodes model-id the same way for these characters).

import { wBegin, wLit, wBytes, wByte, wDone } from "./writer";
import { wEncoded } from "./urlencode";
import { checkId, checkHost } from "./ids";
import { OK } from "../status";

/** Client id into out. moduleLen 0 = device. Returns the length, E_BUFFER_TOO_SMALL or IOTHUB_ID_*. */
export function clientId(devPtr: usize, devLen: i32, modPtr: usize, modLen: i32, out: usize, cap: i32): i32 {
  let rc = checkId(devPtr, devLen, true);
  if (rc != OK) return rc;
  if (modLen != 0) { rc = checkId(modPtr, modLen, true); if (rc != OK) return rc; }
  wBegin(out, cap);
  wBytes(devPtr, devLen);
  if (modLen != 0) { wByte(47); wBytes(modPtr, modLen); }
  return wDone();
}

/**
 * Username into out. moduleLen / modelIdLen / clientTypeLen 0 = absent. Returns the length,
 * E_BUFFER_TOO_SMALL, IOTHUB_BAD_HOST or IOTHUB_ID_*.
 */
export function username(hostPtr: usize, hostLen: i32, devPtr: usize, devLen: i32, modPtr: usize, modLen: i32,
                         modelPtr: usize, modelLen: i32, typePtr: usize, typeLen: i32, out: usize, cap: i32): i32 {
  let rc = checkHost(hostPtr, hostLen);
  if (rc != OK) return rc;
  rc = checkId(devPtr, devLen, true);
  if (rc != OK) return rc;
  if (modLen != 0) { rc = checkId(modPtr, modLen, true); if (rc != OK) return rc; }
  wBegin(out, cap);
  wBytes(hostPtr, hostLen);
  wByte(47);
  wBytes(devPtr, devLen);
  if (modLen != 0) { wByte(47); wBytes(modPtr, modLen); }
  wLit("/?api-version=2021-04-12");
  if (modelLen > 0) { wLit("&model-id="); wEncoded(modelPtr, modelLen, true); }
  if (typeLen > 0) { wLit("&DeviceClientType="); wEncoded(typePtr, typeLen, true); }
  return wDone();
}

/** DPS username into out. Returns the length, E_BUFFER_TOO_SMALL or IOTHUB_ID_*. */
export function dpsUsername(scopePtr: usize, scopeLen: i32, regPtr: usize, regLen: i32, out: usize, cap: i32): i32 {
  let rc = checkId(scopePtr, scopeLen, true);
  if (rc != OK) return rc;
  rc = checkId(regPtr, regLen, true);
  if (rc != OK) return rc;
  wBegin(out, cap);
  wBytes(scopePtr, scopeLen);
  wLit("/registrations/");
  wBytes(regPtr, regLen);
  wLit("/api-version=2019-03-31");
  return wDone();
}
