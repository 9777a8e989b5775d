// The AMQP device endpoint's twin and direct-method links, with Microsoft's device SDK (azure-iot-device-amqp, AMQP
// and AMQP over WebSocket) and service SDK (azure-iothub, in a child process that trusts the hub's CA), unchanged but
// for host, port and trust: getTwin, reported patches seen by the service, desired updates delivered, methods invoked
// through Client.invokeDeviceMethod answered with the device's status and payload; the same for a module.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import device from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import type { LocalHub } from '../../host/hub/index.js';
import { PortAgent } from './port-agent.js';
import { startServiceSdk, type ServiceSdk } from './service-sdk-harness.js';
import { LogWatch } from './log-watch.js';

const { Client, ModuleClient, Message } = device;
const { Amqp, AmqpWs } = deviceAmqp;

let sdk: ServiceSdk;
let hub: LocalHub;
const log = new LogWatch();
before(async () => { sdk = await startServiceSdk({ log: log.sink }); hub = sdk.hub; });
after(async () => { await sdk.done(); });

type Twin = { properties: { desired: Record<string, unknown>; reported: Record<string, unknown> & { update(p: unknown, cb: (e?: Error) => void): void } }; on(ev: string, f: (d: Record<string, unknown>) => void): void };
type MethodRequest = { payload: unknown; methodName: string };
type MethodResponse = { send(status: number, payload: unknown): Promise<void> };

/** The connection string with the hub's AMQP port (AMQP) or none (AMQP over WebSocket: the agent picks the port). */
function withGateway(cs: string, ws: boolean): string {
  return cs.replace(/;GatewayHostName=[^;]+/, '') + `;GatewayHostName=localhost${ws ? '' : `:${hub.amqpPort}`}`;
}

function transportOptions(ws: boolean): Record<string, unknown> {
  return { ca: hub.ca, ...(ws ? { amqp: { webSocketAgent: new PortAgent(hub.restPort!, { ca: hub.ca }) } } : {}) };
}

function update(twin: Twin, patch: unknown): Promise<void> {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (e) => (e ? reject(e) : resolve())));
}

const service = () => ({ cs: hub.policies.connectionString('iothubowner'), restPort: hub.restPort });

for (const ws of [false, true]) {
  const via = ws ? 'AMQP over WebSocket' : 'AMQP';
  test(`${via}: the device SDK gets its twin, patches reported properties the service sees, receives desired updates and answers a method`, async () => {
    const id = ws ? 'twin-amqp-ws' : 'twin-amqp';
    const info = await hub.registry.addDevice(id);
    await hub.updateDesired(id, { rate: 1 });
    const client = Client.fromConnectionString(withGateway(info.connectionString, ws), ws ? AmqpWs : Amqp);
    await client.setOptions(transportOptions(ws));
    await client.open();
    try {
      const twin = await client.getTwin() as unknown as Twin;
      assert.equal(twin.properties.desired['rate'], 1);
      assert.equal(twin.properties.desired['$version'], 2, 'the desired $version the hub keeps');

      await update(twin, { firmware: '1.2.3', nested: { a: 1 } });
      const seen = await sdk.call<{ reported: Record<string, unknown> }>('getTwin', { ...service(), deviceId: id });
      assert.equal(seen.reported['firmware'], '1.2.3');
      assert.deepEqual(seen.reported['nested'], { a: 1 });

      const subscribed = log.next(new RegExp(`AMQP ${id} twin PUT /notifications/twin/properties/desired → 200`));
      const delta = new Promise<Record<string, unknown>>((resolve) => twin.on('properties.desired', (d) => { if (d['rate'] === 7) resolve(d); }));
      await subscribed;
      const t = await sdk.call<{ etag: string }>('getTwin', { ...service(), deviceId: id });
      await sdk.call('updateTwin', { ...service(), deviceId: id, etag: t.etag, patch: { properties: { desired: { rate: 7 } } } });
      const d = await delta;
      assert.equal(d['rate'], 7);
      assert.equal(d['$version'], 3);

      const linked = log.next(new RegExp(`method request link for "/devices/${id}/methods/devicebound" attached`));
      client.onDeviceMethod('reboot', (req: MethodRequest, res: MethodResponse) => { void res.send(201, { rebooting: req.payload }).catch(() => {}); });
      await linked;
      const r = await sdk.call<{ status: number; payload: unknown }>('invoke', { ...service(), deviceId: id, methodName: 'reboot', payload: { delay: 3 } });
      assert.deepEqual(r, { status: 201, payload: { rebooting: { delay: 3 } } });
      assert.equal(hub.isConnected(id), true, 'a device with AMQP links is connected');
    } finally {
      await client.close();
    }
  });
}

for (const ws of [false, true]) {
  const via = ws ? 'AMQP over WebSocket' : 'AMQP';
  test(`${via}: ModuleClient sends telemetry, gets and patches its module twin and answers a module method`, async () => {
    const dev = ws ? 'mod-host-ws' : 'mod-host';
    await hub.registry.addDevice(dev);
    const info = await hub.registry.addModule(dev, 'sensor');
    await hub.updateDesired(dev, { mode: 'eco' }, { moduleId: 'sensor' });
    const client = ModuleClient.fromConnectionString(withGateway(info.connectionString, ws), ws ? AmqpWs : Amqp);
    await client.setOptions(transportOptions(ws) as never);
    await client.open();
    try {
      const got = new Promise<{ deviceId: string; moduleId?: string; body: Buffer }>((resolve) => {
        const on = (m: { deviceId: string; moduleId?: string; body: Buffer }) => { if (m.deviceId === dev) { hub.off('telemetry', on); resolve(m); } };
        hub.on('telemetry', on);
      });
      await client.sendEvent(new Message('from a module'));
      const m = await got;
      assert.equal(m.moduleId, 'sensor');
      assert.equal(m.body.toString(), 'from a module');

      const twin = await client.getTwin() as unknown as Twin;
      assert.equal(twin.properties.desired['mode'], 'eco');
      await update(twin, { battery: 80 });
      assert.equal((await hub.getTwin(dev, 'sensor')).properties.reported['battery'], 80);
      assert.deepEqual((await hub.getTwin(dev)).properties.reported, { $version: 1 }, "the device's own twin is untouched");
      const mt = await sdk.call<{ properties: { reported: Record<string, unknown> } }>('reg', { ...service(), method: 'getModuleTwin', args: [dev, 'sensor'] });
      assert.equal(mt.properties.reported['battery'], 80);

      const linked = log.next(new RegExp(`method request link for "/devices/${dev}/modules/sensor/methods/devicebound" attached`));
      client.onMethod('blink', ((req: MethodRequest, res: MethodResponse) => { void res.send(200, { blinked: req.payload }).catch(() => {}); }) as never);
      await linked;
      const r = await sdk.call<{ status: number; payload: unknown }>('invokeModule', { ...service(), deviceId: dev, moduleId: 'sensor', methodName: 'blink', payload: 2 });
      assert.deepEqual(r, { status: 200, payload: { blinked: 2 } });
      // the device itself has no method link: invoking it is refused, not sent to the module
      await assert.rejects(hub.invokeMethod(dev, 'blink', 1), (e: { status?: number }) => e.status === 404);
    } finally {
      await client.close();
    }
  });
}
