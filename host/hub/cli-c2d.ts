// `iothub-wasm hub c2d send`: a cloud-to-device message sent as a back end sends it (AMQP `/messages/devicebound`,
// like `az iot device c2d-message send`), and, when an ack is asked for, the device's feedback from
// `/messages/serviceBound/feedback`.
import { randomUUID } from 'node:crypto';
import type { Connection, Delivery, Receiver } from 'rhea';
import { amqpClose, amqpConnect, dataDirOf, parseCommand, runCommand, serviceTarget, ServiceError, ServiceUsageError } from './cli-service.js';

export const C2D_USAGE = 'usage: iothub-wasm hub c2d send <deviceId> <body> [--property k=v]… [--ack none|positive|negative|full]\n' +
  '                                  [--message-id <id>] [--wait <seconds>] [--json] [--data-dir <dir>]';
const HELP = `${C2D_USAGE}

Queues a cloud-to-device message for the device (delivered when it is connected) and prints its message id.
  --property k=v   an application property (repeatable)
  --ack <mode>     the feedback to ask for: none (default), positive (Success), negative (Expired, Rejected,
                   DeliveryCountExceeded) or full; with one, waits for the device's feedback and prints it
  --message-id     the message id (default a new UUID)
  --wait <s>       how long to wait for the feedback (default 30); exits 1 when none came
  --json           print {"messageId":…,"feedback":…} as JSON`;

const ACKS = ['none', 'positive', 'negative', 'full'] as const;

/** A record of the feedback message (IoT Hub's feedback JSON). */
interface FeedbackRecord { originalMessageId?: string; statusCode?: string; description?: string; deviceId?: string; enqueuedTimeUtc?: string }

function propertiesOf(list: string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const p of list) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ServiceUsageError(`--property takes k=v, not '${p}'`);
    const k = p.slice(0, eq);
    if (k === 'iothub-ack' || k.startsWith('$')) throw new ServiceUsageError(`--property ${k}: a reserved name (use --ack for the feedback)`);
    out[k] = p.slice(eq + 1);
  }
  return out;
}

/** Attaches a feedback receiver and resolves the record for `messageId`; batches without it are released for others. */
function feedbackFor(conn: Connection, messageId: () => string): { ready: Promise<void>; record: Promise<FeedbackRecord>; receiver: Receiver } {
  let receiver!: Receiver;
  const ready = new Promise<void>((resolve, reject) => {
    receiver = conn.open_receiver({ source: { address: '/messages/serviceBound/feedback' }, autoaccept: false, credit_window: 10 });
    receiver.once('receiver_open', () => resolve());
    receiver.once('receiver_error', () => reject(new ServiceError(`the hub refused the feedback receiver: ${(receiver.error as { description?: string } | undefined)?.description ?? 'no reason'}`)));
  });
  const record = new Promise<FeedbackRecord>((resolve) => {
    receiver.on('message', (ctx) => {
      const d = ctx.delivery as Delivery;
      const b = ctx.message?.body as unknown;
      const raw = Buffer.isBuffer(b) ? b : b && typeof b === 'object' && Buffer.isBuffer((b as { content?: unknown }).content) ? (b as { content: Buffer }).content : Buffer.from(String(b ?? ''));
      let records: FeedbackRecord[] = [];
      try { const v = JSON.parse(raw.toString('utf8')) as unknown; if (Array.isArray(v)) records = v as FeedbackRecord[]; } catch { /* not ours */ }
      const mine = records.find((r) => r.originalMessageId === messageId());
      if (mine) { d.accept(); resolve(mine); } else d.release();
    });
  });
  return { ready, record, receiver };
}

async function send(conn: Connection, deviceId: string, body: string, messageId: string, ack: string, props: Record<string, string>): Promise<void> {
  const { default: rhea } = await import('rhea'); // as amqpConnect: not loaded for `--help`
  return new Promise((resolve, reject) => {
    const sender = conn.open_sender({ target: { address: '/messages/devicebound' } });
    sender.once('sender_error', () => reject(new ServiceError(`the hub refused the C2D sender: ${(sender.error as { description?: string } | undefined)?.description ?? 'no reason'}`)));
    sender.once('sendable', () => {
      sender.send({
        to: `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`, message_id: messageId,
        application_properties: { ...props, 'iothub-ack': ack }, body: rhea.message.data_section(Buffer.from(body)),
      });
    });
    sender.on('accepted', () => { sender.close(); resolve(); });
    sender.on('rejected', (ctx) => {
      const err = (ctx.delivery?.remote_state as { error?: { description?: string } } | undefined)?.error;
      const m = /^ErrorCode:([^;]*);(.*)$/s.exec(err?.description ?? '');
      reject(new ServiceError(m ? `C2D refused: ${m[1]}: ${m[2]}` : `C2D refused: ${err?.description ?? 'no reason given'}`));
    });
    sender.on('released', () => reject(new ServiceError('the hub released the C2D message (it is stopping?)')));
  });
}

export function c2dMain(argv: string[]): Promise<number> {
  return runCommand(C2D_USAGE, async () => {
    const { values: v, positionals } = parseCommand(argv, {
      property: { type: 'string', multiple: true }, ack: { type: 'string' }, 'message-id': { type: 'string' },
      wait: { type: 'string' }, json: { type: 'boolean' },
    });
    if (v.help) { console.log(HELP); return 0; }
    const [verb, deviceId, body, ...extra] = positionals;
    if (verb !== 'send') throw new ServiceUsageError(verb ? `unknown c2d command '${verb}' (send)` : 'c2d needs a command (send)');
    if (!deviceId || body === undefined) throw new ServiceUsageError('c2d send needs a device id and a body');
    if (extra.length) throw new ServiceUsageError(`unexpected argument '${extra[0]}' (quote a body with spaces)`);
    const ack = v.ack ?? 'none';
    if (!(ACKS as readonly string[]).includes(ack)) throw new ServiceUsageError(`--ack must be ${ACKS.join(', ')}, not '${ack}'`);
    const wait = v.wait === undefined ? 30 : Number(v.wait);
    if (!(wait > 0) || wait > 3600) throw new ServiceUsageError(`--wait must be a number of seconds from 0 to 3600, not '${v.wait}'`);
    const messageId = v['message-id'] ?? randomUUID();
    if (!messageId || Buffer.byteLength(messageId) > 128) throw new ServiceUsageError('--message-id must be 1 to 128 bytes');
    const props = propertiesOf((v.property ?? []) as string[]);
    const target = serviceTarget(dataDirOf(v), 'amqp');
    const conn = await amqpConnect(target);
    try {
      // attached before the send, so no feedback can come before we listen
      const fb = ack === 'none' ? undefined : feedbackFor(conn, () => messageId);
      if (fb) await fb.ready;
      await send(conn, deviceId, body, messageId, ack, props);
      if (!v.json) console.log(`sent ${messageId} to ${deviceId}${fb ? `; waiting up to ${wait} s for its feedback (--ack ${ack})` : ''}`);
      if (!fb) { if (v.json) console.log(JSON.stringify({ messageId })); return 0; }
      let timer: NodeJS.Timeout | undefined;
      const record = await Promise.race([fb.record, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), wait * 1000); })]);
      clearTimeout(timer);
      if (!record) {
        if (v.json) console.log(JSON.stringify({ messageId, feedback: null }));
        throw new ServiceError(`no feedback for ${messageId} within ${wait} s (the device may be offline; the message stays queued until it expires)`);
      }
      if (v.json) console.log(JSON.stringify({ messageId, feedback: record }));
      else console.log(`feedback: ${record.statusCode ?? '?'}${record.description ? ` (${record.description})` : ''}${record.enqueuedTimeUtc ? ` at ${record.enqueuedTimeUtc}` : ''}`);
      return 0;
    } finally {
      await amqpClose(conn);
    }
  });
}
