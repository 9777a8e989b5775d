// The HTTPS device endpoint, with Microsoft's device SDK over HTTP (azure-iot-device-http) unchanged but for the port
// (an agent: the SDK always dials 443) and trust: telemetry single and batched, the C2D poll with complete, reject
// and abandon as the service's feedback sees them, SAS and X.509; plus raw requests for what the SDK never sends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import device from 'azure-iot-device';
import deviceHttp from 'azure-iot-device-http';
import { startHub, sas, inSeconds } from './helpers.js';
import type { LocalHub } from '../../host/hub/index.js';
import type { FeedbackRecord, TelemetryMessage } from '../../host/hub/index.js';
import { PortAgent } from './port-agent.js';

const { Client, Message } = device;
const { Http } = deviceHttp;

let hub: LocalHub;
let done: () => Promise<void>;
before(async () => { ({ hub, done } = await startHub({ restPort: 0, c2dLockMs: 2000, log: false })); });
after(async () => { await done(); });

type SdkClient = InstanceType<typeof Client>;
type SdkMessage = InstanceType<typeof Message>;

async function httpDevice(cs: string, extra: Record<string, unknown> = {}): Promise<SdkClient> {
  const client = Client.fromConnectionString(cs, Http);
  await client.setOptions({ ca: hub.ca, http: { agent: new PortAgent(hub.restPort!), receivePolicy: { interval: 0.05 } }, ...extra });
  return client;
}

function telemetryOf(deviceId: string, n: number): Promise<TelemetryMessage[]> {
  const seen: TelemetryMessage[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`saw ${seen.length} of ${n} messages from ${deviceId}`)), 10000);
    const on = (m: TelemetryMessage) => {
      if (m.deviceId !== deviceId) return;
      seen.push(m);
      if (seen.length === n) { clearTimeout(t); hub.off('telemetry', on); resolve(seen); }
    };
    hub.on('telemetry', on);
  });
}

function feedbackFor(messageId: string): Promise<FeedbackRecord> {
  return new Promise((resolve) => {
    const on = (f: FeedbackRecord) => { if (f.originalMessageId === messageId) { hub.off('feedback', on); resolve(f); } };
    hub.on('feedback', on);
  });
}

test('sendEvent and sendEventBatch over HTTPS reach the hub with their properties and system properties', async () => {
  const info = await hub.registry.addDevice('http-dev');
  const client = await httpDevice(info.connectionString);
  const one = telemetryOf('http-dev', 1);
  const m = new Message('{"t":21}');
  m.messageId = 'h-1';
  m.contentType = 'application/json';
  m.properties.add('unit', 'celsius');
  await client.sendEvent(m);
  const [got] = await one;
  assert.equal(got!.body.toString(), '{"t":21}');
  assert.deepEqual(got!.properties, { unit: 'celsius' });
  assert.equal(got!.systemProperties['messageId'], 'h-1');
  assert.equal(got!.systemProperties['contentType'], 'application/json');
  const three = telemetryOf('http-dev', 3);
  await client.sendEventBatch([0, 1, 2].map((i) => { const b = new Message(`b${i}`); b.properties.add('i', String(i)); return b; }));
  assert.deepEqual((await three).map((x) => [x.body.toString(), x.properties['i']]), [['b0', '0'], ['b1', '1'], ['b2', '2']]);
  await client.close();
});

test('C2D over HTTPS: received with its properties; complete → Success, reject → Rejected, abandon → delivered again', async () => {
  const info = await hub.registry.addDevice('http-c2d');
  const client = await httpDevice(info.connectionString);
  const received: SdkMessage[] = [];
  const next = () => new Promise<SdkMessage>((resolve) => client.once('message', (msg: SdkMessage) => { received.push(msg); resolve(msg); }));
  const settle = (how: 'complete' | 'reject' | 'abandon', msg: SdkMessage) => new Promise<void>((resolve, reject) => {
    (client[how] as (m: SdkMessage, cb: (e?: Error) => void) => void).call(client, msg, (e?: Error) => (e ? reject(e) : resolve()));
  });
  let arrival = next();
  await client.open();
  const success = feedbackFor('c-ok');
  await hub.sendC2D('http-c2d', 'first', { messageId: 'c-ok', ack: 'full', properties: { color: 'red' } });
  const first = await arrival;
  assert.equal(first.messageId, 'c-ok');
  assert.equal(first.getData().toString(), 'first');
  assert.equal(first.properties.getValue('iothub-app-color'), 'red');
  arrival = next();
  await settle('complete', first);
  assert.equal((await success).statusCode, 'Success');

  const rejected = feedbackFor('c-no');
  await hub.sendC2D('http-c2d', 'second', { messageId: 'c-no', ack: 'full' });
  await settle('reject', await arrival);
  assert.equal((await rejected).statusCode, 'Rejected');

  arrival = next();
  await hub.sendC2D('http-c2d', 'third', { messageId: 'c-again', ack: 'full' });
  const third = await arrival;
  arrival = next();
  await settle('abandon', third);
  const again = await arrival;
  assert.equal(again.messageId, 'c-again', 'an abandoned message is delivered again');
  const ok = feedbackFor('c-again');
  await settle('complete', again);
  assert.equal((await ok).statusCode, 'Success');
  await client.close();
});

test('a wrong key is 401 IotHubUnauthorizedAccess; an X.509 device sends with its certificate', async () => {
  const info = await hub.registry.addDevice('http-bad');
  const bad = await httpDevice(info.connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 3).toString('base64')}`));
  await assert.rejects(bad.sendEvent(new Message('x')), (e: Error) => /Unauthorized/i.test(e.name + e.message));
  const r = await generate([{ name: 'commonName', value: 'http-x509' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const x = await hub.registry.addDevice('http-x509', { x509: { primaryThumbprint: new X509Certificate(r.cert).fingerprint } });
  const client = await httpDevice(x.connectionString, { cert: r.cert, key: r.private });
  const seen = telemetryOf('http-x509', 1);
  await client.sendEvent(new Message('signed'));
  assert.equal((await seen)[0]!.body.toString(), 'signed');
});

/** One raw HTTPS request to the REST port. */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: hub.restPort, method, path, headers, ca: hub.ca, servername: 'localhost' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('raw: an unknown lock token is 412 DeviceMessageLockLost; a lock not settled in time expires and the message is received again', async () => {
  const info = await hub.registry.addDevice('http-raw');
  const auth = { Authorization: sas(`${hub.hostName}/devices/http-raw`, info.primaryKey, inSeconds(600)) };
  const q = '?api-version=2021-04-12';
  assert.equal((await raw('GET', `/devices/http-raw/messages/deviceBound${q}`, auth)).status, 204, 'nothing queued: 204');
  const lost = await raw('DELETE', `/devices/http-raw/messages/deviceBound/not-a-lock${q}`, auth);
  assert.equal(lost.status, 412);
  assert.match(lost.body, /ErrorCode:DeviceMessageLockLost/);
  await hub.sendC2D('http-raw', 'locked', { messageId: 'lk', properties: { 'bad name': 'x', ok: 'line\nbreak' } });
  const a = await raw('GET', `/devices/http-raw/messages/deviceBound${q}`, auth);
  assert.equal(a.status, 200);
  assert.equal(a.body, 'locked');
  assert.equal(a.headers['iothub-app-ok'], undefined, 'a value that cannot be a header is left out');
  assert.equal((await raw('GET', `/devices/http-raw/messages/deviceBound${q}`, auth)).status, 204, 'locked: not delivered twice');
  await new Promise((r) => setTimeout(r, 2500)); // the test hub's lock is 2 s (the timer set first fires first)
  const b = await raw('GET', `/devices/http-raw/messages/deviceBound${q}`, auth);
  assert.equal(b.status, 200, 'after the lock expired the message comes again');
  assert.notEqual(b.headers['etag'], a.headers['etag'], 'with a new lock token');
  assert.equal((await raw('DELETE', `/devices/http-raw/messages/deviceBound/${String(a.headers['etag']).replace(/"/g, '')}${q}`, auth)).status, 412, 'the expired lock is lost');
  assert.equal((await raw('DELETE', `/devices/http-raw/messages/deviceBound/${String(b.headers['etag']).replace(/"/g, '')}${q}`, auth)).status, 204);
  // another device's token does not open this device's queue
  const other = await hub.registry.addDevice('http-other');
  const wrong = await raw('GET', `/devices/http-raw/messages/deviceBound${q}`, { Authorization: sas(`${hub.hostName}/devices/http-other`, other.primaryKey, inSeconds(600)) });
  assert.equal(wrong.status, 401);
  const batch = await raw('POST', `/devices/http-raw/messages/events${q}`, { ...auth, 'Content-Type': 'application/vnd.microsoft.iothub.json' }, '{"body":"not an array"}');
  assert.equal(batch.status, 400);
  assert.match(batch.body, /non-empty JSON array/);
});
