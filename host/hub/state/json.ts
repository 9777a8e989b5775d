// JSON documents from the network are data: a member name (`__proto__`, `constructor`, …) is never object structure
// (RFC 8259, RFC 7386). Every read here is an own-property read and every write defines an own data property, so
// no document can reach or change a prototype. Nothing here recurses: depth comes from hostile peers.

export type Json = null | boolean | number | string | Json[] | JsonObject;
export type JsonObject = { [k: string]: Json };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const hasOwn = (o: object, k: string): boolean => Object.hasOwn(o, k);

/** `o[k]` if `k` is o's own member, else undefined (never something inherited such as `Object.prototype`). */
export function own<T>(o: { readonly [k: string]: T }, k: string): T | undefined {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

/** `o[k] = v` as a data member: for `k = '__proto__'` this creates a member instead of changing o's prototype. */
export function setMember<T>(o: { [k: string]: T }, k: string, v: T): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/** A lookup table with no prototype: `table[anything]` is only what was put in. */
export function dict<T>(entries: Iterable<readonly [string, T]> = []): Record<string, T> {
  const d = Object.create(null) as Record<string, T>;
  for (const [k, v] of entries) setMember(d, k, v);
  return d;
}

/** Deep copy of a JSON value with own data members only (iterative: any depth, no stack). */
export function cloneJson<T extends Json>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  const root = (Array.isArray(v) ? [] : {}) as Json[] | JsonObject;
  const work: [Json[] | JsonObject, Json[] | JsonObject][] = [[v, root]];
  for (let item = work.pop(); item; item = work.pop()) {
    const [from, to] = item;
    for (const [k, x] of Object.entries(from)) {
      let copy: Json = x;
      if (typeof x === 'object' && x !== null) {
        copy = Array.isArray(x) ? [] : {};
        work.push([x, copy]);
      }
      if (Array.isArray(to)) to.push(copy); else setMember(to, k, copy);
    }
  }
  return root as T;
}

/**
 * JSON merge patch (RFC 7386) applied in place: null deletes, an object merges into an object member (or replaces a
 * non-object), anything else replaces. `skip(name, depth)` names members to ignore (depth 0 = the patch's own).
 */
export function mergePatch(target: JsonObject, patch: JsonObject, skip: (name: string, depth: number) => boolean = () => false): void {
  const work: [JsonObject, JsonObject, number][] = [[target, patch, 0]];
  for (let item = work.pop(); item; item = work.pop()) {
    const [to, from, depth] = item;
    for (const [k, v] of Object.entries(from)) {
      if (skip(k, depth)) continue;
      if (v === null) {
        if (hasOwn(to, k)) delete to[k];
      } else if (isObject(v)) {
        const cur = own(to, k);
        const next: JsonObject = isObject(cur) ? cur : {};
        setMember(to, k, next);
        work.push([next, v, depth + 1]);
      } else {
        setMember(to, k, Array.isArray(v) ? cloneJson(v) : v);
      }
    }
  }
}

/** Levels of objects and arrays below `v` (`{}` and `5` are 0, `{"a":{}}` is 1); iterative. */
export function nesting(v: Json): number {
  let max = 0;
  const work: [Json, number][] = [[v, 0]];
  for (let item = work.pop(); item; item = work.pop()) {
    const [x, d] = item;
    if (typeof x !== 'object' || x === null) continue;
    for (const c of Object.values(x)) {
      if (typeof c === 'object' && c !== null) {
        if (d + 1 > max) max = d + 1;
        work.push([c, d + 1]);
      }
    }
  }
  return max;
}

export class JsonError extends Error {
  constructor(message: string, readonly reason: 'syntax' | 'depth' | 'size') { super(message); }
}

export interface ParseLimits {
  /** Most nesting of objects and arrays in the text (`{}` is 1, `{"a":[]}` is 2). */
  maxDepth: number;
  /** Most UTF-8 bytes (checked when the input is a Buffer or string). */
  maxBytes?: number;
}

/**
 * JSON.parse behind limits: the nesting is counted on the text first (one pass, no recursion), so a document nested
 * 5,000 deep is refused before any object exists. JSON.parse itself defines members as data (`__proto__` included).
 */
export function parseJson(input: Buffer | string, limits: ParseLimits): Json {
  const bytes = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (limits.maxBytes !== undefined && bytes > limits.maxBytes) {
    throw new JsonError(`the JSON document is ${bytes} bytes, over ${limits.maxBytes}`, 'size');
  }
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const depth = textDepth(text, limits.maxDepth);
  if (depth > limits.maxDepth) throw new JsonError(`the JSON document is nested deeper than ${limits.maxDepth} levels`, 'depth');
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw new JsonError('the body is not valid JSON', 'syntax');
  }
}

/** Deepest bracket nesting outside strings; stops counting once past `stopAfter`. */
function textDepth(text: string, stopAfter: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max && (max = depth) > stopAfter) return max;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return max;
}

/**
 * A record read from a data-folder file (registry, policies, C2D queue): own members only, each checked for the
 * type it must have; every error names the file, the record and the field, and says to fix or delete the file, so
 * a tampered file is refused by name instead of smuggling structure.
 */
export class StoredRecord {
  private constructor(private readonly raw: object, private readonly where: string) {}

  /** The reader for `raw`, which must be a JSON object. */
  static of(raw: unknown, where: string): StoredRecord {
    if (!isObject(raw)) throw new Error(`${where}: not an object; fix or delete the file`);
    return new StoredRecord(raw, where);
  }

  bad(why: string): Error { return new Error(`${this.where}: ${why}; fix or delete the file`); }

  get(k: string): unknown { return Object.hasOwn(this.raw, k) ? (this.raw as Record<string, unknown>)[k] : undefined; }

  str(k: string): string {
    const v = this.get(k);
    if (typeof v !== 'string') throw this.bad(`'${k}' must be a string`);
    return v;
  }

  optStr(k: string): string | undefined { return this.get(k) === undefined ? undefined : this.str(k); }

  /** A finite number ≥ 0. */
  count(k: string): number {
    const v = this.get(k);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw this.bad(`'${k}' must be a non-negative number`);
    return v;
  }

  /** A nested object, read the same way (`undefined` when absent and `optional`). */
  record(k: string): StoredRecord;
  record(k: string, optional: true): StoredRecord | undefined;
  record(k: string, optional = false): StoredRecord | undefined {
    const v = this.get(k);
    if (v === undefined && optional) return undefined;
    if (!isObject(v)) throw this.bad(`'${k}' must be an object`);
    return new StoredRecord(v, `${this.where}.${k}`);
  }

  /** The own members, for maps such as a message's properties. */
  entries(): [string, unknown][] { return Object.entries(this.raw); }
}
