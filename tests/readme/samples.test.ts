// Every TypeScript sample in the README is run as written: each ```ts block is transpiled with the repository's
// `typescript`, its imports of the package pointed at the built modules, and run in a child node process against a
// real local hub on loopback. The list of samples is fixed by name (the heading above each), so a new sample cannot
// escape the test: adding one fails here until it is given a run below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { startHub } from '../device/support.js';

const dist = fileURLToPath(new URL('../../', import.meta.url));
const root = join(dist, '..');
const entry: Record<string, string> = {
  'iothub-wasm': join(dist, 'host/index.js'),
  'iothub-wasm/hub': join(dist, 'host/hub/index.js'),
  'iothub-wasm/codec': join(dist, 'host/codec/index.js'),
};

interface Sample { heading: string; code: string }

/** The ```ts blocks of the README, each named by the nearest heading above it. */
function samples(): Sample[] {
  const out: Sample[] = [];
  let heading = '';
  let code: string[] | undefined;
  for (const line of readFileSync(join(root, 'README.md'), 'utf8').split('\n')) {
    if (code) {
      if (line.startsWith('```')) { out.push({ heading, code: code.join('\n') }); code = undefined; } else code.push(line);
    } else if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '');
    else if (line.trim() === '```ts') code = [];
  }
  return out;
}

/** Transpiles a sample to an ES module whose package imports name the built files; fails on a syntax error. */
function transpile(sample: Sample): string {
  const r = ts.transpileModule(sample.code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    reportDiagnostics: true, fileName: 'sample.ts',
  });
  assert.deepEqual((r.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], sample.heading);
  return r.outputText.replace(/from '(iothub-wasm(?:\/[a-z]+)?)'/g, (_m, spec: string) => {
    assert.ok(entry[spec], `${sample.heading}: unknown import '${spec}'`);
    return `from '${pathToFileURL(entry[spec]!).href}'`;
  });
}

/** Runs a transpiled sample in its own folder; resolves with its exit code and output, or rejects after 10 s. */
function run(js: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-readme-'));
  writeFileSync(join(dir, 'sample.mjs'), js);
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['sample.mjs'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the sample did not exit within 10 s: ${out}`)); }, 10000);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, out }); });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const all = samples();
const byHeading = (h: string) => all.find((s) => s.heading === h)!;

test('the README has exactly the TypeScript samples this file runs, by heading', () => {
  assert.deepEqual(all.map((s) => s.heading), ['Use it', 'The local hub from code', 'The codec alone']);
});

test('every README sample type-checks (strict) against the declarations the package ships', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-readme-tsc-'));
  try {
    const files = all.map((sample, i) => {
      const file = join(dir, `sample-${i}.mts`);
      writeFileSync(file, sample.code);
      return file;
    });
    const decl = (spec: string) => [entry[spec]!.replace(/\.js$/, '.d.ts')];
    const program = ts.createProgram(files, {
      noEmit: true, strict: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler, types: ['node'], typeRoots: [join(root, 'node_modules/@types')],
      paths: { 'iothub-wasm': decl('iothub-wasm'), 'iothub-wasm/hub': decl('iothub-wasm/hub'), 'iothub-wasm/codec': decl('iothub-wasm/codec') },
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const at = d.file ? `${all[files.indexOf(d.file.fileName)]?.heading ?? d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : '';
      return at + ts.flattenDiagnosticMessageText(d.messageText, '\n');
    });
    assert.deepEqual(problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("README 'Use it': the device sample connects with IOTHUB_DEVICE_CONNECTION_STRING, sends its telemetry, reads the twin and reports", async () => {
  const rig = await startHub();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('readme-dev');
    const caFile = join(rig.dataDir, 'readme-ca.pem');
    writeFileSync(caFile, rig.hub.ca);
    const telemetry: { messageId?: unknown; contentType?: unknown; properties: unknown; body: unknown }[] = [];
    rig.hub.on('telemetry', (m) => { if (m.deviceId === 'readme-dev') telemetry.push({ ...m.systemProperties, properties: m.properties, body: m.body }); });
    // The sample trusts the system's CAs: the local hub's CA is added to them as Node allows.
    const { code, out } = await run(transpile(byHeading('Use it')), { IOTHUB_DEVICE_CONNECTION_STRING: connectionString, NODE_EXTRA_CA_CERTS: caFile });
    assert.equal(code, 0, out);
    assert.equal(telemetry.length, 1, out);
    assert.equal(JSON.stringify(telemetry[0]!.properties), JSON.stringify({ alert: 'high' }));
    assert.equal((await rig.hub.getTwin('readme-dev')).properties.reported.firmware, '1.0.0');
  } finally {
    await rig.stop();
  }
});

test("README 'The local hub from code': the hub sample prints its device's telemetry and the method's answer, and exits 0", async () => {
  const { code, out } = await run(transpile(byHeading('The local hub from code')));
  assert.equal(code, 0, out);
  assert.match(out, /dev-1 .*21\.5/, out);
  assert.match(out, /status: 200/, out);
  assert.match(out, /rebooting: true/, out);
});

test("README 'The codec alone': the codec sample runs as written and exits 0", async () => {
  const { code, out } = await run(transpile(byHeading('The codec alone')));
  assert.equal(code, 0, out);
});
