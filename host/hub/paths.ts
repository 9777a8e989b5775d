// The hub's fixed names, in a module of their own so that the command line can print its help without loading
// the broker (hub.ts re-exports them).
export const WEBSOCKET_PATH = '/$iothub/websocket';
export const DEFAULT_DATA_DIR = '.iothub-wasm';
