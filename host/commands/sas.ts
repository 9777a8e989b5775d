// `iothub-wasm sas`: print a SAS token.
//   iothub-wasm sas --connection-string CS [--ttl SECONDS | --expiry UNIX]          device or module token
//   iothub-wasm sas --resource URI --key KEY [--key-name NAME] [--ttl | --expiry]  policy / DPS / any resource
//   iothub-wasm sas --key GROUP_KEY --derive-key REGISTRATION_ID                    DPS group-enrollment device key
// Exit codes: 0 printed, 2 bad arguments (message on stderr).
import { parseArgs } from 'node:util';
import { generateSasToken, deriveDeviceKey, parseConnectionString, deviceResourceUri } from '../iothub/index.js';
import { IotHubWasmError } from '../errors.js';

const usage = `usage:
  iothub-wasm sas --connection-string CS [--ttl SECONDS | --expiry UNIX]
  iothub-wasm sas --resource URI --key KEY [--key-name NAME] [--ttl SECONDS | --expiry UNIX]
  iothub-wasm sas --key GROUP_KEY --derive-key REGISTRATION_ID

  --connection-string  a device or module connection string (HostName=…;DeviceId=…;SharedAccessKey=…)
  --resource           the plain resource URI, e.g. myhub.azure-devices.net/devices/dev-1,
                       myhub.azure-devices.net (policy), 0ne00000000/registrations/dev-1 (DPS)
  --key                the base64 key; --key-name the policy name (skn), 'registration' for DPS
  --ttl                seconds from now until the token expires (default 3600)
  --expiry             absolute expiry, seconds since the Unix epoch
  --derive-key         print base64(HMAC-SHA256(GROUP_KEY, REGISTRATION_ID)) for DPS group enrollment`;

class UsageError extends Error {}

function seconds(v: string, name: string): number {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${name} must be a whole number of seconds, got '${v}'`);
  return Number(v);
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        'connection-string': { type: 'string' },
        resource: { type: 'string' },
        key: { type: 'string' },
        'key-name': { type: 'string' },
        ttl: { type: 'string' },
        expiry: { type: 'string' },
        'derive-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) { console.log(usage); return 0; }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const cs = values['connection-string'];
    if (values['derive-key'] !== undefined) {
      if (cs !== undefined || values.resource !== undefined) throw new UsageError('--derive-key takes --key only');
      if (values.key === undefined) throw new UsageError('--derive-key needs --key GROUP_KEY');
      console.log(deriveDeviceKey(values.key, values['derive-key']));
      return 0;
    }
    if (values.ttl !== undefined && values.expiry !== undefined) throw new UsageError('give --ttl or --expiry, not both');
    const expiry = values.expiry !== undefined
      ? seconds(values.expiry, '--expiry')
      : Math.floor(Date.now() / 1000) + (values.ttl !== undefined ? seconds(values.ttl, '--ttl') : 3600);
    let resourceUri: string, key: string, keyName: string | undefined;
    if (cs !== undefined) {
      if (values.resource !== undefined || values.key !== undefined || values['key-name'] !== undefined) {
        throw new UsageError('--connection-string cannot be combined with --resource, --key or --key-name');
      }
      const parsed = parseConnectionString(cs);
      if (!parsed.sharedAccessKey) {
        throw new UsageError(parsed.x509 ? 'the connection string uses X.509 authentication: there is no key to sign a token with'
          : 'the connection string has no SharedAccessKey');
      }
      resourceUri = deviceResourceUri(parsed);
      key = parsed.sharedAccessKey;
      keyName = parsed.sharedAccessKeyName;
    } else {
      if (values.resource === undefined || values.key === undefined) {
        throw new UsageError('give --connection-string, or --resource and --key');
      }
      resourceUri = values.resource;
      key = values.key;
      keyName = values['key-name'];
    }
    console.log(generateSasToken({ resourceUri, key, expiry, keyName }));
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`iothub-wasm sas: ${err.message}\n\n${usage}`);
      return 2;
    }
    if (err instanceof IotHubWasmError) {
      console.error(`iothub-wasm sas: ${err.code}: ${err.message}`);
      return 2;
    }
    const e = err as { code?: string; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
      console.error(`iothub-wasm sas: ${e.message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }
}
