// The dashboard's recent log of refusals: what the hub turned away (a CONNECT refused, a connection it closed for a
// broken rule, a provisioning request refused, a dashboard sign-in refused), newest last, at most RECENT_REFUSALS.
import { EventEmitter } from 'node:events';

export const RECENT_REFUSALS = 200;
/** A refusal's text is the hub's reason or a client's id: bounded so that a hostile client id cannot fill memory. */
const TEXT_MAX = 512;

export interface Refusal {
  /** Increases by one per refusal while the hub runs. */
  n: number;
  at: string;
  /** Where it happened: `mqtt` (CONNECT), `connection` (closed by the hub), `dps`, `dashboard`. */
  surface: 'mqtt' | 'connection' | 'dps' | 'dashboard';
  /** Who: a client id, an identity (`dev`, `dev/mod`) or a peer address. */
  who: string;
  reason: string;
}

const clip = (s: string) => (s.length > TEXT_MAX ? `${s.slice(0, TEXT_MAX)}…` : s);

export class RefusalLog extends EventEmitter<{ added: [Refusal] }> {
  private readonly ring: Refusal[] = [];
  private next = 1;

  add(surface: Refusal['surface'], who: string, reason: string): void {
    const r: Refusal = { n: this.next++, at: new Date().toISOString(), surface, who: clip(String(who)), reason: clip(String(reason)) };
    this.ring.push(r);
    if (this.ring.length > RECENT_REFUSALS) this.ring.shift();
    this.emit('added', r);
  }

  /** Newest first. */
  list(): Refusal[] { return [...this.ring].reverse(); }
}
