// The MCU build's entry: what a device needs and nothing else — the shared exports and the device client.
// The MQTT codec, crypto and iothub helpers (DPS, SAS, topic builders and parsers) are compiled in only as far as
// the client uses them, and are not exported (the gateway build, assembly/abi.ts, exports them all).
export * from "./abi-core";
export * from "./client/abi";
