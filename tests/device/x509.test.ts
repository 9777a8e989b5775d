// X.509 (self-signed) device authentication: the board presents the certificate in the TLS handshake, the core
// sends no password (x509=true), and the hub checks the certificate's thumbprint against its registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { DeviceClient } from '../../host/device/client.js';
import { IotHubWasmError } from '../../host/errors.js';
import { startHub, FAST_RETRY, waitFor } from './support.js';

async function deviceCertificate(cn: string): Promise<{ cert: string; key: string; sha1: string; sha256: string }> {
  const r = await generate([{ name: 'commonName', value: cn }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const x = new X509Certificate(r.cert);
  return { cert: r.cert, key: r.private, sha1: x.fingerprint, sha256: x.fingerprint256 };
}

test('an X.509 device connects with its registered certificate; others are refused by name', async () => {
  const rig = await startHub();
  try {
    const good = await deviceCertificate('x509-dev');
    const other = await deviceCertificate('x509-dev');
    const { connectionString } = await rig.hub.registry.addDevice('x509-dev', { x509: { primaryThumbprint: good.sha1 } });
    assert.match(connectionString, /;x509=true/);
    assert.doesNotMatch(connectionString, /SharedAccessKey/);

    const client = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, cert: good.cert, key: good.key, retry: FAST_RETRY });
    const seen = waitFor<string>((done) => rig.hub.on('telemetry', (m) => { if (m.deviceId === 'x509-dev') done(m.body.toString()); }));
    await client.connect();
    await client.sendTelemetry('signed by certificate');
    assert.equal(await seen, 'signed by certificate');
    assert.ok(typeof (await client.updateReportedProperties({ auth: 'x509' })) === 'number');
    await client.close();

    for (const [what, creds] of [['an unregistered certificate', { cert: other.cert, key: other.key }], ['no certificate', {}]] as const) {
      const bad = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, ...creds, retry: FAST_RETRY });
      await assert.rejects(bad.connect(), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_CONNACK_NOT_AUTHORIZED', what);
    }
  } finally {
    await rig.stop();
  }
});

test('a SHA-256 thumbprint works too, and a malformed one is refused at registration', async () => {
  const rig = await startHub();
  try {
    const c = await deviceCertificate('x509-256');
    const { connectionString } = await rig.hub.registry.addDevice('x509-256', { x509: { primaryThumbprint: c.sha256 } });
    const client = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, cert: c.cert, key: c.key });
    await client.connect();
    await client.close();
    await assert.rejects(rig.hub.registry.addDevice('x509-bad', { x509: { primaryThumbprint: 'abc' } }), /thumbprint/);
  } finally {
    await rig.stop();
  }
});
