// The settling functions of the telemetry promises awaiting the core's answer, by token. The core hands out
// tokens in sequence, so a small open table indexed by the token's low bits holds them with no hashing and no
// object per message; it doubles when two live tokens meet (up to 1,024 entries), and a token that still meets
// another one after that waits in a Map. A device with two messages in flight keeps an 8-entry table.
const MIN_SIZE = 8;
const MAX_SIZE = 1024;

export type Settle = (error?: Error) => void;

export class PendingTokens {
  private keys = new Int32Array(MIN_SIZE); // 0: empty (tokens are > 0)
  private resolves: Array<((v: unknown) => void) | undefined> = new Array(MIN_SIZE);
  private rejects: Array<((e: Error) => void) | undefined> = new Array(MIN_SIZE);
  private spill: Map<number, { resolve(v: unknown): void; reject(e: Error): void }> | null = null;

  set(token: number, resolve: (v: unknown) => void, reject: (e: Error) => void): void {
    for (;;) {
      const i = token & (this.keys.length - 1);
      if (this.keys[i] === 0) {
        this.keys[i] = token;
        this.resolves[i] = resolve;
        this.rejects[i] = reject;
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
      const resolve = this.resolves[i]!, reject = this.rejects[i]!;
      this.keys[i] = 0;
      this.resolves[i] = undefined;
      this.rejects[i] = undefined;
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
    const { keys, resolves, rejects } = this;
    const size = keys.length * 2;
    this.keys = new Int32Array(size);
    this.resolves = new Array(size);
    this.rejects = new Array(size);
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) this.set(keys[i]!, resolves[i]!, rejects[i]!);
  }
}
