// The `iothub-wasm` package: the device-side API, backed by the WebAssembly core.
export { DeviceClient, TelemetryProperties } from './device/client.js';
export type { DeviceClientOptions, TelemetryOptions, C2DMessage, MethodHandler, MethodResponse, Twin, FromProvisioningOptions, AssignmentStore, WritableAck, WritablePropertyHandler } from './device/client.js';
export { ProvisioningClient, ProvisioningError } from './device/provisioning.js';
export type { ProvisioningOptions, ProvisioningResult } from './device/provisioning.js';
export type { Board, Transport, TransportOptions, TransportHandlers } from './device/board.js';
export { IotHubWasmError } from './errors.js';
export * from './codec/index.js';
export * from './iothub/index.js';
