import { IotHubWasmError } from '../errors.js';

/** A failure of the IoT Hub protocol layer; `code` is the core's status name (BASE64_BAD_CHAR, KEY_EMPTY, ...). */
export class IotHubError extends IotHubWasmError {}

/** A connection string the core refused; `code` is CS_MALFORMED, CS_DUPLICATE_KEY, CS_MISSING_HOSTNAME, ... */
export class ConnectionStringError extends IotHubError {}
