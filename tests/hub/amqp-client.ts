// A small promise wrapper over a plain rhea client, written from IoT Hub's documented AMQP flows (not from an SDK).
import rhea from 'rhea';
import type { Connection, ConnectionOptions, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';

/** `SharedAccessSignature sr=…&sig=…&se=…&skn=…` signed with the base64-decoded key (IoT Hub style) or its UTF-8 bytes. */
export function policySas(resource: string, key: string, keyName: string, expiry: number, keyBytes: 'base64' | 'utf8' = 'base64'): string {
  const sr = encodeURIComponent(resource);
  const sig = createHmac('sha256', Buffer.from(key, keyBytes)).update(`${sr}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=${encodeURIComponent(keyName)}`;
}

export interface Outcome { state: 'accepted' | 'rejected' | 'released' | 'modified'; condition?: string; description?: string }

export class AmqpClient {
  private constructor(readonly connection: Connection) {}

  static open(opts: ConnectionOptions & { ca: string; port: number }): Promise<AmqpClient> {
    const container = rhea.create_container();
    const c = container.connect({ host: 'localhost', hostname: 'localhost', transport: 'tls', reconnect: false, ...opts } as ConnectionOptions);
    return new Promise((resolve, reject) => {
      c.once('connection_open', () => resolve(new AmqpClient(c)));
      c.once('connection_error', (ctx: EventContext) => reject(new Error(`connection_error: ${String((ctx.connection.error as { condition?: string } | undefined)?.condition ?? ctx.connection.error)}`)));
      c.once('disconnected', (ctx: EventContext) => reject(new Error(`disconnected: ${(ctx as { error?: Error }).error?.message ?? 'closed'}`)));
      c.on('error', () => {});
    });
  }

  sender(target: string): Promise<Sender> {
    const s = this.connection.open_sender({ target: { address: target } });
    return new Promise((resolve, reject) => {
      s.once('sendable', () => resolve(s));
      s.once('sender_error', (ctx: EventContext) => reject(linkError(ctx.sender)));
      s.once('sender_close', (ctx: EventContext) => reject(linkError(ctx.sender)));
    });
  }

  receiver(source: string | Record<string, unknown>, opts: Record<string, unknown> = {}): Promise<Receiver> {
    const r = this.connection.open_receiver({ source: typeof source === 'string' ? { address: source } : source, autoaccept: false, ...opts } as never);
    return new Promise((resolve, reject) => {
      r.once('receiver_open', () => resolve(r));
      r.once('receiver_error', (ctx: EventContext) => reject(linkError(ctx.receiver)));
      r.once('receiver_close', (ctx: EventContext) => reject(linkError(ctx.receiver)));
    });
  }

  /** Sends and resolves with the peer's settlement. */
  static send(s: Sender, m: Message): Promise<Outcome> {
    return new Promise((resolve) => {
      const d: Delivery = s.send(m);
      const on = (state: Outcome['state']) => (ctx: EventContext) => {
        if (ctx.delivery !== d) return;
        for (const ev of ['accepted', 'rejected', 'released', 'modified']) s.removeListener(ev, handlers[ev]!);
        const err = (ctx.delivery as unknown as { remote_state?: { error?: { condition?: string; description?: string } } }).remote_state?.error;
        resolve({ state, ...(err?.condition ? { condition: String(err.condition) } : {}), ...(err?.description ? { description: String(err.description) } : {}) });
      };
      const handlers: Record<string, (ctx: EventContext) => void> = {
        accepted: on('accepted'), rejected: on('rejected'), released: on('released'), modified: on('modified'),
      };
      for (const [ev, h] of Object.entries(handlers)) s.on(ev, h);
    });
  }

  /** Next message on a receiver. */
  static next(r: Receiver, ms = 5000): Promise<{ message: Message; delivery: Delivery }> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { r.removeListener('message', on); reject(new Error('timed out waiting for a message')); }, ms);
      const on = (ctx: EventContext) => { clearTimeout(t); r.removeListener('message', on); resolve({ message: ctx.message!, delivery: ctx.delivery! }); };
      r.on('message', on);
    });
  }

  /** A request/response exchange on a node such as `$cbs` or `$management`: correlated by message id. */
  async request(node: string, m: Message, ms = 5000): Promise<Message> {
    const replyTo = `${node.replace('$', '')}-reply-${rhea.generate_uuid()}`;
    const r = await this.receiver({ address: node }, { target: { address: replyTo }, autoaccept: true });
    const s = await this.sender(node);
    const id = rhea.generate_uuid();
    const got = new Promise<Message>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply on ${node}`)), ms);
      r.on('message', (ctx: EventContext) => { if (ctx.message!.correlation_id === id) { clearTimeout(t); resolve(ctx.message!); } });
    });
    s.send({ ...m, message_id: id, reply_to: replyTo });
    const reply = await got;
    s.close(); r.close();
    return reply;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.connection.is_open()) return resolve();
      this.connection.once('connection_close', () => resolve());
      this.connection.once('disconnected', () => resolve());
      this.connection.close();
    });
  }
}

function linkError(link: Sender | Receiver | undefined): Error {
  const e = (link as unknown as { error?: { condition?: string; description?: string } } | undefined)?.error;
  const err = new Error(`${e?.condition ?? 'link closed'}: ${e?.description ?? ''}`) as Error & { condition?: string };
  if (e?.condition) err.condition = e.condition;
  return err;
}

// --- raw peers: bytes written by hand (with rhea's own frame encoder), for hostile-input tests ---------------------

type Performative = (fields: Record<string, unknown>) => unknown;
interface RheaFrames {
  write_frame(frame: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  read_frame(buffer: Buffer): { size: number; type: number; channel: number; performative?: Record<string, unknown> & { constructor: { name?: string } } } | null;
  [name: string]: unknown;
}
const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as RheaFrames;

export const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
export const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);

/** One AMQP frame: `performative` is a name from AMQP 1.0 §2.7 in rhea's spelling (open, begin, attach, flow, transfer, …). */
export function amqpFrame(performative: string, fields: Record<string, unknown>, channel = 0, payload?: Buffer): Buffer {
  return frames.write_frame(frames.amqp_frame(channel, (frames[performative] as Performative)(fields), payload));
}

/** One SASL frame (sasl_init, sasl_response). */
export function saslFrame(performative: string, fields: Record<string, unknown>): Buffer {
  return frames.write_frame(frames.sasl_frame((frames[performative] as Performative)(fields)));
}

/** The first 8 bytes of a frame claiming `size` bytes: size, doff 2, type, channel. */
export function frameHeader(size: number, type = 0, channel = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(size, 0); b[4] = 2; b[5] = type; b.writeUInt16BE(channel, 6);
  return b;
}

/** A socket that writes bytes and keeps (up to 1 MiB of) what it receives. */
export class RawPeer {
  received = Buffer.alloc(0);
  closed: Promise<void>;
  isClosed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Duplex & { destroy(): void }) {
    // a WebSocket stream ends but does not emit 'close' (autoDestroy is off): either counts
    this.closed = new Promise((resolve) => {
      const onClose = () => { this.isClosed = true; resolve(); this.wake(); };
      socket.once('close', onClose);
      socket.once('end', onClose);
    });
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      if (this.received.length < 1024 * 1024) this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
  }

  static tls(port: number, ca: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: 'localhost', port, ca, servername: 'localhost' }, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  static tcp(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  /** Wraps an already connected stream (e.g. a WebSocket stream). */
  static over(stream: Duplex & { destroy(): void }): RawPeer { return new RawPeer(stream); }

  write(b: Buffer): void { if (!this.isClosed) this.socket.write(b); }

  /** Writes `chunk` repeatedly until `total` bytes are written or the peer closes; resolves with the bytes written. */
  async flood(chunk: Buffer, total: number): Promise<number> {
    let written = 0;
    while (written < total && !this.isClosed) {
      const ok = this.socket.write(chunk);
      written += chunk.length;
      if (!ok) await Promise.race([new Promise((r) => this.socket.once('drain', r)), this.closed]);
    }
    return written;
  }

  /** Resolves when `n` bytes have been received (or the socket closed). */
  async receivedAtLeast(n: number, ms = 5000): Promise<Buffer> {
    const until = Date.now() + ms;
    while (this.received.length < n && !this.isClosed && Date.now() < until) {
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
    return this.received;
  }

  /** The frames received after the 8-byte protocol header(s) starting at `from`. */
  frames(from = 8): NonNullable<ReturnType<RheaFrames['read_frame']>>[] {
    const out: NonNullable<ReturnType<RheaFrames['read_frame']>>[] = [];
    let at = from;
    while (at + 8 <= this.received.length) {
      if (this.received.subarray(at, at + 4).toString('latin1') === 'AMQP') { at += 8; continue; }
      const size = this.received.readUInt32BE(at);
      if (at + size > this.received.length) break;
      const f = frames.read_frame(this.received.subarray(at, at + size));
      if (f) out.push(f);
      at += size;
    }
    return out;
  }

  destroy(): void { this.socket.destroy(); }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }
}
