// Connection strings: `Key=Value;Key=Value` as the portal and `az iot hub device-identity connection-string`
// print them. The value is everything after the first '=' (base64 keys end in '='). Known keys are
// case-sensitive, as in the hub's SDKs; unknown keys are ignored so newer strings still parse.
//
// Result (ConnectionStringResult at csResult(); views are absolute pointers into the input, len -1 = absent).

import {
  E_IOTHUB_CS_MALFORMED, E_IOTHUB_CS_DUPLICATE_KEY, E_IOTHUB_CS_EMPTY_VALUE, E_IOTHUB_CS_MISSING_HOSTNAME, E_IOTHUB_CS_MISSING_DEVICE_ID,
  E_IOTHUB_CS_BAD_KEY, E_IOTHUB_CS_MISSING_CREDENTIAL, E_IOTHUB_CS_KEY_AND_X509, E_IOTHUB_CS_BAD_X509, E_IOTHUB_KEY_TOO_LONG,
} from "./status";
import { OK } from "../status";
import { checkId, checkHost } from "./ids";
import { decodeKey } from "./keys";

/** A parsed connection string: views into the input (ptr 0, len -1 when absent). */
@unmanaged
export class ConnectionStringResult {
  /** HostName */
  hostPtr: u32;
  hostLen: i32;
  /** DeviceId */
  devicePtr: u32;
  deviceLen: i32;
  /** ModuleId */
  modulePtr: u32;
  moduleLen: i32;
  /** SharedAccessKey (base64) */
  keyPtr: u32;
  keyLen: i32;
  /** SharedAccessKeyName */
  keyNamePtr: u32;
  keyNameLen: i32;
  /** GatewayHostName */
  gatewayPtr: u32;
  gatewayLen: i32;
  /** SharedAccessSignature */
  sasPtr: u32;
  sasLen: i32;
  /** x509=true: 1 */
  x509: i32;
  /** the decoded key's length (-1 none); the key is at iothub_key_ptr() */
  decodedKeyLen: i32;
}
export const CS_RESULT_SIZE: i32 = offsetof<ConnectionStringResult>();
// Fields by (ptr, len) pair: the offset of each pair's pointer.
export const CS_HOST: i32 = offsetof<ConnectionStringResult>("hostPtr");
export const CS_DEVICE: i32 = offsetof<ConnectionStringResult>("devicePtr");
export const CS_MODULE: i32 = offsetof<ConnectionStringResult>("modulePtr");
export const CS_KEY: i32 = offsetof<ConnectionStringResult>("keyPtr");
export const CS_KEY_NAME: i32 = offsetof<ConnectionStringResult>("keyNamePtr");
export const CS_GATEWAY: i32 = offsetof<ConnectionStringResult>("gatewayPtr");
export const CS_SAS: i32 = offsetof<ConnectionStringResult>("sasPtr");
export const CS_X509: i32 = offsetof<ConnectionStringResult>("x509");
export const CS_KEY_LEN: i32 = offsetof<ConnectionStringResult>("decodedKeyLen");

const RESULT: usize = memory.data(CS_RESULT_SIZE, 8);
export function csResult(): usize { return RESULT; }

/** 1 when [ptr, ptr+len) equals the ASCII literal s (case-sensitive, or ASCII-case-insensitive with ci). */
export function eqLit(ptr: usize, len: i32, s: string, ci: bool = false): bool {
  if (len != s.length) return false;
  const p = changetype<usize>(s);
  for (let i: i32 = 0; i < len; i++) {
    let a = <u32>load<u8>(ptr + i), b = <u32>load<u16>(p + (<usize>i << 1));
    if (ci) { a |= 32; b |= 32; }
    if (a != b) return false;
  }
  return true;
}

function fieldOf(key: usize, len: i32): i32 {
  if (eqLit(key, len, "HostName")) return CS_HOST;
  if (eqLit(key, len, "DeviceId")) return CS_DEVICE;
  if (eqLit(key, len, "ModuleId")) return CS_MODULE;
  if (eqLit(key, len, "SharedAccessKey")) return CS_KEY;
  if (eqLit(key, len, "SharedAccessKeyName")) return CS_KEY_NAME;
  if (eqLit(key, len, "GatewayHostName")) return CS_GATEWAY;
  if (eqLit(key, len, "SharedAccessSignature")) return CS_SAS;
  if (eqLit(key, len, "x509")) return CS_X509;
  return -1;
}

// @ts-ignore: decorator
@inline function fLen(f: i32): i32 { return load<i32>(RESULT + <usize>f + 4); }
// @ts-ignore: decorator
@inline function fPtr(f: i32): usize { return <usize>load<i32>(RESULT + <usize>f); }

/**
 * Parses a device or module connection string of len bytes at ptr into csResult(); a SharedAccessKey is decoded
 * into keyBuffer(). Returns OK or a IOTHUB_CS_* / IOTHUB_ID_* / IOTHUB_BAD_HOST / IOTHUB_KEY_TOO_LONG code.
 */
export function parseConnectionString(ptr: usize, len: i32): i32 {
  for (let f: usize = 0; f < <usize>CS_X509; f += 8) { store<i32>(RESULT + f, 0); store<i32>(RESULT + f + 4, -1); }
  store<i32>(RESULT + <usize>CS_X509, 0); store<i32>(RESULT + <usize>CS_KEY_LEN, -1);
  let x509Ptr: usize = 0, x509Len: i32 = -1;
  // A string read from a file or a terminal often ends with a line break: trailing CR, LF, tab and space are not
  // part of it (no field value can end with them).
  while (len > 0) { const c = load<u8>(ptr + <usize>(len - 1)); if (c != 10 && c != 13 && c != 32 && c != 9) break; len--; }
  let i: i32 = 0;
  while (i < len) {
    let end = i;
    while (end < len && load<u8>(ptr + end) != 59) end++;
    if (end > i) {
      let eq = i;
      while (eq < end && load<u8>(ptr + eq) != 61) eq++;
      if (eq == end || eq == i) return E_IOTHUB_CS_MALFORMED;
      const f = fieldOf(ptr + i, eq - i);
      const vPtr = ptr + eq + 1, vLen = end - eq - 1;
      if (f >= 0) {
        if (f == CS_X509) {
          if (x509Len >= 0) return E_IOTHUB_CS_DUPLICATE_KEY;
          if (vLen == 0) return E_IOTHUB_CS_EMPTY_VALUE;
          x509Ptr = vPtr; x509Len = vLen;
        } else {
          if (fLen(f) >= 0) return E_IOTHUB_CS_DUPLICATE_KEY;
          if (vLen == 0) return E_IOTHUB_CS_EMPTY_VALUE;
          store<i32>(RESULT + <usize>f, <i32>vPtr);
          store<i32>(RESULT + <usize>f + 4, vLen);
        }
      }
    }
    i = end + 1;
  }
  if (fLen(CS_HOST) < 0) return E_IOTHUB_CS_MISSING_HOSTNAME;
  let rc = checkHost(fPtr(CS_HOST), fLen(CS_HOST));
  if (rc != OK) return rc;
  if (fLen(CS_GATEWAY) >= 0) { rc = checkHost(fPtr(CS_GATEWAY), fLen(CS_GATEWAY)); if (rc != OK) return rc; }
  if (fLen(CS_DEVICE) < 0) return E_IOTHUB_CS_MISSING_DEVICE_ID;
  rc = checkId(fPtr(CS_DEVICE), fLen(CS_DEVICE), false);
  if (rc != OK) return rc;
  if (fLen(CS_MODULE) >= 0) { rc = checkId(fPtr(CS_MODULE), fLen(CS_MODULE), false); if (rc != OK) return rc; }
  let x509 = false;
  if (x509Len >= 0) {
    if (eqLit(x509Ptr, x509Len, "true", true)) x509 = true;
    else if (!eqLit(x509Ptr, x509Len, "false", true)) return E_IOTHUB_CS_BAD_X509;
  }
  store<i32>(RESULT, x509 ? 1 : 0, 56);
  if (fLen(CS_KEY) >= 0) {
    if (x509) return E_IOTHUB_CS_KEY_AND_X509;
    const n = decodeKey(fPtr(CS_KEY), fLen(CS_KEY));
    if (n == E_IOTHUB_KEY_TOO_LONG) return n;
    if (n < 0) return E_IOTHUB_CS_BAD_KEY;
    store<i32>(RESULT, n, 60);
  } else if (!x509 && fLen(CS_SAS) < 0) return E_IOTHUB_CS_MISSING_CREDENTIAL;
  return OK;
}
