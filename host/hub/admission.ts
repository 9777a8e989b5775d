// Admission of TCP connections on one MQTT listener: a deadline from accept (TLS handshake, WebSocket upgrade and
// CONNECT included) to CONNACK, and a cap on connections still waiting for it. At the cap the oldest waiting
// connection is closed to make room, so idle sockets held by someone else cannot keep real devices out.
import type { Socket } from 'node:net';

export interface AdmissionOptions {
  /** Names the listener in log lines. */
  name: string;
  /** Milliseconds from accept to CONNACK. */
  deadlineMs: number;
  /** Connections that may wait for CONNACK at once. */
  maxPending: number;
  log: (line: string) => void;
}

interface Pending { socket: Socket; timer: NodeJS.Timeout }

/** Keyed by the peer's address and port, which a TLS socket shares with the TCP socket it wraps. */
export function peerKey(s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${s.remoteAddress ?? '?'}|${s.remotePort ?? 0}`;
}

export class Admission {
  private readonly pending = new Map<string, Pending>(); // insertion order: oldest first
  private readonly o: AdmissionOptions;

  constructor(o: AdmissionOptions) { this.o = o; }

  /** Connections waiting for CONNACK now. */
  get size(): number { return this.pending.size; }

  /** A TCP connection was accepted (at `acceptedAt`, default now): it has deadlineMs from then to be admitted. */
  accepted(socket: Socket, acceptedAt = Date.now()): void {
    const key = peerKey(socket);
    if (this.pending.size >= this.o.maxPending) {
      const [oldestKey, oldest] = this.pending.entries().next().value as [string, Pending];
      this.o.log(`${this.o.name}: ${this.o.maxPending} connections wait for CONNACK; closing the oldest (${oldestKey.replace('|', ':')})`);
      this.settle(oldestKey);
      oldest.socket.destroy();
    }
    const timer = setTimeout(() => {
      if (this.pending.get(key)?.socket !== socket) return;
      this.settle(key);
      this.o.log(`${this.o.name}: closed ${key.replace('|', ':')}: no CONNACK within ${this.o.deadlineMs} ms of accept`);
      socket.destroy();
    }, Math.max(0, acceptedAt + this.o.deadlineMs - Date.now()));
    timer.unref();
    this.pending.set(key, { socket, timer });
    socket.once('close', () => { if (this.pending.get(key)?.socket === socket) this.settle(key); });
  }

  /** CONNACK 0 was sent on the connection from this peer: it is no longer waiting. */
  admitted(key: string): void { this.settle(key); }

  private settle(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(key);
  }

  close(): void {
    for (const key of [...this.pending.keys()]) this.settle(key);
  }
}
