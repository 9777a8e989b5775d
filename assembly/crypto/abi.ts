// Entry points of the crypto area exported through assembly/abi.ts (integers and offsets only).
// Every pointer/length pair must lie inside the core's static data (below abi_heap_base(); the IO window is
// the usual place); a range outside it returns E_BAD_ARGUMENT instead of trapping. Outputs must not overlap
// inputs unless stated.

import { sha256Init, sha256Update, sha256Final, sha256Once, SHA256_CTX_SIZE } from "./sha256";
import { hmacSha256, hmacScratchCtx } from "./hmac";
import { base64Encode, base64Decode } from "./base64";
import { inRange } from "./bytes";
import { E_BAD_ARGUMENT } from "../status";

/** The host's streaming context (one; sha256/hmac one-shots use their own). */
const STREAM: usize = memory.data(SHA256_CTX_SIZE, 8);

/** crypto_sha256(ptr, len, out) → 32, writing the digest of [ptr, ptr+len) to out[0..32); E_BAD_ARGUMENT on a bad range. */
export function crypto_sha256(ptr: usize, len: i32, out: usize): i32 {
  if (!inRange(ptr, len) || !inRange(out, 32)) return E_BAD_ARGUMENT;
  sha256Once(hmacScratchCtx(), ptr, <usize>len, out); // HMAC keeps its key state in its own cache
  return 32;
}

/** crypto_sha256_init() → 0: starts the streaming digest. */
export function crypto_sha256_init(): i32 { sha256Init(STREAM); return 0; }

/** crypto_sha256_update(ptr, len) → 0: feeds bytes to the streaming digest (any split gives the same digest). */
export function crypto_sha256_update(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  sha256Update(STREAM, ptr, <usize>len);
  return 0;
}

/** crypto_sha256_final(out) → 32: writes the streaming digest to out[0..32) and restarts the stream. */
export function crypto_sha256_final(out: usize): i32 {
  if (!inRange(out, 32)) return E_BAD_ARGUMENT;
  sha256Final(STREAM, out);
  sha256Init(STREAM);
  return 32;
}

/** crypto_hmac_sha256(keyPtr, keyLen, msgPtr, msgLen, out) → 32: HMAC-SHA256 with a raw key of any length. */
export function crypto_hmac_sha256(keyPtr: usize, keyLen: i32, msgPtr: usize, msgLen: i32, out: usize): i32 {
  if (!inRange(keyPtr, keyLen) || !inRange(msgPtr, msgLen) || !inRange(out, 32)) return E_BAD_ARGUMENT;
  hmacSha256(keyPtr, keyLen, msgPtr, msgLen, out);
  return 32;
}

/** crypto_base64_encode(src, len, out, cap) → encoded length ((len+2)/3*4) | E_BUFFER_TOO_SMALL | E_BAD_ARGUMENT. */
export function crypto_base64_encode(src: usize, len: i32, out: usize, cap: i32): i32 {
  if (!inRange(src, len) || !inRange(out, cap)) return E_BAD_ARGUMENT;
  return base64Encode(src, len, out, cap);
}

/**
 * crypto_base64_decode(src, len, out, cap) → decoded length | CRYPTO_BASE64_BAD_CHAR | CRYPTO_BASE64_BAD_LENGTH | CRYPTO_BASE64_BAD_PADDING
 * | E_BUFFER_TOO_SMALL | E_BAD_ARGUMENT. Strict RFC 4648: padding required, canonical trailing bits.
 */
export function crypto_base64_decode(src: usize, len: i32, out: usize, cap: i32): i32 {
  if (!inRange(src, len) || !inRange(out, cap)) return E_BAD_ARGUMENT;
  return base64Decode(src, len, out, cap);
}
