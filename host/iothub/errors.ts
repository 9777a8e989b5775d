import { IotHubWasmError } from '../errors.js';

/** A failure of the IoT Hub protocol layer; `code` is the core's status name (CRYPTO_BASE64_BAD_CHAR, IOTHUB_KEY_EMPTY, ...). */
export class IotHubError extends IotHubWasmError {}

/** A connection string the core refused; `code` is IOTHUB_CS_MALFORMED, IOTHUB_CS_DUPLICATE_KEY, IOTHUB_CS_MISSING_HOSTNAME, ... */
export class ConnectionStringError extends IotHubError {}
