// The streaming decoder: bytes arrive in any pieces (one at a time, or many packets in one read) and packets
// come out exactly as if they had arrived whole. It owns the receive buffer; decoded fields are views into it,
// valid until the host next asks for the receive window.
//
//   host:  ptr = rxWindow(); write up to rxSpace() bytes at ptr; rxCommit(n);
//          while ((t = decodeNext(p)) > 0) { use p }      // 0: need more bytes; < 0: stream is broken
import { OK } from "../status";
import { RX_CAPACITY } from "../profile";
import { Packet, clearPacket, PUBLISH } from "./packet";
import { E_MQTT_PACKET_TOO_LARGE, E_MQTT_PACKET_ID_ZERO } from "./status";
import { checkFirstByte, decodeBody } from "./decoder";
import { validateTopicName } from "./strings";
import { readVarint, varintValue } from "./varint";
import { put32, putBytes, get32, getBytes } from "../snapshot";

const RX: usize = memory.data(RX_CAPACITY, 16);
let rxStart: i32 = 0; // first byte of the next undecoded packet
let rxEnd: i32 = 0; // end of the bytes received so far
let failure: i32 = OK; // a malformed stream stays refused until reset (MQTT: close the connection)
let skipOversized: bool = false; // refuse a too-large PUBLISH without breaking the stream (the device client)
let skipRemaining: u32 = 0; // bytes of a refused PUBLISH still to discard
let reserved: bool = false; // a registration (assembly/dps) holds the buffer: from dps_start to its outcome

/**
 * decodeNext's answer for a PUBLISH too large for the receive buffer, when skipping is on: the record holds its
 * flags, topic and packet id (payloadPtr 0, payloadLen = the refused payload's size); the rest is discarded as it
 * arrives, so the connection survives and the sender can be told (e.g. PUBACK, or a 413 for a method).
 */
export const OVERSIZED_PUBLISH: i32 = 16;

export function rxSkipOversized(on: bool): void { skipOversized = on; }

export function rxBuffer(): usize { return RX; }

/**
 * The provisioning client and the device client share this buffer, one at a time: a registration reserves it from
 * its start to its outcome, and the device client does not start meanwhile (each refuses with DPS_BUSY).
 */
export function rxReserve(on: bool): void { reserved = on; }
export function rxReserved(): bool { return reserved; }

/** Where the host writes the next received bytes. Moves pending bytes to the front first. */
export function rxWindow(): usize {
  if (rxStart > 0) {
    const pending = rxEnd - rxStart;
    if (pending > 0) memory.copy(RX, RX + <usize>rxStart, <usize>pending);
    rxEnd = pending;
    rxStart = 0;
  }
  return RX + <usize>rxEnd;
}

/** How many bytes fit at rxWindow() (ask after rxWindow(), which may make more room). */
export function rxSpace(): i32 { return RX_CAPACITY - rxEnd; }

/** The host wrote `n` bytes at rxWindow(). Returns the bytes now buffered, or E_BAD_ARGUMENT-style refusal. */
export function rxCommit(n: i32): i32 {
  if (n < 0 || rxEnd + n > RX_CAPACITY) return -1; // E_BAD_ARGUMENT
  rxEnd += n;
  return rxEnd - rxStart;
}

/** Bytes received but not yet decoded. */
export function rxPending(): i32 { return rxEnd - rxStart; }

/** Forgets buffered bytes and any failure: for a new connection. */
export function rxReset(): void {
  rxStart = 0;
  rxEnd = 0;
  failure = OK;
  skipRemaining = 0;
}

/**
 * Decodes the next complete packet into `p`: its type (1..14), 0 when more bytes are needed, or the status of
 * the first malformed packet (returned again on every call until rxReset).
 */
export function decodeNext(p: Packet): i32 {
  if (failure != OK) return failure;
  if (skipRemaining > 0) {
    const n = min(<u32>(rxEnd - rxStart), skipRemaining);
    rxStart += <i32>n;
    skipRemaining -= n;
    if (skipRemaining > 0) return 0;
  }
  const avail = rxEnd - rxStart;
  if (avail <= 0) return 0;
  const at = RX + <usize>rxStart;
  const first = <u32>load<u8>(at);
  let r = checkFirstByte(first);
  if (r != OK) return (failure = r);
  const vlen = readVarint(at + 1, avail - 1);
  if (vlen < 0) return (failure = vlen);
  if (vlen == 0) return 0;
  const rem = varintValue;
  const total = <u64>1 + <u64>vlen + <u64>rem;
  if (total > <u64>RX_CAPACITY) {
    if (!skipOversized || (first >> 4) != PUBLISH) return (failure = E_MQTT_PACKET_TOO_LARGE);
    return oversizedPublish(p, first, at, 1 + vlen, avail, total);
  }
  if (<i32>total > avail) return 0;
  r = decodeBody(p, first, at + 1 + <usize>vlen, rem);
  if (r != OK) return (failure = r);
  rxStart += <i32>total;
  return <i32>(first >> 4);
}

/** Reads the topic and packet id of a PUBLISH too large to hold, and arranges for the rest to be discarded. */
function oversizedPublish(p: Packet, first: u32, at: usize, hdr: i32, avail: i32, total: u64): i32 {
  if (avail < hdr + 2) return 0;
  const topicLen = (<i32>load<u8>(at + <usize>hdr) << 8) | <i32>load<u8>(at + <usize>hdr + 1);
  const qos = (first >> 1) & 3;
  const need = hdr + 2 + topicLen + (qos > 0 ? 2 : 0);
  if (need > RX_CAPACITY || <u64>need > total) return (failure = E_MQTT_PACKET_TOO_LARGE);
  if (avail < need) return 0;
  const topic = at + <usize>hdr + 2;
  const r = validateTopicName(topic, <u32>topicLen);
  if (r != OK) return (failure = r);
  clearPacket(p);
  p.type = PUBLISH;
  p.flags = first & 0x0F;
  p.qos = qos;
  p.dup = (first >> 3) & 1;
  p.retain = first & 1;
  p.length = <u32>(total - <u64>hdr);
  p.topicPtr = topic;
  p.topicLen = <u32>topicLen;
  if (qos > 0) {
    const id = (<u32>load<u8>(topic + <usize>topicLen) << 8) | <u32>load<u8>(topic + <usize>topicLen + 1);
    if (id == 0) return (failure = E_MQTT_PACKET_ID_ZERO);
    p.messageId = id;
  }
  p.payloadLen = <u32>(total - <u64>need);
  rxStart += need;
  skipRemaining = <u32>(total - <u64>need);
  return OVERSIZED_PUBLISH;
}

/**
 * Decodes one packet from [ptr, ptr+len) without buffering: the bytes it used, 0 if the packet is not complete,
 * or a status. For hosts that frame packets themselves, and for core-level benchmarks.
 */
export function decodeAt(p: Packet, ptr: usize, len: i32, maxSize: i32): i32 {
  if (len <= 0) return 0;
  const first = <u32>load<u8>(ptr);
  let r = checkFirstByte(first);
  if (r != OK) return r;
  const vlen = readVarint(ptr + 1, len - 1);
  if (vlen <= 0) return vlen;
  const total = <u64>1 + <u64>vlen + <u64>varintValue;
  if (total > <u64>maxSize) return E_MQTT_PACKET_TOO_LARGE;
  if (<i32>total > len) return 0;
  r = decodeBody(p, first, ptr + 1 + <usize>vlen, varintValue);
  return r != OK ? r : <i32>total;
}

/** Snapshot of the receive side: pending bytes and the decoder's state (see assembly/snapshot.ts). */
export function saveStream(): void {
  put32(<u32>failure);
  put32(skipOversized ? 1 : 0);
  put32(skipRemaining);
  putBytes(RX + <usize>rxStart, rxEnd - rxStart);
}
export function restoreStream(): void {
  failure = <i32>get32();
  skipOversized = get32() != 0;
  skipRemaining = get32();
  rxStart = 0;
  const n = getBytes(RX, RX_CAPACITY);
  rxEnd = n < 0 ? 0 : n;
}
