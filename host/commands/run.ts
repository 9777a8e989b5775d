// `iothub-wasm run --connection-string CS [--websocket] [--ca FILE] [--count N] [--interval MS]`: the demo
// thermostat on the WebAssembly core against any IoT Hub, the real one included (TLS 8883, or WSS 443).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DeviceClient } from '../device/client.js';
import { ThermostatFirmware } from '../demo/firmware.js';

const USAGE = `usage: iothub-wasm run --connection-string CS [--websocket] [--ca FILE] [--count N] [--interval MS] [--model-id DTMI]
  Runs the demo thermostat: telemetry every --interval ms (default 5000), twin, desired properties,
  direct methods (getMaxMinReport, reboot) and cloud-to-device messages, until Ctrl-C or --count readings.
  The connection string may carry GatewayHostName=host:port (the local hub prints such strings).`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'connection-string': { type: 'string' }, websocket: { type: 'boolean', default: false }, ca: { type: 'string' },
        count: { type: 'string' }, interval: { type: 'string', default: '5000' }, 'model-id': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    console.error(`iothub-wasm run: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) { console.log(USAGE); return 0; }
  const cs = values['connection-string'] ?? process.env.IOTHUB_DEVICE_CONNECTION_STRING;
  if (!cs) { console.error(`iothub-wasm run: --connection-string is required (or IOTHUB_DEVICE_CONNECTION_STRING)\n${USAGE}`); return 2; }
  const interval = Number(values.interval);
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (!(interval >= 0) || !(count >= 0)) { console.error(`iothub-wasm run: --interval and --count take numbers\n${USAGE}`); return 2; }
  let ca: string | undefined;
  if (values.ca) {
    try { ca = readFileSync(values.ca, 'utf8'); } catch (e) { console.error(`iothub-wasm run: cannot read --ca ${values.ca}: ${(e as Error).message}`); return 2; }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      console.error(`iothub-wasm run: --ca ${values.ca} holds no PEM certificate (-----BEGIN CERTIFICATE-----); for the local hub, pass its data folder's hub.ca`);
      return 2;
    }
  }

  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const client = DeviceClient.fromConnectionString(cs, { ca, transport: values.websocket ? 'wss' : 'mqtts', modelId: values['model-id'] });
  client.on('disconnected', (e: { code: string; retryInMs: number; error: Error }) => {
    if (e.retryInMs >= 0) log(`disconnected: ${e.code}: ${e.error.message}; retrying in ${e.retryInMs} ms`);
  });
  client.on('connected', () => log('connected'));
  client.on('warning', (e: Error) => log(`warning: ${e.message}`));
  const firmware = new ThermostatFirmware(client, log);
  await client.connect();
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
