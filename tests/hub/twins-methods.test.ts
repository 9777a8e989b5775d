// Unit tests of two stores on their own, without a broker: the twin store (versions, limits, persistence, member
// names as data) and the method invoker (pending calls by request id, identity check, timeout, size limit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TwinStore, TWIN_SECTION_MAX_BYTES } from '../../host/hub/state/twin-store.js';
import { MethodInvoker, METHOD_MAX_PAYLOAD_BYTES, METHOD_MAX_NESTING, parseMethodPayload } from '../../host/hub/state/methods.js';
import { HubError } from '../../host/hub/errors.js';
import { tempDir, removeDir } from './helpers.js';

const refusedWith = (status: number, code: string) => (e: unknown) =>
  e instanceof HubError && e.status === status && e.code === code;

// --- TwinStore ------------------------------------------------------------------------------------------------

test('a reported patch merges (null deletes) and bumps the reported $version and the twin version, not the desired one', async () => {
  const twins = new TwinStore(null);
  assert.deepEqual(twins.deviceView('d'), { desired: { $version: 1 }, reported: { $version: 1 } });
  assert.equal(await twins.patchReported('d', undefined, { a: 1, b: { c: 'x', d: true } }), 2);
  assert.equal(await twins.patchReported('d', undefined, { a: null, b: { c: null } }), 3);
  const t = twins.get('d');
  assert.deepEqual(t.properties, { desired: { $version: 1 }, reported: { b: { d: true }, $version: 3 } });
  assert.equal(t.version, 3);
  assert.equal(t.etag, Buffer.from('3').toString('base64'));
});

test('a desired patch is sent on without its top-level $ members (ignored, as IoT Hub does) and with the new $version; a nested $ name is refused', async () => {
  const twins = new TwinStore(null);
  const r = await twins.patchDesired('d', 'm', { $version: 99, $metadata: {}, rate: 5, nested: { inner: 1 } });
  assert.deepEqual(r, { version: 2, patch: { rate: 5, nested: { inner: 1 }, $version: 2 } });
  assert.deepEqual(twins.deviceView('d', 'm').desired, { rate: 5, nested: { inner: 1 }, $version: 2 });
  await assert.rejects(twins.patchDesired('d', 'm', { nested: { $inner: 1 } }), refusedWith(400, 'ArgumentInvalid'));
  assert.equal(twins.deviceView('d', 'm').desired['$version'], 2);
  assert.deepEqual(twins.deviceView('d').desired, { $version: 1 }, 'the device twin is not the module twin');
});

test('a refused patch (a bad key, too deep, over 32 KB, not an object) is a HubError and leaves the twin as it was', async () => {
  const twins = new TwinStore(null);
  await twins.patchReported('d', undefined, { keep: 1 });
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 11; i++) deep = { n: deep };
  await assert.rejects(twins.patchReported('d', undefined, { 'a.b': 1 }), refusedWith(400, 'ArgumentInvalid'));
  await assert.rejects(twins.patchReported('d', undefined, deep), refusedWith(400, 'ArgumentInvalid'));
  await assert.rejects(twins.patchReported('d', undefined, [1, 2]), refusedWith(400, 'ArgumentInvalid'));
  await assert.rejects(twins.patchReported('d', undefined, { big: 'x'.repeat(TWIN_SECTION_MAX_BYTES) }), refusedWith(413, 'MessageTooLarge'));
  await assert.rejects(twins.patchTags('d', undefined, { t: 'x'.repeat(8 * 1024) }), refusedWith(413, 'MessageTooLarge'));
  const t = twins.get('d');
  assert.deepEqual(t.properties.reported, { keep: 1, $version: 2 });
  assert.deepEqual(t.tags, {});
  assert.equal(t.version, 2);
});

test('a `__proto__` member of a twin patch is a property of the twin, not its prototype', async () => {
  const twins = new TwinStore(null);
  await twins.patchReported('d', undefined, JSON.parse('{"__proto__": {"polluted": 1}, "constructor": 2}'));
  const reported = twins.get('d').properties.reported;
  assert.equal(Object.getPrototypeOf(reported), Object.prototype);
  assert.equal((reported as Record<string, unknown>)['polluted'], undefined);
  assert.deepEqual(Object.keys(reported).sort(), ['$version', '__proto__', 'constructor']);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('twins are kept in the data folder: a new store over it reads the same documents and versions; removing a device removes its modules', async () => {
  const dir = tempDir();
  try {
    const a = new TwinStore(dir);
    await a.patchReported('d', undefined, { r: 1 });
    await a.patchDesired('d', 'm', { want: 'x' });
    await a.patchTags('e', undefined, { site: 'lab' });
    await a.flush();
    assert.ok(existsSync(join(dir, 'twins.json')));
    const b = new TwinStore(dir);
    assert.deepEqual(b.get('d'), a.get('d'));
    assert.deepEqual(b.get('d', 'm'), a.get('d', 'm'));
    assert.deepEqual(b.get('e').tags, { site: 'lab' });
    await b.remove('d');
    await b.flush();
    assert.deepEqual(new TwinStore(dir).identities(), [{ deviceId: 'e' }]);
  } finally {
    removeDir(dir);
  }
});

// --- MethodInvoker --------------------------------------------------------------------------------------------

test("a device's answer resolves its call with the status and the JSON payload; a second answer to the same $rid is refused", async () => {
  const m = new MethodInvoker();
  const { rid, result } = m.start('d', 'reboot', 60_000);
  assert.equal(m.size, 1);
  assert.equal(m.respond('d', rid, 200, Buffer.from('{"ok":true,"__proto__":{"x":1}}')), true);
  const r = await result;
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.payload as object), ['ok', '__proto__']);
  assert.equal(m.respond('d', rid, 500, Buffer.alloc(0)), false);
  assert.equal(m.size, 0);
});

test('an answer from another identity, or to an unknown $rid, is ignored and the call stays pending', async () => {
  const m = new MethodInvoker();
  const { rid, result } = m.start('d/mod', 'm', 60_000);
  const other = m.start('e', 'm', 60_000);
  assert.notEqual(rid, other.rid);
  assert.equal(m.respond('d', rid, 200, Buffer.from('1')), false);
  assert.equal(m.respond('e', rid, 200, Buffer.from('1')), false);
  assert.equal(m.respond('d/mod', rid + 'x', 200, Buffer.from('1')), false);
  assert.equal(m.size, 2);
  assert.equal(m.respond('d/mod', rid, 201, Buffer.from('"fine"')), true);
  assert.deepEqual(await result, { status: 201, payload: 'fine' });
  m.failAll(new HubError(503, 'ServiceUnavailable', 'stopping'));
  await assert.rejects(other.result, refusedWith(503, 'ServiceUnavailable'));
  assert.equal(m.size, 0);
});

test('a call nobody answers rejects with 504 GatewayTimeout, and a late answer is then refused', async () => {
  const m = new MethodInvoker();
  const { rid, result } = m.start('d', 'slow', 20);
  await assert.rejects(result, (e: unknown) => refusedWith(504, 'GatewayTimeout')(e) && /timed out/.test((e as Error).message));
  assert.equal(m.size, 0);
  assert.equal(m.respond('d', rid, 200, Buffer.from('{}')), false);
});

test(`an answer over ${METHOD_MAX_PAYLOAD_BYTES} bytes rejects the call with 413 MessageTooLarge`, async () => {
  const m = new MethodInvoker();
  const { rid, result } = m.start('d', 'big', 60_000);
  assert.equal(m.respond('d', rid, 200, Buffer.alloc(METHOD_MAX_PAYLOAD_BYTES + 1, 0x31)), true);
  await assert.rejects(result, refusedWith(413, 'MessageTooLarge'));
});

test('a method payload is JSON when it parses, null when empty, and the text when it is not JSON or nests too deep', () => {
  assert.equal(parseMethodPayload(Buffer.alloc(0)), null);
  assert.equal(parseMethodPayload(Buffer.from('  ')), null);
  assert.deepEqual(parseMethodPayload(Buffer.from('{"a":[1,2]}')), { a: [1, 2] });
  assert.equal(parseMethodPayload(Buffer.from('not json')), 'not json');
  const deep = '['.repeat(METHOD_MAX_NESTING + 1) + ']'.repeat(METHOD_MAX_NESTING + 1);
  assert.equal(parseMethodPayload(Buffer.from(deep)), deep);
  const ok = '['.repeat(METHOD_MAX_NESTING) + ']'.repeat(METHOD_MAX_NESTING);
  assert.notEqual(typeof parseMethodPayload(Buffer.from(ok)), 'string');
});
