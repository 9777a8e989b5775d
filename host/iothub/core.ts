// The one core instance behind the JavaScript face of the iothub area, created on first use and reused.
// The host only copies bytes in and out of the IO window; every encoding and signing step runs in the core.
import { statelessCore, type Core } from '../wasm/core.js';
import { IotHubError } from './errors.js';

/** The core used by generateSasToken / parseConnectionString / deriveDeviceKey (shared with encodePacket). */
export function iothubCore(): Core {
  return statelessCore();
}

/**
 * Writes strings one after the other into the IO window (UTF-8) and returns [ptr, len] pairs plus the first
 * free offset. Throws BUFFER_TOO_SMALL when they do not fit (the window is a build-time size).
 */
export function place(c: Core, strings: readonly string[]): { args: number[]; free: number } {
  const args: number[] = [];
  let at = c.io;
  for (const s of strings) {
    const n = c.writeIo(at, s);
    if (n < 0) throw new IotHubError('BUFFER_TOO_SMALL', `input does not fit the core's ${c.ioCapacity}-byte IO window`);
    args.push(at, n);
    at += n;
  }
  return { args, free: at };
}

/** Throws the typed error for a negative status. */
export function check(c: Core, status: number, what: string, Err: new (code: string, message: string, status?: number) => Error = IotHubError): number {
  if (status >= 0) return status;
  const code = c.statusName(status);
  throw new Err(code, `${what}: ${describe(code)}`, status);
}

const descriptions: Record<string, string> = {
  BAD_ARGUMENT: 'an argument is out of range',
  BUFFER_TOO_SMALL: "the result does not fit the core's buffer",
  CRYPTO_BASE64_BAD_CHAR: 'the key is not base64 (a character outside A-Z a-z 0-9 + / =)',
  CRYPTO_BASE64_BAD_LENGTH: 'the key is not base64 (its length is not a multiple of 4)',
  CRYPTO_BASE64_BAD_PADDING: "the key is not base64 (misplaced '=' padding)",
  IOTHUB_KEY_EMPTY: 'the key is empty',
  IOTHUB_KEY_TOO_LONG: 'the key decodes to more than 64 bytes',
  IOTHUB_BAD_EXPIRY: 'the expiry is negative',
  IOTHUB_BAD_HOST: 'the host name is empty or holds a character a host name cannot have',
  IOTHUB_ID_EMPTY: 'an id is empty',
  IOTHUB_ID_TOO_LONG: 'an id is longer than 128 characters',
  IOTHUB_ID_BAD_CHAR: "an id holds a character IoT Hub does not allow (ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ ')",
  IOTHUB_ID_NOT_TOPIC_SAFE: "an id holds '+' or '#', which MQTT topics cannot carry",
  IOTHUB_CS_MALFORMED: "a part of the connection string is not Name=Value",
  IOTHUB_CS_DUPLICATE_KEY: 'a name appears twice in the connection string',
  IOTHUB_CS_EMPTY_VALUE: 'a connection string value is empty',
  IOTHUB_CS_MISSING_HOSTNAME: 'the connection string has no HostName',
  IOTHUB_CS_MISSING_DEVICE_ID: 'the connection string has no DeviceId',
  IOTHUB_CS_BAD_KEY: 'SharedAccessKey is not valid base64',
  IOTHUB_CS_MISSING_CREDENTIAL: 'the connection string has neither SharedAccessKey, SharedAccessSignature nor x509=true',
  IOTHUB_CS_KEY_AND_X509: 'the connection string has both SharedAccessKey and x509=true',
  IOTHUB_CS_BAD_X509: 'x509 must be true or false',
};

export function describe(code: string): string { return descriptions[code] ?? code; }
