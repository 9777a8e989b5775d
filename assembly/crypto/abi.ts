// Entry points of the crypto area exported through assembly/abi.ts (integers and offsets only).
export function crypto_abi_version(): i32 { return 1; }
