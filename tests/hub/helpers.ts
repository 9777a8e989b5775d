// Test helpers for the local hub: temp data folders, SAS tokens from node:crypto (not from this repo), raw MQTT clients.
import { createHmac } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { LocalHub, type LocalHubOptions } from '../../host/hub/index.js';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'iothub-wasm-hub-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts a hub on free ports in a fresh temp folder; `done()` stops it and removes the folder. */
export async function startHub(opts: LocalHubOptions = {}): Promise<{ hub: LocalHub; dir: string; done: () => Promise<void> }> {
  const dir = opts.dataDir ?? tempDir();
  const hub = await LocalHub.start({ port: 0, plainPort: 0, log: false, ...opts, dataDir: dir });
  return {
    hub, dir,
    done: async () => { await hub.stop(); if (!opts.dataDir) removeDir(dir); },
  };
}

/** A SAS token computed with node:crypto. */
export function sas(resource: string, key: string, expiry: number): string {
  const sr = encodeURIComponent(resource);
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}`;
}

export const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

export interface RawOptions {
  deviceId: string;
  moduleId?: string;
  key?: string;
  password?: string;
  clean?: boolean;
  username?: string;
  clientId?: string;
  url?: string;
  extra?: IClientOptions;
}

/** Connects mqtt.js (plain TCP unless url given) as an IoT Hub device; resolves with the client or rejects with the CONNACK error. */
export function connectRaw(hub: LocalHub, o: RawOptions): Promise<MqttClient> {
  const id = o.moduleId ? `${o.deviceId}/${o.moduleId}` : o.deviceId;
  const resource = `${hub.hostName}/devices/${o.deviceId}${o.moduleId ? `/modules/${o.moduleId}` : ''}`;
  const password = o.password ?? sas(resource, o.key ?? '', inSeconds(3600));
  const client = mqtt.connect(o.url ?? `mqtt://127.0.0.1:${hub.plainPort}`, {
    clientId: o.clientId ?? id,
    username: o.username ?? `${hub.hostName}/${id}/?api-version=2021-04-12`,
    password,
    protocolVersion: 4,
    clean: o.clean ?? true,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...o.extra,
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => { client.removeAllListeners('error'); client.on('error', () => {}); resolve(client); });
    client.once('error', (err) => { client.end(true); reject(err); });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** Resolves when the client's connection closes. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected && client.disconnected) return resolve();
    client.once('close', () => resolve());
  });
}

export function endClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(true, {}, () => resolve()));
}

/** Waits for one event of an emitter that matches. */
export function once<T>(emitter: { on(e: string, f: (a: T) => void): unknown; off(e: string, f: (a: T) => void): unknown }, event: string,
  match: (a: T) => boolean = () => true, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { emitter.off(event, f); reject(new Error(`timed out waiting for '${event}'`)); }, ms);
    const f = (a: T) => { if (match(a)) { clearTimeout(t); emitter.off(event, f); resolve(a); } };
    emitter.on(event, f);
  });
}

/** Subscribes and returns the granted QoS per filter (128 = refused), without mqtt.js turning 0x80 into a rejection. */
export function grantedQos(client: MqttClient, filters: Record<string, { qos: 0 | 1 | 2 }>): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(filters, (err, granted) => {
      const fromErr = (err as (Error & { packet?: { granted?: number[] } }) | null)?.packet?.granted;
      if (fromErr) return resolve(fromErr);
      if (err) return reject(err);
      resolve((granted ?? []).map((g) => g.qos));
    });
  });
}

export interface RestAnswer { status: number; json: Record<string, unknown> | null; text: string; errorCode: string | undefined }

/**
 * One HTTPS request to a hub's REST port with a policy token (`auth: null` sends none); `body` goes as written.
 * `json` is the parsed answer, or null when it is empty or not JSON (the caller asserts on `text` then).
 */
export function restCall(target: { port: number; ca: string }, method: string, path: string, o: { body?: string; auth?: string | null } = {}): Promise<RestAnswer> {
  const body = o.body ?? '';
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: 'localhost', port: target.port, method, path, ca: target.ca, agent: false,
      headers: {
        ...(o.auth ? { Authorization: o.auth } : {}),
        'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: Record<string, unknown> | null = null;
        try { json = text ? JSON.parse(text) as Record<string, unknown> : null; } catch { /* asserted by the caller */ }
        const h = res.headers['iothub-errorcode'];
        resolve({ status: res.statusCode ?? 0, json, text, errorCode: typeof h === 'string' ? h : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
