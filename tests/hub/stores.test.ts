// The data folder's stores: JsonFile (lock, read-modify-write, modes, temp clean-up), the registry shared by the hub
// and the CLI in another process, policies kept across starts, the C2D queue kept across restarts, one hub per folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonFile, LockError, removeOrphanedTempFiles } from '../../host/hub/state/store.js';
import { Registry } from '../../host/hub/state/registry.js';
import { Policies } from '../../host/hub/service/policies.js';
import { C2DQueue, type FeedbackRecord } from '../../host/hub/state/c2d-queue.js';
import { LocalHub } from '../../host/hub/index.js';
import { tempDir, removeDir, startHub, connectRaw, closed, endClient, inSeconds, restCall, type RestAnswer } from './helpers.js';
import { AmqpClient, policySas } from './amqp-client.js';

const CLI = fileURLToPath(new URL('../../host/cli.js', import.meta.url));

const mode = (p: string) => statSync(p).mode & 0o777;

/** The pid of a process that has exited (and so cannot hold a lock). */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', () => resolve(c.pid!));
  });
}

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'hub', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

function rest(hub: LocalHub, method: string, path: string, token: string, body?: unknown): Promise<RestAnswer> {
  return restCall({ port: hub.restPort!, ca: hub.ca }, method, path, { auth: token, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

const V = 'api-version=2021-04-12';

// --- JsonFile ----------------------------------------------------------------------------------------------------

test('a JsonFile write is 0600 in a 0700 folder, complete once save() resolves, and leaves no temp file', async () => {
  const root = tempDir();
  try {
    chmodSync(root, 0o755);
    const dir = join(root, 'data');
    let doc = { n: 1 };
    const f = new JsonFile(join(dir, 'doc.json'), () => doc);
    await f.save();
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(join(dir, 'doc.json')), 0o600);
    doc = { n: 2 };
    await f.save();
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'doc.json'), 'utf8')), { n: 2 });
    assert.deepEqual(readdirSync(dir), ['doc.json']);
    // an existing folder that was world-readable is made private by the next write
    chmodSync(dir, 0o755);
    f.saveSync();
    await f.save();
    assert.equal(mode(dir), 0o700);
  } finally { removeDir(root); }
});

test('update() is a read-modify-write: two JsonFiles on one file interleaving 2 × 25 appends lose none', async () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'list.json');
    const mk = () => {
      let items: number[] = [];
      const f = new JsonFile<{ items: number[] }>(path, () => ({ items }));
      return { f, add: (n: number) => f.update((disk) => { items = [...(disk?.items ?? []), n]; }) };
    };
    const a = mk();
    const b = mk();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 25; i++) writes.push(a.add(i), b.add(100 + i));
    await Promise.all(writes);
    const items = (JSON.parse(readFileSync(path, 'utf8')) as { items: number[] }).items;
    assert.equal(items.length, 50);
    assert.equal(new Set(items).size, 50);
    assert.ok(!existsSync(`${path}.lock`), 'the lock is released');
  } finally { removeDir(dir); }
});

test('a lock held by a live process makes update() wait, bounded, and fail naming that pid', async () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'doc.json');
    writeFileSync(`${path}.lock`, `${process.ppid}\n`);
    const f = new JsonFile(path, () => ({ x: 1 }));
    f.lockWaitMs = 150;
    await assert.rejects(f.update(() => {}), (e: Error) => e instanceof LockError && e.holderPid === process.ppid && e.message.includes(`process ${process.ppid}`));
    assert.ok(!existsSync(path), 'nothing written without the lock');
    // released during the wait: the write goes ahead
    f.lockWaitMs = 5000;
    const waiting = f.update(() => 'written');
    setTimeout(() => removeDir(`${path}.lock`), 50);
    assert.equal(await waiting, 'written');
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { x: 1 });
  } finally { removeDir(dir); }
});

test('a lock left by a process that died is recovered', async () => {
  const dir = tempDir();
  try {
    const path = join(dir, 'doc.json');
    writeFileSync(`${path}.lock`, `${await deadPid()}\n`);
    const f = new JsonFile(path, () => ({ ok: true }));
    f.lockWaitMs = 100;
    await f.update(() => {});
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { ok: true });
    assert.ok(!existsSync(`${path}.lock`));
  } finally { removeDir(dir); }
});

test('temp files of killed writers are removed at start; a live writer\'s are kept', async () => {
  const dir = tempDir();
  try {
    const dead = await deadPid();
    mkdirSync(join(dir, 'events', '0'), { recursive: true });
    const orphans = [join(dir, `registry.json.${dead}.tmp`), join(dir, 'events', '0', 'part.tmp')];
    const live = join(dir, `registry.json.${process.ppid}.tmp`);
    for (const f of [...orphans, live]) writeFileSync(f, '{"half');
    assert.deepEqual(removeOrphanedTempFiles(dir).sort(), orphans.sort());
    assert.ok(existsSync(live));
    // the hub does the same when it starts
    writeFileSync(orphans[0]!, '{"half');
    const { done } = await startHub({ dataDir: dir });
    try { assert.ok(!existsSync(orphans[0]!)); } finally { await done(); }
  } finally { removeDir(dir); }
});

// --- Registry ----------------------------------------------------------------------------------------------------

test('two Registry instances on one folder (hub and CLI) interleaving adds and a status change keep all 20 devices', async () => {
  const dir = tempDir();
  try {
    const hubSide = new Registry(dir, 'localhost');
    const cliSide = new Registry(dir, 'localhost');
    for (let i = 0; i < 10; i++) {
      await new Registry(dir, 'localhost').addDevice(`cli-${i}`);   // a fresh CLI process each time
      await hubSide.addDevice(`hub-${i}`);                           // the hub's map is stale: it must merge
    }
    await cliSide.addDevice('cli-x');
    await hubSide.setStatus('hub-0', undefined, 'disabled');
    const ids = new Registry(dir, 'localhost').list().map((d) => d.deviceId);
    assert.equal(ids.length, 21);
    for (let i = 0; i < 10; i++) assert.ok(ids.includes(`cli-${i}`) && ids.includes(`hub-${i}`), `cli-${i}, hub-${i}`);
    assert.equal(new Registry(dir, 'localhost').get('hub-0')!.status, 'disabled');
    // the other instance's conflict check sees the file, not its stale map
    await assert.rejects(hubSide.addDevice('cli-x'), /already exists/);
  } finally { removeDir(dir); }
});

test('four processes adding 4 × 25 devices to one registry at once lose none', async () => {
  const dir = tempDir();
  try {
    const writer = fileURLToPath(new URL('./registry-writer-child.js', import.meta.url));
    const run = (prefix: string) => new Promise<number>((resolve) => {
      spawn(process.execPath, [writer, dir, prefix, '25'], { stdio: ['ignore', 'ignore', 'inherit'] }).on('exit', (code) => resolve(code ?? 1));
    });
    assert.deepEqual(await Promise.all(['p', 'q', 'r', 's'].map(run)), [0, 0, 0, 0]);
    const ids = new Registry(dir, 'localhost').list().map((d) => d.deviceId);
    assert.equal(ids.length, 100);
    assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.json')), [], 'no lock or temp file is left');
  } finally { removeDir(dir); }
});

test('a device another process removes or disables is announced as removed / disabled (lookup and file watch)', async () => {
  const dir = tempDir();
  try {
    const hubSide = new Registry(dir, 'localhost');
    const other = new Registry(dir, 'localhost');
    await other.addDevice('a');
    await other.addDevice('b');
    await other.addModule('b', 'm');
    assert.ok(hubSide.record('a'), 'a lookup sees a device added by another process');
    const events: string[] = [];
    hubSide.on('removed', (d, m) => events.push(`removed ${d}${m ? '/' + m : ''}`));
    hubSide.on('disabled', (d) => events.push(`disabled ${d}`));
    await other.setStatus('a', undefined, 'disabled');
    await other.remove('b');
    hubSide.record('a');
    assert.deepEqual(events, ['disabled a', 'removed b']);
    events.length = 0;
    hubSide.watch();
    try {
      const removed = new Promise<void>((resolve) => hubSide.once('removed', () => resolve()));
      await other.remove('a');
      await within(removed, 3000, 'removed through the file watch');
      assert.deepEqual(events, ['removed a']);
    } finally { hubSide.close(); }
  } finally { removeDir(dir); }
});

test('registry records are read into fresh objects: unknown members dropped, wrong types refused', () => {
  const dir = tempDir();
  try {
    const key = Buffer.alloc(32, 1).toString('base64');
    writeFileSync(join(dir, 'registry.json'), `{"version":1,"identities":[{"deviceId":"d","primaryKey":"${key}","secondaryKey":"${key}",` +
      `"status":"enabled","createdAt":"2026-01-01T00:00:00Z","isOwner":true,` +
      `"__proto__":{"x509Thumbprints":{"primary":"${'A'.repeat(40)}"}},"x509Thumbprints":{"primary":"${'b'.repeat(40)}","__proto__":{"secondary":"x"}}}]}`);
    const rec = new Registry(dir, 'localhost').record('d')!;
    assert.deepEqual(Object.keys(rec).sort(), ['createdAt', 'deviceId', 'primaryKey', 'secondaryKey', 'status', 'x509Thumbprints']);
    assert.equal(Object.getPrototypeOf(rec), Object.prototype);
    assert.deepEqual(rec.x509Thumbprints, { primary: 'B'.repeat(40) });
    assert.equal(Object.getPrototypeOf(rec.x509Thumbprints), Object.prototype);
    for (const [field, value] of [['status', '{"a":1}'], ['primaryKey', '5'], ['deviceId', '"a/b"']] as const) {
      const r: Record<string, string> = { deviceId: '"d"', primaryKey: `"${key}"`, secondaryKey: `"${key}"`, status: '"enabled"', createdAt: '"x"' };
      r[field] = value;
      writeFileSync(join(dir, 'registry.json'), `{"identities":[{${Object.entries(r).map(([k, v]) => `"${k}":${v}`).join(',')}}]}`);
      assert.throws(() => new Registry(dir, 'localhost'), new RegExp(`identities\\[0\\].*${field === 'deviceId' ? 'device id' : field}`), field);
    }
  } finally { removeDir(dir); }
});

// --- Policies ----------------------------------------------------------------------------------------------------

test('policies.json is written on first use (0600) and every later start reads the same keys', () => {
  const dir = tempDir();
  try {
    const first = new Policies(dir, 'localhost');
    assert.equal(mode(join(dir, 'policies.json')), 0o600);
    const again = new Policies(dir, 'localhost');
    for (const p of first.list()) assert.equal(again.get(p.keyName)!.primaryKey, p.primaryKey, p.keyName);
    assert.equal(again.list().length, 5);
  } finally { removeDir(dir); }
});

// --- C2DQueue ----------------------------------------------------------------------------------------------------

test('queued and delivered-unacknowledged C2D messages survive a reopen: delivered go back to queued, counts kept', async () => {
  const dir = tempDir();
  try {
    const q = new C2DQueue();
    q.open(dir);
    q.enqueue('d', Buffer.from('one'), { messageId: 'm1', properties: { a: 'b', __proto__: 'x' } as never, ack: 'full', ttlSeconds: 600 });
    q.enqueue('d', Buffer.from([0, 255]), { messageId: 'm2' });
    q.enqueue('d', Buffer.from('three'), { messageId: 'm3' });
    const first = q.takeNext('d')!;
    q.complete(q.takeNext('d')!.lockToken);    // m2 done: not restored
    await q.flush();
    assert.equal(mode(join(dir, 'c2d.json')), 0o600);
    const r = new C2DQueue();
    assert.equal(r.open(dir), 2);
    const p = r.pending('d');
    assert.deepEqual(p.map((m) => [m.messageId, m.state, m.deliveryCount]), [['m1', 'queued', 1], ['m3', 'queued', 0]]);
    assert.equal(p[0]!.lockToken, first.lockToken);
    assert.deepEqual(p[0]!.body, Buffer.from('one'));
    assert.equal(p[0]!.ack, 'full');
    assert.equal(p[0]!.expiresAt, first.expiresAt);
    assert.deepEqual({ ...p[0]!.properties }, { a: 'b' });
    assert.equal(Object.getPrototypeOf(p[0]!.properties), Object.prototype);
    assert.equal(r.takeNext('d')!.deliveryCount, 2);
  } finally { removeDir(dir); }
});

test('C2D messages that expired while the hub was down are dropped on load with Expired feedback', async () => {
  const dir = tempDir();
  try {
    let now = 1_000_000;
    const q = new C2DQueue(10, () => now);
    q.open(dir);
    q.enqueue('d', Buffer.from('short'), { messageId: 'short', ttlSeconds: 1, ack: 'negative' });
    q.enqueue('d', Buffer.from('long'), { messageId: 'long', ttlSeconds: 60 });
    await q.flush();
    now += 2000;
    const r = new C2DQueue(10, () => now);
    const outcomes: FeedbackRecord[] = [];
    r.on('outcome', (f) => outcomes.push(f));
    r.open(dir);
    assert.deepEqual(outcomes.map((f) => [f.originalMessageId, f.statusCode, f.wanted]), [['short', 'Expired', true]]);
    assert.deepEqual(r.pending('d').map((m) => m.messageId), ['long']);
    await r.flush();
    const stored = JSON.parse(readFileSync(join(dir, 'c2d.json'), 'utf8')) as { messages: { messageId: string }[] };
    assert.deepEqual(stored.messages.map((m) => m.messageId), ['long']);
  } finally { removeDir(dir); }
});

test('a c2d.json member named __proto__ stays a property; a malformed message is refused with its index', () => {
  const dir = tempDir();
  try {
    const msg = (props: string) => `{"lockToken":"t","deviceId":"d","body":"aGk=","messageId":"m","properties":${props},` +
      `"ack":"none","enqueuedAt":1,"expiresAt":${Date.now() + 60_000},"deliveryCount":0,"state":"delivered"}`;
    writeFileSync(join(dir, 'c2d.json'), `{"version":1,"messages":[${msg('{"__proto__":"x","k":null}')}]}`);
    const q = new C2DQueue();
    q.open(dir);
    const props = q.pending('d')[0]!.properties;
    assert.equal(Object.getPrototypeOf(props), Object.prototype);
    assert.ok(Object.hasOwn(props, '__proto__'));
    assert.equal(props['k'], null);
    writeFileSync(join(dir, 'c2d.json'), `{"version":1,"messages":[${msg('{"a":{"b":1}}')}]}`);
    assert.throws(() => new C2DQueue().open(dir), /messages\[0\]: property 'a'/);
  } finally { removeDir(dir); }
});

// --- the hub and the CLI on one data folder ------------------------------------------------------------------------

test('`hub device add` while the hub runs, then a REST PUT, keeps both; `hub device remove` disconnects at once', async () => {
  const { hub, dir, done } = await startHub({ restPort: 0, amqpPort: 0 });
  try {
    const added = await cli('device', 'add', 'cli-dev', '--data-dir', dir, '--json');
    assert.equal(added.code, 0, added.stderr);
    const key = (JSON.parse(added.stdout) as { primaryKey: string }).primaryKey;
    const owner = hub.policies.get('iothubowner')!;
    const put = await rest(hub, 'PUT', `/devices/rest-dev?${V}`, policySas(hub.hostName, owner.primaryKey, 'iothubowner', inSeconds(600)), { deviceId: 'rest-dev' });
    assert.equal(put.status, 200);
    assert.deepEqual(new Registry(dir, 'localhost').list().map((d) => d.deviceId), ['cli-dev', 'rest-dev']);
    // the hub serves the CLI's device at once: C2D over AMQP before it ever connected, then an MQTT login
    const amqp = await AmqpClient.open({ port: hub.amqpPort!, ca: hub.ca, username: `iothubowner@sas.root.${hub.hostName}`, password: policySas(hub.hostName, owner.primaryKey, 'iothubowner', inSeconds(600)) });
    try {
      const s = await amqp.sender('/messages/devicebound');
      assert.equal((await AmqpClient.send(s, { to: '/devices/cli-dev/messages/devicebound', body: 'hi' })).state, 'accepted');
    } finally { await amqp.close(); }
    const device = await connectRaw(hub, { deviceId: 'cli-dev', key });
    try {
      const gone = closed(device);
      const removed = await cli('device', 'remove', 'cli-dev', '--data-dir', dir);
      assert.equal(removed.code, 0, removed.stderr);
      await within(gone, 3000, 'the removed device is disconnected');
      assert.equal(hub.c2d.pending('cli-dev').length, 0, 'its queued C2D is purged');
      assert.deepEqual(hub.takeFeedback(true).filter((f) => f.deviceId === 'cli-dev').map((f) => f.statusCode), ['Purged']);
    } finally { await endClient(device); }
  } finally { await done(); }
});

test('`hub policy` prints keys the running hub accepts, the same after a restart', async () => {
  const dir = tempDir();
  try {
    let { hub, done } = await startHub({ dataDir: dir, restPort: 0 });
    const printed = async () => {
      const r = await cli('policy', 'registryRead', '--data-dir', dir);
      assert.equal(r.code, 0, r.stderr);
      return /SharedAccessKey=([A-Za-z0-9+/=]+)/.exec(r.stdout)![1]!;
    };
    try {
      await hub.registry.addDevice('p');
      const key = await printed();
      const got = await rest(hub, 'GET', `/devices/p?${V}`, policySas(hub.hostName, key, 'registryRead', inSeconds(600)));
      assert.equal(got.status, 200);
    } finally { await done(); }
    ({ hub, done } = await startHub({ dataDir: dir, restPort: 0 }));
    try {
      const got = await rest(hub, 'GET', `/devices/p?${V}`, policySas(hub.hostName, await printed(), 'registryRead', inSeconds(600)));
      assert.equal(got.status, 200);
    } finally { await done(); }
  } finally { removeDir(dir); }
});

test('a second hub on the same data folder is refused with the running hub\'s pid; the folder is private', async () => {
  const dir = tempDir();
  try {
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'twins.json'), '{"version":1,"twins":[]}\n', { mode: 0o644 });
    const { hub, done } = await startHub({ dataDir: dir });
    try {
      await hub.registry.addDevice('d');
      await assert.rejects(LocalHub.start({ port: 0, dataDir: dir, log: false }), new RegExp(`another hub \\(pid ${process.pid}\\) is running on the data folder`));
      assert.equal(mode(dir), 0o700);
      for (const f of ['registry.json', 'policies.json', 'twins.json', 'tls/key.pem', 'tls/ca.key']) assert.equal(mode(join(dir, f)), 0o600, f);
      assert.equal(mode(join(dir, 'tls')), 0o700);
      // the command line says the same and exits
      const second = await cli('--data-dir', dir, '--port', '0', '--amqp-port', 'off', '--rest-port', 'off', '--quiet');
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, new RegExp(`another hub \\(pid ${process.pid}\\) is running on the data folder`));
    } finally { await done(); }
    // stopped: the folder is free again
    const again = await startHub({ dataDir: dir });
    await again.done();
  } finally { removeDir(dir); }
});

test('hub device add prints a connection string that reaches the hub running on that folder, wherever it listens; with none, it says so', async () => {
  const dir = tempDir();
  try {
    const hub = await LocalHub.start({ port: 0, dataDir: dir, log: false });
    let added: Awaited<ReturnType<typeof cli>>;
    try {
      added = await cli('device', 'add', 'via-running', '--data-dir', dir);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, new RegExp(`GatewayHostName=localhost:${hub.port}\\b`), 'the running hub\'s port, not the default');
      assert.match(added.stdout, new RegExp(`the hub running on this folder \\(pid ${process.pid}`));
      const cs = /^HostName=.*$/m.exec(added.stdout)![0];
      const key = /SharedAccessKey=([^;]+)/.exec(cs)![1]!;
      await endClient(await connectRaw(hub, { deviceId: 'via-running', key, url: `mqtts://localhost:${hub.port}`, extra: { ca: hub.ca } }));
    } finally {
      await hub.stop();
    }
    const offline = await cli('device', 'add', 'while-stopped', '--data-dir', dir);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /no hub is running on this folder/);
    assert.doesNotMatch(offline.stdout, /GatewayHostName/, 'no running hub: the default port, which needs none');
  } finally {
    removeDir(dir);
  }
});
