// `iothub-wasm hub method invoke`: a direct method called as a back end calls it (REST POST /twins/{id}/methods,
// like `az iot hub invoke-device-method`); prints the device's status and payload as JSON.
import { dataDirOf, jsonArg, parseCommand, rest, runCommand, serviceTarget, ServiceError, ServiceUsageError } from './cli-service.js';
import { METHOD_CONNECT_TIMEOUT, METHOD_RESPONSE_TIMEOUT } from './state/methods.js';

export const METHOD_USAGE = 'usage: iothub-wasm hub method invoke <deviceId> <methodName> [--module <mod>] [--payload <json>] [--timeout <s>]\n' +
  '                                  [--connect-timeout <s>] [--data-dir <dir>]';
const HELP = `${METHOD_USAGE}

Invokes a direct method on a connected device and prints {"status":…,"payload":…} (the device's answer) as JSON.
Exits 1 when the hub answers with an error: 404 DeviceNotOnline (not connected, or not subscribed to methods),
504 GatewayTimeout (no answer within --timeout).
  --payload <json>         the method's payload (default null), e.g. '{"delay":5}' or '"text"'
  --timeout <s>            how long the device has to answer, ${METHOD_RESPONSE_TIMEOUT.min}-${METHOD_RESPONSE_TIMEOUT.max} (default ${METHOD_RESPONSE_TIMEOUT.default})
  --connect-timeout <s>    how long to wait for an offline device to connect, ${METHOD_CONNECT_TIMEOUT.min}-${METHOD_CONNECT_TIMEOUT.max} (default ${METHOD_CONNECT_TIMEOUT.default})`;

function seconds(name: string, raw: string | undefined, range: { min: number; max: number; default: number }): number {
  if (raw === undefined) return range.default;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < range.min || n > range.max) throw new ServiceUsageError(`${name} must be a whole number of seconds from ${range.min} to ${range.max}, not '${raw}'`);
  return n;
}

export function methodMain(argv: string[]): Promise<number> {
  return runCommand(METHOD_USAGE, async () => {
    const { values: v, positionals } = parseCommand(argv, {
      payload: { type: 'string' }, timeout: { type: 'string' }, 'connect-timeout': { type: 'string' }, module: { type: 'string', short: 'm' },
    });
    if (v.help) { console.log(HELP); return 0; }
    const [verb, deviceId, methodName, ...extra] = positionals;
    if (verb !== 'invoke') throw new ServiceUsageError(verb ? `unknown method command '${verb}' (invoke)` : 'method needs a command (invoke)');
    if (!deviceId || !methodName) throw new ServiceUsageError('method invoke needs a device id and a method name');
    if (extra.length) throw new ServiceUsageError(`unexpected argument '${extra[0]}'`);
    const payload = v.payload === undefined ? null : jsonArg('--payload', v.payload, false);
    const responseTimeoutInSeconds = seconds('--timeout', v.timeout, METHOD_RESPONSE_TIMEOUT);
    const connectTimeoutInSeconds = seconds('--connect-timeout', v['connect-timeout'], METHOD_CONNECT_TIMEOUT);
    const target = serviceTarget(dataDirOf(v), 'rest');
    const path = `/twins/${encodeURIComponent(deviceId)}${v.module ? `/modules/${encodeURIComponent(v.module)}` : ''}/methods`;
    const who = `${deviceId}${v.module ? `/${v.module}` : ''}`;
    const r = await rest(target, 'POST', path, { methodName, payload, responseTimeoutInSeconds, connectTimeoutInSeconds },
      (responseTimeoutInSeconds + connectTimeoutInSeconds + 10) * 1000).catch((e: unknown) => {
      const status = (e as { status?: number }).status;
      const hint = status === 404 ? ` (a device answers methods while connected and subscribed to $iothub/methods/POST/#${connectTimeoutInSeconds ? '' : '; --connect-timeout <s> waits for it to connect'})` :
        status === 504 ? ` (the device did not answer within ${responseTimeoutInSeconds} s: --timeout gives it longer)` : '';
      throw new ServiceError(`method ${methodName} on ${who}: ${(e as Error).message}${hint}`);
    });
    const body = r.body as { status?: unknown; payload?: unknown };
    console.log(JSON.stringify({ status: body.status, payload: body.payload ?? null }));
    return 0;
  });
}
