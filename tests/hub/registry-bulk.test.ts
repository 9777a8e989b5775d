// Registry.addDevices: a fleet registered in one change of registry.json (what `simulate --hub-data-dir` uses).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../../host/hub/state/registry.js';
import { tempDir, removeDir } from './helpers.js';

test('addDevices registers every device in the order given, each with its own keys, and another process sees them all', async () => {
  const dir = tempDir();
  try {
    const r = new Registry(dir, 'localhost');
    const ids = Array.from({ length: 2000 }, (_, i) => `fleet-${i + 1}`);
    const added: string[] = [];
    r.on('added', (info) => added.push(info.deviceId));
    const infos = await r.addDevices(ids);
    await r.flush();
    assert.deepEqual(infos.map((i) => i.deviceId), ids);
    assert.equal(new Set(infos.map((i) => i.primaryKey)).size, ids.length, 'each device has its own key');
    assert.ok(infos.every((i) => i.connectionString.includes(`DeviceId=${i.deviceId};SharedAccessKey=${i.primaryKey}`)));
    assert.equal(added.length, ids.length, "one 'added' per new device");
    const other = new Registry(dir, 'localhost');
    assert.equal(other.list().length, ids.length);
    assert.equal(other.get('fleet-1234')!.primaryKey, infos[1233]!.primaryKey);
    r.close();
  } finally { removeDir(dir); }
});

test('addDevices keeps devices registered before (same keys) and adds only the new ones', async () => {
  const dir = tempDir();
  try {
    const r = new Registry(dir, 'localhost');
    const before = await r.addDevice('d-2');
    const infos = await new Registry(dir, 'localhost').addDevices(['d-1', 'd-2', 'd-3', 'd-3']);
    assert.deepEqual(infos.map((i) => i.deviceId), ['d-1', 'd-2', 'd-3', 'd-3']);
    assert.equal(infos[1]!.primaryKey, before.primaryKey, 'an existing device keeps its keys');
    assert.equal(infos[2]!.primaryKey, infos[3]!.primaryKey, 'an id given twice is one device');
    assert.equal(r.list().length, 3, 'the other instance adopts the write');
  } finally { removeDir(dir); }
});

test("addDevices with existing 'fail', or with a bad id, adds nothing and says which device", async () => {
  const dir = tempDir();
  try {
    const r = new Registry(dir, 'localhost');
    await r.addDevice('taken');
    await assert.rejects(r.addDevices(['new-1', 'taken', 'new-2'], {}, 'fail'), (e: Error & { status?: number }) => /device 'taken' already exists/.test(e.message));
    await assert.rejects(r.addDevices(['ok-1', 'bad id/with slash']), /device id/);
    assert.deepEqual(new Registry(dir, 'localhost').list().map((d) => d.deviceId), ['taken']);
  } finally { removeDir(dir); }
});
