// The host path's own cost per message, with no socket: DeviceClient (its simple call and its batch path) against
// an MQTT peer in the same process (bench/loopback-board.ts), beside a raw writer of pre-encoded packets to the same
// peer, with and without a promise per message. The peer's work is in every row, the kernel's and TLS's in none,
// so the differences are the client's. QoS 1, 100 in flight, the device benchmark's 101-byte body and two properties.
import { DeviceClient, TelemetryProperties } from '../host/device/client.js';
import { loopbackBoard, loopbackPeer, type LoopbackPeer } from './loopback-board.js';
import type { BenchSuite, BenchRow } from './harness.js';
import { publishBatches, pubackCounter } from './raw-writer.js';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const MESSAGES = env('BENCH_HOST_PATH_MESSAGES', 300_000);
const ROUNDS = env('BENCH_HOST_PATH_ROUNDS', 7);
const IN_FLIGHT = 100;
const BATCH_OF = 10;
const BODY = JSON.stringify({ deviceId: 'bench-device-0001', temperature: 21.53, humidity: 48.2, pressure: 1013.25, seq: 1234567 });
const PROPS = { alert: 'none', source: 'bench' };
const CS = 'HostName=bench.azure-devices.net;DeviceId=bench-device-0001;SharedAccessKey=' + Buffer.alloc(32, 7).toString('base64');

/** Starts `n` messages (the next when one settles) with IN_FLIGHT outstanding; resolves when all settled. */
type Drive = (n: number) => Promise<void>;
interface Side { drive: Drive; close(): Promise<void> }

function driveEach(send: () => Promise<void>): Drive {
  return (total) => new Promise((resolve, reject) => {
    let started = 0, done = 0;
    const ok = () => { if (++done === total) resolve(); else if (started < total) { started++; send().then(ok, reject); } };
    for (; started < Math.min(IN_FLIGHT, total); ) { started++; send().then(ok, reject); }
  });
}

async function oursSimple(): Promise<Side> {
  const c = DeviceClient.fromConnectionString(CS, { board: loopbackBoard(), twinResync: false });
  await c.connect();
  return { drive: driveEach(() => c.sendTelemetry(BODY, { properties: PROPS, qos: 1 })), close: () => c.close() };
}

async function oursBatch(): Promise<Side> {
  const c = DeviceClient.fromConnectionString(CS, { board: loopbackBoard(), twinResync: false });
  await c.connect();
  const bodies = Array.from({ length: BATCH_OF }, () => BODY);
  const options = { properties: new TelemetryProperties(PROPS), qos: 1 as const };
  const drive: Drive = (total) => new Promise((resolve, reject) => {
    let started = 0, done = 0;
    const ok = () => { done += BATCH_OF; if (done >= total) resolve(); else if (started < total) { started += BATCH_OF; c.sendTelemetryBatch(bodies, options).then(ok, reject); } };
    for (let i = 0; i < IN_FLIGHT / BATCH_OF; i++) { started += BATCH_OF; c.sendTelemetryBatch(bodies, options).then(ok, reject); }
  });
  return { drive, close: () => c.close() };
}

const templateWriter = () => publishBatches('devices/bench-device-0001/messages/events/alert=none&source=bench', BODY);

/** The floor: as many packets written, in one write, as PUBACKs arrived in the last chunk. */
async function raw(): Promise<Side> {
  const batch = templateWriter();
  let onAcks: (n: number) => void = () => {};
  const count = pubackCounter();
  const peer: LoopbackPeer = loopbackPeer((chunk) => onAcks(count(chunk)));
  const drive: Drive = (total) => new Promise((resolve) => {
    let started = Math.min(IN_FLIGHT, total), done = 0;
    onAcks = (n) => {
      done += n;
      if (done >= total) { resolve(); return; }
      const k = Math.min(n, total - started);
      if (k > 0) { started += k; peer.receive(batch(k)); }
    };
    peer.receive(batch(started));
  });
  return { drive, close: async () => {} };
}

/** The same with the simple call's shape: a promise per message, one write per burst. */
async function rawPromise(): Promise<Side> {
  const batch = templateWriter();
  const waiting: Array<() => void> = [];
  let head = 0, queued = 0, scheduled = false;
  const count = pubackCounter();
  const peer = loopbackPeer((chunk) => {
    for (let n = count(chunk); n > 0; n--) waiting[head++]!();
    if (head > 65536) { waiting.splice(0, head); head = 0; }
  });
  const flush = () => { scheduled = false; const k = queued; queued = 0; peer.receive(batch(k)); };
  const drive = driveEach(() => {
    const p = new Promise<void>((resolve) => { waiting.push(resolve); });
    queued++;
    if (!scheduled) { scheduled = true; queueMicrotask(flush); }
    return p;
  });
  return { drive, close: async () => {} };
}

/** Client CPU per message of one round of MESSAGES. */
async function round(drive: Drive): Promise<number> {
  const c0 = process.cpuUsage();
  await drive(MESSAGES);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / MESSAGES;
}

const suite: BenchSuite = {
  name: 'host-path',
  async run({ log }) {
    const sides = [
      ['raw writer', raw], ['raw writer, a promise per message', rawPromise],
      ['ours (DeviceClient.sendTelemetry)', oursSimple], [`ours, sendTelemetryBatch of ${BATCH_OF}`, oursBatch],
    ] as const;
    // All sides connected at once, their rounds interleaved (the order turning each round), so that a busy moment
    // of the machine falls on every side alike; each side's figure is its least round.
    const open: Array<Side> = [];
    const result: Record<string, { cpuUs: number; rounds: number[] }> = {};
    try {
      for (const [name, make] of sides) {
        const side = await make();
        open.push(side);
        await side.drive(MESSAGES / 4); // warm-up
        result[name] = { cpuUs: Infinity, rounds: [] };
      }
      for (let r = 0; r < ROUNDS; r++) {
        for (let k = 0; k < sides.length; k++) {
          const i = (k + r) % sides.length;
          const us = await round(open[i]!.drive);
          const res = result[sides[i]![0]]!;
          res.rounds.push(us);
          res.cpuUs = Math.min(res.cpuUs, us);
        }
      }
    } finally {
      for (const side of open) await side.close();
    }
    const r = (a: string, b: string) => `${(result[a]!.cpuUs / result[b]!.cpuUs).toFixed(2)}×`;
    log(`QoS 1 telemetry to an MQTT peer in the same process (no socket, no TLS), ${IN_FLIGHT} in flight, ${BODY.length}-byte body + 2 properties; ` +
      `CPU per message, the least of ${ROUNDS} rounds of ${MESSAGES} (the peer's work in every row):`);
    for (const [name] of sides) log(`  ${name.padEnd(36)}${`${result[name]!.cpuUs.toFixed(2)} µs`.padStart(10)}   ${result[name]!.rounds.map((x) => x.toFixed(2)).join(' / ')} µs`);
    log(`  ours/raw ${r('ours (DeviceClient.sendTelemetry)', 'raw writer')}, ours/(raw with a promise per message) ${r('ours (DeviceClient.sendTelemetry)', 'raw writer, a promise per message')}, ` +
      `batch/raw ${r(`ours, sendTelemetryBatch of ${BATCH_OF}`, 'raw writer')}`);
    return sides.map(([name]) => ({ name: `host-path ${name}`, cpuUsPerMsg: +result[name]!.cpuUs.toFixed(3) } as BenchRow));
  },
};

export default suite;
