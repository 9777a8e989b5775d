// IoT Hub's query language, the part back ends use to find devices: `SELECT * | COUNT() AS n | path [AS a], … FROM
// devices[.modules] [WHERE …] [GROUP BY path, …]`, with = != <> < > <= >=, AND/OR/NOT, parentheses, IN [..], string,
// number, boolean and null literals, and IS_DEFINED and its kin. A hand-written recursive-descent parser: every
// syntax error is a QueryError saying where (line, column) and what was expected; length and nesting are bounded.
import type { Json } from '../../state/json.js';

/** Longest query text the hub reads (characters). */
export const QUERY_MAX_LENGTH = 8192;
/** Deepest nesting of parentheses, NOT and function calls in a condition. */
export const QUERY_MAX_NESTING = 40;
/** Most literals in one IN list. */
export const QUERY_MAX_IN_ITEMS = 1000;

export type CompareOp = '=' | '!=' | '<' | '>' | '<=' | '>=';

export type Expr =
  | { k: 'lit'; v: Json }
  | { k: 'path'; segs: (string | number)[]; text: string }
  | { k: 'cmp'; op: CompareOp; l: Expr; r: Expr }
  | { k: 'and' | 'or'; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'in'; e: Expr; list: Json[]; negate: boolean }
  | { k: 'call'; name: FunctionName; args: Expr[] };

export type Projection = { e: Expr & { k: 'path' }; name: string } | { count: true; name: string };

export interface Query {
  /** `*`, or the projected members (paths and COUNT()). */
  select: '*' | Projection[];
  top?: number;
  from: 'devices' | 'devices.modules';
  where?: Expr;
  groupBy?: (Expr & { k: 'path' })[];
}

/** The functions of IoT Hub's query language the local hub evaluates, with how many arguments each takes. */
export const FUNCTIONS = {
  IS_DEFINED: 1, IS_NULL: 1, IS_BOOL: 1, IS_NUMBER: 1, IS_STRING: 1, IS_OBJECT: 1, IS_ARRAY: 1, IS_PRIMITIVE: 1,
  STARTSWITH: 2, ENDSWITH: 2, CONTAINS: 2, LOWER: 1, UPPER: 1, LENGTH: 1,
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

/** A query the hub cannot read: the message names the line and column (1-based) and what was expected there. */
export class QueryError extends Error {
  constructor(message: string, readonly offset: number) { super(message); }
}

type Tok =
  | { t: 'ident'; v: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number; raw: string }
  | { t: 'op'; v: string; pos: number }
  | { t: 'end'; pos: number };

const KEYWORDS = new Set(['SELECT', 'TOP', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'AS', 'GROUP', 'BY', 'TRUE', 'FALSE', 'NULL']);

function where(text: string, offset: number): string {
  let line = 1, col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') { line++; col = 1; } else col++;
  }
  return `line ${line}, column ${col}`;
}

function describe(tok: Tok): string {
  switch (tok.t) {
    case 'end': return 'the end of the query';
    case 'str': return `the string ${JSON.stringify(tok.v.length > 30 ? tok.v.slice(0, 30) + '…' : tok.v)}`;
    case 'num': return `the number ${tok.raw}`;
    default: return `'${tok.v.length > 30 ? tok.v.slice(0, 30) + '…' : tok.v}'`;
  }
}

const isIdentStart = (c: string) => /[A-Za-z_$]/.test(c);
const isIdentPart = (c: string) => /[A-Za-z0-9_$]/.test(c);

function lex(text: string): Tok[] {
  const out: Tok[] = [];
  const bad = (msg: string, at: number) => new QueryError(`Syntax error at ${where(text, at)}: ${msg}`, at);
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    const start = i;
    if (isIdentStart(c)) {
      while (i < text.length && isIdentPart(text[i]!)) i++;
      out.push({ t: 'ident', v: text.slice(start, i), pos: start });
      continue;
    }
    if (/[0-9]/.test(c) || ((c === '-' || c === '.') && /[0-9]/.test(text[i + 1] ?? ''))) {
      const m = /^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400))!;
      const raw = m[0];
      i += raw.length;
      if (i < text.length && isIdentPart(text[i]!)) throw bad(`'${text.slice(start, i + 1)}' is not a number`, start);
      const v = Number(raw);
      if (!Number.isFinite(v)) throw bad(`the number ${raw} is out of range`, start);
      out.push({ t: 'num', v, pos: start, raw });
      continue;
    }
    if (c === "'" || c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw bad(`the string that starts here has no closing ${c}`, start);
        const d = text[i]!;
        if (d === c) { i++; break; }
        if (d === '\\') {
          const e = text[i + 1];
          if (e === undefined) throw bad(`the string that starts here has no closing ${c}`, start);
          if (e === 'u') {
            const hex = text.slice(i + 2, i + 6);
            if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw bad(`'\\u' must be followed by 4 hex digits`, i);
            v += String.fromCharCode(parseInt(hex, 16));
            i += 6;
            continue;
          }
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === 'b' ? '\b' : e === 'f' ? '\f' : e;
          i += 2;
          continue;
        }
        v += d;
        i++;
      }
      out.push({ t: 'str', v, pos: start });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      out.push({ t: 'op', v: two === '<>' ? '!=' : two, pos: start });
      i += 2;
      continue;
    }
    if ('=<>()[],.*'.includes(c)) {
      out.push({ t: 'op', v: c, pos: start });
      i++;
      continue;
    }
    throw bad(`unexpected character ${JSON.stringify(c)}`, start);
  }
  out.push({ t: 'end', pos: text.length });
  return out;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly text: string, private readonly toks: Tok[]) {}

  private get tok(): Tok { return this.toks[this.i]!; }

  private fail(expected: string, tok: Tok = this.tok): never {
    throw new QueryError(`Syntax error at ${where(this.text, tok.pos)}: expected ${expected}, found ${describe(tok)}`, tok.pos);
  }

  private isKeyword(word: string, tok: Tok = this.tok): boolean {
    return tok.t === 'ident' && tok.v.toUpperCase() === word;
  }

  private keyword(word: string): void {
    if (!this.isKeyword(word)) this.fail(word);
    this.i++;
  }

  private isOp(v: string): boolean { return this.tok.t === 'op' && this.tok.v === v; }

  private op(v: string, expected = `'${v}'`): void {
    if (!this.isOp(v)) this.fail(expected);
    this.i++;
  }

  private nest<T>(f: () => T): T {
    if (++this.depth > QUERY_MAX_NESTING) {
      throw new QueryError(`Query too complex at ${where(this.text, this.tok.pos)}: conditions nest deeper than ${QUERY_MAX_NESTING} levels`, this.tok.pos);
    }
    try { return f(); } finally { this.depth--; }
  }

  query(): Query {
    this.keyword('SELECT');
    let top: number | undefined;
    if (this.isKeyword('TOP')) {
      this.i++;
      const t = this.tok;
      if (t.t !== 'num' || !Number.isInteger(t.v) || t.v < 0) this.fail('a whole number after TOP');
      top = t.v;
      this.i++;
    }
    const select = this.selectList();
    this.keyword('FROM');
    const from = this.source();
    let whereExpr: Expr | undefined;
    if (this.isKeyword('WHERE')) {
      this.i++;
      whereExpr = this.expr();
    }
    let groupBy: (Expr & { k: 'path' })[] | undefined;
    if (this.isKeyword('GROUP')) {
      this.i++;
      this.keyword('BY');
      groupBy = [this.path()];
      while (this.isOp(',')) { this.i++; groupBy.push(this.path()); }
    }
    if (this.tok.t !== 'end') this.fail(whereExpr || groupBy ? 'AND, OR, GROUP BY or the end of the query' : 'WHERE, GROUP BY or the end of the query');
    const q: Query = { select, from, ...(top !== undefined ? { top } : {}), ...(whereExpr ? { where: whereExpr } : {}), ...(groupBy ? { groupBy } : {}) };
    checkGrouping(q, this.text);
    return q;
  }

  private selectList(): '*' | Projection[] {
    if (this.isOp('*')) { this.i++; return '*'; }
    const items: Projection[] = [];
    const names = new Set<string>();
    for (;;) {
      const start = this.tok;
      let item: Projection;
      if (this.isKeyword('COUNT')) {
        this.i++;
        this.op('(', "'(' after COUNT");
        this.op(')', "')': COUNT() takes no argument");
        item = { count: true, name: this.alias() ?? '$1' };
      } else {
        const e = this.path('a property path, COUNT() or *');
        const segs = e.segs;
        item = { e, name: this.alias() ?? String(segs[segs.length - 1]) };
      }
      if (names.has(item.name)) throw new QueryError(`Syntax error at ${where(this.text, start.pos)}: the name '${item.name}' is selected twice (give one an AS name)`, start.pos);
      names.add(item.name);
      items.push(item);
      if (!this.isOp(',')) return items;
      this.i++;
    }
  }

  private alias(): string | undefined {
    if (!this.isKeyword('AS')) return undefined;
    this.i++;
    const t = this.tok;
    if (t.t !== 'ident' || KEYWORDS.has(t.v.toUpperCase())) this.fail('a name after AS');
    this.i++;
    return t.v;
  }

  private source(): Query['from'] {
    const t = this.tok;
    if (t.t !== 'ident' || t.v.toLowerCase() !== 'devices') this.fail("'devices' or 'devices.modules'");
    this.i++;
    if (this.isOp('.')) {
      this.i++;
      const m = this.tok;
      if (m.t !== 'ident' || m.v.toLowerCase() !== 'modules') this.fail("'modules' after 'devices.'");
      this.i++;
      return 'devices.modules';
    }
    return 'devices';
  }

  /** `a.b.c`, `a['b c']`, `a[0]`: a path into the twin; a reserved word cannot start one. */
  private path(expected = 'a property path'): Expr & { k: 'path' } {
    const first = this.tok;
    if (first.t !== 'ident' || KEYWORDS.has(first.v.toUpperCase())) this.fail(expected);
    this.i++;
    const segs: (string | number)[] = [first.v];
    for (;;) {
      if (this.isOp('.')) {
        this.i++;
        const t = this.tok;
        if (t.t !== 'ident') this.fail("a property name after '.'");
        segs.push(t.v);
        this.i++;
      } else if (this.isOp('[')) {
        this.i++;
        const t = this.tok;
        if (t.t === 'str') segs.push(t.v);
        else if (t.t === 'num' && Number.isInteger(t.v) && t.v >= 0) segs.push(t.v);
        else this.fail("a quoted property name or an array index inside '[ ]'");
        this.i++;
        this.op(']');
      } else break;
    }
    const end = this.toks[this.i - 1]!;
    const endPos = end.t === 'op' ? end.pos + end.v.length : end.t === 'ident' ? end.pos + end.v.length : end.pos + 1;
    return { k: 'path', segs, text: this.text.slice(first.pos, endPos) };
  }

  expr(): Expr { return this.nest(() => this.or()); }

  private or(): Expr {
    let l = this.and();
    while (this.isKeyword('OR')) { this.i++; l = { k: 'or', l, r: this.and() }; }
    return l;
  }

  private and(): Expr {
    let l = this.not();
    while (this.isKeyword('AND')) { this.i++; l = { k: 'and', l, r: this.not() }; }
    return l;
  }

  private not(): Expr {
    if (this.isKeyword('NOT')) {
      this.i++;
      return this.nest(() => ({ k: 'not', e: this.not() }));
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const l = this.operand();
    const t = this.tok;
    if (t.t === 'op' && ['=', '!=', '<', '>', '<=', '>='].includes(t.v)) {
      this.i++;
      return { k: 'cmp', op: t.v as CompareOp, l, r: this.operand() };
    }
    let negate = false;
    if (this.isKeyword('NOT') && this.isKeyword('IN', this.toks[this.i + 1])) { negate = true; this.i++; }
    if (this.isKeyword('IN')) {
      this.i++;
      if (!this.isOp('[')) this.fail("'[' (IN takes a list in brackets: IN ['a', 'b'])");
      this.i++;
      const list: Json[] = [];
      if (!this.isOp(']')) {
        for (;;) {
          if (list.length >= QUERY_MAX_IN_ITEMS) throw new QueryError(`Query too complex at ${where(this.text, this.tok.pos)}: an IN list holds at most ${QUERY_MAX_IN_ITEMS} values`, this.tok.pos);
          list.push(this.literal('a literal value in the IN list'));
          if (this.isOp(']')) break;
          this.op(',', "',' or ']'");
        }
      }
      this.i++;
      return { k: 'in', e: l, list, negate };
    }
    return l;
  }

  private literal(expected: string): Json {
    const t = this.tok;
    if (t.t === 'str' || t.t === 'num') { this.i++; return t.v; }
    if (this.isKeyword('TRUE')) { this.i++; return true; }
    if (this.isKeyword('FALSE')) { this.i++; return false; }
    if (this.isKeyword('NULL')) { this.i++; return null; }
    return this.fail(expected);
  }

  private operand(): Expr {
    const t = this.tok;
    if (t.t === 'str' || t.t === 'num' || this.isKeyword('TRUE') || this.isKeyword('FALSE') || this.isKeyword('NULL')) {
      return { k: 'lit', v: this.literal('a value') };
    }
    if (this.isOp('(')) {
      this.i++;
      const e = this.expr();
      this.op(')', "')'");
      return e;
    }
    if (t.t === 'ident' && !KEYWORDS.has(t.v.toUpperCase()) && this.toks[this.i + 1]?.t === 'op' && (this.toks[this.i + 1] as { v: string }).v === '(') {
      const name = t.v.toUpperCase();
      if (!Object.hasOwn(FUNCTIONS, name)) {
        throw new QueryError(`Syntax error at ${where(this.text, t.pos)}: unknown function '${t.v}' (the local hub has ${Object.keys(FUNCTIONS).join(', ')})`, t.pos);
      }
      const fn = name as FunctionName;
      this.i += 2;
      return this.nest(() => {
        const args: Expr[] = [];
        if (!this.isOp(')')) {
          for (;;) {
            args.push(this.expr());
            if (this.isOp(')')) break;
            this.op(',', "',' or ')'");
          }
        }
        if (args.length !== FUNCTIONS[fn]) {
          throw new QueryError(`Syntax error at ${where(this.text, t.pos)}: ${fn} takes ${FUNCTIONS[fn]} argument${FUNCTIONS[fn] === 1 ? '' : 's'}, not ${args.length}`, t.pos);
        }
        this.i++;
        return { k: 'call', name: fn, args };
      });
    }
    return this.path('a value, a property path or a condition');
  }
}

/** With GROUP BY, every selected path must be grouped; COUNT() needs GROUP BY unless it is all that is selected. */
function checkGrouping(q: Query, text: string): void {
  const sel = q.select;
  const err = (msg: string) => new QueryError(`Invalid query: ${msg}`, 0);
  if (q.groupBy) {
    if (sel === '*') throw err('SELECT * cannot be grouped: select the GROUP BY paths and COUNT()');
    for (const p of sel) {
      if ('count' in p) continue;
      if (!q.groupBy.some((g) => samePath(g.segs, p.e.segs))) throw err(`'${p.e.text}' is selected but not in GROUP BY`);
    }
  } else if (sel !== '*' && sel.some((p) => 'count' in p) && sel.some((p) => !('count' in p))) {
    throw err('COUNT() with other selected values needs GROUP BY those values');
  }
  void text;
}

function samePath(a: (string | number)[], b: (string | number)[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/** Parses a query, or throws a QueryError saying where it went wrong. */
export function parseQuery(text: string): Query {
  if (typeof text !== 'string' || text.trim() === '') throw new QueryError('Invalid query: the query is empty', 0);
  if (text.length > QUERY_MAX_LENGTH) throw new QueryError(`Invalid query: ${text.length} characters, over the limit of ${QUERY_MAX_LENGTH}`, QUERY_MAX_LENGTH);
  return new Parser(text, lex(text)).query();
}
