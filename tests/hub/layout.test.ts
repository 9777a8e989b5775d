// The hub's layout, read from its source: it imports nothing of the WebAssembly core or the device host (each is
// written independently, so each checks the other), and its folders depend one way — state/ on no protocol, the
// device side and the service side not on each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const hubDir = join(root, 'host', 'hub');

/** What the hub must not reach, as paths from the repository root. */
const CORE_AND_DEVICE_HOST = ['assembly', 'host/device', 'host/wasm', 'host/codec', 'host/iothub', 'boards', 'build'];
/** The package's own entry points other than the hub's (`iothub-wasm`, `iothub-wasm/codec`) lead to the core too. */
const SELF = /^iothub-wasm(\/(?!hub(\/|$)).*)?$/;

/**
 * Every module specifier and path literal a source file names: static `import … from` / `export … from`, bare
 * `import '…'`, `import('…')`, `require('…')` and `new URL('…', import.meta.url)` (a file read beside the module).
 */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]/g,
    /\bnew\s+URL\s*\(\s*['"`]([^'"`]+)['"`]/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out;
}

/** The rule a specifier of the file at `file` (absolute) breaks, or undefined. */
export function forbidden(file: string, spec: string): string | undefined {
  if (SELF.test(spec)) return `imports the package entry '${spec}' (the core and the device host)`;
  if (!spec.startsWith('.')) return undefined; // node: builtins and the hub's dependencies
  const target = relative(root, resolve(dirname(file), spec)).split(sep).join('/');
  const hit = CORE_AND_DEVICE_HOST.find((d) => target === d || target.startsWith(d + '/'));
  if (hit) return `reaches ${hit}/ ('${spec}')`;
  if (!target.startsWith('host/hub/')) return `reaches outside host/hub/ ('${spec}' → ${target})`;
  return undefined;
}

function hubSources(): string[] {
  return readdirSync(hubDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(hubDir, f)).sort();
}

test('no file under host/hub/ imports the WebAssembly core, the device host or anything else outside host/hub/', () => {
  const files = hubSources();
  assert.ok(files.length >= 20, `found ${files.length} hub sources`);
  const broken: string[] = [];
  let seen = 0;
  for (const f of files) {
    for (const spec of specifiers(readFileSync(f, 'utf8'))) {
      seen++;
      const why = forbidden(f, spec);
      if (why) broken.push(`${relative(root, f)} ${why}`);
    }
  }
  assert.ok(seen > 50, `read ${seen} specifiers`); // the scanner found the hub's own imports
  assert.deepEqual(broken, []);
});

test('the import check catches each way of reaching the core: relative paths, dynamic imports, require, file URLs, the package entry', () => {
  const f = join(hubDir, 'device', 'x.ts');
  const src = [
    "import { a } from '../../device/client.js';",
    "export { b } from '../../iothub/index.js';",
    "import type { C } from '../../codec/record.js';",
    "const m = await import('../../../assembly/index.js');",
    "const r = require('../../wasm/loader.js');",
    "const w = new URL('../../../build/mcu.wasm', import.meta.url);",
    "import core from 'iothub-wasm';",
    "import '../../../boards/c/x.js';",
    // allowed
    "import { Aedes } from 'aedes';",
    "import { join } from 'node:path';",
    "import { LocalHub } from 'iothub-wasm/hub';",
    "import { HubError } from '../errors.js';",
  ].join('\n');
  const verdicts = specifiers(src).map((s) => [s, forbidden(f, s) !== undefined] as const);
  assert.deepEqual(new Map(verdicts), new Map([
    ['../../device/client.js', true], ['../../iothub/index.js', true], ['../../codec/record.js', true],
    ['../../../assembly/index.js', true], ['../../wasm/loader.js', true], ['../../../build/mcu.wasm', true],
    ['iothub-wasm', true], ['../../../boards/c/x.js', true],
    ['aedes', false], ['node:path', false], ['iothub-wasm/hub', false], ['../errors.js', false],
  ]));
});

/** The hub files a hub file imports, as paths inside host/hub/ (e.g. `state/json.ts`). */
function hubImports(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8')).filter((s) => s.startsWith('.'))
    .map((s) => relative(hubDir, resolve(dirname(file), s)).split(sep).join('/').replace(/\.js$/, '.ts'));
}

test('the hub depends one way: state/ on no protocol or composition, device/ and service/ not on each other, dps/ not on service/, dashboard/ not on the device side', () => {
  // errors.ts and log.ts import nothing of the hub: every layer may use them
  const leaves = ['errors.ts', 'log.ts'];
  for (const leaf of leaves) assert.deepEqual(hubImports(join(hubDir, leaf)), [], `${leaf} imports nothing of the hub`);
  // http.ts (HTTP plumbing both HTTPS surfaces share) uses only the leaves; the protocol layers may use it
  assert.deepEqual(hubImports(join(hubDir, 'http.ts')).filter((t) => !leaves.includes(t)), [], 'http.ts uses only the leaves');
  const shared = [...leaves, 'http.ts'];
  const allowed: Record<string, (target: string) => boolean> = {
    // the query language is a pure function of its text and the twin documents: JSON helpers and errors only
    'service/query/': (t) => t.startsWith('service/query/') || t === 'state/json.ts' || leaves.includes(t),
    'state/': (t) => t.startsWith('state/') || leaves.includes(t),
    'auth/': (t) => t.startsWith('auth/') || t.startsWith('state/') || leaves.includes(t),
    'device/': (t) => !t.startsWith('service/') && (t.includes('/') || shared.includes(t)),
    'service/': (t) => !t.startsWith('device/') && (t.includes('/') || shared.includes(t)),
    // one AMQP endpoint for devices and services (IoT Hub's 5671): it uses both sides' rules, never the composition
    'amqp/': (t) => t.includes('/') || shared.includes(t),
    // the DPS is a device-facing protocol of its own: it reuses the device side's framing gate, never the service side
    'dps/': (t) => !t.startsWith('service/') && (t.includes('/') || shared.includes(t)),
    // the dashboard is a service-side surface (a web page over the hub's service API): never the device side's
    // protocols, and its browser modules (dashboard/web/) only each other
    'dashboard/web/': (t) => t.startsWith('dashboard/web/'),
    'dashboard/': (t) => !t.startsWith('device/') && !t.startsWith('amqp/') && !t.startsWith('dps/') && (t.includes('/') || shared.includes(t)),
  };
  const broken: string[] = [];
  for (const f of hubSources()) {
    const from = relative(hubDir, f).split(sep).join('/');
    const layer = Object.keys(allowed).find((l) => from.startsWith(l));
    if (!layer) continue; // the composition (hub.ts, cli.ts, index.ts, …) may use every layer
    for (const t of hubImports(f)) if (!allowed[layer]!(t)) broken.push(`${from} → ${t}`);
  }
  assert.deepEqual(broken, []);
});
