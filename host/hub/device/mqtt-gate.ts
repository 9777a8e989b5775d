// MQTT framing gate: a pass-through Duplex between an accepted stream and aedes that reads only fixed headers
// (type byte + remaining-length varint) and closes the connection before an oversized body is buffered. aedes's
// parser (mqtt-packet) accumulates a whole packet whatever its announced length, so the bound has to sit in front of it.
import { Duplex } from 'node:stream';
import type { PeerCertificate } from 'node:tls';

/**
 * The largest CONNECT the hub reads before authentication, fixed header included: 16 KiB. An IoT Hub CONNECT is
 * 10 bytes of variable header, a client id of ≤ 257 characters, a username `{host}/{device}/{module}/?api-version=…`
 * (≤ ~1 KiB with the SDK's DeviceClientType and model id), a SAS token password (≤ ~1.5 KiB: `sr` is the
 * URL-encoded resource, a 44-character signature, `se`, `skn`) and an optional will (topic + payload): ≈ 3 KiB
 * without a will, which leaves ~12 KiB for one. Allowing a 256 KiB will before authentication would let every
 * unauthenticated socket hold 256 KiB.
 */
export const MQTT_CONNECT_MAX_BYTES = 16 * 1024;

export interface GateOptions {
  /** Bytes a peer may send before CONNACK, all packets together (the first must be CONNECT). */
  maxConnectBytes?: number;
  /** Remaining length of any packet after CONNACK (the broker's MQTT_PACKET_MAX_BYTES). */
  maxPacketBytes: number;
  /** Names the peer in log lines (address, transport): never the bytes it sent. */
  peer: string;
  log: (line: string) => void;
  /** Where the TLS client certificate is, when not on the stream itself (the TLS socket under a WebSocket). */
  certificateFrom?: Duplex;
}

const enum State { Type, Length, Body }
const MQTT_CONNECT = 1;

/** Wraps a stream; aedes gets the gate, the gate forwards chunks unchanged (no copies) while they keep the rules. */
export class MqttGate extends Duplex {
  /** Set by the hub (the transport name the broker logs). */
  _hubTransport?: string;
  /** The TLS client certificate, when the wrapped stream is a TLS socket (X.509 devices). */
  getPeerCertificate?: (detailed?: boolean) => PeerCertificate;
  private readonly inner: Duplex;
  private readonly maxConnect: number;
  private readonly maxPacket: number;
  private readonly peer: string;
  private readonly log: (line: string) => void;
  private admitted = false;
  private seen = 0; // bytes before CONNACK
  private packets = 0;
  private state = State.Type;
  private type = 0;
  private length = 0;
  private shift = 0;
  private lengthBytes = 0;
  private body = 0; // body bytes still to skip
  private onAdmit: (() => void) | undefined;
  private sent = 0; // bytes of the first outgoing packet (the CONNACK) looked at so far

  constructor(inner: Duplex, o: GateOptions) {
    super({ allowHalfOpen: false });
    this.inner = inner;
    this.maxConnect = o.maxConnectBytes ?? MQTT_CONNECT_MAX_BYTES;
    this.maxPacket = o.maxPacketBytes;
    this.peer = o.peer;
    this.log = o.log;
    // the TLS socket: the stream itself, or the one under a WebSocket
    const tls = (o.certificateFrom ?? inner) as Duplex & { getPeerCertificate?: (d?: boolean) => PeerCertificate };
    if (typeof tls.getPeerCertificate === 'function') this.getPeerCertificate = (d) => tls.getPeerCertificate!(d);
    inner.on('data', this.onData);
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => { if (!this.destroyed) this.destroy(); });
    inner.resume();
  }

  /**
   * CONNACK 0 is being sent: from now on IoT Hub's packet limit applies instead of the CONNECT bound. Seen in the
   * outgoing bytes, before they reach the peer, so that its first PUBLISH always meets the new limit (aedes's
   * `connackSent` event comes after the write has flushed, when the device may already have answered).
   */
  private admit(): void {
    if (this.admitted) return;
    this.admitted = true;
    const f = this.onAdmit;
    this.onAdmit = undefined;
    f?.();
  }

  /** Called once, when the connection is admitted (the hub's connect deadline ends there). */
  onAdmitted(f: () => void): void { this.onAdmit = f; }

  private readonly onData = (chunk: Buffer) => {
    if (this.destroyed) return;
    const why = this.scan(chunk);
    if (why) {
      this.log(`closed the MQTT connection of ${this.peer}: ${why}`);
      this.inner.destroy();
      this.destroy();
      return;
    }
    if (!this.push(chunk)) this.inner.pause();
  };

  /** Walks the fixed headers in a chunk, skipping bodies by count; returns the rule broken, if any. */
  private scan(chunk: Buffer): string | undefined {
    if (!this.admitted) {
      this.seen += chunk.length;
      if (this.seen > this.maxConnect) return `${this.seen} bytes before CONNACK exceed the ${this.maxConnect}-byte CONNECT bound`;
    }
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Body: {
          const take = Math.min(this.body, n - i);
          this.body -= take;
          i += take;
          if (this.body === 0) this.state = State.Type;
          break;
        }
        case State.Type: {
          this.type = chunk[i++]! >> 4;
          if (this.packets++ === 0 && this.type !== MQTT_CONNECT) return `first packet is of type ${this.type}, not CONNECT`;
          this.length = 0; this.shift = 0; this.lengthBytes = 0;
          this.state = State.Length;
          break;
        }
        case State.Length: {
          const b = chunk[i++]!;
          this.length += (b & 0x7f) * 2 ** this.shift;
          this.shift += 7;
          if (b & 0x80) {
            if (++this.lengthBytes >= 4) return 'malformed remaining length (more than 4 bytes)';
            break;
          }
          const limit = this.admitted ? this.maxPacket : this.maxConnect;
          if (this.length > limit) {
            return `packet of type ${this.type} announces ${this.length} bytes, over the ${limit}-byte ${this.admitted ? 'packet limit' : 'CONNECT bound (before authentication)'}`;
          }
          this.body = this.length;
          this.state = this.length === 0 ? State.Type : State.Body;
          break;
        }
      }
    }
    return undefined;
  }

  override _read(): void {
    if (this.inner.isPaused()) this.inner.resume();
  }

  /** The first packet the broker sends is its CONNACK (0x20 0x02 flags code): code 0 admits the connection. */
  private watchConnack(chunk: Buffer): void {
    for (let i = 0; i < chunk.length && this.sent < 4; i++, this.sent++) {
      const b = chunk[i]!;
      if ((this.sent === 0 && b !== 0x20) || (this.sent === 1 && b !== 0x02)) { this.sent = 4; return; }
      if (this.sent === 3 && b === 0) this.admit();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.sent < 4) this.watchConnack(chunk);
    if (this.inner.write(chunk)) cb(); else this.waitDrain(cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.inner.cork();
    let ok = true;
    for (const c of chunks) {
      if (this.sent < 4) this.watchConnack(c.chunk);
      ok = this.inner.write(c.chunk);
    }
    this.inner.uncork();
    if (ok) cb(); else this.waitDrain(cb);
  }

  private waitDrain(cb: (err?: Error | null) => void): void {
    const done = () => { this.inner.off('drain', done); this.inner.off('close', done); cb(); };
    this.inner.on('drain', done);
    this.inner.on('close', done);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner.off('data', this.onData);
    if (!this.inner.destroyed) this.inner.destroy();
    cb(err);
  }
}
