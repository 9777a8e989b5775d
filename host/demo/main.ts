// `npm start`: the main job on the embedded local hub, no cloud account. A local IoT Hub starts, a demo device
// is registered and runs on the WebAssembly core over TLS: it connects, sends telemetry (with a progress bar),
// reports its twin, applies a desired update, answers a direct method and receives a C2D message, all driven by
// the demo's service side. Then a summary, exit 0. `npm start -- --forever` keeps it running.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { LocalHub } from '../hub/index.js';
import { DeviceClient } from '../device/client.js';
import { ThermostatFirmware } from './firmware.js';

const USAGE = `usage: npm start [-- options]     the demo device on the embedded local hub, then a summary

  --count <n>          QoS 1 readings to send (default 500)
  --websocket          MQTT over WebSocket (wss, port 443 style) instead of MQTT over TLS
  --profile <p>        the core's build: gateway (default) or mcu (one 64 KiB page)
  --forever            keep running (and print a second device's connection string)
  -h, --help           this help`;

let parsed;
try {
  parsed = parseArgs({
    options: {
      forever: { type: 'boolean', default: false },
      count: { type: 'string', default: '500' },
      websocket: { type: 'boolean', default: false },
      profile: { type: 'string', default: 'gateway' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (e) {
  console.error(`iothub-wasm demo: ${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 0) {
  console.error(`iothub-wasm demo: --count must be a whole number, got '${values.count}'`);
  process.exit(2);
}
if (values.profile !== 'gateway' && values.profile !== 'mcu') {
  console.error(`iothub-wasm demo: --profile is 'gateway' or 'mcu', got '${values.profile}'`);
  process.exit(2);
}

const dataDir = mkdtempSync(join(tmpdir(), 'iothub-wasm-demo-'));
const started = performance.now();
const say = (line: string) => console.log(`  ${line}`);

// Ctrl-C (or SIGTERM) at any point stops the demo cleanly: the device closed, the hub stopped, the temporary folder
// (it holds the hub's private key) removed, a summary of what was done so far, then exit 130 for SIGINT (143 for
// SIGTERM), as a shell expects of an interrupted command. With --forever, Ctrl-C is the way to end it: the full
// summary and exit 0.
const hubStarting = LocalHub.start({ port: 0, dataDir, log: false });
const sofar = { acked: 0, hubTelemetry: 0, methods: [] as string[], c2d: 0 };
let openClient: DeviceClient | undefined;
let bar: cliProgress.SingleBar | undefined;
let waitingForCtrlC: (() => void) | undefined;
let stopping = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (signal === 'SIGINT' && waitingForCtrlC) { waitingForCtrlC(); return; }
  if (stopping) return;
  stopping = true;
  bar?.stop();
  void (async () => {
    await openClient?.close().catch(() => {});
    await hubStarting.then((h) => h.stop(), () => {}).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    console.log(`\nsummary (interrupted by ${signal})`);
    say(`telemetry: ${sofar.acked} of ${count} acknowledged (QoS 1); the hub received ${sofar.hubTelemetry}`);
    say(`direct methods answered: ${sofar.methods.join(', ') || 'none'}`);
    say(`cloud-to-device messages received: ${sofar.c2d}`);
    say(`hub stopped; temporary folder ${dataDir} removed`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  })();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const hub = await hubStarting;
try {
  const device = await hub.registry.addDevice('thermostat-1');
  console.log(`iothub-wasm demo: local IoT Hub on localhost:${hub.port} (TLS, certificate generated in ${dataDir})`);
  say(`device thermostat-1 registered: ${device.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=…')}`);

  let hubTelemetry = 0;
  hub.on('telemetry', () => { hubTelemetry++; sofar.hubTelemetry = hubTelemetry; });
  const client = DeviceClient.fromConnectionString(device.connectionString, {
    ca: hub.ca, transport: values.websocket ? 'wss' : 'mqtts', profile: values.profile,
    ...(values.websocket && hub.wsPort ? { gatewayHostName: `localhost:${hub.wsPort}` } : {}),
  });
  openClient = client;
  client.on('disconnected', (e: { code: string; retryInMs: number }) => { if (e.code !== 'CLIENT_CLOSED') say(`disconnected (${e.code}), retrying in ${e.retryInMs} ms`); });
  const firmware = new ThermostatFirmware(client, say);

  await client.connect();
  say(`connected over ${values.websocket ? 'MQTT/WebSocket' : 'MQTT/TLS'} on the ${values.profile} core`);
  const reportedVersion = await firmware.reportStartup();
  say(`twin read; reported properties at $version ${reportedVersion}`);

  const t0 = performance.now();
  const progress = new cliProgress.SingleBar({ format: '  telemetry {bar} {value}/{total} acknowledged | {rate} msg/s', hideCursor: true, noTTYOutput: true, notTTYSchedule: 500 }, cliProgress.Presets.shades_classic);
  bar = progress;
  progress.start(count, 0, { rate: 0 });
  await firmware.sendReadings(count, 50, (done) => { sofar.acked = done; progress.update(done, { rate: Math.round(done / ((performance.now() - t0) / 1000)) }); });
  progress.stop();
  const seconds = (performance.now() - t0) / 1000;

  // The service side: a desired update, a direct method, a cloud-to-device message.
  const desiredApplied = new Promise<void>((resolve) => client.onDesiredProperties(() => resolve()));
  await hub.updateDesired('thermostat-1', { targetTemperature: 23.5 });
  await desiredApplied;
  await firmware.lastReport;
  // the report's period: since the readings began
  const method = await hub.invokeMethod('thermostat-1', 'getMaxMinReport', new Date(Date.now() - (performance.now() - t0)).toISOString(), { responseTimeoutInSeconds: 10 });
  sofar.methods = firmware.methodCalls;
  say(`direct method getMaxMinReport → ${method.status} ${JSON.stringify(method.payload)}`);
  const c2dArrived = new Promise<void>((resolve) => client.onC2D(() => resolve()));
  await hub.sendC2D('thermostat-1', JSON.stringify({ command: 'beep' }), { messageId: 'c2d-1', properties: { priority: 'high', note: null } });
  await c2dArrived;
  sofar.c2d = firmware.received.length;

  if (values.forever) {
    const second = await hub.registry.addDevice('thermostat-2');
    say('running until Ctrl-C: one reading a second. A second device for another terminal:');
    say(`  npx iothub-wasm run --ca ${join(dataDir, 'tls', 'ca.pem')} --connection-string "${second.connectionString}"`);
    let seq = count;
    const timer = setInterval(() => { client.sendTelemetry(firmware.reading(seq++), { messageId: `reading-${seq}` }).catch((e: Error) => say(`telemetry failed: ${e.message}`)); }, 1000);
    await new Promise<void>((resolve) => { waitingForCtrlC = resolve; });
    clearInterval(timer);
  }

  const twin = await hub.getTwin('thermostat-1');
  await client.close();
  await new Promise((r) => setTimeout(r, 50));
  console.log('\nsummary');
  say(`telemetry: ${count} sent and acknowledged (QoS 1) in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} msg/s); the hub received ${hubTelemetry}`);
  say(`twin: desired $version ${(twin.properties.desired as { $version?: number }).$version}, reported ${JSON.stringify(twin.properties.reported)}`);
  say(`direct methods answered: ${firmware.methodCalls.join(', ') || 'none'}`);
  say(`cloud-to-device messages received: ${firmware.received.length}`);
  say(`total ${((performance.now() - started) / 1000).toFixed(2)} s`);
  if (hubTelemetry < count || firmware.received.length < 1 || firmware.methodCalls.length < 1) {
    console.error('iothub-wasm demo: something did not arrive (see above)');
    process.exitCode = 1;
  }
} finally {
  // Interrupted: the signal handler stops the hub, removes the folder and exits; what failed under it does not count.
  if (stopping) await new Promise(() => {});
  await hub.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
