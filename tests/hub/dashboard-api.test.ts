// The dashboard's API treats every request as hostile: nothing without a session, the sign-in link works once and
// never reaches the log, state-changing calls only as JSON from the page's own origin, bounded bodies, member names
// as data, security headers on every answer, and no dashboard at all when it is turned off.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { LocalHub } from '../../host/hub/index.js';
import { connectRaw, endClient, inSeconds, once, sas, startHub } from './helpers.js';

let hub: LocalHub;
let done: () => Promise<void>;
const lines: string[] = [];

before(async () => {
  ({ hub, done } = await startHub({ restPort: 0, log: (l: string) => lines.push(l) }));
  await hub.registry.addDevice('api-dev');
});
after(async () => { await done(); });

interface Answer { status: number; headers: IncomingHttpHeaders; text: string; json: unknown }

function call(method: string, path: string, o: { body?: string | Buffer; headers?: Record<string, string>; cookie?: string; port?: number; ca?: string } = {}): Promise<Answer> {
  const body = o.body ?? '';
  return new Promise((resolve, reject) => {
    const req = request({
      host: 'localhost', port: o.port ?? hub.restPort, method, path, ca: o.ca ?? hub.ca, agent: false,
      headers: {
        ...(body.length || method !== 'GET' ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}),
        ...(o.cookie ? { Cookie: o.cookie } : {}), ...o.headers,
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const tokenOf = (url: string) => new URL(url).hash.replace(/^#token=/, '');

/** A session cookie (`name=value`) from a fresh sign-in link. */
async function signIn(): Promise<string> {
  const r = await call('POST', '/dashboard/api/session', { body: JSON.stringify({ token: tokenOf(hub.dashboardUrl()!) }) });
  assert.equal(r.status, 200, r.text);
  return String(r.headers['set-cookie']![0]).split(';')[0]!;
}

test('every dashboard API call and the stream are refused with 401 without a session, and nothing reaches the device', async () => {
  const calls: [string, string, string?][] = [
    ['GET', '/dashboard/api/devices'], ['GET', '/dashboard/api/refusals'], ['GET', '/dashboard/api/stream'],
    ['GET', '/dashboard/api/identities/api-dev/twin'], ['GET', '/dashboard/api/identities/api-dev/telemetry'],
    ['PUT', '/dashboard/api/identities/api-dev/twin/desired', '{"desired":{"x":1},"version":1}'],
    ['POST', '/dashboard/api/identities/api-dev/methods', '{"methodName":"m"}'],
    ['POST', '/dashboard/api/identities/api-dev/messages', '{"body":"hi"}'],
    ['GET', '/dashboard/api/session'],
  ];
  for (const [method, path, body] of calls) {
    for (const cookie of [undefined, `iothub-wasm-dashboard-${hub.restPort}=forged`]) {
      const r = await call(method, path, { ...(body ? { body } : {}), ...(cookie ? { cookie } : {}) });
      assert.equal(r.status, 401, `${method} ${path} ${cookie ?? 'no cookie'}: ${r.text}`);
    }
  }
  assert.equal(hub.c2d.pending('api-dev').length, 0);
  assert.equal((await hub.getTwin('api-dev')).properties.desired['x'], undefined);
});

test('a sign-in token works once, its session cookie is HttpOnly, Secure and SameSite=Strict, and the token is in no log line', async () => {
  const url = hub.dashboardUrl()!;
  const token = tokenOf(url);
  const first = await call('POST', '/dashboard/api/session', { body: JSON.stringify({ token }) });
  assert.equal(first.status, 200);
  const cookie = String(first.headers['set-cookie']![0]);
  assert.match(cookie, new RegExp(`^iothub-wasm-dashboard-${hub.restPort}=[\\w-]{43}; Path=/dashboard; HttpOnly; Secure; SameSite=Strict$`));
  const again = await call('POST', '/dashboard/api/session', { body: JSON.stringify({ token }) });
  assert.equal(again.status, 401);
  assert.equal(again.headers['set-cookie'], undefined);
  const devices = await call('GET', '/dashboard/api/devices', { cookie: cookie.split(';')[0]! });
  assert.equal(devices.status, 200);
  assert.deepEqual((devices.json as { identities: { deviceId: string }[] }).identities.map((d) => d.deviceId), ['api-dev']);
  assert.ok(lines.some((l) => /dashboard: signed in/.test(l)), 'the sign-in is logged');
  assert.deepEqual(lines.filter((l) => l.includes(token) || l.includes(cookie.split(';')[0]!.split('=')[1]!)), []);
});

test('a service connection string signs in only with a matching key of a policy that has RegistryRead and ServiceConnect', async () => {
  const owner = hub.serviceConnectionString('iothubowner');
  const attempt = (connectionString: string) => call('POST', '/dashboard/api/session', { body: JSON.stringify({ connectionString }) });
  assert.equal((await attempt(owner.replace(/SharedAccessKey=.*$/, 'SharedAccessKey=' + Buffer.alloc(32).toString('base64')))).status, 401);
  assert.equal((await attempt(hub.serviceConnectionString('registryRead'))).status, 401, 'registryRead lacks ServiceConnect');
  assert.equal((await attempt('not a connection string')).status, 401);
  const ok = await attempt(owner);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { hostName: hub.hostName, via: 'policy', policy: 'iothubowner' });
  const refusals = await call('GET', '/dashboard/api/refusals', { cookie: String(ok.headers['set-cookie']![0]).split(';')[0]! });
  assert.ok((refusals.json as { surface: string; reason: string }[]).some((r) => r.surface === 'dashboard' && /lacks ServiceConnect/.test(r.reason)));
});

test('state-changing calls are refused unless they are JSON from the dashboard\'s own origin, even with a session', async () => {
  const cookie = await signIn();
  const path = '/dashboard/api/identities/api-dev/messages';
  const body = '{"body":"hi"}';
  const form = await call('POST', path, { cookie, body, headers: { 'Content-Type': 'text/plain' } });
  assert.equal(form.status, 415);
  const foreign = await call('POST', path, { cookie, body, headers: { Origin: 'http://localhost:3000' } });
  assert.equal(foreign.status, 403);
  const site = await call('POST', path, { cookie, body, headers: { 'Sec-Fetch-Site': 'same-site' } });
  assert.equal(site.status, 403);
  assert.equal(hub.c2d.pending('api-dev').length, 0);
  const own = await call('POST', path, { cookie, body, headers: { Origin: `https://localhost:${hub.restPort}`, 'Sec-Fetch-Site': 'same-origin' } });
  assert.equal(own.status, 200, own.text);
  assert.equal(hub.c2d.pending('api-dev').length, 1);
});

test('a body over the limit is refused with 413 before it is buffered, and bad JSON or shapes with 400', async () => {
  const cookie = await signIn();
  const big = await call('PUT', '/dashboard/api/identities/api-dev/twin/desired', { cookie, body: Buffer.alloc(600 * 1024, 0x20) });
  assert.equal(big.status, 413);
  for (const body of ['{', '[]', '{"desired":[],"version":1}', '{"desired":{}}', '[' .repeat(100) + ']'.repeat(100)]) {
    const r = await call('PUT', '/dashboard/api/identities/api-dev/twin/desired', { cookie, body });
    assert.equal(r.status, 400, `${body.slice(0, 30)}: ${r.text}`);
  }
  const props = await call('POST', '/dashboard/api/identities/api-dev/messages', { cookie, body: '{"body":"x","properties":{"a":"b"}}' });
  assert.equal(props.status, 400);
  assert.equal((await call('GET', '/dashboard/api/identities/nobody/twin', { cookie })).status, 404);
  assert.equal((await call('GET', '/dashboard/api/identities/%E0%A4%A/twin', { cookie })).status, 400);
});

test('member names are data: __proto__ and constructor in a desired edit and in C2D properties are plain members', async () => {
  const cookie = await signIn();
  const twin = await call('GET', '/dashboard/api/identities/api-dev/twin', { cookie });
  const version = (twin.json as { properties: { desired: { $version: number } } }).properties.desired.$version;
  const r = await call('PUT', '/dashboard/api/identities/api-dev/twin/desired', { cookie, body: `{"desired":{"__proto__":{"polluted":1},"constructor":2},"version":${version}}` });
  assert.equal(r.status, 200, r.text);
  const desired = (await hub.getTwin('api-dev')).properties.desired;
  assert.ok(Object.hasOwn(desired, '__proto__'));
  assert.deepEqual(Object.getOwnPropertyDescriptor(desired, '__proto__')?.value, { polluted: 1 });
  assert.equal(desired['constructor'], 2);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  const stale = await call('PUT', '/dashboard/api/identities/api-dev/twin/desired', { cookie, body: `{"desired":{},"version":${version}}` });
  assert.equal(stale.status, 412, 'an edit begun on an older $version is refused');
  const c2d = await call('POST', '/dashboard/api/identities/api-dev/messages', { cookie, body: '{"body":"p","properties":[["__proto__","x"]]}' });
  assert.equal(c2d.status, 200, c2d.text);
});

test('telemetry is served newest first with property names as lists, and the body as text or base64', async () => {
  const cookie = await signIn();
  const key = hub.registry.record('api-dev')!.primaryKey;
  const device = await connectRaw(hub, { deviceId: 'api-dev', key });
  try {
    await device.publishAsync('devices/api-dev/messages/events/__proto__=1', 'first', { qos: 1 });
    await device.publishAsync('devices/api-dev/messages/events/', Buffer.from([0xff, 0xfe, 0x00]), { qos: 1 });
  } finally { await endClient(device); }
  const r = await call('GET', '/dashboard/api/identities/api-dev/telemetry', { cookie });
  const items = r.json as { body: { text?: string; base64?: string }; properties: [string, string][] }[];
  assert.deepEqual(items.map((i) => i.body), [{ base64: '//4A' }, { text: 'first' }]);
  assert.deepEqual(items[1]!.properties, [['__proto__', '1']]);
});

test('every dashboard answer carries a strict Content-Security-Policy, nosniff and no-referrer; the page has no inline script', async () => {
  for (const path of ['/dashboard/', '/dashboard/app.js', '/dashboard/style.css', '/dashboard/api/devices', '/dashboard/nothing-here']) {
    const r = await call('GET', path);
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'; script-src 'self'; style-src 'self'/, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(r.headers['referrer-policy'], 'no-referrer', path);
    assert.equal(r.headers['x-frame-options'], 'DENY', path);
  }
  const page = await call('GET', '/dashboard/');
  assert.equal(page.status, 200);
  assert.doesNotMatch(page.text.replace(/<script type="module" src="\/dashboard\/app.js"><\/script>/, ''), /<script|\son\w+=/i);
  assert.equal((await call('GET', '/dashboard/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal((await call('GET', '/dashboard/../registry.json')).status, 404);
  // the REST API next to it is still the REST API
  assert.equal((await call('GET', '/devices?api-version=2021-04-12')).status, 401);
});

test('iothub-wasm hub dashboard\'s request: a new link for a service token with ServiceConnect and RegistryRead, 401 otherwise', async () => {
  const owner = hub.policies.get('iothubowner')!;
  const token = `${sas(hub.hostName, owner.primaryKey, inSeconds(60))}&skn=iothubowner`;
  const r = await call('POST', '/dashboard/api/links?api-version=2021-04-12', { body: '{}', headers: { Authorization: token } });
  assert.equal(r.status, 200, r.text);
  const url = (r.json as { url: string }).url;
  assert.match(url, new RegExp(`^https://localhost:${hub.restPort}/dashboard/#token=`));
  assert.equal((await call('POST', '/dashboard/api/session', { body: JSON.stringify({ token: tokenOf(url) }) })).status, 200);
  const reader = hub.policies.get('registryRead')!;
  assert.equal((await call('POST', '/dashboard/api/links', { body: '{}', headers: { Authorization: `${sas(hub.hostName, reader.primaryKey, inSeconds(60))}&skn=registryRead` } })).status, 401);
  assert.equal((await call('POST', '/dashboard/api/links', { body: '{}' })).status, 401);
  const scoped = `${sas(`${hub.hostName}/devices/api-dev`, owner.primaryKey, inSeconds(60))}&skn=iothubowner`;
  assert.equal((await call('POST', '/dashboard/api/links', { body: '{}', headers: { Authorization: scoped } })).status, 401, 'a token for one device opens no dashboard');
});

test('signing out ends the session: the cookie no longer opens the API', async () => {
  const cookie = await signIn();
  assert.equal((await call('GET', '/dashboard/api/devices', { cookie })).status, 200);
  const out = await call('DELETE', '/dashboard/api/session', { cookie, body: '{}' });
  assert.equal(out.status, 200);
  assert.match(String(out.headers['set-cookie']![0]), /Max-Age=0/);
  assert.equal((await call('GET', '/dashboard/api/devices', { cookie })).status, 401);
});

test('with dashboard: false the hub serves no dashboard and prints no link', async () => {
  const { hub: off, done: stop } = await startHub({ restPort: 0, dashboard: false });
  try {
    assert.equal(off.dashboardUrl(), undefined);
    const r = await call('GET', '/dashboard/', { port: off.restPort!, ca: off.ca });
    assert.notEqual(r.status, 200);
    assert.doesNotMatch(r.text, /<html/);
  } finally { await stop(); }
});

test('a connection the hub closes for a broken rule is in the refusals, with the identity and the rule; one the device ends is not', async () => {
  const cookie = await signIn();
  const key = hub.registry.record('api-dev')!.primaryKey;
  // a device that leaves, or whose network fails, is no refusal
  for (const how of ['end', 'destroy'] as const) {
    const polite = await connectRaw(hub, { deviceId: 'api-dev', key });
    const gone = once(hub as never, 'disconnected', (e: { deviceId: string }) => e.deviceId === 'api-dev');
    if (how === 'end') await endClient(polite); else polite.stream.destroy();
    await gone;
    polite.end(true);
  }
  const before = (await call('GET', '/dashboard/api/refusals', { cookie })).json as { surface: string }[];
  assert.deepEqual(before.filter((r) => r.surface === 'connection'), []);
  const device = await connectRaw(hub, { deviceId: 'api-dev', key });
  // the hub's own event: the refusal is recorded by then, whenever the client notices
  const closed = once<{ deviceId: string; reason?: string }>(hub as never, 'disconnected', (e) => e.deviceId === 'api-dev');
  device.publish('devices/someone-else/messages/events/', 'x', { qos: 1 });
  const e = await closed;
  await endClient(device);
  const list = (await call('GET', '/dashboard/api/refusals', { cookie })).json as { surface: string; who: string; reason: string }[];
  const r = list.find((x) => x.surface === 'connection' && x.who === 'api-dev');
  assert.ok(r, JSON.stringify(list));
  assert.equal(r.reason, `closed by the hub: ${e.reason}`);
});

test('a hub stopping with a dashboard stream open ends the stream and stops', async () => {
  const { hub: own, done: stop } = await startHub({ restPort: 0 });
  const token = tokenOf(own.dashboardUrl()!);
  const r = await call('POST', '/dashboard/api/session', { port: own.restPort!, ca: own.ca, body: JSON.stringify({ token }) });
  const cookie = String(r.headers['set-cookie']![0]).split(';')[0]!;
  // (wrapped: a promise resolved with a promise would wait for it)
  const { ended } = await new Promise<{ ended: Promise<void> }>((resolve, reject) => {
    const req = request({ host: 'localhost', port: own.restPort, path: '/dashboard/api/stream', ca: own.ca, agent: false, headers: { Cookie: cookie } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
      const end = new Promise<void>((e) => { res.on('close', () => e()); res.on('error', () => e()); });
      res.once('data', () => resolve({ ended: end }));
    });
    req.on('error', reject);
    req.end();
  });
  await stop();
  await ended;
});
