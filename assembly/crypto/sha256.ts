// SHA-256 (FIPS 180-4) over caller-owned context structs, so that HMAC and a streaming user can each have one.
// Context layout (SHA256_CTX_SIZE bytes, 8-aligned):
//   0  u32[8] H (chaining state)   32  u64 total bytes fed   40  u32 bytes waiting in the block   48  u8[64] block
// Streaming is exact at every split point: a partial block is always completed from the next input before any
// whole block of that input is compressed in place.

import { copyBytes } from "./bytes";

export const SHA256_CTX_SIZE: i32 = 112;
export const SHA256_DIGEST_SIZE: i32 = 32;
export const SHA256_BLOCK_SIZE: i32 = 64;

const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Message schedule as a 16-word ring (64 bytes, not 256), shared by every context (the core is single-threaded). */
const W: usize = memory.data(64, 16);

function compress(ctx: usize, block: usize): void {
  for (let i: usize = 0; i < 16; i++) store<u32>(W + (i << 2), bswap<u32>(load<u32>(block + (i << 2))));
  let a = load<u32>(ctx, 0), b = load<u32>(ctx, 4), c = load<u32>(ctx, 8), d = load<u32>(ctx, 12);
  let e = load<u32>(ctx, 16), f = load<u32>(ctx, 20), g = load<u32>(ctx, 24), h = load<u32>(ctx, 28);
  for (let i: usize = 0; i < 64; i++) {
    const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
    const ch = (e & f) ^ (~e & g);
    let w: u32;
    if (i < 16) w = load<u32>(W + (i << 2));
    else {
      const w15 = load<u32>(W + (((i - 15) & 15) << 2));
      const w2 = load<u32>(W + (((i - 2) & 15) << 2));
      const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
      const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
      w = load<u32>(W + ((i & 15) << 2)) + s0 + load<u32>(W + (((i - 7) & 15) << 2)) + s1;
      store<u32>(W + ((i & 15) << 2), w);
    }
    const t1 = h + S1 + ch + load<u32>(K + (i << 2)) + w;
    const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = S0 + maj;
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  store<u32>(ctx, load<u32>(ctx, 0) + a, 0);
  store<u32>(ctx, load<u32>(ctx, 4) + b, 4);
  store<u32>(ctx, load<u32>(ctx, 8) + c, 8);
  store<u32>(ctx, load<u32>(ctx, 12) + d, 12);
  store<u32>(ctx, load<u32>(ctx, 16) + e, 16);
  store<u32>(ctx, load<u32>(ctx, 20) + f, 20);
  store<u32>(ctx, load<u32>(ctx, 24) + g, 24);
  store<u32>(ctx, load<u32>(ctx, 28) + h, 28);
}

/** Resets a context to the empty message. */
export function sha256Init(ctx: usize): void {
  store<u32>(ctx, 0x6a09e667, 0); store<u32>(ctx, 0xbb67ae85, 4);
  store<u32>(ctx, 0x3c6ef372, 8); store<u32>(ctx, 0xa54ff53a, 12);
  store<u32>(ctx, 0x510e527f, 16); store<u32>(ctx, 0x9b05688c, 20);
  store<u32>(ctx, 0x1f83d9ab, 24); store<u32>(ctx, 0x5be0cd19, 28);
  store<u64>(ctx, 0, 32);
  store<u32>(ctx, 0, 40);
}

/** Feeds len bytes at ptr. Any split of a message into updates gives the same digest. */
export function sha256Update(ctx: usize, ptr: usize, len: usize): void {
  store<u64>(ctx, load<u64>(ctx, 32) + <u64>len, 32);
  let n = <usize>load<u32>(ctx, 40);
  const block = ctx + 48;
  if (n > 0) {
    let take: usize = 64 - n;
    if (take > len) take = len;
    copyBytes(block + n, ptr, take);
    n += take; ptr += take; len -= take;
    if (n < 64) { store<u32>(ctx, <u32>n, 40); return; }
    compress(ctx, block);
    n = 0;
  }
  while (len >= 64) { compress(ctx, ptr); ptr += 64; len -= 64; }
  copyBytes(block, ptr, len);
  store<u32>(ctx, <u32>len, 40);
}

/** Pads, writes the 32-byte digest to out. The context must be re-initialised before reuse. */
export function sha256Final(ctx: usize, out: usize): void {
  const block = ctx + 48;
  let n = <usize>load<u32>(ctx, 40);
  const bits = load<u64>(ctx, 32) << 3;
  store<u8>(block + n, 0x80); n++;
  if (n > 56) {
    while (n < 64) { store<u8>(block + n, 0); n++; }
    compress(ctx, block);
    n = 0;
  }
  while (n < 56) { store<u8>(block + n, 0); n++; }
  store<u64>(block + 56, bswap<u64>(bits));
  compress(ctx, block);
  for (let i: usize = 0; i < 8; i++) store<u32>(out + (i << 2), bswap<u32>(load<u32>(ctx + (i << 2))));
}

/** Copies the chaining state and counters (not the pending block) — used for HMAC midstates. */
export function sha256SaveState(ctx: usize, dst: usize): void { copyBytes(dst, ctx, 48); }
export function sha256LoadState(ctx: usize, src: usize): void { copyBytes(ctx, src, 48); }

/** One-shot digest of len bytes at ptr into out (32 bytes), using the given scratch context. */
export function sha256Once(ctx: usize, ptr: usize, len: usize, out: usize): void {
  sha256Init(ctx);
  sha256Update(ctx, ptr, len);
  sha256Final(ctx, out);
}
