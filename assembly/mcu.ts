// The MCU build's entry: what a device needs to reach its hub and nothing else — the shared exports and the device
// client. Provisioning (dps_*) costs ~13 KB of code and ~10 KB of RAM, which a board that is given its connection
// string never uses: the MCU profile with DPS is mcu-full.wasm (assembly/abi.ts), which the boards that provision
// host (boards/c/iothub_provision.h).
// The MQTT codec, crypto and iothub helpers (DPS, SAS, topic builders and parsers) are compiled in only as far as
// the client uses them, and are not exported (the gateway build, assembly/abi.ts, exports them all).
export * from "./abi-core";
export * from "./client/abi";
