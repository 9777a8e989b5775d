// The local hub in a child process, so that its resident memory is measured without the test's clients
// (hostile.test.ts, bench/hub-hostile.bench.ts). Started with child_process.fork and the hub options as JSON in
// argv[2]; talks over the IPC channel:
//   → { type: 'ready', port, plainPort, restPort, ca, keys: { [deviceId]: primaryKey } }   once listening
//     (with dpsPort in the options also dpsPort, idScope and enrollmentKeys: { [registrationId]: primaryKey })
//   ← { id, op: 'rss' }      → { id, result: rss bytes (after a GC when --expose-gc) }
//   ← { id, op: 'memory' }   → { id, result: process.memoryUsage() (after a GC when --expose-gc) }
//   ← { id, op: 'pending' }  → { id, result: connections waiting for CONNACK }
//   ← { id, op: 'log' }      → { id, result: the last log lines }
//   ← { id, op: 'stop' }     → the hub stops and the process exits (also when the parent goes away)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHub, type LocalHubOptions } from '../../host/hub/index.js';

if (!process.send) throw new Error('hub-child.js is started by a test or bench (child_process.fork)');
const send = (m: object) => process.send!(m);

const opts = JSON.parse(process.argv[2] ?? '{}') as LocalHubOptions & { devices?: string[]; enrollments?: string[] };
const dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-hub-'));
const lines: string[] = [];
// the last 5,000 lines: enough for a test's assertions, bounded under a bench's hundred thousand connections
const hub = await LocalHub.start({ port: 0, plainPort: 0, restPort: 0, ...opts, dataDir: dir, log: (l) => { if (lines.push(l) > 5000) lines.splice(0, 1000); } });
const keys: Record<string, string> = {};
for (const id of opts.devices ?? ['honest']) keys[id] = (await hub.registry.addDevice(id)).primaryKey;
const enrollmentKeys: Record<string, string> = {};
for (const id of opts.enrollments ?? []) {
  const e = await hub.dps!.addEnrollment(id);
  if (e.attestation.type === 'symmetricKey') enrollmentKeys[id] = e.attestation.primaryKey;
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await hub.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  if (process.connected) process.disconnect();
  process.exit(0);
}

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (m: { id: number; op: string }) => {
  if (m.op === 'rss') {
    gc?.();
    send({ id: m.id, result: process.memoryUsage().rss });
  } else if (m.op === 'memory') {
    gc?.();
    send({ id: m.id, result: process.memoryUsage() });
  } else if (m.op === 'pending') {
    send({ id: m.id, result: hub.pendingConnections() });
  } else if (m.op === 'log') {
    send({ id: m.id, result: lines });
  } else if (m.op === 'stop') {
    void stop();
  }
});
process.on('disconnect', () => { void stop(); });

send({
  type: 'ready', port: hub.port, plainPort: hub.plainPort, restPort: hub.restPort, ca: hub.ca, keys,
  ...(hub.dps ? { dpsPort: hub.dps.port, idScope: hub.dps.idScope, enrollmentKeys } : {}),
});
