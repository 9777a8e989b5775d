// CA-signed X.509 devices: a CA in the hub's store (verified), devices registered with authentication type
// certificateAuthority, certificates made here with selfsigned (a root, an intermediate, leaves). They connect with
// Microsoft's azure-iot-device-mqtt and azure-iot-device-http and with this repository's DeviceClient over MQTT/TLS and
// MQTT over WebSocket; every refusal (unverified CA, wrong CN, expired, another CA, no certificate) is CONNACK 5 and
// the hub's log says why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { generate } from 'selfsigned';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import deviceHttp from 'azure-iot-device-http';
import deviceAmqp from 'azure-iot-device-amqp';
import common from 'azure-iot-common';
import { DeviceClient } from '../../host/device/client.js';
import { IotHubWasmError } from '../../host/errors.js';
import type { LocalHub, TelemetryMessage } from '../../host/hub/index.js';
import { CertificateAuthorities } from '../../host/hub/state/certificates.js';
import { startHub, tempDir, removeDir } from './helpers.js';
import { PortAgent } from './port-agent.js';

const { Client, Message } = device;
const DAY = 24 * 3600 * 1000;
const FAST = { retry: { minMs: 10, maxMs: 20, jitterMs: 0 } };

interface Pair { cert: string; key: string }

async function makeCa(cn: string, signer?: Pair): Promise<Pair> {
  const r = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notBeforeDate: new Date(Date.now() - DAY), notAfterDate: new Date(Date.now() + 365 * DAY),
    ...(signer ? { ca: signer } : {}),
    extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true }],
  });
  return { cert: r.cert, key: r.private };
}

async function makeLeaf(cn: string, signer: Pair, validity: { from?: number; to?: number } = {}): Promise<Pair> {
  const r = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256', ca: signer,
    notBeforeDate: new Date(validity.from ?? Date.now() - DAY), notAfterDate: new Date(validity.to ?? Date.now() + 30 * DAY),
    extensions: [{ name: 'basicConstraints', cA: false }, { name: 'extKeyUsage', clientAuth: true }],
  });
  return { cert: r.cert, key: r.private };
}

let hub: LocalHub;
let done: () => Promise<void>;
const log: string[] = [];
let root: Pair, intermediate: Pair, unverified: Pair, stranger: Pair;

before(async () => {
  ({ hub, done } = await startHub({ restPort: 0, amqpPort: 0, log: (l) => { log.push(l); if (process.env['HUB_TEST_LOG']) console.error(l); } }));
  [root, unverified, stranger] = await Promise.all([makeCa('local root CA'), makeCa('unproven CA'), makeCa('stranger CA')]);
  intermediate = await makeCa('local intermediate CA', root);
  await hub.registry.authorities.add('root', root.cert, { verified: true });
  await hub.registry.authorities.add('unproven', unverified.cert);
  for (const id of ['ca-dev', 'ca-chain', 'ca-sdk', 'ca-http', 'ca-amqp', 'ca-refused']) await hub.registry.addDevice(id, { certificateAuthority: true });
});
after(async () => { await done?.(); });

const cs = (id: string) => `HostName=${hub.hostName};DeviceId=${id};x509=true;GatewayHostName=localhost:${hub.port}`;

function telemetryOf(deviceId: string): Promise<TelemetryMessage> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no telemetry from ${deviceId}`)), 10_000);
    const on = (m: TelemetryMessage) => { if (m.deviceId === deviceId) { clearTimeout(t); hub.off('telemetry', on); resolve(m); } };
    hub.on('telemetry', on);
  });
}

test('a device whose certificate a verified CA signed (CN = its id) connects with DeviceClient over MQTT/TLS and MQTT over WebSocket', async () => {
  const leaf = await makeLeaf('ca-dev', root);
  assert.match(hub.registry.get('ca-dev')!.connectionString, /;x509=true/);
  for (const transport of ['mqtts', 'wss'] as const) {
    const c = DeviceClient.fromConnectionString(cs('ca-dev'), { ca: hub.ca, cert: leaf.cert, key: leaf.key, transport, ...FAST });
    const seen = telemetryOf('ca-dev');
    await c.connect();
    await c.sendTelemetry(`over ${transport}`);
    assert.equal((await seen).body.toString(), `over ${transport}`);
    await c.close();
  }
});

test('the chain may pass through an intermediate CA the device presents after its certificate', async () => {
  const leaf = await makeLeaf('ca-chain', intermediate);
  const c = DeviceClient.fromConnectionString(cs('ca-chain'), { ca: hub.ca, cert: `${leaf.cert.trimEnd()}\n${intermediate.cert}`, key: leaf.key, ...FAST });
  await c.connect();
  await c.close();
  // without the intermediate, the leaf chains to nothing in the store
  const alone = DeviceClient.fromConnectionString(cs('ca-chain'), { ca: hub.ca, cert: leaf.cert, key: leaf.key, ...FAST });
  await refused(alone, 'ca-chain', /chains to no CA in the hub's store/);
});

test("Microsoft's azure-iot-device-mqtt and azure-iot-device-http connect with a CA-signed certificate", async () => {
  const leaf = await makeLeaf('ca-sdk', root);
  // with x509=true the SDK dials HostName (GatewayHostName is read only with a key), so the port goes there
  const mqtt = Client.fromConnectionString(`HostName=localhost:${hub.port};DeviceId=ca-sdk;x509=true`, deviceMqtt.Mqtt);
  await mqtt.setOptions({ ca: hub.ca, cert: leaf.cert, key: leaf.key });
  const seen = telemetryOf('ca-sdk');
  await mqtt.open();
  await mqtt.sendEvent(new Message('sdk mqtt'));
  assert.equal((await seen).body.toString(), 'sdk mqtt');
  await mqtt.close();
  const httpLeaf = await makeLeaf('ca-http', root);
  const http = Client.fromConnectionString(cs('ca-http'), deviceHttp.Http);
  await http.setOptions({ ca: hub.ca, cert: httpLeaf.cert, key: httpLeaf.key, http: { agent: new PortAgent(hub.restPort!), receivePolicy: { interval: 3600 } } });
  const seenHttp = telemetryOf('ca-http');
  await http.sendEvent(new Message('sdk http'));
  assert.equal((await seenHttp).body.toString(), 'sdk http');
  await http.close();
  // a certificate of another CA: the SDK sees 401 as UnauthorizedError (its setOptions only settles with a receivePolicy)
  const bad = Client.fromConnectionString(cs('ca-http'), deviceHttp.Http);
  const strangerLeaf = await makeLeaf('ca-http', stranger);
  await bad.setOptions({ ca: hub.ca, cert: strangerLeaf.cert, key: strangerLeaf.key, http: { agent: new PortAgent(hub.restPort!), receivePolicy: { interval: 3600 } } });
  await assert.rejects(bad.sendEvent(new Message('x')), (e: Error) => e.name === 'UnauthorizedError');
  await bad.close();
});

test("Microsoft's azure-iot-device-amqp connects with a CA-signed certificate (the chain checked at attach); another CA's certificate is refused", async () => {
  const leaf = await makeLeaf('ca-amqp', root);
  // as over MQTT, with x509=true the SDK dials HostName
  const amqp = Client.fromConnectionString(`HostName=localhost:${hub.amqpPort};DeviceId=ca-amqp;x509=true`, deviceAmqp.Amqp);
  await amqp.setOptions({ ca: hub.ca, cert: leaf.cert, key: leaf.key });
  const seen = telemetryOf('ca-amqp');
  await amqp.open();
  await amqp.sendEvent(new Message('sdk amqp'));
  assert.equal((await seen).body.toString(), 'sdk amqp');
  await amqp.close();
  const bad = Client.fromConnectionString(`HostName=localhost:${hub.amqpPort};DeviceId=ca-amqp;x509=true`, deviceAmqp.Amqp);
  const strangerLeaf = await makeLeaf('ca-amqp', stranger);
  bad.setRetryPolicy(new common.NoRetry()); // the SDK would retry a refused attach for minutes
  await bad.setOptions({ ca: hub.ca, cert: strangerLeaf.cert, key: strangerLeaf.key });
  const from = log.length;
  await assert.rejects(async () => { await bad.open(); await bad.sendEvent(new Message('x')); });
  await bad.close().catch(() => undefined);
  assert.ok(log.slice(from).some((l) => /ca-amqp/.test(l) && /refused/.test(l) && /CA/.test(l)), 'the hub logs why the certificate was refused');
});

test('HTTPS refuses a device certificate of another CA with 401, and its log says why', async () => {
  const strangerLeaf = await makeLeaf('ca-http', stranger);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({
      host: 'localhost', port: hub.restPort, method: 'POST', path: '/devices/ca-http/messages/events?api-version=2021-04-12', agent: false,
      ca: hub.ca, cert: strangerLeaf.cert, key: strangerLeaf.key, headers: { 'Content-Type': 'application/octet-stream' },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.end('x');
  });
  assert.equal(status, 401);
  assert.ok(log.some((l) => /401 IotHubUnauthorizedAccess .*chains to no CA in the hub's store/.test(l)), 'the log names why');
});

/** Connecting is refused with CONNACK 5, and the hub's log names the identity and `why`. */
async function refused(c: DeviceClient, id: string, why: RegExp): Promise<void> {
  const from = log.length;
  await assert.rejects(c.connect(), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_CONNACK_NOT_AUTHORIZED');
  await c.close().catch(() => {});
  const lines = log.slice(from).filter((l) => l.includes(`refused "${id}": CONNACK 5`));
  assert.ok(lines.some((l) => why.test(l)), `log names why (${why}); saw:\n${lines.join('\n')}`);
}

test('refusals, each named in the log: unverified CA, wrong CN, expired, not yet valid, another CA, no certificate, a self-signed leaf', async () => {
  const cases: [string, Pair | undefined, RegExp][] = [
    ['unverified CA', await makeLeaf('ca-refused', unverified), /signed by CA 'unproven', which is not verified/],
    ['wrong CN', await makeLeaf('someone-else', root), /subject CN 'someone-else' is not the device id 'ca-refused'/],
    ['expired', await makeLeaf('ca-refused', root, { from: Date.now() - 10 * DAY, to: Date.now() - DAY }), /client certificate of 'ca-refused' expired/],
    ['not yet valid', await makeLeaf('ca-refused', root, { from: Date.now() + DAY, to: Date.now() + 10 * DAY }), /is not valid before/],
    ['another CA', await makeLeaf('ca-refused', stranger), /chains to no CA in the hub's store/],
    ['no certificate', undefined, /must present its client certificate/],
  ];
  const selfSigned = await generate([{ name: 'commonName', value: 'ca-refused' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  cases.push(['self-signed leaf', { cert: selfSigned.cert, key: selfSigned.private }, /chains to no CA in the hub's store/]);
  for (const [what, pair, why] of cases) {
    const c = DeviceClient.fromConnectionString(cs('ca-refused'), { ca: hub.ca, ...(pair ? { cert: pair.cert, key: pair.key } : {}), ...FAST });
    await refused(c, 'ca-refused', why).catch((e: Error) => { throw new Error(`${what}: ${e.message}`); });
  }
  // a removed CA admits no one any more; verified again, the device connects
  const leaf = await makeLeaf('ca-refused', root);
  assert.equal(await hub.registry.authorities.remove('root'), true);
  await refused(DeviceClient.fromConnectionString(cs('ca-refused'), { ca: hub.ca, cert: leaf.cert, key: leaf.key, ...FAST }), 'ca-refused', /chains to no CA/);
  await hub.registry.authorities.add('root', root.cert, { verified: true });
  const ok = DeviceClient.fromConnectionString(cs('ca-refused'), { ca: hub.ca, cert: leaf.cert, key: leaf.key, ...FAST });
  await ok.connect();
  await ok.close();
});

test('a CA-signed device is refused a SAS token, a CA-signed module is refused; the store refuses a leaf as CA and keeps its file', async () => {
  const rec = hub.registry.record('ca-dev')!;
  const c = DeviceClient.fromConnectionString(`HostName=${hub.hostName};DeviceId=ca-dev;SharedAccessKey=${rec.primaryKey};GatewayHostName=localhost:${hub.port}`, { ca: hub.ca, ...FAST });
  await refused(c, 'ca-dev', /must present its client certificate/);
  await assert.rejects(hub.registry.addModule('ca-dev', 'm', { certificateAuthority: true }), /CA-signed authentication is for devices/);
  const leaf = await makeLeaf('not-a-ca', root);
  await assert.rejects(hub.registry.authorities.add('leaf', leaf.cert), /not a CA certificate/);
  await assert.rejects(hub.registry.authorities.add('root-again', root.cert), /already in the store as 'root'/);
  // a second process reads what this one wrote
  const other = new CertificateAuthorities(hub.dataDir);
  assert.deepEqual(other.list().map((x) => [x.name, x.isVerified, x.thumbprint]), [
    ['root', true, new X509Certificate(root.cert).fingerprint256.replace(/:/g, '')], ['unproven', false, new X509Certificate(unverified.cert).fingerprint256.replace(/:/g, '')],
  ]);
});

/** host/hub/cli.ts's main in this process, console captured. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const { main } = await import('../../host/hub/cli.js');
  let out = '';
  const saved = { log: console.log, error: console.error };
  console.log = (...a: unknown[]) => { out += a.join(' ') + '\n'; };
  console.error = console.log;
  try { return { code: await main(args), out }; } finally { Object.assign(console, saved); }
}

test('iothub-wasm hub ca add/list/remove and device add --ca-signed write the store and the registry the hub reads', async () => {
  const dir = tempDir();
  try {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${dir}/root.pem`, root.cert);
    const added = await cli('ca', 'add', 'root', `${dir}/root.pem`, '--verified', '--data-dir', dir);
    assert.equal(added.code, 0, added.out);
    assert.match(added.out, /added CA root \(CN=local root CA; SHA-256 [0-9A-F]{64}/);
    assert.match((await cli('ca', 'add', 'again', '--cert', `${dir}/root.pem`, '--data-dir', dir)).out, /already in the store as 'root'/);
    assert.match((await cli('ca', 'list', '--data-dir', dir)).out, /^root  CN=local root CA/m);
    const dev = await cli('device', 'add', 'cli-ca', '--ca-signed', '--data-dir', dir);
    assert.equal(dev.code, 0, dev.out);
    assert.match(dev.out, /DeviceId=cli-ca;x509=true/);
    const rig = await startHub({ dataDir: dir });
    try {
      const leaf = await makeLeaf('cli-ca', root);
      const c = DeviceClient.fromConnectionString(`HostName=localhost;DeviceId=cli-ca;x509=true;GatewayHostName=localhost:${rig.hub.port}`, { ca: rig.hub.ca, cert: leaf.cert, key: leaf.key, ...FAST });
      await c.connect();
      await c.close();
      // removed by another command while the hub runs: the hub re-reads the store at the next connect
      assert.equal((await cli('ca', 'remove', 'root', '--data-dir', dir)).code, 0);
      const after = DeviceClient.fromConnectionString(`HostName=localhost;DeviceId=cli-ca;x509=true;GatewayHostName=localhost:${rig.hub.port}`, { ca: rig.hub.ca, cert: leaf.cert, key: leaf.key, ...FAST });
      const why = new Promise<string>((resolve) => rig.hub.once('refused', (r) => resolve(r.reason)));
      await assert.rejects(after.connect(), (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_CONNACK_NOT_AUTHORIZED');
      await after.close().catch(() => {});
      assert.match(await why, /chains to no CA in the hub's store/);
    } finally {
      await rig.hub.stop();
    }
    const gone = await cli('ca', 'remove', 'root', '--data-dir', dir);
    assert.deepEqual([gone.code, /no CA named 'root'/.test(gone.out)], [2, true]);
    assert.match((await cli('ca', 'list', '--data-dir', dir)).out, /no CA certificates yet/);
  } finally {
    removeDir(dir);
  }
});

test('an empty data folder has an empty CA store; a tampered certificates.json is refused by name', async () => {
  const dir = tempDir();
  try {
    assert.deepEqual(new CertificateAuthorities(dir).list(), []);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${dir}/certificates.json`, JSON.stringify({ version: 1, certificates: [{ name: 'x', pem: 'nope', thumbprint: '', subject: '', validTo: '', isVerified: true, createdAt: '' }] }));
    assert.throws(() => new CertificateAuthorities(dir), /certificates\[0\]: 'pem' is not a certificate; fix or delete the file/);
  } finally {
    removeDir(dir);
  }
});
