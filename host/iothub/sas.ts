// SAS tokens and DPS derived keys, computed by the core (encoding, HMAC-SHA256, base64 all in WebAssembly).
import { iothubCore, place, check } from './core.js';
import { IotHubError } from './errors.js';

export interface SasTokenOptions {
  /** The plain resource URI, e.g. `myhub.azure-devices.net/devices/dev-1`; it is percent-encoded here. */
  resourceUri: string;
  /** The base64 key (device key, policy key or DPS enrollment key). */
  key: string;
  /** Expiry in seconds since the Unix epoch. */
  expiry: number | bigint;
  /** Shared access policy name (`skn`); `registration` for DPS device tokens. */
  keyName?: string;
}

function expiryArg(expiry: number | bigint): bigint {
  if (typeof expiry === 'bigint') {
    if (expiry < 0n || expiry > 0x7fffffffffffffffn) throw new IotHubError('IOTHUB_BAD_EXPIRY', `expiry out of range: ${expiry}`);
    return expiry;
  }
  if (typeof expiry !== 'number' || !Number.isSafeInteger(expiry) || expiry < 0) {
    throw new IotHubError('IOTHUB_BAD_EXPIRY', `expiry must be a non-negative integer number of seconds, got ${String(expiry)}`);
  }
  return BigInt(expiry);
}

function str(v: unknown, name: string, required: boolean): string {
  if (v === undefined && !required) return '';
  if (typeof v !== 'string') throw new IotHubError('BAD_ARGUMENT', `${name} must be a string`);
  return v;
}

/**
 * `SharedAccessSignature sr={urlenc uri}&sig={urlenc sig}&se={expiry}[&skn={urlenc keyName}]`, signed with
 * HMAC-SHA256 over `urlenc(uri) + "\n" + expiry`. Throws IotHubError (code CRYPTO_BASE64_*, IOTHUB_KEY_EMPTY, IOTHUB_KEY_TOO_LONG,
 * IOTHUB_BAD_EXPIRY, BAD_ARGUMENT) for bad input.
 */
export function generateSasToken(options: SasTokenOptions): string {
  const c = iothubCore();
  const uri = str(options?.resourceUri, 'resourceUri', true);
  const key = str(options.key, 'key', true);
  const keyName = str(options.keyName, 'keyName', false);
  if (uri.length === 0) throw new IotHubError('BAD_ARGUMENT', 'resourceUri is empty');
  const se = expiryArg(options.expiry);
  const { args, free } = place(c, [uri, key, keyName]);
  const cap = c.io + c.ioCapacity - free;
  const n = check(c, c.exports.iothub_sas_token(args[0], args[1], args[2], args[3], args[4], args[5], se, free, cap), 'cannot create SAS token');
  return c.buf.toString('latin1', free, free + n);
}

/** DPS group enrollment: the device key is base64(HMAC-SHA256(base64decode(groupKey), registrationId)). */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  const c = iothubCore();
  const { args, free } = place(c, [str(groupKey, 'groupKey', true), str(registrationId, 'registrationId', true)]);
  const n = check(c, c.exports.iothub_dps_key_derive(args[0], args[1], args[2], args[3], free, 64), 'cannot derive device key');
  return c.buf.toString('latin1', free, free + n);
}
