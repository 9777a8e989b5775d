// Authentication comes first: nothing a peer sends is acted on before its CONNECT is accepted, and an X.509
// certificate logs in only inside its validity period (IoT Hub checks notBefore and notAfter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { generate } from 'selfsigned';
import { startHub, sas, inSeconds, connectRaw, endClient } from './helpers.js';
import type { LocalHub } from '../../host/hub/index.js';

const DAY = 86_400_000;

async function certificate(cn: string, notBefore: Date, notAfter: Date): Promise<{ cert: string; key: string; sha1: string }> {
  const r = await generate([{ name: 'commonName', value: cn }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notBeforeDate: notBefore, notAfterDate: notAfter });
  return { cert: r.cert, key: r.private, sha1: new X509Certificate(r.cert).fingerprint };
}

function connectPacket(hub: LocalHub, deviceId: string, password?: string): Buffer {
  return mqttPacket.generate({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: deviceId,
    username: `${hub.hostName}/${deviceId}/?api-version=2021-04-12`, ...(password ? { password: Buffer.from(password) } : {}),
  });
}

const publishPacket = (deviceId: string, body: string) =>
  mqttPacket.generate({ cmd: 'publish', topic: `devices/${deviceId}/messages/events/`, payload: Buffer.from(body), qos: 0, dup: false, retain: false });

/** Writes bytes in one segment; resolves with the CONNACK return code (or null) once the hub has closed the socket. */
function exchange(socket: Socket, bytes: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let rc: number | null = null;
    parser.on('packet', (p) => { if (p.cmd === 'connack') rc = p.returnCode ?? null; });
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => {});
    socket.on('close', () => resolve(rc));
    socket.write(bytes);
  });
}

test('a PUBLISH pipelined behind a refused CONNECT is never handled', async () => {
  const rig = await startHub();
  const seen: string[] = [];
  rig.hub.on('telemetry', (m) => seen.push(m.body.toString()));
  try {
    const { primaryKey } = await rig.hub.registry.addDevice('pipelined');
    const wrong = sas(`${rig.hub.hostName}/devices/pipelined`, Buffer.alloc(32, 1).toString('base64'), inSeconds(600));
    const socket = tcpConnect(rig.hub.plainPort!, '127.0.0.1');
    const rc = await exchange(socket, Buffer.concat([connectPacket(rig.hub, 'pipelined', wrong), publishPacket('pipelined', 'smuggled')]));
    assert.equal(rc, 5, 'CONNACK 5: not authorized');
    // the honest device, with the right key, is heard: so the hub was listening and dropped only the smuggled one
    const honest = await connectRaw(rig.hub, { deviceId: 'pipelined', key: primaryKey });
    await new Promise<void>((r) => honest.publish('devices/pipelined/messages/events/', 'honest', { qos: 1 }, () => r()));
    await endClient(honest);
    assert.deepEqual(seen, ['honest']);
  } finally {
    await rig.done();
  }
});

test('an X.509 certificate outside its validity period does not log in, and what it pipelined is not stored', async () => {
  const rig = await startHub();
  const seen: string[] = [];
  rig.hub.on('telemetry', (m) => seen.push(m.body.toString()));
  try {
    const now = Date.now();
    const cases = [
      ['expired', await certificate('expired', new Date(now - 30 * DAY), new Date(now - DAY))],
      ['not yet valid', await certificate('future', new Date(now + DAY), new Date(now + 30 * DAY))],
      ['valid', await certificate('valid', new Date(now - DAY), new Date(now + 30 * DAY))],
    ] as const;
    const codes: Record<string, number | null> = {};
    for (const [what, c] of cases) {
      const id = `x509-${what.replace(/ /g, '-')}`;
      await rig.hub.registry.addDevice(id, { x509: { primaryThumbprint: c.sha1 } });
      const socket = tlsConnect({ host: '127.0.0.1', port: rig.hub.port, ca: rig.hub.ca, cert: c.cert, key: c.key, servername: 'localhost' });
      await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject); });
      const done = exchange(socket, Buffer.concat([connectPacket(rig.hub, id), publishPacket(id, what)]));
      // the hub closes a refused connection itself; an accepted one is ended by us (bounded, whatever the outcome)
      setTimeout(() => socket.end(mqttPacket.generate({ cmd: 'disconnect' })), 300);
      codes[what] = await done;
    }
    assert.deepEqual(codes, { expired: 5, 'not yet valid': 5, valid: 0 });
    assert.deepEqual(seen, ['valid'], 'only the valid certificate\'s telemetry is stored');
  } finally {
    await rig.done();
  }
});
