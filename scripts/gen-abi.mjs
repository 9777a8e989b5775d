#!/usr/bin/env node
// Generates the host's and the boards' view of the core's ABI from the core itself:
//   host/wasm/abi.generated.ts   typed exports (names and arities of each build), status/event/option/state
//                                numbers and record layouts
//   boards/c/iothub_wasm_abi.h   the same as C #defines and X-macro lists
//   boards/README.md             the tables between `<!-- abi:NAME -->` and `<!-- /abi:NAME -->`
//
// Nothing here is a second copy of a number. Where each fact comes from:
//   - exports and their wasm signatures: the built modules (build/gateway.wasm, build/mcu.wasm); parameter names
//     and doc comments from the AssemblyScript declarations of those exports;
//   - status codes and names: `abi_status_name(code)` of both built modules, asked for every code in the status range;
//   - constant groups (GROUPS below) and record layouts (RECORDS below): the AssemblyScript files named there,
//     whose values and `offsetof` layouts are evaluated by compiling a small probe module against them.
//
// `node scripts/gen-abi.mjs` writes the files; `--check` writes nothing and exits 1 naming each stale file.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
/** `--layout`: only the snapshot layout hash (before the modules are built, since they include it). */
const layoutOnly = process.argv.includes('--layout');
const rel = (p) => relative(root, p).split('\\').join('/');

/** Constant groups: every `export const` of `file` whose name starts with `prefix` (the key is the rest). */
const GROUPS = [
  { name: 'EVENT', file: 'assembly/client/events.ts', prefix: 'EV_', c: 'EV_', doc: 'Event types (client_poll)' },
  { name: 'OPTION', file: 'assembly/client/options.ts', prefix: 'OPT_', c: 'OPT_', doc: 'Options (client_option_set)' },
  { name: 'OPTION_DEFAULT', file: 'assembly/client/options.ts', prefix: 'DEFAULT_', c: 'DEFAULT_', doc: 'Option defaults, by option name' },
  { name: 'TRANSPORT', file: 'assembly/client/options.ts', prefix: 'TRANSPORT_', c: 'TRANSPORT_', doc: 'Transports (client_endpoint_port)' },
  { name: 'STORE_KIND', file: 'assembly/client/store.ts', prefix: 'STORE_', c: 'STORE_', doc: 'Store record kinds (client_store_kind)' },
  { name: 'FEATURE', file: 'assembly/client/options.ts', prefix: 'FEATURE_', exclude: ['FEATURES_ALL'], c: 'FEATURE_', doc: 'Feature bits (OPT_FEATURES)' },
  { name: 'STATE', file: 'assembly/client/states.ts', prefix: 'STATE_', c: 'STATE_', doc: 'Client states (client_state)' },
  { name: 'WANT', file: 'assembly/client/states.ts', prefix: 'WANT_', c: 'WANT_', doc: 'What the board should do (client_wants)' },
  { name: 'SYSTEM_PROPERTY', file: 'assembly/iothub/property-bag.ts', prefix: 'SYS_', exclude: ['SYS_COUNT'], c: 'SYS_', doc: 'System properties (client_telemetry_system_add, bag items)' },
  { name: 'SUBSCRIPTION', file: 'assembly/iothub/topics.ts', prefix: 'SUB_', c: 'SUB_', doc: 'Subscription filters (iothub_subscribe_topic)' },
  { name: 'TOPIC_KIND', file: 'assembly/iothub/parsers.ts', prefix: 'TOPIC_', exclude: ['TOPIC_RESULT_SIZE'], c: 'TOPIC_', doc: 'Kinds of parsed topics (iothub_topic_parse)' },
  { name: 'PACKET_TYPE', file: 'assembly/mqtt/packet.ts', prefix: '', exclude: ['PACKET_SIZE'], c: 'PACKET_', doc: 'MQTT control packet types (Packet.type)' },
  { name: 'DPS_EVENT', file: 'assembly/dps/events.ts', prefix: 'DPS_EV_', c: 'DPS_EV_', doc: 'Provisioning event types (dps_poll)' },
  { name: 'DPS_OPTION', file: 'assembly/dps/options.ts', prefix: 'DPS_OPT_', c: 'DPS_OPT_', doc: 'Provisioning options (dps_option_set)' },
  { name: 'DPS_OPTION_DEFAULT', file: 'assembly/dps/options.ts', prefix: 'DPS_DEFAULT_', c: 'DPS_DEFAULT_', doc: 'Provisioning option defaults, by option name' },
  { name: 'DPS_STATE', file: 'assembly/dps/states.ts', prefix: 'DPS_STATE_', c: 'DPS_STATE_', doc: 'Provisioning states (dps_state)' },
];
/** Records (`@unmanaged` classes): layout by `offsetof`, field names and comments from the class. */
const RECORDS = [
  { name: 'EVENT_RECORD', file: 'assembly/client/events.ts', cls: 'EventRecord', doc: 'The event record at client_event_ptr()' },
  { name: 'BAG_ITEM', file: 'assembly/client/events.ts', cls: 'BagItem', doc: 'A decoded C2D property at client_bag_item_ptr()' },
  { name: 'PACKET_RECORD', file: 'assembly/mqtt/packet.ts', cls: 'Packet', doc: 'The MQTT packet record (mqtt_packet_encode_ptr, mqtt_packet_decoded_ptr)' },
  { name: 'BAG_ITERATOR', file: 'assembly/iothub/property-bag.ts', cls: 'BagIterator', doc: 'The property-bag iterator at iothub_bag_iterator_ptr()' },
  { name: 'TOPIC_RESULT', file: 'assembly/iothub/parsers.ts', cls: 'TopicResult', doc: 'The topic parsers\' result at iothub_topic_result_ptr()' },
  { name: 'CONNECTION_STRING_RESULT', file: 'assembly/iothub/connection-string.ts', cls: 'ConnectionStringResult', doc: 'The connection-string parser\'s result' },
  { name: 'DPS_EVENT_RECORD', file: 'assembly/dps/events.ts', cls: 'DpsEventRecord', doc: 'The provisioning event record at dps_event_ptr()' },
];
/** Where statuses are declared (their doc comments), and where the exports are. */
const STATUS_FILES = ['assembly/status.ts', 'assembly/mqtt/status.ts', 'assembly/crypto/status.ts', 'assembly/iothub/status.ts', 'assembly/client/status.ts', 'assembly/dps/status.ts'];
const STATUS_RANGE = [-999, 0];
const ABI_VERSION = { file: 'assembly/abi-version.ts', name: 'ABI_VERSION' };
const BUILDS = ['gateway', 'mcu'];
/** The struct a snapshot copies whole: its layout hash goes into every snapshot header. */
const SNAPSHOT_STATE = { file: 'assembly/client/state.ts', cls: 'ClientState', out: 'assembly/client/state-layout.generated.ts' };

// ---- reading the AssemblyScript declarations ---------------------------------------------------------------------
const sources = new Map();
function source(file) {
  let sf = sources.get(file);
  if (!sf) {
    sf = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
    sources.set(file, sf);
  }
  return sf;
}
const exported = (n) => (ts.getCombinedModifierFlags(n) & ts.ModifierFlags.Export) !== 0;
/** The doc of a declaration: its /** *\/ comment, else a `//` comment on the same line after it. */
function docOf(node, sf) {
  const text = sf.getFullText();
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  const jsdoc = ranges.filter((r) => text.slice(r.pos, r.pos + 3) === '/**').pop();
  if (jsdoc) {
    return text.slice(jsdoc.pos + 3, jsdoc.end - 2).split('\n').map((l) => l.replace(/^\s*\*\s?/, '').trim()).join(' ').trim();
  }
  const trailing = ts.getTrailingCommentRanges(text, node.getEnd()) ?? [];
  const line = trailing.find((r) => text.slice(r.pos, r.pos + 2) === '//');
  return line ? text.slice(line.pos + 2, line.end).trim() : '';
}
function constsOf(file, prefix) {
  const sf = source(file);
  const out = [];
  for (const st of sf.statements) {
    if (!ts.isVariableStatement(st) || !exported(st) || !(st.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const d of st.declarationList.declarations) {
      const name = d.name.getText(sf);
      if (name.startsWith(prefix)) out.push({ name, key: name.slice(prefix.length), doc: docOf(st, sf) });
    }
  }
  if (!out.length) throw new Error(`${file}: no exported constant starts with ${prefix}`);
  return out;
}
function classOf(file, cls) {
  const sf = source(file);
  const node = sf.statements.find((s) => ts.isClassDeclaration(s) && s.name?.text === cls);
  if (!node) throw new Error(`${file}: no class ${cls}`);
  if (!(ts.getDecorators(node) ?? []).some((d) => d.expression.getText(sf) === 'unmanaged')) throw new Error(`${file}: ${cls} is not @unmanaged`);
  const fields = node.members.filter(ts.isPropertyDeclaration).map((m) => ({ name: m.name.getText(sf), type: m.type?.getText(sf) ?? '', doc: docOf(m, sf) }));
  return { fields, doc: docOf(node, sf), exported: exported(node) };
}
/** Every `export function` reachable through `export * from` starting at assembly/abi.ts and assembly/mcu.ts. */
function functionDecls() {
  const out = new Map();
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const sf = source(file);
    for (const st of sf.statements) {
      if (ts.isFunctionDeclaration(st) && exported(st) && st.name) {
        out.set(st.name.text, { file, params: st.parameters.map((p) => ({ name: p.name.getText(sf), type: p.type?.getText(sf) ?? '' })), doc: docOf(st, sf) });
      } else if (ts.isExportDeclaration(st) && st.moduleSpecifier) {
        visit(join(dirname(file), `${st.moduleSpecifier.text}.ts`).split('\\').join('/'));
      }
    }
  };
  for (const entry of ['assembly/abi.ts', 'assembly/mcu.ts']) if (existsSync(join(root, entry))) visit(entry);
  return out;
}

// ---- evaluating them: a probe module compiled against the same sources -------------------------------------------
async function probe(items) {
  const dir = join(root, 'build', 'abi-probe');
  mkdirSync(dir, { recursive: true });
  const files = [...new Set(items.map((i) => i.file))];
  const alias = new Map(files.map((f, i) => [f, `m${i}`]));
  const lines = files.map((f) => `import * as ${alias.get(f)} from "${rel(join(root, f)).replace(/^/, '../../').replace(/\.ts$/, '')}";`);
  lines.push('export function probe(i: i32): i64 {', '  switch (i) {');
  items.forEach((it, i) => lines.push(`    case ${i}: return <i64>(${it.expr(alias.get(it.file))});`));
  lines.push('  }', '  return 0x7fffffffffff;', '}', '');
  const probeFile = join(dir, 'probe.ts');
  writeFileSync(probeFile, lines.join('\n'));
  const config = JSON.parse(readFileSync(join(root, 'asconfig.json'), 'utf8'));
  const uses = config.targets.gateway.use;
  const outFile = join(dir, 'probe.wasm');
  const { error, stderr } = await asc.main([rel(probeFile), '--outFile', rel(outFile), '--runtime', 'stub', '--noAssert',
    '--use', uses.join(','), '--initialMemory', '80', '--optimizeLevel', '0'], { stdout: process.stdout, stderr: process.stderr });
  if (error) throw new Error(`cannot compile the ABI probe (${rel(probeFile)}): ${error.message}`);
  const ex = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(outFile)), {}).exports;
  return items.map((_, i) => Number(ex.probe(i)));
}

// ---- reading the built modules -------------------------------------------------------------------------------------
/** Export names and signatures of a module (its type, function and export sections). */
function signatures(bytes) {
  let p = 8;
  const u = () => { let r = 0, s = 0, b; do { b = bytes[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
  const VT = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64' };
  const types = [], funcs = [], exportsOut = [];
  let imported = 0;
  while (p < bytes.length) {
    const id = bytes[p++], size = u(), end = p + size;
    if (id === 1) {
      for (let n = u(), i = 0; i < n; i++) {
        p++; // 0x60
        const params = []; for (let k = u(), j = 0; j < k; j++) params.push(VT[bytes[p++]]);
        const results = []; for (let k = u(), j = 0; j < k; j++) results.push(VT[bytes[p++]]);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u(), i = 0; i < n; i++) { p += u(); p += u(); if (bytes[p++] === 0) { u(); imported++; } else throw new Error('unexpected import'); }
    } else if (id === 3) {
      for (let n = u(), i = 0; i < n; i++) funcs.push(u());
    } else if (id === 7) {
      for (let n = u(), i = 0; i < n; i++) {
        const len = u(); const name = Buffer.from(bytes.subarray(p, p + len)).toString('utf8'); p += len;
        const kind = bytes[p++], index = u();
        exportsOut.push({ name, kind, index });
      }
    }
    p = end;
  }
  return exportsOut.filter((e) => e.kind === 0).map((e) => ({ name: e.name, ...types[funcs[e.index - imported]] }));
}
function instance(build) {
  const bytes = readFileSync(join(root, 'build', `${build}.wasm`));
  return { bytes, ex: new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports };
}
function statusName(ex, code) {
  const ptr = ex.abi_status_name(code);
  const u8 = new Uint8Array(ex.memory.buffer);
  const len = u8[ptr - 4] | (u8[ptr - 3] << 8) | (u8[ptr - 2] << 16) | (u8[ptr - 1] << 24);
  return Buffer.from(u8.subarray(ptr, ptr + len)).toString('utf16le');
}

// ---- the snapshot layout hash ---------------------------------------------------------------------------------------
/** FNV-1a over every field's name, type and offset and the size: any change to the struct changes it. */
async function layoutHash() {
  const { fields } = classOf(SNAPSHOT_STATE.file, SNAPSHOT_STATE.cls);
  const items = [{ file: SNAPSHOT_STATE.file, expr: (m) => `offsetof<${m}.${SNAPSHOT_STATE.cls}>()` },
    ...fields.map((f) => ({ file: SNAPSHOT_STATE.file, expr: (m) => `offsetof<${m}.${SNAPSHOT_STATE.cls}>("${f.name}")` }))];
  const [size, ...offsets] = await probe(items);
  const text = `${SNAPSHOT_STATE.cls}:${size};` + fields.map((f, i) => `${f.name}:${f.type}:${offsets[i]}`).join(';');
  let h = 0x811c9dc5;
  for (const b of Buffer.from(text, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return { hash: h, size, fields: fields.length };
}
function layoutFile(l) {
  return `// ${HEADER}\n// A hash of ClientState's layout (${l.fields} fields, ${l.size} bytes): snapshots carry it, so one taken\n` +
    `// with another layout is refused (CLIENT_BAD_SNAPSHOT) instead of being misread.\n` +
    `export const STATE_LAYOUT_HASH: u32 = 0x${l.hash.toString(16).padStart(8, '0')};\n`;
}

// ---- gathering ---------------------------------------------------------------------------------------------------------
async function gather() {
  const groups = GROUPS.map((g) => ({ ...g, entries: constsOf(g.file, g.prefix).filter((e) => !(g.exclude ?? []).includes(e.name)) }));
  const records = RECORDS.map((r) => ({ ...classOf(r.file, r.cls), ...r }));
  const statusDecls = STATUS_FILES.flatMap((f) => constsOf(f, 'E_').map((c) => ({ ...c, file: f })));
  const items = [];
  for (const g of groups) for (const e of g.entries) items.push({ file: g.file, expr: (m) => `${m}.${e.name}`, set: (v) => { e.value = v; } });
  for (const r of records) {
    if (!r.exported) throw new Error(`${r.file}: ${r.cls} must be exported`);
    items.push({ file: r.file, expr: (m) => `offsetof<${m}.${r.cls}>()`, set: (v) => { r.size = v; } });
    for (const f of r.fields) items.push({ file: r.file, expr: (m) => `offsetof<${m}.${r.cls}>("${f.name}")`, set: (v) => { f.offset = v; } });
  }
  for (const s of statusDecls) items.push({ file: s.file, expr: (m) => `${m}.${s.name}`, set: (v) => { s.value = v; } });
  let abiVersion;
  items.push({ file: ABI_VERSION.file, expr: (m) => `${m}.${ABI_VERSION.name}`, set: (v) => { abiVersion = v; } });
  const values = await probe(items);
  items.forEach((it, i) => it.set(values[i]));

  // Statuses: what each build says, which must be the same, and must name every declared E_ constant.
  const docs = new Map(statusDecls.map((s) => [s.value, s.doc]));
  const perBuild = BUILDS.map((b) => {
    const { ex } = instance(b);
    const list = [];
    for (let code = STATUS_RANGE[1]; code >= STATUS_RANGE[0]; code--) {
      const name = statusName(ex, code);
      if (name !== 'UNKNOWN_STATUS') list.push({ code, name });
    }
    return list;
  });
  const key = (l) => l.map((s) => `${s.code}=${s.name}`).join(',');
  if (key(perBuild[0]) !== key(perBuild[1])) throw new Error('gateway.wasm and mcu.wasm name their statuses differently');
  const statuses = perBuild[0].map((s) => ({ ...s, doc: docs.get(s.code) ?? '' }));
  for (const s of statusDecls) {
    const named = statuses.find((x) => x.code === s.value);
    if (!named) throw new Error(`${s.file}: ${s.name} (${s.value}) has no name in abi_status_name`);
    // One name per status: the constant is E_ + the name the module gives it (OK is the one without E_).
    if (s.name !== `E_${named.name}`) throw new Error(`${s.file}: ${s.name} is named ${named.name}; call it E_${named.name}`);
  }
  const names = new Set();
  for (const s of statuses) { if (names.has(s.name)) throw new Error(`status name ${s.name} is used twice`); names.add(s.name); }

  // Exports: signatures from the modules, parameter names and docs from the declarations.
  const decls = functionDecls();
  const builds = BUILDS.map((b) => ({ build: b, exports: signatures(instance(b).bytes) }));
  const all = new Map();
  for (const { build, exports } of builds) {
    for (const e of exports) {
      const d = decls.get(e.name);
      if (!d) throw new Error(`${build}.wasm exports ${e.name}, which no AssemblyScript declaration names`);
      if (d.params.length !== e.params.length) throw new Error(`${e.name}: ${d.params.length} parameters declared, ${e.params.length} in ${build}.wasm`);
      const prev = all.get(e.name);
      if (prev && (prev.params.join() !== e.params.join() || prev.results.join() !== e.results.join())) throw new Error(`${e.name} differs between builds`);
      all.set(e.name, { name: e.name, params: e.params, results: e.results, names: d.params.map((p) => p.name), doc: d.doc, builds: [...(prev?.builds ?? []), build] });
    }
  }
  const exportsList = [...all.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { groups, records, statuses, exports: exportsList, abiVersion };
}

// ---- writing -----------------------------------------------------------------------------------------------------------
const HEADER = 'Generated by scripts/gen-abi.mjs from the core (assembly/) and its builds: do not edit; `npm run build` regenerates it.';
const snake = (s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const tsType = (t) => (t === 'i64' ? 'bigint' : 'number');
const oneLine = (s) => s.replace(/\*\//g, '* /');

function typescript(abi) {
  const L = [`// ${HEADER}`, '', `/** The ABI version both builds return from abi_version(). */`, `export const ABI_VERSION = ${abi.abiVersion};`, ''];
  L.push('/** Every export of the core, typed: a misspelled name or a wrong number of arguments does not compile. */');
  L.push('export interface GatewayExports {', '  readonly memory: WebAssembly.Memory;');
  for (const e of abi.exports) {
    if (e.doc) L.push(`  /** ${oneLine(e.doc)} */`);
    const params = e.params.map((t, i) => `${e.names[i]}: ${tsType(t)}`).join(', ');
    L.push(`  ${e.name}(${params}): ${e.results.length ? tsType(e.results[0]) : 'void'};`);
  }
  L.push('}', '');
  const mcu = abi.exports.filter((e) => e.builds.includes('mcu')).map((e) => `'${e.name}'`);
  L.push('/** The exports of mcu.wasm: what a device needs. */');
  L.push(`export type McuExportName =\n  | ${mcu.join('\n  | ')};`);
  L.push("export type McuExports = Pick<GatewayExports, McuExportName | 'memory'>;", '');
  L.push('/** Status codes by name (abi_status_name(code) gives the name back). */', 'export const STATUS = {');
  for (const s of abi.statuses) L.push(`  ${s.name}: ${s.code},`);
  L.push('} as const;', 'export type StatusName = keyof typeof STATUS;', '');
  L.push('/** What each status means, from its doc comment in the core: the sentence an error message carries. */',
    'export const STATUS_TEXT: Readonly<Record<StatusName, string>> = {');
  for (const s of abi.statuses) L.push(`  ${s.name}: ${JSON.stringify(s.doc.replace(/\s+/g, ' ').trim())},`);
  L.push('};', '');
  for (const g of abi.groups) {
    L.push(`/** ${g.doc} (${g.file}, ${g.prefix}*). */`, `export const ${g.name} = {`);
    for (const e of g.entries) L.push(`  ${e.key}: ${e.value},`);
    L.push('} as const;', '');
  }
  for (const r of abi.records) {
    L.push(`/** ${r.doc}: byte offsets of each field, and SIZE (${r.file}, class ${r.cls}). */`, `export const ${r.name} = {`);
    for (const f of r.fields) L.push(`  ${f.name}: ${f.offset},`);
    L.push(`  SIZE: ${r.size},`, '} as const;', '');
    // The same layout by 32-bit word, for Uint32Array/Int32Array views (a literal, so V8 keeps its fast shape).
    L.push(`/** ${r.name} by 32-bit word index, and WORDS: its length in words. */`, `export const ${r.name}_WORDS = {`);
    for (const f of r.fields) L.push(`  ${f.name}: ${f.offset >> 2},`);
    L.push(`  WORDS: ${r.size >> 2},`, '} as const;', '');
  }
  return L.join('\n');
}

function cHeader(abi) {
  const P = 'IOTHUB_WASM_';
  const L = [`/* ${HEADER} */`, '#ifndef IOTHUB_WASM_ABI_H', '#define IOTHUB_WASM_ABI_H', '',
    `#define ${P}ABI_VERSION ${abi.abiVersion}`, '',
    '/* Status codes: X(NAME, code) for every status the core can return; NAME is what abi_status_name(code) gives. */',
    `#define ${P}STATUS_LIST(X) \\`];
  for (const s of abi.statuses) L.push(`  X(${s.name}, ${s.code}) \\`);
  L.push('  /* end */', '');
  for (const s of abi.statuses) L.push(`#define ${P}${s.name} (${s.code})`);
  L.push('');
  const ev = abi.groups.find((g) => g.name === 'EVENT');
  L.push('/* Event types (client_poll): X(NAME, type). */', `#define ${P}EVENT_LIST(X) \\`);
  for (const e of ev.entries) L.push(`  X(${e.key}, ${e.value}) \\`);
  L.push('  /* end */', '');
  const dev = abi.groups.find((g) => g.name === 'DPS_EVENT');
  L.push('/* Provisioning event types (dps_poll): X(NAME, type). */', `#define ${P}DPS_EVENT_LIST(X) \\`);
  for (const e of dev.entries) L.push(`  X(${e.key}, ${e.value}) \\`);
  L.push('  /* end */', '');
  for (const g of abi.groups) {
    L.push(`/* ${g.doc} (${g.file}) */`);
    for (const e of g.entries) L.push(`#define ${P}${g.c}${e.key} ${e.value < 0 ? `(${e.value})` : e.value}`);
    L.push('');
  }
  for (const r of abi.records) {
    L.push(`/* ${r.doc}: byte offsets (${r.file}, ${r.cls}) */`);
    for (const f of r.fields) L.push(`#define ${P}${r.name}_${snake(f.name)} ${f.offset}`);
    L.push(`#define ${P}${r.name}_SIZE ${r.size}`, '');
  }
  L.push('/* Exports: X(name, number of parameters). The MCU list is what mcu.wasm exports. */', `#define ${P}EXPORT_LIST(X) \\`);
  for (const e of abi.exports) L.push(`  X(${e.name}, ${e.params.length}) \\`);
  L.push('  /* end */', `#define ${P}MCU_EXPORT_LIST(X) \\`);
  for (const e of abi.exports.filter((x) => x.builds.includes('mcu'))) L.push(`  X(${e.name}, ${e.params.length}) \\`);
  L.push('  /* end */', '', '#endif /* IOTHUB_WASM_ABI_H */', '');
  return L.join('\n');
}

const cell = (s) => String(s).replace(/\|/g, '\\|');
function readmeTables(abi) {
  const t = {};
  t.statuses = ['| Code | Name | Meaning |', '|---|---|---|', ...abi.statuses.map((s) => `| ${s.code} | \`${s.name}\` | ${cell(s.doc)} |`)].join('\n');
  const options = (optName, defName, prefix) => {
    const o = abi.groups.find((g) => g.name === optName), d = abi.groups.find((g) => g.name === defName);
    return ['| Option | # | Default | Meaning |', '|---|---|---|---|', ...o.entries.map((e) => {
      const v = d.entries.find((x) => x.key === e.key);
      return `| \`${prefix}${e.key}\` | ${e.value} | ${v ? v.value : ''} | ${cell(e.doc)} |`;
    })].join('\n');
  };
  t.options = options('OPTION', 'OPTION_DEFAULT', 'OPT_');
  t['dps-options'] = options('DPS_OPTION', 'DPS_OPTION_DEFAULT', 'DPS_OPT_');
  const grp = (name, label) => {
    const g = abi.groups.find((x) => x.name === name);
    return [`| ${label} | # | Meaning |`, '|---|---|---|', ...g.entries.map((e) => `| \`${g.prefix}${e.key}\` | ${e.value} | ${cell(e.doc)} |`)].join('\n');
  };
  t.events = grp('EVENT', 'Type');
  t.states = grp('STATE', 'State');
  t.wants = grp('WANT', 'Want');
  t.features = grp('FEATURE', 'Bit');
  t.transports = grp('TRANSPORT', 'Transport');
  t['system-properties'] = grp('SYSTEM_PROPERTY', 'Property');
  t.subscriptions = grp('SUBSCRIPTION', 'Kind');
  t['topic-kinds'] = grp('TOPIC_KIND', 'Kind');
  t['packet-types'] = grp('PACKET_TYPE', 'Type');
  t['dps-events'] = grp('DPS_EVENT', 'Type');
  t['dps-states'] = grp('DPS_STATE', 'State');
  t['store-kinds'] = grp('STORE_KIND', 'Kind');
  for (const r of abi.records) {
    t[r.name.toLowerCase().replace(/_/g, '-')] = [`${r.doc}: ${r.size} bytes.`, '', '| Offset | Field | Type | Meaning |', '|---|---|---|---|',
      ...r.fields.map((f) => `| ${f.offset} | \`${f.name}\` | \`${f.type}\` | ${cell(f.doc)} |`)].join('\n');
  }
  return t;
}
function readme(abi, text) {
  const tables = readmeTables(abi);
  const used = new Set();
  const out = text.replace(/<!-- abi:([a-z-]+) -->\n[\s\S]*?<!-- \/abi:\1 -->/g, (_, name) => {
    if (!(name in tables)) throw new Error(`boards/README.md: unknown table abi:${name}`);
    used.add(name);
    return `<!-- abi:${name} -->\n${tables[name]}\n<!-- /abi:${name} -->`;
  });
  for (const name of ['statuses', 'events', 'options', 'states', 'event-record']) {
    if (!used.has(name)) throw new Error(`boards/README.md has no <!-- abi:${name} --> table`);
  }
  return out;
}

async function write(outputs) {
  let stale = 0;
  for (const [path, text] of outputs) {
    const old = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (old === text) continue;
    if (check) { console.error(`stale: ${rel(path)} (run npm run build)`); stale++; continue; }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${rel(path)}`);
  }
  return stale ? 1 : 0;
}

async function main() {
  const layout = [join(root, SNAPSHOT_STATE.out), layoutFile(await layoutHash())];
  if (layoutOnly) return write([layout]);
  const abi = await gather();
  const readmePath = join(root, 'boards/README.md');
  const outputs = [
    [join(root, 'host/wasm/abi.generated.ts'), typescript(abi)],
    [join(root, 'boards/c/iothub_wasm_abi.h'), cHeader(abi)],
    [readmePath, readme(abi, readFileSync(readmePath, 'utf8'))],
    layout,
  ];
  return write(outputs);
}
// binaryen (loaded by asc) rethrows uncaught errors with its whole source: report ours in one line instead.
main().then((code) => process.exit(code), (e) => { console.error(`gen-abi: ${e.message}`); process.exit(2); });
