// Store and forward: the format of the records a board keeps in its storage (a file, flash pages) so that accepted
// QoS 1 telemetry survives a reboot. The core is the only code that knows it: it writes each record into the IO
// window (client_telemetry_store, client_store_done), and checks every record a board hands back before trusting
// it (client_store_check, client_store_restore). A board only appends records and reads them back in order.
//
// A record, little-endian, RECORD_HEAD bytes of header, the body, then a CRC-32 (IEEE 802.3, as zlib computes it)
// of everything before it:
//   0  magic "IHSR"     4  format version (u8)   5  kind (STORE_*, u8)   6  0 (u16)
//   8  telemetry token (u32)   12  body length (u32)   16  creation time, Unix ms (u64)
//   24 body: the message's MQTT PUBLISH (QoS 1) exactly as the outbox sends it, its packet id given on restore
// A completion marker (STORE_DONE) has the token of the message the hub acknowledged and no body.
import { TX_CAPACITY } from "../profile";
import { IO } from "../io";
import { S } from "./state";
import { E_CLIENT_STORE_CORRUPT, E_CLIENT_STORE_TRUNCATED } from "./status";

/** A telemetry message accepted for sending (QoS 1), with its token, creation time and PUBLISH packet. */
export const STORE_MESSAGE: i32 = 1;
/** A completion marker: the hub acknowledged the message of this token; its record need not be sent again. */
export const STORE_DONE: i32 = 2;

const MAGIC: u32 = 0x52534849; // "IHSR"
const VERSION: u32 = 1;
export const RECORD_HEAD: i32 = 24;
/** Header and CRC: a record is this plus its body. */
export const RECORD_OVERHEAD: i32 = RECORD_HEAD + 4;

// The last record written or checked: length, token, kind, where its packet id sits in the body.
const LAST: usize = memory.data(16, 16);
// @ts-ignore: decorator
@inline export function lastLen(): i32 { return load<i32>(LAST); }
// @ts-ignore: decorator
@inline export function lastToken(): u32 { return load<u32>(LAST, 4); }
// @ts-ignore: decorator
@inline export function lastKind(): i32 { return load<i32>(LAST, 8); }
// @ts-ignore: decorator
@inline export function lastPacketIdAt(): i32 { return load<i32>(LAST, 12); }

// CRC-32 four bits at a time: a 64-byte table instead of zlib's 1 KiB (the MCU build has one page).
const CRC_NIBBLES = memory.data<u32>([
  0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
  0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
]);

export function crc32(ptr: usize, len: i32): u32 {
  let c: u32 = 0xFFFFFFFF;
  for (let i: i32 = 0; i < len; i++) {
    c ^= <u32>load<u8>(ptr + <usize>i);
    c = (c >> 4) ^ load<u32>(CRC_NIBBLES + (<usize>(c & 15) << 2));
    c = (c >> 4) ^ load<u32>(CRC_NIBBLES + (<usize>(c & 15) << 2));
  }
  return ~c;
}

/** Where a record's body goes in the IO window (its packet is encoded there, then the header written before it). */
export function recordBody(): usize { return IO + <usize>RECORD_HEAD; }

/** Writes the header and CRC around the `bodyLen` bytes at recordBody(): the record at IO, its length. */
export function seal(kind: i32, token: u32, ctime: u64, bodyLen: i32): i32 {
  store<u32>(IO, MAGIC);
  store<u8>(IO, <u8>VERSION, 4);
  store<u8>(IO, <u8>kind, 5);
  store<u16>(IO, 0, 6);
  store<u32>(IO, token, 8);
  store<u32>(IO, <u32>bodyLen, 12);
  store<u64>(IO, ctime, 16);
  const end = RECORD_HEAD + bodyLen;
  store<u32>(IO + <usize>end, crc32(IO, end));
  const len = end + 4;
  store<i32>(LAST, len);
  store<u32>(LAST, token, 4);
  store<i32>(LAST, kind, 8);
  return len;
}

/** The completion marker for the message of `token`, at IO: its length. */
export function done(token: u32): i32 {
  return seal(STORE_DONE, token, 0, 0);
}

/**
 * The offset of the packet id in a stored PUBLISH of `len` bytes at `p` (QoS 1, no DUP, retain or reserved bits,
 * a remaining length that is exactly the rest), or -1: the body must be a message this core would have sent.
 */
function packetIdAt(p: usize, len: i32): i32 {
  if (len < 2 || load<u8>(p) != 0x32) return -1;
  let rem: u32 = 0;
  let at: i32 = 1;
  for (let shift: u32 = 0; ; shift += 7) {
    if (at >= len || shift > 21) return -1;
    const b = <u32>load<u8>(p + <usize>at);
    at++;
    rem |= (b & 0x7F) << shift;
    if ((b & 0x80) == 0) break;
  }
  if (<i64>at + <i64>rem != <i64>len || len - at < 4) return -1;
  const topicLen = (<i32>load<u8>(p + <usize>at) << 8) | <i32>load<u8>(p + <usize>at + 1);
  const pid = at + 2 + topicLen;
  return pid + 2 <= len ? pid : -1;
}

/**
 * Checks the record at [ptr, ptr + avail) (a board may pass everything it has left: only the record's own bytes
 * are read): its length, with its token and kind in lastToken()/lastKind(); CLIENT_STORE_TRUNCATED when the bytes
 * end inside what could be a record; CLIENT_STORE_CORRUPT for anything else that does not check out. A good
 * record's token moves the client's next token past it, so new messages never reuse a stored one's.
 */
export function check(ptr: usize, avail: i32): i32 {
  // The magic, as far as there are bytes: a shorter prefix of it is a torn record, anything else is not a record.
  for (let i: i32 = 0; i < 4; i++) {
    if (i >= avail) return E_CLIENT_STORE_TRUNCATED;
    if (load<u8>(ptr + <usize>i) != <u8>(MAGIC >> (<u32>i << 3))) return E_CLIENT_STORE_CORRUPT;
  }
  if (avail < RECORD_HEAD) return E_CLIENT_STORE_TRUNCATED;
  const kind = <i32>load<u8>(ptr, 5);
  const bodyLen = load<u32>(ptr, 12);
  if (<u32>load<u8>(ptr, 4) != VERSION || load<u16>(ptr, 6) != 0 || bodyLen > <u32>TX_CAPACITY) return E_CLIENT_STORE_CORRUPT;
  if (kind != STORE_MESSAGE && (kind != STORE_DONE || bodyLen != 0)) return E_CLIENT_STORE_CORRUPT;
  const end = RECORD_HEAD + <i32>bodyLen;
  if (avail - 4 < end) return E_CLIENT_STORE_TRUNCATED;
  if (load<u32>(ptr + <usize>end) != crc32(ptr, end)) return E_CLIENT_STORE_CORRUPT;
  let pid: i32 = 0;
  if (kind == STORE_MESSAGE) {
    pid = packetIdAt(ptr + <usize>RECORD_HEAD, <i32>bodyLen);
    if (pid < 0) return E_CLIENT_STORE_CORRUPT;
  }
  const token = load<u32>(ptr, 8);
  if (token == 0 || token > 0x7FFFFFFF) return E_CLIENT_STORE_CORRUPT;
  if (token >= S().nextToken) S().nextToken = token >= 0x7FFFFFFF ? 1 : token + 1;
  const len = end + 4;
  store<i32>(LAST, len);
  store<u32>(LAST, token, 4);
  store<i32>(LAST, kind, 8);
  store<i32>(LAST, pid, 12);
  return len;
}
