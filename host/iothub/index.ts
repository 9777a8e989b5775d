// iothub-wasm: the IoT Hub protocol layer's JavaScript face (SAS tokens, connection strings), computed by the core.
export { generateSasToken, deriveDeviceKey, type SasTokenOptions } from './sas.js';
export { parseConnectionString, deviceResourceUri, type ConnectionString } from './connection-string.js';
export { IotHubError, ConnectionStringError } from './errors.js';
