// The hub's back-end commands through the real bin (dist/host/cli.js), against a real hub (`iothub-wasm hub`) in a
// child process on a temp folder and a real device (mqtt.js over TLS with the hub's CA): monitor, c2d send,
// method invoke, twin show/update, device list; and their errors when no hub runs or the arguments are bad.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { tempDir, removeDir, sas, inSeconds, endClient } from './helpers.js';

const CLI = fileURLToPath(new URL('../../host/cli.js', import.meta.url));

interface Run { code: number; stdout: string; stderr: string }

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'hub', ...args], { timeout: 40_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Resolves once `stream`'s text matches `re` (bounded), with the text so far. */
function waitFor(child: ChildProcessWithoutNullStreams, stream: 'stdout' | 'stderr', re: RegExp, what: string, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => { cleanup(); reject(new Error(`${what}: not seen within ${ms} ms; ${stream} so far:\n${text}`)); }, ms);
    const onData = (c: Buffer) => { text += c.toString(); if (re.test(text)) { cleanup(); resolve(text); } };
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`${what}: the process exited (${code}) first; ${stream}:\n${text}`)); };
    const cleanup = () => { clearTimeout(t); child[stream].off('data', onData); child.off('exit', onExit); };
    child[stream].on('data', onData);
    child.once('exit', onExit);
  });
}

/** The exit code (or the signal's name) once the process has exited. */
const exited = (child: ChildProcessWithoutNullStreams) => new Promise<number | string | null>((r) => {
  if (child.exitCode !== null || child.signalCode !== null) r(child.exitCode ?? child.signalCode); else child.once('exit', (code, signal) => r(code ?? signal));
});

let dir = '';
let hub: ChildProcessWithoutNullStreams;
let ca = '';
let mqttPort = 0;
const output: string[] = [];

/** Runs a command and keeps its output for the no-secrets check. */
async function run(...args: string[]): Promise<Run> {
  const r = await cli(...args, '--data-dir', dir);
  output.push(r.stdout, r.stderr);
  return r;
}

/** A device on the hub over MQTT/TLS, subscribed to C2D, methods and desired properties. */
async function device(id: string): Promise<MqttClient> {
  const added = await run('device', 'add', id);
  assert.equal(added.code, 0, added.stderr);
  const key = /SharedAccessKey=([^;\s]+)/.exec(added.stdout)![1]!;
  const client = mqtt.connect(`mqtts://localhost:${mqttPort}`, {
    ca, servername: 'localhost', clientId: id, username: `localhost/${id}/?api-version=2021-04-12`,
    password: sas(`localhost/devices/${id}`, key, inSeconds(3600)), protocolVersion: 4, reconnectPeriod: 0,
  });
  await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); });
  await client.subscribeAsync([`devices/${id}/messages/devicebound/#`, '$iothub/methods/POST/#', '$iothub/twin/PATCH/properties/desired/#'], { qos: 1 });
  return client;
}

before(async () => {
  dir = tempDir();
  hub = spawn(process.execPath, [CLI, 'hub', '--port', '0', '--amqp-port', '0', '--rest-port', '0', '--dps-port', 'off', '--data-dir', dir, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] }) as unknown as ChildProcessWithoutNullStreams;
  // a test file ended by the runner (its time-out) takes its hub with it
  process.once('exit', () => { hub.kill('SIGKILL'); });
  await waitFor(hub, 'stdout', /Event Hub-compatible connection string/, 'the hub banner');
  mqttPort = (JSON.parse(readFileSync(join(dir, 'hub.json'), 'utf8')) as { gatewayHostName: string }).gatewayHostName.split(':').map(Number)[1]!;
  ca = readFileSync(join(dir, 'tls', 'ca.pem'), 'utf8');
});

after(async () => {
  const gone = exited(hub);
  hub.kill('SIGTERM');
  await gone;
  removeDir(dir);
});

test('hub monitor prints a message a device sends with its application and system properties, one JSON object per line; Ctrl-C exits 0', async () => {
  const dev = await device('mon-dev');
  const other = await device('mon-other');
  const mon = spawn(process.execPath, [CLI, 'hub', 'monitor', '--json', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] }) as unknown as ChildProcessWithoutNullStreams;
  const readable = spawn(process.execPath, [CLI, 'hub', 'monitor', '--device', 'mon-dev', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] }) as unknown as ChildProcessWithoutNullStreams;
  try {
    await Promise.all([waitFor(mon, 'stderr', /monitoring telemetry/, 'monitor --json ready'), waitFor(readable, 'stderr', /monitoring telemetry/, 'monitor --device ready')]);
    const lines = waitFor(mon, 'stdout', /"mon-dev"[^\n]*\n/, 'the JSON line');
    const line = waitFor(readable, 'stdout', /mon-dev[^\n]*\n/, 'the readable line');
    // the filtered monitor must skip this one
    await other.publishAsync('devices/mon-other/messages/events/', '{"n":0}', { qos: 1 });
    await dev.publishAsync('devices/mon-dev/messages/events/temp=21&%24.mid=m-1&%24.ct=application%2Fjson&%24.ce=utf-8', '{"t":21.5}', { qos: 1 });
    const events = (await lines).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const e = events.find((x) => x['deviceId'] === 'mon-dev')!;
    assert.deepEqual(e['body'], { t: 21.5 });
    const props = e['properties'] as { application: Record<string, unknown>; system: Record<string, unknown> };
    assert.deepEqual(props.application, { temp: '21' });
    assert.equal(props.system['message-id'], 'm-1');
    assert.equal(props.system['content-type'], 'application/json');
    assert.equal(props.system['content-encoding'], 'utf-8');
    assert.match(String(e['enqueuedTime']), /^\d{4}-\d\d-\d\dT/);
    const text = await line;
    assert.doesNotMatch(text, /mon-other/, '--device shows only that device');
    assert.match(text, /mon-dev {2}\{"t":21\.5\} {2}properties: temp=21 {2}system: message-id=m-1, content-type=application\/json/);
  } finally {
    const codes = Promise.all([exited(mon), exited(readable)]);
    mon.kill('SIGINT');
    readable.kill('SIGINT');
    assert.deepEqual(await codes, [0, 0], 'Ctrl-C exits 0');
    await Promise.all([endClient(dev), endClient(other)]);
  }
});

test('hub c2d send reaches the device with its properties and prints the device\'s Success feedback', async () => {
  const dev = await device('c2d-dev');
  try {
    const got = new Promise<{ topic: string; body: string }>((resolve) => dev.on('message', (topic, body) => { if (topic.includes('devicebound')) resolve({ topic, body: body.toString() }); }));
    const r = await run('c2d', 'send', 'c2d-dev', 'hello device', '--property', 'color=red', '--ack', 'full', '--message-id', 'c2d-1', '--wait', '20');
    assert.equal(r.code, 0, r.stderr);
    const m = await got;
    assert.equal(m.body, 'hello device');
    assert.match(m.topic, /color=red/);
    assert.match(m.topic, /%24\.mid=c2d-1|\$\.mid=c2d-1/);
    assert.match(r.stdout, /sent c2d-1 to c2d-dev/);
    assert.match(r.stdout, /feedback: Success/);
    const plain = await run('c2d', 'send', 'c2d-dev', 'no ack', '--json');
    assert.equal(plain.code, 0, plain.stderr);
    assert.match((JSON.parse(plain.stdout) as { messageId: string }).messageId, /^[0-9a-f-]{36}$/);
    const unknown = await run('c2d', 'send', 'nobody', 'x');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /DeviceNotFound/);
  } finally {
    await endClient(dev);
  }
});

test('hub method invoke prints the device\'s status and payload as JSON; exits 1 with 404 DeviceNotOnline for a device that is not connected, 504 for one that does not answer', async () => {
  const dev = await device('m-dev');
  try {
    dev.on('message', (topic, body) => {
      const m = /^\$iothub\/methods\/POST\/([^/]+)\/\?\$rid=(.+)$/.exec(topic);
      if (m) void dev.publishAsync(`$iothub/methods/res/201/?$rid=${m[2]}`, JSON.stringify({ method: m[1], got: JSON.parse(body.toString()) as unknown }));
    });
    const r = await run('method', 'invoke', 'm-dev', 'reboot', '--payload', '{"delay":3}', '--timeout', '10');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { status: 201, payload: { method: 'reboot', got: { delay: 3 } } });
    const offline = await run('device', 'add', 'm-offline');
    assert.equal(offline.code, 0, offline.stderr);
    const o = await run('method', 'invoke', 'm-offline', 'reboot');
    assert.equal(o.code, 1);
    assert.match(o.stderr, /404 DeviceNotOnline/);
    assert.equal(o.stdout, '');
    // subscribed to methods, never answers: the hub's 504 after --timeout (5 s, IoT Hub's least)
    const mute = await device('m-mute');
    try {
      const t = await run('method', 'invoke', 'm-mute', 'reboot', '--timeout', '5');
      assert.equal(t.code, 1);
      assert.match(t.stderr, /method reboot on m-mute: 504 GatewayTimeout/);
      assert.match(t.stderr, /--timeout gives it longer/);
    } finally {
      await endClient(mute);
    }
  } finally {
    await endClient(dev);
  }
});

test('hub twin update --desired reaches the device\'s desired-properties subscription; twin show prints the twin as JSON', async () => {
  const dev = await device('t-dev');
  try {
    const patch = new Promise<Record<string, unknown>>((resolve) => dev.on('message', (topic, body) => {
      if (topic.startsWith('$iothub/twin/PATCH/properties/desired/')) resolve(JSON.parse(body.toString()) as Record<string, unknown>);
    }));
    const r = await run('twin', 'update', 't-dev', '--desired', '{"interval":5}', '--tags', '{"site":"lab"}');
    assert.equal(r.code, 0, r.stderr);
    const twin = JSON.parse(r.stdout) as { tags: unknown; properties: { desired: Record<string, unknown> } };
    assert.deepEqual(twin.tags, { site: 'lab' });
    assert.equal(twin.properties.desired['interval'], 5);
    const seen = await patch;
    assert.equal(seen['interval'], 5);
    const shown = await run('twin', 'show', 't-dev');
    assert.equal(shown.code, 0, shown.stderr);
    const t = JSON.parse(shown.stdout) as { deviceId: string; connectionState: string; properties: { desired: Record<string, unknown> } };
    assert.equal(t.deviceId, 't-dev');
    assert.equal(t.connectionState, 'Connected');
    assert.equal(t.properties.desired['$version'], seen['$version']);
    const missing = await run('twin', 'show', 'nobody');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /404 DeviceNotFound/);
  } finally {
    await endClient(dev);
  }
});

test('hub device list shows which devices are connected and since when', async () => {
  const before = Date.now();
  const dev = await device('l-dev');
  try {
    const idle = await run('device', 'add', 'l-idle');
    assert.equal(idle.code, 0, idle.stderr);
    const r = await run('device', 'list');
    assert.equal(r.code, 0, r.stderr);
    const m = /^l-dev {2}connected since (\S+)$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    const since = Date.parse(m[1]!);
    assert.ok(since >= before - 1000 && since <= Date.now(), `${m[1]} is the connect time`);
    assert.match(r.stdout, /^l-idle {2}disconnected$/m);
    const j = await run('device', 'list', '--json');
    const list = JSON.parse(j.stdout) as { deviceId: string; connectionState: string; connectionStateUpdatedTime: string | null }[];
    assert.equal(list.find((d) => d.deviceId === 'l-dev')?.connectionState, 'Connected');
    assert.equal(list.find((d) => d.deviceId === 'l-idle')?.connectionState, 'Disconnected');
  } finally {
    await endClient(dev);
  }
});

test('no command prints the service policy\'s keys', () => {
  const policies = JSON.parse(readFileSync(join(dir, 'policies.json'), 'utf8')) as { policies: { primaryKey: string; secondaryKey: string }[] };
  const all = output.join('\n');
  assert.ok(all.length > 0);
  for (const p of policies.policies) {
    assert.ok(!all.includes(p.primaryKey) && !all.includes(p.secondaryKey), 'a policy key was printed');
  }
});

test('with no hub on the data folder each command exits 1 naming the folder and how to start one', async () => {
  const empty = tempDir();
  try {
    for (const args of [['monitor'], ['c2d', 'send', 'd', 'b'], ['method', 'invoke', 'd', 'm'], ['twin', 'show', 'd'], ['twin', 'update', 'd', '--desired', '{}']]) {
      const r = await cli(...args, '--data-dir', empty);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`no hub is running on the data folder ${empty}`), r.stderr);
      assert.ok(r.stderr.includes(`iothub-wasm hub --data-dir ${empty}`), r.stderr);
    }
  } finally {
    removeDir(empty);
  }
});

test('bad arguments exit 2 with the command\'s usage line; --help prints each command\'s help', async () => {
  const empty = tempDir();
  try {
    const cases: [string[], RegExp][] = [
      [['monitor', '--bogus'], /Unknown option '--bogus'/],
      [['monitor', 'extra'], /unexpected argument 'extra'/],
      [['c2d', 'send', 'd'], /needs a device id and a body/],
      [['c2d', 'send', 'd', 'b', '--ack', 'sometimes'], /--ack must be none, positive, negative, full/],
      [['c2d', 'send', 'd', 'b', '--property', 'novalue'], /--property takes k=v/],
      [['c2d', 'receive'], /unknown c2d command 'receive'/],
      [['method', 'invoke', 'd', 'm', '--payload', '{x'], /--payload is not JSON/],
      [['method', 'invoke', 'd', 'm', '--timeout', '1'], /--timeout must be a whole number of seconds from 5 to 300/],
      [['method', 'invoke', 'd'], /needs a device id and a method name/],
      [['twin', 'update', 'd'], /needs --desired <json>, --tags <json> or both/],
      [['twin', 'update', 'd', '--desired', '[1]'], /--desired must be a JSON object/],
      [['twin', 'show'], /twin show needs a device id/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args, '--data-dir', empty);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, new RegExp(`usage: iothub-wasm hub ${args[0]}`), args.join(' '));
    }
    for (const [args, text] of [[['monitor', '--help'], /--device <id>/], [['c2d', 'send', '--help'], /--ack <mode>/],
      [['method', 'invoke', '--help'], /504/], [['twin', '--help'], /--desired <json>/]] as const) {
      const r = await cli(...args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, text);
    }
    const all = await cli('--help');
    assert.match(all.stdout, /hub monitor/);
    assert.match(all.stdout, /hub method invoke/);
  } finally {
    removeDir(empty);
  }
});
