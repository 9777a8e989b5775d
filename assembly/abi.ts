// The gateway build's entry: the whole flat ABI (integers and offsets into linear memory only, so that any
// runtime that can call an export and read/write memory — V8, WAMR, wasm3, a C host on a microcontroller — can
// host the core). Each area exports its own entry points from its abi file; the shared ones (abi_*) are in
// abi-core.ts. Every export is named <area>_<noun>[_<verb>] (abi, mqtt, crypto, iothub, client, dps). The MCU build's
// entry is mcu.ts (what a device needs). See boards/README.md for the contract.

export * from "./abi-core";
export * from "./mqtt/abi";
export * from "./crypto/abi";
export * from "./iothub/abi";
export * from "./client/abi";
export * from "./dps/abi";
