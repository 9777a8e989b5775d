// iothub-wasm/codec: MQTT 3.1.1 packets in mqtt-packet's shape, encoded and decoded by the WebAssembly core.
export { encodePacket } from './encode.js';
export { PacketDecoder } from './decode.js';
export { MqttProtocolError } from './errors.js';
export type * from './packet.js';
