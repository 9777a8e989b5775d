// The packet record shared by the encoder and the decoder: a fixed struct in linear memory, so hosts read and
// write it with plain loads and stores. Strings and binary fields are (pointer, length) views: into the receive
// buffer after a decode, into whatever memory the caller filled before an encode. Nothing is copied to decode.
//
// Layout: the Packet class below (every field a u32; offsets by offsetof, published in boards/README.md).
// The list of SUBSCRIBE / UNSUBSCRIBE / SUBACK is kept in wire form (entries `len16 topic [options]`, or one
// return code per byte): a validated view after a decode, and the input the encoder validates and copies.

export const CONNECT: u32 = 1;
export const CONNACK: u32 = 2;
export const PUBLISH: u32 = 3;
export const PUBACK: u32 = 4;
export const PUBREC: u32 = 5;
export const PUBREL: u32 = 6;
export const PUBCOMP: u32 = 7;
export const SUBSCRIBE: u32 = 8;
export const SUBACK: u32 = 9;
export const UNSUBSCRIBE: u32 = 10;
export const UNSUBACK: u32 = 11;
export const PINGREQ: u32 = 12;
export const PINGRESP: u32 = 13;
export const DISCONNECT: u32 = 14;

@unmanaged
export class Packet {
  type: u32;
  flags: u32;
  qos: u32;
  dup: u32;
  retain: u32;
  messageId: u32;
  length: u32;
  topicPtr: usize;
  topicLen: u32;
  payloadPtr: usize;
  payloadLen: u32;
  protocolPtr: usize;
  protocolLen: u32;
  protocolLevel: u32;
  clean: u32;
  keepalive: u32;
  clientIdPtr: usize;
  clientIdLen: u32;
  willFlag: u32;
  willQos: u32;
  willRetain: u32;
  willTopicPtr: usize;
  willTopicLen: u32;
  willPayloadPtr: usize;
  willPayloadLen: u32;
  hasUsername: u32;
  usernamePtr: usize;
  usernameLen: u32;
  hasPassword: u32;
  passwordPtr: usize;
  passwordLen: u32;
  sessionPresent: u32;
  returnCode: u32;
  listPtr: usize;
  listLen: u32;
  listCount: u32;
}

export const PACKET_SIZE: i32 = offsetof<Packet>();

/** Zeroes a packet record (a loop: the MCU profile has no bulk memory). */
export function clearPacket(p: Packet): void {
  const base = changetype<usize>(p);
  for (let i: i32 = 0; i < PACKET_SIZE; i += 4) store<u32>(base + <usize>i, 0);
}
