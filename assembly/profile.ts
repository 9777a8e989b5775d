// Build-time sizes of the profile being compiled (asconfig.json passes them with `--use NAME=VALUE`).
// Every buffer in the core is one of these: nothing is sized at run time, nothing grows.

/** 1 for the MCU profile (WebAssembly 1.0, one 64 KiB page), 0 for the gateway profile. */
// @ts-ignore: injected by the compiler
export const IS_MCU: bool = PROFILE_MCU != 0;
/** Largest MQTT packet the module accepts from the network (header included). */
// @ts-ignore: injected by the compiler
export const RX_CAPACITY: i32 = RX_SIZE;
/** Largest MQTT packet the module builds for the network (header included). */
// @ts-ignore: injected by the compiler
export const TX_CAPACITY: i32 = TX_SIZE;
/** The host↔core argument window: hosts write inputs here and read outputs from here. */
// @ts-ignore: injected by the compiler
export const IO_CAPACITY: i32 = IO_SIZE;
