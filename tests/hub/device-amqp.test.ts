// The AMQP device endpoint with Microsoft's device SDK over AMQP and AMQP over WebSocket (azure-iot-device-amqp),
// unchanged but for host, port and trust: CBS with the device's own token, telemetry with its properties, C2D with
// complete → Success, reject → Rejected and abandon → delivered again; and plain rhea for the documents' flows
// (SASL PLAIN as {id}@sas.{hub}, C2D message properties and x-opt-sequence-number, refusals).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import device from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import { startHub, sas, inSeconds } from './helpers.js';
import type { FeedbackRecord, LocalHub, TelemetryMessage } from '../../host/hub/index.js';
import { PortAgent } from './port-agent.js';

const { Client, Message } = device;
const { Amqp, AmqpWs } = deviceAmqp;

let hub: LocalHub;
let done: () => Promise<void>;
before(async () => { ({ hub, done } = await startHub({ amqpPort: 0, restPort: 0, log: !!process.env['HUB_TEST_LOG'] })); });
after(async () => { await done(); });

type SdkClient = InstanceType<typeof Client>;
type SdkMessage = InstanceType<typeof Message>;

function telemetryOf(deviceId: string, n: number): Promise<TelemetryMessage[]> {
  const seen: TelemetryMessage[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`saw ${seen.length} of ${n} messages from ${deviceId}`)), 15000);
    const on = (m: TelemetryMessage) => {
      if (m.deviceId !== deviceId) return;
      seen.push(m);
      if (seen.length === n) { clearTimeout(t); hub.off('telemetry', on); resolve(seen); }
    };
    hub.on('telemetry', on);
  });
}

function feedbackFor(messageId: string): Promise<FeedbackRecord> {
  return new Promise((resolve) => {
    const on = (f: FeedbackRecord) => { if (f.originalMessageId === messageId) { hub.off('feedback', on); resolve(f); } };
    hub.on('feedback', on);
  });
}

async function sdkClient(id: string, ws: boolean): Promise<SdkClient> {
  const info = await hub.registry.addDevice(id);
  const cs = info.connectionString.replace(/;GatewayHostName=[^;]+/, '') + `;GatewayHostName=localhost${ws ? '' : `:${hub.amqpPort}`}`;
  const client = Client.fromConnectionString(cs, ws ? AmqpWs : Amqp);
  await client.setOptions({ ca: hub.ca, ...(ws ? { amqp: { webSocketAgent: new PortAgent(hub.restPort!, { ca: hub.ca }) } } : {}) });
  return client;
}

for (const ws of [false, true]) {
  const via = ws ? 'AMQP over WebSocket' : 'AMQP';
  test(`${via}: the device SDK authenticates with its own token (CBS), sends telemetry with properties, and settles C2D`, async () => {
    const id = ws ? 'amqp-ws-dev' : 'amqp-dev';
    const client = await sdkClient(id, ws);
    await client.open();
    try {
      const seen = telemetryOf(id, 2);
      const m = new Message('{"t":1}');
      m.messageId = `${id}-1`;
      m.contentType = 'application/json';
      m.properties.add('unit', 'celsius');
      await client.sendEvent(m);
      await client.sendEvent(new Message('second'));
      const [first, second] = await seen;
      assert.equal(first!.body.toString(), '{"t":1}');
      assert.deepEqual(first!.properties, { unit: 'celsius' });
      assert.equal(first!.systemProperties['messageId'], `${id}-1`);
      assert.equal(first!.systemProperties['contentType'], 'application/json');
      assert.equal(second!.body.toString(), 'second');

      const inbox: SdkMessage[] = [];
      const waiters: Array<(m: SdkMessage) => void> = [];
      client.on('message', (msg: SdkMessage) => { const w = waiters.shift(); if (w) w(msg); else inbox.push(msg); });
      const next = () => new Promise<SdkMessage>((resolve) => { const m0 = inbox.shift(); if (m0) resolve(m0); else waiters.push(resolve); });
      const settle = (how: 'complete' | 'reject' | 'abandon', msg: SdkMessage) => new Promise<void>((resolve, reject) => {
        (client[how] as (x: SdkMessage, cb: (e?: Error) => void) => void).call(client, msg, (e?: Error) => (e ? reject(e) : resolve()));
      });
      const ok = feedbackFor(`${id}-c1`);
      await hub.sendC2D(id, 'hello', { messageId: `${id}-c1`, ack: 'full', correlationId: 'corr', properties: { color: 'red' } });
      const c1 = await next();
      assert.equal(c1.getData().toString(), 'hello');
      assert.equal(c1.messageId, `${id}-c1`);
      assert.equal(c1.correlationId, 'corr');
      assert.equal(c1.properties.getValue('color'), 'red');
      await settle('complete', c1);
      assert.equal((await ok).statusCode, 'Success');

      const no = feedbackFor(`${id}-c2`);
      await hub.sendC2D(id, 'no thanks', { messageId: `${id}-c2`, ack: 'full' });
      await settle('reject', await next());
      assert.equal((await no).statusCode, 'Rejected');

      await hub.sendC2D(id, 'later', { messageId: `${id}-c3`, ack: 'full' });
      await settle('abandon', await next());
      const again = await next();
      assert.equal(again.messageId, `${id}-c3`, 'an abandoned message is delivered again');
      const fin = feedbackFor(`${id}-c3`);
      await settle('complete', again);
      assert.equal((await fin).statusCode, 'Success');
    } finally {
      await client.close();
    }
  });
}

/** A plain rhea connection to the AMQP port. */
function rheaConnect(opts: Record<string, unknown>): Promise<rhea.Connection> {
  const c = rhea.create_container();
  return new Promise((resolve, reject) => {
    const conn = c.connect({ host: '127.0.0.1', port: hub.amqpPort, transport: 'tls', ca: hub.ca, servername: 'localhost', reconnect: false, ...opts } as never);
    conn.once('connection_open', () => resolve(conn));
    conn.once('connection_error', (ctx: rhea.EventContext) => reject(ctx.connection.error ?? new Error('connection error')));
    conn.once('disconnected', (ctx: rhea.EventContext) => reject((ctx as { error?: Error }).error ?? new Error('disconnected')));
  });
}

test('rhea: SASL PLAIN as {id}@sas.{hub} with a device token; telemetry with application properties; C2D with its properties and x-opt-sequence-number', async () => {
  const info = await hub.registry.addDevice('rhea-dev');
  const token = sas(`${hub.hostName}/devices/rhea-dev`, info.primaryKey, inSeconds(600));
  const conn = await rheaConnect({ username: `rhea-dev@sas.${hub.hostName}`, password: token });
  try {
    const seen = telemetryOf('rhea-dev', 1);
    const sender = conn.open_sender({ target: { address: '/devices/rhea-dev/messages/events' } });
    await new Promise<void>((r) => sender.once('sendable', () => r()));
    sender.send({ body: 'from rhea', message_id: 'r-1', application_properties: { level: 'high', __proto__: 'data' } } as never);
    const [t] = await seen;
    assert.equal(t!.body.toString(), 'from rhea');
    assert.equal(t!.properties['level'], 'high');
    assert.equal(Object.getPrototypeOf(t!.properties), Object.prototype, 'a __proto__ property name is data');

    await hub.sendC2D('rhea-dev', 'to rhea', { messageId: 'r-c1', ack: 'full', properties: { k: 'v' } });
    const receiver = conn.open_receiver({ source: { address: '/devices/rhea-dev/messages/devicebound' }, autoaccept: false } as never);
    const msg = await new Promise<rhea.EventContext>((r) => receiver.once('message', r));
    assert.equal(String(msg.message!.message_id), 'r-c1');
    assert.equal(String(msg.message!.to), '/devices/rhea-dev/messages/deviceBound');
    assert.equal((msg.message!.application_properties as Record<string, unknown>)['k'], 'v');
    assert.ok(Number((msg.message!.message_annotations as Record<string, unknown>)['x-opt-sequence-number']) > 0);
    const accepted = feedbackFor('r-c1');
    msg.delivery!.accept();
    assert.equal((await accepted).statusCode, 'Success');
    // listening before sending: the hub may deliver before sendC2D resolves
    const arrives = new Promise<rhea.EventContext>((r) => receiver.once('message', r));
    const rejected = feedbackFor('r-c2');
    assert.equal((await hub.sendC2D('rhea-dev', 'x', { messageId: 'r-c2', ack: 'full' })).messageId, 'r-c2');
    (await arrives).delivery!.reject({ condition: 'amqp:internal-error', description: 'no' });
    assert.equal((await rejected).statusCode, 'Rejected');
  } finally {
    conn.close();
  }
});

test("rhea: a device cannot attach another device's nodes, and a wrong key is refused at SASL", async () => {
  const a = await hub.registry.addDevice('rhea-a');
  await hub.registry.addDevice('rhea-b');
  const conn = await rheaConnect({ username: `rhea-a@sas.${hub.hostName}`, password: sas(`${hub.hostName}/devices/rhea-a`, a.primaryKey, inSeconds(600)) });
  try {
    const s = conn.open_sender({ target: { address: '/devices/rhea-b/messages/events' } });
    const err = await new Promise<rhea.EventContext>((r) => s.once('sender_close', r));
    assert.equal((err.sender!.error as { condition?: string }).condition, 'amqp:unauthorized-access');
  } finally {
    conn.close();
  }
  await assert.rejects(rheaConnect({ username: `rhea-a@sas.${hub.hostName}`, password: sas(`${hub.hostName}/devices/rhea-a`, Buffer.alloc(32, 1).toString('base64'), inSeconds(600)) }));
});
