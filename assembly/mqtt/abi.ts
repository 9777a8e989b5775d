// Entry points of the mqtt area exported through assembly/abi.ts (integers and offsets only).
export function mqtt_abi_version(): i32 { return 1; }
