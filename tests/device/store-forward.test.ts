// Store and forward (`store: <folder>`): accepted QoS 1 telemetry survives a killed process. A device process
// (store-forward-child.ts) accepts 500 messages with the hub down and is killed with SIGKILL; started again with the
// same store and the hub back on the same port and data folder, every message id reaches the hub, in order; a third
// start sends none again. In-process: a corrupt or torn store is reported by code and its good records still sent,
// a full store is CLIENT_STORE_FULL, restored messages keep their ids, creation times and order, the store is the
// queue behind an outbox smaller than it (the MCU build's 8 slots), and the DPS assignment is kept in the folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LocalHub, type TelemetryMessage } from '../../host/hub/index.js';
import { DeviceClient } from '../../host/device/client.js';
import { SharedCore } from '../../host/device/shared-core.js';
import type { IotHubWasmError } from '../../host/errors.js';
import { startHub, device, waitFor, FAST_RETRY, type Rig } from './support.js';

const CHILD = fileURLToPath(new URL('./store-forward-child.js', import.meta.url));
let rig: Rig;
const folders: string[] = [];
function folder(): string {
  const f = mkdtempSync(join(tmpdir(), 'iothub-wasm-store-'));
  folders.push(f);
  return f;
}

before(async () => { rig = await startHub({ dpsPort: 0, dpsRetryAfterSeconds: 0 }); });
after(async () => {
  await rig?.stop();
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

/** Message ids of `deviceId`'s telemetry as the hub sees it, in arrival order, until `stop()`. */
function watch(hub: LocalHub, deviceId: string): { ids: string[]; messages: TelemetryMessage[]; until(n: number, what: string): Promise<void>; stop(): void } {
  const ids: string[] = [];
  const messages: TelemetryMessage[] = [];
  let waiter: { n: number; done: () => void } | null = null;
  const on = (m: TelemetryMessage) => {
    if (m.deviceId !== deviceId) return;
    ids.push(String(m.systemProperties['messageId']));
    messages.push(m);
    if (waiter && ids.length >= waiter.n) { waiter.done(); waiter = null; }
  };
  hub.on('telemetry', on);
  return {
    ids, messages,
    until: (n, what) => ids.length >= n ? Promise.resolve() : waitFor<void>((done) => { waiter = { n, done }; }, 20000, what),
    stop: () => { hub.off('telemetry', on); },
  };
}

/** A device process: its JSON lines one at a time, and its exit. */
class Child {
  private readonly lines: AsyncIterator<string>;
  readonly exited: Promise<number | null>;
  private constructor(readonly proc: ChildProcess) {
    this.lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }
  static start(args: Record<string, unknown>): Child {
    return new Child(spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await Promise.race([this.lines.next(), this.exited.then(() => ({ done: true as const, value: undefined }))]);
    if (r.done) throw new Error('the device process ended without saying more');
    return JSON.parse(r.value) as Record<string, unknown>;
  }
  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

test('500 messages accepted with the hub down survive SIGKILL: after a restart with the same store every id reaches the hub, in order; a second restart sends none again', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'iothub-wasm-store-hub-'));
  folders.push(dataDir);
  let hub = await LocalHub.start({ port: 0, log: false, dataDir });
  const port = hub.port;
  const { connectionString } = await hub.registry.addDevice('sf-kill');
  const ca = hub.ca;
  await hub.stop(); // the hub is down while the device accepts its messages
  const store = folder();
  const ids = Array.from({ length: 500 }, (_, i) => `kill-${i}`);
  const base = { connectionString, ca, store };

  const first = Child.start({ ...base, mode: 'accept', count: 500, prefix: 'kill' });
  try {
    const accepted = await first.next();
    assert.equal(accepted['accepted'], 500);
    assert.equal((accepted['status'] as { pending: number }).pending, 500);
  } finally {
    await first.kill();
  }

  hub = await LocalHub.start({ port, log: false, dataDir });
  try {
    const seen = watch(hub, 'sf-kill');
    const second = Child.start({ ...base, mode: 'drain' });
    try {
      const opened = await second.next();
      assert.deepEqual(opened['opened'], { restored: 500, corrupt: 0, truncated: 0, folder: store, pending: 500 });
      assert.deepEqual(opened['warnings'], []);
      const drained = await second.next();
      assert.equal((drained['drained'] as { pending: number }).pending, 0);
      await seen.until(500, 'the 500 stored messages');
    } finally {
      await second.kill();
    }
    assert.deepEqual(seen.ids, ids, 'every id once, in the order accepted');
    assert.deepEqual(JSON.parse(seen.messages[499]!.body.toString()), { i: 499 });

    const third = Child.start({ ...base, mode: 'marker', prefix: 'after-restart' });
    const opened = await third.next();
    assert.deepEqual(opened['opened'], { restored: 0, corrupt: 0, truncated: 0, folder: store, pending: 0 });
    assert.deepEqual(await third.next(), { marker: { restored: 0, corrupt: 0, truncated: 0, folder: store, pending: 0 } });
    assert.equal(await third.exited, 0);
    // the restored messages would have gone first (the outbox is oldest first): only the marker came
    assert.deepEqual(seen.ids.slice(500), ['after-restart']);
    seen.stop();
  } finally {
    await hub.stop();
  }
});

/** A client with a store that never connects: `count` messages accepted, then closed (they stay stored). */
async function acceptOffline(connectionString: string, store: string | { folder: string; maxMessages?: number }, ids: string[]): Promise<void> {
  const c = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, store });
  const failed: string[] = [];
  const sends = ids.map((id) => c.sendTelemetry({ id }, { messageId: id }).catch((e: IotHubWasmError) => { failed.push(e.code); }));
  await c.close();
  await Promise.all(sends);
  assert.deepEqual(failed, ids.map(() => 'CLIENT_CLOSED'), 'closing rejects what was not acknowledged (it stays stored)');
}

test('a store with a flipped byte and a torn last record: both reported by code (CLIENT_STORE_CORRUPT, CLIENT_STORE_TRUNCATED), the good records still sent, in order', async () => {
  const { connectionString } = await rig.hub.registry.addDevice('sf-corrupt');
  const store = folder();
  await acceptOffline(connectionString, store, ['c-0', 'c-1', 'c-2', 'c-3', 'c-4']);
  const log = join(store, 'telemetry.log');
  const bytes = readFileSync(log);
  const at = bytes.indexOf('"c-2"'); // inside record 2's payload
  assert.ok(at > 0);
  bytes[at + 2] ^= 0x01;
  writeFileSync(log, bytes.subarray(0, bytes.length - 7)); // and record 4 cut short, as a kill mid-write leaves it

  const seen = watch(rig.hub, 'sf-corrupt');
  const c = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, store, retry: FAST_RETRY });
  const warnings: string[] = [];
  c.on('warning', (e: IotHubWasmError) => warnings.push(e.code));
  try {
    await c.connect();
    assert.deepEqual(warnings.sort(), ['CLIENT_STORE_CORRUPT', 'CLIENT_STORE_TRUNCATED']);
    assert.deepEqual(c.storeStatus && { restored: c.storeStatus.restored, corrupt: c.storeStatus.corrupt, truncated: c.storeStatus.truncated },
      { restored: 3, corrupt: 1, truncated: 1 });
    await seen.until(3, 'the three good records');
    assert.deepEqual(seen.ids, ['c-0', 'c-1', 'c-3']);
    assert.ok(existsSync(`${log}.bad`), 'the log with bad bytes is kept aside');
  } finally {
    seen.stop();
    await c.close();
  }
});

test('restored messages keep their original message id, creation time ($.ctime, ISO 8601) and order; a message without an id gets a UUID', async () => {
  const { connectionString } = await rig.hub.registry.addDevice('sf-ids');
  const store = folder();
  const before = Date.now();
  {
    const c = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, store });
    const p = [c.sendTelemetry('one', { messageId: 'first' }), c.sendTelemetry('two'), c.sendTelemetry('three', { messageId: 'third' })];
    await c.close();
    await Promise.allSettled(p);
  }
  const afterAccepting = Date.now();
  const seen = watch(rig.hub, 'sf-ids');
  const c = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, store, retry: FAST_RETRY });
  try {
    assert.equal(c.storeStatus?.restored, 3);
    await c.connect();
    await seen.until(3, 'the restored messages');
    assert.deepEqual(seen.messages.map((m) => m.body.toString()), ['one', 'two', 'three']);
    assert.equal(seen.ids[0], 'first');
    assert.match(seen.ids[1]!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(seen.ids[2], 'third');
    for (const m of seen.messages) {
      const ctime = String(m.systemProperties['iothub-creation-time-utc']);
      assert.match(ctime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const t = Date.parse(ctime);
      // made by the first process (clock to the millisecond, anchored to the second): not when it was resent
      assert.ok(t >= Math.floor(before / 1000) * 1000 && t <= afterAccepting, `${ctime} is when the message was accepted`);
    }
  } finally {
    seen.stop();
    await c.close();
  }
});

test('a store that outlived a re-provisioning: the other identity\'s messages are a CLIENT_FOREIGN_TOPIC warning, never sent, and dropped', async () => {
  const old = await rig.hub.registry.addDevice('sf-old-identity');
  const now = await rig.hub.registry.addDevice('sf-new-identity');
  const store = folder();
  await acceptOffline(old.connectionString, store, ['o-0', 'o-1']);
  const seenOld = watch(rig.hub, 'sf-old-identity');
  const seenNew = watch(rig.hub, 'sf-new-identity');
  const c = DeviceClient.fromConnectionString(now.connectionString, { ca: rig.hub.ca, store, retry: FAST_RETRY });
  const warnings: string[] = [];
  c.on('warning', (e: IotHubWasmError) => warnings.push(e.code));
  try {
    await c.connect();
    assert.deepEqual(warnings, ['CLIENT_FOREIGN_TOPIC', 'CLIENT_FOREIGN_TOPIC']);
    await c.sendTelemetry('mine', { messageId: 'n-0' });
    await seenNew.until(1, 'the new identity\'s message');
    assert.deepEqual(seenNew.ids, ['n-0']);
    assert.deepEqual(seenOld.ids, []);
    assert.equal(c.storeStatus?.pending, 0);
  } finally {
    seenOld.stop();
    seenNew.stop();
    await c.close();
  }
  const again = DeviceClient.fromConnectionString(now.connectionString, { store });
  assert.equal(again.storeStatus?.restored, 0, 'marked done: not tried again');
  await again.close();
});

test('a full store is back-pressure with a code: the message past maxMessages is CLIENT_STORE_FULL, and is accepted once an acknowledgement makes room', async () => {
  const { client, connectionString } = await device(rig.hub, 'sf-full', { store: { folder: folder(), maxMessages: 3 } });
  void connectionString;
  const seen = watch(rig.hub, 'sf-full');
  try {
    const three = [0, 1, 2].map((i) => client.sendTelemetry({ i }, { messageId: `f-${i}` }));
    await assert.rejects(client.sendTelemetry({ i: 3 }, { messageId: 'f-3' }), (e: IotHubWasmError) => e.code === 'CLIENT_STORE_FULL');
    assert.equal(client.storeStatus?.pending, 3);
    await client.connect();
    await Promise.all(three);
    assert.equal(client.storeStatus?.pending, 0);
    await client.sendTelemetry({ i: 3 }, { messageId: 'f-3' });
    await seen.until(4, 'the four messages');
    assert.deepEqual(seen.ids, ['f-0', 'f-1', 'f-2', 'f-3']);
    await assert.rejects(async () => DeviceClient.fromConnectionString(connectionString, { store: { folder: folder(), maxBytes: 0 } }),
      (e: IotHubWasmError) => e.code === 'BAD_ARGUMENT');
  } finally {
    seen.stop();
    await client.close();
  }
});

test('the store is the queue, the outbox a window on it: 40 stored messages through the MCU build\'s 8-slot outbox all arrive, in order', async () => {
  const store = folder();
  const { client } = await device(rig.hub, 'sf-window', { profile: 'mcu', store });
  const seen = watch(rig.hub, 'sf-window');
  try {
    assert.equal(client.maxQueued, 8);
    const ids = Array.from({ length: 40 }, (_, i) => `w-${i}`);
    const sends = ids.map((id) => client.sendTelemetry(id, { messageId: id }));
    assert.equal(client.storeStatus?.pending, 40);
    await client.connect();
    await Promise.all(sends);
    await seen.until(40, 'the 40 messages');
    assert.deepEqual(seen.ids, ids);
    assert.equal(client.storeStatus?.pending, 0);
  } finally {
    seen.stop();
    await client.close();
  }
});

test('devices sharing one core each keep their own store: restored records go to their own device, in order, across core switches', async () => {
  const shared = new SharedCore('gateway');
  const names = ['sf-shared-a', 'sf-shared-b', 'sf-shared-c'];
  const rigs = await Promise.all(names.map(async (id) => ({ id, store: folder(), cs: (await rig.hub.registry.addDevice(id)).connectionString })));
  for (const r of rigs) await acceptOffline(r.cs, r.store, [0, 1, 2, 3, 4].map((i) => `${r.id}-${i}`));
  const watches = rigs.map((r) => watch(rig.hub, r.id));
  const clients = rigs.map((r) => DeviceClient.fromConnectionString(r.cs, { ca: rig.hub.ca, store: r.store, shared, retry: FAST_RETRY }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    // and one new message each, interleaved, after the restored ones
    await Promise.all(clients.map((c, i) => c.sendTelemetry('new', { messageId: `${names[i]}-new` })));
    for (const [i, w] of watches.entries()) {
      await w.until(6, names[i]!);
      assert.deepEqual(w.ids, [0, 1, 2, 3, 4].map((k) => `${names[i]}-${k}`).concat(`${names[i]}-new`));
    }
    assert.ok(shared.switches > names.length, 'the core switched devices');
  } finally {
    for (const w of watches) w.stop();
    await Promise.all(clients.map((c) => c.close()));
  }
});

test('DeviceClient.fromProvisioning({ store }) keeps the assignment in the folder: the next start connects without registering; a refused connect with a stale assignment registers again', async () => {
  const dps = rig.hub.dps!;
  const e = await dps.addEnrollment('sf-dps');
  const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
  let requests = 0;
  const on = (r: { registrationId: string }) => { if (r.registrationId === 'sf-dps') requests++; };
  dps.on('request', on);
  const store = folder();
  const options = { idScope: dps.idScope, provisioningHost: 'localhost', port: dps.port, ca: rig.hub.ca, retryAfter: { minMs: 20 }, registrationId: 'sf-dps', symmetricKey: key, store };
  try {
    const first = await DeviceClient.fromProvisioning(options);
    await first.close();
    const afterFirst = requests;
    assert.ok(afterFirst > 0);
    assert.equal((JSON.parse(readFileSync(join(store, 'assignments.json'), 'utf8')) as Record<string, { deviceId: string }>)['sf-dps']?.deviceId, 'sf-dps');
    const second = await DeviceClient.fromProvisioning(options);
    assert.equal(second.state, 'ready');
    assert.equal(requests, afterFirst, 'no second registration');
    await second.close();
    await rig.hub.registry.remove('sf-dps'); // the assignment is stale now: the hub refuses it
    const third = await DeviceClient.fromProvisioning(options);
    try {
      assert.equal(third.state, 'ready');
      assert.ok(requests > afterFirst, 'registered again');
      const seen = watch(rig.hub, 'sf-dps');
      await third.sendTelemetry('after re-provisioning', { messageId: 'dps-1' });
      await seen.until(1, 'the message');
      assert.deepEqual(seen.ids, ['dps-1']);
      seen.stop();
    } finally {
      await third.close();
    }
  } finally {
    dps.off('request', on);
  }
});
