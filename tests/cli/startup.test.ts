// The command line answers --version and --help without loading what the commands run: the device client, the
// WebAssembly core and the hub's broker load only for the command that uses them. Proved by the modules a process
// loads (a module-loading hook records them), not by timings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cli = fileURLToPath(new URL('../../host/cli.js', import.meta.url));
const heavy = ['host/device/client.js', 'host/wasm/core.js', 'host/hub/hub.js', 'host/hub/device/broker.js', '/node_modules/aedes/', '/node_modules/rhea/'];

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'iothub-wasm-startup-'));
  writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.IOTHUB_WASM_LOADED, url + '\\n');
  return next(url, context);
}
`);
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

let n = 0;
/** Runs the CLI with `args`; its output, exit code and the module URLs it loaded. */
function loaded(args: string[]): Promise<{ code: number; out: string; modules: string[] }> {
  const log = join(dir, `loaded-${n++}.txt`);
  writeFileSync(log, '');
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, cli, ...args],
      { env: { ...process.env, IOTHUB_WASM_LOADED: log }, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, out: stdout + stderr, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) });
      });
  });
}

for (const [args, usage] of [
  [['--version'], /^\d+\.\d+\.\d+/],
  [['--help'], /usage: iothub-wasm <command>/],
  [['run', '--help'], /usage: iothub-wasm run /],
  [['hub', '--help'], /usage: iothub-wasm hub /],
  [['hub', 'device', 'add', '--help'], /iothub-wasm hub device add/],
  [['hub', 'monitor', '--help'], /iothub-wasm hub monitor/],
  [['hub', 'c2d', 'send', '--help'], /usage: iothub-wasm hub c2d send/],
] as const) {
  test(`iothub-wasm ${args.join(' ')} answers without loading the device client, the core or the broker`, async () => {
    const r = await loaded([...args]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, usage);
    assert.ok(r.modules.some((m) => m.endsWith('/host/cli.js')), 'the hook saw the CLI load');
    assert.deepEqual(r.modules.filter((m) => heavy.some((h) => m.includes(h))), []);
  });
}

test('the module-loading record does see the core when a command uses it (sas computes the token in the core)', async () => {
  const r = await loaded(['sas', '--connection-string', 'HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=a2V5', '--ttl', '60']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SharedAccessSignature sr=h\.azure-devices\.net%2Fdevices%2Fd/);
  assert.ok(r.modules.some((m) => m.endsWith('host/wasm/core.js')), r.modules.join('\n'));
});
