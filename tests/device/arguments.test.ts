// The API boundary: arguments are checked where the user passes them, with a coded error that says what is
// wrong, and the Node board uses TLS the way the RFC says (no server name for an IP address).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceClient } from '../../host/device/client.js';
import { IotHubWasmError } from '../../host/errors.js';
import { STATUS, STATUS_TEXT } from '../../host/wasm/abi.generated.js';
import { startHub, FAST_RETRY } from './support.js';

test('a missing, empty or non-string connection string is BAD_ARGUMENT with a sentence, not a TypeError from the core glue', () => {
  for (const bad of [undefined, null, '', '  \n', 42]) {
    assert.throws(() => DeviceClient.fromConnectionString(bad as unknown as string),
      (e: unknown) => e instanceof IotHubWasmError && e.code === 'BAD_ARGUMENT' && /connection string must be a non-empty string like HostName=/.test(e.message),
      String(bad));
  }
  assert.throws(() => DeviceClient.fromConnectionString('HostName=h;DeviceId=d;SharedAccessKey=' + Buffer.alloc(32).toString('base64'), null as never),
    (e: unknown) => e instanceof IotHubWasmError && e.code === 'BAD_ARGUMENT' && /options must be an object/.test(e.message));
});

test('a gateway given as an IP address connects over TLS without setting SNI to it (no DEP0123 warning)', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => { warnings.push(w.code ?? w.name); };
  process.on('warning', onWarning);
  const rig = await startHub();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('by-ip');
    const cs = connectionString.replace(/GatewayHostName=localhost:/, 'GatewayHostName=127.0.0.1:');
    assert.match(cs, /GatewayHostName=127\.0\.0\.1:\d+/);
    const client = DeviceClient.fromConnectionString(cs, { ca: rig.hub.ca, retry: FAST_RETRY });
    await client.connect();
    await client.sendTelemetry('over an IP address');
    await client.close();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w === 'DEP0123'), []);
  } finally {
    process.off('warning', onWarning);
    await rig.stop();
  }
});

test("an error's message is the core's sentence for its status, not its code repeated", () => {
  assert.throws(() => DeviceClient.fromConnectionString(`HostName=h;SharedAccessKey=${Buffer.alloc(32).toString('base64')}`),
    (e: unknown) => e instanceof IotHubWasmError && e.code === 'IOTHUB_CS_MISSING_DEVICE_ID' &&
      /no DeviceId \(in a shell, quote the whole string/.test(e.message) && !e.message.includes('IOTHUB_CS_MISSING_DEVICE_ID'));
  // every status the core can return has its sentence (its doc comment in the core, generated into STATUS_TEXT)
  const missing = Object.keys(STATUS).filter((n) => n !== 'OK' && !STATUS_TEXT[n as keyof typeof STATUS_TEXT]);
  assert.deepEqual(missing, []);
});

test('a connection string read from a file or a terminal, with a trailing line break, connects', async () => {
  const rig = await startHub();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('from-a-file');
    for (const end of ['\n', '\r\n', ' \n\t']) {
      const client = DeviceClient.fromConnectionString(connectionString + end, { ca: rig.hub.ca, retry: FAST_RETRY });
      await client.connect();
      await client.close();
    }
  } finally {
    await rig.stop();
  }
});

test("a telemetry body too large for the profile is refused with CLIENT_MESSAGE_TOO_LARGE naming its size and the profile's limit", async () => {
  const cs = 'HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=' + Buffer.alloc(32).toString('base64');
  const mcu = DeviceClient.fromConnectionString(cs, { profile: 'mcu' });
  await assert.rejects(mcu.sendTelemetry(Buffer.alloc(1025)),
    (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_MESSAGE_TOO_LARGE' && /1025 bytes; this profile takes at most 1024/.test(e.message));
  // the limit is the limit: 1,024 bytes are taken (queued until connect)
  const pending = mcu.sendTelemetry(Buffer.alloc(1024));
  await mcu.close();
  await assert.rejects(pending, (e: unknown) => e instanceof IotHubWasmError && e.code === 'CLIENT_CLOSED');
});
