// The AMQP 1.0 framing gate between an accepted stream and rhea. rhea buffers whatever frame size a peer claims (a
// 2 GB header is buffered until it arrives) and keeps every frame of a multi-frame transfer; the gate reads only
// protocol headers, 4-byte frame sizes and the few leading bytes of a frame, forwards the bytes unchanged as they
// arrive, and stops the connection at the first frame that breaks a limit, before its body is buffered anywhere.
// Rules (AMQP 1.0): §2.2 protocol header `AMQP` id 1.0.0 (id 3 SASL, then id 0 AMQP); §2.3.1 a frame is at least its
// 8-byte header, data offset >= 2; §5.3.1 SASL frames are at most 512 bytes (MIN-MAX-FRAME-SIZE); §2.4.1 until
// `open` is exchanged at most 512 bytes, and `open` is the first frame; after it, the max-frame-size we advertised.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

/** MIN-MAX-FRAME-SIZE (§2.7.1): the frame size every peer must accept, and the most before `open`. */
export const MIN_MAX_FRAME_SIZE = 512;

export interface GateLimits {
  /** The max-frame-size the container advertises in `open`. */
  maxFrameSize: number;
  /** Bytes of one delivery (all its transfer frames). */
  maxMessageBytes: number;
  /** Bytes of all incomplete deliveries on the connection together. */
  maxIncompleteBytes: number;
  /** Bytes written to the peer and not yet taken by it, above which the gate stops reading from the peer. */
  maxPendingOutput: number;
}

export interface GateOptions {
  limits: GateLimits;
  /** Called once, with the rule the peer broke and the AMQP error condition for it; the gate then stops. */
  onViolation: (rule: string, condition: string) => void;
  /** Runs rhea's handling of a chunk (the service wraps it, e.g. to keep rhea's console output out of the log). */
  deliver?: (run: () => void) => void;
}

type Phase = 'sasl' | 'before-open' | 'open';
type Step = 'header' | 'size' | 'head' | 'body';

const HEADER = Buffer.from('AMQP');
/** Bytes of a transfer's performative the gate reads after the extended header: descriptor, list header and the
 * fields up to `more` (handle, delivery-id, a delivery-tag of at most 32 bytes, format, settled) fit easily. */
const TRANSFER_HEAD = 96;
const PERF_OPEN = 0x10, PERF_TRANSFER = 0x14, PERF_DETACH = 0x16, PERF_END = 0x17;

/**
 * Looks like the socket rhea expects (`on('data'|'error'|'end')`, `write`, `end`, `destroy`) and forwards to the
 * real stream; data reaches rhea synchronously from `deliver`, so the service knows which connection rhea is reading.
 */
export class AmqpGate extends EventEmitter {
  private phase: Phase = 'sasl';
  private step: Step = 'header';
  /** The bytes of the unit being read: a protocol header, a frame size, or a frame's leading bytes (small). */
  private acc: Buffer[] = [];
  private accLen = 0;
  private want = 8;
  private frameSize = 0;
  private bodyLeft = 0;
  private afterSasl = false;
  private stopped = false;
  private ended = false;
  private paused = false;
  private killTimer: NodeJS.Timeout | null = null;
  /** Bytes so far of each incomplete delivery, by `channel:handle`. */
  private readonly incomplete = new Map<string, number>();
  private incompleteTotal = 0;
  private readonly limits: GateLimits;
  private readonly deliver: (run: () => void) => void;

  constructor(readonly stream: Duplex, private readonly opts: GateOptions) {
    super();
    this.limits = opts.limits;
    this.deliver = opts.deliver ?? ((run) => run());
    stream.on('data', (chunk: Buffer) => this.input(chunk));
    stream.on('end', () => this.finish());
    stream.on('close', () => { this.clearKill(); this.finish(); });
    stream.on('error', (e: Error) => { if (!this.ended) { this.ended = true; this.emit('error', e); } });
    stream.on('drain', () => this.resume());
  }

  /** True once the peer's `open` frame has passed. */
  get opened(): boolean { return this.phase === 'open'; }

  // --- what rhea calls --------------------------------------------------------------------------------------------

  write(data: Buffer): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false;
    const ok = this.stream.write(data);
    if (this.stream.writableLength > this.limits.maxPendingOutput) this.pause();
    return ok;
  }

  end(): void {
    if (!this.stream.writableEnded) this.stream.end();
    this.armKill();
  }

  destroy(): void { this.stream.destroy(); }

  setNoDelay(on = true): void { (this.stream as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(on); }

  get_id_string(): string { return 'gated stream'; }

  /** Whether the peer is not taking what we write (the service then stops sending it more). */
  get congested(): boolean { return this.stream.writableLength > this.limits.maxPendingOutput; }

  /** Stops the connection: no more input reaches rhea, the stream is ended and destroyed shortly after. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.acc = [];
    this.stream.pause();
    // after the service's close frame (rhea writes it on the next tick) has been handed to the stream
    setImmediate(() => this.end());
  }

  // --- reading ----------------------------------------------------------------------------------------------------

  private input(chunk: Buffer): void {
    if (this.stopped) return;
    const rule = this.scan(chunk);
    if (rule) {
      this.opts.onViolation(rule, /message of more than/.test(rule) ? 'amqp:link:message-size-exceeded'
        : /incomplete messages/.test(rule) ? 'amqp:resource-limit-exceeded' : 'amqp:connection:framing-error');
      this.stop();
      return;
    }
    this.deliver(() => this.emit('data', chunk));
  }

  /** Walks the chunk through the framing state machine; returns the broken rule, if any. */
  private scan(chunk: Buffer): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.step === 'body') {
        const n = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= n;
        i += n;
        if (this.bodyLeft === 0) this.next('size', 4);
        continue;
      }
      const n = Math.min(this.want - this.accLen, chunk.length - i);
      this.acc.push(chunk.subarray(i, i + n));
      this.accLen += n;
      i += n;
      if (this.accLen < this.want) break;
      const unit = this.acc.length === 1 ? this.acc[0]! : Buffer.concat(this.acc, this.accLen);
      this.acc = [unit];
      const rule = this.step === 'header' ? this.onHeader(unit) : this.step === 'size' ? this.onSize(unit) : this.onHead(unit);
      if (rule) return rule;
    }
    return undefined;
  }

  private next(step: Step, want: number): void {
    this.step = step;
    this.want = want;
    this.acc = [];
    this.accLen = 0;
  }

  private onHeader(h: Buffer): string | undefined {
    if (!h.subarray(0, 4).equals(HEADER)) return 'not an AMQP protocol header (AMQP 1.0 §2.2)';
    const id = h[4]!;
    if (h[5] !== 1 || h[6] !== 0 || h[7] !== 0) return `unsupported AMQP version ${h[5]}.${h[6]}.${h[7]} (AMQP 1.0 §2.2: 1.0.0)`;
    if (id === 3 && !this.afterSasl) this.phase = 'sasl';
    else if (id === 0) this.phase = 'before-open';
    else return `protocol id ${id} is not ${this.afterSasl ? 'AMQP (0) after SASL' : 'SASL (3) or AMQP (0)'} (AMQP 1.0 §2.2, §5.3)`;
    this.next('size', 4);
    return undefined;
  }

  private onSize(s: Buffer): string | undefined {
    if (this.phase === 'sasl' && s.equals(HEADER)) {
      // the SASL exchange is over: the AMQP protocol header follows (a frame size cannot be 'AMQP', > 512)
      this.afterSasl = true;
      this.step = 'header';
      this.want = 8;
      return undefined;
    }
    const size = s.readUInt32BE(0);
    if (size < 8) return `frame size ${size} is below the 8-byte frame header (AMQP 1.0 §2.3.1)`;
    const limit = this.phase === 'open' ? this.limits.maxFrameSize : MIN_MAX_FRAME_SIZE;
    if (size > limit) {
      return this.phase === 'open'
        ? `frame of ${size} bytes exceeds the negotiated max-frame-size ${limit} (AMQP 1.0 §2.4.1)`
        : `frame of ${size} bytes ${this.phase === 'sasl' ? 'during SASL' : 'before open'} exceeds MIN-MAX-FRAME-SIZE ${MIN_MAX_FRAME_SIZE} (AMQP 1.0 §${this.phase === 'sasl' ? '5.3.1' : '2.4.1'})`;
    }
    this.frameSize = size;
    this.step = 'head';
    this.want = Math.min(size, 8);
    return undefined;
  }

  private onHead(f: Buffer): string | undefined {
    const doff = f[4]!;
    if (doff < 2 || doff * 4 > this.frameSize) return `data offset ${doff} is outside the frame (AMQP 1.0 §2.3.1)`;
    const body = doff * 4;
    // read as far as the performative's leading fields, then let the rest pass
    const wanted = this.phase === 'sasl' || this.frameSize === body ? 8 : Math.min(this.frameSize, body + TRANSFER_HEAD);
    if (f.length < wanted) { this.want = wanted; return undefined; }
    if (this.phase !== 'sasl' && this.frameSize > body) {
      const rule = this.onPerformative(f, body);
      if (rule) return rule;
    }
    this.bodyLeft = this.frameSize - f.length;
    if (this.bodyLeft === 0) this.next('size', 4);
    else { this.step = 'body'; this.acc = []; this.accLen = 0; }
    return undefined;
  }

  private onPerformative(f: Buffer, at: number): string | undefined {
    const r = new Peek(f, at);
    const code = r.descriptor();
    if (this.phase === 'before-open') {
      if (code !== PERF_OPEN) return 'the first AMQP frame is not open (AMQP 1.0 §2.4.1)';
      this.phase = 'open';
      return undefined;
    }
    if (f[5] !== 0 || (code !== PERF_TRANSFER && code !== PERF_DETACH && code !== PERF_END)) return undefined;
    const channel = f.readUInt16BE(6);
    if (code === PERF_END) { for (const k of [...this.incomplete.keys()]) if (k.startsWith(`${channel}:`)) this.settle(k); return undefined; }
    // transfer: handle … more (index 5) must be readable; aborted (index 9) is read when the head holds it
    const fields = code === PERF_TRANSFER ? r.listFields(10, 6) : r.listFields(1, 1);
    if (fields === undefined) {
      return code === PERF_TRANSFER && f.length < this.frameSize ? `transfer performative longer than ${TRANSFER_HEAD} bytes (AMQP 1.0 §2.7.5: delivery-tag at most 32 bytes)` : undefined;
    }
    const handle = fields[0];
    if (typeof handle !== 'number') return undefined; // rhea refuses it
    const key = `${channel}:${handle}`;
    if (code === PERF_DETACH) { this.settle(key); return undefined; }
    const total = (this.incomplete.get(key) ?? 0) + this.frameSize;
    if (total > this.limits.maxMessageBytes) return `a message of more than ${this.limits.maxMessageBytes} bytes (split over transfers) on link handle ${handle}`;
    const more = fields[5] === true && fields[9] !== true;
    this.settle(key);
    if (more) {
      if (this.incompleteTotal + total > this.limits.maxIncompleteBytes) return `incomplete messages on the connection exceed ${this.limits.maxIncompleteBytes} bytes`;
      this.incomplete.set(key, total);
      this.incompleteTotal += total;
    }
    return undefined;
  }

  private settle(key: string): void {
    const n = this.incomplete.get(key);
    if (n === undefined) return;
    this.incomplete.delete(key);
    this.incompleteTotal -= n;
  }

  private pause(): void {
    if (this.paused || this.stopped) return;
    this.paused = true;
    this.stream.pause();
  }

  private resume(): void {
    if (!this.paused || this.stopped) return;
    this.paused = false;
    this.stream.resume();
    this.emit('writable');
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end');
  }

  /** A peer that does not read keeps the stream from finishing: destroy it after a grace period. */
  private armKill(): void {
    if (this.killTimer || this.stream.destroyed) return;
    this.killTimer = setTimeout(() => this.stream.destroy(), 1000);
    this.killTimer.unref();
    this.stream.once('finish', () => { this.clearKill(); this.stream.destroy(); });
  }

  private clearKill(): void {
    if (this.killTimer) { clearTimeout(this.killTimer); this.killTimer = null; }
  }
}

/** Reads the AMQP type-encoded values at the start of a performative (§1.6), without decoding what it skips. */
class Peek {
  constructor(private readonly b: Buffer, private at: number) {}

  /** The performative's descriptor code, or -1. */
  descriptor(): number {
    const b = this.b;
    if (b[this.at] !== 0x00) return -1;
    const t = b[this.at + 1];
    if (t === 0x53 && this.at + 2 < b.length) { this.at += 3; return b[this.at - 1]!; }
    if (t === 0x80 && this.at + 10 <= b.length) {
      const hi = b.readUInt32BE(this.at + 2), lo = b.readUInt32BE(this.at + 6);
      this.at += 10;
      return hi === 0 ? lo : -1;
    }
    return -1;
  }

  /** Up to `n` leading fields of the list that follows (numbers, booleans, null; other types as 'other'), or
   *  undefined when the bytes end before `need` of them. Fields the list does not have are its defaults (absent). */
  listFields(n: number, need: number): (number | boolean | null | undefined | 'other')[] | undefined {
    const b = this.b;
    const t = b[this.at];
    let count: number;
    if (t === 0x45) return [];
    if (t === 0xc0) { if (this.at + 3 > b.length) return undefined; count = b[this.at + 2]!; this.at += 3; }
    else if (t === 0xd0) { if (this.at + 9 > b.length) return undefined; count = b.readUInt32BE(this.at + 5); this.at += 9; }
    else return undefined;
    const out: (number | boolean | null | undefined | 'other')[] = [];
    for (let i = 0; i < Math.min(n, count); i++) {
      const v = this.value();
      if (v === undefined) return out.length >= need ? out : undefined;
      out.push(v);
    }
    return out;
  }

  private value(): number | boolean | null | 'other' | undefined {
    const b = this.b;
    if (this.at >= b.length) return undefined;
    const t = b[this.at++]!;
    const need = (k: number) => this.at + k <= b.length;
    switch (t) {
      case 0x40: return null;
      case 0x41: return true;
      case 0x42: return false;
      case 0x56: if (!need(1)) return undefined; return b[this.at++] === 1;
      case 0x43: case 0x44: return 0;
      case 0x52: case 0x53: if (!need(1)) return undefined; return b[this.at++]!;
      case 0x70: if (!need(4)) return undefined; this.at += 4; return b.readUInt32BE(this.at - 4);
      case 0x00: { // described: skip descriptor and value
        const d = this.value();
        if (d === undefined) return undefined;
        return this.value() === undefined ? undefined : 'other';
      }
    }
    // any other type: skip by its width category (§1.6, the high nibble of the constructor)
    const hi = t >> 4;
    const fixed: Record<number, number> = { 0x4: 0, 0x5: 1, 0x6: 2, 0x7: 4, 0x8: 8, 0x9: 16 };
    if (hi in fixed) { if (!need(fixed[hi]!)) return undefined; this.at += fixed[hi]!; return 'other'; }
    if (hi === 0xa || hi === 0xc || hi === 0xe) { if (!need(1)) return undefined; const len = b[this.at]!; if (!need(1 + len)) return undefined; this.at += 1 + len; return 'other'; }
    if (hi === 0xb || hi === 0xd || hi === 0xf) { if (!need(4)) return undefined; const len = b.readUInt32BE(this.at); if (!need(4 + len)) return undefined; this.at += 4 + len; return 'other'; }
    return undefined;
  }
}
