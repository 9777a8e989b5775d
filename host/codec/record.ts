// The core's Packet record (assembly/mqtt/packet.ts): word offsets of each u32 field.
export const F = {
  type: 0, flags: 1, qos: 2, dup: 3, retain: 4, messageId: 5, length: 6,
  topicPtr: 7, topicLen: 8, payloadPtr: 9, payloadLen: 10,
  protocolPtr: 11, protocolLen: 12, protocolLevel: 13, clean: 14, keepalive: 15, clientIdPtr: 16, clientIdLen: 17,
  willFlag: 18, willQos: 19, willRetain: 20, willTopicPtr: 21, willTopicLen: 22, willPayloadPtr: 23, willPayloadLen: 24,
  hasUsername: 25, usernamePtr: 26, usernameLen: 27, hasPassword: 28, passwordPtr: 29, passwordLen: 30,
  sessionPresent: 31, returnCode: 32,
  listPtr: 33, listLen: 34, listCount: 35,
} as const;
export const RECORD_WORDS = 36;
