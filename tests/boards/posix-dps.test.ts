// The Linux board provisions: boards/posix/build/iothub-wasm-posix with --id-scope registers with the real local
// hub's Device Provisioning Service over TLS (boards/c/iothub_provision.c driving the core's dps_*, mcu-full.wasm
// translated by wasm2c), then runs the thermostat on the hub it is assigned; and the refusals it must name.
import assert from 'node:assert/strict';
import { createHmac, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { TelemetryMessage } from '../../host/hub/state/messages.js';
import { startHub } from '../hub/helpers.js';
import { boardTest, POSIX_BINARY, POSIX_SMALL_MEMORY_BINARY, runProgram, type Running } from './support.js';

const NEEDS = { packages: ['wabt', 'libmbedtls-dev', 'gcc'], built: ['boards/posix/build/iothub-wasm-posix', 'boards/posix/build/iothub-wasm-posix-small-memory'] };

type Rig = Awaited<ReturnType<typeof startHub>>;

/** The local hub with its DPS (retry-after 1 s), a folder for the files the board reads, and the board's common flags. */
async function rig(): Promise<{ r: Rig; dir: string; write(name: string, text: string): string; flags(reg: string): string[]; done(): Promise<void> }> {
  const r = await startHub({ dpsPort: 0, dpsRetryAfterSeconds: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'iothub-posix-dps-'));
  const write = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
  const ca = write('ca.pem', r.hub.ca);
  const dps = r.hub.dps!;
  return {
    r, dir, write,
    flags: (reg) => ['--id-scope', dps.idScope, '--registration-id', reg, '--provisioning-host', `localhost:${dps.port}`, '--ca', ca],
    done: async () => { rmSync(dir, { recursive: true, force: true }); await r.done(); },
  };
}

function telemetryOf(r: Rig, deviceId: string): TelemetryMessage[] {
  const seen: TelemetryMessage[] = [];
  r.hub.on('telemetry', (m: TelemetryMessage) => { if (m.deviceId === deviceId) seen.push(m); });
  return seen;
}

/** The board's readings as the hub received them: seq 0..count-1, each with the thermostat's properties. */
function assertReadings(seen: TelemetryMessage[], count: number): void {
  assert.deepEqual(seen.map((m) => (JSON.parse(m.body.toString('utf8')) as { seq: number }).seq), [...Array(count).keys()]);
  for (const m of seen) {
    assert.deepEqual({ ...m.properties }, { sensor: 'thermostat', unit: 'celsius' });
    assert.match(String(m.systemProperties.messageId), /^reading-\d+$/);
  }
}

const lineAfterTime = (l: string) => l.replace(/^\S+ /, '');

boardTest('the Linux board registers an individual symmetric-key enrollment with the local DPS (polling after retry-after), is assigned to the local hub, and the hub receives its telemetry', NEEDS, async () => {
  const t = await rig();
  let run: Running | undefined;
  try {
    const id = 'posix-dps-individual';
    const e = await t.r.hub.dps!.addEnrollment(id);
    assert.equal(e.attestation.type, 'symmetricKey');
    const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
    const seen = telemetryOf(t.r, id);
    run = runProgram(POSIX_BINARY, [...t.flags(id), '--symmetric-key', key, '--count', '3', '--interval-ms', '0']);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    const lines = run.lines.map(lineAfterTime);
    assert.equal(lines[0], `registering ${id} with the provisioning service (id scope ${t.r.hub.dps!.idScope})`);
    assert.ok(lines.some((l) => /^provisioning: assigning \(operation \S+\), polling in 1000 ms$/.test(l)), lines.join('\n'));
    const assigned = lines.indexOf(`assigned to localhost:${t.r.hub.port} as ${id}`);
    assert.ok(assigned > 0, lines.join('\n'));
    assert.ok(lines.indexOf('connected') > assigned, 'connected to the assigned hub after the assignment');
    assertReadings(seen, 3);
    assert.equal(t.r.hub.registry.record(id)?.primaryKey, key, 'the DPS created the device with the enrollment key');
    const reported = (await t.r.hub.getTwin(id)).properties.reported as Record<string, unknown>;
    assert.equal(reported.serialNumber, 'IOTHUB-WASM-0001');
  } finally {
    run?.kill();
    await t.done();
  }
});

boardTest('a group enrollment: the core derives the device key HMAC-SHA256(groupKey, registrationId), the board registers with it and the device it gets sends telemetry', NEEDS, async () => {
  const t = await rig();
  let run: Running | undefined;
  try {
    const g = await t.r.hub.dps!.addGroup('posix-dps-group');
    const id = 'posix-dps-group-dev-1';
    const derived = createHmac('sha256', Buffer.from(g.attestation.primaryKey, 'base64')).update(id).digest('base64');
    const seen = telemetryOf(t.r, id);
    run = runProgram(POSIX_BINARY, [...t.flags(id), '--group-key', g.attestation.primaryKey, '--count', '2', '--interval-ms', '0']);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    assert.ok(run.lines.some((l) => lineAfterTime(l) === `assigned to localhost:${t.r.hub.port} as ${id}`), run.lines.join('\n'));
    assert.equal(t.r.hub.registry.record(id)?.primaryKey, derived, 'the hub created the device with the derived key');
    assertReadings(seen, 2);
  } finally {
    run?.kill();
    await t.done();
  }
});

boardTest('an X.509 enrollment: the board registers with its certificate (matched by thumbprint) and logs in to the assigned hub with it', NEEDS, async () => {
  const t = await rig();
  let run: Running | undefined;
  try {
    const id = 'posix-dps-x509';
    const c = await generate([{ name: 'commonName', value: id }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    await t.r.hub.dps!.addEnrollment(id, { x509Thumbprint: new X509Certificate(c.cert).fingerprint256.replace(/:/g, '') });
    const seen = telemetryOf(t.r, id);
    run = runProgram(POSIX_BINARY, [...t.flags(id), '--cert', t.write('dev.pem', c.cert), '--key', t.write('dev.key', c.private), '--count', '2', '--interval-ms', '0']);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    assert.ok(run.lines.some((l) => lineAfterTime(l) === `assigned to localhost:${t.r.hub.port} as ${id}`), run.lines.join('\n'));
    assertReadings(seen, 2);
  } finally {
    run?.kill();
    await t.done();
  }
});

boardTest('refusals exit 1 with the core\'s status name: an unknown registration DPS_UNAUTHORIZED (401, errorCode 401002), a wrong key DPS_UNAUTHORIZED (CONNACK 5), a disabled enrollment DPS_DISABLED; nothing reaches the hub', NEEDS, async () => {
  const t = await rig();
  try {
    const dps = t.r.hub.dps!;
    const unknown = runProgram(POSIX_BINARY, [...t.flags('posix-dps-nobody'), '--symmetric-key', Buffer.alloc(32, 1).toString('base64')]);
    assert.equal((await unknown.exited).code, 1);
    assert.match(unknown.stderr(), /^iothub-wasm-posix: DPS_UNAUTHORIZED: the provisioning service answered 401 \(errorCode 401002\)/);

    await dps.addEnrollment('posix-dps-wrong-key');
    const wrong = runProgram(POSIX_BINARY, [...t.flags('posix-dps-wrong-key'), '--symmetric-key', Buffer.alloc(32, 2).toString('base64')]);
    assert.equal((await wrong.exited).code, 1);
    assert.equal(wrong.stderr(), 'iothub-wasm-posix: DPS_UNAUTHORIZED: the provisioning service refused the connection (CONNACK 5)\n');

    const d = await dps.addEnrollment('posix-dps-disabled', { provisioningStatus: 'disabled' });
    const key = d.attestation.type === 'symmetricKey' ? d.attestation.primaryKey : '';
    const disabled = runProgram(POSIX_BINARY, [...t.flags('posix-dps-disabled'), '--symmetric-key', key]);
    assert.equal((await disabled.exited).code, 1);
    assert.match(disabled.stderr(), /^iothub-wasm-posix: DPS_DISABLED\b/);
    for (const r of [unknown, wrong, disabled]) assert.ok(!r.lines.some((l) => / connected$/.test(l)), 'never connected to the hub');
    assert.equal(t.r.hub.registry.record('posix-dps-disabled'), undefined, 'no device created');
  } finally {
    await t.done();
  }
});

boardTest('a provisioning service certificate the CA file does not vouch for exits 1 with DPS_TRANSPORT_CLOSED naming the verification problem, and registers nothing', NEEDS, async () => {
  const t = await rig();
  const dps = t.r.hub.dps!;
  const id = 'posix-dps-untrusted';
  const requests: unknown[] = [];
  const on = (r: { registrationId: string }) => { if (r.registrationId === id) requests.push(r); };
  dps.on('request', on);
  try {
    const e = await dps.addEnrollment(id);
    const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
    const other = await generate([{ name: 'commonName', value: 'Some Other CA' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
    const flags = t.flags(id);
    flags[flags.indexOf('--ca') + 1] = t.write('other-ca.pem', other.cert);
    const run = runProgram(POSIX_BINARY, [...flags, '--symmetric-key', key]);
    assert.equal((await run.exited).code, 1);
    assert.match(run.stderr(), /^iothub-wasm-posix: DPS_TRANSPORT_CLOSED: TLS certificate verification failed: .*not correctly signed by the trusted CA/);
    assert.deepEqual(requests, []);
    assert.equal(t.r.hub.registry.record(id), undefined);
  } finally {
    dps.off('request', on);
    await t.done();
  }
});

boardTest('a 429 is honoured: the board says DPS_THROTTLED with the retry-after the service gave, sends the request again and is assigned', NEEDS, async () => {
  const t = await rig();
  let run: Running | undefined;
  const dps = t.r.hub.dps!;
  const id = 'posix-dps-throttled';
  const requests: string[] = [];
  const on = (r: { registrationId: string; kind: string; status: number }) => { if (r.registrationId === id) requests.push(`${r.kind} ${r.status}`); };
  dps.on('request', on);
  try {
    const e = await dps.addEnrollment(id);
    const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
    dps.throttle(1, { registrationId: id, retryAfterSeconds: 2 });
    run = runProgram(POSIX_BINARY, [...t.flags(id), '--symmetric-key', key, '--count', '1', '--interval-ms', '0']);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    const lines = run.lines.map(lineAfterTime);
    assert.ok(lines.includes('provisioning: DPS_THROTTLED, retrying in 2000 ms'), lines.join('\n'));
    assert.deepEqual(requests.slice(0, 2), ['register 429', 'register 202']);
    assert.ok(lines.includes(`assigned to localhost:${t.r.hub.port} as ${id}`));
  } finally {
    dps.off('request', on);
    run?.kill();
    await t.done();
  }
});

boardTest('Ctrl-C while the registration waits out a retry-after stops it cleanly: exit 0, no device connected', NEEDS, async () => {
  const t = await rig();
  let run: Running | undefined;
  const dps = t.r.hub.dps!;
  const id = 'posix-dps-interrupted';
  try {
    const e = await dps.addEnrollment(id);
    const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
    dps.throttle(1, { registrationId: id, retryAfterSeconds: 60 });
    run = runProgram(POSIX_BINARY, [...t.flags(id), '--symmetric-key', key]);
    await run.waitLine(/ provisioning: DPS_THROTTLED, retrying in 60000 ms$/);
    run.signal('SIGINT');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    assert.equal(run.stderr(), '');
    assert.ok(!run.lines.some((l) => / (assigned to|connected)\b/.test(l)), run.lines.join('\n'));
  } finally {
    dps.throttle(0);
    run?.kill();
    await t.done();
  }
});

boardTest('provisioning arguments: exit 2 with a usage line for a missing registration id, two credentials, or a connection string besides; the plain mcu.wasm build refuses --id-scope', NEEDS, async () => {
  const scope = ['--id-scope', '0ne00000001', '--ca', '/dev/null'];
  const cases: Array<[string[], RegExp, string]> = [
    [[...scope, '--symmetric-key', 'a2V5'], /--id-scope and --registration-id go together/, POSIX_BINARY],
    [[...scope, '--registration-id', 'r', '--symmetric-key', 'a2V5', '--group-key', 'a2V5'], /give one of --symmetric-key, --group-key, or --cert with --key/, POSIX_BINARY],
    [[...scope, '--registration-id', 'r'], /give one of --symmetric-key, --group-key, or --cert with --key/, POSIX_BINARY],
    [[...scope, '--registration-id', 'r', '--symmetric-key', 'a2V5', '--connection-string', 'HostName=h;DeviceId=d;SharedAccessKey=a2V5'], /either --connection-string or --id-scope/, POSIX_BINARY],
    [[...scope, '--registration-id', 'r', '--symmetric-key', 'a2V5', '--provisioning-port', '70000'], /--provisioning-port takes a port number, not 70000/, POSIX_BINARY],
    [[...scope, '--registration-id', 'r', '--symmetric-key', 'a2V5'], /this build does not provision/, POSIX_SMALL_MEMORY_BINARY],
  ];
  for (const [args, why, binary] of cases) {
    const run = runProgram(binary, args);
    assert.equal((await run.exited).code, 2, `${args.join(' ')}: ${run.stderr()}`);
    assert.match(run.stderr(), why, args.join(' '));
    assert.match(run.stderr(), /\nusage: iothub-wasm-posix --connection-string CS --ca FILE/);
    assert.match(run.stderr(), /--id-scope S --registration-id R/);
  }
});
