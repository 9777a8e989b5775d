// Shared set-up for device tests: a real local hub on loopback (TLS), a registered device, our DeviceClient.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHub, type LocalHubOptions } from '../../host/hub/index.js';
import { DeviceClient, type DeviceClientOptions } from '../../host/device/client.js';

export interface Rig { hub: LocalHub; dataDir: string; stop(): Promise<void> }

export async function startHub(opts: LocalHubOptions = {}): Promise<Rig> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'iothub-wasm-test-'));
  const hub = await LocalHub.start({ port: 0, log: false, ...opts, dataDir });
  return {
    hub, dataDir,
    async stop() { await hub.stop(); rmSync(dataDir, { recursive: true, force: true }); },
  };
}

/** Fast back-off so reconnect tests take milliseconds, not seconds. */
export const FAST_RETRY = { minMs: 20, maxMs: 300, jitterMs: 20, stableMs: 60000 };

export async function device(hub: LocalHub, id: string, options: DeviceClientOptions = {}): Promise<{ client: DeviceClient; connectionString: string }> {
  const { connectionString } = await hub.registry.addDevice(id);
  const client = DeviceClient.fromConnectionString(connectionString, { ca: hub.ca, retry: FAST_RETRY, ...options });
  return { client, connectionString };
}

export function waitFor<T>(register: (resolve: (v: T) => void) => void, ms = 5000, what = 'event'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((v) => { clearTimeout(t); resolve(v); });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
