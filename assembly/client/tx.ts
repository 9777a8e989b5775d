// The transmit buffer: the bytes the board should write (client_tx_ptr/len), and the C2D acknowledgements
// waiting for room in it. Data packets may fill TX_CAPACITY; control packets (PUBACK, PINGREQ, DISCONNECT) also
// use a small reserve so that a busy data stream never blocks them.
import { E_BAD_ARGUMENT } from "../status";
import { TX_CAPACITY } from "../profile";
import { Packet, clearPacket, PACKET_SIZE, PUBACK } from "../mqtt/packet";
import { encodePacket } from "../mqtt/encoder";
import { putBytes, getBytes } from "../snapshot";
import { S } from "./state";

export const OUT_RESERVE: i32 = 64;
const OUT_CAP: i32 = TX_CAPACITY + OUT_RESERVE;
const OUT: usize = memory.data(OUT_CAP, 16);
const ENC: usize = memory.data(PACKET_SIZE, 16); // packets being encoded
// PUBACKs for C2D that did not fit the transmit buffer yet.
const ACKS_SIZE: i32 = 32;
const ACKS: usize = memory.data(ACKS_SIZE * 4, 16);

/** The packet record to fill before emit(). */
// @ts-ignore: decorator
@inline export function enc(): Packet { return changetype<Packet>(ENC); }
export function txPtr(): usize { return OUT; }
export function txLen(): i32 { return S().outLen; }
/** Where the next bytes go (the end of what is pending). */
// @ts-ignore: decorator
@inline export function txEnd(): usize { return OUT + <usize>S().outLen; }

/** Encodes enc() at the end of the transmit buffer within `limit` bytes in all; false when it does not fit. */
export function emit(limit: i32): bool {
  const s = S();
  const n = encodePacket(enc(), OUT + <usize>s.outLen, limit - s.outLen);
  if (n < 0) return false;
  s.outLen += n;
  s.lastTxAt = s.now;
  return true;
}

/** Appends bytes already encoded (an outbox message); false when they do not fit TX_CAPACITY. */
export function emitBytes(src: usize, len: i32): bool {
  const s = S();
  if (s.outLen + len > TX_CAPACITY) return false;
  memory.copy(OUT + <usize>s.outLen, src, <usize>len);
  s.outLen += len;
  s.lastTxAt = s.now;
  return true;
}

/** A control packet (PUBACK, PINGREQ, DISCONNECT) of `type` with packet id `id`, in the reserve if need be. */
export function emitControl(type: u32, id: u32): bool {
  clearPacket(enc());
  enc().type = type;
  enc().messageId = id;
  return emit(OUT_CAP);
}

/** Forgets what has not been written (a new connection starts from an empty buffer). */
export function txReset(): void { S().outLen = 0; }

/** The host wrote `n` bytes of client_tx to the transport. */
export function txConsumed(n: i32): i32 {
  const s = S();
  if (n < 0 || n > s.outLen) return E_BAD_ARGUMENT;
  if (n < s.outLen) memory.copy(OUT, OUT + <usize>n, <usize>(s.outLen - n));
  s.outLen -= n;
  return s.outLen;
}

/** Keeps a C2D acknowledgement until flushAcks finds room; false when ACKS_SIZE are already waiting. */
export function queueAck(packetId: u32): bool {
  const s = S();
  if (s.ackCount == ACKS_SIZE) return false;
  store<u32>(ACKS + <usize>(s.ackCount << 2), packetId);
  s.ackCount++;
  return true;
}

/** Writes the waiting acknowledgements, oldest first; false when the buffer filled before the last one. */
export function flushAcks(): bool {
  const s = S();
  while (s.ackCount > 0) {
    if (!emitControl(PUBACK, load<u32>(ACKS))) return false;
    s.ackCount--;
    for (let i = 0; i < s.ackCount; i++) store<u32>(ACKS + <usize>(i << 2), load<u32>(ACKS + <usize>((i + 1) << 2)));
  }
  return true;
}

/** The hub redelivers unacknowledged C2D on the next connection: waiting acknowledgements are dropped. */
export function dropAcks(): void { S().ackCount = 0; }

export function saveTx(): void {
  putBytes(OUT, S().outLen);
  putBytes(ACKS, S().ackCount * 4);
}
export function restoreTx(): void {
  const o = getBytes(OUT, OUT_CAP);
  S().outLen = o < 0 ? 0 : o;
  const a = getBytes(ACKS, ACKS_SIZE * 4);
  S().ackCount = a < 0 ? 0 : a >> 2;
}
