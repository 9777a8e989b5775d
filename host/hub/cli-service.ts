// What the hub's back-end commands (`hub monitor`, `c2d`, `method`, `twin`, `device list`) share: the hub running on
// the data folder (`{dataDir}/hub.json`), its CA, a token of the iothubowner policy (policies.json, never printed),
// and calls made as a back end makes them: HTTPS to the REST API, AMQP 1.0 to the service endpoint.
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { resolve as resolvePath } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Connection } from 'rhea';
import { DEFAULT_DATA_DIR } from './paths.js';
import { runningHub, type RunningHub } from './running.js';
import { Policies } from './service/policies.js';
import { createSasToken } from './auth/sas.js';

/** Bad arguments: exit 2 with the command's usage. */
export class ServiceUsageError extends Error {}
/** No hub to talk to, or the hub refused the call: exit 1. */
export class ServiceError extends Error {}

export const API_VERSION = '2021-04-12';
const POLICY = 'iothubowner';
const TOKEN_TTL_S = 3600;

export interface ServiceTarget {
  dataDir: string;
  hub: RunningHub;
  ca: string;
  /** `SharedAccessSignature …` for the hub's name, of the iothubowner policy. */
  token: string;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What parseArgs gives for `O`'s options, and the data folder and --help every command takes. */
export type CommandValues<O extends Options> = {
  [K in keyof O]?: O[K] extends { multiple: true } ? (O[K] extends { type: 'boolean' } ? boolean[] : string[]) : O[K] extends { type: 'boolean' } ? boolean : string
} & { 'data-dir'?: string; help?: boolean };

/** parseArgs (strict) with the options every back-end command takes; bad arguments become a ServiceUsageError. */
export function parseCommand<O extends Options>(argv: string[], options: O): { values: CommandValues<O>; positionals: string[] } {
  try {
    return parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { ...options, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }) as unknown as { values: CommandValues<O>; positionals: string[] };
  } catch (e) {
    throw new ServiceUsageError((e as Error).message);
  }
}

export const dataDirOf = (v: { 'data-dir'?: unknown }): string => resolvePath(typeof v['data-dir'] === 'string' ? v['data-dir'] : DEFAULT_DATA_DIR);

/** A JSON argument (`--payload`, `--desired`, `--tags`), parsed or refused by name. */
export function jsonArg(name: string, raw: string, mustBeObject: boolean): unknown {
  let v: unknown;
  try { v = JSON.parse(raw); } catch (e) {
    throw new ServiceUsageError(`${name} is not JSON (${(e as Error).message}): ${raw.length > 80 ? raw.slice(0, 80) + '…' : raw}` +
      (/^[A-Za-z_][\w-]*$/.test(raw) ? ` (a string is quoted: '"${raw}"')` : ''));
  }
  if (mustBeObject && (typeof v !== 'object' || v === null || Array.isArray(v))) throw new ServiceUsageError(`${name} must be a JSON object such as '{"interval":5}'`);
  return v;
}

/** The hub running on `dataDir` and how to reach its `need` endpoint, or a ServiceError saying how to start one. */
export function serviceTarget(dataDir: string, need: 'rest' | 'amqp'): ServiceTarget & { port: number } {
  const hub = runningHub(dataDir);
  if (!hub) {
    throw new ServiceError(`no hub is running on the data folder ${dataDir}; start one there with: iothub-wasm hub --data-dir ${dataDir}` +
      ` (or pass the --data-dir of the hub that runs)`);
  }
  const port = need === 'rest' ? hub.restPort : hub.amqpPort;
  if (!port) {
    const flag = need === 'rest' ? '--rest-port' : '--amqp-port';
    throw new ServiceError(`the hub running on ${dataDir} (pid ${hub.pid}) has its ${need === 'rest' ? 'REST API' : 'AMQP service endpoint'} off; ` +
      `restart it with ${flag} <n> (0 = any free port)`);
  }
  const policies = new Policies(dataDir, hub.hostName);
  const policy = policies.get(POLICY);
  if (!policy) throw new ServiceError(`${resolvePath(dataDir, 'policies.json')} has no '${POLICY}' policy`);
  let ca: string;
  try { ca = readFileSync(resolvePath(dataDir, 'tls', 'ca.pem'), 'utf8'); } catch (e) {
    throw new ServiceError(`cannot read the hub's CA (${resolvePath(dataDir, 'tls', 'ca.pem')}): ${(e as Error).message}`);
  }
  const token = createSasToken(hub.hostName, policy.primaryKey, Math.floor(Date.now() / 1000) + TOKEN_TTL_S, POLICY);
  return { dataDir, hub, ca, token, port };
}

const unreachable = (t: { dataDir: string; hub: RunningHub }, what: string, e: Error) =>
  new ServiceError(`the hub running on ${t.dataDir} (pid ${t.hub.pid}) does not answer on its ${what} (${(e as NodeJS.ErrnoException).code ?? e.message})`);

export interface RestAnswer { status: number; body: unknown }

/** IoT Hub's error body (`{"Message":"ErrorCode:<Code>;<text>"}`) in words: `404 DeviceNotOnline: …`. */
export function restErrorText(a: RestAnswer, errorCode?: string): string {
  const message = typeof a.body === 'object' && a.body !== null ? String((a.body as { Message?: unknown }).Message ?? '') : '';
  const m = /^ErrorCode:([^;]*);(.*)$/s.exec(message);
  const code = m?.[1] || errorCode || '';
  return `${a.status}${code ? ` ${code}` : ''}: ${m ? m[2] : message || 'no details'}`;
}

/** One call to the hub's REST API; an answer ≥ 400 becomes a ServiceError carrying the hub's code in words. */
export function rest(t: ServiceTarget & { port: number }, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<RestAnswer> {
  const text = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: 'localhost', servername: 'localhost', port: t.port, method, path: `${path}?api-version=${API_VERSION}`, ca: t.ca, agent: false,
      headers: { Authorization: t.token, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(unreachable(t, 'REST port', e)));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString();
        let parsed: unknown = raw;
        try { parsed = raw ? JSON.parse(raw) : undefined; } catch { /* kept as text */ }
        const a = { status: res.statusCode ?? 0, body: parsed };
        const code = res.headers['iothub-errorcode'];
        if (a.status >= 400) reject(Object.assign(new ServiceError(restErrorText(a, typeof code === 'string' ? code : undefined)), { status: a.status }));
        else resolve(a);
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(unreachable(t, 'REST port', e)));
    req.end(text);
  });
}

/** An AMQP connection to the hub's service endpoint, authenticated with SASL PLAIN as the iothubowner policy. */
export async function amqpConnect(t: ServiceTarget & { port: number }): Promise<Connection> {
  const { default: rhea } = await import('rhea'); // loaded here, not at start-up: `--help` and REST commands need none of it
  const container = rhea.create_container({ id: `iothub-wasm-cli-${process.pid}` });
  return new Promise((resolve, reject) => {
    const conn = container.connect({
      host: 'localhost', servername: 'localhost', port: t.port, transport: 'tls', ca: t.ca, hostname: t.hub.hostName,
      username: `${POLICY}@sas.root.${t.hub.hostName}`, password: t.token, reconnect: false,
    } as Parameters<typeof container.connect>[0]);
    const fail = (why: string) => { conn.removeAllListeners(); try { conn.close(); } catch { /* not open */ } reject(new ServiceError(why)); };
    conn.once('connection_open', () => { conn.removeAllListeners(); resolve(conn); });
    conn.once('connection_error', (ctx) => fail(`the hub's AMQP endpoint refused the connection: ${ctx.connection.error?.description ?? 'no reason given'}`));
    conn.once('disconnected', (ctx) => {
      const e = ctx.error as Error | undefined;
      fail(e ? unreachable(t, 'AMQP port', e).message : `the hub running on ${t.dataDir} closed the AMQP connection`);
    });
  });
}

/** Closes an AMQP connection: waits (≤ 1 s) for the hub's close, then ends the socket either way. */
export async function amqpClose(conn: Connection): Promise<void> {
  conn.removeAllListeners();
  if (conn.is_open()) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      const done = () => { clearTimeout(t); resolve(); };
      conn.once('connection_close', done);
      conn.once('disconnected', done);
      try { conn.close(); } catch { done(); }
    });
  }
  conn.removeAllListeners();
  conn.on('disconnected', () => {}); // rhea reports the socket's end as an error when no one listens
  (conn as unknown as { socket?: { destroy(): void } }).socket?.destroy();
}

/** Runs a back-end command: usage errors exit 2 with the usage line, no hub or a refusal exits 1. */
export async function runCommand(usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof ServiceUsageError) { console.error(`iothub-wasm hub: ${e.message}\n${usage}`); return 2; }
    if (e instanceof ServiceError) { console.error(`iothub-wasm hub: ${e.message}`); return 1; }
    throw e;
  }
}

/** Waits for Ctrl-C (SIGINT) or SIGTERM, or for `until` to settle; removes its handlers either way. */
export function untilSignal<T>(until?: Promise<T>): Promise<'signal' | T> {
  return new Promise((resolve, reject) => {
    const done = () => { process.off('SIGINT', done); process.off('SIGTERM', done); resolve('signal'); };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    until?.then((v) => { process.off('SIGINT', done); process.off('SIGTERM', done); resolve(v); },
      (e: unknown) => { process.off('SIGINT', done); process.off('SIGTERM', done); reject(e); });
  });
}
