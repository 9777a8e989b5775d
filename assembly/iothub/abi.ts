// Entry points of the iothub area exported through assembly/abi.ts (integers and offsets only).
export function iothub_abi_version(): i32 { return 1; }
