// The local hub in its own process, for the device benchmarks: the clients' CPU and memory are then measured
// without the hub's. Started with child_process.fork; talks over the IPC channel:
//   → { type: 'ready', port, plainPort, ca }                      once listening
//   ← { type: 'devices', prefix, count }  → { type: 'devices', connectionStrings }
//   ← { type: 'stats' }                   → { type: 'stats', telemetry, connected, cpuUs, rss }
//   ← { type: 'drop' }                    → { type: 'dropped', count }  (every device connection dropped at once)
//   sinkPort, tlsSinkPort + tlsSinkCa (in 'ready'): a TCP and a TLS server that accepts and holds bare sockets (the memory floor of a connection)
//   ← { type: 'stop' }                    → the hub stops and the process exits (also when the parent goes away)
import { createServer, type Socket, type AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { LocalHub } from '../host/hub/hub.js';
import { loadOrCreateTls } from '../host/hub/tls.js';

type Request = { type: 'devices'; prefix: string; count: number } | { type: 'stats'; gc?: boolean } | { type: 'drop' } | { type: 'stop' };

if (!process.send) throw new Error('bench/hub-process.js is started by the device benchmark (child_process.fork)');
const send = (m: object) => process.send!(m);

// Everything in memory (dataDir null): no registry file rewritten for every device added.
// Room for the fleet (10,000 devices and a warm-up one per listener) and for its connection ramp.
const hub = await LocalHub.start({ port: 0, plainPort: 0, dataDir: null, log: false, maxConnections: 20_000, maxPendingConnections: 2048 });
// A sink for bare TCP sockets (the memory floor a connected socket costs the client): it accepts and holds.
const sinkSockets = new Set<Socket>();
const sink = createServer((s) => { sinkSockets.add(s); s.on('error', () => {}); s.on('close', () => sinkSockets.delete(s)); });
sink.maxConnections = 20_000;
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
// The same over TLS (its own throw-away CA): the floor of a connected TLS socket.
const sinkTls = await loadOrCreateTls(null, 'localhost');
const tlsSink = createTlsServer({ cert: sinkTls.cert, key: sinkTls.key }, (s) => { sinkSockets.add(s); s.on('error', () => {}); s.on('close', () => sinkSockets.delete(s)); });
tlsSink.on('tlsClientError', () => {});
tlsSink.maxConnections = 20_000;
await new Promise<void>((r) => tlsSink.listen(0, '127.0.0.1', () => r()));
let telemetry = 0;
hub.on('telemetry', () => { telemetry++; });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await hub.stop().catch(() => {});
  if (process.connected) process.disconnect();
  process.exit(0);
}

process.on('message', (m: Request) => {
  if (m.type === 'devices') {
    void (async () => {
      const connectionStrings: string[] = [];
      for (let i = 0; i < m.count; i++) {
        const id = `${m.prefix}-${i}`;
        const info = hub.registry.get(id) ?? await hub.registry.addDevice(id);
        connectionStrings.push(info.connectionString);
      }
      send({ type: 'devices', connectionStrings });
    })();
  } else if (m.type === 'stats') {
    if (m.gc) (globalThis as { gc?: () => void }).gc?.(); // (forked with --expose-gc) for the RSS per connection
    const cpu = process.cpuUsage();
    send({ type: 'stats', telemetry, connected: hub.connectedIdentities().length, cpuUs: cpu.user + cpu.system, rss: process.memoryUsage().rss });
  } else if (m.type === 'drop') {
    // The hub drops every device connection at once.
    const ids = hub.connectedIdentities();
    void Promise.all(ids.map((id) => hub.dropConnection(id.split('/')[0]!, id.split('/')[1]))).then((r) => send({ type: 'dropped', count: r.filter(Boolean).length }));
  } else if (m.type === 'stop') {
    for (const s of sinkSockets) s.destroy();
    sink.close();
    tlsSink.close();
    void stop();
  }
});
process.on('disconnect', () => { void stop(); });

send({ type: 'ready', port: hub.port, plainPort: hub.plainPort, ca: hub.ca, sinkPort: (sink.address() as AddressInfo).port,
  tlsSinkPort: (tlsSink.address() as AddressInfo).port, tlsSinkCa: sinkTls.ca });
