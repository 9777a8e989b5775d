import { IotHubWasmError } from '../errors.js';

/**
 * A packet that breaks MQTT 3.1.1, or an object that cannot be encoded. `code` names the rule
 * (MQTT_UTF8_INVALID, MQTT_PACKET_ID_ZERO, ...): the core's own status name, or MQTT_INVALID_OBJECT /
 * MQTT_UNKNOWN_COMMAND for JavaScript values that are not packets at all.
 */
export class MqttProtocolError extends IotHubWasmError {
  /** Packets decoded from the same push before the broken one, so none is lost. */
  packets?: unknown[];
}
