// Ctrl-C during `npm start`: the demo stops cleanly at any point. It prints what it did so far, stops the hub,
// removes its temporary data folder (the hub's CA private key is in it) and exits 130 (SIGINT) or 143 (SIGTERM).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../', import.meta.url));

/** Starts the demo with far more readings than it can send before `signal`, sent once a line matches `when`. */
function interrupt(signal: NodeJS.Signals, when: RegExp): Promise<{ code: number | null; out: string; dataDir: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dist, 'host/demo/main.js'), '--count', '100000000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    const onData = (d: Buffer) => {
      out += d;
      if (!sent && when.test(out)) { sent = true; child.kill(signal); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${out}`)); }, 60000);
    child.on('close', (code) => {
      clearTimeout(t);
      const dataDir = /certificate generated in ([^)]+)\)/.exec(out)?.[1] ?? '';
      resolve({ code, out, dataDir });
    });
  });
}

test('Ctrl-C while the demo sends telemetry prints the summary so far, removes its temporary folder and exits 130', async () => {
  const { code, out, dataDir } = await interrupt('SIGINT', /connected over MQTT\/TLS/);
  assert.equal(code, 130, out);
  assert.match(out, /summary \(interrupted by SIGINT\)/);
  assert.match(out, /telemetry: \d+ of 100000000 acknowledged \(QoS 1\); the hub received \d+/);
  assert.ok(dataDir.includes('iothub-wasm-demo-'), out);
  assert.match(out, new RegExp(`temporary folder ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} removed`));
  assert.equal(existsSync(dataDir), false, `${dataDir} is left behind`);
  assert.doesNotMatch(out, /Error|at .*\.js:\d+/, out);
});

test('SIGTERM as soon as the hub is up stops the demo the same way and exits 143', async () => {
  const { code, out, dataDir } = await interrupt('SIGTERM', /local IoT Hub on localhost:\d+/);
  assert.equal(code, 143, out);
  assert.match(out, /summary \(interrupted by SIGTERM\)/);
  assert.ok(dataDir.includes('iothub-wasm-demo-'), out);
  assert.equal(existsSync(dataDir), false, `${dataDir} is left behind`);
  assert.doesNotMatch(out, /Error|at .*\.js:\d+/, out);
});
