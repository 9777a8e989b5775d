// The `iothub-wasm` package: the device-side API, backed by the WebAssembly core.
export * from './codec/index.js';
export * from './iothub/index.js';
