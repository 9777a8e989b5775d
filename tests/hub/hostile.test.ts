// Hostile input on every MQTT listener (plain TCP, TLS, MQTT over WebSocket on the TLS port and on the REST port):
// oversized and malformed frames before and after authentication, idle and slow connections, connection churn.
// Each test proves that (a) the offending connection is closed, (b) an honest mqtt.js device keeps working during
// the attack (CONNACK, QoS 1 PUBACK, twin GET round trip), and (c) the hub's resident memory grows by less than
// RSS_BOUND. The hub runs in a child process (hub-child.ts) so that its RSS is its own; the attacks below would
// cost it ≥ 256 MiB without the limits (every byte after an oversized header used to be buffered).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect, createServer as createNetServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { sas, inSeconds, startHub, tempDir, removeDir } from './helpers.js';
import { MQTT_CONNECT_MAX_BYTES } from '../../host/hub/device/mqtt-gate.js';
import { D2C_MAX_BYTES } from '../../host/hub/device/broker.js';

/** Growth of the hub's RSS (after a GC) over its baseline that any test here may cause. */
const RSS_BOUND = 64 * 1024 * 1024;
/** Bytes each flooding connection tries to send after its oversized header. */
const FLOOD_BYTES = 32 * 1024 * 1024;
/** Every wait for an event is bounded by this (a hang fails instead of holding the run). */
const WAIT_MS = 15_000;
const DEADLINE_MS = 1000;

type Kind = 'plain' | 'tls' | 'ws-tls' | 'ws-rest';
const KINDS: Kind[] = ['plain', 'tls', 'ws-tls', 'ws-rest'];

interface Ready { port: number; plainPort: number; restPort: number; ca: string; keys: Record<string, string> }

class HubChild {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  ready!: Ready;
  baseline = 0;

  constructor(opts: object) {
    this.child = fork(join(fileURLToPath(new URL('.', import.meta.url)), 'hub-child.js'), [JSON.stringify(opts)], { execArgv: ['--expose-gc'] });
    this.child.on('message', (m: { id?: number; result?: unknown; type?: string }) => {
      if (m.id !== undefined) { this.waiting.get(m.id)?.(m.result); this.waiting.delete(m.id); }
    });
  }

  async start(): Promise<void> {
    this.ready = await new Promise<Ready>((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('exit', (code) => reject(new Error(`hub child exited (${code})`)));
      this.child.on('message', (m: Ready & { type?: string }) => { if (m.type === 'ready') resolve(m); });
    });
  }

  ask<T>(op: string): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => { this.waiting.set(id, resolve as (v: unknown) => void); this.child.send({ id, op }); });
  }

  rss(): Promise<number> { return this.ask<number>('rss'); }
  log(): Promise<string[]> { return this.ask<string[]>('log'); }
  pending(): Promise<number> { return this.ask<number>('pending'); }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ id: 0, op: 'stop' });
    await exited;
  }
}

function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function username(id: string): string { return `localhost/${id}/?api-version=2021-04-12`; }
function password(hub: HubChild, id: string): string { return sas(`localhost/devices/${id}`, hub.ready.keys[id]!, inSeconds(3600)); }

/** The header of a client WebSocket frame of `length` bytes (masked with a zero key, so the payload goes out unchanged). */
function wsHeader(length: number): Buffer {
  const mask = Buffer.alloc(4);
  if (length < 126) return Buffer.concat([Buffer.from([0x82, 0x80 | length]), mask]);
  if (length < 65536) { const h = Buffer.from([0x82, 0x80 | 126, 0, 0]); h.writeUInt16BE(length, 2); return Buffer.concat([h, mask]); }
  const h = Buffer.alloc(10); h[0] = 0x82; h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(length), 2);
  return Buffer.concat([h, mask]);
}

/** A raw connection to one MQTT listener; `send` frames MQTT bytes as WebSocket messages on the WebSocket kinds. */
class Wire {
  closed: Promise<void>;
  isClosed = false;
  private received = Buffer.alloc(0);
  private upgraded = false;
  private frames = Buffer.alloc(0);
  private constructor(readonly kind: Kind, readonly socket: Socket) {
    socket.on('error', () => {});
    socket.prependListener('data', (d: Buffer) => {
      if (!this.upgraded) { if (this.received.length < 65536) this.received = Buffer.concat([this.received, d]); return; }
      // the hub's WebSocket frames (unmasked; it sends an MQTT packet in several): keep their payloads
      this.frames = Buffer.concat([this.frames, d]);
      for (;;) {
        if (this.frames.length < 2) break;
        let len = this.frames[1]! & 0x7f;
        let at = 2;
        if (len === 126) { if (this.frames.length < 4) break; len = this.frames.readUInt16BE(2); at = 4; }
        else if (len === 127) { if (this.frames.length < 10) break; len = Number(this.frames.readBigUInt64BE(2)); at = 10; }
        if (this.frames.length < at + len) break;
        if (this.received.length < 65536) this.received = Buffer.concat([this.received, this.frames.subarray(at, at + len)]);
        this.frames = this.frames.subarray(at + len);
      }
    });
    this.closed = new Promise((r) => socket.once('close', () => { this.isClosed = true; r(); }));
  }

  /** Opens a connection of this kind: TCP connected, TLS handshake done, WebSocket upgraded (unless `raw`). */
  static async open(hub: HubChild, kind: Kind, raw = false): Promise<Wire> {
    const r = hub.ready;
    const port = kind === 'plain' ? r.plainPort : kind === 'ws-rest' ? r.restPort : r.port;
    const socket = kind === 'plain' || raw ? netConnect({ port, host: '127.0.0.1' }) : tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: r.ca });
    const w = new Wire(kind, socket);
    await within(new Promise<void>((resolve, reject) => {
      socket.once(kind === 'plain' || raw ? 'connect' : 'secureConnect', () => resolve());
      socket.once('close', () => reject(new Error(`${kind} connection closed while opening`)));
    }), `${kind} connect`);
    if (!raw && kind.startsWith('ws')) {
      socket.write(`GET /$iothub/websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`);
      await w.until((b) => b.includes('\r\n\r\n'), 'the WebSocket upgrade');
      assert.match(w.received.toString('latin1'), /^HTTP\/1\.1 101/);
      const rest = w.received.subarray(w.received.indexOf('\r\n\r\n') + 4);
      w.received = Buffer.alloc(0);
      w.upgraded = true;
      if (rest.length) w.socket.emit('data', rest);
    }
    return w;
  }

  until(f: (b: Buffer) => boolean, what: string): Promise<void> {
    return within(new Promise<void>((resolve, reject) => {
      const check = () => {
        if (f(this.received)) { this.socket.off('data', check); resolve(); }
      };
      this.socket.on('data', check);
      void this.closed.then(() => { if (!f(this.received)) reject(new Error(`closed before ${what}`)); });
      check();
    }), what);
  }

  write(b: Buffer): Promise<void> {
    if (this.isClosed || this.socket.destroyed) return Promise.resolve();
    if (this.socket.write(b)) return Promise.resolve();
    return new Promise((r) => { this.socket.once('drain', r); void this.closed.then(r); });
  }

  send(mqttBytes: Buffer): Promise<void> {
    if (!this.kind.startsWith('ws')) return this.write(mqttBytes);
    void this.write(wsHeader(mqttBytes.length));
    return this.write(mqttBytes);
  }

  /** Sends `first`, then junk (64 KiB messages on WebSocket) until `total` bytes went out or the hub closed. */
  async flood(first: Buffer, total = FLOOD_BYTES, raw = false): Promise<void> {
    await (raw ? this.write(first) : this.send(first));
    const junk = Buffer.alloc(64 * 1024, 0x41);
    for (let sent = 0; sent < total && !this.isClosed; sent += junk.length) await (raw ? this.write(junk) : this.send(junk));
  }

  /** Authenticates as `id` (keep-alive 0: no keep-alive timer) and waits for CONNACK 0. */
  async login(hub: HubChild, id: string): Promise<void> {
    await this.send(mqttPacket.generate({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: id,
      username: username(id), password: Buffer.from(password(hub, id)),
    }));
    await this.until((b) => b.includes(Buffer.from([0x20, 0x02, 0x00, 0x00])), `CONNACK 0 for ${id}`);
  }

  destroy(): void { this.socket.destroy(); }
}

/** An honest device (mqtt.js over TLS to `localhost`, whichever loopback that resolves to): CONNACK, PUBACK, twin GET. */
async function honestWorks(hub: HubChild, id = 'honest'): Promise<void> {
  const client = mqtt.connect(`mqtts://localhost:${hub.ready.port}`, {
    clientId: id, username: username(id), password: password(hub, id), protocolVersion: 4, clean: true,
    reconnectPeriod: 0, connectTimeout: 5000, ca: hub.ready.ca,
  });
  try {
    await within(new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); }), 'the honest CONNACK');
    const puback = new Promise<string>((resolve) => client.on('packetreceive', (p) => { if (p.cmd === 'puback') resolve(p.cmd); }));
    await within(client.publishAsync(`devices/${id}/messages/events/`, 'still here', { qos: 1 }), 'the honest publish');
    assert.equal(await within(puback, 'the honest PUBACK'), 'puback');
    await client.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
    const twin = new Promise<string>((resolve) => client.on('message', (topic) => { if (topic.includes('$rid=hostile')) resolve(topic); }));
    await client.publishAsync('$iothub/twin/GET/?$rid=hostile', '', { qos: 0 });
    assert.match(await within(twin, 'the honest twin GET answer'), /^\$iothub\/twin\/res\/200\//);
  } finally {
    await client.endAsync(true);
  }
}

async function assertMemoryBounded(hub: HubChild): Promise<void> {
  const growth = (await hub.rss()) - hub.baseline;
  assert.ok(growth < RSS_BOUND, `the hub's RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${RSS_BOUND / 2 ** 20} MiB)`);
}

async function assertLogged(hub: HubChild, rule: RegExp): Promise<void> {
  const lines = await hub.log();
  assert.ok(lines.some((l) => rule.test(l)), `no log line names the rule ${rule}`);
  for (const l of lines) assert.doesNotMatch(l, /SharedAccessSignature|sig=/, 'a SAS token reached the log');
  for (const key of Object.values(hub.ready.keys)) assert.ok(lines.every((l) => !l.includes(key)), 'a device key reached the log');
}

const ATTACKERS = KINDS.flatMap((k) => [`attacker-${k}-0`, `attacker-${k}-1`]);
let hub: HubChild;

before(async () => {
  hub = new HubChild({ connectTimeoutMs: DEADLINE_MS, devices: ['honest', ...ATTACKERS] });
  await hub.start();
  await honestWorks(hub); // warm: the baseline includes a served device
  hub.baseline = await hub.rss();
});

after(async () => { await hub?.stop(); });

test('before CONNACK, a packet announcing more than a CONNECT can hold closes the connection before its body is buffered, on every MQTT listener', async () => {
  const wires = await Promise.all(KINDS.flatMap((k) => [Wire.open(hub, k), Wire.open(hub, k)]));
  const floods = wires.map((w) => w.flood(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]))); // CONNECT of 256 MiB
  await honestWorks(hub);
  await within(Promise.all(floods), 'the floods to end');
  await within(Promise.all(wires.map((w) => w.closed)), 'the hub to close every flooding connection');
  await assertLogged(hub, new RegExp(`over the ${MQTT_CONNECT_MAX_BYTES}-byte CONNECT bound|before CONNACK exceed`));
  await assertMemoryBounded(hub);
});

test('before CONNACK, more bytes than a CONNECT holds close the connection, even as many small packets', async () => {
  const wires = await Promise.all(KINDS.map((k) => Wire.open(hub, k)));
  // a small CONNECT (never authenticated: no password) followed by PINGREQs
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'nobody' });
  const pings = Buffer.alloc(64 * 1024);
  for (let i = 0; i < pings.length; i += 2) { pings[i] = 0xc0; pings[i + 1] = 0; }
  await Promise.all(wires.map((w) => w.send(Buffer.concat([connect, pings]))));
  await honestWorks(hub);
  await within(Promise.all(wires.map((w) => w.closed)), 'the hub to close every connection');
  await assertLogged(hub, new RegExp(`bytes before CONNACK exceed the ${MQTT_CONNECT_MAX_BYTES}-byte CONNECT bound`));
  await assertMemoryBounded(hub);
});

test('a first packet other than CONNECT, or a remaining length of more than 4 bytes, closes the connection on every MQTT listener', async () => {
  const publishFirst = await Promise.all(KINDS.map((k) => Wire.open(hub, k)));
  const badLength = await Promise.all(KINDS.map((k) => Wire.open(hub, k)));
  await Promise.all(publishFirst.map((w) => w.send(Buffer.from([0x30, 0x03, 0x00, 0x01, 0x61]))));
  await Promise.all(badLength.map((w) => w.send(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]))));
  await honestWorks(hub);
  await within(Promise.all([...publishFirst, ...badLength].map((w) => w.closed)), 'the hub to close every malformed connection');
  await assertLogged(hub, /first packet is of type 3, not CONNECT/);
  await assertLogged(hub, /malformed remaining length/);
  await assertMemoryBounded(hub);
});

test('after CONNACK, a PUBLISH over IoT Hub\'s limit (256 KiB D2C + topic) closes an authenticated keep-alive-0 connection before its body is buffered', async () => {
  const wires = await Promise.all(KINDS.flatMap((k) => [0, 1].map(async (i) => {
    const w = await Wire.open(hub, k);
    await w.login(hub, `attacker-${k}-${i}`);
    return w;
  })));
  const floods = wires.map((w) => w.flood(Buffer.from([0x32, 0xff, 0xff, 0xff, 0x7f]))); // QoS 1 PUBLISH of 256 MiB
  await honestWorks(hub);
  await within(Promise.all(floods), 'the floods to end');
  await within(Promise.all(wires.map((w) => w.closed)), 'the hub to close every flooding device');
  await assertLogged(hub, /announces 268435455 bytes, over the \d+-byte packet limit/);
  await assertMemoryBounded(hub);
});

test('a WebSocket frame announcing 100 MB is refused from its header on both WebSocket listeners, before and after CONNACK', async () => {
  const wires = await Promise.all((['ws-tls', 'ws-rest'] as const).flatMap((k) => [
    Wire.open(hub, k),
    Wire.open(hub, k).then(async (w) => { await w.login(hub, `attacker-${k}-0`); return w; }),
  ]));
  const floods = wires.map((w) => w.flood(wsHeader(100 * 1024 * 1024), FLOOD_BYTES, true));
  await honestWorks(hub);
  await within(Promise.all(floods), 'the floods to end');
  await within(Promise.all(wires.map((w) => w.closed)), 'the hub to close every connection');
  await assertMemoryBounded(hub);
});

test('a connection that sends nothing is closed at the connect deadline counted from accept: TCP, TLS before and after the handshake, after the WebSocket upgrade, HTTPS', async () => {
  const wires = await Promise.all([
    ...KINDS.map((k) => Wire.open(hub, k)), // after TCP connect, TLS handshake, WebSocket upgrade
    Wire.open(hub, 'tls', true), // TCP only: the TLS handshake never starts
    Wire.open(hub, 'ws-rest', true), // the REST port, TCP only
    (async () => { // the REST port after the handshake: no request
      const socket = tlsConnect({ port: hub.ready.restPort, host: '127.0.0.1', servername: 'localhost', ca: hub.ready.ca });
      socket.on('error', () => {});
      await within(new Promise<void>((r) => socket.once('secureConnect', () => r())), 'the REST handshake');
      return { closed: new Promise<void>((r) => socket.once('close', () => r())) };
    })(),
  ]);
  await honestWorks(hub);
  const labels = [...KINDS, 'tls (no handshake)', 'rest (no handshake)', 'rest (no request)'];
  await Promise.all(wires.map((w, i) => within(w.closed, `the hub to close the idle ${labels[i]} connection`)));
  await assertLogged(hub, /no CONNACK within 1000 ms of accept/);
  assert.equal(await hub.pending(), 0);
  await assertMemoryBounded(hub);
});

test('a connection sending one byte per second (CONNECT or WebSocket upgrade) is closed at the connect deadline', async () => {
  const connect = mqttPacket.generate({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'attacker-plain-0',
    username: username('attacker-plain-0'), password: Buffer.from(password(hub, 'attacker-plain-0')),
  });
  const upgrade = Buffer.from('GET /$iothub/websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n');
  const slow = [
    ...(['plain', 'tls'] as const).map(async (k) => ({ w: await Wire.open(hub, k), bytes: connect })),
    ...(['ws-tls', 'ws-rest'] as const).map(async (k) => ({ w: await Wire.open(hub, k), bytes: connect })),
    (async () => ({ w: await Wire.open(hub, 'tls'), bytes: upgrade }))(), // the upgrade request on the TLS port
  ];
  const started = await Promise.all(slow);
  const drips = started.map(async ({ w, bytes }) => {
    for (let i = 0; i < bytes.length && !w.isClosed; i++) {
      await (w.kind.startsWith('ws') ? w.send(bytes.subarray(i, i + 1)) : w.write(bytes.subarray(i, i + 1)));
      await Promise.race([sleep(1000), w.closed]);
    }
    return w.isClosed;
  });
  await honestWorks(hub);
  const closed = await within(Promise.all(drips), 'the slow connections to end');
  assert.deepEqual(closed, started.map(() => true), 'every slow connection was closed before it finished');
  await assertMemoryBounded(hub);
});

test('connection churn (connect, half a CONNECT, reset) leaves no connection waiting and memory bounded', async () => {
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'churn' });
  for (let round = 0; round < 10; round++) {
    await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      const kind = KINDS[i % KINDS.length]!;
      const w = await Wire.open(hub, kind).catch(() => null);
      if (!w) return;
      if (i % 2) await w.send(connect.subarray(0, 7));
      w.destroy();
      await w.closed;
    }));
  }
  await honestWorks(hub);
  for (let i = 0; i < 100 && (await hub.pending()) > 0; i++) await sleep(50);
  assert.equal(await hub.pending(), 0, 'connections still counted as waiting for CONNACK after churn');
  await assertMemoryBounded(hub);
});

test('idle sockets beyond the cap of waiting connections close the oldest and do not keep a device out', async () => {
  const capped = new HubChild({ connectTimeoutMs: 60_000, maxPendingConnections: 16, devices: ['honest'] });
  try {
    await capped.start();
    const idle: Wire[] = [];
    for (let i = 0; i < 48; i++) idle.push(await Wire.open(capped, i % 2 ? 'plain' : 'tls'));
    // both listeners are full of idle sockets (16 each): a device still gets in, over TLS and over plain TCP
    await honestWorks(capped);
    const plainClient = mqtt.connect(`mqtt://127.0.0.1:${capped.ready.plainPort}`, {
      clientId: 'honest', username: username('honest'), password: password(capped, 'honest'), protocolVersion: 4, reconnectPeriod: 0,
    });
    await within(new Promise<void>((resolve, reject) => { plainClient.once('connect', () => resolve()); plainClient.once('error', reject); }), 'CONNACK on the plain port');
    await plainClient.endAsync(true);
    assert.ok(await capped.pending() <= 32, 'more connections wait than the caps allow');
    // the oldest idle ones were closed to make room
    await within(Promise.all(idle.slice(0, 8).map((w) => w.closed)), 'the oldest idle sockets to close');
    assert.ok(idle.filter((w) => w.isClosed).length >= 48 - 32, 'idle sockets beyond the cap were not closed');
    const lines = await capped.log();
    assert.ok(lines.some((l) => /connections wait for CONNACK; closing the oldest/.test(l)));
    for (const w of idle) w.destroy();
  } finally {
    await capped.stop();
  }
});

/** Resolves true when a TCP connection to host:port opens, false when it is refused. */
function reachable(host: string, port: number): Promise<boolean> {
  return within(new Promise<boolean>((resolve) => {
    const s = netConnect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  }), `a connection to ${host}:${port}`);
}

test('by default the hub listens on loopback only, 127.0.0.1 and ::1 (where the machine has IPv6 loopback), on every listener', async () => {
  const { hub: local, done } = await startHub({ restPort: 0 });
  try {
    const v6 = await new Promise<boolean>((resolve) => {
      const probe = createNetServer().once('error', () => resolve(false)).listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    const outside = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === 'IPv4')?.address;
    for (const port of [local.port, local.plainPort!, local.restPort!]) {
      assert.equal(await reachable('127.0.0.1', port), true, `127.0.0.1:${port}`);
      if (v6) assert.equal(await reachable('::1', port), true, `[::1]:${port}`);
      if (outside) assert.equal(await reachable(outside, port), false, `${outside}:${port} answers: the hub is exposed`);
    }
  } finally {
    await done();
  }
});

test('iothub-wasm hub --bind with a non-loopback address warns that the hub is reachable from the network and holds device keys', async () => {
  const dir = tempDir();
  const cli = fileURLToPath(new URL('../../host/cli.js', import.meta.url));
  const runHub = async (bind: string[]): Promise<string> => {
    const child = spawn(process.execPath, [cli, 'hub', 'run', '--port', '0', '--amqp-port', 'off', '--rest-port', 'off', '--data-dir', dir, '--quiet', ...bind],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<void>((r) => child.once('close', () => r())); // 'close': stdio drained too
    await within(new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('running')) resolve(); })), 'the hub CLI to start');
    child.kill('SIGTERM');
    await exited;
    return err;
  };
  try {
    assert.match(await runHub(['--bind', '0.0.0.0']), /warning: listening on 0\.0\.0\.0: the hub is reachable from the network, and it holds every\s+device's keys/);
    assert.doesNotMatch(await runHub([]), /warning/);
    assert.doesNotMatch(await runHub(['--bind', '127.0.0.1']), /warning/);
  } finally {
    removeDir(dir);
  }
});

test('the limits leave room for the largest legal traffic: a 256 KiB D2C message over TLS and both WebSocket listeners, a CONNECT with a 10 KiB will', async () => {
  const id = 'honest';
  const urls = [
    `mqtts://localhost:${hub.ready.port}`,
    `wss://localhost:${hub.ready.port}/$iothub/websocket`,
    `wss://localhost:${hub.ready.restPort}/$iothub/websocket`,
  ];
  for (const url of urls) {
    const client = mqtt.connect(url, {
      clientId: id, username: username(id), password: password(hub, id), protocolVersion: 4, clean: true,
      reconnectPeriod: 0, connectTimeout: 5000, ca: hub.ready.ca,
      will: { topic: `devices/${id}/messages/events/`, payload: Buffer.alloc(10 * 1024, 0x61), qos: 0, retain: false },
    });
    try {
      await within(new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); }), `CONNACK over ${url}`);
      const puback = new Promise<void>((resolve) => client.on('packetreceive', (p) => { if (p.cmd === 'puback') resolve(); }));
      // D2C_MAX_BYTES counts the body and the application properties: 256 KiB in all
      const body = Buffer.alloc(D2C_MAX_BYTES - 'k'.length - 'v'.length, 0x62);
      client.publish(`devices/${id}/messages/events/k=v`, body, { qos: 1 });
      await within(puback, `the PUBACK of a ${D2C_MAX_BYTES}-byte message over ${url}`);
      assert.equal(client.connected, true);
    } finally {
      await client.endAsync(true);
    }
  }
  await assertMemoryBounded(hub);
});
