// encodePacket: fills the core's Packet record from an mqtt-packet-shaped object, lets the core validate and
// encode it, and copies the bytes out. The host does no MQTT framing of its own.
import { statelessCore, type Core } from '../wasm/core.js';
import { MqttProtocolError } from './errors.js';
import { F, RECORD_WORDS } from './record.js';
import { TYPES, type Packet } from './packet.js';

let shared: Encoder | undefined;
/** Binary payloads at least this large are not copied through linear memory (see encodeWithPayload). */
const DIRECT_PAYLOAD = 1024;

/** Encodes one packet; the bytes equal mqtt-packet's `generate` for protocol version 4. */
export function encodePacket(packet: Packet): Buffer {
  shared ??= new Encoder(statelessCore());
  return shared.encode(packet);
}

/**
 * Packets a little larger than Node's own buffer pool takes (4 KiB) come out of a pool of our own: a fresh
 * ArrayBuffer costs more than encoding the packet. As with Node's pool, a packet kept alive keeps its slab.
 */
const POOL_MIN = 4096;
const POOL_MAX = 17 * 1024; // a 16 KiB payload and its header
const SLAB = 128 * 1024;
let slab: Buffer | null = null;
let slabAt = 0;
function outputBuffer(size: number): Buffer {
  if (size < POOL_MIN || size > POOL_MAX) return Buffer.allocUnsafe(size);
  if (slab === null || slabAt + size > SLAB) { slab = Buffer.allocUnsafeSlow(SLAB); slabAt = 0; }
  const out = slab.subarray(slabAt, slabAt + size);
  slabAt = (slabAt + size + 7) & ~7; // 8-byte aligned, as Node's pool does
  return out;
}

function invalid(message: string): never {
  throw new MqttProtocolError('MQTT_INVALID_OBJECT', message);
}

export class Encoder {
  private readonly rec: Uint32Array;
  private at = 0;

  constructor(private readonly core: Core) {
    this.rec = new Uint32Array(core.memory.buffer, core.exports.mqtt_packet_encode_ptr(), RECORD_WORDS);
  }

  /** Copies a string (UTF-8) or bytes into the IO window; sets the (ptr, len) pair at `field`. */
  private put(field: number, value: string | Uint8Array | undefined | null, what: string): void {
    let n = 0;
    if (typeof value === 'string' || value instanceof Uint8Array) {
      n = this.core.writeIo(this.at, value);
      if (n < 0) this.tooLarge(what); // refused, never truncated
    } else if (value !== undefined && value !== null) {
      invalid(`${what} must be a string or a Buffer`);
    }
    this.rec[field] = this.at;
    this.rec[field + 1] = n;
    this.at += n;
  }

  private tooLarge(what: string): never {
    throw new MqttProtocolError('MQTT_PACKET_TOO_LARGE', `${what} does not fit this profile's ${this.core.ioCapacity}-byte buffer`);
  }

  private flag(v: unknown): number { return v ? 1 : 0; }

  private num(v: unknown, what: string, dflt = 0): number {
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) invalid(`${what} must be a non-negative integer`);
    return v;
  }

  private byte(v: unknown, what: string): number {
    const n = this.num(v, what);
    if (n > 255) invalid(`${what} must be at most 255`);
    return n;
  }

  encode(packet: Packet): Buffer {
    if (packet === null || typeof packet !== 'object') invalid('a packet must be an object');
    const type = TYPES[packet.cmd as string];
    if (type === undefined) throw new MqttProtocolError('MQTT_UNKNOWN_COMMAND', `unknown command '${String(packet.cmd)}'`);
    const rec = this.rec;
    rec.fill(0);
    this.at = this.core.io;
    rec[F.type] = type;
    const p = packet as Packet & Record<string, unknown>;
    switch (packet.cmd) {
      case 'connect': {
        const protocolId = packet.protocolId ?? 'MQTT';
        this.put(F.protocolPtr, protocolId, 'protocolId');
        rec[F.protocolLevel] = this.num(packet.protocolVersion, 'protocolVersion', 4);
        rec[F.clean] = this.flag(packet.clean ?? true);
        rec[F.keepalive] = this.num(packet.keepalive, 'keepalive');
        if (rec[F.keepalive] > 0xffff) invalid('keepalive must be at most 65535');
        if (typeof packet.clientId !== 'string') invalid('clientId must be a string');
        this.put(F.clientIdPtr, packet.clientId, 'clientId');
        if (packet.will) {
          rec[F.willFlag] = 1;
          rec[F.willQos] = this.num(packet.will.qos, 'will.qos');
          rec[F.willRetain] = this.flag(packet.will.retain);
          if (typeof packet.will.topic !== 'string') invalid('will.topic must be a string');
          this.put(F.willTopicPtr, packet.will.topic, 'will.topic');
          this.put(F.willPayloadPtr, packet.will.payload ?? '', 'will.payload');
        }
        if (packet.username !== undefined && packet.username !== null) {
          rec[F.hasUsername] = 1;
          this.put(F.usernamePtr, packet.username, 'username');
        }
        if (packet.password !== undefined && packet.password !== null) {
          rec[F.hasPassword] = 1;
          this.put(F.passwordPtr, packet.password, 'password');
        }
        break;
      }
      case 'connack':
        rec[F.sessionPresent] = this.flag(packet.sessionPresent);
        rec[F.returnCode] = this.num(packet.returnCode, 'returnCode');
        break;
      case 'publish':
        if (typeof packet.topic !== 'string') invalid('topic must be a string');
        rec[F.qos] = this.num(packet.qos, 'qos');
        rec[F.dup] = this.flag(packet.dup);
        rec[F.retain] = this.flag(packet.retain);
        rec[F.messageId] = this.num(packet.messageId, 'messageId');
        this.put(F.topicPtr, packet.topic, 'topic');
        if (packet.payload instanceof Uint8Array && packet.payload.length >= DIRECT_PAYLOAD) return this.encodeWithPayload(packet.cmd, packet.payload);
        this.put(F.payloadPtr, packet.payload ?? '', 'payload');
        break;
      case 'subscribe':
      case 'unsubscribe': {
        rec[F.messageId] = this.num(p.messageId, 'messageId');
        const list = (packet.cmd === 'subscribe' ? packet.subscriptions : packet.unsubscriptions) as unknown[];
        if (!Array.isArray(list)) invalid(`${packet.cmd === 'subscribe' ? 'subscriptions' : 'unsubscriptions'} must be an array`);
        this.putTopicList(list, packet.cmd === 'subscribe');
        break;
      }
      case 'suback': {
        rec[F.messageId] = this.num(packet.messageId, 'messageId');
        if (!Array.isArray(packet.granted)) invalid('granted must be an array');
        const codes = Uint8Array.from(packet.granted.map((g) => this.byte(g, 'granted[]')));
        this.put(F.listPtr, codes, 'granted');
        break;
      }
      case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': case 'unsuback':
        rec[F.messageId] = this.num(packet.messageId, 'messageId');
        break;
    }
    const n = this.core.exports.mqtt_packet_encode();
    if (n < 0) throw new MqttProtocolError(this.core.statusName(n), `cannot encode ${packet.cmd}: ${this.core.statusName(n)}`, n);
    const tx = this.core.exports.mqtt_tx_ptr();
    return Buffer.from(this.core.u8.subarray(tx, tx + n));
  }

  /** A large binary payload skips linear memory: the core encodes the rest, the payload is copied once. */
  private encodeWithPayload(cmd: string, payload: Uint8Array): Buffer {
    this.rec[F.payloadPtr] = 0;
    this.rec[F.payloadLen] = payload.length;
    const n = this.core.exports.mqtt_packet_encode_head();
    if (n < 0) throw new MqttProtocolError(this.core.statusName(n), `cannot encode ${cmd}: ${this.core.statusName(n)}`, n);
    const tx = this.core.exports.mqtt_tx_ptr();
    const out = outputBuffer(n + payload.length);
    this.core.buf.copy(out, 0, tx, tx + n);
    out.set(payload, n);
    return out;
  }

  /** Writes a SUBSCRIBE/UNSUBSCRIBE list in wire form (len16, topic, [qos]) for the core to validate. */
  private putTopicList(list: unknown[], withQos: boolean): void {
    const core = this.core;
    const start = this.at;
    for (const entry of list) {
      const topic = withQos ? (entry as { topic?: unknown })?.topic : entry;
      if (typeof topic !== 'string') invalid('every topic must be a string');
      const n = core.writeIo(this.at + 2, topic);
      if (n < 0 || this.at + 3 + n > core.io + core.ioCapacity) this.tooLarge('the topic list');
      if (n > 0xffff) throw new MqttProtocolError('MQTT_FIELD_TOO_LONG', 'a topic is longer than 65535 bytes');
      core.u8[this.at] = n >> 8;
      core.u8[this.at + 1] = n & 0xff;
      this.at += 2 + n;
      if (withQos) core.u8[this.at++] = this.byte((entry as { qos?: unknown }).qos, 'qos');
    }
    this.rec[F.listPtr] = start;
    this.rec[F.listLen] = this.at - start;
  }
}
