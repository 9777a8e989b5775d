// IoT Plug and Play conventions against the local hub: component telemetry carries `$.sub`, a writable property of
// a component is acknowledged with ac/av (and ad) in the convention's exact bytes, a default is ac 203 / av 0, and
// `{component}*{command}` reaches the component's handler (the core splits the name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, waitFor } from './support.js';
import { DeviceClient } from '../../host/device/client.js';
import type { ReportedEvent, TelemetryMessage } from '../../host/hub/index.js';

test('a Plug and Play thermostat: component telemetry, writable properties acknowledged by convention, component commands', async () => {
  const rig = await startHub();
  try {
    const { connectionString } = await rig.hub.registry.addDevice('pnp-dev');
    const client = DeviceClient.fromConnectionString(connectionString, { ca: rig.hub.ca, modelId: 'dtmi:com:example:TemperatureController;2' });
    const reported: string[] = [];
    rig.hub.on('reported', (r: ReportedEvent) => { if (r.deviceId === 'pnp-dev') reported.push(JSON.stringify(r.patch)); });
    const nextReport = () => { const n = reported.length; return waitFor<string>((done) => { const t = setInterval(() => { if (reported.length > n) { clearInterval(t); done(reported[n]!); } }, 5); }, 5000, 'a reported patch'); };
    client.onWritableProperty('targetTemperature', (value, req) => {
      assert.equal(req.component, 'thermostat1');
      return typeof value === 'number' && value < 50 ? { ad: 'ok' } : { ac: 400, ad: 'out of range' };
    }, { component: 'thermostat1' });
    client.onWritableProperty('rate', () => undefined);
    let commandSeen: { component?: string; command?: string } = {};
    client.onCommand('thermostat1', 'getMaxMinReport', (payload, req) => {
      commandSeen = { component: req.component, command: req.command };
      return { status: 200, payload: { maxTemp: 30, since: payload } };
    });
    await client.connect();

    const t = waitFor<TelemetryMessage>((done) => rig.hub.on('telemetry', (m) => { if (m.deviceId === 'pnp-dev') done(m); }));
    await client.sendTelemetry({ temperature: 21.5 }, { component: 'thermostat1' });
    assert.equal((await t).systemProperties['componentName'], 'thermostat1', 'component telemetry carries $.sub');

    let r = nextReport();
    await client.reportWritableDefault('targetTemperature', 20, { component: 'thermostat1' });
    assert.equal(await r, '{"thermostat1":{"__t":"c","targetTemperature":{"value":20,"ac":203,"av":0}}}');

    r = nextReport();
    const v = (await rig.hub.updateDesired('pnp-dev', { thermostat1: { __t: 'c', targetTemperature: 22 } })).properties.desired['$version'];
    assert.equal(await r, `{"thermostat1":{"__t":"c","targetTemperature":{"value":22,"ac":200,"av":${v},"ad":"ok"}}}`);

    r = nextReport();
    const v2 = (await rig.hub.updateDesired('pnp-dev', { thermostat1: { targetTemperature: 99 } })).properties.desired['$version'];
    assert.equal(await r, `{"thermostat1":{"__t":"c","targetTemperature":{"value":99,"ac":400,"av":${v2},"ad":"out of range"}}}`, 'a refusal is acknowledged with its code');

    r = nextReport();
    const v3 = (await rig.hub.updateDesired('pnp-dev', { rate: 5 })).properties.desired['$version'];
    assert.equal(await r, `{"rate":{"value":5,"ac":200,"av":${v3}}}`, 'a property of the default component is not wrapped');

    const res = await rig.hub.invokeMethod('pnp-dev', 'thermostat1*getMaxMinReport', '2026-12-01T00:00:00Z', { responseTimeoutInSeconds: 10 });
    assert.equal(res.status, 200);
    assert.deepEqual(res.payload, { maxTemp: 30, since: '2026-12-01T00:00:00Z' });
    assert.deepEqual(commandSeen, { component: 'thermostat1', command: 'getMaxMinReport' });
    assert.equal((await rig.hub.invokeMethod('pnp-dev', 'thermostat2*getMaxMinReport', null, { responseTimeoutInSeconds: 10 })).status, 404, "another component's command has no handler");
    await client.close();
  } finally {
    await rig.stop();
  }
});
