// The AMQP 1.0 service endpoint under hostile peers: frame limits before and after `open` (AMQP 1.0 §2.4.1), an open
// deadline from accept, nothing but $cbs before a claim, bounded sessions/links/tokens, token scopes by path segment,
// nothing printed by rhea and no secret in the log, application property names as data. Real peers only: rhea
// clients, and raw TLS/TCP/WebSocket sockets writing bytes. While each attack runs an honest client still sends C2D.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import rhea from 'rhea';
import type { Connection, ConnectionOptions, EventContext, Receiver, Sender } from 'rhea';
import WebSocket, { createWebSocketStream } from 'ws';
import type { LocalHub } from '../../host/hub/index.js';
import { AmqpService } from '../../host/hub/amqp/endpoint.js';
import { startHub, connectRaw, endClient, inSeconds, tempDir, removeDir } from './helpers.js';
import { AmqpClient, policySas, RawPeer, AMQP_HEADER, SASL_HEADER, amqpFrame, saslFrame, frameHeader } from './amqp-client.js';

let hub: LocalHub;
let done: () => Promise<void>;
const lines: string[] = [];
const MiB = 1024 * 1024;

before(async () => {
  ({ hub, done } = await startHub({ amqpPort: 0, restPort: 0, log: (l: string) => { lines.push(l); if (process.env['HUB_TEST_LOG']) process.stderr.write(l + '\n'); } }));
  await hub.registry.addDevice('hostile-honest');
});
after(async () => { await done?.(); });

const rss = () => process.memoryUsage().rss;

/** Resolves with the first log line (from `from` on) matching `re`. */
async function logLine(re: RegExp, from = 0, ms = 5000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const l = lines.slice(from).find((x) => re.test(x));
    if (l) return l;
    if (Date.now() > until) throw new Error(`no log line matching ${re}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function plain(policy = 'service', resource = hub.hostName, port = hub.amqpPort!): Promise<AmqpClient> {
  const p = hub.policies.get(policy)!;
  return AmqpClient.open({ port, ca: hub.ca, username: `${policy}@sas.root.${hub.hostName}`, password: policySas(resource, p.primaryKey, policy, inSeconds(3600)) });
}

function anonymous(): Promise<AmqpClient> {
  return AmqpClient.open({ port: hub.amqpPort!, ca: hub.ca, username: 'anonymous' } as never);
}

/** An honest service client sends one C2D message and gets it accepted. */
async function honestC2D(tag: string): Promise<void> {
  const c = await plain();
  try {
    const s = await c.sender('/messages/devicebound');
    const o = await AmqpClient.send(s, { to: '/devices/hostile-honest/messages/devicebound', message_id: `honest-${tag}`, body: `during ${tag}` });
    assert.equal(o.state, 'accepted', `honest C2D during ${tag}`);
  } finally {
    await c.close();
    hub.c2d.purge('hostile-honest');
  }
}

function putToken(c: AmqpClient, audience: string, token: string): Promise<number> {
  return c.request('$cbs', {
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
    body: token,
  }).then((m) => Number(m.application_properties!['status-code']));
}

/** Resolves when the hub closes the connection (a close frame, or the socket). */
function ended(conn: Connection): Promise<void> {
  return new Promise((resolve) => {
    conn.once('connection_close', () => resolve());
    conn.once('disconnected', () => resolve());
  });
}

/** How a link the client attached ended: 'open', or the error condition it was closed with. */
function linkOutcome(link: Sender | Receiver, connection: Connection): Promise<string> {
  return new Promise((resolve) => {
    const cond = () => String((link as unknown as { error?: { condition?: string } }).error?.condition ?? 'closed');
    link.once(link.is_sender() ? 'sendable' : 'receiver_open', () => setTimeout(() => resolve(link.is_closed() || !link.is_remote_open() ? cond() : 'open'), 30));
    link.once(link.is_sender() ? 'sender_close' : 'receiver_close', () => resolve(cond()));
    link.once(link.is_sender() ? 'sender_error' : 'receiver_error', () => resolve(cond()));
    void ended(connection).then(() => resolve(`disconnected:${String((connection.error as { condition?: string } | undefined)?.condition ?? '')}`));
  });
}

// --- framing ----------------------------------------------------------------------------------------------------

test('a frame header claiming 2 GB before open closes the connection, and the hub does not buffer what follows', async () => {
  const from = lines.length;
  const base = rss();
  const junk = Buffer.alloc(64 * 1024, 0x5a);
  const attack = async () => {
    const peer = await RawPeer.tls(hub.amqpPort!, hub.ca);
    peer.write(Buffer.concat([AMQP_HEADER, frameHeader(0x80000000)]));
    const written = await peer.flood(junk, 48 * MiB);
    await peer.closed;
    return written;
  };
  const [a, b] = await Promise.all([attack(), attack(), honestC2D('2 GB frames')]);
  assert.ok(a! < 48 * MiB && b! < 48 * MiB, 'the hub closed the connections before 48 MiB were written');
  assert.match(await logLine(/closed: frame of 2147483648 bytes before open exceeds MIN-MAX-FRAME-SIZE 512/, from), /§2\.4\.1/);
  const grown = (rss() - base) / MiB;
  assert.ok(grown < 32, `RSS grew ${grown.toFixed(1)} MiB (bound 32 MiB; rhea alone would hold what was written)`);
});

test('a 600-byte frame before open (after the AMQP header, or during SASL) closes the connection', async () => {
  const from = lines.length;
  for (const header of [AMQP_HEADER, SASL_HEADER]) {
    const peer = await RawPeer.tls(hub.amqpPort!, hub.ca);
    peer.write(Buffer.concat([header, frameHeader(600), Buffer.alloc(592)]));
    await peer.closed;
  }
  await logLine(/closed: frame of 600 bytes before open exceeds MIN-MAX-FRAME-SIZE 512/, from);
  await logLine(/closed: frame of 600 bytes during SASL exceeds MIN-MAX-FRAME-SIZE 512 \(AMQP 1\.0 §5\.3\.1\)/, from);
  await honestC2D('600-byte frames');
});

test('a frame larger than the advertised max-frame-size after open closes the connection with framing-error', async () => {
  const from = lines.length;
  const peer = await RawPeer.tls(hub.amqpPort!, hub.ca);
  peer.write(Buffer.concat([AMQP_HEADER, amqpFrame('open', { container_id: 'hostile' })]));
  const openOf = () => peer.frames().find((f) => f.performative && 'container_id' in f.performative);
  for (let n = 9; !openOf() && !peer.isClosed && n < 4096; n += 16) await peer.receivedAtLeast(n, 200);
  const open = openOf();
  assert.ok(open, 'the hub answered with open');
  const max = Number(open.performative!['max_frame_size']);
  assert.equal(max, 64 * 1024, 'the hub advertises max-frame-size 64 KiB');
  const sent = peer.received.length;
  peer.write(Buffer.concat([frameHeader(max + 1), Buffer.alloc(1024)]));
  void peer.flood(Buffer.alloc(16 * 1024), 4 * MiB);
  const honest = honestC2D('oversized frame');
  await peer.closed;
  await honest;
  const close = peer.frames(sent).find((f) => f.performative && 'error' in f.performative && f.performative['error']);
  assert.equal((close?.performative!['error'] as { condition?: string } | undefined)?.condition, 'amqp:connection:framing-error');
  await logLine(new RegExp(`closed: frame of ${max + 1} bytes exceeds the negotiated max-frame-size ${max}`), from);
});

test('a message split over transfers is bounded in total (256 KiB); a multi-frame message within it is delivered', async () => {
  const from = lines.length;
  const c = await plain();
  try {
    const s = await c.sender('/messages/devicebound');
    // 100 KiB over two frames of at most 64 KiB reaches the hub, which answers with IoT Hub's 64 KB C2D limit
    const big = await AmqpClient.send(s, { to: '/devices/hostile-honest/messages/devicebound', body: rhea.message.data_section(Buffer.alloc(100 * 1024, 1)) });
    assert.equal(big.condition, 'amqp:link:message-size-exceeded');
    assert.ok(c.connection.is_open());
    hub.c2d.purge('hostile-honest');
    const closed = ended(c.connection);
    s.send({ to: '/devices/hostile-honest/messages/devicebound', body: rhea.message.data_section(Buffer.alloc(300 * 1024, 2)) });
    await Promise.all([closed, honestC2D('oversized message')]);
    assert.match(await logLine(/closed: a message of more than 262144 bytes \(split over transfers\)/, from), /AMQP #\d+ closed/);
  } finally {
    await c.close();
  }
});

test('a frame header claiming 2 GB over the WebSocket path closes that connection too', async () => {
  const from = lines.length;
  const ws = new WebSocket(`wss://localhost:${hub.restPort}/$servicebus/websocket`, ['AMQPWSB10'], { ca: hub.ca });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const peer = RawPeer.over(createWebSocketStream(ws));
  peer.write(Buffer.concat([SASL_HEADER, frameHeader(0x7fffffff, 1)]));
  await Promise.all([peer.closed, honestC2D('websocket 2 GB frame')]);
  await logLine(/closed: frame of 2147483647 bytes during SASL exceeds MIN-MAX-FRAME-SIZE 512/, from);
});

// --- deadline ---------------------------------------------------------------------------------------------------

test('a connection that has not done SASL and open within the deadline from accept is closed (silent and slow peers)', async () => {
  const log: string[] = [];
  const svc = new AmqpService(hub, { openDeadlineMs: 300, log: (l) => log.push(l) });
  const server: Server = createServer((s) => { s.on('error', () => {}); svc.accept(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const silent = await RawPeer.tcp(port);
    const slow = await RawPeer.tcp(port);
    // slow-loris: the SASL header one byte at a time, never finishing
    let i = 0;
    const drip = setInterval(() => { if (i < SASL_HEADER.length) slow.write(SASL_HEADER.subarray(i, ++i)); }, 60);
    // an honest peer that opens in time keeps its connection past the deadline
    const container = rhea.create_container();
    const p = hub.policies.get('service')!;
    const honest = container.connect({
      host: '127.0.0.1', port, reconnect: false,
      username: `service@sas.root.${hub.hostName}`, password: policySas(hub.hostName, p.primaryKey, 'service', inSeconds(600)),
    } as ConnectionOptions);
    honest.on('error', () => {});
    await new Promise((resolve) => honest.once('connection_open', resolve));
    await Promise.all([silent.closed, slow.closed]);
    clearInterval(drip);
    assert.equal(log.filter((l) => /closed: SASL and open not done within 300 ms of accept/.test(l)).length, 2, log.join('\n'));
    assert.ok(honest.is_open(), 'the honest connection is still open after the deadline');
    const c2d = await new Promise<string>((resolve) => {
      const s = honest.open_sender({ target: { address: '/messages/devicebound' } });
      s.once('sendable', () => {
        const d = s.send({ to: '/devices/hostile-honest/messages/devicebound', body: 'after the deadline' });
        s.on('accepted', (ctx: EventContext) => { if (ctx.delivery === d) resolve('accepted'); });
        s.on('rejected', (ctx: EventContext) => { if (ctx.delivery === d) resolve('rejected'); });
      });
    });
    assert.equal(c2d, 'accepted');
    await new Promise<void>((resolve) => { honest.once('connection_close', () => resolve()); honest.once('disconnected', () => resolve()); honest.close(); });
  } finally {
    svc.close();
    await new Promise((r) => server.close(r));
    hub.c2d.purge('hostile-honest');
  }
});

// --- authentication first, bounded state ----------------------------------------------------------------------

test('links before authentication are refused and do not accumulate: 2,000 attaches on an anonymous connection', async () => {
  const from = lines.length;
  const c = await anonymous();
  c.connection.setMaxListeners(0);
  const outcomes: Promise<string>[] = [];
  for (let i = 0; i < 2000; i++) {
    const l = i % 2 === 0
      ? c.connection.open_sender({ target: { address: '/messages/devicebound' } })
      : c.connection.open_receiver({ source: { address: `/messages/events/ConsumerGroups/$Default/Partitions/${i % 4}` } });
    outcomes.push(linkOutcome(l, c.connection));
  }
  const [results] = await Promise.all([Promise.all(outcomes), honestC2D('2,000 unauthenticated links')]);
  assert.equal(results.filter((r) => r === 'open').length, 0, 'no link opened before authentication');
  assert.ok(results.every((r) => /unauthorized-access|resource-limit-exceeded|disconnected/.test(r)), [...new Set(results)].join(', '));
  await logLine(/refused: no token yet \(only \$cbs before authentication\)/, from);
  await logLine(/closed: more than 8 links attached and not detached before authentication/, from);
  await c.close();
});

test('20,000 attaches that a raw peer never detaches close its connection; the hub does not hold them', async () => {
  const from = lines.length;
  const attaches: Buffer[] = [AMQP_HEADER, amqpFrame('open', { container_id: 'links' }), amqpFrame('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 })];
  for (let i = 0; i < 20_000; i++) {
    attaches.push(amqpFrame('attach', { name: `l${i}`, handle: i, role: false, source: rhea.types.wrap_described([`s${i}`], 0x28), target: rhea.types.wrap_described(['/messages/devicebound'], 0x29) }));
  }
  const bytes = Buffer.concat(attaches);
  attaches.length = 0;
  const base = rss();
  const peer = await RawPeer.tls(hub.amqpPort!, hub.ca);
  for (let at = 0; at < bytes.length && !peer.isClosed; at += 16 * 1024) peer.write(bytes.subarray(at, at + 16 * 1024));
  await Promise.all([peer.closed, honestC2D('20,000 raw attaches')]);
  await logLine(/closed: more than 8 links attached and not detached before authentication/, from);
  const grown = (rss() - base) / MiB;
  assert.ok(grown < 32, `RSS grew ${grown.toFixed(1)} MiB (bound 32 MiB; 20,000 held links were 117 MiB)`);
});

test('a polite peer refused before authentication can still put a token and then attach', async () => {
  const c = await anonymous();
  try {
    for (let i = 0; i < 3; i++) await assert.rejects(c.sender('/messages/devicebound'), /amqp:unauthorized-access/);
    const p = hub.policies.get('service')!;
    assert.equal(await putToken(c, hub.hostName, policySas(hub.hostName, p.primaryKey, 'service', inSeconds(60))), 200);
    const s = await c.sender('/messages/devicebound');
    assert.equal((await AmqpClient.send(s, { to: '/devices/hostile-honest/messages/devicebound', body: 'after cbs' })).state, 'accepted');
  } finally {
    await c.close();
    hub.c2d.purge('hostile-honest');
  }
});

test('an authenticated connection holds at most 128 links and 64 sessions; beyond, amqp:resource-limit-exceeded', async () => {
  const c = await plain();
  try {
    const outcomes: Promise<string>[] = [];
    c.connection.setMaxListeners(0);
    for (let i = 0; i < 200; i++) outcomes.push(linkOutcome(c.connection.open_sender({ target: { address: '/messages/devicebound' } }), c.connection));
    const [results] = await Promise.all([Promise.all(outcomes), honestC2D('200 links')]);
    assert.equal(results.filter((r) => r === 'open').length, 128);
    assert.equal(results.filter((r) => r === 'amqp:resource-limit-exceeded').length, 72);
    // sessions: the one rhea opened for the links, plus 70 more; a refused session is answered with begin, then end
    type S = { begin(): void; once(e: string, f: () => void): void; on(e: string, f: () => void): void; error?: { condition?: string } };
    const sessions = Array.from({ length: 70 }, () => (c.connection as unknown as { create_session(): S }).create_session());
    for (const x of sessions) x.on('session_close', () => {});
    await Promise.all(sessions.map((s) => { const r = new Promise<void>((resolve) => s.once('session_open', resolve)); s.begin(); return r; }));
    // the hub wrote each end right after its begin: one more round trip and every end has arrived
    const s = await c.sender('/messages/devicebound').catch(() => null);
    assert.equal(s, null, 'a 129th link is still refused');
    const refused = sessions.filter((x) => x.error?.condition === 'amqp:resource-limit-exceeded').length;
    assert.equal(refused, 71 - 64);
    assert.ok(c.connection.is_open(), 'the connection itself stays open');
  } finally {
    await c.close();
  }
});

test('CBS put-tokens per connection are bounded: 16 audiences held, 8 refusals close the connection', async () => {
  const from = lines.length;
  const p = hub.policies.get('service')!;
  const c = await anonymous();
  try {
    const token = policySas(hub.hostName, p.primaryKey, 'service', inSeconds(60));
    const statuses: number[] = [];
    for (let i = 0; i < 17; i++) statuses.push(await putToken(c, `sb://${hub.hostName}/a${i}`, token));
    assert.deepEqual(statuses, [...Array(16).fill(200), 403]);
  } finally {
    await c.close();
  }
  const d = await anonymous();
  const closed = ended(d.connection);
  const bad = policySas(hub.hostName, Buffer.alloc(32, 7).toString('base64'), 'service', inSeconds(60));
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push(await putToken(d, hub.hostName, bad).catch(() => -1));
  assert.deepEqual(statuses.slice(0, 7), Array(7).fill(401));
  await Promise.all([closed, honestC2D('refused tokens')]);
  await logLine(/closed: 8 CBS put-tokens refused/, from);
});

// --- token scope --------------------------------------------------------------------------------------------------

test('a token scoped to /messages/devicebound sends C2D but cannot attach feedback, events or $management', async () => {
  const p = hub.policies.get('service')!;
  const resource = `${hub.hostName}/messages/devicebound`;
  const viaCbs = await anonymous();
  const viaPlain = await plain('service', resource);
  try {
    assert.equal(await putToken(viaCbs, resource, policySas(resource, p.primaryKey, 'service', inSeconds(60))), 200);
    for (const c of [viaCbs, viaPlain]) {
      const s = await c.sender('/messages/devicebound');
      assert.equal((await AmqpClient.send(s, { to: '/devices/hostile-honest/messages/devicebound', body: 'scoped' })).state, 'accepted');
      await assert.rejects(c.receiver('/messages/serviceBound/feedback').then((r) => linkOutcome(r, c.connection)).then((o) => { throw new Error(o); }), /amqp:unauthorized-access/);
      const events = c.connection.open_receiver({ source: { address: '/messages/events/ConsumerGroups/$Default/Partitions/0' } });
      assert.equal(await linkOutcome(events, c.connection), 'amqp:unauthorized-access');
    }
    const info = await viaPlain.request('$management', { application_properties: { operation: 'READ', type: 'com.microsoft:eventhub', name: hub.eventHubName }, body: '' });
    assert.equal(info.application_properties!['status-code'], 401);
    // a path prefix that is not a whole segment covers nothing
    const partial = `${hub.hostName}/messages/device`;
    assert.equal(await putToken(viaCbs, `${hub.hostName}/messages/devicebound`, policySas(partial, p.primaryKey, 'service', inSeconds(60))), 401);
  } finally {
    await viaCbs.close();
    await viaPlain.close();
    hub.c2d.purge('hostile-honest');
  }
});

test('a CBS token for another hub, or for an audience its sr does not cover, is refused', async () => {
  const p = hub.policies.get('service')!;
  const c = await anonymous();
  try {
    const ours = policySas(hub.hostName, p.primaryKey, 'service', inSeconds(60));
    assert.equal(await putToken(c, 'sb://otherhub.azure-devices.net/', ours), 401);
    assert.equal(await putToken(c, 'otherhub.azure-devices.net', policySas('otherhub.azure-devices.net', p.primaryKey, 'service', inSeconds(60))), 401);
    const narrow = policySas(`${hub.hostName}/messages/devicebound`, p.primaryKey, 'service', inSeconds(60));
    assert.equal(await putToken(c, hub.hostName, narrow), 401);
    await assert.rejects(c.sender('/messages/devicebound'), /amqp:unauthorized-access/);
  } finally {
    await c.close();
  }
});

// --- application properties as data --------------------------------------------------------------------------------

test('`__proto__`, `constructor` and `prototype` application properties of a C2D are kept as data', async () => {
  await hub.registry.addDevice('hostile-proto-offline');
  const dev = await hub.registry.addDevice('hostile-proto');
  const device = await connectRaw(hub, { deviceId: 'hostile-proto', key: dev.primaryKey });
  const c = await plain();
  try {
    const got = new Promise<string>((resolve) => device.on('message', (topic) => resolve(topic)));
    await device.subscribeAsync('devices/hostile-proto/messages/devicebound/#', { qos: 1 });
    const s = await c.sender('/messages/devicebound');
    // JSON.parse makes `__proto__` an own member, as a peer's encoded map has it
    const props = JSON.parse('{"__proto__": "p", "constructor": "c", "prototype": "t", "color": "blue"}') as Record<string, string>;
    // what the AMQP endpoint hands to the hub's queue (for a device that is offline, so it stays queued)
    const queued = await AmqpClient.send(s, { to: '/devices/hostile-proto-offline/messages/devicebound', application_properties: props, body: 'proto' });
    assert.equal(queued.state, 'accepted');
    const [m] = hub.c2d.pending('hostile-proto-offline');
    const own = (k: string) => Object.getOwnPropertyDescriptor(m!.properties, k)?.value as unknown;
    assert.deepEqual([own('__proto__'), own('constructor'), own('prototype'), own('color')], ['p', 'c', 't', 'blue']);
    // and what a connected device receives
    const o = await AmqpClient.send(s, { to: '/devices/hostile-proto/messages/devicebound', application_properties: props, body: 'proto' });
    assert.equal(o.state, 'accepted');
    const topic = decodeURIComponent(await got);
    for (const kv of ['constructor=c', 'prototype=t', 'color=blue']) assert.ok(topic.includes(kv), `${kv} in ${topic}`);
    assert.equal(({} as Record<string, unknown>)['color'], undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
  } finally {
    await c.close();
    await endClient(device);
    hub.c2d.purge('hostile-proto-offline');
  }
});

// --- nothing printed, no secret logged ----------------------------------------------------------------------------

const dist = fileURLToPath(new URL('../../', import.meta.url));

/** Starts `iothub-wasm hub` in a child process; resolves with its AMQP port, data folder and a stop(). */
async function childHub(quiet: boolean): Promise<{ port: number; dir: string; ownerKey: string; stderr: () => string; stop: () => Promise<void> }> {
  const dir = tempDir();
  const child = spawn(process.execPath, [join(dist, 'host/cli.js'), 'hub', '--port', '0', '--amqp-port', '0', '--rest-port', 'off', '--data-dir', dir, ...(quiet ? ['--quiet'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr.on('data', (d) => { err += d; });
  const [port, ownerKey] = await new Promise<[number, string]>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hub did not start: ${out}${err}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /amqps:\/\/localhost:(\d+)/.exec(out);
      const k = /SharedAccessKeyName=iothubowner;SharedAccessKey=([A-Za-z0-9+/=]+)/.exec(out);
      if (m && k) { clearTimeout(t); resolve([Number(m[1]), k[1]!]); }
    });
  });
  return {
    port, dir, ownerKey, stderr: () => err,
    stop: () => new Promise<void>((resolve) => { child.once('close', () => { removeDir(dir); resolve(); }); child.kill('SIGTERM'); }),
  };
}

/** 100 connections of garbage that rhea reads: bad frame types, a second open, a drain flow with credit, a transfer on
 *  no link, unknown sections and outcomes, SASL PLAIN with a token signed by the wrong key, random bytes. */
async function garbage(port: number, ca: string, token: string): Promise<void> {
  const open = amqpFrame('open', { container_id: 'garbage' });
  // the peer's sender on $cbs (allowed before authentication)
  const cbs = Buffer.concat([
    amqpFrame('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }),
    amqpFrame('attach', { name: 'cbs', handle: 0, role: false, source: rhea.types.wrap_described(['cbs-client'], 0x28), target: rhea.types.wrap_described(['$cbs'], 0x29), initial_delivery_count: 0 }),
  ]);
  // a message whose only section has an unknown descriptor, carrying the token
  const oddMessage = Buffer.concat([Buffer.from([0x00, 0x53, 0x99]), Buffer.from([0xa1, token.length]), Buffer.from(token)]);
  const kinds: Buffer[] = [
    Buffer.concat([AMQP_HEADER, open, open]),
    Buffer.concat([AMQP_HEADER, open, frameHeader(12, 5), Buffer.from(token.slice(0, 4))]),
    Buffer.concat([AMQP_HEADER, open, cbs, amqpFrame('flow', { handle: 0, next_incoming_id: 0, incoming_window: 10, next_outgoing_id: 0, outgoing_window: 10, link_credit: 5, drain: true, delivery_count: 0 })]),
    Buffer.concat([AMQP_HEADER, open, cbs, amqpFrame('transfer', { handle: 0, delivery_id: 0, delivery_tag: Buffer.from('t'), message_format: 0 }, 0, oddMessage)]),
    Buffer.concat([AMQP_HEADER, open, amqpFrame('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }), amqpFrame('transfer', { handle: 9, delivery_id: 0, delivery_tag: Buffer.from('t') }, 0, Buffer.from(token))]),
    Buffer.concat([AMQP_HEADER, open, amqpFrame('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }), amqpFrame('disposition', { role: false, first: 0, settled: true, state: rhea.types.wrap_described([token], 0x99) })]),
    Buffer.concat([SASL_HEADER, saslFrame('sasl_init', { mechanism: 'PLAIN', initial_response: Buffer.from(`\0service@sas.root.localhost\0${token}`) })]),
    Buffer.concat([AMQP_HEADER, open, Buffer.from(token)]),
    Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nAuthorization: '), Buffer.from(token), Buffer.from('\r\n\r\n')]),
    Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff)),
    Buffer.concat([SASL_HEADER, frameHeader(64), Buffer.from(token.padEnd(56, 'x').slice(0, 56))]),
  ];
  for (let batch = 0; batch < 100; batch += 10) {
    await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const peer = await RawPeer.tls(port, ca);
      peer.write(kinds[(batch + i) % kinds.length]!);
      await Promise.race([peer.closed, new Promise((r) => setTimeout(r, 400))]);
      peer.destroy();
    }));
  }
}

test('100 garbage connections print nothing to stderr with --quiet, and no log line carries a token or key', async () => {
  for (const quiet of [true, false]) {
    const h = await childHub(quiet);
    try {
      const ca = readFileSync(join(h.dir, 'tls', 'ca.pem'), 'utf8');
      const token = policySas('localhost', Buffer.alloc(32, 3).toString('base64'), 'service', inSeconds(600));
      await garbage(h.port, ca, token);
      // an honest client still works against this hub
      const c = await AmqpClient.open({ port: h.port, ca, username: 'iothubowner@sas.root.localhost', password: policySas('localhost', h.ownerKey, 'iothubowner', inSeconds(600)) });
      const refused = await c.sender('/messages/devicebound').then(() => 'attached', (e: Error) => e.message);
      assert.equal(refused, 'attached');
      await c.close();
      const err = h.stderr();
      if (quiet) {
        assert.equal(err, '', `stderr with --quiet:\n${err.slice(0, 2000)}`);
      } else {
        assert.match(err, /AMQP #\d+ closed: not an AMQP protocol header/, 'the log names the broken rule');
        assert.match(err, /AMQP #\d+ protocol error: "Open already received"/);
        assert.match(err, /rhea reported 'received flow with drain set' for this peer \(not printed\)/);
        assert.match(err, /rhea reported 'did not recognise message section' for this peer \(not printed\)/);
        assert.ok(!/sig=/.test(err), 'no log line contains sig=');
        assert.ok(!err.includes('SharedAccessSignature sr'), 'no log line contains a SAS token');
        assert.ok(!err.includes(h.ownerKey), 'no policy key in the log');
        assert.ok(!/0x[0-9a-f]{2},0x/.test(err), 'no hex dump of a read buffer');
      }
    } finally {
      await h.stop();
    }
  }
});

test("the hub's connectTimeoutMs is the AMQP listeners' deadline from accept too (TLS port and WebSocket path)", async () => {
  const { hub: quick, done } = await startHub({ amqpPort: 0, restPort: 0, connectTimeoutMs: 300 });
  try {
    const overTls = await RawPeer.tls(quick.amqpPort!, quick.ca);
    const ws = new WebSocket(`wss://localhost:${quick.restPort}/$servicebus/websocket`, ['AMQPWSB10'], { ca: quick.ca });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const overWs = RawPeer.over(createWebSocketStream(ws));
    overTls.write(SASL_HEADER); // a start, then silence
    // bounded wait: the AMQP service's own default (10 s) would not close them in time
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still open after 5 s'), 5000); });
    const outcome = await Promise.race([Promise.all([overTls.closed, overWs.closed]).then(() => 'closed'), late]);
    clearTimeout(timer);
    assert.equal(outcome, 'closed');
  } finally {
    await done();
  }
});
