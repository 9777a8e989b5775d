// connect() settles: a first attempt that fails rejects with the core's code and the board's error as `cause`,
// and the client stops instead of retrying for ever; once connected, drops are retried with the core's back-off.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHub, sleep, type Rig } from './support.js';
import { DeviceClient } from '../../host/device/client.js';
import { IotHubWasmError } from '../../host/errors.js';

let rig: Rig;
before(async () => { rig = await startHub(); });
after(async () => { await rig.stop(); });

/** A loopback port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs the CLI without blocking this process (the hub under test runs in it). */
function cli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  const bin = fileURLToPath(new URL('../../host/cli.js', import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30000 }, (err, _stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });
}

/** Rejects within `ms` or fails the test: "settles" is the rule, not a speed. */
function settles<T>(p: Promise<T>, ms = 15000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`connect() had not settled after ${ms} ms`)), ms).unref())]);
}

test("without the hub's CA, connect() rejects naming the certificate problem, with the TLS error as cause, and stops", async () => {
  const { connectionString } = await rig.hub.registry.addDevice('no-ca');
  const client = DeviceClient.fromConnectionString(connectionString, { retry: { minMs: 10, maxMs: 20, jitterMs: 0 } });
  const seen: Array<{ code: string; retryInMs: number }> = [];
  client.on('disconnected', (e) => seen.push(e));
  const err = await settles(client.connect()).then(() => assert.fail('connected without trusting the CA'), (e: unknown) => e);
  assert.ok(err instanceof IotHubWasmError);
  assert.equal(err.code, 'CLIENT_TRANSPORT_CLOSED');
  const cause = (err as Error & { cause?: NodeJS.ErrnoException }).cause;
  assert.ok(cause instanceof Error, 'the TLS error is the cause');
  assert.match(String(cause.code), /CERT|SIGNATURE|ISSUER|VERIFY/);
  assert.match(err.message, /not trusted: pass its CA/);
  assert.doesNotMatch(err.message, /SharedAccess|sig=/, 'no secret in the message');
  await sleep(200); // with a 10-20 ms back-off, retrying would show here
  assert.equal(client.state, 'stopped');
  assert.deepEqual(seen.map((e) => [e.code, e.retryInMs]), [['CLIENT_TRANSPORT_CLOSED', -1]], 'one disconnected event, final');
});

test('a port nobody listens on rejects connect() with ECONNREFUSED as cause; connect() can be called again', async () => {
  const { connectionString } = await rig.hub.registry.addDevice('refused');
  const port = await closedPort();
  const cs = connectionString.replace(/GatewayHostName=[^;]+/, '') + `;GatewayHostName=127.0.0.1:${port}`;
  const client = DeviceClient.fromConnectionString(cs.replace(/;;+/g, ';'), { ca: rig.hub.ca, retry: { minMs: 10, maxMs: 20, jitterMs: 0 } });
  const err = await settles(client.connect()).then(() => assert.fail('connected to a closed port'), (e: unknown) => e as IotHubWasmError & { cause?: NodeJS.ErrnoException });
  assert.equal(err.code, 'CLIENT_TRANSPORT_CLOSED');
  assert.equal(err.cause?.code, 'ECONNREFUSED');
  assert.match(err.message, /nothing listens there/);
  assert.equal(client.state, 'stopped');
  // a second attempt is a fresh first attempt: it settles too
  await assert.rejects(settles(client.connect()), { code: 'CLIENT_TRANSPORT_CLOSED' });
});

test('once connected, a drop is retried with back-off (no rejection, disconnected carries retryInMs) and the client comes back', async () => {
  const { connectionString } = await rig.hub.registry.addDevice('drops');
  const client = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, retry: { minMs: 50, maxMs: 100, jitterMs: 0 } });
  await settles(client.connect());
  const dropped = new Promise<{ retryInMs: number; code: string }>((r) => client.once('disconnected', r));
  const back = new Promise<void>((r) => client.once('connected', () => r()));
  await rig.hub.dropConnection('drops');
  const e = await settles(dropped);
  assert.ok(e.retryInMs >= 0, 'a later drop is retried');
  await settles(back);
  await client.sendTelemetry('after the drop');
  await client.close();
});

test('iothub-wasm run exits 1 naming the cause when the hub is not trusted, and 2 for a --ca that is not a certificate', async () => {
  const { connectionString } = await rig.hub.registry.addDevice('run-no-ca');
  const untrusted = await cli(['run', '--connection-string', connectionString, '--count', '1']);
  assert.equal(untrusted.status, 1, untrusted.stderr);
  assert.match(untrusted.stderr, /CLIENT_TRANSPORT_CLOSED: cannot connect: .*not trusted/);
  const dir = mkdtempSync(join(tmpdir(), 'iothub-ca-'));
  try {
    const notPem = join(dir, 'ca.txt');
    writeFileSync(notPem, 'hello\n');
    const bad = await cli(['run', '--connection-string', connectionString, '--ca', notPem]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /holds no PEM certificate/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
