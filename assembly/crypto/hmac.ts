// HMAC-SHA256 (RFC 2104 / 4231) in three steps so that callers can stream the message (the SAS string to sign
// is hashed straight out of the token being written, never copied).
// The inner and outer midstates of the last short key (<= 64 bytes) are cached: a device signs every token
// with the same key, and the cache halves the compressions per token (4 → 2 for a typical hub resource).

import { sha256Init, sha256Update, sha256Final, sha256SaveState, sha256LoadState, sha256Once, SHA256_CTX_SIZE } from "./sha256";
import { copyBytes, fillBytes, bytesEqual } from "./bytes";

export const HMAC_SHA256_SIZE: i32 = 32;

/** Padded key block for the key in use (keys longer than 64 bytes are hashed first, per RFC 2104). */
const KEY_BLOCK: usize = memory.data(64, 8);
const PAD: usize = memory.data(64, 8);
const INNER: usize = memory.data(32, 8);
/** Cache: the raw key (<= 64 bytes), its length (-1 = empty cache), and the two 48-byte midstates. */
const CACHE_KEY: usize = memory.data(64, 8);
let cacheLen: i32 = -1;
const CACHE_IN: usize = memory.data(48, 8);
const CACHE_OUT: usize = memory.data(48, 8);

function padded(xor: u8): usize {
  for (let i: usize = 0; i < 64; i++) store<u8>(PAD + i, load<u8>(KEY_BLOCK + i) ^ xor);
  return PAD;
}

/** Starts a MAC with keyLen bytes of key at keyPtr in ctx (a SHA256_CTX_SIZE-byte context). */
export function hmacInit(ctx: usize, keyPtr: usize, keyLen: i32): void {
  if (keyLen <= 64 && keyLen == cacheLen && bytesEqual(CACHE_KEY, keyPtr, <usize>keyLen)) {
    sha256LoadState(ctx, CACHE_IN);
    return;
  }
  if (keyLen > 64) {
    sha256Once(ctx, keyPtr, <usize>keyLen, KEY_BLOCK);
    fillBytes(KEY_BLOCK + 32, 0, 32);
  } else {
    copyBytes(KEY_BLOCK, keyPtr, <usize>keyLen);
    fillBytes(KEY_BLOCK + <usize>keyLen, 0, <usize>(64 - keyLen));
  }
  // Outer midstate first (ctx is free), then leave ctx holding the inner one.
  sha256Init(ctx);
  sha256Update(ctx, padded(0x5c), 64);
  sha256SaveState(ctx, CACHE_OUT);
  sha256Init(ctx);
  sha256Update(ctx, padded(0x36), 64);
  sha256SaveState(ctx, CACHE_IN);
  fillBytes(PAD, 0, 64);
  if (keyLen <= 64) { copyBytes(CACHE_KEY, keyPtr, <usize>keyLen); cacheLen = keyLen; }
  else cacheLen = -1; // the midstates belong to a long key that is not remembered
  // CACHE_OUT always matches the key of the MAC in progress, whether or not it is cached for later.
}

// @ts-ignore: decorator
@inline export function hmacUpdate(ctx: usize, ptr: usize, len: usize): void { sha256Update(ctx, ptr, len); }

/** Finishes the MAC started by the last hmacInit, writing 32 bytes to out. */
export function hmacFinal(ctx: usize, out: usize): void {
  sha256Final(ctx, INNER);
  sha256LoadState(ctx, CACHE_OUT);
  sha256Update(ctx, INNER, 32);
  sha256Final(ctx, out);
}

/** Scratch context for one-shot MACs. */
const HCTX: usize = memory.data(SHA256_CTX_SIZE, 8);

/** One-shot HMAC-SHA256: 32 bytes to out. */
export function hmacSha256(keyPtr: usize, keyLen: i32, msgPtr: usize, msgLen: i32, out: usize): void {
  hmacInit(HCTX, keyPtr, keyLen);
  sha256Update(HCTX, msgPtr, <usize>msgLen);
  hmacFinal(HCTX, out);
}

/** The shared one-shot context, for callers that stream into hmacInit/hmacUpdate/hmacFinal. */
export function hmacScratchCtx(): usize { return HCTX; }
