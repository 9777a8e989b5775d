// The Linux board (boards/posix/build/iothub-wasm-posix) against the real local hub over TLS: the thermostat
// session as the hub sees it, X.509, a hub restart, and the failures it must name (and the exit codes).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { LocalHub } from '../../host/hub/index.js';
import type { TelemetryMessage } from '../../host/hub/state/messages.js';
import { startHub, tempDir, removeDir } from '../hub/helpers.js';
import { boardTest, POSIX_BINARY, POSIX_SMALL_MEMORY_BINARY, runProgram, type Running } from './support.js';

const NEEDS = { packages: ['wabt', 'libmbedtls-dev', 'gcc'], built: ['boards/posix/build/iothub-wasm-posix', 'boards/posix/build/iothub-wasm-posix-small-memory'] };

function files(): { dir: string; write(name: string, text: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'iothub-posix-'));
  return { dir, write: (name, text) => { const p = join(dir, name); writeFileSync(p, text); return p; }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function board(args: string[], env: NodeJS.ProcessEnv = {}, binary = POSIX_BINARY): Running {
  return runProgram(binary, args, env);
}

function readings(seen: TelemetryMessage[], deviceId: string): Map<number, TelemetryMessage> {
  const bySeq = new Map<number, TelemetryMessage>();
  for (const m of seen) {
    if (m.deviceId !== deviceId) continue;
    const body = JSON.parse(m.body.toString('utf8')) as { temperature: unknown; seq: number };
    bySeq.set(body.seq, m);
  }
  return bySeq;
}

function assertReading(m: TelemetryMessage | undefined, seq: number): void {
  assert.ok(m, `reading ${seq} reached the hub`);
  const body = JSON.parse(m.body.toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['temperature', 'seq']);
  assert.equal(typeof body.temperature, 'number');
  assert.equal(body.seq, seq);
  assert.equal(m.qos, 1);
  assert.deepEqual({ ...m.properties }, { sensor: 'thermostat', unit: 'celsius' });
  assert.equal(m.systemProperties.messageId, `reading-${seq}`);
  assert.equal(m.systemProperties.contentType, 'application/json');
  assert.equal(m.systemProperties.contentEncoding, 'utf-8');
}

async function deviceCertificate(cn: string): Promise<{ cert: string; key: string; sha1: string }> {
  const r = await generate([{ name: 'commonName', value: cn }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  return { cert: r.cert, key: r.private, sha1: new X509Certificate(r.cert).fingerprint };
}

for (const [binary, memory] of [[POSIX_BINARY, 'the declared page'], [POSIX_SMALL_MEMORY_BINARY, 'memory reserved only up to abi_heap_base()']] as const) {
boardTest(`the Linux board (${memory}) runs the thermostat over TLS with a SAS device: every reading with its properties, both methods answered 200, start-up and desired reported, the C2D printed and completed`, NEEDS, async () => {
  const rig = await startHub();
  const f = files();
  let run: Running | undefined;
  try {
    const id = 'posix-sas';
    const { connectionString } = await rig.hub.registry.addDevice(id);
    const seen: TelemetryMessage[] = [];
    rig.hub.on('telemetry', (m: TelemetryMessage) => seen.push(m));
    // No --count: the session runs until the service side is done with it, then Ctrl-C stops it (no race with an end).
    run = board(['--connection-string', connectionString, '--ca', f.write('ca.pem', rig.hub.ca), '--interval-ms', '100'], {}, binary);
    await run.waitLine(/ twin reported at \$version \d+$/);

    const reboot = await rig.hub.invokeMethod(id, 'reboot', { delay: 3 }, { responseTimeoutInSeconds: 10 });
    assert.deepEqual(reboot, { status: 200, payload: { rebooting: true, delay: 3 } });
    const report = await rig.hub.invokeMethod(id, 'getMaxMinReport', '2026-01-01T00:00:00Z', { responseTimeoutInSeconds: 10 });
    assert.deepEqual(report, { status: 200, payload: { since: '2026-01-01T00:00:00Z', maxTemp: 23.4, minTemp: 19.8, avgTemp: 21.2 } });
    const unknown = await rig.hub.invokeMethod(id, 'selfDestruct', null, { responseTimeoutInSeconds: 10 });
    assert.equal(unknown.status, 404);

    const desired = await rig.hub.updateDesired(id, { targetTemperature: 25.5 });
    const desiredVersion = desired.properties.desired.$version as number;
    await rig.hub.sendC2D(id, 'set mode eco', { messageId: 'c2d-1', properties: { colour: 'red', 'a&b': 'x=y z' } });
    const c2dLine = await run.waitLine(/ cloud-to-device message c2d-1: /);
    assert.match(c2dLine, / cloud-to-device message c2d-1: set mode eco \{"colour":"red","a&b":"x=y z"\}$/);
    await run.waitLine(new RegExp(` desired properties v${desiredVersion}: `));
    await run.waitLine(/ reported targetTemperature 25\.5 at \$version \d+$/);
    await run.waitLine(/"seq":5\} acknowledged$/);
    run.signal('SIGINT');

    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    const acked = run.lines.filter((l) => / telemetry \{"temperature":[\d.]+,"seq":\d+\} acknowledged$/.test(l)).length;
    assert.ok(acked >= 6);
    const got = readings(seen, id);
    for (let seq = 0; seq < acked; seq++) assertReading(got.get(seq), seq);
    assert.ok(run.lines.some((l) => / connected$/.test(l)));

    const twin = await rig.hub.getTwin(id);
    const reported = twin.properties.reported as Record<string, unknown>;
    assert.equal(reported.serialNumber, 'IOTHUB-WASM-0001');
    assert.equal(reported.firmware, 'iothub-wasm demo 0.1.0');
    assert.deepEqual(reported.targetTemperature, { value: 25.5, ac: 200, av: desiredVersion });
    assert.equal(rig.hub.c2d.pending(id).length, 0, 'the C2D was completed');
    assert.equal(rig.hub.isConnected(id), false, 'the board disconnected');
  } finally {
    run?.kill();
    f.remove();
    await rig.done();
  }
});
}

boardTest('after --count acknowledged readings the board stops cleanly and exits 0; start-up takes the target from the full twin', NEEDS, async () => {
  const rig = await startHub();
  const f = files();
  let run: Running | undefined;
  try {
    const id = 'posix-count';
    const { connectionString } = await rig.hub.registry.addDevice(id);
    await rig.hub.updateDesired(id, { targetTemperature: 19 }); // read from the full twin at start-up
    const seen: TelemetryMessage[] = [];
    rig.hub.on('telemetry', (m: TelemetryMessage) => seen.push(m));
    run = board(['--connection-string', connectionString, '--ca', f.write('ca.pem', rig.hub.ca), '--count', '4', '--interval-ms', '0']);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    const got = readings(seen, id);
    assert.equal(got.size, 4);
    for (let seq = 0; seq < 4; seq++) assertReading(got.get(seq), seq);
    assert.equal(run.lines.at(-1)?.replace(/^\S+ /, ''), 'disconnected: CLIENT_CLOSED');
    const reported = (await rig.hub.getTwin(id)).properties.reported as Record<string, unknown>;
    assert.deepEqual(reported.targetTemperature, { value: 19 });
    assert.equal(rig.hub.isConnected(id), false);
  } finally {
    run?.kill();
    f.remove();
    await rig.done();
  }
});

boardTest('the loop carries a session through reads and writes of one byte at a time (partial writes resumed, the receive window refilled)', NEEDS, async () => {
  const rig = await startHub();
  const f = files();
  let run: Running | undefined;
  try {
    const id = 'posix-one-byte';
    const { connectionString } = await rig.hub.registry.addDevice(id);
    const seen: TelemetryMessage[] = [];
    rig.hub.on('telemetry', (m: TelemetryMessage) => seen.push(m));
    run = board(['--connection-string', connectionString, '--ca', f.write('ca.pem', rig.hub.ca), '--count', '3', '--interval-ms', '0'], { IOTHUB_POSIX_MAX_IO: '1' });
    await run.waitLine(/ twin reported at \$version \d+$/);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    const got = readings(seen, id);
    for (let seq = 0; seq < 3; seq++) assertReading(got.get(seq), seq);
    const reported = (await rig.hub.getTwin(id)).properties.reported as Record<string, unknown>;
    assert.equal(reported.serialNumber, 'IOTHUB-WASM-0001');
  } finally {
    run?.kill();
    f.remove();
    await rig.done();
  }
});

boardTest('the Linux board authenticates an X.509 device with --cert and --key (and refuses to start without them)', NEEDS, async () => {
  const rig = await startHub();
  const f = files();
  let run: Running | undefined;
  try {
    const c = await deviceCertificate('posix-x509');
    const { connectionString } = await rig.hub.registry.addDevice('posix-x509', { x509: { primaryThumbprint: c.sha1 } });
    const ca = f.write('ca.pem', rig.hub.ca);
    const seen: TelemetryMessage[] = [];
    rig.hub.on('telemetry', (m: TelemetryMessage) => seen.push(m));

    const without = board(['--connection-string', connectionString, '--ca', ca]);
    assert.equal((await without.exited).code, 2);
    assert.match(without.stderr(), /x509=true: give --cert and --key/);

    run = board(['--connection-string', connectionString, '--ca', ca, '--cert', f.write('dev.pem', c.cert), '--key', f.write('dev.key', c.key), '--count', '2', '--interval-ms', '0']);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    const got = readings(seen, 'posix-x509');
    assertReading(got.get(0), 0);
    assertReading(got.get(1), 1);
  } finally {
    run?.kill();
    f.remove();
    await rig.done();
  }
});

boardTest('a hub restarted mid-session (same data, same port) loses no reading: the board reconnects with the core\'s back-off and every reading reaches the hub', NEEDS, async () => {
  const dir = tempDir();
  const f = files();
  let hub: LocalHub | undefined = await LocalHub.start({ port: 0, log: false, dataDir: dir });
  let run: Running | undefined;
  try {
    const id = 'posix-restart';
    const { connectionString } = await hub.registry.addDevice(id);
    const port = hub.port;
    const seen: TelemetryMessage[] = [];
    hub.on('telemetry', (m: TelemetryMessage) => seen.push(m));
    const count = 6;
    run = board(['--connection-string', connectionString, '--ca', f.write('ca.pem', hub.ca), '--count', String(count), '--interval-ms', '300']);
    await run.waitLine(/"seq":1\} acknowledged$/);
    await hub.stop();
    hub = undefined;
    await run.waitLine(/ disconnected: CLIENT_\w+, retrying in \d+ ms$/);
    hub = await LocalHub.start({ port, log: false, dataDir: dir });
    hub.on('telemetry', (m: TelemetryMessage) => seen.push(m));

    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    assert.equal(run.lines.filter((l) => / connected$/.test(l)).length, 2, 'connected, then reconnected once');
    const got = readings(seen, id);
    for (let seq = 0; seq < count; seq++) assertReading(got.get(seq), seq);
  } finally {
    run?.kill();
    f.remove();
    await hub?.stop();
    removeDir(dir);
  }
});

boardTest('Ctrl-C stops a board running without --count cleanly and it exits 0', NEEDS, async () => {
  const rig = await startHub();
  const f = files();
  let run: Running | undefined;
  try {
    const { connectionString } = await rig.hub.registry.addDevice('posix-sigint');
    const gone = new Promise<{ reason?: string }>((resolve) => rig.hub.on('disconnected', (d: { deviceId: string; reason?: string }) => { if (d.deviceId === 'posix-sigint') resolve(d); }));
    run = board(['--connection-string', connectionString, '--ca', f.write('ca.pem', rig.hub.ca), '--interval-ms', '50']);
    await run.waitLine(/"seq":2\} acknowledged$/);
    run.signal('SIGINT');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    assert.ok(run.lines.some((l) => / disconnected: CLIENT_CLOSED$/.test(l)));
    const d = await gone;
    assert.equal(d.reason, 'connection closed', 'closed without an error');
  } finally {
    run?.kill();
    f.remove();
    await rig.done();
  }
});

boardTest('a wrong key exits 1 with CLIENT_CONNACK_NOT_AUTHORIZED after one attempt: refusals are not retried', NEEDS, async () => {
  const rig = await startHub();
  const f = files();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('posix-wrong-key');
    const wrong = connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    const refused: unknown[] = [];
    rig.hub.on('refused', (r: unknown) => refused.push(r));
    const run = board(['--ca', f.write('ca.pem', rig.hub.ca), '--count', '3'], { IOTHUB_DEVICE_CONNECTION_STRING: wrong });
    const { code } = await run.exited;
    assert.equal(code, 1);
    assert.match(run.stderr(), /^iothub-wasm-posix: CLIENT_CONNACK_NOT_AUTHORIZED\n$/);
    assert.equal(refused.length, 1, 'one CONNECT, no retry');
    assert.ok(run.lines.some((l) => / disconnected: CLIENT_CONNACK_NOT_AUTHORIZED$/.test(l)), 'no "retrying in"');
    assert.ok(!run.lines.some((l) => /retrying/.test(l)));
  } finally {
    f.remove();
    await rig.done();
  }
});

boardTest('a hub certificate the CA file does not vouch for exits 1 naming the verification problem, and never sends CONNECT', NEEDS, async () => {
  const rig = await startHub();
  const f = files();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('posix-untrusted');
    const other = await generate([{ name: 'commonName', value: 'Some Other CA' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    const connected: unknown[] = [];
    rig.hub.on('connected', (c: unknown) => connected.push(c));
    rig.hub.on('refused', (c: unknown) => connected.push(c));
    const run = board(['--connection-string', connectionString, '--ca', f.write('other-ca.pem', other.cert)]);
    assert.equal((await run.exited).code, 1);
    assert.match(run.stderr(), /^iothub-wasm-posix: CLIENT_TRANSPORT_CLOSED: TLS certificate verification failed: .*not correctly signed by the trusted CA/);
    assert.deepEqual(connected, []);
  } finally {
    f.remove();
    await rig.done();
  }
});

boardTest('bad arguments exit 2 with a usage line, a malformed connection string with the core\'s status name', NEEDS, async () => {
  const f = files();
  try {
    const ca = f.write('ca.pem', 'not a certificate');
    const cs = 'HostName=localhost;DeviceId=d;SharedAccessKey=AAAA';
    const cases: [string[], RegExp][] = [
      [[], /--connection-string is required/],
      [['--connection-string', cs], /--ca is required/],
      [['--connection-string', cs, '--ca'], /a value is needed after --ca/],
      [['--connection-string', cs, '--ca', ca, '--count', 'ten'], /--count takes a number, not ten/],
      [['--connection-string', cs, '--ca', ca, '--interval-ms', '-5'], /--interval-ms takes a number/],
      [['--connection-string', cs, '--ca', ca, '--websocket', 'yes'], /unknown option --websocket/],
      [['--connection-string', cs, '--ca', ca, '--cert', ca], /--cert and --key go together/],
      [['--connection-string', cs, '--ca', join(f.dir, 'missing.pem')], /missing\.pem/],
      [['--connection-string', cs, '--ca', ca], /ca\.pem: X509 - /],
    ];
    for (const [args, why] of cases) {
      const run = board(args);
      assert.equal((await run.exited).code, 2, `${args.join(' ')}: ${run.stderr()}`);
      assert.match(run.stderr(), why, args.join(' '));
      assert.match(run.stderr(), /\nusage: iothub-wasm-posix --connection-string CS --ca FILE/, args.join(' '));
    }
    const rig = await startHub();
    try {
      const good = f.write('hub-ca.pem', rig.hub.ca);
      for (const [bad, name] of [['HostName=localhost;SharedAccessKey=AAAA', 'IOTHUB_CS_MISSING_DEVICE_ID'], ['HostName=localhost;DeviceId=d;SharedAccessKey=%%%', 'IOTHUB_CS_BAD_KEY']]) {
        const run = board(['--connection-string', bad, '--ca', good]);
        assert.equal((await run.exited).code, 2);
        assert.match(run.stderr(), new RegExp(`bad connection string: ${name}\\n`));
      }
    } finally {
      await rig.done();
    }
  } finally {
    f.remove();
  }
});
