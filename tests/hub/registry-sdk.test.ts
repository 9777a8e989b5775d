// The registry surface a back end uses, through Microsoft's azure-iothub Registry (unchanged but for host, port and
// trust): list, full updates with etags (keys, status and its reason, capabilities), X.509 self-signed devices,
// module identities, bulk operations and `desired: null`. Devices are this repository's DeviceClient.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { DeviceClient } from '../../host/device/client.js';
import { IotHubWasmError } from '../../host/errors.js';
import { startServiceSdk, type ServiceSdk, type SdkError } from './service-sdk-harness.js';

let sdk: ServiceSdk;
before(async () => { sdk = await startServiceSdk(); });
after(async () => { await sdk.done(); });

type Identity = {
  deviceId: string; moduleId?: string; etag: string; status?: string; statusReason?: string | null;
  capabilities?: { iotEdge: boolean };
  authentication: { type: string; symmetricKey: { primaryKey: string | null; secondaryKey: string | null }; x509Thumbprint: { primaryThumbprint: string | null } };
};

/** One azure-iothub Registry call in the SDK child. */
function reg<T = Identity>(method: string, ...args: unknown[]): Promise<T> {
  return sdk.call<T>('reg', { cs: sdk.hub.policies.connectionString('iothubowner'), restPort: sdk.hub.restPort, method, args });
}

const key = (b: number) => Buffer.alloc(32, b).toString('base64');
const FAST = { retry: { minMs: 10, maxMs: 20, jitterMs: 0 } };

function cs(id: string, k: string, moduleId?: string): string {
  return `HostName=${sdk.hub.hostName};DeviceId=${id}${moduleId ? `;ModuleId=${moduleId}` : ''};SharedAccessKey=${k};GatewayHostName=localhost:${sdk.hub.port}`;
}

async function connects(connectionString: string, extra: Record<string, unknown> = {}): Promise<void> {
  const c = DeviceClient.fromConnectionString(connectionString, { ca: sdk.hub.ca, ...FAST, ...extra });
  await c.connect();
  await c.close();
}

test('Registry.update with If-Match "*" replaces both keys, keeps statusReason and capabilities; the old key is refused', async () => {
  const created = await reg('create', { deviceId: 'upd-1', capabilities: { iotEdge: true }, authentication: { symmetricKey: { primaryKey: key(1), secondaryKey: key(2) } } });
  assert.equal(created.capabilities?.iotEdge, true);
  await connects(cs('upd-1', key(1)));
  const updated = await reg('update', {
    deviceId: 'upd-1', status: 'enabled', statusReason: 'rotated keys', capabilities: { iotEdge: true },
    authentication: { type: 'sas', symmetricKey: { primaryKey: key(3), secondaryKey: key(4) } },
  });
  assert.deepEqual(updated.authentication.symmetricKey, { primaryKey: key(3), secondaryKey: key(4) });
  assert.equal(updated.statusReason, 'rotated keys');
  assert.notEqual(updated.etag, created.etag, 'an update changes the etag');
  const got = await reg('get', 'upd-1');
  assert.deepEqual([got.authentication.symmetricKey.secondaryKey, got.statusReason, got.capabilities?.iotEdge], [key(4), 'rotated keys', true]);
  await connects(cs('upd-1', key(4)));
  await assert.rejects(connects(cs('upd-1', key(1))), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_CONNACK_NOT_AUTHORIZED');
  // disabling through an update drops the device and refuses it
  await reg('update', { deviceId: 'upd-1', status: 'disabled', statusReason: 'stolen', authentication: { symmetricKey: { primaryKey: key(3), secondaryKey: key(4) } } });
  await assert.rejects(connects(cs('upd-1', key(3))), (e: unknown) => e instanceof IotHubWasmError && /^CLIENT_CONNACK_/.test(e.code));
  assert.equal((await reg('get', 'upd-1')).statusReason, 'stolen');
});

test('Registry.list returns every device and no module; an update with an etag of a module that does not exist is 404', async () => {
  for (const id of ['list-a', 'list-b']) await reg('create', { deviceId: id });
  const all = await reg<Identity[]>('list');
  assert.ok(['list-a', 'list-b'].every((id) => all.some((d) => d.deviceId === id)));
  assert.ok(all.every((d) => d.moduleId === undefined), 'modules are not devices');
  const d = await reg('get', 'list-a');
  await assert.rejects(sdk.call('reg', {
    cs: sdk.hub.policies.connectionString('iothubowner'), restPort: sdk.hub.restPort, method: 'updateModule', args: [{ deviceId: 'list-a', moduleId: 'nope', etag: 'x' }, false],
  }), (e: SdkError) => /not ?found/i.test(e.sdkName + e.message));
  await assert.rejects(reg('getModule', 'list-a', 'nope'), (e: SdkError) => /not ?found/i.test(e.sdkName + e.message), 'not created by the refused update');
  assert.equal(typeof d.etag, 'string');
});

test('an X.509 self-signed device created through Registry.create connects with its certificate over MQTT and MQTT over WebSocket', async () => {
  const r = await generate([{ name: 'commonName', value: 'x509-rest' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const thumb = new X509Certificate(r.cert).fingerprint.replace(/:/g, '');
  const created = await reg('create', { deviceId: 'x509-rest', authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumb } } });
  assert.equal(created.authentication.type, 'selfSigned');
  assert.equal(created.authentication.x509Thumbprint.primaryThumbprint, thumb.toUpperCase());
  assert.equal(created.authentication.symmetricKey.primaryKey, null, 'no keys for an X.509 device');
  const x509cs = `HostName=${sdk.hub.hostName};DeviceId=x509-rest;x509=true;GatewayHostName=localhost:${sdk.hub.port}`;
  for (const transport of ['mqtts', 'wss'] as const) await connects(x509cs, { cert: r.cert, key: r.private, transport });
  // without the certificate: refused by name
  await assert.rejects(connects(x509cs), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_CONNACK_NOT_AUTHORIZED');
  // CA-signed (the chain is checked against the hub's CA store at connect: tests/hub/ca-signed.test.ts)
  const ca = await reg('create', { deviceId: 'ca-dev', authentication: { type: 'certificateAuthority' } });
  assert.equal(ca.authentication.type, 'certificateAuthority');
  assert.deepEqual([ca.authentication.symmetricKey, ca.authentication.x509Thumbprint.primaryThumbprint], [{ primaryKey: null, secondaryKey: null }, null]);
  assert.equal((await reg<{ authenticationType: string }>('getTwin', 'ca-dev')).authenticationType, 'certificateAuthority');
  await assert.rejects(reg('create', { deviceId: 'bad-auth', authentication: { type: 'certificate' } }), (e: SdkError) => /'sas', 'selfSigned' or 'certificateAuthority'/.test(e.message));
});

test('modules: addModule, getModulesOnDevice, getModule, updateModule (new keys), the module connects, removeModule', async () => {
  await reg('create', { deviceId: 'mod-host' });
  const m = await reg('addModule', { deviceId: 'mod-host', moduleId: 'sensor', authentication: { symmetricKey: { primaryKey: key(5), secondaryKey: key(6) } } });
  assert.deepEqual([m.deviceId, m.moduleId, m.authentication.symmetricKey.primaryKey], ['mod-host', 'sensor', key(5)]);
  assert.deepEqual((await reg<Identity[]>('getModulesOnDevice', 'mod-host')).map((x) => x.moduleId), ['sensor']);
  assert.equal((await reg('getModule', 'mod-host', 'sensor')).moduleId, 'sensor');
  await connects(cs('mod-host', key(5), 'sensor'));
  const upd = await reg('updateModule', { deviceId: 'mod-host', moduleId: 'sensor', etag: m.etag, authentication: { symmetricKey: { primaryKey: key(7), secondaryKey: key(8) } } }, false);
  assert.equal(upd.authentication.symmetricKey.primaryKey, key(7));
  await assert.rejects(reg('updateModule', { deviceId: 'mod-host', moduleId: 'sensor', etag: m.etag, authentication: { symmetricKey: { primaryKey: key(1), secondaryKey: key(2) } } }, false),
    (e: SdkError) => e.sdkName === 'InvalidEtagError', 'a stale etag is 412 PreconditionFailed (the SDK names it InvalidEtagError)');
  await connects(cs('mod-host', key(7), 'sensor'));
  await assert.rejects(reg('addModule', { deviceId: 'mod-host', moduleId: 'sensor' }), (e: SdkError) => /AlreadyExists/.test(e.sdkName + e.message));
  await assert.rejects(reg('addModule', { deviceId: 'no-such-device', moduleId: 'x' }), (e: SdkError) => /not ?found/i.test(e.sdkName + e.message));
  await reg('removeModule', 'mod-host', 'sensor');
  await assert.rejects(reg('getModule', 'mod-host', 'sensor'), (e: SdkError) => /not ?found/i.test(e.sdkName + e.message));
  assert.ok(await reg('get', 'mod-host'), 'the device stays');
});

test('bulk: addDevices, updateDevices and removeDevices do each device on its own and name the ones that fail', async () => {
  const added = await reg<{ isSuccessful: boolean; errors: { deviceId: string; errorCode: string }[] }>('addDevices', [{ deviceId: 'bulk-1' }, { deviceId: 'bulk-2', authentication: { symmetricKey: { primaryKey: key(9), secondaryKey: key(10) } } }]);
  assert.deepEqual(added, { isSuccessful: true, errors: [], warnings: [] });
  await connects(cs('bulk-2', key(9)));
  const again = await reg<{ isSuccessful: boolean; errors: { deviceId: string; errorCode: string }[] }>('addDevices', [{ deviceId: 'bulk-2' }, { deviceId: 'bulk-3' }]);
  assert.equal(again.isSuccessful, false);
  assert.deepEqual(again.errors.map((e) => [e.deviceId, e.errorCode]), [['bulk-2', 'DeviceAlreadyExists']]);
  assert.ok(await reg('get', 'bulk-3'), 'the other device of the batch was created');
  await reg('updateDevices', [{ deviceId: 'bulk-2', status: 'disabled' }], true);
  assert.equal((await reg('get', 'bulk-2')).status, 'disabled');
  const removed = await reg<{ isSuccessful: boolean }>('removeDevices', [{ deviceId: 'bulk-1' }, { deviceId: 'bulk-3' }], true);
  assert.equal(removed.isSuccessful, true);
  await assert.rejects(reg('get', 'bulk-1'), (e: SdkError) => /not ?found/i.test(e.sdkName + e.message));
});

test('a twin patch with "desired": null removes every desired property, bumps $version and tells the device', async () => {
  await reg('create', { deviceId: 'des-null', authentication: { symmetricKey: { primaryKey: key(11), secondaryKey: key(12) } } });
  const device = DeviceClient.fromConnectionString(cs('des-null', key(11)), { ca: sdk.hub.ca, ...FAST });
  await device.connect();
  try {
    const patches: Array<[Record<string, unknown>, number]> = [];
    device.onDesiredProperties((p, v) => patches.push([p, v]));
    const set = await sdk.call<{ etag: string; desired: Record<string, unknown> }>('updateTwin', {
      cs: sdk.hub.policies.connectionString('iothubowner'), restPort: sdk.hub.restPort, deviceId: 'des-null', patch: { properties: { desired: { a: 1, b: { c: 2 } } } }, etag: '*',
    });
    const before = set.desired['$version'] as number;
    const cleared = await sdk.call<{ desired: Record<string, unknown> }>('updateTwin', {
      cs: sdk.hub.policies.connectionString('iothubowner'), restPort: sdk.hub.restPort, deviceId: 'des-null', patch: { properties: { desired: null } }, etag: '*',
    });
    assert.deepEqual(Object.keys(cleared.desired).filter((k) => !k.startsWith('$')), []);
    assert.equal(cleared.desired['$version'], before + 1);
    const end = Date.now() + 5000;
    while (patches.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(patches[1], [{ a: null, b: null, $version: before + 1 }, before + 1]);
  } finally {
    await device.close();
  }
});
