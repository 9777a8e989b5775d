// How AMQP devices prove who they are beyond SAS at connect: X.509 with the TLS client certificate (Microsoft's SDK
// sends no SASL at all; plain rhea uses SASL EXTERNAL), checked against the device's self-signed thumbprints; and
// CBS tokens renewed on the same link, whose expiry ends the links they covered with amqp:unauthorized-access.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import rhea from 'rhea';
import type { Connection, EventContext, Receiver, Sender } from 'rhea';
import { generate } from 'selfsigned';
import device from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import { startHub, sas, inSeconds } from './helpers.js';
import type { LocalHub, TelemetryMessage } from '../../host/hub/index.js';
import { AmqpClient } from './amqp-client.js';
import { PortAgent } from './port-agent.js';
import { LogWatch } from './log-watch.js';

const { Client, Message, SharedAccessKeyAuthenticationProvider } = device;
const { Amqp, AmqpWs } = deviceAmqp;

let hub: LocalHub;
let done: () => Promise<void>;
const log = new LogWatch();
before(async () => { ({ hub, done } = await startHub({ amqpPort: 0, restPort: 0, log: log.sink })); });
after(async () => { await done(); });

function telemetryFrom(deviceId: string): Promise<TelemetryMessage> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { hub.off('telemetry', on); reject(new Error(`no telemetry from ${deviceId}`)); }, 10_000);
    const on = (m: TelemetryMessage) => { if (m.deviceId === deviceId) { clearTimeout(t); hub.off('telemetry', on); resolve(m); } };
    hub.on('telemetry', on);
  });
}

async function x509Device(id: string): Promise<{ cert: string; key: string; connectionString: string }> {
  const r = await generate([{ name: 'commonName', value: id }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const info = await hub.registry.addDevice(id, { x509: { primaryThumbprint: new X509Certificate(r.cert).fingerprint } });
  return { cert: r.cert, key: r.private, connectionString: info.connectionString };
}

for (const ws of [false, true]) {
  const via = ws ? 'AMQP over WebSocket' : 'AMQP';
  test(`${via}: an X.509 device (self-signed thumbprint) sends telemetry and reads its twin with only its TLS client certificate`, async () => {
    const id = ws ? 'x509-amqp-ws' : 'x509-amqp';
    const x = await x509Device(id);
    assert.match(x.connectionString, /;x509=true/);
    // the SDK's X.509 credentials keep HostName only (GatewayHostName is dropped): the port goes there
    const cs = x.connectionString.replace(/;GatewayHostName=[^;]+/, '').replace(/HostName=[^;]+/, `HostName=localhost${ws ? '' : `:${hub.amqpPort}`}`);
    const client = Client.fromConnectionString(cs, ws ? AmqpWs : Amqp);
    await client.setOptions({ cert: x.cert, key: x.key, ca: hub.ca, ...(ws ? { amqp: { webSocketAgent: new PortAgent(hub.restPort!, { ca: hub.ca, cert: x.cert, key: x.key }) } } : {}) } as never);
    await client.open();
    try {
      const seen = telemetryFrom(id);
      await client.sendEvent(new Message('signed by certificate'));
      assert.equal((await seen).body.toString(), 'signed by certificate');
      await hub.updateDesired(id, { interval: 30 });
      const twin = await client.getTwin();
      assert.equal(twin.properties.desired['interval'], 30);
    } finally {
      await client.close();
    }
  });
}

/** A rhea connection to the AMQP port with a client certificate, using SASL EXTERNAL. */
function externalConnect(cert: string, key: string): Promise<Connection> {
  const c = rhea.create_container();
  const conn = c.connect({
    host: '127.0.0.1', port: hub.amqpPort, transport: 'tls', ca: hub.ca, servername: 'localhost', reconnect: false,
    cert, key, enable_sasl_external: true,
  } as never);
  return new Promise((resolve, reject) => {
    conn.once('connection_open', () => resolve(conn));
    conn.once('connection_error', (ctx: EventContext) => reject(ctx.connection.error ?? new Error('connection error')));
    conn.once('disconnected', (ctx: EventContext) => reject((ctx as { error?: Error }).error ?? new Error('disconnected')));
  });
}

function linkEnd(link: Sender | Receiver): Promise<string> {
  return new Promise((resolve) => {
    const cond = () => String((link as unknown as { error?: { condition?: string } }).error?.condition ?? 'closed');
    link.once(link.is_sender() ? 'sender_close' : 'receiver_close', () => resolve(cond()));
    link.once(link.is_sender() ? 'sender_error' : 'receiver_error', () => resolve(cond()));
  });
}

test('rhea: SASL EXTERNAL with the registered certificate reaches the device nodes; another device or an unregistered certificate is refused', async () => {
  const a = await x509Device('ext-a');
  await x509Device('ext-b');
  const conn = await externalConnect(a.cert, a.key);
  try {
    const seen = telemetryFrom('ext-a');
    const s = conn.open_sender({ target: { address: '/devices/ext-a/messages/events' } });
    await new Promise<void>((r) => s.once('sendable', () => r()));
    s.send({ body: 'external' } as never);
    assert.equal((await seen).body.toString(), 'external');
    // the certificate is ext-a's: ext-b's nodes stay closed
    const other = conn.open_sender({ target: { address: '/devices/ext-b/messages/events' } });
    assert.equal(await linkEnd(other), 'amqp:unauthorized-access');
  } finally {
    conn.close();
  }
  const stranger = await generate([{ name: 'commonName', value: 'ext-a' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' });
  const conn2 = await externalConnect(stranger.cert, stranger.private);
  try {
    const s = conn2.open_sender({ target: { address: '/devices/ext-a/messages/events' } });
    assert.equal(await linkEnd(s), 'amqp:unauthorized-access', "a certificate that is not ext-a's thumbprint proves nothing");
  } finally {
    conn2.close();
  }
});

function putToken(c: AmqpClient, audience: string, token: string): Promise<number> {
  return c.request('$cbs', {
    application_properties: { operation: 'put-token', type: 'azure-devices.net:sastoken', name: audience },
    body: token,
  }).then((m) => Number(m.application_properties!['status-code']));
}

test('CBS: a second put-token for the same audience replaces the expiry; a token that expires unrenewed ends its links with amqp:unauthorized-access', async () => {
  const a = await hub.registry.addDevice('renew-a');
  const b = await hub.registry.addDevice('renew-b');
  const c = await AmqpClient.open({ port: hub.amqpPort!, ca: hub.ca });
  try {
    const audA = `${hub.hostName}/devices/renew-a`, audB = `${hub.hostName}/devices/renew-b`;
    // b's first token expires before a's; b renews it, a does not
    assert.equal(await putToken(c, audA, sas(audA, a.primaryKey, inSeconds(3))), 200);
    assert.equal(await putToken(c, audB, sas(audB, b.primaryKey, inSeconds(2))), 200);
    const sa = await c.sender('/devices/renew-a/messages/events');
    const sb = await c.sender('/devices/renew-b/messages/events');
    const aEnded = linkEnd(sa);
    let bEnded = false;
    void linkEnd(sb).then(() => { bEnded = true; });
    assert.equal(await putToken(c, audB, sas(audB, b.primaryKey, inSeconds(600))), 200);
    assert.equal(await aEnded, 'amqp:unauthorized-access');
    assert.equal(bEnded, false, "renew-b's link outlived its first token, which expired before renew-a's");
    const seen = telemetryFrom('renew-b');
    assert.equal((await AmqpClient.send(sb, { body: 'still here' })).state, 'accepted');
    assert.equal((await seen).body.toString(), 'still here');
    // a renewal with a bad signature is refused and changes nothing
    assert.equal(await putToken(c, audB, sas(audB, Buffer.alloc(32, 9).toString('base64'), inSeconds(600))), 401);
    assert.equal((await AmqpClient.send(sb, { body: 'and still' })).state, 'accepted');
  } finally {
    await c.close();
  }
});

test('the device SDK renews its token on the same CBS link before it expires, and its links outlive the first token', async () => {
  const info = await hub.registry.addDevice('renew-sdk');
  const cs = info.connectionString.replace(/;GatewayHostName=[^;]+/, '') + `;GatewayHostName=localhost:${hub.amqpPort}`;
  // tokens valid 3 s, renewed 2 s before they expire: a new put-token every second
  const client = Client.fromAuthenticationProvider(SharedAccessKeyAuthenticationProvider.fromConnectionString(cs, 3, 2), Amqp);
  await client.setOptions({ ca: hub.ca });
  const renewed = /CBS put-token for "localhost(%2F|\/)devices(%2F|\/)renew-sdk" renewed/;
  await client.open();
  try {
    await client.sendEvent(new Message('first token'));
    const mark = log.lines.length;
    // four renewals a second apart: the first token (3 s) has expired by the fourth
    for (let i = 0; i < 4; i++) await log.next(renewed);
    const seen = telemetryFrom('renew-sdk');
    await client.sendEvent(new Message('fourth token'));
    assert.equal((await seen).body.toString(), 'fourth token');
    assert.ok(!log.lines.slice(mark).some((l) => /renew-sdk.*expired/.test(l)), 'no link of renew-sdk ended for an expired token');
  } finally {
    await client.close();
  }
});
