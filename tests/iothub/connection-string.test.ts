// Connection strings through the core: the JS face, the raw export, coded errors, and random input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { fcParams } from '../support/fast-check.js';
import { Raw, profiles } from './helpers.js';
import { parseConnectionString, ConnectionStringError, IotHubError, generateSasToken } from '../../host/iothub/index.js';
import { IotHubWasmError } from '../../host/errors.js';
import { main as sasMain } from '../../host/commands/sas.js';
import { CONNECTION_STRING_RESULT as R } from '../../host/wasm/abi.generated.js';

const KEY = 'cGFzc3dvcmQ=';
const KEY64 = Buffer.alloc(64, 7).toString('base64');

test('parseConnectionString: device, module, policy key, gateway, x509, SharedAccessSignature', () => {
  assert.deepEqual(parseConnectionString(`HostName=myhub.azure-devices.net;DeviceId=dev-1;SharedAccessKey=${KEY}`),
    { hostName: 'myhub.azure-devices.net', deviceId: 'dev-1', sharedAccessKey: KEY });
  assert.deepEqual(parseConnectionString(`HostName=h.net;DeviceId=d;ModuleId=m;SharedAccessKey=${KEY64};GatewayHostName=localhost:8883`),
    { hostName: 'h.net', deviceId: 'd', moduleId: 'm', sharedAccessKey: KEY64, gatewayHostName: 'localhost:8883' });
  assert.deepEqual(parseConnectionString(`HostName=h.net;DeviceId=d;SharedAccessKeyName=iothubowner;SharedAccessKey=${KEY}`),
    { hostName: 'h.net', deviceId: 'd', sharedAccessKeyName: 'iothubowner', sharedAccessKey: KEY });
  assert.deepEqual(parseConnectionString('HostName=h.net;DeviceId=d;x509=true'), { hostName: 'h.net', deviceId: 'd', x509: true });
  assert.deepEqual(parseConnectionString('HostName=h.net;DeviceId=d;x509=True'), { hostName: 'h.net', deviceId: 'd', x509: true });
  assert.deepEqual(parseConnectionString('HostName=h.net;DeviceId=d;SharedAccessSignature=SharedAccessSignature sr=a&sig=b&se=1'),
    { hostName: 'h.net', deviceId: 'd', sharedAccessSignature: 'SharedAccessSignature sr=a&sig=b&se=1' });
  // order does not matter, empty parts and unknown names are tolerated, values keep their '='
  assert.deepEqual(parseConnectionString(`;SharedAccessKey=${KEY};;Unknown=x;DeviceId=d=1;HostName=h.net;`),
    { hostName: 'h.net', deviceId: 'd=1', sharedAccessKey: KEY });
  // every character the hub allows in a device id except ';' (the separator) survives
  const id = "a-:.+%_#*?!(),=@$'Z9";
  assert.equal(parseConnectionString(`HostName=h.net;DeviceId=${id};SharedAccessKey=${KEY}`).deviceId, id);
});

test('parseConnectionString: every refusal is a ConnectionStringError with the core code', () => {
  const cases: [string, string][] = [
    [`HostName=h.net;DeviceId=d;DeviceId=e;SharedAccessKey=${KEY}`, 'IOTHUB_CS_DUPLICATE_KEY'],
    [`HostName=h.net;HostName=h.net;DeviceId=d;SharedAccessKey=${KEY}`, 'IOTHUB_CS_DUPLICATE_KEY'],
    ['HostName=h.net;DeviceId=d;x509=true;x509=true', 'IOTHUB_CS_DUPLICATE_KEY'],
    [`DeviceId=d;SharedAccessKey=${KEY}`, 'IOTHUB_CS_MISSING_HOSTNAME'],
    [`HostName=h.net;SharedAccessKey=${KEY}`, 'IOTHUB_CS_MISSING_DEVICE_ID'],
    [`HostName=;DeviceId=d;SharedAccessKey=${KEY}`, 'IOTHUB_CS_EMPTY_VALUE'],
    [`HostName=h.net;DeviceId=;SharedAccessKey=${KEY}`, 'IOTHUB_CS_EMPTY_VALUE'],
    ['HostName=h.net;DeviceId=d;SharedAccessKey=', 'IOTHUB_CS_EMPTY_VALUE'],
    ['HostName=h.net;DeviceId=d;SharedAccessKey=not-base64!', 'IOTHUB_CS_BAD_KEY'],
    ['HostName=h.net;DeviceId=d;SharedAccessKey=cGFzc3dvcmQ', 'IOTHUB_CS_BAD_KEY'],
    [`HostName=h.net;DeviceId=d;SharedAccessKey=${Buffer.alloc(65).toString('base64')}`, 'IOTHUB_KEY_TOO_LONG'],
    ['HostName=h.net;DeviceId=d', 'IOTHUB_CS_MISSING_CREDENTIAL'],
    ['HostName=h.net;DeviceId=d;x509=false', 'IOTHUB_CS_MISSING_CREDENTIAL'],
    [`HostName=h.net;DeviceId=d;x509=true;SharedAccessKey=${KEY}`, 'IOTHUB_CS_KEY_AND_X509'],
    ['HostName=h.net;DeviceId=d;x509=yes', 'IOTHUB_CS_BAD_X509'],
    [`HostName=h.net;DeviceId;SharedAccessKey=${KEY}`, 'IOTHUB_CS_MALFORMED'],
    [`=x;HostName=h.net;DeviceId=d;SharedAccessKey=${KEY}`, 'IOTHUB_CS_MALFORMED'],
    [`HostName=h.net;DeviceId=a/b;SharedAccessKey=${KEY}`, 'IOTHUB_ID_BAD_CHAR'],
    [`HostName=h.net;DeviceId=d;ModuleId=${'m'.repeat(129)};SharedAccessKey=${KEY}`, 'IOTHUB_ID_TOO_LONG'],
    [`HostName=h net;DeviceId=d;SharedAccessKey=${KEY}`, 'IOTHUB_BAD_HOST'],
    [`HostName=h.net;DeviceId=d;GatewayHostName=a/b;SharedAccessKey=${KEY}`, 'IOTHUB_BAD_HOST'],
    ['', 'IOTHUB_CS_MISSING_HOSTNAME'],
  ];
  for (const [cs, code] of cases) {
    assert.throws(() => parseConnectionString(cs), (e: any) => {
      assert.ok(e instanceof ConnectionStringError && e instanceof IotHubError && e instanceof IotHubWasmError, cs);
      assert.equal(e.code, code, cs);
      assert.equal(typeof e.status, 'number');
      return true;
    });
  }
  assert.throws(() => parseConnectionString(42 as unknown as string), (e: any) => e.code === 'BAD_ARGUMENT');
});

for (const profile of profiles) {
  test(`[${profile}] raw export: result struct views and decoded key buffer`, () => {
    const r = new Raw(profile);
    const cs = `HostName=h.net;DeviceId=dev;SharedAccessKey=${KEY}`;
    assert.equal(r.call('iothub_connection_string_parse', [cs]), 0);
    const p = r.e.iothub_connection_string_result_ptr();
    assert.equal(r.view(p + R.hostPtr), 'h.net');
    assert.equal(r.view(p + R.devicePtr), 'dev');
    assert.equal(r.view(p + R.modulePtr), null);
    assert.equal(r.view(p + R.keyPtr), KEY);
    assert.equal(r.i32(p + R.x509), 0);
    assert.equal(r.i32(p + R.decodedKeyLen), 8);
    const k = r.e.iothub_key_ptr();
    assert.equal(Buffer.from(r.c.u8.subarray(k, k + 8)).toString(), 'password');
  });
}

test('property: random strings never trap; any accepted string round-trips its fields', () => {
  const r = new Raw('mcu');
  const part = fc.oneof(
    fc.constantFrom('HostName', 'DeviceId', 'ModuleId', 'SharedAccessKey', 'SharedAccessKeyName', 'GatewayHostName', 'x509', 'Other')
      .chain((k) => fc.oneof(fc.constant(`${k}=`), fc.string({ maxLength: 12 }).map((v) => `${k}=${v}`), fc.constant(`${k}=${KEY}`), fc.constant(`${k}=true`))),
    fc.string({ maxLength: 10 }),
  );
  fc.assert(fc.property(fc.array(part, { maxLength: 8 }), (parts) => {
    const cs = parts.join(';');
    const status = r.call('iothub_connection_string_parse', [cs]);
    if (status < 0) { assert.match(r.name(status), /^(IOTHUB_CS_|IOTHUB_ID_|IOTHUB_BAD_HOST|IOTHUB_KEY_TOO_LONG)/); return; }
    const parsed = parseConnectionString(cs);
    for (const p of cs.split(';')) {
      const eq = p.indexOf('=');
      if (eq <= 0) continue;
      const name = p.slice(0, eq), value = p.slice(eq + 1);
      const field = { HostName: 'hostName', DeviceId: 'deviceId', ModuleId: 'moduleId', SharedAccessKey: 'sharedAccessKey' }[name];
      if (field) assert.equal((parsed as any)[field], value);
    }
  }), fcParams(3000));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    const s = r.call('iothub_connection_string_parse', [bytes]);
    assert.ok(s === 0 || r.name(s) !== 'UNKNOWN_STATUS');
  }), fcParams(3000));
});

async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error;
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  console.error = (...a: unknown[]) => { err.push(a.join(' ')); };
  try { return { code: await sasMain(args), out: out.join('\n'), err: err.join('\n') }; }
  finally { console.log = log; console.error = error; }
}

test('iothub-wasm sas: device, module, policy and DPS tokens; derived key; exit 2 with a message on bad arguments', async () => {
  let r = await runCli(['--connection-string', `HostName=h.net;DeviceId=dev;SharedAccessKey=${KEY}`, '--expiry', '1700000000']);
  assert.equal(r.code, 0);
  assert.equal(r.out, generateSasToken({ resourceUri: 'h.net/devices/dev', key: KEY, expiry: 1700000000 }));
  r = await runCli(['--connection-string', `HostName=h.net;DeviceId=dev;ModuleId=m;SharedAccessKeyName=pol;SharedAccessKey=${KEY}`, '--expiry', '5']);
  assert.equal(r.out, generateSasToken({ resourceUri: 'h.net/devices/dev/modules/m', key: KEY, expiry: 5, keyName: 'pol' }));
  const before = Math.floor(Date.now() / 1000);
  r = await runCli(['--resource', 'h.net', '--key', KEY, '--key-name', 'iothubowner', '--ttl', '60']);
  assert.equal(r.code, 0);
  const se = Number(/&se=(\d+)/.exec(r.out)![1]);
  assert.ok(se >= before + 60 && se <= before + 62);
  assert.match(r.out, /&skn=iothubowner$/);
  r = await runCli(['--resource', '0ne00000000/registrations/reg-1', '--key', KEY, '--key-name', 'registration', '--expiry', '9']);
  assert.equal(r.out, generateSasToken({ resourceUri: '0ne00000000/registrations/reg-1', key: KEY, expiry: 9, keyName: 'registration' }));
  r = await runCli(['--key', KEY, '--derive-key', 'reg-1']);
  assert.equal(r.code, 0);
  assert.equal(r.out.length, 44);
  for (const [args, pattern] of [
    [[], /give --connection-string, or --resource and --key/],
    [['--resource', 'h.net'], /give --connection-string, or --resource and --key/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--resource', 'h', '--key', KEY, '--ttl', '1', '--expiry', '2'], /--ttl or --expiry, not both/],
    [['--resource', 'h', '--key', KEY, '--ttl=-5'], /--ttl must be a whole number/],
    [['--resource', 'h', '--key', KEY, '--ttl', '-5'], /argument is ambiguous/],
    [['--resource', 'h', '--key', 'not base64'], /CRYPTO_BASE64_BAD_LENGTH/],
    [['--connection-string', 'HostName=h;DeviceId=d'], /IOTHUB_CS_MISSING_CREDENTIAL/],
    [['--connection-string', 'HostName=h;DeviceId=d;x509=true'], /X\.509/],
    [['--connection-string', `HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, '--key', KEY], /cannot be combined/],
    [['extra'], /unexpected argument 'extra'/],
  ] as [string[], RegExp][]) {
    r = await runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, pattern, args.join(' '));
    assert.equal(r.out, '');
  }
  r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /usage:/);
});

test('iothub-wasm sas through the real bin (dist/host/cli.js)', () => {
  const cli = fileURLToPath(new URL('../../host/cli.js', import.meta.url));
  const ok = spawnSync(process.execPath, [cli, 'sas', '--resource', 'uri', '--key', KEY, '--expiry', '12345'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'SharedAccessSignature sr=uri&sig=kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D&se=12345');
  const bad = spawnSync(process.execPath, [cli, 'sas', '--ttl', 'soon'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--ttl must be a whole number/);
});
