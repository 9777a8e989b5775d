// `iothub-wasm hub monitor`: telemetry as it arrives, read the way a back end reads it (like `az iot hub
// monitor-events`): from the hub's Event Hub-compatible endpoint over AMQP, every partition from its end.
import type { Connection, Message } from 'rhea';
import { amqpClose, amqpConnect, dataDirOf, parseCommand, runCommand, serviceTarget, ServiceError, ServiceUsageError, untilSignal } from './cli-service.js';

export const MONITOR_USAGE = 'usage: iothub-wasm hub monitor [--device <id>] [--json] [--data-dir <dir>]';
const HELP = `${MONITOR_USAGE}

Prints device telemetry as the hub receives it, with its application and system properties: one line per
message, or with --json one JSON object per line. Reads the hub's Event Hub-compatible endpoint over AMQP
(consumer group $Default, from now on) as the iothubowner policy. Ctrl-C stops.
  --device <id>    only this device's (and its modules') messages`;

/** A message as `--json` prints it. */
export interface MonitoredEvent {
  deviceId: string;
  moduleId?: string;
  enqueuedTime: string;
  partition: number;
  sequenceNumber: number;
  /** The body: parsed JSON when it is JSON, else text when it is UTF-8, else `{ base64 }`. */
  body: unknown;
  properties: { application: Record<string, unknown>; system: Record<string, unknown> };
}

function bodyOf(m: Message): unknown {
  const b = m.body as unknown;
  const buf = Buffer.isBuffer(b) ? b : b && typeof b === 'object' && Buffer.isBuffer((b as { content?: unknown }).content) ? (b as { content: Buffer }).content : undefined;
  if (!buf) return b ?? null;
  const text = new TextDecoder('utf-8', { fatal: true });
  let s: string;
  try { s = text.decode(buf); } catch { return { base64: buf.toString('base64') }; }
  try { return JSON.parse(s); } catch { return s; }
}

const scalar = (v: unknown): unknown => v instanceof Date ? v.toISOString() : Buffer.isBuffer(v) ? v.toString('base64') :
  typeof v === 'object' && v !== null && 'value' in v ? scalar((v as { value: unknown }).value) : v;

export function monitoredEvent(m: Message, partition: number): MonitoredEvent {
  const ann = (m.message_annotations ?? {}) as Record<string, unknown>;
  const system: Record<string, unknown> = {};
  const props: [string, unknown][] = [['message-id', m.message_id], ['correlation-id', m.correlation_id], ['user-id', m.user_id],
    ['content-type', m.content_type], ['content-encoding', m.content_encoding]];
  for (const [k, v] of props) if (v !== undefined && v !== null) system[k] = typeof v === 'string' ? v : String(scalar(v));
  for (const [k, v] of Object.entries(ann)) {
    // the origin is printed apart; empty and JSON-valued annotations say nothing on a local hub
    if (k.startsWith('iothub-') && !['iothub-connection-device-id', 'iothub-connection-module-id', 'iothub-connection-auth-method'].includes(k) && v !== '' && v !== null && v !== undefined) system[k] = scalar(v);
  }
  const application: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((m.application_properties ?? {}) as Record<string, unknown>)) application[k] = scalar(v);
  const moduleId = ann['iothub-connection-module-id'];
  const enqueued = scalar(ann['x-opt-enqueued-time']);
  return {
    deviceId: String(ann['iothub-connection-device-id'] ?? ''),
    ...(typeof moduleId === 'string' && moduleId ? { moduleId } : {}),
    enqueuedTime: typeof enqueued === 'string' ? enqueued : new Date().toISOString(),
    partition, sequenceNumber: Number(scalar(ann['x-opt-sequence-number']) ?? -1),
    body: bodyOf(m), properties: { application, system },
  };
}

const pairs = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');

/** One readable line: time, origin, body, then the application and system properties. */
export function readableLine(e: MonitoredEvent): string {
  const app = pairs(e.properties.application);
  const sys = pairs(e.properties.system);
  return `${e.enqueuedTime} ${e.deviceId}${e.moduleId ? `/${e.moduleId}` : ''}  ${typeof e.body === 'string' ? e.body : JSON.stringify(e.body)}` +
    (app ? `  properties: ${app}` : '') + (sys ? `  system: ${sys}` : '');
}

/** `$management` READ of the event hub: its partition ids. */
function partitionIds(conn: Connection, eventHubName: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const replyTo = `cli-management-${process.pid}`;
    const receiver = conn.open_receiver({ source: { address: '$management' }, target: { address: replyTo } });
    const sender = conn.open_sender({ target: { address: '$management' } });
    const t = setTimeout(() => reject(new ServiceError('the hub did not answer the $management READ of its event hub within 10 s')), 10_000);
    receiver.once('message', (ctx) => {
      clearTimeout(t);
      receiver.close(); sender.close();
      const props = (ctx.message?.application_properties ?? {}) as Record<string, unknown>;
      const status = Number(scalar(props['status-code']));
      const ids = (ctx.message?.body as { partition_ids?: unknown } | undefined)?.partition_ids;
      if (status !== 200 || !Array.isArray(ids)) reject(new ServiceError(`the hub refused the $management READ: ${status} ${String(props['status-description'] ?? '')}`));
      else resolve(ids.map(String));
    });
    sender.once('sendable', () => {
      sender.send({ reply_to: replyTo, message_id: 'partitions', body: null, application_properties: { operation: 'READ', name: eventHubName, type: 'com.microsoft:eventhub' } } as unknown as Message);
    });
  });
}

export function monitorMain(argv: string[]): Promise<number> {
  return runCommand(MONITOR_USAGE, async () => {
    const { values: v, positionals } = parseCommand(argv, { device: { type: 'string' }, json: { type: 'boolean' } });
    if (v.help) { console.log(HELP); return 0; }
    if (positionals.length) throw new ServiceUsageError(`unexpected argument '${positionals[0]}'`);
    if (v.device === '') throw new ServiceUsageError('--device needs a device id');
    const target = serviceTarget(dataDirOf(v), 'amqp');
    const conn = await amqpConnect(target);
    const eventHubName = target.hub.hostName.split('.')[0]!;
    try {
      const ids = await partitionIds(conn, eventHubName);
      const lost = new Promise<never>((_, reject) => {
        conn.once('disconnected', () => reject(new ServiceError(`the hub running on ${target.dataDir} closed the connection (it stopped?)`)));
        conn.once('connection_close', () => reject(new ServiceError(`the hub running on ${target.dataDir} closed the connection (it stopped?)`)));
      });
      lost.catch(() => {});
      const opened = ids.map((id) => new Promise<void>((resolve, reject) => {
        // no filter: the endpoint starts a reader at the partition's end, as monitor-events does
        const r = conn.open_receiver({ source: { address: `${eventHubName}/ConsumerGroups/$Default/Partitions/${id}` }, credit_window: 100 });
        r.once('receiver_open', () => resolve());
        r.once('receiver_error', (ctx) => reject(new ServiceError(`the hub refused to serve partition ${id}: ${ctx.receiver?.error ? (ctx.receiver.error as { description?: string }).description : 'no reason'}`)));
        r.on('message', (ctx) => {
          if (!ctx.message) return;
          const e = monitoredEvent(ctx.message, Number(id));
          if (v.device && e.deviceId !== v.device) return;
          console.log(v.json ? JSON.stringify(e) : readableLine(e));
        });
      }));
      await Promise.race([Promise.all(opened), lost]);
      console.error(`monitoring telemetry of '${target.hub.hostName}'${v.device ? ` from ${v.device}` : ''} (hub on ${target.dataDir}, ${ids.length} partitions); Ctrl-C stops`);
      await untilSignal(lost);
      return 0;
    } finally {
      await amqpClose(conn);
    }
  });
}
