// PacketDecoder: a streaming MQTT decoder. Chunks of any size go in; mqtt-packet-shaped packets come out, exactly
// as if every packet had arrived whole. Every decoder of a profile shares one instance of the core (one module
// memory for a thousand decoders): the core decodes for whichever decoder pushed last, and a decoder keeps only
// the bytes of a packet not yet complete (and whether its stream failed) while another one has the core.
import { Core, type Profile } from '../wasm/core.js';
import { MqttProtocolError } from './errors.js';
import { F, RECORD_WORDS } from './record.js';
import { COMMANDS, type Packet } from './packet.js';

/** One core per profile for every decoder, and which decoder's stream it holds now. */
class DecoderCore {
  readonly core: Core;
  readonly rec: Uint32Array;
  owner: PacketDecoder | null = null;
  constructor(profile: Profile | undefined) {
    // The MCU device build exports no codec: its codec face is the MCU profile built with every export.
    this.core = new Core(profile === 'mcu' ? 'mcu-full' : 'gateway');
    this.rec = new Uint32Array(this.core.memory.buffer, this.core.exports.mqtt_packet_decoded_ptr(), RECORD_WORDS);
  }
}
const cores = new Map<string, DecoderCore>();
function decoderCore(profile: Profile | undefined): DecoderCore {
  const key = profile === 'mcu' ? 'mcu' : 'gateway';
  let c = cores.get(key);
  if (!c) cores.set(key, (c = new DecoderCore(profile)));
  return c;
}

export class PacketDecoder {
  private readonly shared: DecoderCore;
  private readonly core: Core;
  private readonly rec: Uint32Array;
  /** While another decoder has the core: the bytes of this stream's incomplete packet, and its failure (0: none). */
  private held: Buffer | null = null;
  private failure = 0;
  // Where the piece of the current chunk sits in the receive buffer, so that a payload lying wholly inside it
  // is returned as a view of the caller's chunk (as mqtt-packet does) instead of a copy.
  private chunk: Uint8Array | null = null;
  private chunkAt = 0;
  private windowAt = 0;
  private windowLen = 0;

  constructor(options: { profile?: Profile } = {}) {
    this.shared = decoderCore(options.profile);
    this.core = this.shared.core;
    this.rec = this.shared.rec;
  }

  /** Makes the shared core hold this decoder's stream (the previous holder keeps its pending bytes itself). */
  private take(): void {
    const s = this.shared;
    if (s.owner === this) return;
    const ex = this.core.exports;
    s.owner?.release();
    ex.mqtt_rx_reset();
    s.owner = this;
    const held = this.held;
    this.held = null;
    if (held) {
      const win = ex.mqtt_rx_window();
      this.core.u8.set(held, win);
      ex.mqtt_rx_commit(held.length);
    }
  }

  /** Another decoder takes the core: keep the bytes of the incomplete packet (the failure is kept as it happens). */
  private release(): void {
    const ex = this.core.exports;
    const n = ex.mqtt_rx_pending();
    if (n > 0 && this.failure === 0) {
      const end = ex.mqtt_rx_window(); // moves the pending bytes to the front: they end where the window begins
      this.held = Buffer.from(this.core.u8.slice(end - n, end).buffer);
    }
  }

  /** The largest packet this decoder accepts (header included). */
  get maxPacketSize(): number { return this.core.exports.mqtt_rx_capacity(); }

  /**
   * Feeds received bytes; returns the packets they completed, in order. Like mqtt-packet, a payload that lies
   * wholly inside `chunk` is a view of it (no copy): copy it if you reuse the chunk's memory. A malformed packet throws
   * MqttProtocolError (its `packets` holds those decoded before it); the stream then stays refused until reset().
   */
  push(chunk: Uint8Array): Packet[] {
    const out: Packet[] = [];
    if (this.failure !== 0) throw this.refused(this.failure, out);
    this.take();
    const ex = this.core.exports;
    let off = 0;
    this.chunk = null;
    for (;;) {
      let t: number;
      while ((t = ex.mqtt_packet_decode_next()) > 0) out.push(this.read(t));
      if (t < 0) {
        this.failure = t;
        throw this.refused(t, out);
      }
      if (off >= chunk.length) return out;
      const win = ex.mqtt_rx_window();
      const n = Math.min(ex.mqtt_rx_space(), chunk.length - off);
      // Cannot happen (oversized packets are refused from their header), but never spin.
      if (n <= 0) throw new MqttProtocolError('MQTT_PACKET_TOO_LARGE', 'receive buffer full');
      this.core.u8.set(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n), win);
      ex.mqtt_rx_commit(n);
      this.chunk = chunk;
      this.chunkAt = off;
      this.windowAt = win;
      this.windowLen = n;
      off += n;
    }
  }

  /** Forgets buffered bytes and a previous failure (a new connection). */
  reset(): void {
    this.held = null;
    this.failure = 0;
    if (this.shared.owner === this) this.core.exports.mqtt_rx_reset();
  }

  private refused(t: number, packets: Packet[]): MqttProtocolError {
    const err = new MqttProtocolError(this.core.statusName(t), `malformed MQTT stream: ${this.core.statusName(t)}`, t);
    err.packets = packets;
    return err;
  }

  private str(ptrField: number): string {
    const ptr = this.rec[ptrField];
    return this.core.buf.toString('utf8', ptr, ptr + this.rec[ptrField + 1]);
  }

  private bytes(ptrField: number): Buffer {
    const ptr = this.rec[ptrField];
    const len = this.rec[ptrField + 1];
    const c = this.chunk;
    if (c !== null && ptr >= this.windowAt && ptr + len <= this.windowAt + this.windowLen) {
      return Buffer.from(c.buffer, c.byteOffset + this.chunkAt + (ptr - this.windowAt), len);
    }
    return Buffer.from(this.core.u8.subarray(ptr, ptr + len));
  }

  private read(type: number): Packet {
    const r = this.rec;
    const cmd = COMMANDS[type]!;
    if (cmd === 'publish') {
      const p: Record<string, unknown> = {
        cmd, retain: r[F.retain] === 1, qos: r[F.qos], dup: r[F.dup] === 1, length: r[F.length],
        topic: this.str(F.topicPtr), payload: this.bytes(F.payloadPtr),
      };
      if (r[F.qos] > 0) p.messageId = r[F.messageId];
      return p as unknown as Packet;
    }
    const p: Record<string, unknown> = {
      cmd, retain: false, qos: r[F.qos], dup: false, length: r[F.length], topic: null, payload: null,
    };
    switch (cmd) {
      case 'connect': {
        p.protocolId = this.str(F.protocolPtr);
        p.protocolVersion = r[F.protocolLevel];
        if (r[F.willFlag]) {
          p.will = { retain: r[F.willRetain] === 1, qos: r[F.willQos], topic: this.str(F.willTopicPtr), payload: this.bytes(F.willPayloadPtr) };
        }
        p.clean = r[F.clean] === 1;
        p.keepalive = r[F.keepalive];
        p.clientId = this.str(F.clientIdPtr);
        if (r[F.hasUsername]) p.username = this.str(F.usernamePtr);
        if (r[F.hasPassword]) p.password = this.bytes(F.passwordPtr);
        break;
      }
      case 'connack':
        p.sessionPresent = r[F.sessionPresent] === 1;
        p.returnCode = r[F.returnCode];
        break;
      case 'subscribe':
      case 'unsubscribe': {
        // The core validated the list; walk its wire form (len16, topic, [options]).
        const u8 = this.core.u8;
        const list: unknown[] = [];
        let q = r[F.listPtr];
        const end = q + r[F.listLen];
        while (q < end) {
          const n = (u8[q] << 8) | u8[q + 1];
          const topic = this.core.buf.toString('utf8', q + 2, q + 2 + n);
          q += 2 + n;
          if (cmd === 'subscribe') list.push({ topic, qos: u8[q++] });
          else list.push(topic);
        }
        if (cmd === 'subscribe') p.subscriptions = list;
        else p.unsubscriptions = list;
        p.messageId = r[F.messageId];
        break;
      }
      case 'suback':
        p.granted = Array.from(this.core.u8.subarray(r[F.listPtr], r[F.listPtr] + r[F.listLen]));
        p.messageId = r[F.messageId];
        break;
      case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': case 'unsuback':
        p.messageId = r[F.messageId];
        break;
    }
    return p as unknown as Packet;
  }
}
