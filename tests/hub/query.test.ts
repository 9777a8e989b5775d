// The hub's query language on its own (host/hub/service/query/): a table of queries and the ids each must find over a
// fixed fleet of twins, syntax errors that say where, three-valued logic, own-member paths, paging through
// continuation tokens, and fast-check properties (paging never loses or repeats an item; any text is a query or a
// named 400, never a crash; printed conditions parse back to the same tree).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from '../support/fast-check.js';
import { parseQuery, QueryError, QUERY_MAX_LENGTH, QUERY_MAX_NESTING, type Expr } from '../../host/hub/service/query/parse.js';
import { runQuery, type QueryDocument } from '../../host/hub/service/query/run.js';
import { HubError } from '../../host/hub/errors.js';
import type { JsonObject } from '../../host/hub/state/json.js';

function twin(deviceId: string, o: { tags?: JsonObject; desired?: JsonObject; reported?: JsonObject; status?: string; connected?: boolean; edge?: boolean; moduleId?: string } = {}): JsonObject {
  return {
    deviceId, ...(o.moduleId ? { moduleId: o.moduleId } : {}), etag: 'AAAA', version: 2,
    status: o.status ?? 'enabled', connectionState: o.connected ? 'Connected' : 'Disconnected',
    tags: o.tags ?? {}, properties: { desired: { ...(o.desired ?? {}), $version: 1 }, reported: { ...(o.reported ?? {}), $version: 1 } },
    authenticationType: 'sas', capabilities: { iotEdge: o.edge ?? false },
  };
}

const protoTags = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": "c"}') as JsonObject;

const FLEET: JsonObject[] = [
  twin('dev-a', { tags: { location: { region: 'US', plant: 'Redmond43' }, floor: 1 }, reported: { firmware: '1.2.0', temp: 21.5 }, connected: true }),
  twin('dev-b', { tags: { location: { region: 'EU', plant: 'Dublin1' }, floor: 2 }, reported: { firmware: '1.3.0', temp: 30 }, desired: { telemetryInterval: 10 } }),
  twin('dev-c', { tags: { location: { region: 'US', plant: 'Austin' } }, reported: { firmware: '1.3.0' }, status: 'disabled' }),
  twin('edge-1', { tags: { floor: 3, flags: [1, 2] }, edge: true, connected: true, desired: { telemetryInterval: 60 } }),
  twin('odd', { tags: { ...protoTags, nothing: null, 'with space': 'yes' }, reported: { temp: '20' } }),
];

/** What the REST API hands a query: `devices` or `devices.modules`, in ordinal key order. */
function source(docs: JsonObject[]): (from: 'devices' | 'devices.modules') => QueryDocument[] {
  return (from) => docs.filter((d) => (from === 'devices') === (d['moduleId'] === undefined)).map((d) => ({ key: String(d['deviceId']) + (d['moduleId'] ? `/${String(d['moduleId'])}` : ''), doc: () => d }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function ids(sql: string, docs = FLEET): string[] {
  const page = runQuery(sql, source(docs), { pageSize: 1000 });
  assert.equal(page.continuation, undefined, `${sql}: one page`);
  return page.items.map((t) => String((t as JsonObject)['deviceId']));
}

const TABLE: [string, string[]][] = [
  ['SELECT * FROM devices', ['dev-a', 'dev-b', 'dev-c', 'edge-1', 'odd']],
  ["select * from devices where deviceId = 'dev-b'", ['dev-b']],
  ["SELECT * FROM devices WHERE tags.location.region = 'US'", ['dev-a', 'dev-c']],
  ["SELECT * FROM devices WHERE tags.location.region != 'US'", ['dev-b']],
  ["SELECT * FROM devices WHERE tags.location.region <> 'US'", ['dev-b']],
  ["SELECT * FROM devices WHERE NOT (tags.location.region = 'US')", ['dev-b']],
  ["SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.firmware = '1.3.0'", ['dev-c']],
  ["SELECT * FROM devices WHERE tags.location.region = 'EU' OR tags.floor >= 3", ['dev-b', 'edge-1']],
  ["SELECT * FROM devices WHERE (tags.location.region = 'EU' OR tags.floor >= 3) AND connectionState = 'Connected'", ['edge-1']],
  ['SELECT * FROM devices WHERE tags.floor > 1', ['dev-b', 'edge-1']],
  ['SELECT * FROM devices WHERE tags.floor < 2', ['dev-a']],
  ['SELECT * FROM devices WHERE tags.floor <= 2', ['dev-a', 'dev-b']],
  ['SELECT * FROM devices WHERE properties.reported.temp > 25', ['dev-b']],
  // a string is not compared with a number
  ["SELECT * FROM devices WHERE properties.reported.temp > '1'", ['odd']],
  ["SELECT * FROM devices WHERE properties.reported.firmware >= '1.3'", ['dev-b', 'dev-c']],
  ['SELECT * FROM devices WHERE IS_DEFINED(properties.desired.telemetryInterval)', ['dev-b', 'edge-1']],
  ['SELECT * FROM devices WHERE NOT IS_DEFINED(tags.location)', ['edge-1', 'odd']],
  ["SELECT * FROM devices WHERE tags.location.plant IN ['Austin', 'Dublin1', 'nowhere']", ['dev-b', 'dev-c']],
  ["SELECT * FROM devices WHERE tags.location.plant NOT IN ['Austin']", ['dev-a', 'dev-b']],
  ["SELECT * FROM devices WHERE deviceId IN []", []],
  ["SELECT * FROM devices WHERE status = 'disabled'", ['dev-c']],
  ['SELECT * FROM devices WHERE capabilities.iotEdge = true', ['edge-1']],
  ['SELECT * FROM devices WHERE capabilities.iotEdge = false AND connectionState = "Connected"', ['dev-a']],
  ['SELECT * FROM devices WHERE tags.nothing = null', ['odd']],
  ['SELECT * FROM devices WHERE IS_NULL(tags.nothing) AND IS_DEFINED(tags.nothing)', ['odd']],
  ['SELECT * FROM devices WHERE properties.desired.$version = 1 AND tags.floor = 2', ['dev-b']],
  ["SELECT * FROM devices WHERE tags['with space'] = 'yes'", ['odd']],
  ['SELECT * FROM devices WHERE tags.flags[1] = 2', ['edge-1']],
  ["SELECT * FROM devices WHERE STARTSWITH(deviceId, 'dev-') AND NOT ENDSWITH(deviceId, 'c')", ['dev-a', 'dev-b']],
  ["SELECT * FROM devices WHERE CONTAINS(LOWER(tags.location.plant), 'dub')", ['dev-b']],
  ['SELECT TOP 2 * FROM devices', ['dev-a', 'dev-b']],
  // member names are data: the prototype's members are not the twin's, a `__proto__` member is
  ["SELECT * FROM devices WHERE tags.__proto__.polluted = 'yes'", ['odd']],
  ["SELECT * FROM devices WHERE tags.constructor = 'c'", ['odd']],
  ['SELECT * FROM devices WHERE IS_DEFINED(tags.toString) OR IS_DEFINED(tags.hasOwnProperty) OR IS_DEFINED(tags.location.__proto__)', []],
  ['SELECT * FROM devices WHERE IS_DEFINED(deviceId.length)', []],
];

test('each query of the table finds exactly its devices, in id order', () => {
  for (const [sql, want] of TABLE) assert.deepEqual(ids(sql), want, sql);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype was touched');
});

test('a comparison with a missing property is undefined: neither it nor its NOT matches (three-valued logic)', () => {
  const a = ids("SELECT * FROM devices WHERE tags.location.region = 'US'");
  const notA = ids("SELECT * FROM devices WHERE NOT (tags.location.region = 'US')");
  const either = ids("SELECT * FROM devices WHERE tags.location.region = 'US' OR NOT (tags.location.region = 'US')");
  assert.deepEqual(either, [...a, ...notA].sort());
  assert.ok(!either.includes('edge-1') && !either.includes('odd'), 'devices without the tag match neither');
  // OR with a true side is true, AND with a false side is false, whatever the undefined side
  assert.deepEqual(ids("SELECT * FROM devices WHERE tags.missing = 1 OR deviceId = 'odd'"), ['odd']);
  assert.deepEqual(ids("SELECT * FROM devices WHERE NOT (tags.missing = 1 AND deviceId = 'x')"), FLEET.map((d) => String(d['deviceId'])));
});

test('COUNT() AS n answers one raw item; projections keep the selected paths by name; GROUP BY counts each group', () => {
  const count = runQuery("SELECT COUNT() AS numberOfDevices FROM devices WHERE tags.location.region = 'US'", source(FLEET));
  assert.deepEqual([count.items, count.itemType], [[{ numberOfDevices: 2 }], 'raw']);
  assert.deepEqual(runQuery('SELECT COUNT() FROM devices', source(FLEET)).items, [{ $1: 5 }]);
  const proj = runQuery("SELECT deviceId, tags.location.region AS region, properties.reported.temp FROM devices WHERE STARTSWITH(deviceId, 'dev')", source(FLEET));
  assert.equal(proj.itemType, 'raw');
  assert.deepEqual(proj.items, [{ deviceId: 'dev-a', region: 'US', temp: 21.5 }, { deviceId: 'dev-b', region: 'EU', temp: 30 }, { deviceId: 'dev-c', region: 'US' }]);
  const groups = runQuery('SELECT properties.reported.firmware AS fw, COUNT() AS n FROM devices GROUP BY properties.reported.firmware', source(FLEET));
  assert.deepEqual(groups.items, [{ fw: '1.2.0', n: 1 }, { fw: '1.3.0', n: 2 }, { n: 2 }]);
  assert.equal(runQuery('SELECT * FROM devices', source(FLEET)).itemType, 'twin');
});

test('FROM devices.modules sees module twins only', () => {
  const docs = [...FLEET, twin('dev-a', { moduleId: 'm1', reported: { ok: true } }), twin('dev-b', { moduleId: 'm1' })];
  const page = runQuery('SELECT * FROM devices.modules WHERE properties.reported.ok = true', source(docs));
  assert.deepEqual(page.items.map((t) => [(t as JsonObject)['deviceId'], (t as JsonObject)['moduleId']]), [['dev-a', 'm1']]);
  assert.equal(ids('SELECT * FROM devices', docs).length, FLEET.length, 'FROM devices has no modules');
});

/** The 400 a query is refused with. */
function refusal(sql: string, opts: { continuation?: string } = {}): string {
  try {
    runQuery(sql, source(FLEET), opts);
  } catch (e) {
    assert.ok(e instanceof HubError, `${sql}: a HubError, not ${String(e)}`);
    assert.deepEqual([e.status, e.code], [400, 'BadRequest']);
    return e.message;
  }
  assert.fail(`${sql}: accepted`);
}

test('every syntax error is a 400 BadRequest naming the line, the column and what was expected there', () => {
  const cases: [string, RegExp][] = [
    ['SELEC * FROM devices', /line 1, column 1: expected SELECT, found 'SELEC'/],
    ['SELECT * FROM devics', /line 1, column 15: expected 'devices' or 'devices.modules', found 'devics'/],
    ["SELECT * FROM devices WHERE tags.x = 'open", /line 1, column 38: the string that starts here has no closing '/],
    ['SELECT * FROM devices WHERE tags.x =', /line 1, column 37: expected a value, a property path or a condition, found the end of the query/],
    ['SELECT * FROM devices WHERE (tags.x = 1', /column 40: expected '\)', found the end/],
    ['SELECT * FROM devices WHERE tags.x = 1 tags.y = 2', /column 40: expected AND, OR, GROUP BY or the end of the query, found 'tags'/],
    ["SELECT * FROM devices WHERE tags.x IN ('a')", /expected '\[' \(IN takes a list in brackets/],
    ['SELECT * FROM devices WHERE STARTS_WITH(deviceId, "a")', /column 29: unknown function 'STARTS_WITH'/],
    ['SELECT * FROM devices WHERE IS_DEFINED(a, b)', /IS_DEFINED takes 1 argument, not 2/],
    ['SELECT * FROM devices WHERE tags.x = 1 ;', /column 40: unexpected character ";"/],
    ['SELECT *\nFROM devices\nWHERE tags.x == 1', /line 3, column 15: expected a value/],
    ['SELECT TOP x * FROM devices', /expected a whole number after TOP/],
    ['SELECT deviceId, COUNT() AS n FROM devices', /COUNT\(\) with other selected values needs GROUP BY/],
    ['SELECT tags.a, COUNT() AS n FROM devices GROUP BY tags.b', /'tags.a' is selected but not in GROUP BY/],
    ['', /the query is empty/],
  ];
  for (const [sql, re] of cases) assert.match(refusal(sql), re, JSON.stringify(sql));
  assert.match(refusal('SELECT * FROM devices WHERE ' + 'x = 1 OR '.repeat(QUERY_MAX_LENGTH / 9) + 'x = 1'), /over the limit of 8192/);
  assert.match(refusal('SELECT * FROM devices WHERE ' + '('.repeat(QUERY_MAX_NESTING + 1) + 'x = 1' + ')'.repeat(QUERY_MAX_NESTING + 1)), /nest deeper than 40 levels/);
  assert.match(refusal('SELECT * FROM devices WHERE ' + 'NOT '.repeat(500) + 'x = 1'), /nest deeper than/);
});

function pages(sql: string, docs: JsonObject[], size: number): JsonObject[][] {
  const out: JsonObject[][] = [];
  let continuation: string | undefined;
  do {
    const p = runQuery(sql, source(docs), { pageSize: size, ...(continuation ? { continuation } : {}) });
    out.push(p.items as JsonObject[]);
    continuation = p.continuation;
    assert.ok(out.length <= docs.length + 2, 'paging ends');
  } while (continuation);
  return out;
}

test('paging: x-ms-max-item-count items per page, a continuation token until the last page, none on it; tokens are bound to their query', () => {
  const got = pages('SELECT * FROM devices', FLEET, 2);
  assert.deepEqual(got.map((p) => p.map((t) => t['deviceId'])), [['dev-a', 'dev-b'], ['dev-c', 'edge-1'], ['odd']]);
  const top = pages('SELECT TOP 3 * FROM devices', FLEET, 2);
  assert.deepEqual(top.map((p) => p.length), [2, 1]);
  const first = runQuery('SELECT * FROM devices', source(FLEET), { pageSize: 1 });
  assert.match(refusal('SELECT deviceId FROM devices', { continuation: first.continuation! }), /belongs to another query/);
  assert.match(refusal('SELECT * FROM devices', { continuation: 'not-a-token' }), /x-ms-continuation token is malformed/);
  // a device added before the cursor between pages does not shift the rest
  const more = [...FLEET, twin('aaa')];
  const next = runQuery('SELECT * FROM devices', source(more), { pageSize: 10, continuation: first.continuation! });
  assert.deepEqual(next.items.map((t) => (t as JsonObject)['deviceId']), ['dev-b', 'dev-c', 'edge-1', 'odd']);
});

test('property: any page size pages a query to the same items as one page, none lost or repeated', () => {
  const fleet = fc.uniqueArray(fc.record({ id: fc.stringMatching(/^[a-z0-9-]{1,8}$/), floor: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }) }), { selector: (r) => r.id, maxLength: 40 });
  fc.assert(fc.property(fleet, fc.integer({ min: 1, max: 12 }), fc.constantFrom('SELECT * FROM devices', 'SELECT * FROM devices WHERE tags.floor >= 2', 'SELECT deviceId FROM devices WHERE NOT IS_DEFINED(tags.floor)', 'SELECT TOP 7 * FROM devices',
    'SELECT tags.floor AS f, COUNT() AS n FROM devices GROUP BY tags.floor'), (devs, size, sql) => {
    const docs = devs.map((d) => twin(d.id, { tags: d.floor === undefined ? {} : { floor: d.floor } }));
    const whole = runQuery(sql, source(docs), { pageSize: 1000 }).items;
    const paged = pages(sql, docs, size);
    assert.deepEqual(paged.flat(), whole);
    assert.ok(paged.every((p, i) => p.length === size || i === paged.length - 1));
  }), fcParams(150));
});

test('property: any text is either a query or a QueryError with an offset inside it, never another exception', () => {
  const pieces = fc.constantFrom('SELECT', '*', 'FROM', 'devices', 'WHERE', 'tags', '.', 'x', '=', '!=', '<', '>=', "'a'", '"b', '1', '-2.5e3', 'AND', 'OR', 'NOT',
    '(', ')', 'IN', '[', ']', ',', 'IS_DEFINED', 'COUNT()', 'AS', 'n', 'GROUP', 'BY', 'TOP', 'null', 'true', '\\', '\n', '__proto__');
  const text = fc.oneof(fc.string({ maxLength: 60 }), fc.array(pieces, { maxLength: 25 }).map((a) => a.join(' ')),
    fc.array(pieces, { maxLength: 25 }).map((a) => 'SELECT * FROM devices WHERE ' + a.join(' ')));
  fc.assert(fc.property(text, (t) => {
    try {
      parseQuery(t);
    } catch (e) {
      if (!(e instanceof QueryError)) throw e;
      assert.ok(e.offset >= 0 && e.offset <= t.length, `offset ${e.offset} in ${t.length} characters`);
      assert.match(e.message, /^(Syntax error at line \d+, column \d+|Invalid query|Query too complex)/);
    }
  }), fcParams(500));
});

/** Prints a condition the way a back end would write it (fully parenthesised). */
function print(e: Expr): string {
  switch (e.k) {
    case 'lit': return JSON.stringify(e.v);
    case 'path': return e.segs.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
    case 'cmp': return `(${print(e.l)} ${e.op} ${print(e.r)})`;
    case 'and': case 'or': return `(${print(e.l)} ${e.k.toUpperCase()} ${print(e.r)})`;
    case 'not': return `(NOT ${print(e.e)})`;
    case 'in': return `(${print(e.e)}${e.negate ? ' NOT' : ''} IN [${e.list.map((v) => JSON.stringify(v)).join(', ')}])`;
    case 'call': return `${e.name}(${e.args.map(print).join(', ')})`;
  }
}

test('property: a printed condition parses back to the same tree', () => {
  const lit = fc.oneof(fc.string({ maxLength: 6 }), fc.integer({ min: -1000, max: 1000 }), fc.boolean(), fc.constant(null));
  const path = fc.array(fc.stringMatching(/^[a-z_$][a-z0-9_$]{0,5}$/).filter((s) => !['in', 'or', 'and', 'not', 'as', 'by', 'top', 'from', 'group', 'where', 'select', 'true', 'false', 'null'].includes(s)), { minLength: 1, maxLength: 3 })
    .map((segs) => ({ k: 'path' as const, segs, text: '' }));
  const { expr } = fc.letrec<{ expr: Expr; operand: Expr }>((tie) => ({
    operand: fc.oneof(lit.map((v) => ({ k: 'lit' as const, v })), path),
    expr: fc.oneof({ depthSize: 'small', withCrossShrink: true },
      fc.record({ k: fc.constant('cmp' as const), op: fc.constantFrom('=', '!=', '<', '>', '<=', '>=' as const), l: tie('operand'), r: tie('operand') }),
      fc.record({ k: fc.constantFrom('and' as const, 'or' as const), l: tie('expr'), r: tie('expr') }),
      fc.record({ k: fc.constant('not' as const), e: tie('expr') }),
      fc.record({ k: fc.constant('in' as const), e: path, list: fc.array(lit, { maxLength: 3 }), negate: fc.boolean() }),
      fc.record({ k: fc.constant('call' as const), name: fc.constant('IS_DEFINED' as const), args: path.map((p) => [p]) }),
    ) as fc.Arbitrary<Expr>,
  }));
  const strip = (e: unknown): unknown => JSON.parse(JSON.stringify(e, (k, v: unknown) => (k === 'text' ? undefined : v)));
  fc.assert(fc.property(expr, (e) => {
    const q = parseQuery(`SELECT * FROM devices WHERE ${print(e)}`);
    assert.deepEqual(strip(q.where), strip(e));
  }), fcParams(300));
});
