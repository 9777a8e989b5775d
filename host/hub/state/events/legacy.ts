// Reads the event store's former format (`{dataDir}/events/{partition}.jsonl`, one JSON line per event with a
// base64 body) line by line through a bounded buffer, so that a data folder written before segments starts
// whatever that file's size (it used to be read whole, which fails past 512 MiB).
import { closeSync, openSync } from 'node:fs';
import { bag, readAt } from './record.js';
import type { PropertyBag } from '../messages.js';

/** Longer than any line a 256 KB D2C message makes; a longer line is skipped, not buffered. */
const MAX_LINE_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

export interface LegacyEvent {
  seq: number; enqueuedAt: number; deviceId: string; moduleId?: string;
  body: Buffer; properties: PropertyBag; systemProperties: Record<string, string>;
}

export function readLegacyFile(file: string, visit: (ev: LegacyEvent) => void): void {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let parts: Buffer[] = [], partLen = 0, skipping = false;
    for (let position = 0; ;) {
      const n = readAt(fd, chunk, CHUNK_BYTES, position);
      if (n === 0) break;
      position += n;
      let start = 0;
      for (let nl = chunk.indexOf(10, 0); nl >= 0 && nl < n; nl = chunk.indexOf(10, start)) {
        if (!skipping && partLen + nl - start <= MAX_LINE_BYTES) {
          const line = parts.length ? Buffer.concat([...parts, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
          const ev = parseLine(line.toString('utf8'));
          if (ev) visit(ev);
        }
        parts = []; partLen = 0; skipping = false; start = nl + 1;
      }
      if (start < n && !skipping) {
        if (partLen + n - start > MAX_LINE_BYTES) { parts = []; partLen = 0; skipping = true; }
        else { parts.push(Buffer.from(chunk.subarray(start, n))); partLen += n - start; }
      }
    }
    // a last line without its newline is a torn write: dropped
  } finally {
    closeSync(fd);
  }
}

function parseLine(text: string): LegacyEvent | null {
  let l: unknown;
  try { l = JSON.parse(text); } catch { return null; }
  if (typeof l !== 'object' || l === null) return null;
  const { s, t, d, m, b, p, y } = l as Record<string, unknown>;
  const properties = bag(p, true), systemProperties = bag(y, false) as Record<string, string> | null;
  if (!Number.isSafeInteger(s) || (s as number) < 0 || typeof t !== 'number' || typeof d !== 'string' || typeof b !== 'string' ||
    (m !== undefined && typeof m !== 'string') || !properties || !systemProperties) return null;
  return {
    seq: s as number, enqueuedAt: t, deviceId: d, ...(m ? { moduleId: m as string } : {}),
    body: Buffer.from(b, 'base64'), properties, systemProperties,
  };
}
