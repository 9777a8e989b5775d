// The hub's AMQP service surface with a plain rhea client, written from IoT Hub's documented flows: SASL PLAIN as
// {policy}@sas.root.{hub}, SASL ANONYMOUS + CBS put-token, C2D on /messages/devicebound with iothub-ack, batched
// feedback on /messages/serviceBound/feedback, policy rights.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import type { LocalHub } from '../../host/hub/index.js';
import { startHub, connectRaw, endClient, inSeconds } from './helpers.js';
import { AmqpClient, policySas } from './amqp-client.js';

let hub: LocalHub;
let done: () => Promise<void>;

before(async () => {
  ({ hub, done } = await startHub({ amqpPort: 0, feedbackBatchMs: 50, log: !!process.env['HUB_TEST_LOG'] }));
});
after(async () => { await done?.(); });

function plain(policy = 'iothubowner', key?: string): Promise<AmqpClient> {
  const p = hub.policies.get(policy)!;
  return AmqpClient.open({
    port: hub.amqpPort!, ca: hub.ca,
    username: `${policy}@sas.root.${hub.hostName}`,
    password: policySas(hub.hostName, key ?? p.primaryKey, policy, inSeconds(3600)),
  });
}

test('policies exist with keys and rights; the service connection string names iothubowner', () => {
  for (const name of ['iothubowner', 'service', 'registryRead', 'registryReadWrite', 'device']) {
    const p = hub.policies.get(name);
    assert.ok(p, name);
    assert.equal(Buffer.from(p.primaryKey, 'base64').length, 32);
  }
  assert.deepEqual(hub.policies.get('service')!.rights, ['ServiceConnect']);
  assert.match(hub.serviceConnectionString(), new RegExp(`^HostName=localhost:${hub.amqpPort};SharedAccessKeyName=iothubowner;SharedAccessKey=[A-Za-z0-9+/=]{44}$`));
});

test('SASL PLAIN C2D with iothub-ack=full reaches the device; Success feedback arrives batched as feedback JSON', async () => {
  const dev = await hub.registry.addDevice('amqp-dev1');
  const device = await connectRaw(hub, { deviceId: 'amqp-dev1', key: dev.primaryKey });
  const got = new Promise<{ topic: string; payload: Buffer }>((resolve) => device.on('message', (topic, payload) => resolve({ topic, payload })));
  await device.subscribeAsync('devices/amqp-dev1/messages/devicebound/#', { qos: 1 });
  const c = await plain('service');
  try {
    const feedback = await c.receiver('/messages/serviceBound/feedback');
    const s = await c.sender('/messages/devicebound');
    const uuid = rhea.generate_uuid();
    const o = await AmqpClient.send(s, {
      to: '/devices/amqp-dev1/messages/devicebound', message_id: rhea.string_to_uuid(uuid) as unknown as string,
      application_properties: { 'iothub-ack': 'full', color: 'blue' }, body: rhea.message.data_section(Buffer.from('hi there')),
    });
    assert.equal(o.state, 'accepted');
    const m = await got;
    assert.equal(m.payload.toString(), 'hi there');
    assert.match(m.topic, new RegExp(`%24.mid=${uuid}`));
    assert.match(m.topic, /color=blue/);
    assert.match(m.topic, /iothub-ack=full/);
    const { message, delivery } = await AmqpClient.next(feedback);
    assert.equal(message.content_type, 'application/vnd.microsoft.iothub.feedback.json');
    const records = JSON.parse(Buffer.from((message.body as { content: Buffer }).content).toString()) as Record<string, string>[];
    assert.equal(records.length, 1);
    assert.equal(records[0]!['originalMessageId'], uuid);
    assert.equal(records[0]!['deviceId'], 'amqp-dev1');
    assert.equal(records[0]!['statusCode'], 'Success');
    assert.ok(!Number.isNaN(Date.parse(records[0]!['enqueuedTimeUtc']!)));
    assert.equal(typeof records[0]!['description'], 'string');
    delivery.accept();
  } finally {
    await c.close();
    await endClient(device);
  }
});

test('iothub-ack: none and positive give no feedback for an expired message; negative does', async () => {
  await hub.registry.addDevice('amqp-offline');
  const c = await plain();
  try {
    const feedback = await c.receiver('/messages/serviceBound/feedback');
    const s = await c.sender('/messages/devicebound');
    for (const ack of ['none', 'positive', 'negative']) {
      const o = await AmqpClient.send(s, {
        to: '/devices/amqp-offline/messages/devicebound', message_id: `exp-${ack}`, absolute_expiry_time: new Date(Date.now() + 200),
        application_properties: { 'iothub-ack': ack }, body: 'x',
      });
      assert.equal(o.state, 'accepted');
    }
    const { message, delivery } = await AmqpClient.next(feedback, 4000);
    const records = JSON.parse(Buffer.from((message.body as { content: Buffer }).content).toString()) as Record<string, string>[];
    assert.deepEqual(records.map((r) => [r['originalMessageId'], r['statusCode']]), [['exp-negative', 'Expired']]);
    delivery.accept();
  } finally {
    await c.close();
  }
});

test('unknown device → amqp:not-found; 51st queued message → amqp:resource-limit-exceeded; bad to → argument error', async () => {
  await hub.registry.addDevice('amqp-full');
  const c = await plain();
  try {
    const s = await c.sender('/messages/devicebound');
    const nf = await AmqpClient.send(s, { to: '/devices/nobody/messages/devicebound', body: 'x' });
    assert.equal(nf.state, 'rejected');
    assert.equal(nf.condition, 'amqp:not-found');
    for (let i = 0; i < 50; i++) {
      const o = await AmqpClient.send(s, { to: '/devices/amqp-full/messages/devicebound', body: `m${i}` });
      assert.equal(o.state, 'accepted', `message ${i}`);
    }
    const full = await AmqpClient.send(s, { to: '/devices/amqp-full/messages/devicebound', body: 'm50' });
    assert.equal(full.state, 'rejected');
    assert.equal(full.condition, 'amqp:resource-limit-exceeded');
    const bad = await AmqpClient.send(s, { to: '/devices/amqp-full', body: 'x' });
    assert.equal(bad.condition, 'com.microsoft:argument-error');
  } finally {
    await c.close();
    hub.c2d.purge('amqp-full');
  }
});

test('SASL ANONYMOUS + CBS put-token: status-code 200 as an int correlated by message id; links need the token', async () => {
  await hub.registry.addDevice('amqp-cbs');
  const c = await AmqpClient.open({ port: hub.amqpPort!, ca: hub.ca, username: 'anonymous' } as never);
  try {
    await assert.rejects(c.sender('/messages/devicebound'), /amqp:unauthorized-access/);
    const p = hub.policies.get('iothubowner')!;
    const bad = await c.request('$cbs', {
      application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: hub.hostName },
      body: policySas(hub.hostName, Buffer.alloc(32, 1).toString('base64'), 'iothubowner', inSeconds(60)),
    });
    assert.equal(bad.application_properties!['status-code'], 401);
    const ok = await c.request('$cbs', {
      application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: hub.hostName },
      body: policySas(hub.hostName, p.primaryKey, 'iothubowner', inSeconds(60)),
    });
    assert.equal(ok.application_properties!['status-code'], 200);
    assert.equal(typeof ok.application_properties!['status-code'], 'number');
    const s = await c.sender('/messages/devicebound');
    const o = await AmqpClient.send(s, { to: '/devices/amqp-cbs/messages/devicebound', body: 'via cbs' });
    assert.equal(o.state, 'accepted');
    // renewal on the same link
    const again = await c.request('$cbs', {
      application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: hub.hostName },
      body: policySas(`${hub.hostName}:${hub.amqpPort}`, p.secondaryKey, 'iothubowner', inSeconds(120)),
    });
    assert.equal(again.application_properties!['status-code'], 200);
  } finally {
    await c.close();
    hub.c2d.purge('amqp-cbs');
  }
});

test('a wrong policy key fails SASL PLAIN; registryRead cannot send C2D', async () => {
  await assert.rejects(plain('iothubowner', Buffer.alloc(32, 9).toString('base64')));
  const c = await plain('registryRead');
  try {
    await assert.rejects(c.sender('/messages/devicebound'), /amqp:unauthorized-access/);
  } finally {
    await c.close();
  }
});

test('Event Hub-compatible read: $management READ, partition link with an x-opt-sequence-number filter, iothub-* annotations', async () => {
  const dev = await hub.registry.addDevice('amqp-tele');
  const device = await connectRaw(hub, { deviceId: 'amqp-tele', key: dev.primaryKey });
  for (let i = 0; i < 4; i++) await device.publishAsync(`devices/amqp-tele/messages/events/n=${i}&%24.mid=tm-${i}&%24.ct=application%2Fjson`, JSON.stringify({ i }), { qos: 1 });
  await endClient(device);
  const c = await plain('service');
  try {
    const hubInfo = await c.request('$management', { application_properties: { operation: 'READ', type: 'com.microsoft:eventhub', name: hub.eventHubName }, body: '' });
    assert.equal(hubInfo.application_properties!['status-code'], 200);
    const body = hubInfo.body as { name: string; partition_count: number; partition_ids: string[] };
    assert.equal(body.name, hub.eventHubName);
    assert.deepEqual(body.partition_ids, ['0', '1', '2', '3']);
    const p = hub.events.partitionOf('amqp-tele');
    const partInfo = await c.request('$management', { application_properties: { operation: 'READ', type: 'com.microsoft:partition', name: hub.eventHubName, partition: String(p) }, body: '' });
    const pi = partInfo.body as { last_enqueued_sequence_number: number; begin_sequence_number: number; is_partition_empty: boolean };
    assert.equal(pi.is_partition_empty, false);
    const last = pi.last_enqueued_sequence_number;
    // the events from sequence number last-1 (inclusive): the last two
    const r = await c.receiver({
      address: `/messages/events/ConsumerGroups/$Default/Partitions/${p}`,
      filter: { 'apache.org:selector-filter:string': rhea.types.wrap_described(`amqp.annotation.x-opt-sequence-number >= ${last - 1}`, 0x468c00000004) },
    }, { autoaccept: true });
    const got: { seq: number; body: string; props: Record<string, unknown>; ann: Record<string, unknown>; mid: unknown; ct: unknown }[] = [];
    for (let i = 0; i < 2; i++) {
      const { message } = await AmqpClient.next(r);
      const ann = message.message_annotations as Record<string, unknown>;
      got.push({ seq: Number(ann['x-opt-sequence-number']), body: Buffer.from((message.body as { content: Buffer }).content).toString(), props: message.application_properties!, ann, mid: message.message_id, ct: message.content_type });
    }
    assert.deepEqual(got.map((g) => g.body), ['{"i":2}', '{"i":3}']);
    assert.deepEqual(got.map((g) => g.seq), [last - 1, last]);
    assert.deepEqual(got.map((g) => g.props['n']), ['2', '3']);
    assert.deepEqual(got.map((g) => g.mid), ['tm-2', 'tm-3']);
    assert.equal(got[0]!.ct, 'application/json');
    assert.equal(got[0]!.ann['iothub-connection-device-id'], 'amqp-tele');
    assert.equal(typeof got[0]!.ann['x-opt-offset'], 'string');
    assert.ok(got[0]!.ann['x-opt-enqueued-time'] instanceof Date);
    // a live event arrives on the open link
    const again = await connectRaw(hub, { deviceId: 'amqp-tele', key: dev.primaryKey });
    const live = AmqpClient.next(r);
    await again.publishAsync('devices/amqp-tele/messages/events/', 'live', { qos: 1 });
    assert.equal(Buffer.from(((await live).message.body as { content: Buffer }).content).toString(), 'live');
    await endClient(again);
    // registryRead has no ServiceConnect
    const ro = await plain('registryRead');
    const closedWith = (link: import('rhea').Receiver) => new Promise<string>((resolve) => {
      const done = () => resolve(String((link as unknown as { error?: { condition?: string } }).error?.condition));
      if (!link.is_remote_open()) done(); else link.once('receiver_close', done);
    });
    const refused = await ro.receiver(`/messages/events/ConsumerGroups/$Default/Partitions/${p}`).then(closedWith, (e: Error) => e.message);
    assert.match(refused, /amqp:unauthorized-access/);
    await ro.close();
  } finally {
    await c.close();
  }
});
