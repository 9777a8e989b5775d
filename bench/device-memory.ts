// Memory per connected device, measured in a fresh process (forked by device.bench.ts with --expose-gc) so that
// RSS holds only this side's clients: one warm-up device is connected first (code loaded, JIT warm, first-use
// allocations made), then GC → baseline, then N more devices in batches, all counted as connected, GC → after.
//   ← { side, transport, ca, port, plainPort, connectionStrings (N + 1), batch }
//   → { type: 'result', ... } or { type: 'error', message }; then ← { type: 'stop' } closes everything and exits.
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { readFileSync } from 'node:fs';
import { DeviceClient } from '../host/device/client.js';
import { Core } from '../host/wasm/core.js';

export interface MemoryJob {
  side: 'ours-gateway' | 'ours-mcu' | 'ours-shared' | 'sdk';
  transport: 'mqtt' | 'mqtts';
  ca: string;
  port: number;
  plainPort: number;
  connectionStrings: string[];
  batch: number;
}

export interface MemoryResult {
  type: 'result';
  side: string;
  transport: string;
  devices: number;
  connected: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  externalBefore: number;
  externalAfter: number;
  connectMs: number;
  /** Ours only (Linux): resident bytes of the cores' linear memories (from /proc/self/smaps), per device; -1 if unknown. */
  wasmRssPerDevice: number;
}

const { Client } = device;
const { Mqtt } = deviceMqtt;

/** The SDK's MQTT transport over plain TCP: the protected base config points at mqtt://127.0.0.1:PORT (as in
 *  tests/fixtures/node-sdk-mqtt-captures.json, scenario A); username and SAS are unchanged. */
function plainMqtt(port: number): typeof Mqtt {
  return class PlainMqtt extends Mqtt {
    protected override _getBaseTransportConfig(credentials: Parameters<InstanceType<typeof Mqtt>['_getBaseTransportConfig']>[0]) {
      return { ...super._getBaseTransportConfig(credentials), uri: `mqtt://127.0.0.1:${port}` };
    }
  } as unknown as typeof Mqtt;
}

interface Handle { connected(): boolean; close(): Promise<unknown> }

async function connectOne(job: MemoryJob, cs: string): Promise<Handle> {
  if (job.side === 'sdk') {
    const client = Client.fromConnectionString(cs, job.transport === 'mqtt' ? plainMqtt(job.plainPort) : Mqtt);
    let up = true;
    client.on('disconnect', () => { up = false; });
    client.on('error', () => {});
    if (job.transport === 'mqtts') await client.setOptions({ ca: job.ca });
    await client.open();
    return { connected: () => up, close: () => client.close() };
  }
  const client = DeviceClient.fromConnectionString(cs, {
    ca: job.ca,
    profile: job.side === 'ours-mcu' ? 'mcu' : 'gateway',
    shared: job.side === 'ours-shared',
    transport: job.transport,
    ...(job.transport === 'mqtt' ? { gatewayHostName: `localhost:${job.plainPort}` } : {}),
  });
  client.on('warning', () => {});
  await client.connect();
  return { connected: () => client.state === 'ready', close: () => client.close() };
}

/** The mean resident size of the read-write mappings exactly `size` bytes long (each core's memory is its own mapping). */
function residentOfMappings(size: number, expect: number): number {
  try {
    let count = 0, rss = 0, match = false;
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
      if (m) {
        match = parseInt(m[2]!, 16) - parseInt(m[1]!, 16) === size && m[3]!.startsWith('rw');
        if (match) count++;
        continue;
      }
      const r = match ? /^Rss:\s+(\d+) kB/.exec(line) : null;
      if (r) rss += Number(r[1]) * 1024;
    }
    return count === expect ? rss / count : -1; // the unconnected probe core is one of 1,000+: a negligible error
  } catch {
    return -1;
  }
}

const gc = (globalThis as { gc?: () => void }).gc;
async function settle(): Promise<NodeJS.MemoryUsage> {
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage();
}

async function run(job: MemoryJob): Promise<{ result: MemoryResult; handles: Handle[] }> {
  // Ours: compile the module, and learn the size of one core's linear memory (this probe core stays, before the baseline).
  const probe = job.side === 'sdk' || job.side === 'ours-shared' ? null : new Core(job.side === 'ours-mcu' ? 'mcu' : 'gateway');
  const handles: Handle[] = [];
  handles.push(await connectOne(job, job.connectionStrings[0]!));
  const before = await settle();
  const rest = job.connectionStrings.slice(1);
  const t0 = performance.now();
  for (let i = 0; i < rest.length; i += job.batch) {
    handles.push(...await Promise.all(rest.slice(i, i + job.batch).map((cs) => connectOne(job, cs))));
  }
  const connectMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 200)); // let late SUBACKs and timers land
  const after = await settle();
  const connected = handles.slice(1).filter((h) => h.connected()).length;
  const wasmRssPerDevice = probe ? residentOfMappings(probe.memory.buffer.byteLength, handles.length + 1) : -1;
  return {
    handles,
    result: {
      type: 'result', side: job.side, transport: job.transport, devices: rest.length, connected,
      rssBefore: before.rss, rssAfter: after.rss, heapBefore: before.heapUsed, heapAfter: after.heapUsed,
      externalBefore: before.external, externalAfter: after.external, connectMs, wasmRssPerDevice,
    },
  };
}

if (!process.send) throw new Error('bench/device-memory.js is started by the device benchmark (child_process.fork)');
let handles: Handle[] = [];
const finish = async () => {
  await Promise.race([Promise.allSettled(handles.map((h) => h.close())), new Promise((r) => setTimeout(r, 5000))]);
  process.exit(0);
};
process.on('message', (m: MemoryJob | { type: 'stop' }) => {
  if ('type' in m) { void finish(); return; }
  run(m).then(
    (r) => { handles = r.handles; process.send!(r.result); },
    (e: Error) => { process.send!({ type: 'error', message: String(e?.stack ?? e) }); },
  );
});
process.on('disconnect', () => { void finish(); });
