// `{dataDir}/hub.json`: where the hub running on a data folder listens, written once it listens and removed when
// it stops, so that `iothub-wasm hub device …` in another terminal prints connection strings that reach it.
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { StoredRecord } from './state/json.js';
import { pidAlive, writeFileDurableSync } from './state/store.js';

export interface RunningHub {
  pid: number;
  hostName: string;
  /** What a device puts in GatewayHostName to reach this hub, e.g. `localhost:8883`. */
  gatewayHostName: string;
  startedAt: string;
  /** Where its DPS listens (`localhost:8884`), when it runs one. */
  provisioningHost?: string;
  /** Its service endpoints on loopback, when enabled: what `hub monitor`, `c2d`, `method`, `twin` talk to. */
  amqpPort?: number;
  restPort?: number;
}

const fileOf = (dataDir: string) => join(dataDir, 'hub.json');

export function writeRunningHub(dataDir: string, hub: RunningHub): void {
  writeFileDurableSync(fileOf(dataDir), JSON.stringify(hub, null, 2) + '\n');
}

export function removeRunningHub(dataDir: string): void {
  try { unlinkSync(fileOf(dataDir)); } catch { /* never written, or already gone */ }
}

/** The hub running on `dataDir`, or undefined when none is (no file, or its process has gone). */
export function runningHub(dataDir: string): RunningHub | undefined {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(fileOf(dataDir), 'utf8')); } catch { return undefined; }
  try {
    const r = StoredRecord.of(raw, fileOf(dataDir));
    const pid = r.count('pid');
    if (!pidAlive(pid)) return undefined;
    const provisioningHost = r.optStr('provisioningHost');
    const port = (name: string) => { const v = r.get(name); return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 65536 ? { [name]: v } : {}; };
    return {
      pid, hostName: r.str('hostName'), gatewayHostName: r.str('gatewayHostName'), startedAt: r.str('startedAt'),
      ...(provisioningHost ? { provisioningHost } : {}), ...port('amqpPort'), ...port('restPort'),
    };
  } catch {
    return undefined; // a file we cannot read says nothing about a running hub
  }
}
