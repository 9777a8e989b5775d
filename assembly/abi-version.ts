// The version of the ABI (export names and signatures, status/event/option/state numbers, record layouts).
// Bump it with any change to them: boards compare it (IOTHUB_WASM_ABI_VERSION) with abi_version() at start-up.
export const ABI_VERSION: i32 = 4;
