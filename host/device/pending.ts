// The settling functions of the telemetry promises awaiting the core's answer, by token. The core hands out
// tokens in sequence, so a small open table indexed by the token's low bits holds them with no hashing and no
// object per message; it doubles when two live tokens meet (up to 1,024 entries), and a token that still meets
// another one after that waits in a Map. A device with two messages in flight keeps an 8-entry table; one that
// never sent telemetry (most of a gateway's idle devices) keeps none: the table is made on the first message.
const MIN_SIZE = 8;
const MAX_SIZE = 1024;
/** The table of a device that has sent nothing yet: no slot is taken, so the first set() makes a real one. */
const NO_KEYS = new Int32Array(1).fill(-1);
const NO_SETTLERS: Settlers = [];

export type Settle = (error?: Error) => void;
/** Entry i's resolve at 2i, its reject at 2i + 1. */
type Settlers = Array<((v: unknown) => void) | ((e: Error) => void) | undefined>;

export class PendingTokens {
  private keys = NO_KEYS; // 0: empty (tokens are > 0)
  private settlers: Settlers = NO_SETTLERS;
  private spill: Map<number, { resolve(v: unknown): void; reject(e: Error): void }> | null = null;

  set(token: number, resolve: (v: unknown) => void, reject: (e: Error) => void): void {
    if (this.keys === NO_KEYS) { this.keys = new Int32Array(MIN_SIZE); this.settlers = new Array(MIN_SIZE * 2); }
    for (;;) {
      const i = token & (this.keys.length - 1);
      if (this.keys[i] === 0) {
        this.keys[i] = token;
        this.settlers[2 * i] = resolve;
        this.settlers[2 * i + 1] = reject;
        return;
      }
      if (this.keys.length >= MAX_SIZE) {
        (this.spill ??= new Map()).set(token, { resolve, reject });
        return;
      }
      this.grow();
    }
  }

  /** Settles token's promise (rejects it with `error` when given); false when no promise waits for it. */
  settle(token: number, error?: Error): boolean {
    const i = token & (this.keys.length - 1);
    if (this.keys[i] === token) {
      const resolve = this.settlers[2 * i] as (v: unknown) => void, reject = this.settlers[2 * i + 1] as (e: Error) => void;
      this.keys[i] = 0;
      this.settlers[2 * i] = undefined;
      this.settlers[2 * i + 1] = undefined;
      if (error) reject(error); else resolve(undefined);
      return true;
    }
    const p = this.spill?.get(token);
    if (!p) return false;
    this.spill!.delete(token);
    if (error) p.reject(error); else p.resolve(undefined);
    return true;
  }

  private grow(): void {
    const { keys, settlers } = this;
    const size = keys.length * 2;
    this.keys = new Int32Array(size);
    this.settlers = new Array(size * 2);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== 0) this.set(keys[i]!, settlers[2 * i] as (v: unknown) => void, settlers[2 * i + 1] as (e: Error) => void);
    }
  }
}
