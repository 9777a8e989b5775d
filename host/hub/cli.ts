// `iothub-wasm hub …`: run the local IoT Hub, and manage its devices.
import { parseArgs } from 'node:util';
import { resolve as resolvePath } from 'node:path';
import { DEFAULT_DATA_DIR, WEBSOCKET_PATH } from './paths.js';
import type { LocalHub, LocalHubOptions } from './hub.js';
import { HubError } from './errors.js';
import { Registry } from './state/registry.js';
import { createSasToken } from './auth/sas.js';
import { runningHub } from './running.js';
import { Policies } from './service/policies.js';
import { LockError } from './state/store.js';
import { DEFAULT_DPS_PORT, DPS_USAGE, DpsUsageError, dpsMain } from './cli-dps.js';
import { CA_USAGE, CaUsageError, caMain } from './cli-ca.js';

/** The back-end commands (they talk to the hub running on the data folder), each its own module, loaded on demand. */
const SERVICE_COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  monitor: async () => (await import('./cli-monitor.js')).monitorMain,
  c2d: async () => (await import('./cli-c2d.js')).c2dMain,
  method: async () => (await import('./cli-method.js')).methodMain,
  twin: async () => (await import('./cli-twin.js')).twinMain,
  dashboard: async () => (await import('./cli-dashboard.js')).dashboardMain,
};

const SERVICE_USAGE = `       iothub-wasm hub monitor [--device <id>] [--json]    telemetry as it arrives, with its properties
       iothub-wasm hub dashboard                          a new one-time sign-in link to the web dashboard
       iothub-wasm hub c2d send <deviceId> <body> [--property k=v]… [--ack none|positive|negative|full]
                                  [--message-id <id>] [--wait <s>]
       iothub-wasm hub method invoke <deviceId> <methodName> [--payload <json>] [--timeout <s>]
       iothub-wasm hub twin show <deviceId> | twin update <deviceId> [--desired <json>] [--tags <json>]
                                  (these talk to the hub running on --data-dir; each has --help)`;

const USAGE = `usage: iothub-wasm hub [run] [options]          run the local IoT Hub (Ctrl-C stops it)
       iothub-wasm hub device add <id> [--module <mod>] [--primary-key <k>] [--secondary-key <k>]
                                  [--x509-thumbprint <sha1|sha256> [--x509-thumbprint <secondary>] | --ca-signed]
       iothub-wasm hub device list [<id>]               devices (connected since when, while a hub runs), or a device's modules
       iothub-wasm hub device show <id> [--module <mod>] [--sas-ttl <seconds>]
       iothub-wasm hub device remove <id> [--module <mod>]
       iothub-wasm hub policy [<name>]                  shared access policies and service connection strings
${CA_USAGE}
${DPS_USAGE}
${SERVICE_USAGE}

options:
  --port <n>         TLS port for MQTT and MQTT over WebSocket (${WEBSOCKET_PATH}); default 8883, 0 = any free port
  --plain [<n>]      also listen without TLS (default port 1883)
  --ws-port <n>      an extra TLS port for WebSocket clients that insist on one (e.g. 443)
  --amqp-port <n>    AMQP 1.0 service endpoint (azure-iothub, @azure/event-hubs, rhea); default 5671, 'off' disables
  --rest-port <n>    HTTPS REST service API + AMQP/MQTT over WebSocket; default 443 (falls back to 8443 when 443
                     cannot be bound), 'off' disables; also the DPS's provisioning service API
  --dps-port <n>     the local Device Provisioning Service's MQTT (TLS) endpoint; default ${DEFAULT_DPS_PORT}, 'off' disables
  --dps-plain-port <n>  also serve the DPS without TLS (symmetric keys only)
  --bind <address>   listen on this address instead of loopback (127.0.0.1 and ::1); 0.0.0.0 or :: exposes
                     the hub, and the device keys it holds, to the network (it warns)
  --host-name <name> the hub's name in connection strings and SAS tokens (default localhost)
  --data-dir <dir>   registry, policies, twins, queued C2D and TLS material, private to you (default
                     ./${DEFAULT_DATA_DIR}); one hub per folder, device commands may run while it does
  --retention <spec> what the Event Hub-compatible endpoint keeps per partition, e.g. 24h,10000,64MiB: any of
                     an age (h), a count of events, a size (MiB); default 24h,10000,64MiB
  --max-connections <n>  connections each listener holds at once (default 10000; each costs ~30 KiB in the hub)
  --no-dashboard     no web dashboard on the REST port (default: on, its one-time sign-in link printed below)
  --quiet            no log (the log goes to stderr)
  --json             machine-readable output for device commands
  -h, --help         this help`;

function fail(msg: string): number {
  console.error(`iothub-wasm hub: ${msg}`);
  return 2;
}

function portOf(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${name} must be a port number (0-65535), not '${v}'`);
  return n;
}

/** A whole number of at least 1, or a usage error naming the flag. */
function countOf(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new UsageError(`${name} must be a whole number from 1 to 1000000, not '${v}'`);
  return n;
}

class UsageError extends Error {}

/** `--retention 24h,10000,64MiB`: any of an age in hours, a count of events and a size in MiB, per partition. */
export function retentionOf(spec: string): Pick<LocalHubOptions, 'retentionHours' | 'retentionMaxEvents' | 'retentionMaxBytes'> {
  const out: Pick<LocalHubOptions, 'retentionHours' | 'retentionMaxEvents' | 'retentionMaxBytes'> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+(?:\.\d+)?)(h|mib)?$/i.exec(part);
    const n = m ? Number(m[1]) : NaN;
    const unit = m?.[2]?.toLowerCase();
    if (!m || !(n > 0)) throw new UsageError(`--retention: '${part}' is not an age (24h), a count of events (10000) or a size (64MiB)`);
    if (unit === 'h') out.retentionHours = n;
    else if (unit === 'mib') out.retentionMaxBytes = Math.round(n * 1024 * 1024);
    else if (Number.isInteger(n)) out.retentionMaxEvents = n;
    else throw new UsageError(`--retention: a count of events is a whole number, not '${part}'`);
  }
  return out;
}

/** The sub-command word (`monitor`, `device`, …), wherever the options before it put it. */
function commandWord(argv: string[]): string | undefined {
  const strings = ['port', 'ws-port', 'amqp-port', 'rest-port', 'dps-port', 'dps-plain-port', 'bind', 'host-name', 'data-dir', 'retention', 'module',
    'device', 'property', 'ack', 'message-id', 'wait', 'payload', 'timeout', 'connect-timeout', 'desired', 'tags'];
  try {
    return parseArgs({ args: argv, strict: false, allowPositionals: true, options: Object.fromEntries(strings.map((k) => [k, { type: 'string' as const }])) }).positionals[0];
  } catch {
    return undefined;
  }
}

/** The device commands' lines of USAGE (with their continuation lines), for `hub device … --help`. */
function deviceUsage(): string {
  const lines: string[] = [];
  let keep = false;
  for (const l of USAGE.split('\n')) {
    if (/^(usage:)?\s+iothub-wasm hub /.test(l)) keep = l.includes('hub device ');
    else if (!/^\s{20,}\S/.test(l)) keep = false;
    if (keep) lines.push(l.replace(/^usage: |^ {7}/, '       '));
  }
  return `usage:${lines.join('\n').slice(6)}\n\noptions: --data-dir <dir> (default ${DEFAULT_DATA_DIR}), --json`;
}

export async function main(argv: string[]): Promise<number> {
  const word = commandWord(argv);
  if (word && Object.hasOwn(SERVICE_COMMANDS, word)) {
    const i = argv.indexOf(word);
    return (await SERVICE_COMMANDS[word]!())([...argv.slice(0, i), ...argv.slice(i + 1)]);
  }
  // `--plain` takes an optional value: turn a bare `--plain` into `--plain=1883`
  const args = argv.map((a, i) => (a === '--plain' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('-') || !/^\d+$/.test(argv[i + 1]!)) ? '--plain=1883' : a));
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        port: { type: 'string' },
        plain: { type: 'string' },
        'ws-port': { type: 'string' },
        'amqp-port': { type: 'string' },
        'rest-port': { type: 'string' },
        'dps-port': { type: 'string' },
        'dps-plain-port': { type: 'string' },
        'initial-twin': { type: 'string' },
        'device-id': { type: 'string' },
        'registration-id': { type: 'string' },
        disabled: { type: 'boolean' },
        bind: { type: 'string' },
        'max-connections': { type: 'string' },
        'host-name': { type: 'string' },
        'data-dir': { type: 'string' },
        retention: { type: 'string' },
        module: { type: 'string', short: 'm' },
        'primary-key': { type: 'string' },
        'secondary-key': { type: 'string' },
        'x509-thumbprint': { type: 'string', multiple: true },
        'ca-signed': { type: 'boolean' },
        verified: { type: 'boolean' },
        cert: { type: 'string' },
        'sas-ttl': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        'no-dashboard': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail(`${(e as Error).message}\n\n${USAGE}`);
  }
  const { values: v, positionals: pos } = parsed;
  if (v.help) {
    // `hub device … --help`: the device commands, not the whole hub
    if (pos[0] === 'device') console.log(deviceUsage());
    else console.log(USAGE);
    return 0;
  }
  const dataDir = resolvePath(v['data-dir'] ?? DEFAULT_DATA_DIR);
  const hostName = v['host-name'] ?? 'localhost';
  try {
    const port = portOf('--port', v.port, 8883);
    const [cmd = 'run', sub, id, ...extra] = pos;
    if (cmd === 'run' && pos.length <= 1) return await run(v, port, dataDir, hostName);
    if (cmd === 'policy' || cmd === 'policies') {
      const policies = new Policies(dataDir, hostName);
      for (const p of policies.list()) {
        if (sub && p.keyName !== sub) continue;
        console.log(`${p.keyName} (${p.rights.join(', ')})`);
        console.log(`  ${policies.connectionString(p.keyName)}`);
      }
      console.log(`(keys in ${resolvePath(dataDir, 'policies.json')}, the file the hub reads)`);
      return 0;
    }
    if (cmd === 'dps') return await dpsMain(v, pos.slice(1), dataDir, hostName);
    if (cmd === 'ca') return await caMain(v, pos.slice(1), dataDir);
    if (cmd !== 'device' && cmd !== 'devices') return fail(`unknown sub-command '${pos.join(' ')}'\n\n${USAGE}`);
    if (extra.length) return fail(`unexpected argument '${extra[0]}'`);
    const registry = new Registry(dataDir, hostName);
    // Connection strings reach the hub running on this folder, wherever it listens; with none, the --port given.
    const running = runningHub(dataDir);
    registry.gatewayHostName = running ? running.gatewayHostName : port === 8883 && hostName === 'localhost' ? undefined : `localhost:${port}`;
    const json = !!v.json;
    const moduleId = v.module;
    switch (sub) {
      case 'add': {
        if (!id) return fail('device add needs a device id');
        const thumbprints = (v['x509-thumbprint'] ?? []) as string[];
        const addOptions = {
          ...(v['primary-key'] ? { primaryKey: v['primary-key'] } : {}),
          ...(v['secondary-key'] ? { secondaryKey: v['secondary-key'] } : {}),
          ...(thumbprints.length ? { x509: { primaryThumbprint: thumbprints[0]!, ...(thumbprints[1] ? { secondaryThumbprint: thumbprints[1] } : {}) } } : {}),
          ...(v['ca-signed'] ? { certificateAuthority: true } : {}),
        };
        const info = moduleId ? await registry.addModule(id, moduleId, addOptions) : await registry.addDevice(id, addOptions);
        await registry.flush();
        if (json) console.log(JSON.stringify(info, null, 2));
        else {
          console.log(`added ${moduleId ? `module ${id}/${moduleId}` : `device ${id}`} (in ${dataDir})`);
          console.log(info.connectionString);
          console.log(running ? `  the hub running on this folder (pid ${running.pid}, ${running.gatewayHostName}) accepts it now` :
            `  no hub is running on this folder: one started with --data-dir ${dataDir} will accept it`);
        }
        return 0;
      }
      case 'list':
      case undefined: {
        const list = registry.list(id);
        if (id && !registry.get(id)) return fail(`device '${id}' does not exist`);
        const states = await connectionStates(dataDir, id);
        const stateOf = (d: { deviceId: string; moduleId?: string }) => states?.get(d.moduleId ? `${d.deviceId}/${d.moduleId}` : d.deviceId);
        if (json) {
          console.log(JSON.stringify(list.map((d) => ({ ...d, ...(states ? { connectionState: stateOf(d)?.state ?? 'Disconnected', connectionStateUpdatedTime: stateOf(d)?.since ?? null } : {}) })), null, 2));
          return 0;
        }
        if (list.length === 0) { console.log(id ? `device '${id}' has no modules` : `no devices yet (in ${dataDir}); add one with: iothub-wasm hub device add <id>`); return 0; }
        for (const d of list) {
          const mods = d.moduleId ? '' : registry.list(d.deviceId).map((m) => m.moduleId).join(', ');
          const st = stateOf(d);
          const conn = !states ? '' : st?.state === 'Connected' ? `  connected${st.since ? ` since ${st.since}` : ''}` :
            `  disconnected${st?.since ? ` since ${st.since}` : ''}`;
          console.log(`${d.moduleId ? `${d.deviceId}/${d.moduleId}` : d.deviceId}${d.status === 'enabled' ? '' : ` (${d.status})`}${conn}${mods ? `  modules: ${mods}` : ''}`);
          console.log(`  ${d.connectionString}`);
        }
        if (!states) console.log(running ? `(the hub running on this folder has no REST API: connection states unknown)` : `(no hub is running on this folder: nothing is connected)`);
        return 0;
      }
      case 'show': {
        if (!id) return fail('device show needs a device id');
        const d = registry.get(id, moduleId);
        if (!d) return fail(`${moduleId ? `module '${id}/${moduleId}'` : `device '${id}'`} does not exist (see: iothub-wasm hub device list)`);
        const ttl = v['sas-ttl'] ? Number(v['sas-ttl']) : 3600;
        if (!(ttl > 0)) return fail('--sas-ttl must be a positive number of seconds');
        const resource = `${hostName}/devices/${id}${moduleId ? `/modules/${moduleId}` : ''}`;
        const expiry = Math.floor(Date.now() / 1000) + Math.floor(ttl);
        const token = createSasToken(resource, d.primaryKey, expiry);
        const out = { ...d, sasToken: token, sasExpiry: new Date(expiry * 1000).toISOString(), username: `${hostName}/${id}${moduleId ? `/${moduleId}` : ''}/?api-version=2021-04-12`, caFile: resolvePath(dataDir, 'tls', 'ca.pem') };
        if (json) { console.log(JSON.stringify(out, null, 2)); return 0; }
        console.log(`${moduleId ? 'module' : 'device'}     ${id}${moduleId ? `/${moduleId}` : ''} (${d.status}, created ${d.createdAt})`);
        console.log(`primary    ${d.primaryKey}`);
        console.log(`secondary  ${d.secondaryKey}`);
        console.log(`connection ${d.connectionString}`);
        console.log(`username   ${out.username}`);
        console.log(`SAS token  ${token}`);
        console.log(`           (valid until ${out.sasExpiry})`);
        console.log(`trust      ${out.caFile}`);
        return 0;
      }
      case 'remove': {
        if (!id) return fail('device remove needs a device id');
        const ok = await registry.remove(id, moduleId);
        await registry.flush();
        if (!ok) return fail(`${moduleId ? `module '${id}/${moduleId}'` : `device '${id}'`} does not exist`);
        console.log(`removed ${moduleId ? `module ${id}/${moduleId}` : `device ${id}`}`);
        return 0;
      }
      default:
        return fail(`unknown device command '${sub}' (add, list, show, remove)`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof DpsUsageError || e instanceof CaUsageError || e instanceof HubError || e instanceof LockError) return fail(e.message);
    throw e;
  }
}

/**
 * Who is connected to the hub running on `dataDir`, and since when, as its REST API says (`dev` or `dev/mod` →
 * state and ISO time); undefined when no hub with a REST API runs there.
 */
async function connectionStates(dataDir: string, deviceId?: string): Promise<Map<string, { state: string; since: string | undefined }> | undefined> {
  const running = runningHub(dataDir);
  if (!running?.restPort) return undefined;
  try {
    const { rest, serviceTarget } = await import('./cli-service.js'); // rhea and the HTTPS client: only here
    const target = serviceTarget(dataDir, 'rest');
    const r = await rest(target, 'GET', deviceId ? `/devices/${encodeURIComponent(deviceId)}/modules` : '/devices');
    const out = new Map<string, { state: string; since: string | undefined }>();
    for (const d of (Array.isArray(r.body) ? r.body : []) as { deviceId: string; moduleId?: string; connectionState?: string; connectionStateUpdatedTime?: string }[]) {
      const since = d.connectionStateUpdatedTime && !d.connectionStateUpdatedTime.startsWith('0001-') ? d.connectionStateUpdatedTime : undefined;
      out.set(d.moduleId ? `${d.deviceId}/${d.moduleId}` : d.deviceId, { state: d.connectionState ?? 'Disconnected', since });
    }
    return out;
  } catch (e) {
    if (e instanceof (await import('./cli-service.js')).ServiceError) { console.error(`iothub-wasm hub: ${e.message}`); return undefined; }
    throw e;
  }
}

async function run(v: Record<string, string | string[] | boolean | undefined>, port: number, dataDir: string, hostName: string): Promise<number> {
  const plainPort: number | false = typeof v['plain'] === 'string' ? portOf('--plain', v['plain'], 1883) : false;
  const wsPort: number | false = typeof v['ws-port'] === 'string' ? portOf('--ws-port', v['ws-port'], 443) : false;
  const amqpPort: number | false = v['amqp-port'] === 'off' ? false : portOf('--amqp-port', v['amqp-port'] as string | undefined, 5671);
  const restDefault = v['rest-port'] === undefined;
  const restPort = v['rest-port'] === 'off' ? false : portOf('--rest-port', v['rest-port'] as string | undefined, 443);
  const dpsPort: number | false = v['dps-port'] === 'off' ? false : portOf('--dps-port', v['dps-port'] as string | undefined, DEFAULT_DPS_PORT);
  const base: LocalHubOptions = {
    port, plainPort, wsPort, hostName, dataDir, amqpPort, dpsPort,
    ...(typeof v['dps-plain-port'] === 'string' ? { dpsPlainPort: portOf('--dps-plain-port', v['dps-plain-port'], 0) } : {}),
    ...(typeof v['bind'] === 'string' ? { bindAddress: v['bind'] } : {}),
    ...(typeof v['max-connections'] === 'string' ? { maxConnections: countOf('--max-connections', v['max-connections']) } : {}),
    log: v['quiet'] ? false : true,
    ...(v['no-dashboard'] ? { dashboard: false } : {}),
    ...(typeof v['retention'] === 'string' ? retentionOf(v['retention']) : {}),
  };
  const { LocalHub } = await import('./hub.js'); // the broker and every listener: only to run the hub
  let hub: LocalHub;
  try {
    hub = await LocalHub.start({ ...base, restPort });
  } catch (e) {
    if (!(restDefault && /permission to listen on port 443/.test((e as Error).message))) throw e;
    console.error('iothub-wasm hub: no permission to bind 443 (the service SDK\'s HTTPS port); REST falls back to 8443.\n' +
      '  To allow 443 for a normal user: sudo setcap cap_net_bind_service=+ep "$(command -v node)"\n' +
      '  or redirect: sudo iptables -t nat -A OUTPUT -o lo -p tcp --dport 443 -j REDIRECT --to-port 8443');
    hub = await LocalHub.start({ ...base, restPort: 8443 });
  }
  const devices = hub.registry.list();
  const bind = typeof v['bind'] === 'string' ? v['bind'].toLowerCase().replace(/^\[|\]$/g, '') : undefined;
  // 127.0.0.0/8, ::1 and localhost do not expose the hub; anything else does
  const loopback = bind === undefined || bind === 'localhost' || bind === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bind);
  if (!loopback) {
    console.error(`iothub-wasm hub: warning: listening on ${bind}: the hub is reachable from the network, and it holds every\n` +
      `  device's keys (${dataDir}). It is a development hub: expose it only on a network you trust.`);
  }
  console.log(`local IoT Hub '${hub.hostName}' running`);
  console.log(`  mqtts://localhost:${hub.port}   wss://localhost:${hub.port}${WEBSOCKET_PATH}` +
    (hub.plainPort ? `   mqtt://localhost:${hub.plainPort} (plain)` : '') + (hub.wsPort ? `   wss://localhost:${hub.wsPort}${WEBSOCKET_PATH}` : ''));
  const caFile = resolvePath(dataDir, 'tls', 'ca.pem');
  console.log(`  trust ${caFile}`);
  if (hub.amqpPort) console.log(`  amqps://localhost:${hub.amqpPort} (service AMQP: C2D, feedback, Event Hub-compatible events)`);
  if (hub.restPort) console.log(`  https://localhost:${hub.restPort} (REST: devices, twins, methods; AMQP over WebSocket at /$servicebus/websocket)`);
  if (hub.amqpPort || hub.restPort) {
    console.log(`  service connection string (azure-iothub):`);
    console.log(`    ${hub.serviceConnectionString('iothubowner')}`);
    if (hub.restPort && hub.restPort !== 443) console.log('    (HTTPS calls of azure-iothub (Registry, twins, methods) always go to port 443: see the note above)');
    if (hub.amqpPort) {
      console.log(`  Event Hub-compatible connection string (@azure/event-hubs):`);
      console.log(`    ${hub.eventHubConnectionString('iothubowner')}`);
      console.log(`    (pass customEndpointAddress: 'sb://localhost:${hub.amqpPort}' when the port is not 5671)`);
    }
    console.log(`  the service SDKs have no CA option: start them with NODE_EXTRA_CA_CERTS=${caFile}`);
    console.log(`    (Node reads it at process start; without it they retry for minutes instead of failing)`);
    console.log(`  other policies: ${hub.policies.list().map((p) => p.keyName).join(', ')} (keys in ${resolvePath(dataDir, 'policies.json')})`);
  }
  const dashboard = hub.dashboardUrl();
  if (dashboard) console.log(`  dashboard: ${dashboard}\n    (the link signs one browser in, once; or sign in there with the service connection string)`);
  if (hub.dps) {
    console.log(`  DPS: mqtts://localhost:${hub.dps.port} id scope ${hub.dps.idScope} (provisioning host localhost:${hub.dps.port}; devices are assigned to ${hub.assignedHub()})`);
    if (hub.dps.plainPort) console.log(`    also mqtt://localhost:${hub.dps.plainPort} (plain, symmetric keys only)`);
    console.log(`    enrollments: iothub-wasm hub dps enrollment add <registrationId> | group add <groupId>  (${hub.dps.listEnrollments().length} enrollment(s), ${hub.dps.listGroups().length} group(s))`);
    if (hub.restPort) console.log(`    provisioning service connection string (azure-iot-provisioning-service, on the REST port): ${hub.dpsServiceConnectionString()}`);
  }
  if (devices.length === 0) console.log('  no devices yet: iothub-wasm hub device add <id>  (in another terminal; the running hub picks it up)');
  for (const d of devices) console.log(`  ${d.deviceId}: ${d.connectionString}`);
  await new Promise<void>((resolve) => {
    const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await hub.stop();
  return 0;
}
