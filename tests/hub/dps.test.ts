// The local DPS against Microsoft's provisioning device SDK: individual symmetric-key, group (derived key) and X.509
// registrations end with a device that connects to the local hub with azure-iot-device; refusals by name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import device from 'azure-iot-device';
import type { LocalHub, TelemetryMessage } from '../../host/hub/index.js';
import { startHub, once } from './helpers.js';
import { sdkRegister, sdkConnect } from './dps-sdk.js';

let hub: LocalHub;
let done: () => Promise<void>;

before(async () => {
  ({ hub, done } = await startHub({ plainPort: false, dpsPort: 0, dpsRetryAfterSeconds: 0 }));
});

after(async () => { await done?.(); });

async function sendsTelemetry(r: { deviceId: string }, client: InstanceType<typeof device.Client>): Promise<void> {
  const got = once<TelemetryMessage>(hub, 'telemetry', (m) => m.deviceId === r.deviceId);
  await client.sendEvent(new device.Message(JSON.stringify({ provisioned: r.deviceId })));
  assert.equal((await got).body.toString(), JSON.stringify({ provisioned: r.deviceId }));
  await client.close();
}

test('an individual symmetric-key enrollment: the SDK registers, is assigned to the local hub, and its device sends telemetry', async () => {
  const e = await hub.dps!.addEnrollment('sdk-individual');
  assert.equal(e.attestation.type, 'symmetricKey');
  const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
  const r = await sdkRegister(hub, 'sdk-individual', { symmetricKey: key });
  assert.equal(r.deviceId, 'sdk-individual');
  assert.equal(r.assignedHub, `localhost:${hub.port}`);
  assert.equal(r.status, 'assigned');
  assert.equal(r.substatus, 'initialAssignment');
  assert.equal(hub.registry.record('sdk-individual')?.primaryKey, key, 'the device has the enrollment key');
  await sendsTelemetry(r, await sdkConnect(hub, r, { symmetricKey: key }));
});

test('a group enrollment: the device key is HMAC-SHA256(groupKey, registrationId) and the SDK registers with it', async () => {
  const g = await hub.dps!.addGroup('sdk-group');
  const derived = createHmac('sha256', Buffer.from(g.attestation.primaryKey, 'base64')).update('sdk-group-dev-1').digest('base64');
  assert.equal(hub.dps!.deriveDeviceKey(g.attestation.primaryKey, 'sdk-group-dev-1'), derived);
  const r = await sdkRegister(hub, 'sdk-group-dev-1', { symmetricKey: derived });
  assert.equal(r.deviceId, 'sdk-group-dev-1');
  assert.equal(hub.registry.record('sdk-group-dev-1')?.primaryKey, derived);
  await sendsTelemetry(r, await sdkConnect(hub, r, { symmetricKey: derived }));
});

test('an X.509 enrollment: the SDK registers with its certificate (matched by thumbprint) and connects with it', async () => {
  const c = await generate([{ name: 'commonName', value: 'sdk-x509' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const cert = { cert: c.cert, key: c.private };
  const sha256 = new X509Certificate(c.cert).fingerprint256.replace(/:/g, '');
  await hub.dps!.addEnrollment('sdk-x509', { x509Thumbprint: sha256 });
  const r = await sdkRegister(hub, 'sdk-x509', cert);
  assert.equal(r.deviceId, 'sdk-x509');
  assert.ok(hub.registry.record('sdk-x509')?.x509Thumbprints, 'the device is an X.509 device');
  await sendsTelemetry(r, await sdkConnect(hub, r, cert));
});

type SdkError = Error & { result?: { errorCode?: number; status?: string; registrationState?: { status?: string } } };

async function refusal(p: Promise<unknown>): Promise<SdkError> {
  try { await p; } catch (e) { return e as SdkError; }
  assert.fail('the registration was not refused');
}

test('an unknown registration is admitted, as DPS does, and its register request is refused 401 (UnauthorizedError, errorCode 401002)', async () => {
  const seen = once<{ registrationId: string; status: number }>(hub.dps!, 'request', (r) => r.registrationId === 'nobody-enrolled');
  const err = await refusal(sdkRegister(hub, 'nobody-enrolled', { symmetricKey: Buffer.alloc(32, 7).toString('base64') }));
  assert.equal(err.name, 'UnauthorizedError');
  assert.equal(err.result?.errorCode, 401002);
  assert.equal((await seen).status, 401);
  assert.equal(hub.registry.record('nobody-enrolled'), undefined);
});

test('a known enrollment signed with the wrong key is refused at CONNECT with CONNACK 5 (Not authorized)', async () => {
  await hub.dps!.addEnrollment('wrong-key');
  const refused = once<{ clientId: string; returnCode: number }>(hub.dps!, 'refused', (r) => r.clientId === 'wrong-key');
  const err = await refusal(sdkRegister(hub, 'wrong-key', { symmetricKey: Buffer.alloc(32, 9).toString('base64') }));
  // the provisioning transport hands mqtt.js's CONNACK error through untranslated
  assert.equal((err as SdkError & { code?: number }).code, 5);
  assert.match(err.message, /Not authorized/);
  assert.equal((await refused).returnCode, 5);
  assert.equal(hub.registry.record('wrong-key'), undefined);
});

test('a disabled enrollment is answered with status "disabled" and no device is created', async () => {
  const e = await hub.dps!.addEnrollment('disabled-one', { provisioningStatus: 'disabled' });
  const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
  const err = await refusal(sdkRegister(hub, 'disabled-one', { symmetricKey: key }));
  // the SDK knows no 'disabled' status: it fails with the answer attached
  assert.equal(err.result?.status, 'disabled');
  assert.equal(err.result?.registrationState?.status, 'disabled');
  assert.equal(hub.registry.record('disabled-one'), undefined);
});

test('a disabled enrollment group is refused the same way', async () => {
  const g = await hub.dps!.addGroup('disabled-group', { provisioningStatus: 'disabled' });
  const err = await refusal(sdkRegister(hub, 'dg-dev', { symmetricKey: hub.dps!.deriveDeviceKey(g.attestation.primaryKey, 'dg-dev') }));
  assert.equal(err.result?.status, 'disabled');
  assert.equal(hub.registry.record('dg-dev'), undefined);
  await hub.dps!.removeGroup('disabled-group');
});

test('a throttled register (429 with retry-after) is retried by the SDK no sooner than retry-after, then assigned', async () => {
  const e = await hub.dps!.addEnrollment('throttled');
  const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
  const seen: { status: number; at: number; retryAfter?: number }[] = [];
  const on = (r: { registrationId: string; status: number; at: number; retryAfter?: number }) => { if (r.registrationId === 'throttled') seen.push(r); };
  hub.dps!.on('request', on);
  hub.dps!.throttle(1, { registrationId: 'throttled', retryAfterSeconds: 1 });
  try {
    const r = await sdkRegister(hub, 'throttled', { symmetricKey: key });
    assert.equal(r.deviceId, 'throttled');
  } finally {
    hub.dps!.off('request', on);
  }
  assert.equal(seen[0]?.status, 429);
  assert.equal(seen[0]?.retryAfter, 1);
  assert.equal(seen[1]?.status, 202, 'the SDK registered again');
  assert.ok(seen[1]!.at - seen[0]!.at >= 950, `the SDK waited ${seen[1]!.at - seen[0]!.at} ms, retry-after said 1 s`);
});

test('a throttled operation-status poll (429 with retry-after) is polled again by the SDK, for the same operation, no sooner than retry-after', async () => {
  const e = await hub.dps!.addEnrollment('throttled-poll');
  const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
  const seen: { kind: string; status: number; at: number }[] = [];
  const on = (r: { registrationId: string; kind: string; status: number; at: number }) => { if (r.registrationId === 'throttled-poll') seen.push(r); };
  hub.dps!.on('request', on);
  hub.dps!.throttle(1, { registrationId: 'throttled-poll', retryAfterSeconds: 1, on: 'status' });
  try {
    assert.equal((await sdkRegister(hub, 'throttled-poll', { symmetricKey: key })).status, 'assigned');
  } finally {
    hub.dps!.off('request', on);
  }
  assert.deepEqual(seen.slice(0, 3).map((r) => `${r.kind} ${r.status}`), ['register 202', 'status 429', 'status 200']);
  assert.ok(seen[2]!.at - seen[1]!.at >= 950, `the SDK waited ${seen[2]!.at - seen[1]!.at} ms, retry-after said 1 s`);
});

test('initialTwin is applied when the device is created: tags and desired properties, visible to the device', async () => {
  const e = await hub.dps!.addEnrollment('with-twin', { initialTwin: { tags: { floor: 3 }, desired: { interval: 5, nested: { a: 1 } } } });
  const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
  const r = await sdkRegister(hub, 'with-twin', { symmetricKey: key });
  const twin = await hub.getTwin('with-twin');
  assert.deepEqual(twin.tags, { floor: 3 });
  assert.equal(twin.properties.desired['interval'], 5);
  const client = await sdkConnect(hub, r, { symmetricKey: key });
  try {
    const t = await client.getTwin();
    assert.equal(t.properties.desired['interval'], 5);
    assert.deepEqual(t.properties.desired['nested'], { a: 1 });
  } finally {
    await client.close();
  }
});

test('the custom allocation payload is echoed back as payload', async () => {
  const e = await hub.dps!.addEnrollment('with-payload');
  const key = e.attestation.type === 'symmetricKey' ? e.attestation.primaryKey : '';
  const payload = { modelId: 'dtmi:com:example:Thermostat;1', extra: [1, 'two', { three: 3 }] };
  const r = await sdkRegister(hub, 'with-payload', { symmetricKey: key }, payload);
  assert.deepEqual(r.payload, payload);
});

test('re-provisioning keeps the device and its keys (substatus deviceDataMigrated)', async () => {
  const g = await hub.dps!.addGroup('reprovision-group');
  const key = hub.dps!.deriveDeviceKey(g.attestation.primaryKey, 'again-dev');
  const first = await sdkRegister(hub, 'again-dev', { symmetricKey: key });
  const created = hub.registry.record('again-dev')!;
  await hub.updateDesired('again-dev', { kept: true });
  const second = await sdkRegister(hub, 'again-dev', { symmetricKey: key });
  assert.equal(first.substatus, 'initialAssignment');
  assert.equal(second.substatus, 'deviceDataMigrated');
  assert.equal(second.deviceId, first.deviceId);
  assert.equal(second.createdDateTimeUtc, first.createdDateTimeUtc);
  const now = hub.registry.record('again-dev')!;
  assert.equal(now.createdAt, created.createdAt, 'the same device');
  assert.equal(now.primaryKey, key);
  assert.equal((await hub.getTwin('again-dev')).properties.desired['kept'], true, 'its twin too');
});
