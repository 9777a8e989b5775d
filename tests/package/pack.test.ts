// The package as a user gets it: `npm pack`, the tarball installed into a fresh folder (from npm's cache), and used
// from an ES module, a CommonJS script, TypeScript projects of both kinds (checked by the repository's TypeScript)
// and through its `iothub-wasm` bin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const typeRoots = join(repo, 'node_modules', '@types');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let dir = '';
let app = '';
let packed: string[] = [];

// The user's npm, not one a dependency brought along: under `npm test` the PATH starts with node_modules/.bin, where
// a dev dependency's npm 6 sits.
const PATH = (process.env.PATH ?? '').split(delimiter).filter((p) => !/[\\/]node_modules[\\/]\.bin$/.test(p)).join(delimiter);

// Nor the settings a parent npm passes down as npm_config_* (npm 6's would make npm 11 warn on every run).
const USER_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

function sh(file: string, args: string[], cwd: string, timeoutMs = 90_000): Promise<string> {
  return run(file, args, cwd, timeoutMs).then(({ stdout, stderr }) => stdout + stderr);
}

/** stdout and stderr apart: npm may print warnings on stderr (its config from the parent npm's environment). */
function run(file: string, args: string[], cwd: string, timeoutMs = 90_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...USER_ENV, PATH, NODE_OPTIONS: '' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-pack-'));
  const out = (await run(npm, ['pack', '--json', '--pack-destination', dir], repo)).stdout;
  const info = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  packed = info[0]!.files.map((f) => f.path);
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  await sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, info[0]!.filename)], app, 110_000);
});

after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

test('the tarball carries the licence, the modules and both kinds of declarations, and no tests or benchmarks', () => {
  for (const f of ['LICENSE', 'README.md', 'package.json', 'build/gateway.wasm', 'build/mcu.wasm', 'dist/host/index.js', 'dist/host/index.d.ts',
    'dist/cjs/package.json', 'dist/cjs/host/index.d.ts', 'dist/cjs/host/hub/index.d.ts', 'dist/host/cli.js']) {
    assert.ok(packed.includes(f), `${f} is in the tarball`);
  }
  const stray = packed.filter((f) => /^dist\/(tests|bench)\/|\.test\.|\.tsbuildinfo$|^build\/wasm2c|^(host|assembly|tests)\//.test(f));
  assert.deepEqual(stray, []);
  assert.match(readFileSync(join(app, 'node_modules/iothub-wasm/LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) \d{4} the iothub-wasm authors/);
});

test('every shipped source map carries the sources it points to, so a stack trace leads to code the user has', () => {
  const root = join(app, 'node_modules/iothub-wasm/dist/host');
  const maps = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 50, `${maps.length} source maps`);
  for (const m of maps) {
    const map = JSON.parse(readFileSync(join(root, m), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    assert.equal(map.sourcesContent?.length, map.sources.length, `${m} has sourcesContent`);
    assert.ok(map.sourcesContent!.every((s) => typeof s === 'string' && s.length > 0), `${m}'s sources are all inlined`);
  }
});

test('an ES module imports the three entry points and runs a device against the local hub from the installed package', async () => {
  writeFileSync(join(app, 'esm.mjs'), `
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceClient, IotHubWasmError } from 'iothub-wasm';
import { encodePacket, PacketDecoder } from 'iothub-wasm/codec';
import { LocalHub } from 'iothub-wasm/hub';
const dataDir = mkdtempSync(join(tmpdir(), 'iothub-wasm-pack-hub-'));
const hub = await LocalHub.start({ port: 0, dataDir, log: false });
try {
  const { connectionString } = await hub.registry.addDevice('pack-dev');
  const got = new Promise((r) => hub.on('telemetry', (m) => r(m.body.toString())));
  const client = DeviceClient.fromConnectionString(connectionString, { ca: hub.ca });
  await client.connect();
  await client.sendTelemetry({ t: 21.5 });
  console.log('telemetry', await got);
  await client.close();
  const bytes = encodePacket({ cmd: 'pingreq' });
  const decoder = new PacketDecoder();
  console.log('codec', decoder.push(bytes).map((p) => p.cmd).join(','));
  try { DeviceClient.fromConnectionString('HostName=h'); } catch (e) { console.log('error', e instanceof IotHubWasmError, e.code); }
} finally {
  await hub.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
`);
  const out = await sh(process.execPath, ['esm.mjs'], app);
  assert.match(out, /^telemetry \{"t":21\.5\}$/m);
  assert.match(out, /^codec pingreq$/m);
  assert.match(out, /^error true IOTHUB_CS_MISSING_DEVICE_ID$/m);
});

test('a CommonJS script requires the three entry points and gets the same classes as an ES module does', async () => {
  writeFileSync(join(app, 'cjs.cjs'), `
const { DeviceClient, IotHubWasmError, generateSasToken } = require('iothub-wasm');
const { encodePacket, PacketDecoder } = require('iothub-wasm/codec');
const { LocalHub } = require('iothub-wasm/hub');
console.log('types', typeof DeviceClient, typeof LocalHub, typeof generateSasToken);
console.log('codec', new PacketDecoder().push(encodePacket({ cmd: 'pingreq' })).map((p) => p.cmd).join(','));
try { DeviceClient.fromConnectionString('HostName=h'); } catch (e) { console.log('error', e instanceof IotHubWasmError, e.code); }
import('iothub-wasm').then((esm) => console.log('same', esm.DeviceClient === DeviceClient));
`);
  const out = await sh(process.execPath, ['cjs.cjs'], app);
  assert.match(out, /^types function function function$/m);
  assert.match(out, /^codec pingreq$/m);
  assert.match(out, /^error true IOTHUB_CS_MISSING_DEVICE_ID$/m);
  assert.match(out, /^same true$/m);
  assert.doesNotMatch(out, /ExperimentalWarning/);
});

const tsSource = `
import { DeviceClient, IotHubWasmError, type DeviceClientOptions } from 'iothub-wasm';
import { PacketDecoder, encodePacket } from 'iothub-wasm/codec';
import { LocalHub, type LocalHubOptions } from 'iothub-wasm/hub';
const options: DeviceClientOptions = { transport: 'mqtts' };
const hubOptions: LocalHubOptions = { port: 0 };
const cmds: string[] = new PacketDecoder().push(encodePacket({ cmd: 'pingreq' })).map((p) => p.cmd);
let code = '';
try { DeviceClient.fromConnectionString('HostName=h', options); } catch (e) { if (e instanceof IotHubWasmError) code = e.code; }
console.log('ts', typeof LocalHub.start, hubOptions.port, cmds.join(','), code);
`;

// One compiler host for every project, so the declarations they share (@types/node, the package's) are parsed once:
// on a loaded machine four `tsc` processes would take minutes.
const sourceFiles = new Map<string, ts.SourceFile | undefined>();
const baseHost = ts.createCompilerHost({});
const host: ts.CompilerHost = {
  ...baseHost,
  getSourceFile(fileName, languageVersionOrOptions, onError) {
    const format = typeof languageVersionOrOptions === 'object' ? languageVersionOrOptions.impliedNodeFormat : undefined;
    const key = `${format ?? ''}:${fileName}`;
    if (!sourceFiles.has(key)) sourceFiles.set(key, baseHost.getSourceFile(fileName, languageVersionOrOptions, onError));
    return sourceFiles.get(key);
  },
};

/**
 * A TypeScript project in `app/<name>` (its package.json says `type`), type-checked by the repository's TypeScript
 * with the package's declarations checked too; compiled and run when `emit`.
 */
async function tsProject(name: string, type: 'commonjs' | 'module', compilerOptions: Record<string, unknown>, emit: boolean): Promise<string> {
  const root = join(app, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name, private: true, type }));
  writeFileSync(join(root, 'index.ts'), tsSource);
  const compiler = { strict: true, target: 'ES2022', types: ['node'], typeRoots: [typeRoots], outDir: 'out', ...compilerOptions };
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: compiler, files: ['index.ts'] }));
  const program = (options: Record<string, unknown>) => {
    const parsed = ts.parseJsonConfigFileContent({ compilerOptions: { ...compiler, ...options }, files: ['index.ts'] }, ts.sys, root);
    assert.deepEqual(parsed.errors, []);
    return ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, host });
  };
  const format = (d: readonly ts.Diagnostic[]) => ts.formatDiagnostics(d, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' });
  // The project's file and every declaration of the package, checked in full (skipLibCheck off); the rest of
  // node_modules only as far as those use it: checking all of @types/node in each project, or emitting with
  // skipLibCheck off, takes most of a minute on a loaded machine.
  const check = program({ noEmit: true, skipLibCheck: false });
  const ours = check.getSourceFiles().filter((f) => !f.fileName.includes('/node_modules/') || f.fileName.includes('/node_modules/iothub-wasm/'));
  const kind = type === 'commonjs' ? '/node_modules/iothub-wasm/dist/cjs/' : '/node_modules/iothub-wasm/dist/host/';
  assert.ok(ours.some((f) => f.fileName.includes(kind)), `${name} reads the package's declarations for its kind (${kind})`);
  assert.equal(format([...check.getOptionsDiagnostics(), ...check.getGlobalDiagnostics(),
    ...ours.flatMap((f) => [...check.getSyntacticDiagnostics(f), ...check.getSemanticDiagnostics(f)])]), '', `${name} type-checks`);
  if (emit) assert.equal(format(program({ skipLibCheck: true }).emit().diagnostics), '', `${name} compiles`);
  return emit ? sh(process.execPath, [join(root, 'out', 'index.js')], root) : '';
}

test('TypeScript CommonJS projects resolve the types and run: module node16, nodenext, and commonjs with node10 resolution', async () => {
  const ran = await tsProject('ts-cjs-node16', 'commonjs', { module: 'node16', moduleResolution: 'node16' }, true);
  assert.match(ran, /^ts function 0 pingreq IOTHUB_CS_MISSING_DEVICE_ID$/m);
  assert.match(readFileSync(join(app, 'ts-cjs-node16', 'out', 'index.js'), 'utf8'), /require\("iothub-wasm"\)/, 'compiled to require()');
  await tsProject('ts-cjs-nodenext', 'commonjs', { module: 'nodenext', moduleResolution: 'nodenext' }, false);
  const legacy = await tsProject('ts-cjs-node10', 'commonjs', { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true }, true);
  assert.match(legacy, /^ts function 0 pingreq IOTHUB_CS_MISSING_DEVICE_ID$/m);
});

test('a TypeScript ES module project resolves the types and runs', async () => {
  const ran = await tsProject('ts-esm', 'module', { module: 'nodenext', moduleResolution: 'nodenext' }, true);
  assert.match(ran, /^ts function 0 pingreq IOTHUB_CS_MISSING_DEVICE_ID$/m);
});

test('the installed iothub-wasm bin answers --version, --help and run --help', async () => {
  const bin = join(app, 'node_modules', '.bin', process.platform === 'win32' ? 'iothub-wasm.cmd' : 'iothub-wasm');
  assert.equal((await sh(bin, ['--version'], app)).trim(), version);
  assert.match(await sh(bin, ['--help'], app), /usage: iothub-wasm <command>/);
  assert.match(await sh(bin, ['run', '--help'], app), /usage: iothub-wasm run --connection-string/);
  assert.equal((await sh(npm, ['exec', '--no', '--', 'iothub-wasm', '--version'], app)).trim(), version);
});
