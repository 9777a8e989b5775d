// Module identities over MQTT and MQTT over WebSocket with Microsoft's device SDK (azure-iot-device-mqtt's ModuleClient), unchanged but for
// host, port and trust, and the service SDK (azure-iothub in a child process): a module created through the
// registry sends telemetry stamped with its module id, reads and patches its own module twin (the device's twin is
// untouched), receives a desired update made through the service, and answers a module method the service invokes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { LocalHub } from '../../host/hub/index.js';
import { startServiceSdk, type ServiceSdk } from './service-sdk-harness.js';
import { PortAgent } from './port-agent.js';

const { ModuleClient, Message } = device;

let sdk: ServiceSdk;
let hub: LocalHub;
before(async () => { sdk = await startServiceSdk({}); hub = sdk.hub; });
after(async () => { await sdk.done(); });

type Twin = {
  properties: { desired: Record<string, unknown>; reported: Record<string, unknown> & { update(p: unknown, cb: (e?: Error) => void): void } };
  on(ev: string, f: (d: Record<string, unknown>) => void): void;
};
type MethodRequest = { payload: unknown; methodName: string };
type MethodResponse = { send(status: number, payload: unknown): Promise<void> };

const service = () => ({ cs: hub.policies.connectionString('iothubowner'), restPort: hub.restPort });

for (const ws of [false, true]) test(`${ws ? 'MQTT over WebSocket' : 'MQTT'}: ModuleClient sends telemetry, gets and patches its module twin, receives desired updates and answers a module method`, async () => {
  const host = ws ? 'mqtt-ws-mod-host' : 'mqtt-mod-host';
  await hub.registry.addDevice(host);
  const info = await hub.registry.addModule(host, 'sensor');
  await hub.updateDesired(host, { mode: 'eco' }, { moduleId: 'sensor' });
  // over WebSocket the SDK dials port 443: the agent takes it to the hub's port (MQTT/TLS and wss share it)
  const cs = ws ? info.connectionString.replace(/(;GatewayHostName=[^;:]+):\d+/, '$1') : info.connectionString;
  const client = ModuleClient.fromConnectionString(cs, ws ? deviceMqtt.MqttWs : deviceMqtt.Mqtt);
  await client.setOptions({ ca: hub.ca, ...(ws ? { mqtt: { webSocketAgent: new PortAgent(hub.port, { ca: hub.ca }) } } : {}) } as never);
  await client.open();
  try {
    const got = new Promise<{ deviceId: string; moduleId?: string; body: Buffer }>((resolve) => {
      const on = (m: { deviceId: string; moduleId?: string; body: Buffer }) => { if (m.deviceId === host) { hub.off('telemetry', on); resolve(m); } };
      hub.on('telemetry', on);
    });
    await client.sendEvent(new Message('from a module over MQTT'));
    const m = await got;
    assert.equal(m.moduleId, 'sensor');
    assert.equal(m.body.toString(), 'from a module over MQTT');

    const twin = await client.getTwin() as unknown as Twin;
    assert.equal(twin.properties.desired['mode'], 'eco');
    await new Promise<void>((resolve, reject) => twin.properties.reported.update({ battery: 80 }, (e) => (e ? reject(e) : resolve())));
    const mt = await sdk.call<{ properties: { reported: Record<string, unknown> } }>('reg', { ...service(), method: 'getModuleTwin', args: [host, 'sensor'] });
    assert.equal(mt.properties.reported['battery'], 80);
    assert.equal((await hub.getTwin(host)).properties.reported['battery'], undefined, "the device's own twin is untouched");

    const desired = new Promise<Record<string, unknown>>((resolve) => twin.on('properties.desired', (d) => { if (d['mode'] === 'sport') resolve(d); }));
    await hub.updateDesired(host, { mode: 'sport' }, { moduleId: 'sensor' });
    assert.equal((await desired)['mode'], 'sport');

    client.onMethod('blink', ((req: MethodRequest, res: MethodResponse) => { void res.send(200, { blinked: req.payload }).catch(() => {}); }) as never);
    // the SDK subscribes to methods on onMethod; the service call waits for the module to be reachable
    let r: { status: number; payload: unknown } | undefined;
    for (let i = 0; i < 50 && !r; i++) {
      r = await sdk.call<{ status: number; payload: unknown }>('invokeModule', { ...service(), deviceId: host, moduleId: 'sensor', methodName: 'blink', payload: 2 })
        .catch(async () => { await new Promise((res) => setTimeout(res, 100)); return undefined; });
    }
    assert.deepEqual(r, { status: 200, payload: { blinked: 2 } });
  } finally {
    await client.close();
  }
});
