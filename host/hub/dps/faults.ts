// Fault injection on the local DPS, for tests of a device's provisioning retry: the next requests (register or
// operation status) of one registration, or of every registration, are answered with a status (429: throttled) and
// a `retry-after`, instead of being served.
export type DpsRequestKind = 'register' | 'status';

interface Fault { count: number; status: number; retryAfterSeconds: number | undefined; on: DpsRequestKind | undefined }

const ANY = '\u0000any';

export class DpsFaults {
  private readonly pending = new Map<string, Fault>();

  /** The next `count` requests (of kind `on`, or any) of `registrationId` (all registrations when undefined) get `status`. */
  fail(count: number, status: number, retryAfterSeconds: number | undefined, registrationId?: string, on?: DpsRequestKind): void {
    const key = registrationId === undefined ? ANY : registrationId.toLowerCase();
    if (count > 0) this.pending.set(key, { count, status, retryAfterSeconds, on }); else this.pending.delete(key);
  }

  /** The fault to answer this registration's request with, if one is pending (uses one up). */
  take(registrationId: string, kind: DpsRequestKind): { status: number; retryAfterSeconds: number | undefined } | undefined {
    for (const key of [registrationId.toLowerCase(), ANY]) {
      const f = this.pending.get(key);
      if (!f || (f.on !== undefined && f.on !== kind)) continue;
      if (--f.count <= 0) this.pending.delete(key);
      return { status: f.status, retryAfterSeconds: f.retryAfterSeconds };
    }
    return undefined;
  }
}
