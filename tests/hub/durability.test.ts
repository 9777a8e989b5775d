// Durability: the hub runs in a child process (durability-child.ts) while devices (REST PUT), reported properties
// (MQTT, mqtt.js), desired properties (REST PATCH) and C2D messages (the child's stdin → sendC2D) are written; it is
// killed with SIGKILL at seeded random points and restarted. Every write acknowledged before a kill is there after
// the restart, and every file in the data folder parses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { tempDir, removeDir, sas, inSeconds, restCall, type RestAnswer } from './helpers.js';
import { policySas } from './amqp-client.js';

const CHILD = fileURLToPath(new URL('./durability-child.js', import.meta.url));
const SEED = Number(process.env['DURABILITY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const CYCLES = 5;
const C2D_DEVICES = 4;
const V = 'api-version=2021-04-12';

/** mulberry32: a small seeded generator, so that a failing run can be replayed with DURABILITY_SEED. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ports { pid: number; port: number; plainPort: number; restPort: number }

class HubProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, readonly ports: Ports, lines: AsyncIterator<string>) {
    this.exited = new Promise((resolve) => child.once('exit', () => {
      for (const w of this.waiting.values()) w.reject(new Error('the hub exited'));
      this.waiting.clear();
      resolve();
    }));
    void (async () => {
      for (let r = await lines.next(); !r.done; r = await lines.next()) {
        const m = JSON.parse(r.value) as { id: number; result?: unknown; error?: string };
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.error !== undefined) w?.reject(new Error(m.error)); else w?.resolve(m.result);
      }
    })();
  }

  /** Starts a hub and kills it after `ms`, wherever its start has got to (TLS material, policies, registry…). */
  static killDuringStart(dir: string, ms: number): Promise<void> {
    const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'ignore', 'ignore'] });
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    return new Promise((resolve) => child.once('exit', () => { clearTimeout(t); resolve(); }));
  }

  static async start(dir: string): Promise<HubProcess> {
    const child = spawn(process.execPath, [CHILD, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error('the hub child exited before it listened');
    return new HubProcess(child, JSON.parse(first.value) as Ports, lines);
  }

  request(op: string, args: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n', (err) => { if (err) reject(err); });
    });
  }

  async kill(): Promise<void> {
    this.child.stdin!.on('error', () => {});
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}

function rest(port: number, ca: string, token: string, method: string, path: string, body?: unknown): Promise<RestAnswer> {
  return restCall({ port, ca }, method, path, { auth: token, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

/** Every file the hub wrote parses: JSON documents, JSON-lines event partitions, PEM material. */
function assertFilesParse(dir: string): number {
  let n = 0;
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const p = join(dir, rel);
    if (rel.endsWith('.json')) { assert.doesNotThrow(() => JSON.parse(readFileSync(p, 'utf8')), rel); n++; }
    else if (rel.endsWith('.jsonl')) {
      for (const line of readFileSync(p, 'utf8').split('\n')) if (line) assert.doesNotThrow(() => JSON.parse(line), rel);
      n++;
    } else if (rel.endsWith('.pem') || rel.endsWith('.key')) {
      assert.match(readFileSync(p, 'utf8'), /^-----BEGIN [A-Z ]+-----\n[\s\S]+\n-----END [A-Z ]+-----\s*$/, rel);
      n++;
    }
  }
  return n;
}

test('every write acknowledged before a SIGKILL is there after the restart, and every file parses', async () => {
  console.log(`# durability seed ${SEED} (replay with DURABILITY_SEED=${SEED})`);
  const rand = random(SEED);
  const dir = tempDir();
  const ca = () => readFileSync(join(dir, 'tls', 'ca.pem'), 'utf8');
  const acked = { devices: new Set<string>(), reported: new Map<string, number>(), desired: new Map<string, number>(), c2d: new Map<string, string[]>() };
  // a fresh folder killed while the first start writes its TLS material and policies, then again
  for (let i = 0; i < 2; i++) {
    await HubProcess.killDuringStart(dir, Math.floor(rand() * 400));
    assertFilesParse(dir);
  }
  let hub = await HubProcess.start(dir);
  try {
    // the service key is read from the file the hub keeps it in: it must stay valid across every restart
    const owner = (JSON.parse(readFileSync(join(dir, 'policies.json'), 'utf8')) as { policies: { keyName: string; primaryKey: string }[] })
      .policies.find((p) => p.keyName === 'iothubowner')!.primaryKey;
    const token = () => policySas('localhost', owner, 'iothubowner', inSeconds(600));
    const put = async (id: string) => {
      const r = await rest(hub.ports.restPort, ca(), token(), 'PUT', `/devices/${id}?${V}`, { deviceId: id });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      acked.devices.add(id);
      return (r.json!['authentication'] as { symmetricKey: { primaryKey: string } }).symmetricKey.primaryKey;
    };
    const twinKey = await put('twin-dev');
    for (let i = 0; i < C2D_DEVICES; i++) { await put(`c2d-${i}`); acked.c2d.set(`c2d-${i}`, []); }

    const counts = { devices: 0, reported: 0, desired: 0, c2d: 0 };
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      let alive = true;
      // each cycle is killed after at least one acknowledged write, then at a seeded random point
      let acknowledged!: () => void;
      const firstAck = new Promise<void>((resolve) => { acknowledged = resolve; });
      const { plainPort, restPort } = hub.ports;
      const registryWriter = async () => {
        for (let n = 0; alive; n++) {
          const id = `reg-${cycle}-${n}`;
          const r = await rest(restPort, ca(), token(), 'PUT', `/devices/${id}?${V}`, { deviceId: id });
          if (r.status !== 200) throw new Error(`PUT ${id}: ${r.status}`);
          acked.devices.add(id);
          counts.devices++;
          acknowledged();
        }
      };
      const desiredWriter = async () => {
        for (let n = 0; alive; n++) {
          const k = `d${cycle}_${n}`;
          const r = await rest(restPort, ca(), token(), 'PATCH', `/twins/twin-dev?${V}`, { properties: { desired: { [k]: n } } });
          if (r.status !== 200) throw new Error(`PATCH desired: ${r.status}`);
          acked.desired.set(k, n);
          counts.desired++;
          acknowledged();
        }
      };
      const reportedWriter = async () => {
        const client = mqtt.connect(`mqtt://127.0.0.1:${plainPort}`, {
          clientId: 'twin-dev', username: `localhost/twin-dev/?${V}`, password: sas('localhost/devices/twin-dev', twinKey, inSeconds(600)),
          protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000,
        });
        client.on('error', () => {});
        const waiting = new Map<string, (status: number) => void>();
        client.on('message', (topic) => {
          const m = /^\$iothub\/twin\/res\/(\d+)\/\?\$rid=([^&]+)/.exec(topic);
          if (m) { waiting.get(m[2]!)?.(Number(m[1])); waiting.delete(m[2]!); }
        });
        client.on('close', () => { for (const w of waiting.values()) w(0); waiting.clear(); });
        try {
          await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('close', () => reject(new Error('closed'))); });
          await client.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
          for (let n = 0; alive; n++) {
            const k = `r${cycle}_${n}`;
            const rid = `${cycle}-${n}`;
            const status = new Promise<number>((resolve) => waiting.set(rid, resolve));
            client.publish(`$iothub/twin/PATCH/properties/reported/?$rid=${rid}`, JSON.stringify({ [k]: n }), { qos: 0 });
            if (await status !== 204) return;
            acked.reported.set(k, n);
            counts.reported++;
            acknowledged();
          }
        } finally {
          client.end(true);
        }
      };
      const c2dWriter = async () => {
        for (let n = 0; alive; n++) {
          const deviceId = `c2d-${(cycle * 7 + n) % C2D_DEVICES}`;
          const list = acked.c2d.get(deviceId)!;
          if (list.length >= 45) return;   // IoT Hub keeps at most 50 per device
          const messageId = `m-${cycle}-${n}`;
          await hub.request('c2d', { deviceId, messageId, body: `body ${messageId}` });
          list.push(messageId);
          counts.c2d++;
          acknowledged();
        }
      };
      const writers = [registryWriter(), desiredWriter(), reportedWriter(), c2dWriter()].map((p) => p.catch(() => {}));
      await Promise.race([firstAck, Promise.all(writers)]);
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 250)));
      await hub.kill();
      alive = false;
      await Promise.all(writers);
      assert.ok(assertFilesParse(dir) >= 4, 'the data folder holds the registry, policies and TLS material');

      hub = await HubProcess.start(dir);
      assert.deepEqual(readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp')), [], 'temp files are cleaned up at start');
      const state = await hub.request('state') as { devices: string[]; twins: Record<string, { desired: Record<string, unknown>; reported: Record<string, unknown> }>; c2d: Record<string, string[]> };
      for (const id of acked.devices) assert.ok(state.devices.includes(id), `device ${id} (cycle ${cycle}, seed ${SEED})`);
      const twin = state.twins['twin-dev']!;
      for (const [k, v] of acked.reported) assert.equal(twin.reported[k], v, `reported ${k} (cycle ${cycle}, seed ${SEED})`);
      for (const [k, v] of acked.desired) assert.equal(twin.desired[k], v, `desired ${k} (cycle ${cycle}, seed ${SEED})`);
      for (const [d, ids] of acked.c2d) {
        const pending = state.c2d[d] ?? [];
        for (const id of ids) assert.ok(pending.includes(id), `C2D ${id} to ${d} (cycle ${cycle}, seed ${SEED})`);
        assert.deepEqual(pending.filter((id) => ids.includes(id)), ids, `C2D order of ${d}`);
      }
    }
    console.log(`# acknowledged before ${CYCLES} kills: ${counts.devices} devices, ${counts.reported} reported and ${counts.desired} desired patches, ${counts.c2d} C2D messages`);
    assert.ok(counts.devices + counts.reported + counts.desired + counts.c2d >= CYCLES, 'writes were acknowledged between the kills');
  } finally {
    await hub.stop().catch(() => {});
    removeDir(dir);
  }
});

