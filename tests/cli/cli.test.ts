// The promises of the README: `npm start` runs the demo on the embedded local hub and exits 0, and
// `iothub-wasm run` drives a device against a hub given only its connection string (and its CA here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHub } from '../device/support.js';
import { LocalHub } from '../../host/hub/index.js';

const dist = fileURLToPath(new URL('../../', import.meta.url));

function run(args: string[], timeoutMs = 60000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { child.kill(); reject(new Error(`timed out: ${out}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

test('the demo (npm start) runs every feature on the embedded local hub and exits 0', async () => {
  const { code, out } = await run([join(dist, 'host/demo/main.js'), '--count', '200']);
  assert.equal(code, 0, out);
  assert.match(out, /telemetry: 200 sent and acknowledged .* the hub received 200/);
  assert.match(out, /direct methods answered: getMaxMinReport/);
  assert.match(out, /cloud-to-device messages received: 1/);
  assert.match(out, /reported targetTemperature 23.5/);
});

test('iothub-wasm run drives the thermostat against a hub from a connection string', async () => {
  const rig = await startHub();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('cli-dev');
    const ca = join(rig.dataDir, 'ca-for-cli.pem');
    writeFileSync(ca, rig.hub.ca);
    let telemetry = 0;
    rig.hub.on('telemetry', (m) => { if (m.deviceId === 'cli-dev') telemetry++; });
    const { code, out } = await run([join(dist, 'host/cli.js'), 'run', '--connection-string', connectionString, '--ca', ca, '--count', '3', '--interval', '10']);
    assert.equal(code, 0, out);
    assert.equal(telemetry, 3);
    assert.equal((await rig.hub.getTwin('cli-dev')).properties.reported.serialNumber, 'IOTHUB-WASM-0001');
  } finally {
    await rig.stop();
  }
});

test('iothub-wasm refuses bad arguments with a message and exit code 2', async () => {
  const r1 = await run([join(dist, 'host/cli.js'), 'run']);
  assert.equal(r1.code, 2);
  assert.match(r1.out, /--connection-string is required/);
  const r2 = await run([join(dist, 'host/cli.js'), 'nope']);
  assert.equal(r2.code, 2);
  assert.match(r2.out, /unknown command 'nope'/);
  const r3 = await run([join(dist, 'host/cli.js'), 'run', '--connection-string', 'HostName=x;DeviceId=d']);
  assert.equal(r3.code, 1);
  assert.match(r3.out, /IOTHUB_CS_MISSING_CREDENTIAL/);
});

test('iothub-wasm --version prints the package version; the demo has --help and refuses unknown options in words', async () => {
  const { version } = JSON.parse((await import('node:fs')).readFileSync(join(dist, '../package.json'), 'utf8')) as { version: string };
  const v = await run([join(dist, 'host/cli.js'), '--version']);
  assert.equal(v.code, 0);
  assert.equal(v.out.trim(), version);
  const help = await run([join(dist, 'host/demo/main.js'), '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /^usage: npm start/);
  const bad = await run([join(dist, 'host/demo/main.js'), '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /iothub-wasm demo: Unknown option '--bogus'/);
  assert.doesNotMatch(bad.out, /\n\s+at /, 'no stack trace');
});

test('hub device add --help shows the device commands only; a taken port names the option that sets it', async () => {
  const bin = join(dist, 'host', 'cli.js');
  const help = await run([bin, 'hub', 'device', 'add', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /hub device add <id>/);
  assert.match(help.out, /hub device remove <id>/);
  assert.doesNotMatch(help.out, /hub monitor|hub dps|--amqp-port/, 'not the whole hub');
  const dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-rm-'));
  try {
    const rm = await run([bin, 'hub', 'device', 'rm', 'x', '--data-dir', dir]);
    assert.notEqual(rm.code, 0, 'no undocumented aliases');
    assert.match(rm.out, /unknown device command 'rm' \(add, list, show, remove\)/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
  const cap = await run([bin, 'hub', '--max-connections', 'lots', '--data-dir', join(tmpdir(), 'never-made')]);
  assert.notEqual(cap.code, 0);
  assert.match(cap.out, /--max-connections must be a whole number from 1 to 1000000, not 'lots'/);
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (busy.address() as AddressInfo).port;
    await assert.rejects(LocalHub.start({ port: 0, amqpPort: port, dataDir: null, log: false }),
      (e: Error) => new RegExp(`port ${port} is already in use .*--amqp-port / amqpPort`).test(e.message));
  } finally {
    await new Promise<void>((r) => busy.close(() => r()));
  }
});
