// The MCU build's entry: what a device needs and nothing else — the shared exports, the device client and
// provisioning (dps_*), so a microcontroller can register with DPS before it connects to its hub.
// The MQTT codec, crypto and iothub helpers (DPS, SAS, topic builders and parsers) are compiled in only as far as
// the client uses them, and are not exported (the gateway build, assembly/abi.ts, exports them all).
export * from "./abi-core";
export * from "./client/abi";
export * from "./dps/abi";
