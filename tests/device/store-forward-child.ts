// A device process with a store (`store: <folder>`), for the store-and-forward tests: the parent kills it with
// SIGKILL and starts it again. Argument: JSON { connectionString, ca, store, mode, count?, prefix? }. It writes one
// JSON line per step to stdout:
//   accept: sends `count` messages (ids `${prefix}-${i}`) without connecting → {"accepted": n, "status": …}
//   drain:  → {"opened": status}, connects, → {"drained": status} once every stored message is acknowledged
//   marker: → {"opened": status}, connects, sends `${prefix}` and waits for its PUBACK → {"marker": status}; exits
// then waits to be killed (accept, drain).
import { DeviceClient } from '../../host/device/client.js';

interface Args { connectionString: string; ca: string; store: string; mode: 'accept' | 'drain' | 'marker'; count?: number; prefix?: string }
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const client = DeviceClient.fromConnectionString(args.connectionString, {
  ca: args.ca, store: args.store, retry: { minMs: 20, maxMs: 200, jitterMs: 10 },
});
const warnings: string[] = [];
client.on('warning', (e: { code?: string }) => warnings.push(String(e.code)));
client.on('error', () => {});

async function main(): Promise<void> {
  if (args.mode === 'accept') {
    for (let i = 0; i < (args.count ?? 0); i++) {
      // accepted = written to the store: the promise settles only when the hub acknowledges (never, here)
      client.sendTelemetry({ i }, { messageId: `${args.prefix}-${i}` }).catch(() => {});
    }
    say({ accepted: args.count, status: client.storeStatus });
    setInterval(() => {}, 1000);
    return;
  }
  await new Promise((r) => setImmediate(r)); // the store's warnings are emitted after fromConnectionString
  say({ opened: client.storeStatus, warnings });
  await client.connect();
  if (args.mode === 'drain') {
    while ((client.storeStatus?.pending ?? 0) > 0) await new Promise((r) => setTimeout(r, 10));
    say({ drained: client.storeStatus });
    setInterval(() => {}, 1000);
    return;
  }
  await client.sendTelemetry('marker', { messageId: args.prefix });
  say({ marker: client.storeStatus });
  await client.close();
}
main().catch((e: Error & { code?: string }) => { say({ error: e.code ?? e.message }); process.exit(1); });
