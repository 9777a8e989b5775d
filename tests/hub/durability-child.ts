// A local hub in a child process for the durability test (which kills it with SIGKILL): started on the data folder
// given as argv[2], it prints its ports as one JSON line, then serves one JSON request per stdin line
// ({id, op, …} → {id, result} or {id, error}): `c2d` queues a C2D message (answered once sendC2D resolved, i.e. the
// message is durable), `state` reports what the hub holds (devices, twins, pending C2D message ids).
import { createInterface } from 'node:readline';
import { LocalHub } from '../../host/hub/index.js';

const hub = await LocalHub.start({ port: 0, plainPort: 0, restPort: 0, dataDir: process.argv[2]!, log: false });
process.stdout.write(JSON.stringify({ pid: process.pid, port: hub.port, plainPort: hub.plainPort, restPort: hub.restPort }) + '\n');

type Request = { id: number; op: string; deviceId?: string; body?: string; messageId?: string };

const ops: Record<string, (r: Request) => Promise<unknown>> = {
  async c2d(r) {
    const receipt = await hub.sendC2D(r.deviceId!, r.body ?? '', { messageId: r.messageId!, ttlSeconds: 3600 });
    return receipt.messageId;
  },
  async state() {
    const devices = hub.registry.list().map((d) => d.deviceId);
    const twins: Record<string, unknown> = {};
    const c2d: Record<string, string[]> = {};
    for (const d of devices) {
      twins[d] = (await hub.getTwin(d)).properties;
      c2d[d] = hub.c2d.pending(d).map((m) => m.messageId);
    }
    return { devices, twins, c2d };
  },
};

createInterface({ input: process.stdin }).on('line', (line) => {
  let r: Request;
  try { r = JSON.parse(line) as Request; } catch { return; }
  const op = ops[r.op];
  (op ? op(r) : Promise.reject(new Error(`no op '${r.op}'`))).then(
    (result) => process.stdout.write(JSON.stringify({ id: r.id, result }) + '\n'),
    (e: Error) => process.stdout.write(JSON.stringify({ id: r.id, error: e.message }) + '\n'),
  );
}).on('close', () => { void hub.stop().then(() => process.exit(0)); });
