// Loads the core (build/<profile>.wasm) with no imports and gives the host typed access to its linear memory.
// The host stays thin: it copies bytes in and out; every protocol decision is made by the core.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GatewayExports } from './abi.generated.js';

export type Profile = 'gateway' | 'mcu';
/**
 * A built module: a profile's own build, or `mcu-full` — the MCU profile (WebAssembly 1.0, one page, its buffer
 * sizes) compiled with every export of the gateway build, for the codec and protocol faces and their tests
 * (mcu.wasm exports only what a device needs).
 */
export type Build = Profile | 'mcu-full';

/** The raw exports of the core, typed from the core's declarations (host/wasm/abi.generated.ts). */
export type CoreExports = GatewayExports;

const modules = new Map<Build, WebAssembly.Module>();
/** Strings up to this many UTF-16 units are written by Core#writeIo's own loop when they are ASCII. */
const SHORT_STRING = 16;
const encoder = new TextEncoder();

/** The path of a built module. */
export function wasmPath(build: Build = 'gateway'): string {
  return fileURLToPath(new URL(`../../../build/${build}.wasm`, import.meta.url));
}

/** Compiled once per process and build; instances are cheap and independent. */
export function coreModule(build: Build = 'gateway'): WebAssembly.Module {
  let m = modules.get(build);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(wasmPath(build)));
    modules.set(build, m);
  }
  return m;
}

let stateless: Core | undefined;
/**
 * The process-wide gateway core behind the stateless JavaScript faces (encodePacket, SAS tokens, connection
 * strings): each call fills the IO window, runs, and copies its result out before returning.
 */
export function statelessCore(): Core {
  stateless ??= new Core('gateway');
  return stateless;
}

/**
 * One instance of the core: its own memory, its own state. `exports` is typed as the gateway build's; an
 * instance of mcu.wasm has only McuExports (DeviceClient uses no other).
 */
export class Core {
  readonly exports: CoreExports;
  readonly memory: WebAssembly.Memory;
  readonly profile: Profile;
  readonly build: Build;
  /** Start of the host↔core argument window, and its size. */
  readonly io: number;
  readonly ioCapacity: number;
  private u8cache: Uint8Array;
  private bufcache: Buffer;
  /** The IO window as a view of its own, for TextEncoder#encodeInto. */
  private readonly ioView: Uint8Array;

  constructor(build: Build = 'gateway') {
    this.build = build;
    this.profile = build === 'gateway' ? 'gateway' : 'mcu';
    const instance = new WebAssembly.Instance(coreModule(build), {});
    this.exports = instance.exports as unknown as CoreExports;
    this.memory = this.exports.memory;
    this.u8cache = new Uint8Array(this.memory.buffer);
    this.bufcache = Buffer.from(this.memory.buffer);
    this.io = this.exports.abi_io_ptr();
    this.ioCapacity = this.exports.abi_io_capacity();
    this.ioView = new Uint8Array(this.memory.buffer, this.io, this.ioCapacity);
  }

  /** A view of the whole linear memory (the memory never grows, so the view stays valid). */
  get u8(): Uint8Array { return this.u8cache; }
  /** The same memory as a Buffer, for fast UTF-8 reads and writes. */
  get buf(): Buffer { return this.bufcache; }

  u32(ptr: number): number { return (this.u8cache[ptr] | (this.u8cache[ptr + 1] << 8) | (this.u8cache[ptr + 2] << 16) | (this.u8cache[ptr + 3] << 24)) >>> 0; }
  i32(ptr: number): number { return this.u32(ptr) | 0; }

  /**
   * Copies a string (as UTF-8) or bytes into the IO window at address `at`: the bytes written, or -1 when they
   * do not fit before the window's end (nothing is truncated). The one way hosts pass inputs to the core.
   */
  writeIo(at: number, value: string | Uint8Array): number {
    const room = this.io + this.ioCapacity - at;
    if (typeof value === 'string') {
      // Short strings (property names and values, ids) are copied here when they are ASCII: crossing into
      // Buffer#write costs more than the copy itself.
      const n = value.length;
      if (n <= SHORT_STRING && n <= room) {
        const u8 = this.u8cache;
        let i = 0;
        for (; i < n; i++) {
          const c = value.charCodeAt(i);
          if (c > 0x7f) break;
          u8[at + i] = c;
        }
        if (i === n) return n;
      }
      if (at === this.io) {
        // The IO window's start (message bodies): one native call into a view made once.
        const r = encoder.encodeInto(value, this.ioView);
        return r.read === n ? r.written : -1;
      }
      if (n * 3 > room && Buffer.byteLength(value) > room) return -1;
      return this.bufcache.write(value, at, room, 'utf8');
    }
    if (value.length > room) return -1;
    this.u8cache.set(value, at);
    return value.length;
  }

  /** Reads a UTF-8 string out of linear memory. */
  utf8(ptr: number, len: number): string { return this.bufcache.toString('utf8', ptr, ptr + len); }

  /** The stable name of a status code, read from the core's static data. */
  statusName(code: number): string {
    const ptr = this.exports.abi_status_name(code);
    const bytes = this.u32(ptr - 4);
    return this.bufcache.toString('utf16le', ptr, ptr + bytes);
  }
}
