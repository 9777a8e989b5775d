// The AMQP twin and direct-method links on the wire, with plain rhea (no SDK): the annotations, correlation ids and
// status codes IoT Hub uses, and hostile requests — a missing or unknown operation, a wrong resource, bodies that are
// not JSON, not objects, too deep or too large, no correlation id, a peer that gives no credit — answered with IoT
// Hub-style statuses or refusals, never a crash, with bounded memory per link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import type { EventContext, Message, Receiver, Sender } from 'rhea';
import { startHub, sas, inSeconds } from './helpers.js';
import type { LocalHub } from '../../host/hub/index.js';
import { AmqpClient } from './amqp-client.js';

let hub: LocalHub;
let done: () => Promise<void>;
before(async () => { ({ hub, done } = await startHub({ amqpPort: 0, log: !!process.env['HUB_TEST_LOG'] })); });
after(async () => { await done(); });

async function deviceConnection(id: string): Promise<AmqpClient> {
  const info = await hub.registry.addDevice(id);
  return AmqpClient.open({ port: hub.amqpPort!, ca: hub.ca, username: `${id}@sas.${hub.hostName}`, password: sas(`${hub.hostName}/devices/${id}`, info.primaryKey, inSeconds(600)) });
}

interface Channel { sender: Sender; receiver: Receiver; inbox: Message[]; waiters: ((m: Message) => void)[] }

/** A twin (or methods) channel as the SDKs open it: a sender and a receiver on `address` with one channel-correlation-id. */
async function channel(c: AmqpClient, address: string, receiverOpts: Record<string, unknown> = {}): Promise<Channel> {
  const properties = { 'com.microsoft:channel-correlation-id': `twin:${rhea.generate_uuid()}`, 'com.microsoft:api-version': '2021-04-12' };
  const sender = c.connection.open_sender({ target: { address }, properties } as never);
  await new Promise<void>((resolve, reject) => { sender.once('sendable', () => resolve()); sender.once('sender_close', () => reject(new Error('twin sender refused'))); });
  const receiver = c.connection.open_receiver({ source: { address }, properties, autoaccept: true, ...receiverOpts } as never);
  await new Promise<void>((resolve, reject) => { receiver.once('receiver_open', () => resolve()); receiver.once('receiver_close', () => reject(new Error('twin receiver refused'))); });
  const ch: Channel = { sender, receiver, inbox: [], waiters: [] };
  receiver.on('message', (ctx: EventContext) => { const w = ch.waiters.shift(); if (w) w(ctx.message!); else ch.inbox.push(ctx.message!); });
  return ch;
}

function nextMessage(ch: Channel, ms = 5000): Promise<Message> {
  const m = ch.inbox.shift();
  if (m) return Promise.resolve(m);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no message on the twin receiver')), ms);
    ch.waiters.push((x) => { clearTimeout(t); resolve(x); });
  });
}

interface Answer { status: number; version: number | undefined; body: string; correlation: unknown }

function body(m: Message): string {
  const b = m.body as { content?: Buffer } | Buffer | string | undefined | null;
  if (b === undefined || b === null) return '';
  if (Buffer.isBuffer(b)) return b.toString();
  if (typeof b === 'string') return b;
  return b.content ? b.content.toString() : '';
}

/** Sends one twin request and reads its answer (requests are answered in order here, one at a time). */
async function twin(ch: Channel, annotations: Record<string, unknown>, data?: string | Buffer, correlation: unknown = rhea.generate_uuid()): Promise<Answer> {
  ch.sender.send({
    correlation_id: correlation, message_annotations: annotations,
    ...(data !== undefined ? { body: rhea.message.data_section(Buffer.isBuffer(data) ? data : Buffer.from(data)) } : {}),
  } as never);
  const m = await nextMessage(ch);
  const ann = (m.message_annotations ?? {}) as Record<string, unknown>;
  return { status: Number(ann['status']), version: ann['version'] === undefined ? undefined : Number(ann['version']), body: body(m), correlation: m.correlation_id };
}

test("rhea: twin GET, PATCH /properties/reported (204 with version, the hub's 'reported' event), injected twin faults, PUT desired notifications (pushed with version, no correlation_id), DELETE", async () => {
  const c = await deviceConnection('wire-twin');
  try {
    await hub.updateDesired('wire-twin', { fan: 'on' });
    const ch = await channel(c, '/devices/wire-twin/twin');
    const g = await twin(ch, { operation: 'GET' }, ' ', 'get-1');
    assert.equal(g.status, 200);
    assert.equal(g.correlation, 'get-1', "the request's correlation_id comes back");
    assert.deepEqual(JSON.parse(g.body), { desired: { fan: 'on', $version: 2 }, reported: { $version: 1 } });

    const reported = new Promise<{ deviceId: string; patch: unknown; version: number }>((resolve) => hub.once('reported', resolve));
    const p = await twin(ch, { operation: 'PATCH', resource: '/properties/reported' }, '{"temp":21}');
    assert.equal(p.status, 204);
    assert.deepEqual(await reported, { deviceId: 'wire-twin', patch: { temp: 21 }, version: 2 }, "the hub's 'reported' event, as for MQTT");
    hub.failTwinRequests('wire-twin', 1, { status: 503 });
    assert.equal((await twin(ch, { operation: 'GET' })).status, 503, 'an injected twin fault answers the next request');
    assert.equal(p.version, 2, 'the new reported $version, as a version annotation');
    assert.equal((await hub.getTwin('wire-twin')).properties.reported['temp'], 21);

    const uuid = rhea.string_to_uuid(rhea.generate_uuid());
    const s = await twin(ch, { operation: 'PUT', resource: '/notifications/twin/properties/desired' }, ' ', uuid);
    assert.equal(s.status, 200);
    assert.ok(Buffer.isBuffer(s.correlation) && uuid.equals(s.correlation as Buffer), 'a UUID correlation_id comes back as a UUID');
    await hub.updateDesired('wire-twin', { fan: 'off' });
    const n = await nextMessage(ch);
    assert.equal(n.correlation_id, undefined);
    assert.deepEqual(JSON.parse(body(n)), { fan: 'off', $version: 3 });
    assert.equal(Number((n.message_annotations as Record<string, unknown>)['version']), 3);

    assert.equal((await twin(ch, { operation: 'DELETE', resource: '/notifications/twin/properties/desired' })).status, 200);
    await hub.updateDesired('wire-twin', { fan: 'auto' });
    const after = await twin(ch, { operation: 'GET' });
    assert.equal(JSON.parse(after.body).desired.fan, 'auto', 'after DELETE the next message is the answer, not a notification');
  } finally {
    await c.close();
  }
});

test('rhea: hostile twin requests get IoT Hub-style statuses (400, 413) with a JSON message, and the link keeps serving', async () => {
  const c = await deviceConnection('wire-hostile');
  try {
    const ch = await channel(c, '/devices/wire-hostile/twin');
    const cases: [string, Record<string, unknown>, string | Buffer | undefined, number][] = [
      ['no operation', {}, ' ', 400],
      ['an unknown operation', { operation: 'FROB' }, ' ', 400],
      ['an operation that is not a string', { operation: 42 }, ' ', 400],
      ['a GET with a resource', { operation: 'GET', resource: '/properties/desired' }, ' ', 400],
      ['a resource that is not a string', { operation: 'PATCH', resource: 7 }, '{}', 400],
      ['PATCH of the desired properties', { operation: 'PATCH', resource: '/properties/desired' }, '{"a":1}', 400],
      ['PUT of another resource', { operation: 'PUT', resource: '/properties/reported' }, ' ', 400],
      ['a body that is not JSON', { operation: 'PATCH', resource: '/properties/reported' }, 'not json', 400],
      ['a body that is not an object', { operation: 'PATCH', resource: '/properties/reported' }, '[1,2,3]', 400],
      ['a body nested 500 deep', { operation: 'PATCH', resource: '/properties/reported' }, '{"a":'.repeat(500) + '1' + '}'.repeat(500), 400],
      ['a key with a dollar sign', { operation: 'PATCH', resource: '/properties/reported' }, '{"a$b":1}', 400],
      ['a body over 64 KiB', { operation: 'PATCH', resource: '/properties/reported' }, Buffer.alloc(70 * 1024, 0x20), 413],
      ['reported properties over 32 KB', { operation: 'PATCH', resource: '/properties/reported' }, JSON.stringify({ big: 'x'.repeat(40_000) }), 413],
    ];
    for (const [what, ann, data, status] of cases) {
      const a = await twin(ch, ann, data);
      assert.equal(a.status, status, what);
      assert.equal(typeof JSON.parse(a.body).message, 'string', `${what}: the body is a JSON error message`);
    }
    // a __proto__ member is data, not the patch's prototype
    assert.equal((await twin(ch, { operation: 'PATCH', resource: '/properties/reported' }, '{"__proto__":{"polluted":1}}')).status, 204);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    // no correlation_id: nothing to answer to, so the delivery is rejected
    const d = await AmqpClient.send(ch.sender, { message_annotations: { operation: 'GET' }, body: ' ' } as never);
    assert.equal(d.state, 'rejected');
    assert.equal(d.condition, 'com.microsoft:argument-error');
    const g = await twin(ch, { operation: 'GET' });
    assert.equal(g.status, 200, 'the channel still serves');
    assert.equal(JSON.parse(g.body).reported['__proto__'].polluted, 1);
  } finally {
    await c.close();
  }
});

test("rhea: a twin receiver that gives no credit is detached once 64 answers, or 1 MiB of them on the connection, wait (bounded memory); another device's twin is refused", async () => {
  const c = await deviceConnection('wire-stingy');
  try {
    const ch = await channel(c, '/devices/wire-stingy/twin', { credit_window: 0 });
    const ended = new Promise<string>((resolve) => ch.receiver.once('receiver_close', (ctx: EventContext) => resolve(String((ctx.receiver!.error as { condition?: string } | undefined)?.condition))));
    for (let i = 0; i < 70; i++) ch.sender.send({ correlation_id: `r${i}`, message_annotations: { operation: 'GET' }, body: ' ' } as never);
    assert.equal(await ended, 'amqp:resource-limit-exceeded');
    // the connection, and a new channel on it, still work
    const fresh = await channel(c, '/devices/wire-stingy/twin');
    assert.equal((await twin(fresh, { operation: 'GET' })).status, 200);
    await hub.registry.addDevice('wire-other');
    await assert.rejects(channel(c, '/devices/wire-other/twin'), /refused/);
    // 40 answers of a 30 KB twin are over 1 MiB: the byte bound ends the link before the count does
    await hub.updateDesired('wire-stingy', { blob: 'b'.repeat(30_000) });
    const big = await channel(c, '/devices/wire-stingy/twin', { credit_window: 0 });
    const bigEnded = new Promise<string>((resolve) => big.receiver.once('receiver_close', (ctx: EventContext) => resolve(String((ctx.receiver!.error as { condition?: string; description?: string } | undefined)?.description))));
    for (let i = 0; i < 40; i++) big.sender.send({ correlation_id: `b${i}`, message_annotations: { operation: 'GET' }, body: ' ' } as never);
    assert.match(await bigEnded, /bytes of twin messages wait for credit/);
  } finally {
    await c.close();
  }
});

test('rhea: a method request carries IoThub-methodname and a UUID correlation_id; the answer with IoThub-status and the same correlation_id resolves the invocation', async () => {
  const c = await deviceConnection('wire-method');
  try {
    const ch = await channel(c, '/devices/wire-method/methods/devicebound', { autoaccept: false });
    const result = hub.invokeMethod('wire-method', 'setColor', { color: 'red' }, { responseTimeoutInSeconds: 10 });
    const req = await nextMessage(ch);
    assert.equal((req.application_properties as Record<string, unknown>)['IoThub-methodname'], 'setColor');
    assert.ok(Buffer.isBuffer(req.correlation_id) && (req.correlation_id as Buffer).length === 16, 'the correlation_id is a UUID');
    assert.deepEqual(JSON.parse(body(req)), { color: 'red' });
    // an answer without IoThub-status is refused; one for no pending request is ignored
    const noStatus = await AmqpClient.send(ch.sender, { correlation_id: req.correlation_id, body: rhea.message.data_section(Buffer.from('{}')) } as never);
    assert.equal(noStatus.condition, 'com.microsoft:argument-error');
    assert.equal((await AmqpClient.send(ch.sender, { correlation_id: 'nobody-asked', application_properties: { 'IoThub-status': 200 }, body: rhea.message.data_section(Buffer.from('1')) } as never)).state, 'accepted');
    const answered = await AmqpClient.send(ch.sender, {
      correlation_id: rhea.uuid_to_string(req.correlation_id as Buffer), application_properties: { 'IoThub-status': 202 },
      body: rhea.message.data_section(Buffer.from('{"ok":true}')),
    } as never);
    assert.equal(answered.state, 'accepted');
    assert.deepEqual(await result, { status: 202, payload: { ok: true } });
    // once the device detaches its method receiver it is not online for methods
    ch.receiver.close();
    await new Promise<void>((r) => ch.receiver.once('receiver_close', () => r()));
    await assert.rejects(hub.invokeMethod('wire-method', 'setColor', {}), (e: { status?: number }) => e.status === 404);
  } finally {
    await c.close();
  }
});

test('rhea: a method request waits for credit; an invocation that times out is a 504 and its late answer is ignored', async () => {
  const c = await deviceConnection('wire-slow');
  try {
    const ch = await channel(c, '/devices/wire-slow/methods/devicebound', { autoaccept: false, credit_window: 0 });
    const result = hub.invokeMethod('wire-slow', 'wait', null, { responseTimeoutInSeconds: 0.5 });
    await assert.rejects(result, (e: { status?: number }) => e.status === 504);
    ch.receiver.add_credit(1);
    const req = await nextMessage(ch);
    const late = await AmqpClient.send(ch.sender, { correlation_id: req.correlation_id, application_properties: { 'IoThub-status': 200 }, body: rhea.message.data_section(Buffer.from('1')) } as never);
    assert.equal(late.state, 'accepted');
  } finally {
    await c.close();
  }
});


test("rhea: disabling a device detaches its AMQP links with amqp:unauthorized-access; removing its module ends the module's links only", async () => {
  const c = await deviceConnection('wire-gone');
  const mod = await hub.registry.addModule('wire-gone', 'm1');
  const cm = await AmqpClient.open({ port: hub.amqpPort!, ca: hub.ca, username: `wire-gone/modules/m1@sas.${hub.hostName}`, password: sas(`${hub.hostName}/devices/wire-gone/modules/m1`, mod.primaryKey, inSeconds(600)) });
  try {
    const ch = await channel(c, '/devices/wire-gone/twin');
    const mch = await channel(cm, '/devices/wire-gone/modules/m1/twin');
    const end = (l: Sender | Receiver) => new Promise<string>((resolve) => l.once(l.is_sender() ? 'sender_close' : 'receiver_close', (ctx: EventContext) => {
      resolve(String(((l.is_sender() ? ctx.sender : ctx.receiver)!.error as { condition?: string } | undefined)?.condition));
    }));
    const moduleEnds = end(mch.receiver);
    await hub.registry.remove('wire-gone', 'm1');
    assert.equal(await moduleEnds, 'amqp:unauthorized-access');
    assert.equal((await twin(ch, { operation: 'GET' })).status, 200, "the device's own links are untouched");
    const deviceEnds = Promise.all([end(ch.sender), end(ch.receiver)]);
    await hub.registry.update('wire-gone', undefined, { status: 'disabled' });
    assert.deepEqual(await deviceEnds, ['amqp:unauthorized-access', 'amqp:unauthorized-access']);
    await assert.rejects(channel(c, '/devices/wire-gone/twin'), /refused/, 'the SASL claim went with it');
  } finally {
    await cm.close();
    await c.close();
  }
});

test("rhea: an AMQP device is connected (the hub's 'connected' event, transport amqp) from its first device link to the end of its last", async () => {
  const events: string[] = [];
  const on = (up: boolean) => (e: { deviceId: string; transport?: string; reason?: string }) => {
    if (e.deviceId === 'wire-state') events.push(up ? `connected ${e.transport}` : `disconnected ${e.reason}`);
  };
  const onUp = on(true), onDown = on(false);
  hub.on('connected', onUp);
  hub.on('disconnected', onDown);
  const c = await deviceConnection('wire-state');
  try {
    assert.equal(hub.isConnected('wire-state'), false, 'a connection with a token but no device link is not a connected device');
    const ch = await channel(c, '/devices/wire-state/twin');
    assert.equal(hub.isConnected('wire-state'), true);
    assert.ok(hub.connectionStateUpdatedTime('wire-state') instanceof Date);
    const telemetry = await c.sender('/devices/wire-state/messages/events');
    ch.sender.close();
    ch.receiver.close();
    await new Promise<void>((r) => ch.receiver.once('receiver_close', () => r()));
    assert.equal(hub.isConnected('wire-state'), true, 'the telemetry link still counts');
    assert.deepEqual(events, ['connected amqp']);
    const gone = new Promise<void>((r) => hub.once('disconnected', () => r()));
    telemetry.close();
    await gone;
    assert.equal(hub.isConnected('wire-state'), false);
    assert.deepEqual(events, ['connected amqp', 'disconnected link detached']);
  } finally {
    hub.off('connected', onUp);
    hub.off('disconnected', onDown);
    await c.close();
  }
});
