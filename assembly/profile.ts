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
/** Bytes kept for telemetry and other outgoing messages awaiting their turn or their PUBACK. */
// @ts-ignore: injected by the compiler
export const OUTBOX_CAPACITY: i32 = OUTBOX_SIZE;
/** How many such messages at most (the back-pressure bound). */
// @ts-ignore: injected by the compiler
export const OUTBOX_SLOT_COUNT: i32 = OUTBOX_SLOTS;
/** Largest encoded property bag of one message. */
// @ts-ignore: injected by the compiler
export const BAG_CAPACITY: i32 = BAG_SIZE;
/** Twin requests awaiting their answer at once. */
// @ts-ignore: injected by the compiler
export const REQUEST_SLOT_COUNT: i32 = REQUEST_SLOTS;
/** Room for one device's client state when a gateway runs several devices on one instance (0 on MCUs). */
// @ts-ignore: injected by the compiler
export const SNAPSHOT_CAPACITY: i32 = SNAPSHOT_SIZE;
