// /$iothub/websocket carries MQTT (subprotocol `mqtt`) and AMQP (`AMQPWSB10`), chosen by subprotocol as IoT Hub
// does: AMQP goes to the AMQP service, never to the MQTT broker; what the hub cannot serve is refused with 400 and
// a reason, and logged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startHub } from './helpers.js';
import { webSocketRoute } from '../../host/hub/websocket.js';
import type { LocalHub } from '../../host/hub/index.js';

let hub: LocalHub;
let done: () => Promise<void>;
const logged: string[] = [];
before(async () => { ({ hub, done } = await startHub({ amqpPort: 0, restPort: 0, log: (l: string) => logged.push(l) })); });
after(async () => { await done(); });

const AMQP_SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);

/** Opens a WebSocket; resolves with the socket on 101, or with the refusal's status and body. */
function open(port: number, protocols: string[]): Promise<{ ws: WebSocket } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://localhost:${port}/$iothub/websocket`, protocols, { ca: hub.ca });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
  });
}

test('AMQPWSB10 on the REST port reaches the AMQP service: the SASL protocol header is answered in kind', async () => {
  const r = await open(hub.restPort!, ['AMQPWSB10']);
  assert.ok('ws' in r, 'upgraded');
  assert.equal(r.ws.protocol, 'AMQPWSB10');
  const first = new Promise<Buffer>((resolve) => r.ws.once('message', (d: Buffer) => resolve(d)));
  r.ws.send(AMQP_SASL_HEADER);
  const answer = await first;
  assert.deepEqual(answer.subarray(0, 8), AMQP_SASL_HEADER, 'an AMQP peer answered, not the MQTT broker');
  r.ws.terminate();
});

test('mqtt on the same path still reaches the broker (CONNECT is answered with CONNACK)', async () => {
  const r = await open(hub.restPort!, ['mqtt']);
  assert.ok('ws' in r);
  assert.equal(r.ws.protocol, 'mqtt');
  const first = new Promise<Buffer>((resolve) => r.ws.once('message', (d: Buffer) => resolve(d)));
  // CONNECT for an unknown device: the broker answers CONNACK (refused), which is all this checks
  const id = Buffer.from('nobody');
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 0x02, 0, 60, 0, id.length]), id]);
  r.ws.send(Buffer.concat([Buffer.from([0x10, body.length]), body]));
  assert.equal((await first)[0], 0x20, 'CONNACK');
  r.ws.terminate();
});

test('AMQPWSB10 on the MQTT TLS port, and an unknown subprotocol anywhere, are refused with 400, a reason, and a log line', async () => {
  const amqpOnMqtt = await open(hub.port, ['AMQPWSB10']);
  assert.ok('status' in amqpOnMqtt);
  assert.equal(amqpOnMqtt.status, 400);
  assert.match(amqpOnMqtt.body, /AMQP over WebSocket is served on the REST port/);
  for (const port of [hub.port, hub.restPort!]) {
    const odd = await open(port, ['stomp']);
    assert.ok('status' in odd);
    assert.equal(odd.status, 400);
    assert.match(odd.body, /subprotocol "stomp" is not served here/);
  }
  assert.ok(logged.some((l) => /WebSocket upgrade from .* refused: .*stomp/.test(l)), 'refusals are logged');
});

test('webSocketRoute: none or mqtt is MQTT, AMQPWSB10 is AMQP, others are refused naming what was offered (cut)', () => {
  assert.deepEqual(webSocketRoute(undefined), { to: 'mqtt' });
  assert.deepEqual(webSocketRoute('mqtt'), { to: 'mqtt' });
  assert.deepEqual(webSocketRoute('AMQPWSB10, mqtt'), { to: 'mqtt' });
  assert.deepEqual(webSocketRoute(' AMQPWSB10 '), { to: 'amqp' });
  const r = webSocketRoute('x'.repeat(500));
  assert.equal(r.to, 'refuse');
  assert.ok(r.to === 'refuse' && r.reason.length < 200, 'a hostile header is cut');
});
