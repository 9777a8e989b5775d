// Microsoft's provisioning service SDK (azure-iot-provisioning-service), unchanged but for port and trust, manages the
// local DPS's enrollments over the hub's HTTPS port with the DPS's own policy; a device enrolled that way registers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'selfsigned';
import { X509Certificate } from 'node:crypto';
import service from 'azure-iot-provisioning-service';
import type { LocalHub } from '../../host/hub/index.js';
import { startHub, restCall } from './helpers.js';
import { sdkRegister, sdkConnect } from './dps-sdk.js';
import { PortAgent } from './port-agent.js';

const { ProvisioningServiceClient } = service;

let hub: LocalHub;
let done: () => Promise<void>;

before(async () => {
  ({ hub, done } = await startHub({ plainPort: false, dpsPort: 0, restPort: 0, dpsRetryAfterSeconds: 0 }));
});

after(async () => { await done?.(); });

function client(cs = hub.dpsServiceConnectionString()!): InstanceType<typeof ProvisioningServiceClient> {
  const c = ProvisioningServiceClient.fromConnectionString(cs);
  (c as unknown as { _restApiClient: { setOptions(o: unknown): void } })._restApiClient.setOptions({ ca: hub.ca, http: { agent: new PortAgent(hub.restPort!) } });
  return c;
}

type HttpError = Error & { response?: { statusCode?: number }; responseBody?: string };

async function refusal(p: Promise<unknown>): Promise<HttpError> {
  try { await p; } catch (e) { return e as HttpError; }
  assert.fail('the call was not refused');
}

test('the DPS service connection string names its own policy, provisioningserviceowner', () => {
  assert.match(hub.dpsServiceConnectionString()!, /^HostName=localhost;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=[A-Za-z0-9+/=]{44}$/);
});

test('an individual enrollment created with the service SDK (symmetric key, initialTwin) is read back, registers, and is deleted', async () => {
  const c = client();
  const key = Buffer.alloc(32, 3).toString('base64');
  const { responseBody: created } = await c.createOrUpdateIndividualEnrollment({
    registrationId: 'svc-dev', attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key, secondaryKey: Buffer.alloc(32, 4).toString('base64') } },
    initialTwin: { tags: { site: 'lab' }, properties: { desired: { rate: 2 } } }, provisioningStatus: 'enabled',
  } as never);
  const e = created as unknown as { registrationId: string; etag: string; attestation: { symmetricKey: { primaryKey: string } }; initialTwin: unknown; iotHubHostName: string };
  assert.equal(e.registrationId, 'svc-dev');
  assert.equal(e.attestation.symmetricKey.primaryKey, key);
  assert.deepEqual(e.initialTwin, { tags: { site: 'lab' }, properties: { desired: { rate: 2 } } });
  assert.equal(e.iotHubHostName, hub.assignedHub());
  const { responseBody: got } = await c.getIndividualEnrollment('svc-dev');
  assert.equal((got as unknown as { etag: string }).etag, e.etag);
  assert.equal(hub.dps!.getEnrollment('svc-dev')?.attestation.type, 'symmetricKey');

  const r = await sdkRegister(hub, 'svc-dev', { symmetricKey: key });
  assert.equal(r.deviceId, 'svc-dev');
  assert.deepEqual((await hub.getTwin('svc-dev')).tags, { site: 'lab' });
  const { responseBody: state } = await c.getDeviceRegistrationState('svc-dev');
  assert.equal((state as unknown as { status: string; deviceId: string }).status, 'assigned');

  await c.deleteIndividualEnrollment('svc-dev');
  assert.equal(hub.dps!.getEnrollment('svc-dev'), undefined);
  const err = await refusal(c.getIndividualEnrollment('svc-dev'));
  assert.equal(err.response?.statusCode, 404);
  assert.equal((JSON.parse(err.responseBody ?? '{}') as { errorCode?: number }).errorCode, 404201);
});

test('an update with a stale etag is refused 412 (InvalidEtagError); with the current one it applies', async () => {
  const c = client();
  const { responseBody: created } = await c.createOrUpdateIndividualEnrollment({ registrationId: 'svc-etag', attestation: { type: 'symmetricKey' } } as never);
  const e = created as unknown as Record<string, unknown> & { etag: string };
  const err = await refusal(c.createOrUpdateIndividualEnrollment({ ...e, etag: 'stale', provisioningStatus: 'disabled' } as never));
  assert.equal(err.name, 'InvalidEtagError');
  await c.createOrUpdateIndividualEnrollment({ ...e, provisioningStatus: 'disabled' } as never);
  assert.equal(hub.dps!.getEnrollment('svc-etag')?.provisioningStatus, 'disabled');
});

test('an X.509 enrollment from a PEM certificate keeps its thumbprint, and the device registers with that certificate', async () => {
  const c = client();
  const gen = await generate([{ name: 'commonName', value: 'svc-x509' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  await c.createOrUpdateIndividualEnrollment({
    registrationId: 'svc-x509', attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: gen.cert } } } },
  } as never);
  const sha256 = new X509Certificate(gen.cert).fingerprint256.replace(/:/g, '');
  const { responseBody: result } = await c.getIndividualEnrollment('svc-x509');
  assert.equal((result as unknown as { attestation: { x509: { clientCertificates: { primary: { info: { sha256Thumbprint: string } } } } } }).attestation.x509.clientCertificates.primary.info.sha256Thumbprint, sha256);
  const r = await sdkRegister(hub, 'svc-x509', { cert: gen.cert, key: gen.private });
  const device = await sdkConnect(hub, r, { cert: gen.cert, key: gen.private });
  await device.close();
});

test('an enrollment group created with the service SDK admits a device signing with its derived key; query lists groups', async () => {
  const c = client();
  const { responseBody: result } = await c.createOrUpdateEnrollmentGroup({ enrollmentGroupId: 'svc-group', attestation: { type: 'symmetricKey' } } as never);
  const g = result as unknown as { attestation: { symmetricKey: { primaryKey: string } } };
  const r = await sdkRegister(hub, 'svc-group-dev', { symmetricKey: hub.dps!.deriveDeviceKey(g.attestation.symmetricKey.primaryKey, 'svc-group-dev') });
  assert.equal(r.deviceId, 'svc-group-dev');
  const { responseBody: page } = await c.createEnrollmentGroupQuery({ query: '*' }).next();
  assert.ok((page as unknown as { enrollmentGroupId: string }[]).some((x) => x.enrollmentGroupId === 'svc-group'));
  const { responseBody: mech } = await c.getEnrollmentGroupAttestationMechanism('svc-group');
  assert.equal((mech as unknown as { type: string }).type, 'symmetricKey');
  await c.deleteEnrollmentGroup('svc-group');
  assert.equal(hub.dps!.getGroup('svc-group'), undefined);
});

test('the service API refuses a wrong key (401) and the hub\'s own policies, and names the error in DPS\'s shape', async () => {
  const wrong = hub.dpsServiceConnectionString()!.replace(/SharedAccessKey=.*$/, `SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')}`);
  const err = await refusal(client(wrong).getIndividualEnrollment('anything'));
  assert.equal(err.name, 'UnauthorizedError');
  const owner = await refusal(client(hub.policies.connectionString('iothubowner')).getIndividualEnrollment('anything'));
  assert.equal(owner.name, 'UnauthorizedError');
  assert.match(owner.responseBody ?? '', /no DPS shared access policy 'iothubowner'/);
  const bad = await refusal(client().createOrUpdateIndividualEnrollment({ registrationId: 'svc-tpm', attestation: { type: 'tpm', tpm: { endorsementKey: 'x' } } } as never));
  assert.equal(bad.name, 'ArgumentError');
  const body = JSON.parse(bad.responseBody ?? '{}') as Record<string, unknown>;
  assert.equal(body['errorCode'], 400004);
  assert.equal(typeof body['trackingId'], 'string');
  assert.match(String(body['message']), /TPM attestation is not supported/);
});

test('the hub\'s REST API is unchanged beside it: a DPS token does not reach /devices', async () => {
  const r = await restCall({ port: hub.restPort!, ca: hub.ca }, 'GET', '/devices/x?api-version=2021-04-12', { auth: 'SharedAccessSignature sr=localhost&sig=x&se=9999999999&skn=provisioningserviceowner' });
  assert.equal(r.status, 401);
  assert.equal(r.errorCode, 'IotHubUnauthorizedAccess');
});
