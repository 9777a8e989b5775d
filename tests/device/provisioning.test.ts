// Provisioning end to end: our ProvisioningClient and DeviceClient.fromProvisioning (the core's dps_* client
// behind them) against the local hub's Device Provisioning Service over TLS, then the assigned device on the
// local hub. Individual and group symmetric keys, X.509, the refusals by name, a 429 honoured, the MCU build,
// and `iothub-wasm run` with the DPS flags.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import { ProvisioningClient, ProvisioningError, type ProvisioningResult } from '../../host/device/provisioning.js';
import { DeviceClient, type AssignmentStore, type FromProvisioningOptions } from '../../host/device/client.js';
import type { TelemetryMessage } from '../../host/hub/index.js';
import { startHub, waitFor, FAST_RETRY, type Rig } from './support.js';

const dist = fileURLToPath(new URL('../../', import.meta.url));
let rig: Rig;

before(async () => {
  rig = await startHub({ dpsPort: 0, dpsRetryAfterSeconds: 0 });
});
after(async () => { await rig?.stop(); });

const dps = () => rig.hub.dps!;
/** How our device reaches the local DPS: its host and port, the hub's CA, polls without the 1 s floor. */
function local(o: Omit<FromProvisioningOptions, 'idScope'>): FromProvisioningOptions {
  return { idScope: dps().idScope, provisioningHost: 'localhost', port: dps().port, ca: rig.hub.ca, retryAfter: { minMs: 20 }, ...o };
}
async function keyOf(registrationId: string, o: Parameters<ReturnType<typeof dps>['addEnrollment']>[1] = {}): Promise<string> {
  const e = await dps().addEnrollment(registrationId, o);
  assert.equal(e.attestation.type, 'symmetricKey');
  return e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
}
async function refusal(p: Promise<unknown>): Promise<ProvisioningError> {
  try { await p; } catch (e) { return e as ProvisioningError; }
  assert.fail('the registration was not refused');
}
/** The device the assignment names connects to the hub and sends a message the hub sees. */
async function sendsTelemetry(client: DeviceClient, deviceId: string): Promise<void> {
  const seen = waitFor<TelemetryMessage>((r) => rig.hub.on('telemetry', (m: TelemetryMessage) => { if (m.deviceId === deviceId) r(m); }), 10000, 'telemetry');
  await client.sendTelemetry({ provisioned: deviceId });
  assert.deepEqual(JSON.parse((await seen).body.toString()), { provisioned: deviceId });
}

test('an individual symmetric-key enrollment: registered, assigned to the local hub with the payload echoed, and the device it gets sends telemetry', async () => {
  const key = await keyOf('ours-individual');
  const assigning: unknown[] = [];
  const client = new ProvisioningClient(local({ registrationId: 'ours-individual', symmetricKey: key, payload: { modelId: 'dtmi:com:example:Thermostat;1', tier: 2 } }));
  client.on('assigning', (a) => assigning.push(a));
  const r = await client.register();
  assert.equal(r.status, 'assigned');
  assert.equal(r.deviceId, 'ours-individual');
  assert.equal(r.assignedHub, `localhost:${rig.hub.port}`);
  assert.deepEqual(r.payload, { modelId: 'dtmi:com:example:Thermostat;1', tier: 2 });
  assert.equal(r.registrationState['substatus'], 'initialAssignment');
  assert.equal(r.connectionString, `HostName=localhost:${rig.hub.port};DeviceId=ours-individual;SharedAccessKey=${key}`);
  assert.equal(rig.hub.registry.record('ours-individual')?.primaryKey, key);
  const device = DeviceClient.fromConnectionString(r.connectionString, { ca: rig.hub.ca });
  try {
    await device.connect();
    await sendsTelemetry(device, 'ours-individual');
  } finally {
    await device.close();
  }
});

test('a group enrollment: the core derives the device key HMAC-SHA256(groupKey, registrationId), registers with it and hands it on', async () => {
  const g = await dps().addGroup('ours-group');
  const derived = createHmac('sha256', Buffer.from(g.attestation.primaryKey, 'base64')).update('ours-group-dev-1').digest('base64');
  const r = await ProvisioningClient.register(local({ registrationId: 'ours-group-dev-1', groupKey: g.attestation.primaryKey }));
  assert.equal(r.deviceId, 'ours-group-dev-1');
  assert.match(r.connectionString, new RegExp(`;SharedAccessKey=${derived.replace(/[+/]/g, '\\$&')}$`));
  assert.equal(rig.hub.registry.record('ours-group-dev-1')?.primaryKey, derived, 'the hub created the device with the derived key');
  const device = DeviceClient.fromConnectionString(r.connectionString, { ca: rig.hub.ca });
  try {
    await device.connect();
    await sendsTelemetry(device, 'ours-group-dev-1');
  } finally {
    await device.close();
  }
});

test('an X.509 enrollment: registered with the certificate (matched by thumbprint), then connected to the hub with it', async () => {
  const c = await generate([{ name: 'commonName', value: 'ours-x509' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  await dps().addEnrollment('ours-x509', { x509Thumbprint: new X509Certificate(c.cert).fingerprint256.replace(/:/g, '') });
  const r = await ProvisioningClient.register(local({ registrationId: 'ours-x509', cert: c.cert, key: c.private }));
  assert.equal(r.connectionString, `HostName=localhost:${rig.hub.port};DeviceId=ours-x509;x509=true`);
  const device = DeviceClient.fromConnectionString(r.connectionString, { ca: rig.hub.ca, cert: c.cert, key: c.private });
  try {
    await device.connect();
    await sendsTelemetry(device, 'ours-x509');
  } finally {
    await device.close();
  }
});

test('refusals by name: an unknown registration DPS_UNAUTHORIZED (401, errorCode 401002), a wrong key DPS_UNAUTHORIZED (CONNACK 5), a disabled enrollment or group DPS_DISABLED', async () => {
  const unknown = await refusal(ProvisioningClient.register(local({ registrationId: 'nobody-enrolled-here', symmetricKey: Buffer.alloc(32, 1).toString('base64') })));
  assert.ok(unknown instanceof ProvisioningError);
  assert.equal(unknown.code, 'DPS_UNAUTHORIZED');
  assert.equal(unknown.serviceStatus, 401);
  assert.equal(unknown.errorCode, 401002);
  assert.match(unknown.message, /answered 401 \(errorCode 401002\)/);

  await keyOf('ours-wrong-key');
  const wrong = await refusal(ProvisioningClient.register(local({ registrationId: 'ours-wrong-key', symmetricKey: Buffer.alloc(32, 2).toString('base64') })));
  assert.equal(wrong.code, 'DPS_UNAUTHORIZED');
  assert.equal(wrong.serviceStatus, 0);
  assert.match(wrong.message, /CONNACK 5/);

  const key = await keyOf('ours-disabled', { provisioningStatus: 'disabled' });
  const disabled = await refusal(ProvisioningClient.register(local({ registrationId: 'ours-disabled', symmetricKey: key })));
  assert.equal(disabled.code, 'DPS_DISABLED');
  assert.equal(rig.hub.registry.record('ours-disabled'), undefined, 'no device created');

  const g = await dps().addGroup('ours-disabled-group', { provisioningStatus: 'disabled' });
  const group = await refusal(ProvisioningClient.register(local({ registrationId: 'ours-dg-dev', groupKey: g.attestation.primaryKey })));
  assert.equal(group.code, 'DPS_DISABLED');
});

test('a 429 is honoured: the request goes again no sooner than retry-after and is then assigned; when the resends run out it is DPS_THROTTLED', async () => {
  const key = await keyOf('ours-throttled');
  const seen: Array<{ status: number; at: number }> = [];
  const on = (r: { registrationId: string; status: number; at: number }) => { if (r.registrationId === 'ours-throttled') seen.push(r); };
  dps().on('request', on);
  try {
    dps().throttle(1, { registrationId: 'ours-throttled', retryAfterSeconds: 1 });
    const retries: Array<{ code: string; retryInMs: number; serviceStatus: number }> = [];
    const client = new ProvisioningClient(local({ registrationId: 'ours-throttled', symmetricKey: key, retryAfter: {} }));
    client.on('retry', (r) => retries.push(r));
    const r = await client.register();
    assert.equal(r.deviceId, 'ours-throttled');
    assert.deepEqual(retries, [{ code: 'DPS_THROTTLED', retryInMs: 1000, serviceStatus: 429 }]);
    assert.equal(seen[0]?.status, 429);
    assert.ok(seen[1]!.at - seen[0]!.at >= 950, `waited ${seen[1]!.at - seen[0]!.at} ms; retry-after said 1 s`);

    dps().throttle(3, { registrationId: 'ours-throttled', retryAfterSeconds: 0 });
    const throttled = await refusal(ProvisioningClient.register(local({ registrationId: 'ours-throttled', symmetricKey: key, retries: 2 })));
    assert.equal(throttled.code, 'DPS_THROTTLED');
    assert.equal(throttled.serviceStatus, 429);
  } finally {
    dps().off('request', on);
    dps().throttle(0);
  }
});

test('the operation is polled after the register answer, and a poll answered 503 is polled again after its retry-after (DPS_SERVER_ERROR, retried)', async () => {
  const key = await keyOf('ours-polled');
  const seen: Array<{ kind: string; status: number }> = [];
  const on = (r: { registrationId: string; kind: string; status: number }) => { if (r.registrationId === 'ours-polled') seen.push({ kind: r.kind, status: r.status }); };
  dps().on('request', on);
  try {
    dps().throttle(1, { registrationId: 'ours-polled', status: 503, retryAfterSeconds: 0, on: 'status' });
    const retries: string[] = [];
    const client = new ProvisioningClient(local({ registrationId: 'ours-polled', symmetricKey: key }));
    client.on('retry', (r: { code: string }) => retries.push(r.code));
    assert.equal((await client.register()).deviceId, 'ours-polled');
    assert.deepEqual(retries, ['DPS_SERVER_ERROR']);
    assert.deepEqual(seen.map((r) => `${r.kind} ${r.status}`), ['register 202', 'status 503', 'status 200']);
  } finally {
    dps().off('request', on);
    dps().throttle(0);
  }
});

test('DeviceClient.fromProvisioning registers (model id in the payload), ends connected to the assigned hub and sends telemetry the hub sees', async () => {
  const key = await keyOf('ours-from-provisioning');
  const client = await DeviceClient.fromProvisioning(local({
    registrationId: 'ours-from-provisioning', symmetricKey: key, modelId: 'dtmi:com:example:Thermostat;1', retry: FAST_RETRY,
  }));
  try {
    assert.equal(client.state, 'ready');
    assert.equal(client.deviceId, 'ours-from-provisioning');
    assert.equal(client.provisioning?.assignedHub, `localhost:${rig.hub.port}`);
    assert.deepEqual(client.provisioning?.payload, { modelId: 'dtmi:com:example:Thermostat;1' }, 'Plug and Play: the model id went to DPS');
    await sendsTelemetry(client, 'ours-from-provisioning');
  } finally {
    await client.close();
  }
});

test('DeviceClient.fromProvisioning with an X.509 certificate: the same certificate registers and then logs in to the hub', async () => {
  const c = await generate([{ name: 'commonName', value: 'ours-x509-from' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  await dps().addEnrollment('ours-x509-from', { x509Thumbprint: new X509Certificate(c.cert).fingerprint256.replace(/:/g, '') });
  const client = await DeviceClient.fromProvisioning(local({ registrationId: 'ours-x509-from', cert: c.cert, key: c.private }));
  try {
    assert.equal(client.state, 'ready');
    assert.match(client.provisioning!.connectionString, /;x509=true$/);
    await sendsTelemetry(client, 'ours-x509-from');
  } finally {
    await client.close();
  }
});

test('DeviceClient.fromProvisioning reuses the assignment an AssignmentStore kept instead of registering again', async () => {
  const key = await keyOf('ours-stored');
  const kept = new Map<string, ProvisioningResult>();
  const store: AssignmentStore = { load: (id) => kept.get(id), save: (id, a) => { kept.set(id, a); } };
  let requests = 0;
  const on = (r: { registrationId: string }) => { if (r.registrationId === 'ours-stored') requests++; };
  dps().on('request', on);
  try {
    const first = await DeviceClient.fromProvisioning(local({ registrationId: 'ours-stored', symmetricKey: key, assignments: store }));
    await first.close();
    const afterFirst = requests;
    assert.ok(afterFirst > 0 && kept.has('ours-stored'));
    const second = await DeviceClient.fromProvisioning(local({ registrationId: 'ours-stored', symmetricKey: key, assignments: store }));
    try {
      assert.equal(second.state, 'ready');
      assert.equal(requests, afterFirst, 'no second registration');
      await sendsTelemetry(second, 'ours-stored');
    } finally {
      await second.close();
    }
  } finally {
    dps().off('request', on);
  }
});

test('the whole registration has a time-out: an unreachable service is retried with back-off, then DPS_TIMEOUT naming the last cause and the socket error', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const retries: string[] = [];
  const client = new ProvisioningClient(local({ registrationId: 'ours-unreachable', symmetricKey: Buffer.alloc(32, 4).toString('base64'), provisioningHost: '127.0.0.1', port, timeoutMs: 600 }));
  client.on('retry', (r: { code: string }) => retries.push(r.code));
  const e = await refusal(client.register());
  assert.equal(e.code, 'DPS_TIMEOUT');
  assert.match(e.message, /last cause: DPS_TRANSPORT_CLOSED: .*ECONNREFUSED/);
  assert.ok(retries.length >= 1 && retries.every((c) => c === 'DPS_TRANSPORT_CLOSED'), retries.join());
});

test('the MCU build registers too (the same exports a C board calls)', async () => {
  const key = await keyOf('ours-mcu');
  const r = await ProvisioningClient.register(local({ registrationId: 'ours-mcu', symmetricKey: key, profile: 'mcu', payload: { modelId: 'dtmi:example:mcu;1' } }));
  assert.equal(r.deviceId, 'ours-mcu');
  assert.deepEqual(r.payload, { modelId: 'dtmi:example:mcu;1' });
});

function run(args: string[], timeoutMs = 60000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dist, 'host/cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { child.kill(); reject(new Error(`timed out: ${out}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  });
}

test('iothub-wasm run --id-scope --registration-id --symmetric-key --provisioning-host --provisioning-port registers, then runs the thermostat on the assigned hub', async () => {
  const g = await dps().addGroup('cli-group');
  const ca = join(rig.dataDir, 'ca-for-dps-cli.pem');
  writeFileSync(ca, rig.hub.ca);
  let telemetry = 0;
  const count = (m: TelemetryMessage) => { if (m.deviceId === 'cli-dps-dev') telemetry++; };
  rig.hub.on('telemetry', count);
  try {
    const base = ['run', '--id-scope', dps().idScope, '--registration-id', 'cli-dps-dev', '--provisioning-host', 'localhost', '--provisioning-port', String(dps().port), '--ca', ca];
    const { code, out } = await run([...base, '--group-key', g.attestation.primaryKey, '--count', '2', '--interval', '10']);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`assigned to localhost:${rig.hub.port} as cli-dps-dev`));
    assert.equal(telemetry, 2);

    const refused = await run([...base.slice(0, 4), 'cli-nobody', ...base.slice(5), '--symmetric-key', Buffer.alloc(32, 3).toString('base64')]);
    assert.equal(refused.code, 1);
    assert.match(refused.out, /DPS_UNAUTHORIZED/);

    const both = await run([...base, '--symmetric-key', 'a2V5', '--group-key', 'a2V5']);
    assert.equal(both.code, 2);
    assert.match(both.out, /give one of --symmetric-key, --group-key, or --cert with --key/);
  } finally {
    rig.hub.off('telemetry', count);
  }
});

test('bad arguments are refused by name before anything is sent: no or two credentials, cert without key, a bad id, a key that is not base64, a payload JSON cannot carry', async () => {
  const base = { idScope: '0ne00000001', registrationId: 'arg-dev' };
  const key = Buffer.alloc(32, 5).toString('base64');
  const code = async (o: object) => {
    try { await ProvisioningClient.register(o as never); } catch (e) { return (e as { code: string }).code; }
    return 'resolved';
  };
  assert.equal(await code(base), 'BAD_ARGUMENT');
  assert.equal(await code({ ...base, symmetricKey: key, groupKey: key }), 'BAD_ARGUMENT');
  assert.equal(await code({ ...base, cert: 'PEM' }), 'BAD_ARGUMENT');
  assert.equal(await code({ ...base, registrationId: '', symmetricKey: key }), 'BAD_ARGUMENT');
  assert.equal(await code({ ...base, registrationId: 'a/b', symmetricKey: key }), 'IOTHUB_ID_BAD_CHAR');
  assert.match(await code({ ...base, symmetricKey: 'not base64!' }), /^CRYPTO_BASE64_/);
  assert.equal(await code({ ...base, symmetricKey: key, payload: () => 1 }), 'BAD_ARGUMENT');
  assert.equal(await code({ ...base, symmetricKey: key, payload: 'x'.repeat(20000) }), 'DPS_PAYLOAD_TOO_LARGE');
  assert.equal(await code({ ...base, symmetricKey: key, port: 70000 }), 'BAD_ARGUMENT');
});
