// The local DPS's persistence and CLI: the id scope survives a restart, `iothub-wasm hub dps …` manages enrollments
// that a running hub's DPS accepts at once, bad arguments exit 2 with a message, the banner names the DPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalHub } from '../../host/hub/index.js';
import { tempDir, removeDir } from './helpers.js';
import { sdkRegister } from './dps-sdk.js';

const CLI = fileURLToPath(new URL('../../host/cli.js', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'hub', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const start = (dir: string) => LocalHub.start({ port: 0, plainPort: false, dpsPort: 0, dpsRetryAfterSeconds: 0, dataDir: dir, log: false });

test('the id scope is 0ne + 8 upper-case hex digits, generated once: it and the enrollments survive a restart (dps.json, 0600)', async () => {
  const dir = tempDir();
  try {
    let hub = await start(dir);
    const scope = hub.dps!.idScope;
    assert.match(scope, /^0ne[0-9A-F]{8}$/);
    await hub.dps!.addEnrollment('survivor');
    await hub.stop();
    hub = await start(dir);
    try {
      assert.equal(hub.dps!.idScope, scope);
      assert.ok(hub.dps!.getEnrollment('survivor'));
    } finally {
      await hub.stop();
    }
    assert.equal(JSON.parse(readFileSync(join(dir, 'dps.json'), 'utf8')).idScope, scope);
    for (const f of ['dps.json', 'dps-enrollments.json']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    // the CLI reads the same scope
    const r = await cli('dps', '--data-dir', dir, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).idScope, scope);
  } finally {
    removeDir(dir);
  }
});

test('enrollments added with the CLI while the hub runs are accepted at once; hub dps prints the scope and endpoint', async () => {
  const dir = tempDir();
  const hub = await start(dir);
  try {
    const key = Buffer.alloc(32, 5).toString('base64');
    let r = await cli('dps', 'enrollment', 'add', 'cli-dev', '--primary-key', key, '--initial-twin', '{"tags":{"owner":"cli"}}', '--data-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added enrollment cli-dev \(symmetric key\)/);
    assert.match(r.stdout, /accepts it now/);
    const reg = await sdkRegister(hub, 'cli-dev', { symmetricKey: key });
    assert.equal(reg.deviceId, 'cli-dev');
    assert.deepEqual((await hub.getTwin('cli-dev')).tags, { owner: 'cli' });

    r = await cli('dps', '--data-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`id scope\\s+${hub.dps!.idScope}`));
    assert.match(r.stdout, new RegExp(`mqtts://localhost:${hub.dps!.port}`));

    const groupKey = Buffer.alloc(32, 6).toString('base64');
    r = await cli('dps', 'group', 'add', 'cli-group', '--primary-key', groupKey, '--data-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    r = await cli('dps', 'group', 'show', 'cli-group', '--registration-id', 'cli-member', '--json', '--data-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    const derived = createHmac('sha256', Buffer.from(groupKey, 'base64')).update('cli-member').digest('base64');
    assert.equal(JSON.parse(r.stdout).deviceKey, derived);
    assert.equal((await sdkRegister(hub, 'cli-member', { symmetricKey: derived })).deviceId, 'cli-member');

    r = await cli('dps', 'enrollment', 'list', '--data-dir', dir);
    assert.match(r.stdout, /cli-dev\s+symmetricKey/);
    r = await cli('dps', 'enrollment', 'remove', 'cli-dev', '--data-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hub.dps!.getEnrollment('cli-dev'), undefined, 'the running DPS sees the removal');
    r = await cli('dps', 'group', 'remove', 'cli-group', '--data-dir', dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hub.dps!.listGroups().length, 0);
  } finally {
    await hub.stop();
    removeDir(dir);
  }
});

test('bad dps arguments exit 2 with a message naming the problem', async () => {
  const dir = tempDir();
  try {
    const cases: [string[], RegExp][] = [
      [['dps', 'enrollment', 'add'], /needs a registration id/],
      [['dps', 'enrollment', 'add', 'bad id!'], /invalid registration id/],
      [['dps', 'enrollment', 'add', 'k', '--primary-key', 'c2hvcnQ='], /base64 of 16 to 64 bytes/],
      [['dps', 'enrollment', 'add', 'x', '--x509-thumbprint', 'zz'], /40 \(SHA-1\) or 64 \(SHA-256\) hex digits/],
      [['dps', 'enrollment', 'add', 't', '--initial-twin', '{nope'], /--initial-twin is not JSON/],
      [['dps', 'enrollment', 'add', 't', '--initial-twin', '{"tags":{"a.b":1}}'], /contains '\.'/],
      [['dps', 'enrollment', 'show', 'missing'], /does not exist/],
      [['dps', 'group', 'remove', 'missing'], /does not exist/],
      [['dps', 'group', 'add', 'g', '--x509-thumbprint', 'A'.repeat(40)], /symmetric-key enrollment groups only/],
      [['dps', 'frobnicate'], /unknown dps command/],
      [['dps', 'enrollment', 'frobnicate'], /unknown enrollment command/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args, '--data-dir', dir);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    const twice = await cli('dps', 'enrollment', 'add', 'twice', '--data-dir', dir);
    assert.equal(twice.code, 0, twice.stderr);
    const again = await cli('dps', 'enrollment', 'add', 'twice', '--data-dir', dir);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
  } finally {
    removeDir(dir);
  }
});

test('iothub-wasm hub --dps-port prints the DPS endpoint and id scope in its banner', async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, [CLI, 'hub', '--port', '0', '--dps-port', '0', '--rest-port', '0', '--amqp-port', 'off', '--data-dir', dir, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`no DPS line in the banner:\n${out}`)), 15_000);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /^ *DPS: .*$/m.exec(out);
        if (m && /service connection string/.test(out)) { clearTimeout(t); resolve(m[0]); }
      });
      child.on('exit', (code) => { clearTimeout(t); reject(new Error(`the hub exited (${code}):\n${out}`)); });
    });
    assert.match(line, /DPS: mqtts:\/\/localhost:\d+ id scope 0ne[0-9A-F]{8}/);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    removeDir(dir);
  }
});
