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
