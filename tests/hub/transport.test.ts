// TLS, WebSocket and plain listeners; restart persistence; the CLI's device commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { get as httpGet } from 'node:http';
import type { TelemetryMessage } from '../../host/hub/index.js';
import { LocalHub, WEBSOCKET_PATH } from '../../host/hub/index.js';
import { main as hubCli } from '../../host/hub/cli.js';
import { Registry } from '../../host/hub/state/registry.js';
import { startHub, connectRaw, endClient, once, tempDir, removeDir } from './helpers.js';

test('MQTT over TLS, WebSocket over TLS (path /$iothub/websocket) and plain WebSocket', async () => {
  const { hub, done } = await startHub();
  try {
    const key = (await hub.registry.addDevice('t1')).primaryKey;
    for (const url of [
      `mqtts://localhost:${hub.port}`,
      `wss://localhost:${hub.port}${WEBSOCKET_PATH}`,
      `ws://127.0.0.1:${hub.plainPort}${WEBSOCKET_PATH}`,
    ]) {
      const c = await connectRaw(hub, { deviceId: 't1', key, url, extra: { ca: hub.ca, rejectUnauthorized: true } });
      const got = once<TelemetryMessage>(hub, 'telemetry', (m) => m.deviceId === 't1');
      await c.publishAsync('devices/t1/messages/events/via=' + encodeURIComponent(url), 'x', { qos: 1 });
      assert.equal((await got).properties['via'], url);
      await endClient(c);
    }
  } finally {
    await done();
  }
});

test('the TLS certificate is issued by hub.ca for localhost and 127.0.0.1; other HTTP paths get 404', async () => {
  const { hub, done } = await startHub();
  try {
    for (const host of ['localhost', '127.0.0.1']) {
      await new Promise<void>((resolve, reject) => {
        const s = tlsConnect({ host, port: hub.port, ca: hub.ca }, () => {
          assert.ok(s.authorized, String(s.authorizationError));
          s.end();
          resolve();
        });
        s.on('error', reject);
      });
    }
    const status = await new Promise<number>((resolve, reject) => {
      httpGet(`http://127.0.0.1:${hub.plainPort}/nothing`, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    assert.equal(status, 404);
  } finally {
    await done();
  }
});

test('restarting the hub with the same data folder keeps devices, keys, twins and the CA', async () => {
  const dir = tempDir();
  try {
    let hub = await LocalHub.start({ port: 0, plainPort: 0, dataDir: dir, log: false });
    const info = await hub.registry.addDevice('keep');
    await hub.registry.addModule('keep', 'mod');
    const c = await connectRaw(hub, { deviceId: 'keep', key: info.primaryKey });
    await c.subscribeAsync('$iothub/twin/res/#');
    const res = new Promise<string>((resolve) => c.once('message', (t) => resolve(t)));
    c.publish('$iothub/twin/PATCH/properties/reported/?$rid=1', '{"fw":"1.2"}');
    assert.equal(await res, '$iothub/twin/res/204/?$rid=1&$version=2');
    await endClient(c);
    await hub.updateDesired('keep', { rate: 5 });
    const ca = hub.ca;
    await hub.stop();

    hub = await LocalHub.start({ port: 0, plainPort: 0, dataDir: dir, log: false });
    try {
      assert.equal(hub.ca, ca);
      assert.equal(hub.registry.get('keep')?.primaryKey, info.primaryKey);
      assert.equal(hub.registry.get('keep', 'mod')?.moduleId, 'mod');
      assert.deepEqual((await hub.getTwin('keep')).properties, { desired: { rate: 5, $version: 2 }, reported: { fw: '1.2', $version: 2 } });
      await endClient(await connectRaw(hub, { deviceId: 'keep', key: info.secondaryKey }));
    } finally {
      await hub.stop();
    }
  } finally {
    removeDir(dir);
  }
});

test('CLI device commands; a running hub accepts a device added by another process', async () => {
  const { hub, dir, done } = await startHub();
  const log = console.log;
  const err = console.error;
  const out: string[] = [];
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  console.error = (...a: unknown[]) => { out.push(a.join(' ')); };
  try {
    assert.equal(await hubCli(['device', 'add', 'cli-dev', '--data-dir', dir]), 0);
    assert.match(out.join('\n'), /HostName=localhost;DeviceId=cli-dev;SharedAccessKey=/);
    assert.equal(await hubCli(['device', 'add', 'cli-dev', '--data-dir', dir]), 2);
    assert.match(out.at(-1)!, /already exists/);
    assert.equal(await hubCli(['device', 'show', 'nobody', '--data-dir', dir]), 2);
    assert.equal(await hubCli(['device', 'frob', '--data-dir', dir]), 2);
    assert.equal(await hubCli(['device', 'list', '--json', '--data-dir', dir]), 0);
    assert.ok((JSON.parse(out.at(-1)!) as { deviceId: string }[]).some((d) => d.deviceId === 'cli-dev'));
    const key = new Registry(dir, 'localhost').record('cli-dev')!.primaryKey;
    await endClient(await connectRaw(hub, { deviceId: 'cli-dev', key }));
    assert.equal(await hubCli(['device', 'remove', 'cli-dev', '--data-dir', dir]), 0);
    assert.equal(await hubCli(['device', 'remove', 'cli-dev', '--data-dir', dir]), 2);
  } finally {
    console.log = log;
    console.error = err;
    await done();
  }
});
