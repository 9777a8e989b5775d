// The Cortex-M3 image (boards/mps2-an385/build/firmware.elf) booted in QEMU's mps2-an385 exactly as the board's
// contract says, against the real local hub through the ESP-AT module emulator (TLS on the "module", trusting the
// hub's CA). Everything is checked from the hub's side, plus the image's log UART and its semihosting exit code.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startHub } from '../hub/helpers.js';
import type { TelemetryMessage, FeedbackRecord } from '../../host/hub/index.js';
import { EspAtModem } from './esp-at-modem.js';
import { bootMps2, firmwarePath, firmwareFastPath, EXIT, type Mps2Run } from './mps2-qemu.js';
import { boardTest } from './support.js';

/** What these tests run: QEMU, and the image `npm run build:boards` makes (with gcc-arm-none-eabi, newlib, wabt). */
const NEEDS = { packages: ['qemu-system-arm'], built: ['boards/mps2-an385/build/firmware.elf'] };

/** Resolves when `check` holds, polling (bounded): for hub-side state that has no event of its own. */
async function until(what: string, check: () => boolean | Promise<boolean>, run: Mps2Run, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log:\n${run.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Reading { seq: number; temperature: number; message: TelemetryMessage }

/** Every reading the hub received, parsed, with the thermostat's properties checked on each. */
function readingOf(m: TelemetryMessage): Reading {
  const body = JSON.parse(m.body.toString('utf8')) as { temperature: number; seq: number };
  assert.deepEqual(Object.keys(body), ['temperature', 'seq']);
  assert.equal(typeof body.temperature, 'number');
  assert.equal(m.systemProperties['messageId'], `reading-${body.seq}`);
  assert.equal(m.systemProperties['contentType'], 'application/json');
  assert.equal(m.systemProperties['contentEncoding'], 'utf-8');
  assert.deepEqual(m.properties, { sensor: 'thermostat', unit: 'celsius' });
  assert.equal(m.qos, 1);
  return { seq: body.seq, temperature: body.temperature, message: m };
}

async function session(t: TestContext, deviceId: string, config: Record<string, number>, setup?: (m: EspAtModem) => void) {
  const { hub, done } = await startHub();
  const { connectionString } = await hub.registry.addDevice(deviceId);
  const modem = await EspAtModem.start({ ca: hub.ca });
  setup?.(modem);
  const telemetry: TelemetryMessage[] = [];
  hub.on('telemetry', (m) => { if (m.deviceId === deviceId) telemetry.push(m); });
  const run = bootMps2({ modemPort: modem.port, config: { connection_string: connectionString, ...config } });
  t.after(async () => { await run.dispose(); await modem.close(); await done(); });
  return { hub, modem, run, telemetry, connectionString };
}

boardTest('mps2-an385 image: the thermostat session through the ESP-AT module, checked from the hub (readings with their properties, method answers, reported properties, C2D), exit 0 through semihosting', NEEDS, async (t) => {
  const deviceId = 'mps2-thermostat';
  const count = 12;
  const { hub, modem, run, telemetry } = await session(t, deviceId, { count, interval_ms: 600 });

  // The module's side: the start-up exchange, then one TLS link to the hub's endpoint with its host name as SNI.
  const [host, port, sni] = await new Promise<[string, number, string]>((resolve) => modem.once('link', (h, p, s) => resolve([h, p, s])));
  assert.equal(host, 'localhost', 'GatewayHostName\'s host');
  assert.equal(port, hub.port, 'GatewayHostName\'s port');
  assert.equal(sni, 'localhost', 'HostName as SNI');
  assert.deepEqual(modem.commands.slice(0, 3), ['AT', 'ATE0', 'AT+CIPSNTPTIME?']);

  // Start-up report.
  await until('the start-up report', async () => (await hub.getTwin(deviceId)).properties.reported['serialNumber'] !== undefined, run);
  const reported0 = (await hub.getTwin(deviceId)).properties.reported;
  assert.equal(reported0['serialNumber'], 'IOTHUB-WASM-0001');
  assert.equal(typeof reported0['firmware'], 'string');

  // Desired targetTemperature, applied and acknowledged in reported properties.
  const updated = await hub.updateDesired(deviceId, { targetTemperature: 25 });
  const av = updated.properties.desired['$version'];
  await until('the desired update acknowledged', async () => {
    const r = (await hub.getTwin(deviceId)).properties.reported['targetTemperature'] as { av?: number } | undefined;
    return r?.av === av;
  }, run);
  assert.deepEqual((await hub.getTwin(deviceId)).properties.reported['targetTemperature'], { value: 25, ac: 200, av });

  // Methods, answered 200.
  const report = await hub.invokeMethod(deviceId, 'getMaxMinReport', { since: '2026-12-01T00:00:00Z' }, { responseTimeoutInSeconds: 10 });
  assert.equal(report.status, 200);
  assert.deepEqual(Object.keys(report.payload as object).sort(), ['avgTemp', 'maxTemp', 'minTemp', 'since']);
  const reboot = await hub.invokeMethod(deviceId, 'reboot', { delay: 2 }, { responseTimeoutInSeconds: 10 });
  assert.deepEqual(reboot, { status: 200, payload: { rebooting: true, delay: 2 } });

  // C2D with properties: printed on the log UART, completed (feedback Success).
  const feedback: FeedbackRecord[] = [];
  hub.on('feedback', (f) => feedback.push(f));
  await hub.sendC2D(deviceId, 'hello mps2', { messageId: 'c2d-mps2-1', properties: { colour: 'red' }, ack: 'full' });
  await until('C2D feedback', () => feedback.length > 0, run);
  assert.equal(feedback[0].statusCode, 'Success');
  assert.equal(feedback[0].originalMessageId, 'c2d-mps2-1');

  // The run ends by itself after `count` acknowledged readings and a clean stop.
  const code = await run.exited;
  const log = run.log();
  assert.equal(code, EXIT.OK, `exit code; log:\n${log}`);
  assert.match(log, /cloud-to-device message c2d-mps2-1: hello mps2 \{.*"colour":"red".*\}/, 'C2D printed with its properties');
  assert.match(log, /exit: ok/);
  assert.doesNotMatch(log, /trap|fault|assert/);
  const stack = /stack: high water (\d+) of (\d+) bytes/.exec(log);
  assert.ok(stack && Number(stack[1]) > 0 && Number(stack[1]) < Number(stack[2]), 'the stack stayed inside its reservation');

  // Every reading, once each, in order, with its properties (readingOf checks them), while the link stayed up.
  const readings = telemetry.map(readingOf);
  assert.deepEqual(readings.map((r) => r.seq), Array.from({ length: count }, (_, i) => i));
  assert.ok(readings.slice(1).some((r) => r.temperature > readings[0].temperature), 'the reading follows the target up');
  assert.equal(modem.links, 1, 'one link: nothing dropped it');
  assert.equal(hub.isConnected(deviceId), false, 'disconnected at the end');
});

boardTest('mps2-an385 image: an unsolicited CLOSED from the module mid-session is a dropped transport: the core reconnects with its back-off and no reading is lost', NEEDS, async (t) => {
  const deviceId = 'mps2-closed';
  const count = 6;
  const { hub, modem, run, telemetry } = await session(t, deviceId, { count, interval_ms: 300 });

  await until('two readings', () => telemetry.length >= 2, run);
  const before = telemetry.length;
  const reconnected = new Promise<void>((resolve) => modem.once('link', () => resolve()));
  modem.injectClosed();
  await reconnected;
  assert.equal(modem.links, 2, 'a second CIPSTART after the CLOSED');

  const code = await run.exited;
  const log = run.log();
  assert.equal(code, EXIT.OK, `exit code; log:\n${log}`);
  assert.match(log, /disconnected: CLIENT_TRANSPORT_CLOSED/);
  assert.match(log, /exit: ok/);
  // Every reading arrived (one in flight at the drop may come twice: QoS 1 is at least once).
  const seqs = new Set(telemetry.map(readingOf).map((r) => r.seq));
  assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i));
  assert.ok(telemetry.length >= count && before < count, 'the drop came mid-session');
  assert.equal(hub.isConnected(deviceId), false);
});

boardTest('mps2-an385 image: a CIPSTART answered ERROR is a failed open: the core backs off and opens again, and the session completes', NEEDS, async (t) => {
  const deviceId = 'mps2-refused';
  const count = 2;
  const { modem, run, telemetry } = await session(t, deviceId, { count, interval_ms: 100 }, (m) => { m.refuseStarts = 1; });
  const code = await run.exited;
  const log = run.log();
  assert.equal(code, EXIT.OK, `exit code; log:\n${log}`);
  assert.equal(modem.commands.filter((c) => c.startsWith('AT+CIPSTART=')).length, 2, 'one refused, one that connected');
  assert.equal(modem.links, 1);
  assert.deepEqual([...new Set(telemetry.map(readingOf).map((r) => r.seq))], [0, 1]);
});

boardTest('mps2-an385 image: a key the hub refuses stops the device for good: exit 1 naming CLIENT_CONNACK_NOT_AUTHORIZED, no reconnect', NEEDS, async (t) => {
  const { hub, done } = await startHub();
  const { connectionString } = await hub.registry.addDevice('mps2-wrong-key');
  const wrong = connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
  const modem = await EspAtModem.start({ ca: hub.ca });
  const run = bootMps2({ modemPort: modem.port, config: { connection_string: wrong, count: 3 } });
  t.after(async () => { await run.dispose(); await modem.close(); await done(); });
  const code = await run.exited;
  const log = run.log();
  assert.equal(code, EXIT.FAILED, `exit code; log:\n${log}`);
  assert.match(log, /stopped: CLIENT_CONNACK_NOT_AUTHORIZED/);
  assert.equal(modem.links, 1, 'no second attempt');
});

boardTest('mps2-an385 image: a CONFIG page without count is refused before the module is touched: exit 2 naming the key', NEEDS, async (t) => {
  const modem = await EspAtModem.start({ ca: '' });
  const run = bootMps2({ modemPort: modem.port, config: { connection_string: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA', interval_ms: 5 } });
  t.after(async () => { await run.dispose(); await modem.close(); });
  const code = await run.exited;
  assert.equal(code, EXIT.BAD_CONFIG, run.log());
  assert.match(run.log(), /config: missing or bad count/);
  assert.deepEqual(modem.commands, []);
});

boardTest('mps2-an385 image: nothing is linked into the CONFIG page (0x003FF000, 4 KiB): the image never overwrites it', { packages: ['gcc-arm-none-eabi'], built: NEEDS.built }, () => {
  const text = execFileSync('arm-none-eabi-readelf', ['-lW', firmwarePath], { encoding: 'utf8' });
  const loads = [...text.matchAll(/^\s+LOAD\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/gm)]
    .map((m) => ({ at: parseInt(m[1], 16), file: parseInt(m[2], 16), mem: parseInt(m[3], 16) }));
  assert.ok(loads.length > 0, 'LOAD segments found');
  for (const l of loads) {
    const end = l.at + Math.max(l.file, l.mem);
    assert.ok(end <= 0x003ff000 || l.at >= 0x00400000, `segment 0x${l.at.toString(16)}..0x${end.toString(16)} stays off the CONFIG page`);
  }
});

boardTest('mps2-an385 fast image (wasm2c memory accessors inlined): the same readings reach the hub and it exits 0', { packages: ['qemu-system-arm'], built: ['boards/mps2-an385/build/fast/firmware.elf'] }, async (t) => {
  const { hub, done } = await startHub();
  const { connectionString } = await hub.registry.addDevice('mps2-fast');
  const modem = await EspAtModem.start({ ca: hub.ca });
  const telemetry: TelemetryMessage[] = [];
  hub.on('telemetry', (m) => telemetry.push(m));
  const run = bootMps2({ elf: firmwareFastPath, modemPort: modem.port, config: { connection_string: connectionString, count: 3, interval_ms: 50 } });
  t.after(async () => { await run.dispose(); await modem.close(); await done(); });
  assert.equal(await run.exited, EXIT.OK, run.log());
  assert.deepEqual(telemetry.map(readingOf).map((r) => r.seq), [0, 1, 2]);
});

boardTest('mps2-an385 image: a 3 KB C2D message, in +IPD chunks larger than the 512-byte UART ring, arrives whole (the ring holds the module back instead of dropping bytes)', NEEDS, async (t) => {
  const deviceId = 'mps2-big-c2d';
  const { hub, run } = await session(t, deviceId, { count: 8, interval_ms: 400 });
  await until('connected', () => hub.isConnected(deviceId), run);
  const feedback: FeedbackRecord[] = [];
  hub.on('feedback', (f) => feedback.push(f));
  const body = 'x'.repeat(3000);
  await hub.sendC2D(deviceId, body, { messageId: 'c2d-big', properties: { part: '1' }, ack: 'full' });
  await until('C2D feedback', () => feedback.length > 0, run);
  assert.equal(feedback[0].statusCode, 'Success');
  assert.equal(await run.exited, EXIT.OK, run.log());
  assert.match(run.log(), /cloud-to-device message c2d-big: xxxx/);
});
