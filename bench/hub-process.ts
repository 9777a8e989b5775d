// The local hub in its own process, for the device benchmarks: the clients' CPU and memory are then measured
// without the hub's. Started with child_process.fork; talks over the IPC channel:
//   → { type: 'ready', port, plainPort, ca }                      once listening
//   ← { type: 'devices', prefix, count }  → { type: 'devices', connectionStrings }
//   ← { type: 'stats' }                   → { type: 'stats', telemetry, connected, cpuUs }
//   ← { type: 'stop' }                    → the hub stops and the process exits (also when the parent goes away)
import { LocalHub } from '../host/hub/hub.js';

type Request = { type: 'devices'; prefix: string; count: number } | { type: 'stats' } | { type: 'stop' };

if (!process.send) throw new Error('bench/hub-process.js is started by the device benchmark (child_process.fork)');
const send = (m: object) => process.send!(m);

// Everything in memory (dataDir null): no registry file rewritten for every device added.
const hub = await LocalHub.start({ port: 0, plainPort: 0, dataDir: null, log: false });
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
    const cpu = process.cpuUsage();
    send({ type: 'stats', telemetry, connected: hub.connectedIdentities().length, cpuUs: cpu.user + cpu.system });
  } else if (m.type === 'stop') {
    void stop();
  }
});
process.on('disconnect', () => { void stop(); });

send({ type: 'ready', port: hub.port, plainPort: hub.plainPort, ca: hub.ca });
