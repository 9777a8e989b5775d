// The dashboard from the command line: `iothub-wasm hub` prints a one-time sign-in link in its banner,
// `iothub-wasm hub dashboard` prints a new one for the hub running on the folder, and --no-dashboard turns it off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from './helpers.js';

const CLI = fileURLToPath(new URL('../../host/cli.js', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'hub', ...args], { timeout: 40_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Starts `iothub-wasm hub` on free ports; resolves with its banner once the last line of it is out. */
async function hub(dir: string, ...extra: string[]): Promise<{ child: ChildProcessWithoutNullStreams; banner: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'hub', '--port', '0', '--amqp-port', 'off', '--rest-port', '0', '--dps-port', 'off', '--data-dir', dir, '--quiet', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] }) as unknown as ChildProcessWithoutNullStreams;
  process.once('exit', () => { child.kill('SIGKILL'); });
  const banner = await new Promise<string>((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => reject(new Error(`no banner within 30 s:\n${text}`)), 30_000);
    child.stdout.on('data', (c: Buffer) => { text += c.toString(); if (/no devices yet/.test(text)) { clearTimeout(t); resolve(text); } });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`the hub exited (${code}):\n${text}`)); });
  });
  const stop = () => new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
  return { child, banner, stop };
}

/** POST /dashboard/api/session with the link's token: its status. */
function signIn(url: string, ca: string): Promise<number> {
  const u = new URL(url);
  const body = JSON.stringify({ token: u.hash.replace(/^#token=/, '') });
  return new Promise((resolve, reject) => {
    const req = request({ host: 'localhost', port: Number(u.port), method: 'POST', path: '/dashboard/api/session', ca, agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end(body);
  });
}

test('the banner prints a sign-in link that works once, and hub dashboard prints a new one for the running hub', async () => {
  const dir = tempDir();
  const h = await hub(dir);
  try {
    const link = /dashboard: (https:\/\/localhost:\d+\/dashboard\/#token=[\w-]+)/.exec(h.banner)?.[1];
    assert.ok(link, h.banner);
    const ca = readFileSync(join(dir, 'tls', 'ca.pem'), 'utf8');
    assert.equal(await signIn(link, ca), 200);
    assert.equal(await signIn(link, ca), 401, 'the link works once');
    const r = await cli('dashboard', '--data-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    const fresh = r.stdout.trim();
    assert.match(fresh, /^https:\/\/localhost:\d+\/dashboard\/#token=[\w-]{43}$/);
    assert.notEqual(fresh, link);
    assert.equal(await signIn(fresh, ca), 200);
  } finally {
    await h.stop();
    removeDir(dir);
  }
});

test('with --no-dashboard the banner has no link and hub dashboard says the hub has no dashboard', async () => {
  const dir = tempDir();
  const h = await hub(dir, '--no-dashboard');
  try {
    assert.doesNotMatch(h.banner, /dashboard/);
    const r = await cli('dashboard', '--data-dir', dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /has no dashboard \(started with --no-dashboard\?\)/);
  } finally {
    await h.stop();
    removeDir(dir);
  }
});
