// A network that silently stops carrying bytes (no FIN, no RST): only keepalive can notice. A real TCP relay on
// loopback sits between the device and the hub and is told to black-hole traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { startHub, device, waitFor } from './support.js';

/** A TCP relay whose links can be frozen (bytes swallowed in both directions, sockets left open). */
async function relay(targetPort: number) {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d) => { if (!frozen) upstream.write(d); });
    upstream.on('data', (d) => { if (!frozen) client.write(d); });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    // While frozen, not even the hub's FIN gets through: the device's side of the link just goes quiet.
    const upstreamEnd = () => { if (!frozen) end(); };
    upstream.on('close', upstreamEnd).on('error', upstreamEnd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    freeze() { frozen = true; },
    thaw() { frozen = false; },
    async close() { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); },
  };
}

test('a silent network is detected by PINGRESP time-out and the device reconnects and delivers', async () => {
  const rig = await startHub();
  const r = await relay(rig.hub.port);
  try {
    const { client } = await device(rig.hub, 'partitioned', { gatewayHostName: `localhost:${r.port}`, keepAliveSeconds: 1, pingTimeoutMs: 1000 });
    await client.connect();
    const seen: string[] = [];
    rig.hub.on('telemetry', (m) => { if (m.deviceId === 'partitioned') seen.push(m.body.toString()); });
    const dropped = waitFor<{ code: string }>((done) => client.once('disconnected', done), 10000, 'ping time-out');
    r.freeze();
    const pending = client.sendTelemetry('sent into the void');
    const d = await dropped;
    assert.equal(d.code, 'CLIENT_PING_TIMEOUT');
    r.thaw();
    await pending; // resent with DUP on the new connection, acknowledged there
    assert.ok(seen.includes('sent into the void'));
    await client.close();
  } finally {
    await r.close();
    await rig.stop();
  }
});
