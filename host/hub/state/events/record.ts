// The event store's on-disk record and the bounded-memory scan of a segment file.
//
// A record is a 32-byte header, the event's identity and properties as JSON, then the body's raw bytes:
//   0 u32 magic 'IEV1' · 4 u32 record length · 8 u32 CRC-32 of bytes 12… · 12 u32 JSON length · 16 f64 sequence
//   number · 24 f64 enqueued time (ms since the epoch)
// Raw bodies let a reader fetch one event with one positional read; the length and CRC let start-up find the end of
// a segment a kill or power loss left half written.
import { closeSync, openSync, readSync } from 'node:fs';
import * as zlib from 'node:zlib';
import type { StoredEvent } from '../events.js';
import type { PropertyBag } from '../messages.js';

export const RECORD_HEADER = 32;
const MAGIC = 0x31564549; // 'IEV1' little-endian
/** Larger than any D2C message (IoT Hub: 256 KB) can make a record; a header claiming more is damage. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** The one buffer a segment scan reads through, whatever the segment's size. */
export const SCAN_BUFFER_BYTES = 64 * 1024;

const crc32: (data: Uint8Array, value?: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (zlib as unknown as { crc32: (d: Uint8Array, v?: number) => number }).crc32 : crc32Js;

let table: Uint32Array | undefined;
/** For Node versions before zlib.crc32 (20.15). */
function crc32Js(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~value >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** The JSON part of a record. */
interface RecordMeta { d: string; m?: string; p: PropertyBag; y: Record<string, string> }

export function encodeRecord(seq: number, enqueuedAt: number, meta: string, body: Buffer): Buffer {
  const metaLen = Buffer.byteLength(meta);
  const total = RECORD_HEADER + metaLen + body.length;
  if (total > MAX_RECORD_BYTES) throw new RangeError(`an event of ${total} bytes exceeds the event store's ${MAX_RECORD_BYTES} bytes`);
  const rec = Buffer.allocUnsafe(total);
  rec.writeUInt32LE(MAGIC, 0);
  rec.writeUInt32LE(total, 4);
  rec.writeUInt32LE(metaLen, 12);
  rec.writeDoubleLE(seq, 16);
  rec.writeDoubleLE(enqueuedAt, 24);
  rec.write(meta, RECORD_HEADER, 'utf8');
  body.copy(rec, RECORD_HEADER + metaLen);
  rec.writeUInt32LE(crc32(rec.subarray(12)), 8);
  return rec;
}

export function recordMeta(deviceId: string, moduleId: string | undefined, properties: PropertyBag, systemProperties: Record<string, string>): string {
  return JSON.stringify(moduleId ? { d: deviceId, m: moduleId, p: properties, y: systemProperties } : { d: deviceId, p: properties, y: systemProperties });
}

/** The event in `buf` at `at` (a whole record), or null if it is damaged. Property objects are prototype-free data. */
export function decodeRecord(buf: Buffer, at: number, partition: number, offset: number): StoredEvent | null {
  if (at + RECORD_HEADER > buf.length || buf.readUInt32LE(at) !== MAGIC) return null;
  const total = buf.readUInt32LE(at + 4), metaLen = buf.readUInt32LE(at + 12);
  if (total < RECORD_HEADER + metaLen || at + total > buf.length) return null;
  if (crc32(buf.subarray(at + 12, at + total)) !== buf.readUInt32LE(at + 8)) return null;
  let meta: unknown;
  try { meta = JSON.parse(buf.toString('utf8', at + RECORD_HEADER, at + RECORD_HEADER + metaLen)); } catch { return null; }
  if (!isObject(meta)) return null;
  const { d, m, p, y } = meta as Partial<RecordMeta>;
  const properties = bag(p, true) as PropertyBag | null, systemProperties = bag(y, false) as Record<string, string> | null;
  if (typeof d !== 'string' || (m !== undefined && typeof m !== 'string') || !properties || !systemProperties) return null;
  return {
    partition, seq: buf.readDoubleLE(at + 16), offset: String(offset), enqueuedAt: buf.readDoubleLE(at + 24),
    deviceId: d, ...(m ? { moduleId: m } : {}),
    body: buf.subarray(at + RECORD_HEADER + metaLen, at + total), properties, systemProperties,
  };
}

function isObject(v: unknown): v is Record<string, unknown> { return typeof v === 'object' && v !== null && !Array.isArray(v); }

/** A string map read from disk as a prototype-free object: member names stay data (a `__proto__` key is a key). */
export function bag(v: unknown, nullable: boolean): Record<string, string | null> | null {
  if (!isObject(v)) return null;
  const out = Object.create(null) as Record<string, string | null>;
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (typeof x === 'string' || (nullable && x === null)) out[k] = x;
    else return null;
  }
  return out;
}

/** Reads up to `length` bytes at `position`; fewer only at the end of the file. */
export function readAt(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * Walks the records of a segment file of `size` bytes through one SCAN_BUFFER_BYTES buffer (memory does not depend
 * on the file's size) and calls `visit` for each whole record; returns where the valid records end. With `verify`,
 * each record's CRC is checked too (the segment being written when the hub stopped); without it only the headers
 * are read (older segments were complete when the next one began), so the time is per record, not per byte.
 */
export function scanSegment(file: string, size: number, verify: boolean, visit: (pos: number, len: number, seq: number, time: number) => boolean): number {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(SCAN_BUFFER_BYTES);
    let bufStart = 0, bufLen = 0;
    const ensure = (at: number, n: number): boolean => {
      if (at >= bufStart && at + n <= bufStart + bufLen) return true;
      bufStart = at;
      bufLen = readAt(fd, buf, Math.min(SCAN_BUFFER_BYTES, size - at), at);
      return bufLen >= n;
    };
    let pos = 0;
    while (pos + RECORD_HEADER <= size) {
      if (!ensure(pos, RECORD_HEADER)) break;
      const o = pos - bufStart;
      const total = buf.readUInt32LE(o + 4), metaLen = buf.readUInt32LE(o + 12);
      if (buf.readUInt32LE(o) !== MAGIC || total < RECORD_HEADER + metaLen || total > MAX_RECORD_BYTES || pos + total > size) break;
      const crc = buf.readUInt32LE(o + 8), seq = buf.readDoubleLE(o + 16), time = buf.readDoubleLE(o + 24);
      if (verify) {
        let c = 0;
        for (let at = pos + 12, end = pos + total; at < end;) {
          const n = Math.min(SCAN_BUFFER_BYTES, end - at);
          if (!ensure(at, n)) return pos;
          c = crc32(buf.subarray(at - bufStart, at - bufStart + n), c);
          at += n;
        }
        if (c !== crc) break;
      }
      if (!visit(pos, total, seq, time)) break;
      pos += total;
    }
    return pos;
  } finally {
    closeSync(fd);
  }
}
