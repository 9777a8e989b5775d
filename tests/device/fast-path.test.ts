// The fast paths beside sendTelemetry: a property bag encoded once (TelemetryProperties) and a batch of messages
// for one promise (sendTelemetryBatch) put the same bytes on the wire as the simple call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TelemetryProperties } from '../../host/device/client.js';
import { SharedCore } from '../../host/device/shared-core.js';
import { IotHubWasmError } from '../../host/errors.js';
import fc from 'fast-check';
import { startHub, device } from './support.js';
import { fcParams } from '../support/fast-check.js';

const PROPS = { 'weird key &=/ü': 'a b&c=d/e ü€😀?#+', alert: 'high', empty: '', bare: null };

test('a pre-built TelemetryProperties and a batch deliver exactly the properties and bodies the simple call does', async () => {
  const rig = await startHub();
  const { client } = await device(rig.hub, 'fast-1');
  const seen: Array<{ body: string; properties: Record<string, string | null>; messageId?: string }> = [];
  rig.hub.on('telemetry', (m) => seen.push({ body: m.body.toString(), properties: { ...m.properties }, messageId: m.systemProperties['messageId'] }));
  try {
    await client.connect();
    const bag = new TelemetryProperties(PROPS);
    await client.sendTelemetry('simple', { properties: PROPS, messageId: 'm-simple' });
    await client.sendTelemetry('bag', { properties: bag, messageId: 'm-bag' });
    await client.sendTelemetryBatch(['b0', Buffer.from('b1'), { b: 2 }], { properties: bag });
    await client.sendTelemetryBatch([], { properties: bag });
    const deadline = Date.now() + 5000;
    while (seen.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen.map((m) => m.body), ['simple', 'bag', 'b0', 'b1', '{"b":2}']);
    for (const m of seen) assert.deepEqual(m.properties, PROPS, `${m.body}: the same application properties`);
    assert.equal(seen[1]!.messageId, 'm-bag');
  } finally {
    await client.close();
    await rig.stop();
  }
});

test('a batch beyond the outbox rejects with CLIENT_QUEUE_FULL and a bad property name with the core\'s code', async () => {
  const rig = await startHub();
  const { client } = await device(rig.hub, 'fast-2', { profile: 'mcu' });
  try {
    await client.connect();
    const slots = client.maxQueued;
    await assert.rejects(client.sendTelemetryBatch(Array.from({ length: slots + 1 }, (_v, i) => `m${i}`)),
      (e: IotHubWasmError) => e.code === 'CLIENT_QUEUE_FULL');
    const tooBig = new TelemetryProperties({ ['n'.repeat(70_000)]: 'v' });
    await assert.rejects(client.sendTelemetry('x', { properties: tooBig }), (e: IotHubWasmError) => e instanceof IotHubWasmError && /^CLIENT_/.test(e.code));
    assert.throws(() => new TelemetryProperties(null as unknown as Record<string, string>), (e: IotHubWasmError) => e.code === 'BAD_ARGUMENT');
    // Once the queued part of the batch is acknowledged, the client sends again.
    for (let i = 0; ; i++) {
      try { await client.sendTelemetry('still fine', { properties: new TelemetryProperties({ a: 'b' }) }); break; } catch (e) {
        if ((e as IotHubWasmError).code !== 'CLIENT_QUEUE_FULL' || i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    await client.close();
    await rig.stop();
  }
});

// The core reuses the last message's encoded properties while a message's are the same (DeviceClient compares what
// it is given with what it last encoded; the core forgets its copy on a device switch or a new property). Whatever
// the sequence — the same object mutated, system properties coming and going, a pre-built bag, two devices taking
// turns on one shared core, a refused property in between — each message must arrive with exactly its own.
test('repeated properties are reused only while they are the same: random sequences over two devices on one shared core', async () => {
  const rig = await startHub();
  const shared = new SharedCore();
  const a = await device(rig.hub, 'repeat-a', { shared });
  const b = await device(rig.hub, 'repeat-b', { shared });
  const clients = { 'repeat-a': a.client, 'repeat-b': b.client };
  const seen = new Map<string, { properties: Record<string, string | null>; system: Record<string, string | undefined> }>();
  rig.hub.on('telemetry', (m) => seen.set(m.body.toString(), {
    properties: { ...m.properties }, system: { messageId: m.systemProperties['messageId'], contentType: m.systemProperties['contentType'] },
  }));
  const bag = new TelemetryProperties({ alert: 'high', unit: '°C' });
  const shared1 = { alert: 'none', source: 'bench' } as Record<string, string | null>;
  // One step: which device, which properties (some kinds mutate the object kept across steps), which system ones.
  const step = fc.record({
    who: fc.constantFrom('repeat-a', 'repeat-b'),
    props: fc.constantFrom('same-object', 'mutate-value', 'add-key', 'drop-key', 'fresh-equal', 'bag', 'none', 'null-value', 'refused'),
    messageId: fc.boolean(), contentType: fc.boolean(), qos: fc.constantFrom(0 as const, 1 as const),
  });
  let n = 0;
  try {
    await a.client.connect();
    await b.client.connect();
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
      const expected = new Map<string, { properties: Record<string, string | null>; system: Record<string, string | undefined> }>();
      const sends: Array<Promise<void>> = [];
      for (const s of steps) {
        const body = `m${n++}`;
        let properties: Record<string, string | null> | TelemetryProperties | undefined;
        switch (s.props) {
          case 'same-object': properties = shared1; break;
          case 'mutate-value': shared1['alert'] = `v${n % 3}`; properties = shared1; break;
          case 'add-key': shared1[`k${n % 2}`] = 'x'; properties = shared1; break;
          case 'drop-key': delete shared1['k0']; delete shared1['k1']; properties = shared1; break;
          case 'fresh-equal': properties = { ...shared1 }; break;
          case 'bag': properties = bag; break;
          case 'none': properties = undefined; break;
          case 'null-value': properties = { ...shared1, bare: null }; break;
          case 'refused': properties = { '': 'an empty name is refused' }; break;
        }
        const options = {
          ...(properties ? { properties } : {}), qos: s.qos,
          ...(s.messageId ? { messageId: `id-${body}` } : {}), ...(s.contentType ? { contentType: 'application/json' } : {}),
        };
        const sent = clients[s.who as keyof typeof clients].sendTelemetry(body, options);
        if (s.props === 'refused') {
          await assert.rejects(sent, (e: IotHubWasmError) => e.code === 'IOTHUB_BAG_EMPTY_NAME');
          continue;
        }
        sends.push(sent);
        const given = properties instanceof TelemetryProperties ? { alert: 'high', unit: '°C' } : properties ? { ...properties } : {};
        expected.set(body, { properties: given, system: { messageId: s.messageId ? `id-${body}` : undefined, contentType: s.contentType ? 'application/json' : undefined } });
      }
      await Promise.all(sends);
      const deadline = Date.now() + 5000;
      while ([...expected.keys()].some((k) => !seen.has(k)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const [body, e] of expected) {
        const got = seen.get(body);
        assert.ok(got, `${body} arrived`);
        assert.deepEqual(got.properties, e.properties, `${body}: its own application properties`);
        assert.deepEqual(got.system, e.system, `${body}: its own system properties`);
      }
    }), fcParams(40));
  } finally {
    await a.client.close();
    await b.client.close();
    await rig.stop();
  }
});
