// The fleet, measured in a fresh process (forked by device.bench.ts with --expose-gc): N devices on the shared
// core (the simulator's Fleet); N bare net.Sockets (the floor a connected socket costs in Node); or N raw MQTT
// connections to the same hub writing pre-encoded packets (the floor of the steady state's CPU per message).
//   ← FleetJob → { type: 'result', ... } or { type: 'error', message }; the parent sends { type: 'drop-done' }
//   after asking the hub to drop everyone (fleet sides); ← { type: 'stop' } closes everything and exits.
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import { Fleet, RoundRobinPacer, MAX_IN_FLIGHT } from '../host/commands/simulate.js';
import { rawConnection, pubackCounter, type RawConnection } from './raw-writer.js';

export interface FleetJob {
  side: 'fleet' | 'sockets' | 'raw';
  /** The hub's TLS port (raw side). */
  port: number;
  transport: 'mqtt' | 'mqtts';
  ca: string;
  plainPort: number;
  sinkPort: number;
  tlsSinkPort: number;
  tlsSinkCa: string;
  connectionStrings: string[];
  connectRate: number;
  idleMs: number;
  steadyMs: number;
  /** Aggregate telemetry rate asked for in the steady-state phase. */
  rate: number;
}

export interface FleetResult {
  type: 'result';
  side: string;
  transport: string;
  devices: number;
  connected: number;
  connectMs: number;
  rssPerDevice: number;
  heapPerDevice: number;
  idleCpuPercent: number;
  steadyRate: number;
  steadyCpuUsPerMsg: number;
  reconnectMs: number;
  reconnected: number;
  failed: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
async function settle(): Promise<NodeJS.MemoryUsage> {
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 50)); }
  return process.memoryUsage();
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!ok()) { if (performance.now() > end) return false; await sleep(20); }
  return true;
}

let closeAll: () => Promise<unknown> = async () => {};

async function sockets(job: FleetJob): Promise<FleetResult> {
  const n = job.connectionStrings.length - 1;
  // One TLS context for all, as the Node board shares one.
  const secureContext = job.transport === 'mqtts' ? createSecureContext({ ca: job.tlsSinkCa }) : undefined;
  const open = (): Promise<Socket> => new Promise((resolve, reject) => {
    // As a client's socket is: reading (a data listener), no Nagle.
    const s: Socket = secureContext
      ? tlsConnect({ host: '127.0.0.1', port: job.tlsSinkPort, servername: 'localhost', secureContext }, () => resolve(s))
      : tcpConnect({ host: '127.0.0.1', port: job.sinkPort }, () => resolve(s));
    s.setNoDelay(true);
    s.on('data', () => {});
    s.once('error', reject);
  });
  const held: Socket[] = [await open()];
  closeAll = async () => { for (const s of held) s.destroy(); };
  const before = await settle();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 100) held.push(...await Promise.all(Array.from({ length: Math.min(100, n - i) }, open)));
  const connectMs = performance.now() - t0;
  const after = await settle();
  return {
    type: 'result', side: 'sockets', transport: job.transport, devices: n, connected: held.length - 1, connectMs,
    rssPerDevice: (after.rss - before.rss) / n, heapPerDevice: (after.heapUsed - before.heapUsed) / n,
    idleCpuPercent: -1, steadyRate: -1, steadyCpuUsPerMsg: -1, reconnectMs: -1, reconnected: -1, failed: 0,
  };
}

/**
 * The steady state's floor: N raw MQTT connections (CONNECT, then pre-encoded QoS 1 PUBLISH packets, PUBACKs
 * counted) to the same hub, connected at the same bounded rate, sent the same aggregate rate round robin with the
 * simulator's pacing and cap of messages in flight per device: one socket write and one read per message, with no client.
 */
async function raw(job: FleetJob): Promise<FleetResult> {
  const n = job.connectionStrings.length - 1;
  // The simulator's message: its system and application properties on the topic, a reading as the body.
  const topicProps = '%24.mid=raw-0&%24.ct=application%2Fjson&%24.ce=utf-8&sensor=thermostat&unit=celsius';
  const body = JSON.stringify({ temperature: 21.53, seq: 1234 });
  const tls = job.transport === 'mqtts';
  const conns: Array<RawConnection & { inFlight: number }> = [];
  closeAll = () => Promise.all(conns.map((c) => c.close()));
  let acked = 0;
  const open = async (cs: string) => {
    const c = Object.assign(await rawConnection({ connectionString: cs, host: 'localhost', port: tls ? job.port : job.plainPort, ca: job.ca, tls, body, topicProps }), { inFlight: 0 });
    const count = pubackCounter();
    c.socket.on('data', (d: Buffer) => { const acks = count(d); acked += acks; c.inFlight -= acks; });
    conns.push(c);
  };
  const before = await settle();
  const t0 = performance.now();
  const perTick = Math.max(1, Math.round(job.connectRate / 20));
  for (let i = 1; i <= n; i += perTick) {
    const tick = sleep(50);
    await Promise.all(job.connectionStrings.slice(i, Math.min(i + perTick, n + 1)).map(open));
    await tick;
  }
  const connectMs = performance.now() - t0;
  const after = await settle();
  // The simulator's own pacing and limit of messages in flight per device.
  const pacer = new RoundRobinPacer();
  const ready = (i: number) => conns[i]!.inFlight < MAX_IN_FLIGHT;
  const take = (i: number) => { const c = conns[i]!; c.inFlight++; c.socket.write(c.batch(1)); };
  const timer = setInterval(() => pacer.spend(job.rate, n, ready, take), 20);
  await sleep(1000);
  const a0 = acked;
  const s0 = process.cpuUsage();
  const w0 = performance.now();
  await sleep(job.steadyMs);
  const sc = process.cpuUsage(s0);
  const count = acked - a0;
  const steadyRate = (count * 1000) / (performance.now() - w0);
  clearInterval(timer);
  return {
    type: 'result', side: 'raw', transport: job.transport, devices: n, connected: conns.length, connectMs,
    rssPerDevice: (after.rss - before.rss) / n, heapPerDevice: (after.heapUsed - before.heapUsed) / n,
    idleCpuPercent: -1, steadyRate, steadyCpuUsPerMsg: (sc.user + sc.system) / Math.max(count, 1), reconnectMs: -1, reconnected: -1, failed: 0,
  };
}

let dropped: (() => void) | null = null;

async function fleet(job: FleetJob): Promise<FleetResult> {
  const options = {
    rate: 0, ca: job.ca, transport: job.transport, connectRate: job.connectRate,
    ...(job.transport === 'mqtt' ? { gatewayHostName: `localhost:${job.plainPort}` } : {}),
  };
  // One warm-up device first (code loaded, JIT warm, the shared core made), then the baseline.
  const warm = new Fleet({ ...options, connectionStrings: job.connectionStrings.slice(0, 1) });
  warm.start();
  if (!await until(() => warm.stats().connected === 1, 30_000)) throw new Error('the warm-up device did not connect');
  const f = new Fleet({ ...options, connectionStrings: job.connectionStrings.slice(1) });
  closeAll = () => Promise.all([warm.stop(), f.stop()]);
  const before = await settle();
  const n = job.connectionStrings.length - 1;
  const t0 = performance.now();
  f.start();
  await until(() => f.stats().allConnectedMs >= 0, 600_000);
  const connectMs = performance.now() - t0;
  await sleep(500); // late SUBACKs and timers
  const after = await settle();

  // Idle: connected, nothing to send (keep-alive pings when they fall due).
  const c0 = process.cpuUsage();
  const i0 = performance.now();
  await sleep(job.idleMs);
  const ic = process.cpuUsage(c0);
  const idleCpuPercent = ((ic.user + ic.system) / 1000 / (performance.now() - i0)) * 100;

  // Steady state: ask for `rate` msgs/s in total for a while; count what the hub acknowledged.
  f.rate = job.rate;
  await sleep(1000);
  const a0 = f.stats().acked;
  const s0 = process.cpuUsage();
  const w0 = performance.now();
  await sleep(job.steadyMs);
  const sc = process.cpuUsage(s0);
  const acked = f.stats().acked - a0;
  const steadyRate = (acked * 1000) / (performance.now() - w0);
  f.rate = 0;
  await sleep(1000);

  // Mass drop: the parent asks the hub to drop every device; time until all are back.
  const r0 = f.stats().reconnects;
  const wasDropped = new Promise<void>((r) => { dropped = r; });
  process.send!({ type: 'drop-now' });
  await wasDropped;
  const d0 = performance.now();
  await until(() => f.stats().reconnects - r0 >= n && f.stats().connected === n, 600_000);
  const reconnectMs = performance.now() - d0;
  const s = f.stats();
  return {
    type: 'result', side: 'fleet', transport: job.transport, devices: n, connected: s.connected, connectMs,
    rssPerDevice: (after.rss - before.rss) / n, heapPerDevice: (after.heapUsed - before.heapUsed) / n,
    idleCpuPercent, steadyRate, steadyCpuUsPerMsg: (sc.user + sc.system) / Math.max(acked, 1),
    reconnectMs, reconnected: s.reconnects - r0, failed: s.failed,
  };
}

if (!process.send) throw new Error('bench/device-fleet.js is started by the device benchmark (child_process.fork)');
const finish = async () => {
  await Promise.race([closeAll(), sleep(10_000)]);
  process.exit(0);
};
process.on('message', (m: FleetJob | { type: 'stop' } | { type: 'dropped' }) => {
  if ('type' in m) {
    if (m.type === 'dropped') dropped?.();
    else void finish();
    return;
  }
  (m.side === 'sockets' ? sockets(m) : m.side === 'raw' ? raw(m) : fleet(m)).then(
    (r) => process.send!(r),
    (e: Error) => process.send!({ type: 'error', message: String(e?.stack ?? e) }),
  );
});
process.on('disconnect', () => { void finish(); });
