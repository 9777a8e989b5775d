// `POST /devices/query` as IoT Hub pages it: at most `x-ms-max-item-count` items per page (and a bounded number of
// bytes), an opaque `x-ms-continuation` token when more follow (absent on the last page), `x-ms-item-type` `twin`
// for `SELECT *` and `raw` for projections and counts. The token says where the next page starts (after the last
// identity returned, in ordinal order, so devices added or removed between pages neither repeat nor shift the rest)
// and is bound to its query's text.
import { createHash } from 'node:crypto';
import { HubError } from '../../errors.js';
import { isObject, type Json, type JsonObject } from '../../state/json.js';
import { Groups, matches, project } from './evaluate.js';
import { QueryError, parseQuery, type Query } from './parse.js';

export const QUERY_DEFAULT_PAGE_SIZE = 100;
export const QUERY_MAX_PAGE_SIZE = 1000;
/** Bytes of JSON items in one page (at least one item is always sent). */
export const QUERY_PAGE_MAX_BYTES = 1024 * 1024;

/** One identity a query may see: its key (ordinal order is the result's order) and its twin document, built on demand. */
export interface QueryDocument { key: string; doc: () => JsonObject }

export interface QueryPage { items: Json[]; itemType: 'twin' | 'raw'; continuation?: string }

interface Position { after?: string; offset?: number; returned: number }

const badRequest = (message: string) => new HubError(400, 'BadRequest', message);

function fingerprint(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

function encodeToken(text: string, p: Position): string {
  return Buffer.from(JSON.stringify({ q: fingerprint(text), ...p })).toString('base64url');
}

function decodeToken(text: string, token: string): Position {
  let raw: unknown;
  try { raw = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')); } catch { raw = undefined; }
  const get = (k: string): unknown => (isObject(raw) && Object.hasOwn(raw, k) ? raw[k] : undefined);
  const after = get('after'), offset = get('offset'), returned = get('returned');
  if (!isObject(raw) || (after !== undefined && typeof after !== 'string') ||
    (offset !== undefined && !(Number.isInteger(offset) && (offset as number) >= 0)) ||
    !(Number.isInteger(returned) && (returned as number) >= 0)) {
    throw badRequest('the x-ms-continuation token is malformed (send back the one the previous page came with)');
  }
  if (get('q') !== fingerprint(text)) throw badRequest('the x-ms-continuation token belongs to another query');
  return { ...(after !== undefined ? { after: after as string } : {}), ...(offset !== undefined ? { offset: offset as number } : {}), returned: returned as number };
}

/** The page size a request asks for (`x-ms-max-item-count`), IoT Hub's default when absent. */
export function pageSize(header: string | undefined): number {
  if (header === undefined || header === '') return QUERY_DEFAULT_PAGE_SIZE;
  const n = Number(header);
  if (!Number.isInteger(n) || n < 1 || n > QUERY_MAX_PAGE_SIZE) throw badRequest(`x-ms-max-item-count must be a whole number from 1 to ${QUERY_MAX_PAGE_SIZE}`);
  return n;
}

/** A query, parsed; a syntax error becomes IoT Hub's 400 with the parser's message (where, and what was expected). */
export function compileQuery(text: unknown): Query {
  if (typeof text !== 'string') throw badRequest('the body must be {"query": "SELECT … FROM devices …"}');
  try {
    return parseQuery(text);
  } catch (e) {
    if (e instanceof QueryError) throw badRequest(e.message);
    throw e;
  }
}

/**
 * One page of a query's result. `source(from)` lists the identities of `devices` or `devices.modules` in ordinal
 * key order.
 */
export function runQuery(text: string, source: (from: Query['from']) => QueryDocument[], opts: { pageSize?: number; continuation?: string } = {}): QueryPage {
  const q = compileQuery(text);
  const size = opts.pageSize ?? QUERY_DEFAULT_PAGE_SIZE;
  const pos: Position = opts.continuation ? decodeToken(text, opts.continuation) : { returned: 0 };
  const limit = Math.min(size, q.top === undefined ? Infinity : q.top - pos.returned);
  const docs = source(q.from);
  const aggregate = q.groupBy !== undefined || (q.select !== '*' && q.select.some((p) => 'count' in p));
  const itemType = q.select === '*' ? 'twin' as const : 'raw' as const;
  const items: Json[] = [];
  let bytes = 0;
  /** Whether another item fits this page (always at least one). */
  const fits = (item: Json): boolean => {
    const n = Buffer.byteLength(JSON.stringify(item));
    if (items.length > 0 && bytes + n > QUERY_PAGE_MAX_BYTES) return false;
    bytes += n;
    return true;
  };
  if (aggregate) {
    // the whole result is computed (one item per group); pages are slices of it
    let all: JsonObject[];
    if (q.groupBy) {
      const groups = new Groups(q as Query & { groupBy: NonNullable<Query['groupBy']> });
      for (const d of docs) { const doc = d.doc(); if (matches(q, doc)) groups.add(doc); }
      all = groups.items();
    } else {
      let n = 0;
      for (const d of docs) if (matches(q, d.doc())) n++;
      const out: JsonObject = {};
      for (const p of q.select as Exclude<Query['select'], '*'>) if ('count' in p) Object.defineProperty(out, p.name, { value: n, enumerable: true, writable: true, configurable: true });
      all = [out];
    }
    let i = pos.offset ?? 0;
    for (; i < all.length && items.length < limit; i++) {
      if (!fits(all[i]!)) break;
      items.push(all[i]!);
    }
    const returned = pos.returned + items.length;
    const more = i < all.length && (q.top === undefined || returned < q.top);
    return { items, itemType, ...(more ? { continuation: encodeToken(text, { offset: i, returned }) } : {}) };
  }
  let last: string | undefined;
  let more = false;
  for (const d of docs) {
    if (pos.after !== undefined && !(d.key > pos.after)) continue;
    const doc = d.doc();
    if (!matches(q, doc)) continue;
    if (items.length >= limit) { more = true; break; }
    const item = q.select === '*' ? doc : project(q.select, doc);
    if (!fits(item)) { more = true; break; }
    items.push(item);
    last = d.key;
  }
  const returned = pos.returned + items.length;
  if (q.top !== undefined && returned >= q.top) more = false;
  return { items, itemType, ...(more && last !== undefined ? { continuation: encodeToken(text, { after: last, returned }) } : {}) };
}
