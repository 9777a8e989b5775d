// Fault injection on the device side, for tests of device resilience: what the hub is told to do wrong to one
// identity's connection. The broker consults these before it serves a publish or a twin request; LocalHub's
// delayDevice/failTwinRequests set them (expireToken and dropConnection close the connection instead).
import { identityKey, type Identity } from '../state/messages.js';

export class DeviceFaults {
  private readonly delays = new Map<string, number>();
  private readonly twinFaults = new Map<string, { count: number; status: number }>();

  /** Hold each PUBLISH from this identity for `ms` before handling it (0 ends the delay). */
  delay(identity: Identity, ms: number): void {
    if (ms > 0) this.delays.set(identityKey(identity), ms); else this.delays.delete(identityKey(identity));
  }

  /** Milliseconds to hold a PUBLISH of the identity with this key; 0 for none. */
  delayOf(key: string): number { return this.delays.get(key) ?? 0; }

  /** The next `count` twin requests of an identity are answered `status` (429: throttled). */
  failTwin(identity: Identity, count: number, status = 429): void {
    this.twinFaults.set(identityKey(identity), { count, status });
  }

  /** The status to answer this identity's twin request with instead of serving it, if a fault is pending (uses one up). */
  takeTwinFault(key: string): number | undefined {
    const f = this.twinFaults.get(key);
    if (!f || f.count <= 0) return undefined;
    if (--f.count === 0) this.twinFaults.delete(key);
    return f.status;
  }
}
