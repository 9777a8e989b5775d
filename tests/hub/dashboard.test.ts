// The hub's web dashboard in a real browser (Debian's chromium, driven by playwright-core): a connected device
// appears, its telemetry appears live, a desired edit and a direct method from the page reach the device, C2D is
// sent, refusals are listed, the printed link signs in once, and what devices send is shown as text, never markup.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { MqttClient } from 'mqtt';
import type { LocalHub } from '../../host/hub/index.js';
import { connectRaw, endClient, startHub } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
/** Where the screenshots go (look at them: the dashboard must read well). */
const SHOTS = process.env['DASHBOARD_SHOTS'] ?? tmpdir();
/** Bounded waits for an element (no timing is asserted). */
const WAIT = { timeout: 15_000 };

const missing = existsSync(CHROMIUM) ? null : 'needs Debian package chromium: apt-get install chromium';
/** Skipped with the package to install when chromium is missing, failed instead under CI (which installs it). */
function browserTest(name: string, fn: () => Promise<void>): void {
  if (!missing) test(name, fn);
  else if (process.env['CI']) test(name, () => { assert.fail(`${missing} (CI installs it in .ci/run)`); });
  else test(name, { skip: missing }, fn);
}

let hub: LocalHub;
let done: () => Promise<void>;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let device: MqttClient;
let key: string;
const received: { topic: string; payload: string }[] = [];
const waiting = new Set<{ match: (m: { topic: string; payload: string }) => boolean; resolve: (m: { topic: string; payload: string }) => void }>();

/** The next (or an already received) message to the device whose topic matches. */
function deviceGets(re: RegExp): Promise<{ topic: string; payload: string }> {
  const seen = received.find((m) => re.test(m.topic));
  if (seen) { received.splice(received.indexOf(seen), 1); return Promise.resolve(seen); }
  return new Promise((resolve, reject) => {
    const w = { match: (m: { topic: string }) => re.test(m.topic), resolve: (m: { topic: string; payload: string }) => { clearTimeout(t); resolve(m); } };
    const t = setTimeout(() => { waiting.delete(w); reject(new Error(`the device got no message on ${re}`)); }, WAIT.timeout);
    waiting.add(w);
  });
}

before(async () => {
  if (missing) return;
  ({ hub, done } = await startHub({ restPort: 0 }));
  key = (await hub.registry.addDevice('dash-dev')).primaryKey;
  await hub.registry.addDevice('other-dev');
  await hub.registry.addModule('other-dev', 'sensor');
  const { chromium } = await import('playwright-core');
  // launch() gives the browser a fresh temporary profile, removed when it closes
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  // the hub's certificate comes from its own generated CA, which this browser profile does not trust
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
});

after(async () => {
  if (missing) return;
  if (device) await endClient(device);
  await browser?.close();
  await done?.();
});

browserTest('the printed link signs the browser in and drops its token from the address bar; a device that connects turns connected without a reload', async () => {
  const url = hub.dashboardUrl()!;
  assert.match(url, /^https:\/\/localhost:\d+\/dashboard\/#token=[\w-]{43}$/);
  await page.goto(url);
  await page.locator('#device-list [data-identity="dash-dev"][data-connected="false"]').waitFor(WAIT);
  assert.equal(new URL(page.url()).hash, '', 'the token left the address bar');
  device = await connectRaw(hub, { deviceId: 'dash-dev', key });
  device.on('message', (topic, payload) => {
    const m = { topic, payload: payload.toString() };
    for (const w of waiting) if (w.match(m)) { waiting.delete(w); w.resolve(m); return; }
    received.push(m);
    if (topic.startsWith('$iothub/methods/POST/')) {
      const name = /^\$iothub\/methods\/POST\/([^/]+)\/\?\$rid=(.+)$/.exec(topic)!;
      device.publish(`$iothub/methods/res/200/?$rid=${name[2]}`, JSON.stringify({ method: name[1], rebooted: true, got: JSON.parse(m.payload) }));
    }
  });
  await new Promise<void>((resolve, reject) => device.subscribe(['$iothub/methods/POST/#', '$iothub/twin/PATCH/properties/desired/#', 'devices/dash-dev/messages/devicebound/#'], { qos: 1 }, (e) => (e ? reject(e) : resolve())));
  await page.locator('#device-list [data-identity="dash-dev"][data-connected="true"]').waitFor(WAIT);
  assert.equal(await page.locator('#device-list [data-identity="other-dev"]').getAttribute('data-connected'), 'false');
  assert.equal(await page.locator('#device-list [data-identity="other-dev/sensor"]').count(), 1, 'modules are listed after their device');
  await page.screenshot({ path: join(SHOTS, 'dashboard-start.png') });
});

browserTest('telemetry the device sends appears on the page without a reload, newest first, with its properties', async () => {
  await page.locator('#device-list [data-identity="dash-dev"]').click();
  await page.locator('#telemetry-list .placeholder').waitFor(WAIT);
  device.publish('devices/dash-dev/messages/events/color=blue&%24.ct=application%2Fjson', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
  await page.locator('#telemetry-list .msg').first().waitFor(WAIT);
  device.publish('devices/dash-dev/messages/events/color=red', JSON.stringify({ temperature: 22.25 }), { qos: 1 });
  await page.locator('#telemetry-list .msg >> nth=1').waitFor(WAIT);
  const items = await page.locator('#telemetry-list .msg').allInnerTexts();
  assert.equal(items.length, 2);
  assert.match(items[0]!, /22\.25/);
  assert.match(items[0]!, /color=red/);
  assert.match(items[1]!, /21\.5/);
  assert.match(items[1]!, /color=blue/);
  assert.match(items[1]!, /contentType=application\/json/);
});

browserTest('a desired-properties edit saved on the page reaches the connected device as a desired patch', async () => {
  await page.locator('#desired').fill(JSON.stringify({ interval: 7, mode: 'eco' }, null, 2));
  await page.locator('#save-desired').click();
  const m = await deviceGets(/^\$iothub\/twin\/PATCH\/properties\/desired\//);
  const patch = JSON.parse(m.payload) as Record<string, unknown>;
  assert.equal(patch['interval'], 7);
  assert.equal(patch['mode'], 'eco');
  await page.locator('#desired-status.ok').waitFor(WAIT);
  assert.match(await page.locator('#desired-status').innerText(), new RegExp(`\\$version ${String(patch['$version'])}`));
  // the twin reported by the device shows up too (the stream says the twin changed)
  device.publish('$iothub/twin/PATCH/properties/reported/?$rid=1', JSON.stringify({ firmware: '1.2.3' }), { qos: 0 });
  await page.locator('#reported', { hasText: '1.2.3' }).waitFor(WAIT);
});

browserTest('a direct method invoked from the page shows the status and payload the device answered with', async () => {
  await page.locator('#method-name').fill('reboot');
  await page.locator('#method-payload').fill('{"delay": 3}');
  await page.locator('#invoke').click();
  await page.locator('#method-payload-result').waitFor(WAIT);
  assert.equal(await page.locator('#method-status').innerText(), '200');
  const shown = JSON.parse(await page.locator('#method-payload-result').innerText()) as unknown;
  assert.deepEqual(shown, { method: 'reboot', rebooted: true, got: { delay: 3 } });
});

browserTest('a cloud-to-device message sent from the page reaches the device with its properties', async () => {
  await page.locator('#c2d-body').fill('{"led":"on"}');
  await page.locator('#c2d-props').fill('priority=high');
  await page.locator('#c2d-send').click();
  const m = await deviceGets(/^devices\/dash-dev\/messages\/devicebound\//);
  assert.equal(m.payload, '{"led":"on"}');
  assert.match(m.topic, /priority=high/);
  await page.locator('#c2d-result.ok').waitFor(WAIT);
  await page.screenshot({ path: join(SHOTS, 'dashboard-device.png'), fullPage: true });
});

browserTest('what a device sends is shown as text: markup in a body or a property name never becomes an element', async () => {
  const body = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
  device.publish(`devices/dash-dev/messages/events/${encodeURIComponent('<b id="pwn">x</b>')}=1`, body, { qos: 1 });
  await page.locator('#telemetry-list .msg', { hasText: '<img src=x' }).waitFor(WAIT);
  assert.equal(await page.locator('#telemetry-list img, #telemetry-list script, #pwn').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.match(await page.locator('#telemetry-list .msg').first().innerText(), /<b id="pwn">x<\/b>=1/);
});

browserTest('a CONNECT the hub refuses is listed in the refusals view as it happens', async () => {
  await page.locator('#nav-refusals').click();
  await assert.rejects(connectRaw(hub, { deviceId: 'other-dev', key: Buffer.alloc(32, 7).toString('base64') }));
  await page.locator('#refusal-list tr', { hasText: 'other-dev' }).waitFor(WAIT);
  assert.match(await page.locator('#refusal-list tr', { hasText: 'other-dev' }).innerText(), /mqtt.*CONNACK 5/s);
  await page.screenshot({ path: join(SHOTS, 'dashboard-refusals.png') });
});

browserTest('a used sign-in link does not sign a second browser in; a service connection string does', async () => {
  const url = hub.dashboardUrl()!;
  const first = await context.browser()!.newContext({ ignoreHTTPSErrors: true });
  const second = await context.browser()!.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  try {
    const a = await first.newPage();
    await a.goto(url);
    await a.locator('#device-list [data-identity="dash-dev"]').waitFor(WAIT);
    const b = await second.newPage();
    await b.goto(url);
    await b.locator('#login-error', { hasText: 'did not work' }).waitFor(WAIT);
    await b.screenshot({ path: join(SHOTS, 'dashboard-sign-in.png') });
    await b.locator('#login-cs').fill('HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=bm90IHRoZSBrZXk=');
    await b.locator('#login-submit').click();
    await b.locator('#login-error', { hasText: '401' }).waitFor(WAIT);
    await b.locator('#login-cs').fill(hub.serviceConnectionString('iothubowner'));
    await b.locator('#login-submit').click();
    await b.locator('#device-list [data-identity="dash-dev"][data-connected="true"]').waitFor(WAIT);
  } finally {
    await first.close();
    await second.close();
  }
});
