// SAS tokens (IoT Hub and DPS):
//   string to sign  = urlenc(resourceUri) "\n" expiry
//   signature       = base64(HMAC-SHA256(key, string to sign))
//   token           = "SharedAccessSignature sr=" urlenc(uri) "&sig=" urlenc(sig) "&se=" expiry ["&skn=" urlenc(name)]
// urlenc is the strict flavour (only A-Z a-z 0-9 - _ . ~ bare, uppercase hex). skn goes last, as in
// azure-sdk-for-c (the Node SDK puts it before se; the hub accepts both orders). The string to sign is hashed
// straight out of the output buffer, after the encoded URI is written there: no copy, no scratch.
// Keys here are raw bytes (decode base64 once with decodeKey / the connection-string parser).

import { hmacInit, hmacFinal, hmacScratchCtx } from "../crypto/hmac";
import { sha256Update } from "../crypto/sha256";
import { base64Encode } from "../crypto/base64";
import { hmacSha256 } from "../crypto/hmac";
import { wBegin, wLit, wHere, wFits, wDecimal, wDone } from "./writer";
import { wEncoded } from "./urlencode";
import { checkId, checkHost } from "./ids";
import { E_IOTHUB_KEY_EMPTY } from "./status";
import { OK, E_BUFFER_TOO_SMALL, E_BAD_ARGUMENT } from "../status";

const MAC: usize = memory.data(32, 8);
const SIG: usize = memory.data(44, 4);
/** "\n" + up to 20 decimal digits. */
const TAIL: usize = memory.data(24, 4);

function finishToken(srStart: usize, keyPtr: usize, keyLen: i32, sknPtr: usize, sknLen: i32, expiry: u64): i32 {
  if (!wFits()) return E_BUFFER_TOO_SMALL;
  const ctx = hmacScratchCtx();
  hmacInit(ctx, keyPtr, keyLen);
  sha256Update(ctx, srStart, wHere() - srStart);
  // "\n" + decimal expiry, digits written backwards into TAIL.
  let p = TAIL + 23, v = expiry;
  do { store<u8>(p, <u8>(v % 10 + 48)); p--; v /= 10; } while (v > 0);
  store<u8>(p, 10);
  sha256Update(ctx, p, TAIL + 24 - p);
  hmacFinal(ctx, MAC);
  base64Encode(MAC, 32, SIG, 44);
  wLit("&sig=");
  wEncoded(SIG, 44, false);
  wLit("&se=");
  wDecimal(expiry);
  if (sknLen > 0) { wLit("&skn="); wEncoded(sknPtr, sknLen, false); }
  return wDone();
}

/**
 * A token for any resource URI (given plain; encoded here) signed with keyLen raw key bytes; skn added when
 * sknLen > 0. Returns the token length, E_BUFFER_TOO_SMALL, IOTHUB_KEY_EMPTY or E_BAD_ARGUMENT (empty URI).
 */
export function sasToken(uriPtr: usize, uriLen: i32, keyPtr: usize, keyLen: i32, sknPtr: usize, sknLen: i32,
                         expiry: u64, out: usize, cap: i32): i32 {
  if (uriLen <= 0) return E_BAD_ARGUMENT;
  if (keyLen <= 0) return E_IOTHUB_KEY_EMPTY;
  wBegin(out, cap);
  wLit("SharedAccessSignature sr=");
  const srStart = wHere();
  wEncoded(uriPtr, uriLen, false);
  return finishToken(srStart, keyPtr, keyLen, sknPtr, sknLen, expiry);
}

/**
 * The MQTT password of a device or module: a token for `{host}/devices/{deviceId}[/modules/{moduleId}]`
 * (moduleLen 0 = device). sknLen > 0 when the key is a shared access policy's. Returns the length or a code.
 */
export function sasDevicePassword(hostPtr: usize, hostLen: i32, devPtr: usize, devLen: i32, modPtr: usize, modLen: i32,
                                  keyPtr: usize, keyLen: i32, sknPtr: usize, sknLen: i32, expiry: u64,
                                  out: usize, cap: i32): i32 {
  let rc = checkHost(hostPtr, hostLen);
  if (rc != OK) return rc;
  rc = checkId(devPtr, devLen, false);
  if (rc != OK) return rc;
  if (modLen != 0) { rc = checkId(modPtr, modLen, false); if (rc != OK) return rc; }
  if (keyLen <= 0) return E_IOTHUB_KEY_EMPTY;
  wBegin(out, cap);
  wLit("SharedAccessSignature sr=");
  const srStart = wHere();
  wEncoded(hostPtr, hostLen, false);
  wLit("%2Fdevices%2F");
  wEncoded(devPtr, devLen, false);
  if (modLen != 0) { wLit("%2Fmodules%2F"); wEncoded(modPtr, modLen, false); }
  return finishToken(srStart, keyPtr, keyLen, sknPtr, sknLen, expiry);
}

/** "registration": the fixed policy name of DPS device tokens. */
const REGISTRATION: usize = memory.data<u8>([114, 101, 103, 105, 115, 116, 114, 97, 116, 105, 111, 110]);

/** A DPS token: resource `{idScope}/registrations/{registrationId}`, skn=registration. */
export function dpsSasToken(scopePtr: usize, scopeLen: i32, regPtr: usize, regLen: i32, keyPtr: usize, keyLen: i32,
                            expiry: u64, out: usize, cap: i32): i32 {
  let rc = checkId(scopePtr, scopeLen, true);
  if (rc != OK) return rc;
  rc = checkId(regPtr, regLen, true);
  if (rc != OK) return rc;
  if (keyLen <= 0) return E_IOTHUB_KEY_EMPTY;
  wBegin(out, cap);
  wLit("SharedAccessSignature sr=");
  const srStart = wHere();
  wEncoded(scopePtr, scopeLen, false);
  wLit("%2Fregistrations%2F");
  wEncoded(regPtr, regLen, false);
  return finishToken(srStart, keyPtr, keyLen, REGISTRATION, 12, expiry);
}

/**
 * DPS group enrollment: the device key is base64(HMAC-SHA256(groupKey, registrationId)). Writes the 44-char
 * base64 key to out. Returns 44, E_BUFFER_TOO_SMALL, IOTHUB_KEY_EMPTY or an IOTHUB_ID_* code.
 */
export function dpsDeriveKey(groupKeyPtr: usize, groupKeyLen: i32, regPtr: usize, regLen: i32, out: usize, cap: i32): i32 {
  const rc = checkId(regPtr, regLen, false);
  if (rc != OK) return rc;
  if (groupKeyLen <= 0) return E_IOTHUB_KEY_EMPTY;
  if (cap < 44) return E_BUFFER_TOO_SMALL;
  hmacSha256(groupKeyPtr, groupKeyLen, regPtr, regLen, MAC);
  return base64Encode(MAC, 32, out, cap);
}
