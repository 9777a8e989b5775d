// Drives the iothub/crypto exports of a built core directly: strings in through the IO window, results out.
import { Core, type Profile } from '../../host/wasm/core.js';
import type { GatewayExports } from '../../host/wasm/abi.generated.js';

/** An export that takes arguments laid out by Raw.lay (checked against the core's export names). */
export type ExportName = Exclude<keyof GatewayExports, 'memory'>;

export type Arg = string | Uint8Array | number | bigint | null;

export class Raw {
  readonly c: Core;
  // mcu.wasm exports only the device client: the MCU profile's protocol layer is tested in its full-export build.
  constructor(profile: Profile = 'gateway') { this.c = new Core(profile === 'mcu' ? 'mcu-full' : 'gateway'); }
  get e() { return this.c.exports; }

  /**
   * Lays out string/byte arguments in the IO window as (ptr, len) pairs (null → (0, 0)); numbers and bigints
   * pass through. Returns the argument list and the first free address (for the output).
   */
  lay(args: Arg[]): { list: (number | bigint)[]; free: number } {
    const list: (number | bigint)[] = [];
    let at = this.c.io;
    for (const a of args) {
      if (a === null) { list.push(0, 0); continue; }
      if (typeof a === 'number' || typeof a === 'bigint') { list.push(a); continue; }
      const bytes = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
      this.c.u8.set(bytes, at);
      list.push(at, bytes.length);
      at += bytes.length;
    }
    return { list, free: at };
  }

  /** Calls a builder `fn(...args, out, cap)`; returns the output bytes or the status name. */
  build(fn: ExportName, args: Arg[], cap?: number): Buffer | string {
    const { list, free } = this.lay(args);
    const room = this.c.io + this.c.ioCapacity - free;
    const r = (this.e[fn] as unknown as (...a: unknown[]) => number)(...list, free, cap ?? room);
    if (r < 0) return this.c.statusName(r);
    return Buffer.from(this.c.u8.subarray(free, free + r));
  }

  /** Like build, as a UTF-8 string (status names come back as they are). */
  str(fn: ExportName, args: Arg[], cap?: number): string {
    const r = this.build(fn, args, cap);
    return typeof r === 'string' ? r : r.toString('utf8');
  }

  /** Calls an export that takes only (ptr, len) pairs/numbers; returns the raw status. */
  call(fn: ExportName, args: Arg[]): number {
    const { list } = this.lay(args);
    return (this.e[fn] as unknown as (...a: unknown[]) => number)(...list);
  }

  name(status: number): string { return this.c.statusName(status); }
  i32(p: number): number { return this.c.i32(p); }
  view(p: number): string | null {
    const len = this.c.i32(p + 4);
    return len < 0 ? null : this.c.utf8(this.c.u32(p), len);
  }
}

export const profiles: Profile[] = ['gateway', 'mcu'];
