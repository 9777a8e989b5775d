// `iothub-wasm run --connection-string CS [--websocket] [--ca FILE] [--count N] [--interval MS]`: the demo
// thermostat on the WebAssembly core against any IoT Hub, the real one included (TLS 8883, or WSS 443).
// With --id-scope and --registration-id instead of a connection string, the device first registers with the
// Device Provisioning Service (the real one, or the local hub's) and then connects to the hub it is assigned.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DATA_DIR as HUB_DATA_DIR } from '../hub/paths.js';
import type { DeviceClient } from '../device/client.js';
import type { ProvisioningError } from '../device/provisioning.js';

const USAGE = `usage: iothub-wasm run --connection-string CS [--websocket] [--ca FILE | --hub-data-dir DIR] [--count N] [--interval MS] [--model-id DTMI]
       iothub-wasm run --id-scope SCOPE --registration-id ID (--symmetric-key K | --group-key K | --cert FILE --key FILE)
                       [--provisioning-host HOST[:PORT]] [--provisioning-port PORT] [--gateway-host-name HOST:PORT] [...]
  Runs the demo thermostat: telemetry every --interval ms (default 5000), twin, desired properties,
  direct methods (getMaxMinReport, reboot) and cloud-to-device messages, until Ctrl-C or --count readings.
  The connection string may carry GatewayHostName=host:port (the local hub prints such strings).
  With --id-scope the device registers with the Device Provisioning Service first (default host
  global.azure-devices-provisioning.net; the local hub's DPS: --provisioning-host localhost --provisioning-port P)
  and connects to the hub it is assigned (--gateway-host-name reaches it at another address, e.g. the local hub's).
  --model-id also goes into the registration payload. --cert/--key: the device's X.509 certificate (PEM files).
  --ca FILE: the CA to trust (PEM). Without it, a hub on this machine (localhost, 127.x, ::1) is trusted through
  the CA of the local hub's data folder, --hub-data-dir DIR (default ./.iothub-wasm, as for iothub-wasm hub);
  any other hub through the system's CAs.`;


/** Whether `host` (a name or address, with or without :port or [ ]) is this machine. */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']'));
  else if (isIP(h) !== 6 && h.includes(':')) h = h.slice(0, h.lastIndexOf(':'));
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'connection-string': { type: 'string' }, websocket: { type: 'boolean', default: false }, ca: { type: 'string' },
        count: { type: 'string' }, interval: { type: 'string', default: '5000' }, 'model-id': { type: 'string' },
        'id-scope': { type: 'string' }, 'registration-id': { type: 'string' }, 'symmetric-key': { type: 'string' },
        'group-key': { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, 'provisioning-host': { type: 'string' },
        'provisioning-port': { type: 'string' }, 'gateway-host-name': { type: 'string' }, 'hub-data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    console.error(`iothub-wasm run: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.log(USAGE); return 0; }
  const provisioned = values['id-scope'] !== undefined || values['registration-id'] !== undefined;
  const cs = values['connection-string'] ?? (provisioned ? undefined : process.env.IOTHUB_DEVICE_CONNECTION_STRING);
  if (!cs && !provisioned) { console.error(`iothub-wasm run: --connection-string is required (or IOTHUB_DEVICE_CONNECTION_STRING), or --id-scope and --registration-id\n${USAGE}`); return 2; }
  if (cs && provisioned) { console.error(`iothub-wasm run: give either --connection-string or --id-scope/--registration-id, not both\n${USAGE}`); return 2; }
  if (provisioned) {
    if (!values['id-scope'] || !values['registration-id']) { console.error(`iothub-wasm run: --id-scope and --registration-id go together\n${USAGE}`); return 2; }
    const credentials = [values['symmetric-key'], values['group-key'], values.cert].filter((v) => v !== undefined).length;
    if (credentials !== 1 || (values.cert === undefined) !== (values.key === undefined)) {
      console.error(`iothub-wasm run: give one of --symmetric-key, --group-key, or --cert with --key\n${USAGE}`);
      return 2;
    }
  }
  const port = values['provisioning-port'] === undefined ? undefined : Number(values['provisioning-port']);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) { console.error(`iothub-wasm run: --provisioning-port takes a port number\n${USAGE}`); return 2; }
  const interval = Number(values.interval);
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (!(interval >= 0) || !(count >= 0)) { console.error(`iothub-wasm run: --interval and --count take numbers\n${USAGE}`); return 2; }
  const files: Record<string, string | undefined> = {};
  for (const name of ['ca', 'cert', 'key'] as const) {
    const path = values[name];
    if (path === undefined) continue;
    try { files[name] = readFileSync(path, 'utf8'); } catch (e) { console.error(`iothub-wasm run: cannot read --${name} ${path}: ${(e as Error).message}`); return 2; }
    if (name !== 'key' && !files[name]!.includes('-----BEGIN CERTIFICATE-----')) {
      console.error(`iothub-wasm run: --${name} ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)${name === 'ca' ? `; for the local hub, pass its data folder's tls/ca.pem (${join(HUB_DATA_DIR, 'tls', 'ca.pem')})` : ''}`);
      return 2;
    }
  }
  const { cert, key } = files;
  let { ca } = files;

  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  // the device client and the core load once the arguments are known good: `run --help` stays instant
  const [{ DeviceClient }, { ThermostatFirmware }, { parseConnectionString }] = await Promise.all([
    import('../device/client.js'), import('../demo/firmware.js'), import('../iothub/connection-string.js')]);
  // Which CA: --ca; else, for a hub on this machine, the local hub's (its data folder's tls/ca.pem); else the system's.
  if (values.ca !== undefined) log(`trusting the CA in ${resolvePath(values.ca)} (--ca)`);
  else {
    let target: string | undefined;
    try {
      const parsed = cs ? parseConnectionString(cs) : undefined;
      target = values['gateway-host-name'] ?? parsed?.gatewayHostName ?? parsed?.hostName ?? values['provisioning-host'];
    } catch { target = undefined; } // a bad connection string: fromConnectionString below says what is wrong
    const caFile = resolvePath(values['hub-data-dir'] ?? HUB_DATA_DIR, 'tls', 'ca.pem');
    if (target !== undefined && isLoopbackHost(target) && existsSync(caFile)) {
      try { ca = readFileSync(caFile, 'utf8'); } catch (e) { console.error(`iothub-wasm run: cannot read the local hub's CA ${caFile}: ${(e as Error).message}`); return 2; }
      log(`trusting the local hub's CA ${caFile} (no --ca given; ${target} is this machine)`);
    } else if (values['hub-data-dir'] !== undefined) {
      console.error(`iothub-wasm run: --hub-data-dir ${values['hub-data-dir']}: ${existsSync(caFile) ? `${target ?? 'the hub'} is not on this machine; give its CA with --ca` : `no CA at ${caFile} (has a hub run on that folder?)`}`);
      return 2;
    } else log(`trusting the system's CAs${target !== undefined && isLoopbackHost(target) ? ` (no --ca given, and no local hub's CA at ${caFile})` : ''}`);
  }
  const common = {
    ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    transport: values.websocket ? 'wss' as const : 'mqtts' as const,
    ...(values['model-id'] ? { modelId: values['model-id'] } : {}),
    ...(values['gateway-host-name'] ? { gatewayHostName: values['gateway-host-name'] } : {}),
  };
  let client: DeviceClient;
  if (cs) {
    client = DeviceClient.fromConnectionString(cs, common);
  } else {
    log(`registering ${values['registration-id']} with the provisioning service (id scope ${values['id-scope']})`);
    try {
      client = await DeviceClient.fromProvisioning({
        ...common,
        idScope: values['id-scope']!, registrationId: values['registration-id']!,
        ...(values['symmetric-key'] !== undefined ? { symmetricKey: values['symmetric-key'] } : {}),
        ...(values['group-key'] !== undefined ? { groupKey: values['group-key'] } : {}),
        ...(values['provisioning-host'] !== undefined ? { provisioningHost: values['provisioning-host'] } : {}),
        ...(port !== undefined ? { port } : {}),
      });
    } catch (e) {
      const err = e as ProvisioningError;
      console.error(`iothub-wasm run: ${err.code ? `${err.code}: ` : ''}${err.message}`);
      return 1;
    }
    log(`assigned to ${client.provisioning!.assignedHub} as ${client.provisioning!.deviceId}`);
  }
  client.on('disconnected', (e: { code: string; retryInMs: number; error: Error }) => {
    if (e.retryInMs >= 0) log(`disconnected: ${e.code}: ${e.error.message}; retrying in ${e.retryInMs} ms`);
  });
  client.on('connected', () => log('connected'));
  client.on('warning', (e: Error) => log(`warning: ${e.message}`));
  const firmware = new ThermostatFirmware(client, log);
  await client.connect(); // already connected when provisioned: resolves at once
  log(`twin reported at $version ${await firmware.reportStartup()}`);

  let stop = false;
  process.once('SIGINT', () => { stop = true; });
  for (let seq = 0; seq < count && !stop; seq++) {
    const reading = firmware.reading(seq);
    try {
      await client.sendTelemetry(reading, { messageId: `reading-${seq}`, contentType: 'application/json', contentEncoding: 'utf-8' });
      log(`telemetry ${JSON.stringify(reading)} acknowledged`);
    } catch (e) {
      log(`telemetry failed: ${(e as Error).message}`);
    }
    if (seq + 1 < count) await new Promise((r) => setTimeout(r, interval));
  }
  await firmware.lastReport;
  await client.close();
  return 0;
}
