// The mps2-an385 store variant (boards/mps2-an385/build/store/firmware.elf, -DMPS2_STORE): the board library's store
// and forward (boards/c/iothub_store.c) over an 8 KiB static RAM region standing in for flash
// (boards/mps2-an385/ram_storage.c), booted in QEMU against the real local hub through the ESP-AT module emulator.
// What it proves: every QoS 1 reading goes through the region, and a reading accepted while the module cannot reach
// the hub is sent once the link is back. What it does not: the region is RAM, so nothing here survives a reset.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startHub } from '../hub/helpers.js';
import type { TelemetryMessage } from '../../host/hub/index.js';
import { EspAtModem } from './esp-at-modem.js';
import { bootMps2, EXIT, type Mps2Run } from './mps2-qemu.js';
import { boardTest } from './support.js';

const firmwareStorePath = fileURLToPath(new URL('../../../boards/mps2-an385/build/store/firmware.elf', import.meta.url));
const NEEDS = { packages: ['qemu-system-arm'], built: ['boards/mps2-an385/build/store/firmware.elf'] };

/** The index of the first log line after `from` that matches (bounded: the image's own pace, not a timing). */
async function lineAfter(run: Mps2Run, from: number, re: RegExp, what: string): Promise<number> {
  const deadline = Date.now() + 60000;
  for (;;) {
    const lines = run.log().split('\n');
    const i = lines.findIndex((l, k) => k > from && re.test(l));
    if (i >= 0) return i;
    if (Date.now() > deadline) throw new Error(`no ${what}; log:\n${run.log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const MARKER_BYTES = 28; // a completion marker; anything else stored is a message record

boardTest('mps2-an385 store variant: readings go through the RAM log, and a reading accepted while the module cannot reach the hub is sent after the link is back; every reading arrives, exit 0', NEEDS, async (t) => {
  const deviceId = 'mps2-store';
  const count = 6;
  const { hub, done } = await startHub();
  const { connectionString } = await hub.registry.addDevice(deviceId);
  const modem = await EspAtModem.start({ ca: hub.ca });
  const telemetry: TelemetryMessage[] = [];
  hub.on('telemetry', (m: TelemetryMessage) => { if (m.deviceId === deviceId) telemetry.push(m); });
  const run = bootMps2({ elf: firmwareStorePath, modemPort: modem.port, config: { connection_string: connectionString, count, interval_ms: 400 } });
  t.after(async () => { await run.dispose(); await modem.close(); await done(); });

  await lineAfter(run, -1, /^store: 0 messages to send$/, 'the store report at boot');
  // Right after reading 1 is acknowledged the thermostat waits its interval: drop the link then, and refuse
  // CIPSTART, so that the next reading is accepted (stored) while the hub is out of reach.
  await lineAfter(run, -1, /"seq":1\} acknowledged$/, 'reading 1 acknowledged');
  modem.refuseStarts = 1_000_000;
  modem.injectClosed();
  const down = await lineAfter(run, -1, /disconnected: CLIENT_\w+/, 'the disconnect');
  const stored = await lineAfter(run, down, new RegExp(`^store: stored (?!${MARKER_BYTES} )\\d+ bytes`), 'a reading stored while the link is down');
  const beforeBack = telemetry.length;
  // the reading stored is the one after the last acknowledged (the drop may come a reading later on a slow machine)
  const ackedSeqs = run.log().split('\n').slice(0, stored).map((l) => /"seq":(\d+)\} acknowledged$/.exec(l)).filter((m) => m).map((m) => Number(m![1]));
  const stuck = Math.max(...ackedSeqs) + 1;
  assert.ok(stuck < count, `the drop came mid-session; log:\n${run.log()}`);
  modem.refuseStarts = 0;

  const code = await run.exited;
  const log = run.log();
  assert.equal(code, EXIT.OK, `exit code; log:\n${log}`);
  assert.match(log, /exit: ok/);
  const seqs = telemetry.map((m) => (JSON.parse(m.body.toString('utf8')) as { seq: number }).seq);
  assert.deepEqual([...new Set(seqs)].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i), 'every reading arrived');
  assert.ok(seqs.slice(beforeBack).includes(stuck), `reading ${stuck}, stored while down, arrived after the link came back`);
  assert.ok(!seqs.slice(0, beforeBack).includes(stuck), 'and not before');
  for (const m of telemetry) assert.equal(m.systemProperties['messageId'], `reading-${(JSON.parse(m.body.toString('utf8')) as { seq: number }).seq}`);
  // Every reading went through the log: one message record each (at least), and completion markers for the acks.
  const records = log.split('\n').map((l) => /^store: stored (\d+) bytes/.exec(l)).filter((m) => m).map((m) => Number(m![1]));
  assert.ok(records.filter((n) => n !== MARKER_BYTES).length >= count, `a message record per reading; log:\n${log}`);
  assert.ok(records.some((n) => n === MARKER_BYTES), 'completion markers written as the hub acknowledged');
  assert.ok(modem.links >= 2, 'a second link after the refused starts');
});
