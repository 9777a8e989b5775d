import { readFileSync } from 'node:fs';

/** Reads a JSON file from tests/fixtures (test vectors kept in the repository). */
export function fixture<T = unknown>(name: string): T {
  const url = new URL(`../../../tests/fixtures/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8'), (_k, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof v.hex === 'string') return Buffer.from(v.hex, 'hex');
    return v;
  }) as T;
}
