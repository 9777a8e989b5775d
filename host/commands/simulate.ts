// `iothub-wasm simulate --devices N --rate MSGS_PER_S [--connection-string TEMPLATE | --hub-data-dir DIR] [--duration S]`:
// a fleet of demo thermostats in one process, each its own identity and connection, all on one shared core.
// Devices connect at a bounded rate (a connection storm is what hubs throttle); telemetry leaves at a steady
// aggregate rate, spread over the connected devices; reconnection after a drop is the core's jittered back-off.
import { readFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { DeviceClient } from '../device/client.js';
import { ThermostatFirmware } from '../demo/firmware.js';

const USAGE = `usage: iothub-wasm simulate --devices N --rate MSGS_PER_S (--connection-string TEMPLATE | --hub-data-dir DIR)
                            [--duration S] [--connect-rate N] [--prefix ID] [--ca FILE] [--plain]
  Runs N demo thermostats on one shared WebAssembly core, each with its own identity and connection, sending
  telemetry at MSGS_PER_S in total, until --duration seconds have passed or Ctrl-C; then prints a summary.
  --hub-data-dir DIR      register the devices (PREFIX-1 … PREFIX-N, default prefix 'sim') on the local hub
                          running on DIR and trust its CA
  --connection-string T   a connection string whose {n} (or {id}) is replaced by 1 … N
  --connect-rate N        new connections per second (default 200): no connection storm
  --plain                 plain MQTT instead of TLS (with a template whose GatewayHostName is the hub's plain port)`;

export interface FleetOptions {
  connectionStrings: string[];
  /** Aggregate telemetry messages per second. */
  rate: number;
  ca?: string;
  transport?: 'mqtts' | 'mqtt';
  /** New connections started per second (default 200). */
  connectRate?: number;
  /** Reconnect back-off passed to every device (the core's defaults otherwise). */
  retry?: { minMs?: number; maxMs?: number; jitterMs?: number };
  keepAliveSeconds?: number;
  /** Connect here instead of the connection strings' host (`host:port`). */
  gatewayHostName?: string;
}

export interface FleetStats {
  devices: number;
  connected: number;
  sent: number;
  acked: number;
  failed: number;
  /** Connections re-established after a drop (each device's 'connected' after its first). */
  reconnects: number;
  /** Devices whose first connection attempt failed (retried later). */
  connectFailures: number;
  /** Milliseconds from the start until every device had connected once (-1 until then). */
  allConnectedMs: number;
}

interface Sim { client: DeviceClient; firmware: ThermostatFirmware; seq: number; inFlight: number; everConnected: boolean; up: boolean }

/**
 * Per device, at most this many messages await their PUBACK: a device whose hub is slow is skipped rather than
 * queued up (queued messages would make each device's saved state, and every switch between devices, larger).
 */
export const MAX_IN_FLIGHT = 2;

/**
 * An aggregate rate spent on a ring of senders, round robin, at each tick of a timer: the budget grows with the
 * time since the last tick (capped at a tenth of a second's worth, so a stall does not become a burst), and a sender
 * that cannot take a message now is skipped. Also the pacing of the benchmark's raw floor (bench/device-fleet.ts).
 */
export class RoundRobinPacer {
  private budget = 0;
  private last = performance.now();
  private next = 0;

  /** Starts over (no budget saved up), as when the rate is turned on. */
  restart(): void {
    this.budget = 0;
    this.last = performance.now();
  }

  /** Calls take(i) once per whole message of budget, over senders 0..n-1 for which ready(i). */
  spend(rate: number, n: number, ready: (i: number) => boolean, take: (i: number) => void): void {
    const now = performance.now();
    this.budget = Math.min(this.budget + ((now - this.last) * rate) / 1000, Math.max(rate / 10, 1));
    this.last = now;
    let skipped = 0;
    while (this.budget >= 1 && skipped < n) {
      const i = this.next;
      this.next = (i + 1) % n;
      if (!ready(i)) { skipped++; continue; }
      skipped = 0;
      this.budget--;
      take(i);
    }
    if (skipped >= n) this.budget = Math.min(this.budget, 1); // nobody can take it now: do not save up a burst
  }
}

function ignore(): void {}

/** The fleet: start() connects and sends, stop() closes every device; stats() at any time. */
export class Fleet {
  private readonly sims: Sim[] = [];
  private readonly counters = { sent: 0, acked: 0, failed: 0, reconnects: 0, connectFailures: 0 };
  private connectedCount = 0;
  private everConnected = 0;
  private readonly t0 = performance.now();
  private allConnectedMs = -1;
  private connectQueue: number[] = [];
  private connectTimer: NodeJS.Timeout | null = null;
  private sendTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly pacer = new RoundRobinPacer();
  private readonly ready = (i: number) => { const sim = this.sims[i]!; return sim.up && sim.inFlight < MAX_IN_FLIGHT; };
  private readonly take = (i: number) => this.send(this.sims[i]!);
  /** Every message the hub acknowledged, by messageId (what a test checks against the hub). */
  readonly ackedIds = new Set<string>();
  /** Set to record ackedIds (tests); off by default to keep a long run's memory flat. */
  recordAcked = false;

  private perSecond = 0;
  /** Aggregate messages per second; may be changed while running. At 0 the send timer stops (an idle fleet wakes for nothing). */
  get rate(): number { return this.perSecond; }
  set rate(r: number) {
    this.perSecond = r;
    if (r > 0 && !this.sendTimer && this.started && !this.stopped) {
      this.pacer.restart();
      this.sendTimer = setInterval(() => this.tick(), 20);
    } else if (r <= 0 && this.sendTimer) {
      clearInterval(this.sendTimer);
      this.sendTimer = null;
    }
  }
  private started = false;

  constructor(private readonly o: FleetOptions) {
    this.rate = o.rate;
    // One options object for the whole fleet (each client keeps a reference to its options).
    const options = Object.freeze({
      shared: true, ...(o.ca ? { ca: o.ca } : {}), transport: o.transport ?? 'mqtts',
      ...(o.retry ? { retry: o.retry } : {}), ...(o.keepAliveSeconds ? { keepAliveSeconds: o.keepAliveSeconds } : {}),
      ...(o.gatewayHostName ? { gatewayHostName: o.gatewayHostName } : {}),
    });
    for (const cs of o.connectionStrings) {
      const client = DeviceClient.fromConnectionString(cs, options);
      const sim: Sim = { client, firmware: new ThermostatFirmware(client, ignore), seq: 0, inFlight: 0, everConnected: false, up: false };
      client.on('warning', ignore);
      client.on('connected', () => {
        if (!sim.up) { sim.up = true; this.connectedCount++; }
        if (sim.everConnected) this.counters.reconnects++;
        else {
          sim.everConnected = true;
          if (++this.everConnected === this.sims.length) this.allConnectedMs = performance.now() - this.t0;
        }
      });
      client.on('disconnected', () => { if (sim.up) { sim.up = false; this.connectedCount--; } });
      this.sims.push(sim);
    }
  }

  start(): void {
    this.connectQueue = this.sims.map((_, i) => i);
    const perTick = Math.max(1, Math.round((this.o.connectRate ?? 200) / 20));
    this.connectTimer = setInterval(() => {
      for (let k = 0; k < perTick && this.connectQueue.length; k++) this.connectOne(this.connectQueue.shift()!);
      if (!this.connectQueue.length && this.everConnected === this.sims.length) { clearInterval(this.connectTimer!); this.connectTimer = null; }
    }, 50);
    this.started = true;
    this.rate = this.perSecond; // starts the send timer unless the rate is 0
  }

  private connectOne(i: number): void {
    const sim = this.sims[i]!;
    sim.client.connect().catch(() => {
      // A first attempt that failed stops the client: it goes to the back of the queue (still rate-bounded).
      this.counters.connectFailures++;
      if (!this.stopped) this.connectQueue.push(i);
    });
  }

  /** Spends the aggregate rate on the connected devices, round robin. */
  private tick(): void {
    this.pacer.spend(this.rate, this.sims.length, this.ready, this.take);
  }

  private send(sim: Sim): void {
    const seq = sim.seq++;
    const messageId = `${sim.client.deviceId}-${seq}`;
    sim.inFlight++;
    this.counters.sent++;
    sim.client.sendTelemetry(sim.firmware.reading(seq), {
      messageId, contentType: 'application/json', contentEncoding: 'utf-8', properties: { sensor: 'thermostat', unit: 'celsius' },
    }).then(() => {
      sim.inFlight--;
      this.counters.acked++;
      if (this.recordAcked) this.ackedIds.add(messageId);
    }, () => {
      sim.inFlight--;
      this.counters.failed++;
    });
  }

  stats(): FleetStats {
    return { devices: this.sims.length, connected: this.connectedCount, ...this.counters, allConnectedMs: this.allConnectedMs };
  }

  /** The devices' clients (for tests and benches). */
  get clients(): DeviceClient[] { return this.sims.map((s) => s.client); }

  /** Each device's thermostat (what it received: C2D messages, method calls, desired versions), as clients are ordered. */
  get firmwares(): ThermostatFirmware[] { return this.sims.map((s) => s.firmware); }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.connectTimer) clearInterval(this.connectTimer);
    if (this.sendTimer) clearInterval(this.sendTimer);
    this.connectTimer = this.sendTimer = null;
    await Promise.allSettled(this.sims.map((s) => s.client.close()));
  }
}

function statusLine(s: FleetStats, rate: number): string {
  return `connected ${s.connected}/${s.devices}  sent/s ${rate.toFixed(0)}  sent ${s.sent}  acked ${s.acked}  failed ${s.failed}  reconnects ${s.reconnects}`;
}

function fail(message: string): number {
  console.error(`iothub-wasm simulate: ${message}\n${USAGE}`);
  return 2;
}

/** `hooks` let a test end the run (signal) and reach the running fleet (onStart). */
export async function main(argv: string[], hooks: { signal?: AbortSignal; onStart?(fleet: Fleet): void } = {}): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        devices: { type: 'string' }, rate: { type: 'string' }, 'connection-string': { type: 'string' }, 'hub-data-dir': { type: 'string' },
        duration: { type: 'string' }, 'connect-rate': { type: 'string', default: '200' }, prefix: { type: 'string', default: 'sim' },
        ca: { type: 'string' }, plain: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    return fail((e as Error).message);
  }
  if (values.help) { console.log(USAGE); return 0; }
  const devices = Number(values.devices);
  const rate = Number(values.rate);
  const duration = values.duration === undefined ? Infinity : Number(values.duration);
  const connectRate = Number(values['connect-rate']);
  if (values.devices === undefined || !Number.isInteger(devices) || devices < 1) return fail('--devices takes a whole number ≥ 1');
  if (values.rate === undefined || !(rate >= 0) || !Number.isFinite(rate)) return fail('--rate takes a number of messages per second ≥ 0');
  if (!(duration > 0)) return fail('--duration takes a number of seconds > 0');
  if (!(connectRate > 0) || !Number.isFinite(connectRate)) return fail('--connect-rate takes a number of connections per second > 0');
  const template = values['connection-string'];
  const dataDir = values['hub-data-dir'];
  if ((template === undefined) === (dataDir === undefined)) return fail('give either --connection-string TEMPLATE or --hub-data-dir DIR');
  if (values.plain && dataDir !== undefined) return fail('--plain goes with a --connection-string whose GatewayHostName is the plain port (the running hub announces its TLS one)');

  let ca: string | undefined;
  const caFile = values.ca ?? (dataDir ? join(resolvePath(dataDir), 'tls', 'ca.pem') : undefined);
  if (caFile) {
    try { ca = readFileSync(caFile, 'utf8'); } catch (e) { return fail(`cannot read the CA ${caFile}: ${(e as Error).message}`); }
  }

  let connectionStrings: string[];
  if (template !== undefined) {
    if (devices > 1 && !/\{(n|id)\}/.test(template)) return fail('the connection string template needs {n} (or {id}) in its DeviceId, so that each device is its own');
    connectionStrings = Array.from({ length: devices }, (_, i) => template.replace(/\{(n|id)\}/g, String(i + 1)));
  } else {
    // Registered on the running hub's folder, as `iothub-wasm hub device add` does; the hub picks them up.
    const { runningHub } = await import('../hub/running.js');
    const { Registry } = await import('../hub/state/registry.js');
    const dir = resolvePath(dataDir!);
    const running = runningHub(dir);
    if (!running) return fail(`no local hub is running on ${dir} (start one with: iothub-wasm hub --data-dir ${dataDir})`);
    const registry = new Registry(dir, running.hostName);
    registry.gatewayHostName = running.gatewayHostName;
    // One write of the registry for the whole fleet (devices registered before are reused as they are).
    const ids = Array.from({ length: devices }, (_, i) => `${values.prefix}-${i + 1}`);
    const t0 = performance.now();
    try {
      connectionStrings = (await registry.addDevices(ids)).map((info) => info.connectionString);
    } catch (e) {
      registry.close();
      return fail((e as Error).message);
    }
    await registry.flush();
    console.log(`registered ${devices} devices on ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    registry.close();
  }

  const fleet = new Fleet({ connectionStrings, rate, connectRate, transport: values.plain ? 'mqtt' : 'mqtts', ...(ca ? { ca } : {}) });
  const tty = process.stdout.isTTY === true;
  let last = { t: performance.now(), sent: 0 };
  let lastPrinted = 0;
  const show = (final = false) => {
    const s = fleet.stats();
    const now = performance.now();
    const perS = ((s.sent - last.sent) * 1000) / Math.max(now - last.t, 1);
    last = { t: now, sent: s.sent };
    if (tty) process.stdout.write(`\r\x1b[K${statusLine(s, perS)}${final ? '\n' : ''}`);
    else if (final || now - lastPrinted >= 5000) { console.log(statusLine(s, perS)); lastPrinted = now; }
  };
  const t0 = performance.now();
  fleet.start();
  hooks.onStart?.(fleet);
  const live = setInterval(() => show(), 1000);
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const end = () => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', end);
      hooks.signal?.removeEventListener('abort', end);
      resolve();
    };
    if (Number.isFinite(duration)) timer = setTimeout(end, duration * 1000);
    process.once('SIGINT', end);
    if (hooks.signal?.aborted) end(); else hooks.signal?.addEventListener('abort', end, { once: true });
  });
  clearInterval(live);
  show(true);
  const s = fleet.stats();
  const seconds = (performance.now() - t0) / 1000;
  await fleet.stop();
  console.log(`summary: ${s.devices} devices, ${s.allConnectedMs >= 0 ? `all connected in ${(s.allConnectedMs / 1000).toFixed(1)} s` : `${s.connected} connected at the end`}, ` +
    `${s.sent} sent in ${seconds.toFixed(1)} s (${(s.sent / seconds).toFixed(0)}/s), ${s.acked} acknowledged, ${s.failed} failed, ` +
    `${s.reconnects} reconnects, ${s.connectFailures} failed first connects`);
  return 0;
}
