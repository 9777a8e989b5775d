// Store and forward on the Linux board (`--store DIR`: boards/c/iothub_store.c over boards/posix/file_storage.c):
// a reading accepted while the hub is down survives SIGKILL and reaches the hub after a restart, with its id and
// creation time, before the new readings; the next start sends none again; a torn record at the log's end is cut
// off and reported by name.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalHub } from '../../host/hub/index.js';
import type { TelemetryMessage } from '../../host/hub/state/messages.js';
import { tempDir, removeDir } from '../hub/helpers.js';
import { boardTest, POSIX_BINARY, runProgram, type Running } from './support.js';

const NEEDS = { packages: ['wabt', 'libmbedtls-dev', 'gcc'], built: ['boards/posix/build/iothub-wasm-posix'] };

/** Resolves once a line after index `from` matches (bounded: the board's own pace, not a timing). */
async function lineAfter(run: Running, from: number, re: RegExp, what: string): Promise<{ line: string; index: number }> {
  const deadline = Date.now() + 30000;
  for (;;) {
    const i = run.lines.findIndex((l, k) => k > from && re.test(l));
    if (i >= 0) return { line: run.lines[i]!, index: i };
    if (Date.now() > deadline) throw new Error(`no ${what}; output:\n${run.lines.join('\n')}\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

boardTest('--store: a reading accepted while the hub is down survives SIGKILL and reaches the hub after a restart, first, with its id and creation time; the next start sends none again', NEEDS, async () => {
  const dataDir = tempDir();
  const work = mkdtempSync(join(tmpdir(), 'iothub-posix-store-'));
  const store = join(work, 'store');
  let hub: LocalHub | undefined = await LocalHub.start({ port: 0, log: false, dataDir });
  let run: Running | undefined;
  try {
    const id = 'posix-store';
    const { connectionString } = await hub.registry.addDevice(id);
    const port = hub.port;
    const ca = join(work, 'ca.pem');
    writeFileSync(ca, hub.ca);
    const args = (more: string[]) => ['--connection-string', connectionString, '--ca', ca, '--store', store, ...more];

    run = runProgram(POSIX_BINARY, args(['--interval-ms', '100']));
    await run.waitLine(/store: 0 messages to send$/);
    const acked = await run.waitLine(/"seq":1\} acknowledged$/);
    void acked;
    await hub.stop();
    hub = undefined;
    const down = await lineAfter(run, -1, / disconnected: CLIENT_\w+/, 'disconnect');
    // a message record (a completion marker is 28 bytes) written after the hub went away: accepted, never acknowledged
    await lineAfter(run, down.index, /stored (?!28 )\d+ bytes/, 'a reading stored while the hub is down');
    const lastAcked = Math.max(...run.lines.map((l) => /"seq":(\d+)\} acknowledged$/.exec(l)).filter((m) => m).map((m) => Number(m![1])));
    const stuck = lastAcked + 1;
    const killedAt = Date.now();
    run.kill();
    await run.exited;

    hub = await LocalHub.start({ port, log: false, dataDir });
    const seen: TelemetryMessage[] = [];
    hub.on('telemetry', (m: TelemetryMessage) => { if (m.deviceId === id) seen.push(m); });
    run = runProgram(POSIX_BINARY, args(['--count', '2', '--interval-ms', '20']));
    await run.waitLine(/store: 1 messages to send$/);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    const first = seen[0]!;
    assert.equal(first.systemProperties.messageId, `reading-${stuck}`, 'the stored reading went first');
    assert.equal((JSON.parse(first.body.toString()) as { seq: number }).seq, stuck);
    assert.ok(Date.parse(String(first.systemProperties['iothub-creation-time-utc'])) <= killedAt, 'its creation time is from the first run');
    assert.deepEqual(seen.slice(1).map((m) => m.systemProperties.messageId), ['reading-0', 'reading-1']);

    // a torn record at the end (a write cut by a reset): cut off, reported, nothing sent twice
    appendFileSync(join(store, 'telemetry.log'), Buffer.from('IHSR\x01\x01\x00\x00\x07'));
    seen.length = 0;
    run = runProgram(POSIX_BINARY, args(['--count', '1', '--interval-ms', '20']));
    await run.waitLine(/warning: CLIENT_STORE_TRUNCATED$/);
    await run.waitLine(/store: 0 messages to send$/);
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
    assert.deepEqual(seen.map((m) => m.systemProperties.messageId), ['reading-0']);
  } finally {
    run?.kill();
    await hub?.stop();
    removeDir(dataDir);
    rmSync(work, { recursive: true, force: true });
  }
});
