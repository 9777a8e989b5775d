// MQTT codec entry points (see assembly/mqtt/packet.ts for the Packet record layout).
import { TX_CAPACITY, RX_CAPACITY } from "../profile";
import { E_BAD_ARGUMENT } from "../status";
import { Packet, PACKET_SIZE } from "./packet";
import { encodePacket, encodePacketHead } from "./encoder";
import { rxWindow, rxSpace, rxCommit, rxReset, rxPending, decodeNext, decodeAt } from "./stream";

const DECODED: usize = memory.data(PACKET_SIZE, 16); // filled by the decoder
const TO_ENCODE: usize = memory.data(PACKET_SIZE, 16); // filled by the host before mqtt_packet_encode
const TX: usize = memory.data(TX_CAPACITY, 16);

/** The record the decoder fills, and its size in bytes. */
export function mqtt_packet_decoded_ptr(): usize { return DECODED; }
/** The record the host fills before mqtt_packet_encode. */
export function mqtt_packet_encode_ptr(): usize { return TO_ENCODE; }
export function mqtt_packet_size(): i32 { return PACKET_SIZE; }
/** The transmit buffer mqtt_packet_encode writes to, and its size (the largest packet this profile sends). */
export function mqtt_tx_ptr(): usize { return TX; }
export function mqtt_tx_capacity(): i32 { return TX_CAPACITY; }
export function mqtt_rx_capacity(): i32 { return RX_CAPACITY; }

/** Encodes the record at mqtt_packet_encode_ptr() into the transmit buffer: its length, or a status. */
export function mqtt_packet_encode(): i32 {
  return encodePacket(changetype<Packet>(TO_ENCODE), TX, TX_CAPACITY);
}

/**
 * Like mqtt_packet_encode, but for a PUBLISH leaves the payload out: returns the length of everything before it (the
 * whole packet, payloadLen included, must fit the transmit buffer). The payload pointer is not read.
 */
export function mqtt_packet_encode_head(): i32 {
  return encodePacketHead(changetype<Packet>(TO_ENCODE), TX, TX_CAPACITY);
}

/** Streaming decoder: where to write received bytes, how many fit, and how many were written. */
export function mqtt_rx_window(): usize { return rxWindow(); }
export function mqtt_rx_space(): i32 { return rxSpace(); }
export function mqtt_rx_commit(n: i32): i32 { return rxCommit(n); }
export function mqtt_rx_pending(): i32 { return rxPending(); }
export function mqtt_rx_reset(): void { rxReset(); }
/** The next packet into mqtt_packet_decoded_ptr(): its type, 0 for "need more bytes", or a status. */
export function mqtt_packet_decode_next(): i32 { return decodeNext(changetype<Packet>(DECODED)); }

/** Decodes one whole packet at [ptr, ptr+len) in place: bytes used, 0 if incomplete, or a status. */
export function mqtt_packet_decode_at(ptr: usize, len: i32): i32 {
  if (len < 0) return E_BAD_ARGUMENT;
  return decodeAt(changetype<Packet>(DECODED), ptr, len, RX_CAPACITY);
}
