// The hub under attack: its RSS and a well-behaved device's twin GET round trip (p50/p99) alone, with 500 idle
// connections open (250 plain TCP, 250 TLS with the handshake done), and with those plus 50 hostile ones (each
// reconnecting in a loop: a CONNECT announcing 256 MiB, then junk until the hub closes it). The hub runs in its own
// process (tests/hub/hub-child.ts) so its RSS is its own; the attackers and the device share this process.
import { fork, type ChildProcess } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import type { BenchSuite, BenchRow } from './harness.js';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const ROUND_TRIPS = env('BENCH_HOSTILE_ROUND_TRIPS', 2_000);
const IDLE = env('BENCH_HOSTILE_IDLE', 500);
const HOSTILE = env('BENCH_HOSTILE_ATTACKERS', 50);

interface Ready { port: number; plainPort: number; ca: string; keys: Record<string, string> }

function sas(resource: string, key: string, expiry: number): string {
  const sr = encodeURIComponent(resource);
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}`;
}

class Hub {
  readonly proc: ChildProcess;
  private next = 1;
  constructor() {
    // idle sockets must outlive the measurement: a long connect deadline (the default is 30 s)
    const opts = { restPort: false, connectTimeoutMs: 600_000, devices: ['honest'] };
    this.proc = fork(fileURLToPath(new URL('../tests/hub/hub-child.js', import.meta.url)), [JSON.stringify(opts)], { execArgv: ['--expose-gc'] });
  }
  ready(): Promise<Ready> {
    return new Promise((resolve, reject) => {
      this.proc.once('exit', (c) => reject(new Error(`hub exited (${c})`)));
      this.proc.on('message', (m: Ready & { type?: string }) => { if (m.type === 'ready') resolve(m); });
    });
  }
  ask<T>(op: string): Promise<T> {
    const id = this.next++;
    return new Promise((resolve) => {
      const on = (m: { id?: number; result?: T }) => { if (m.id === id) { this.proc.off('message', on); resolve(m.result as T); } };
      this.proc.on('message', on);
      this.proc.send({ id, op });
    });
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.send({ id: 0, op: 'stop' });
    await exited;
  }
}

async function twinRoundTrips(client: MqttClient, n: number): Promise<number[]> {
  const waiting = new Map<string, () => void>();
  const onMessage = (topic: string) => {
    const rid = /\$rid=([^&]+)/.exec(topic)?.[1];
    if (rid) { waiting.get(rid)?.(); waiting.delete(rid); }
  };
  client.on('message', onMessage);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const rid = `b${i}`;
    const t0 = performance.now();
    await new Promise<void>((resolve) => { waiting.set(rid, resolve); client.publish(`$iothub/twin/GET/?$rid=${rid}`, ''); });
    ms.push(performance.now() - t0);
  }
  client.off('message', onMessage);
  return ms.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

function opened(s: Socket, event: string): Promise<void> {
  return new Promise((resolve, reject) => { s.once(event, () => resolve()); s.once('error', reject); });
}

const suite: BenchSuite = {
  name: 'hub-hostile',
  async run({ log }) {
    const hub = new Hub();
    const r = await hub.ready();
    const client = mqtt.connect(`mqtts://localhost:${r.port}`, {
      clientId: 'honest', username: 'localhost/honest/?api-version=2021-04-12', ca: r.ca, protocolVersion: 4, reconnectPeriod: 0,
      password: sas('localhost/devices/honest', r.keys['honest']!, Math.floor(Date.now() / 1000) + 3600),
    });
    const sockets: Socket[] = [];
    let attacking = true;
    const attackers: Promise<void>[] = [];
    let floods = 0;
    try {
      await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); });
      await client.subscribeAsync('$iothub/twin/res/#');
      await twinRoundTrips(client, 200); // warm-up
      const alone = await twinRoundTrips(client, ROUND_TRIPS);
      const rssAlone = await hub.ask<number>('rss');

      for (let i = 0; i < IDLE; i++) {
        const s = i % 2 ? netConnect({ port: r.plainPort, host: '127.0.0.1' }) : tlsConnect({ port: r.port, host: '127.0.0.1', servername: 'localhost', ca: r.ca });
        sockets.push(s);
        await opened(s, i % 2 ? 'connect' : 'secureConnect');
        s.on('error', () => {});
      }
      const idleOnly = await twinRoundTrips(client, ROUND_TRIPS);
      const rssIdle = await hub.ask<number>('rss');
      const junk = Buffer.alloc(64 * 1024, 0x41);
      for (let i = 0; i < HOSTILE; i++) {
        attackers.push((async () => {
          while (attacking) {
            const s = netConnect({ port: r.plainPort, host: '127.0.0.1' });
            s.on('error', () => {});
            const closed = new Promise<void>((res) => s.once('close', () => res()));
            s.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
            while (!s.destroyed && attacking) if (!s.write(junk)) await Promise.race([new Promise((res) => s.once('drain', res)), closed]);
            s.destroy();
            await closed;
            floods++;
          }
        })());
      }
      const attacked = await twinRoundTrips(client, ROUND_TRIPS);
      const rssAttacked = await hub.ask<number>('rss');
      const pending = await hub.ask<number>('pending');
      if (process.env['BENCH_HOSTILE_DEBUG']) log(JSON.stringify(await hub.ask('memory')));
      const mib = (b: number) => +(b / 2 ** 20).toFixed(1);
      const rows: BenchRow[] = [
        { name: 'alone', rssMiB: mib(rssAlone), p50Ms: +pct(alone, 0.5).toFixed(3), p99Ms: +pct(alone, 0.99).toFixed(3) },
        { name: `${IDLE} idle`, rssMiB: mib(rssIdle), p50Ms: +pct(idleOnly, 0.5).toFixed(3), p99Ms: +pct(idleOnly, 0.99).toFixed(3) },
        { name: `${IDLE} idle + ${HOSTILE} hostile`, rssMiB: mib(rssAttacked), p50Ms: +pct(attacked, 0.5).toFixed(3), p99Ms: +pct(attacked, 0.99).toFixed(3), waitingForConnack: pending, hostileConnections: floods },
      ];
      for (const row of rows) log(`${String(row.name).padEnd(24)} hub RSS ${String(row['rssMiB']).padStart(6)} MiB   twin GET p50 ${row['p50Ms']} ms   p99 ${row['p99Ms']} ms`);
      log(`under attack / alone: RSS ×${(rssAttacked / rssAlone).toFixed(2)}, p99 ×${(pct(attacked, 0.99) / pct(alone, 0.99)).toFixed(2)}` +
        ` (${floods} hostile connections closed by the hub during the run, ${pending} waiting for CONNACK at the end)`);
      return rows;
    } finally {
      attacking = false;
      await Promise.all(attackers);
      for (const s of sockets) s.destroy();
      await client.endAsync(true);
      await hub.stop();
    }
  },
};

export default suite;
