// MQTT 3.1.1 packets in mqtt-packet's object shape (protocol version 4), so people who know mqtt-packet
// already know these. Only the fields of each packet type are present, as mqtt-packet's parser emits them.

export type QoS = 0 | 1 | 2;

interface Base { retain?: boolean; qos?: number; dup?: boolean; length?: number; topic?: string | null; payload?: Buffer | string | Uint8Array | null }

export interface ConnectPacket extends Base {
  cmd: 'connect';
  protocolId?: 'MQTT' | 'MQIsdp';
  protocolVersion?: 3 | 4;
  clean?: boolean;
  keepalive?: number;
  clientId: string;
  will?: { topic: string; payload: Buffer | Uint8Array | string; qos?: QoS; retain?: boolean };
  username?: string;
  password?: Buffer | Uint8Array | string;
}
export interface ConnackPacket extends Base { cmd: 'connack'; sessionPresent?: boolean; returnCode: number }
export interface PublishPacket extends Base {
  cmd: 'publish'; topic: string; payload: Buffer | Uint8Array | string; qos?: QoS; dup?: boolean; retain?: boolean; messageId?: number;
}
export interface AckPacket extends Base { cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsuback'; messageId: number }
export interface SubscribePacket extends Base { cmd: 'subscribe'; messageId: number; subscriptions: Array<{ topic: string; qos: QoS }> }
export interface SubackPacket extends Base { cmd: 'suback'; messageId: number; granted: number[] }
export interface UnsubscribePacket extends Base { cmd: 'unsubscribe'; messageId: number; unsubscriptions: string[] }
export interface EmptyPacket extends Base { cmd: 'pingreq' | 'pingresp' | 'disconnect' }

export type Packet =
  | ConnectPacket | ConnackPacket | PublishPacket | AckPacket | SubscribePacket | SubackPacket
  | UnsubscribePacket | EmptyPacket;

/** Command names by MQTT packet type (index = type). */
export const COMMANDS = [
  null, 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', null,
] as const;

export const TYPES: Record<string, number> = Object.fromEntries(
  COMMANDS.map((c, i) => [c, i]).filter(([c]) => c !== null),
);
