// `iothub-wasm run` against the local hub on this machine: it trusts the hub's CA by itself (the data folder's
// tls/ca.pem, ./.iothub-wasm by default, as `iothub-wasm hub` keeps it) and says which CA it used; with a module's
// connection string it subscribes to no C2D topic (modules have none over MQTT), so the hub refuses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalHub } from '../../host/hub/index.js';
import { DeviceClient } from '../../host/index.js';
import { isLoopbackHost } from '../../host/commands/run.js';

const cli = fileURLToPath(new URL('../../host/cli.js', import.meta.url));

function run(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { child.kill(); reject(new Error(`timed out: ${out}`)); }, 60_000);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

/** A local hub on `<folder>/.iothub-wasm`, the folder a user runs `iothub-wasm hub` and `iothub-wasm run` in. */
async function hubInFolder(): Promise<{ hub: LocalHub; folder: string; stop(): Promise<void> }> {
  const folder = mkdtempSync(join(tmpdir(), 'iothub-wasm-run-'));
  const hub = await LocalHub.start({ port: 0, dataDir: join(folder, '.iothub-wasm'), log: false });
  return { hub, folder, async stop() { await hub.stop(); rmSync(folder, { recursive: true, force: true }); } };
}

test('a loopback host is one of localhost, 127.0.0.0/8 and ::1, with or without a port', () => {
  for (const h of ['localhost', 'localhost:8883', 'LOCALHOST.', 'dev.localhost', '127.0.0.1', '127.1.2.3:8883', '::1', '[::1]:8883', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['myhub.azure-devices.net', 'myhub.azure-devices.net:8883', '10.0.0.1', '192.168.1.2:8883', '[2001:db8::1]:8883', 'localhost.example.com', '128.0.0.1']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

test('run with a connection string to this machine and no --ca trusts the CA of ./.iothub-wasm and names the file', async () => {
  const rig = await hubInFolder();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('auto-ca');
    assert.match(connectionString, /GatewayHostName=localhost:\d+/);
    let telemetry = 0;
    rig.hub.on('telemetry', (m) => { if (m.deviceId === 'auto-ca') telemetry++; });
    const { code, out } = await run(['run', '--connection-string', connectionString, '--count', '2', '--interval', '10'], rig.folder);
    assert.equal(code, 0, out);
    assert.equal(telemetry, 2);
    assert.match(out, new RegExp(`trusting the local hub's CA ${join(rig.folder, '.iothub-wasm', 'tls', 'ca.pem').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(no --ca given; localhost:\\d+ is this machine\\)`));
  } finally {
    await rig.stop();
  }
});

test('run names the CA it trusts: --ca, or the system\'s; --hub-data-dir without a CA is refused in words', async () => {
  const rig = await hubInFolder();
  const elsewhere = mkdtempSync(join(tmpdir(), 'iothub-wasm-run-other-'));
  try {
    const { connectionString } = await rig.hub.registry.addDevice('named-ca');
    const caFile = join(rig.folder, '.iothub-wasm', 'tls', 'ca.pem');
    const given = await run(['run', '--connection-string', connectionString, '--ca', caFile, '--count', '1', '--interval', '10'], elsewhere);
    assert.equal(given.code, 0, given.out);
    assert.match(given.out, /trusting the CA in .*ca\.pem \(--ca\)/);
    const byDir = await run(['run', '--connection-string', connectionString, '--hub-data-dir', join(rig.folder, '.iothub-wasm'), '--count', '1', '--interval', '10'], elsewhere);
    assert.equal(byDir.code, 0, byDir.out);
    assert.match(byDir.out, /trusting the local hub's CA .*ca\.pem/);
    const missing = await run(['run', '--connection-string', connectionString, '--hub-data-dir', join(elsewhere, 'nothing-here'), '--count', '1'], elsewhere);
    assert.equal(missing.code, 2, missing.out);
    assert.match(missing.out, /--hub-data-dir .*nothing-here: no CA at .*ca\.pem \(has a hub run on that folder\?\)/);
    const remote = await run(['run', '--connection-string', 'HostName=myhub.azure-devices.net;DeviceId=d;SharedAccessKey=a2V5', '--hub-data-dir', join(rig.folder, '.iothub-wasm'), '--count', '1'], elsewhere);
    assert.equal(remote.code, 2, remote.out);
    assert.match(remote.out, /myhub\.azure-devices\.net is not on this machine; give its CA with --ca/);
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
    await rig.stop();
  }
});

test('a module identity subscribes to methods and the twin but not to C2D, so the hub refuses no subscription', async () => {
  const rig = await hubInFolder();
  try {
    await rig.hub.registry.addDevice('edge');
    const { connectionString } = await rig.hub.registry.addModule('edge', 'filter');
    const client = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca });
    const warnings: string[] = [];
    client.on('warning', (e: Error & { code?: string }) => warnings.push(`${e.code}: ${e.message}`));
    client.onMethod('ping', async () => ({ status: 200, payload: { pong: true } }));
    await client.connect();
    const r = await rig.hub.invokeMethod('edge', 'ping', {}, { moduleId: 'filter', responseTimeoutInSeconds: 10 });
    assert.deepEqual(r.payload, { pong: true });
    await client.updateReportedProperties({ ok: 1 });
    await client.close();
    assert.deepEqual(warnings, []);
    // and the CLI's thermostat, as a module: no CLIENT_SUBSCRIBE_REFUSED warning in its log
    let telemetry = 0;
    rig.hub.on('telemetry', (m) => { if (m.deviceId === 'edge') telemetry++; });
    const { code, out } = await run(['run', '--connection-string', connectionString, '--count', '2', '--interval', '10'], rig.folder);
    assert.equal(code, 0, out);
    assert.equal(telemetry, 2);
    assert.doesNotMatch(out, /SUBSCRIBE_REFUSED|warning/);
  } finally {
    await rig.stop();
  }
});
