// A small promise wrapper over a plain rhea client, written from IoT Hub's documented AMQP flows (not from an SDK).
import rhea from 'rhea';
import type { Connection, ConnectionOptions, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { createHmac } from 'node:crypto';

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
