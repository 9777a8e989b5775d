// Evaluating a parsed query over twin documents, with the query language's three-valued logic: a missing property
// is *undefined*, a comparison with undefined or between different types is undefined, and WHERE keeps only what is
// true. Property paths are walked through own members only: a member named `__proto__` or `constructor` is data.
import { isObject, setMember, type Json, type JsonObject } from '../../state/json.js';
import type { CompareOp, Expr, Projection, Query } from './parse.js';

type Value = Json | undefined;

/** The value at a path, through own members (and array indexes) only; undefined when any step is missing. */
export function lookup(doc: Json, segs: readonly (string | number)[]): Value {
  let cur: Value = doc;
  for (const s of segs) {
    if (Array.isArray(cur)) {
      if (typeof s !== 'number' || s >= cur.length) return undefined;
      cur = cur[s];
    } else if (isObject(cur)) {
      const k = String(s);
      if (!Object.hasOwn(cur, k)) return undefined;
      cur = cur[k];
    } else return undefined;
  }
  return cur;
}

const kind = (v: Value): string => (v === undefined ? 'undefined' : v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function compare(op: CompareOp, a: Value, b: Value): boolean | undefined {
  const ka = kind(a), kb = kind(b);
  if (ka === 'undefined' || kb === 'undefined' || ka !== kb) return undefined;
  if (ka === 'object' || ka === 'array') return undefined;
  if (op === '=') return a === b;
  if (op === '!=') return a !== b;
  if (ka !== 'number' && ka !== 'string') return undefined;
  const x = a as number | string, y = b as number | string;
  switch (op) {
    case '<': return x < y;
    case '>': return x > y;
    case '<=': return x <= y;
    case '>=': return x >= y;
  }
}

const bool = (v: Value): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

export function evaluate(e: Expr, doc: JsonObject): Value {
  switch (e.k) {
    case 'lit': return e.v;
    case 'path': return lookup(doc, e.segs);
    case 'cmp': return compare(e.op, evaluate(e.l, doc), evaluate(e.r, doc));
    case 'and': {
      const l = bool(evaluate(e.l, doc));
      if (l === false) return false;
      const r = bool(evaluate(e.r, doc));
      if (r === false) return false;
      return l === true && r === true ? true : undefined;
    }
    case 'or': {
      const l = bool(evaluate(e.l, doc));
      if (l === true) return true;
      const r = bool(evaluate(e.r, doc));
      if (r === true) return true;
      return l === false && r === false ? false : undefined;
    }
    case 'not': {
      const v = bool(evaluate(e.e, doc));
      return v === undefined ? undefined : !v;
    }
    case 'in': {
      const v = evaluate(e.e, doc);
      const k = kind(v);
      if (k === 'undefined' || k === 'object' || k === 'array') return undefined;
      const hit = e.list.some((x) => x === v);
      return e.negate ? !hit : hit;
    }
    case 'call': {
      const args = e.args.map((a) => evaluate(a, doc));
      const a = args[0];
      switch (e.name) {
        case 'IS_DEFINED': return a !== undefined;
        case 'IS_NULL': return a === null;
        case 'IS_BOOL': return typeof a === 'boolean';
        case 'IS_NUMBER': return typeof a === 'number';
        case 'IS_STRING': return typeof a === 'string';
        case 'IS_OBJECT': return isObject(a);
        case 'IS_ARRAY': return Array.isArray(a);
        case 'IS_PRIMITIVE': return a === null || ['boolean', 'number', 'string'].includes(typeof a);
        case 'LOWER': return typeof a === 'string' ? a.toLowerCase() : undefined;
        case 'UPPER': return typeof a === 'string' ? a.toUpperCase() : undefined;
        case 'LENGTH': return typeof a === 'string' ? [...a].length : undefined;
        case 'STARTSWITH': case 'ENDSWITH': case 'CONTAINS': {
          const b = args[1];
          if (typeof a !== 'string' || typeof b !== 'string') return undefined;
          return e.name === 'STARTSWITH' ? a.startsWith(b) : e.name === 'ENDSWITH' ? a.endsWith(b) : a.includes(b);
        }
      }
    }
  }
}

/** Whether a document passes the query's WHERE (a query without one keeps every document). */
export function matches(q: Query, doc: JsonObject): boolean {
  return q.where === undefined || evaluate(q.where, doc) === true;
}

/** A projected item: each selected path by its name, members whose value is undefined left out. */
export function project(items: Projection[], doc: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const p of items) {
    if ('count' in p) continue;
    const v = lookup(doc, p.e.segs);
    if (v !== undefined) setMember(out, p.name, v);
  }
  return out;
}

/**
 * GROUP BY: one item per distinct tuple of grouped values (documents where a grouped path is undefined form their
 * own group, where that member is left out), with each COUNT() the group's size; in order of first appearance.
 */
export class Groups {
  private readonly groups = new Map<string, { item: JsonObject; n: number }>();
  constructor(private readonly q: Query & { groupBy: NonNullable<Query['groupBy']> }) {}

  add(doc: JsonObject): void {
    const values = this.q.groupBy.map((g) => lookup(doc, g.segs));
    const k = JSON.stringify(values.map((v) => (v === undefined ? { u: 1 } : { v })));
    const g = this.groups.get(k);
    if (g) { g.n++; return; }
    this.groups.set(k, { item: project(this.q.select as Projection[], doc), n: 1 });
  }

  items(): JsonObject[] {
    return [...this.groups.values()].map(({ item, n }) => {
      const out: JsonObject = {};
      for (const p of this.q.select as Projection[]) {
        if ('count' in p) setMember(out, p.name, n);
        else if (Object.hasOwn(item, p.name)) setMember(out, p.name, item[p.name]!);
      }
      return out;
    });
  }
}
