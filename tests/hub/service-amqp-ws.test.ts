// AMQP 1.0 over WebSocket (`wss://host:443/$servicebus/websocket`, sub-protocol AMQPWSB10), the way service SDKs
// reach IoT Hub through firewalls: a plain rhea client over ws, SASL PLAIN, a C2D message queued for a device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import type { ConnectionOptions, EventContext, Sender } from 'rhea';
import WebSocket from 'ws';
import { startHub } from './helpers.js';
import { policySas } from './amqp-client.js';

test('AMQP over WebSocket on the REST listener: SASL PLAIN, /messages/devicebound, message queued for the device', async () => {
  const { hub, done } = await startHub({ amqpPort: 0, restPort: 0, log: false });
  const container = rhea.create_container();
  let connection: rhea.Connection | undefined;
  try {
    await hub.registry.addDevice('ws-amqp-dev');
    const p = hub.policies.get('service')!;
    const ws = (container as unknown as { websocket_connect(c: unknown): (url: string, protocols: string[], options: unknown) => unknown })
      .websocket_connect(WebSocket);
    connection = container.connect({
      connection_details: ws(`wss://localhost:${hub.restPort}/$servicebus/websocket`, ['AMQPWSB10'], { ca: hub.ca }),
      host: 'localhost', hostname: hub.hostName, reconnect: false,
      username: `service@sas.root.${hub.hostName}`,
      password: policySas(hub.hostName, p.primaryKey, 'service', Math.floor(Date.now() / 1000) + 3600),
    } as unknown as ConnectionOptions);
    connection.on('error', () => {});
    const sender = await new Promise<Sender>((resolve, reject) => {
      const s = connection!.open_sender({ target: { address: '/messages/devicebound' } });
      s.once('sendable', () => resolve(s));
      s.once('sender_error', (ctx: EventContext) => reject(new Error(String(ctx.sender?.error))));
      connection!.once('connection_error', (ctx: EventContext) => reject(new Error(String(ctx.connection.error))));
      connection!.once('disconnected', (ctx: EventContext) => reject(new Error(`disconnected: ${(ctx as { error?: Error }).error?.message}`)));
    });
    const outcome = await new Promise<string>((resolve) => {
      const d = sender.send({ to: '/devices/ws-amqp-dev/messages/devicebound', message_id: 'over-ws', body: rhea.message.data_section(Buffer.from('via websocket')) });
      sender.on('accepted', (ctx: EventContext) => { if (ctx.delivery === d) resolve('accepted'); });
      sender.on('rejected', (ctx: EventContext) => { if (ctx.delivery === d) resolve('rejected'); });
    });
    assert.equal(outcome, 'accepted');
    const queued = hub.c2d.pending('ws-amqp-dev');
    assert.deepEqual(queued.map((m) => [m.messageId, Buffer.from(m.body).toString()]), [['over-ws', 'via websocket']]);
  } finally {
    connection?.close();
    await new Promise((r) => setTimeout(r, 50));
    await done();
  }
});
