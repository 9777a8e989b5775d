// Starts a hub with its service endpoints (AMQP, REST) and Microsoft's service SDKs in a child process
// (service-sdk-child.ts, which trusts the hub's CA through NODE_EXTRA_CA_CERTS); `call(op, args)` runs one SDK
// operation there and answers its result, or rejects with an SdkError carrying the SDK's error name.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { LocalHub, LocalHubOptions } from '../../host/hub/index.js';
import { startHub } from './helpers.js';

export class SdkError extends Error {
  constructor(readonly sdkName: string, message: string) { super(`${sdkName}: ${message}`); }
}

export interface ServiceSdk {
  hub: LocalHub;
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  done(): Promise<void>;
}

export async function startServiceSdk(opts: LocalHubOptions = {}): Promise<ServiceSdk> {
  const { hub, done } = await startHub({ amqpPort: 0, restPort: 0, log: !!process.env['HUB_TEST_LOG'], ...opts });
  const child: ChildProcess = fork(join(fileURLToPath(new URL('.', import.meta.url)), 'service-sdk-child.js'), [], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: join(hub.dataDir!, 'tls', 'ca.pem') },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: { id: number; result?: unknown; error?: { name: string; message: string } }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(new SdkError(m.error.name, m.error.message)); else p.resolve(m.result);
  });
  const call = <T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> => {
    const id = ++seq;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, args });
    });
  };
  return {
    hub, call,
    done: async () => {
      if (child.connected) {
        await call('closeAll').catch(() => {});
        child.disconnect();
      }
      await done();
    },
  };
}
