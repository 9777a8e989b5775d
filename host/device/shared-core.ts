// Several devices on one instance of the core: a gateway with a thousand devices pays for one module instance
// (its export wrappers and its linear memory) instead of a thousand. Each device's state lives in the core while
// the device is being served and as a compact snapshot (its configuration, timers, queued messages and pending
// bytes: a few hundred bytes for an idle device) the rest of the time. Switching is a save and a restore in the core.
import { Core, type Profile } from '../wasm/core.js';
import { IotHubWasmError } from '../errors.js';
import type { Transport } from './board.js';

/** A snapshot buffer is reused while it has at most this many bytes to spare, else replaced by one of the right size. */
const SLACK = 256;

export class SharedCore {
  private static defaults = new Map<Profile, SharedCore>();
  readonly core: Core;
  private current: object | null = null;
  /**
   * Each device's saved state: `len` bytes of `buf`, kept for its next save while that fits with little to spare.
   * The buffers come from Node's pool (Buffer.allocUnsafe: slices of shared 8 KiB blocks), so a small snapshot
   * costs its bytes rather than an ArrayBuffer of its own (~0.6 KiB more per device).
   */
  private readonly snapshots = new WeakMap<object, { buf: Buffer; len: number }>();
  /** The current device's deferred pump: run before the core switches to another device, so bytes it owes leave first. */
  private pendingFlush: (() => void) | null = null;
  /** Device switches so far (for diagnostics and benchmarks). */
  switches = 0;
  /**
   * Bytes the devices served in one burst have to send, as (transport, bytes) pairs, written together once the
   * burst is over (a microtask): the socket and TLS code then run once after another while hot, not between every
   * device's switch and encoding (~15 % of the client's CPU per message for 2,000 TLS devices sending round robin).
   */
  private writes: Array<Transport | Uint8Array> = [];
  private readonly drainNow = () => this.drain();

  constructor(profile: Profile = 'gateway') {
    this.core = new Core(profile);
    if (this.core.exports.client_snapshot_capacity() < 1024) {
      throw new IotHubWasmError('CLIENT_BAD_SNAPSHOT', `the ${profile} profile cannot hold several devices; use the gateway profile`);
    }
  }

  /** One shared core per profile for the whole process. */
  static default(profile: Profile = 'gateway'): SharedCore {
    let s = SharedCore.defaults.get(profile);
    if (!s) SharedCore.defaults.set(profile, (s = new SharedCore(profile)));
    return s;
  }

  /** Makes `owner`'s device the one the core is running (a blank client if it has none yet). */
  select(owner: object): void {
    if (this.current === owner) return;
    const flush = this.pendingFlush;
    if (flush) {
      this.pendingFlush = null;
      flush(); // may itself switch (a callback serving another device): then look again
      if (this.current === owner) return;
    }
    const ex = this.core.exports;
    const ptr = ex.client_snapshot_ptr();
    if (this.current) {
      const n = ex.client_snapshot_save();
      if (n < 0) throw new IotHubWasmError(this.core.statusName(n), `cannot save a device's state: ${this.core.statusName(n)}`, n);
      const kept = this.snapshots.get(this.current);
      const fits = kept !== undefined && kept.buf.length >= n && kept.buf.length - n <= SLACK;
      const buf = fits ? kept.buf : Buffer.allocUnsafe(n);
      this.core.buf.copy(buf, 0, ptr, ptr + n);
      if (kept) { kept.buf = buf; kept.len = n; } else this.snapshots.set(this.current, { buf, len: n });
    }
    const snap = this.snapshots.get(owner);
    if (snap) {
      snap.buf.copy(this.core.buf, ptr, 0, snap.len);
      const rc = ex.client_snapshot_restore(snap.len);
      if (rc < 0) throw new IotHubWasmError(this.core.statusName(rc), `cannot restore a device's state: ${this.core.statusName(rc)}`, rc);
    } else {
      ex.client_reset();
    }
    this.current = owner;
    this.switches++;
  }

  /** Queues `bytes` for `transport`, in order with everything queued before; see `writes`. */
  write(transport: Transport, bytes: Uint8Array): void {
    if (this.writes.length === 0) queueMicrotask(this.drainNow);
    this.writes.push(transport, bytes);
  }

  /** Writes what is queued now (also before a device closes its transport: its last bytes go first). */
  drain(): void {
    const w = this.writes;
    if (w.length === 0) return;
    this.writes = [];
    for (let i = 0; i < w.length; i += 2) (w[i] as Transport).write(w[i + 1] as Uint8Array);
  }

  /** The current device has a pump pending (see DeviceClient.schedulePump): it runs before any switch away. */
  beforeSwitch(flush: () => void): void {
    this.pendingFlush = flush;
  }
}
