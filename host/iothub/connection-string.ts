// Connection strings parsed by the core; the host only reads the views it returns.
import { iothubCore, place, check } from './core.js';
import { ConnectionStringError } from './errors.js';
import { CONNECTION_STRING_RESULT as R } from '../wasm/abi.generated.js';

export interface ConnectionString {
  hostName: string;
  deviceId: string;
  moduleId?: string;
  sharedAccessKey?: string;
  sharedAccessKeyName?: string;
  gatewayHostName?: string;
  sharedAccessSignature?: string;
  x509?: boolean;
}

/** (pointer offset, length offset, name) of each string field of the core's result. */
const fields = [
  [R.hostPtr, R.hostLen, 'hostName'], [R.devicePtr, R.deviceLen, 'deviceId'], [R.modulePtr, R.moduleLen, 'moduleId'],
  [R.keyPtr, R.keyLen, 'sharedAccessKey'], [R.keyNamePtr, R.keyNameLen, 'sharedAccessKeyName'],
  [R.gatewayPtr, R.gatewayLen, 'gatewayHostName'], [R.sasPtr, R.sasLen, 'sharedAccessSignature'],
] as const;

/**
 * Parses `HostName=…;DeviceId=…[;ModuleId=…];SharedAccessKey=…` (or x509=true, SharedAccessSignature=…).
 * Throws ConnectionStringError with code IOTHUB_CS_MALFORMED, IOTHUB_CS_DUPLICATE_KEY, IOTHUB_CS_EMPTY_VALUE, IOTHUB_CS_MISSING_HOSTNAME,
 * IOTHUB_CS_MISSING_DEVICE_ID, IOTHUB_CS_BAD_KEY, IOTHUB_CS_MISSING_CREDENTIAL, IOTHUB_CS_KEY_AND_X509, IOTHUB_CS_BAD_X509, IOTHUB_ID_*, IOTHUB_BAD_HOST, IOTHUB_KEY_TOO_LONG.
 */
export function parseConnectionString(cs: string): ConnectionString {
  if (typeof cs !== 'string') throw new ConnectionStringError('BAD_ARGUMENT', 'the connection string must be a string');
  const c = iothubCore();
  const { args } = place(c, [cs]);
  check(c, c.exports.iothub_connection_string_parse(args[0], args[1]), 'invalid connection string', ConnectionStringError);
  const res = c.exports.iothub_connection_string_result_ptr();
  const out: Record<string, unknown> = {};
  for (const [ptr, lenAt, name] of fields) {
    const len = c.i32(res + lenAt);
    if (len >= 0) out[name] = c.utf8(c.u32(res + ptr), len);
  }
  if (c.i32(res + R.x509) === 1) out.x509 = true;
  return out as unknown as ConnectionString;
}

/** The plain resource URI a device or module token signs: `{host}/devices/{id}[/modules/{mod}]`. */
export function deviceResourceUri(cs: Pick<ConnectionString, 'hostName' | 'deviceId' | 'moduleId'>): string {
  return `${cs.hostName}/devices/${cs.deviceId}${cs.moduleId ? `/modules/${cs.moduleId}` : ''}`;
}
