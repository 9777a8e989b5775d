// The local DPS's endpoint under hostile peers, with the hub in a child process (hub-child.ts) so that its resident
// memory is its own: connections that stall before CONNECT, floods before and after CONNECT, and a peer that never
// stops asking. Each attack must leave the hub's RSS growth under RSS_BOUND and an honest registration working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { inSeconds } from './helpers.js';

const RSS_BOUND = 64 * 1024 * 1024;
const DEADLINE_MS = 1500;
const MAX_PENDING = 32;
const WAIT_MS = 20_000;

interface Ready { dpsPort: number; idScope: string; ca: string; enrollmentKeys: Record<string, string> }

class HubChild {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  ready!: Ready;
  baseline = 0;

  constructor(opts: object) {
    this.child = fork(join(fileURLToPath(new URL('.', import.meta.url)), 'hub-child.js'), [JSON.stringify(opts)], { execArgv: ['--expose-gc'] });
    this.child.on('message', (m: { id?: number; result?: unknown }) => {
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

let hub: HubChild;

function dpsPassword(id: string): string {
  const sr = encodeURIComponent(`${hub.ready.idScope}/registrations/${id}`), se = inSeconds(3600);
  const sig = createHmac('sha256', Buffer.from(hub.ready.enrollmentKeys[id]!, 'base64')).update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=registration`;
}

function connect(id: string): Promise<MqttClient> {
  const c = mqtt.connect(`mqtts://localhost:${hub.ready.dpsPort}`, {
    clientId: id, username: `${hub.ready.idScope}/registrations/${id}/api-version=2019-03-31`, password: dpsPassword(id),
    protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 5000, ca: hub.ready.ca,
  });
  return new Promise((resolve, reject) => { c.once('connect', () => { c.on('error', () => {}); resolve(c); }); c.once('error', reject); });
}

/** An honest registration on the wire: register, poll until assigned. */
async function honestRegisters(): Promise<void> {
  const c = await within(connect('honest'), 'the honest CONNACK');
  try {
    await c.subscribeAsync('$dps/registrations/res/#', { qos: 1 });
    const answers: { topic: string; body: Record<string, unknown> }[] = [];
    let wake: () => void = () => {};
    c.on('message', (topic, payload) => { answers.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }); wake(); });
    const next = async () => { while (!answers.length) await new Promise<void>((r) => { wake = r; }); return answers.shift()!; };
    c.publish('$dps/registrations/PUT/iotdps-register/?$rid=1', '{"registrationId":"honest"}', { qos: 1 });
    let a = await within(next(), 'the register answer');
    for (let rid = 2; !a.topic.includes('/200/'); rid++) {
      assert.match(a.topic, /\/202\//);
      c.publish(`$dps/registrations/GET/iotdps-get-operationstatus/?$rid=${rid}&operationId=${a.body['operationId'] as string}`, '', { qos: 1 });
      a = await within(next(), 'the status answer');
    }
    assert.equal(a.body['status'], 'assigned');
  } finally {
    await c.endAsync(true);
  }
}

function raw(): Promise<{ s: TLSSocket; gone: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: 'localhost', port: hub.ready.dpsPort, ca: hub.ready.ca }, () => resolve({ s, gone }));
    const gone = new Promise<void>((r) => s.once('close', () => r()));
    s.on('error', () => {});
    s.once('error', reject);
  });
}

async function assertMemoryBounded(t: { diagnostic(s: string): void }): Promise<void> {
  const growth = (await hub.ask<number>('rss')) - hub.baseline;
  t.diagnostic(`the hub's RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(growth < RSS_BOUND, `the hub's RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${RSS_BOUND / 2 ** 20} MiB)`);
}

before(async () => {
  hub = new HubChild({ dpsPort: 0, dpsRetryAfterSeconds: 0, connectTimeoutMs: DEADLINE_MS, maxPendingConnections: MAX_PENDING, enrollments: ['honest', 'chatty'] });
  await hub.start();
  await honestRegisters(); // warm: the baseline includes a served registration
  hub.baseline = await hub.ask<number>('rss');
});

after(async () => { await hub?.stop(); });

test('stalled CONNECTs (15 KiB each, under the bound) are capped per listener and closed at the deadline; an honest registration still works', async (t) => {
  const partial = Buffer.concat([Buffer.from([0x10, 0x80, 0x7d]), Buffer.alloc(15 * 1024, 0x41)]); // a CONNECT announcing 16,000 bytes
  // one after another, so that the cap closes stalled connections, not ones still in their handshake
  const wires: { s: TLSSocket; gone: Promise<void> }[] = [];
  for (let i = 0; i < 4 * MAX_PENDING; i++) {
    const w = await raw();
    w.s.write(partial);
    wires.push(w);
  }
  await honestRegisters();
  assert.ok((await hub.ask<number>('pending')) <= MAX_PENDING, 'connections waiting for CONNACK stay under the cap');
  await assertMemoryBounded(t);
  await within(Promise.all(wires.map((w) => w.gone)), 'every stalled connection to be closed');
  assert.equal(await hub.ask<number>('pending'), 0);
  const log = await hub.ask<string[]>('log');
  assert.ok(log.some((l) => /DPS port: \d+ connections wait for CONNACK; closing the oldest/.test(l)));
  assert.ok(log.some((l) => /DPS port: closed .*no CONNACK within/.test(l)));
});

test('floods before CONNECT (a 256 MiB CONNECT) and after it (a 256 MiB PUBLISH) are cut off before they are buffered', async (t) => {
  const before = await Promise.all(Array.from({ length: 8 }, () => raw()));
  const junk = Buffer.alloc(64 * 1024, 0x41);
  const flood = async (w: { s: TLSSocket; gone: Promise<void> }, first: Buffer) => {
    w.s.write(first);
    let closed = false;
    void w.gone.then(() => { closed = true; });
    for (let sent = 0; sent < 32 * 1024 * 1024 && !closed; sent += junk.length) {
      if (!w.s.write(junk)) await Promise.race([new Promise((r) => w.s.once('drain', r)), w.gone]);
    }
  };
  await within(Promise.all(before.map((w) => flood(w, Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f])))), 'the floods before CONNECT');
  const chatty = await connect('chatty');
  const closed = new Promise<void>((r) => chatty.once('close', () => r()));
  const stream = (chatty as unknown as { stream: TLSSocket }).stream;
  stream.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
  for (let i = 0; i < 256 && !stream.destroyed; i++) stream.write(junk);
  await within(closed, 'the flood after CONNECT to be cut off');
  await chatty.endAsync(true);
  await within(Promise.all(before.map((w) => w.gone)), 'the hub to close every flooding connection');
  await honestRegisters();
  await assertMemoryBounded(t);
  const log = await hub.ask<string[]>('log');
  assert.ok(log.some((l) => /DPS mqtts\).*over the 16384-byte CONNECT bound/.test(l)));
  assert.ok(log.some((l) => /DPS mqtts\).*packet limit/.test(l)));
});

test('a registration that never stops asking is closed after 100 requests', async (t) => {
  const c = await connect('chatty');
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  const stream = (c as unknown as { stream: TLSSocket }).stream;
  const one = mqttPacket.generate({ cmd: 'publish', topic: '$dps/registrations/PUT/iotdps-register/?$rid=1', payload: Buffer.from('{}'), qos: 0, dup: false, retain: false });
  stream.write(Buffer.concat(Array.from({ length: 150 }, () => one)));
  await within(closed, 'the chatty connection to be closed');
  await c.endAsync(true);
  assert.ok((await hub.ask<string[]>('log')).some((l) => /chatty broke a rule: more than 100 requests on one connection/.test(l)));
  await honestRegisters();
  await assertMemoryBounded(t);
});
