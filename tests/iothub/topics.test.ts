// MQTT identity, topics, property bags, parsers and retry timing of the built core, against azure-sdk-for-c
// vectors, what Microsoft's Node device SDK sent (node-sdk-mqtt-captures.json) and encodeURIComponent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fcParams } from '../support/fast-check.js';
import { fixture } from '../support/fixtures.js';
import { Raw, profiles, type ExportName } from './helpers.js';
import { TOPIC_RESULT as T, BAG_ITERATOR as B } from '../../host/wasm/abi.generated.js';

type Vec = { id: string; kind: string; input: any; expected: any; note?: string };
const azc = fixture<Vec[]>('azure-sdk-for-c-vectors.json');
const vec = (id: string) => azc.find((v) => v.id === id)!;
const captures = fixture<any>('node-sdk-mqtt-captures.json');

const SYS = ['$.mid', '$.cid', '$.uid', '$.to', '$.ct', '$.ce', '$.ifid', '$.exp', '$.sub'];

/** Builds a bag in the core: [name, value] pairs; names starting with "$." go through the system-property export. */
function bag(r: Raw, props: [string, string | null][], cap = 4096): Buffer | string {
  const base = r.c.io + 60000 < r.e.abi_heap_base() && r.c.ioCapacity > 70000 ? r.c.io + 60000 : r.c.io + 600;
  const room = Math.min(cap, r.c.io + r.c.ioCapacity - base);
  let len = 0;
  for (const [name, value] of props) {
    const sys = SYS.indexOf(name);
    const { list } = r.lay([name, value ?? '']);
    len = sys >= 0 && value !== null
      ? r.e.iothub_bag_system_append(base, len, room, sys, list[2] as number, list[3] as number)
      : r.e.iothub_bag_append(base, len, room, list[0] as number, list[1] as number, list[2] as number, value === null ? -1 : (list[3] as number));
    if (len < 0) return r.name(len);
  }
  return Buffer.from(r.c.u8.subarray(base, base + len));
}

/** Walks a bag with the core's iterator: [rawName, rawValue|null, systemIndex]. */
function walk(r: Raw, text: string | Buffer): [string, string | null, number][] | string {
  const { list } = r.lay([text]);
  r.e.iothub_bag_begin(list[0] as number, list[1] as number);
  const it = r.e.iothub_bag_iterator_ptr();
  const out: [string, string | null, number][] = [];
  for (;;) {
    const s = r.e.iothub_bag_next();
    if (s === 0) return out;
    if (s < 0) return r.name(s);
    out.push([r.view(it + B.namePtr)!, r.view(it + B.valuePtr), r.i32(it + B.system)]);
  }
}

function decode(r: Raw, s: string): string {
  const got = r.build('iothub_url_decode', [s]);
  assert.ok(Buffer.isBuffer(got), `decode ${s}: ${got}`);
  return got.toString('utf8');
}

/** Parses with the given export; returns kind + fields, or the status name. */
function parse(r: Raw, fn: ExportName, topic: string | Uint8Array) {
  const s = r.call(fn, [topic]);
  if (s < 0) return r.name(s);
  const p = r.e.iothub_topic_result_ptr();
  return {
    kind: r.i32(p + T.kind), status: r.i32(p + T.status), rid: r.view(p + T.ridPtr), version: r.view(p + T.versionPtr),
    versionNumber: r.c.u8.subarray(p + T.version, p + T.version + 8).length ? Number(Buffer.from(r.c.u8.subarray(p + T.version, p + T.version + 8)).readBigInt64LE()) : -1,
    name: r.view(p + T.namePtr), bag: r.view(p + T.bagPtr), retryAfter: r.i32(p + T.retryAfterS), device: r.view(p + T.devicePtr),
  };
}

for (const profile of profiles) {
  const r = new Raw(profile);

  test(`[${profile}] client id (azc-06) and username: api-version 2021-04-12, model-id, DeviceClientType`, () => {
    const v6 = vec('azc-06');
    v6.input.forEach((i: any, n: number) => assert.equal(r.str('iothub_client_id', [i.device_id, i.module_id ?? null]), v6.expected[n]));
    // The Node SDK's CONNECT (captures): same username byte for byte, including encodeURIComponent of the client type.
    const ua = 'azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)';
    assert.equal(r.str('iothub_username', ['myhub.azure-devices.net', 'devA', null, null, ua]), captures.summary.connect.username);
    // azc-05 uses api-version 2020-09-30 and puts DeviceClientType first; we fix 2021-04-12 with model-id
    // first. Same pieces, same encodings (model-id "dtmi:…;1" → "dtmi%3A…%3B1"); only the version and order differ.
    const v5 = vec('azc-05');
    v5.input.forEach((i: any, n: number) => {
      const type = i.user_agent ?? 'azsdk-c/1.6.0-beta.1';
      const got = r.str('iothub_username', [i.hostname, i.device_id, i.module_id ?? null, i.model_id ?? null, type]);
      const want = v5.expected[n] as string;
      const [path, query] = want.split('?');
      const params = new Map(query.split('&').map((p) => p.split('=') as [string, string]));
      assert.equal(params.get('api-version'), '2020-09-30');
      let ours = `${path}?api-version=2021-04-12`;
      if (params.has('model-id')) ours += `&model-id=${params.get('model-id')}`;
      ours += `&DeviceClientType=${params.get('DeviceClientType')}`;
      assert.equal(got, ours);
    });
    assert.equal(r.str('iothub_username', ['h.net', 'd', 'm', null, null]), 'h.net/d/m/?api-version=2021-04-12');
    assert.equal(r.str('iothub_username', ['h.net', 'd', null, 'dtmi:com:example:Thermostat;1', null]),
      'h.net/d/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1');
    assert.equal(r.str('iothub_username', ['h.net', 'd+x', null, null, null]), 'IOTHUB_ID_NOT_TOPIC_SAFE');
    assert.equal(r.str('iothub_client_id', ['d#', null]), 'IOTHUB_ID_NOT_TOPIC_SAFE');
    assert.equal(r.str('iothub_client_id', ['dev', null], 2), 'BUFFER_TOO_SMALL');
  });

  test(`[${profile}] DPS username (azc-07) and topics (azc-11)`, () => {
    const v7 = vec('azc-07');
    assert.equal(r.str('iothub_dps_username', [v7.input[0].id_scope, v7.input[0].registration_id]), v7.expected[0]);
    // azc-07's second case appends "&ClientVersion=" (a user agent); we do not add one.
    const v11 = vec('azc-11');
    assert.equal(r.str('iothub_dps_register_topic', ['1']), v11.expected[0]);
    assert.equal(r.str('iothub_dps_poll_topic', ['1', v11.input[1].operation_id]), v11.expected[1]);
    const v25 = vec('azc-25');
    v25.input.forEach((i: any, n: number) => assert.equal(r.str('iothub_dps_register_payload', [i.registration_id, i.custom_payload || null]), v25.expected[n]));
  });

  test(`[${profile}] telemetry topics (azc-08) and the Node SDK's exact topic for msg-1`, () => {
    const v8 = vec('azc-08');
    v8.input.forEach((i: any, n: number) =>
      assert.equal(r.str('iothub_telemetry_topic', [i.device_id, i.module_id ?? null, i.properties ?? null]), v8.expected[n]));
    const b = bag(r, [['$.mid', 'msg-1'], ['$.cid', 'corr-1'], ['$.ct', 'application/json'], ['$.ce', 'utf-8'],
      ['alert', 'high'], ['weird key &=/ü', 'a b&c=d/e ü€😀?#+']]);
    assert.ok(Buffer.isBuffer(b));
    const topic = r.str('iothub_telemetry_topic', ['devA', null, b]);
    assert.equal(topic, 'devices/devA/messages/events/%24.mid=msg-1&%24.cid=corr-1&%24.ct=application%2Fjson&%24.ce=utf-8&alert=high&weird%20key%20%26%3D%2F%C3%BC=a%20b%26c%3Dd%2Fe%20%C3%BC%E2%82%AC%F0%9F%98%80%3F%23%2B');
    assert.equal(topic, captures.summary.sendEvent.topic);
    // scenario M: the other system properties and encodeURIComponent's bare set
    const m = bag(r, [['$.uid', 'user-1'], ['$.to', '/devices/dev/messages/events'], ['$.ifid', 'urn:example:iface:1'],
      ['$.exp', '2030-01-01T00:00:00.000Z'], ['$.sub', 'thermostat1'], ["unreserved-!'()*~._", "v!'()*~._"], ['empty', '']]);
    assert.ok(Buffer.isBuffer(m));
    assert.equal(r.str('iothub_telemetry_topic', ['devM', null, m]), captures.summary.sendEvent_moreSystemProps_scenarioM);
    assert.equal(r.str('iothub_telemetry_topic', ['d', 'm', 'a=1']), 'devices/d/modules/m/messages/events/a=1');
  });

  test(`[${profile}] subscribe filters (azc-12; C2D filter names the device, as the Node SDK does)`, () => {
    const v = vec('azc-12');
    assert.equal(r.str('iothub_subscribe_topic', [1, null]), v.expected.methods);
    assert.equal(r.str('iothub_subscribe_topic', [2, null]), v.expected.twin_res);
    assert.equal(r.str('iothub_subscribe_topic', [3, null]), v.expected.twin_patch);
    assert.equal(r.str('iothub_subscribe_topic', [4, null]), v.expected.dps);
    // azure-sdk-for-c's constant is devices/+/messages/devicebound/#; the hub only routes a device its own C2D,
    // and the Node SDK subscribes with its id (captures), which is what we send.
    assert.equal(v.expected.c2d, 'devices/+/messages/devicebound/#');
    assert.equal(r.str('iothub_subscribe_topic', [0, 'devA']), captures.summary.subscribeFilters[0].topic);
    assert.equal(r.str('iothub_subscribe_topic', [9, null]), 'BAD_ARGUMENT');
  });

  test(`[${profile}] twin and method topics (azc-09, azc-10) and request-id checks`, () => {
    const v9 = vec('azc-09');
    v9.input.forEach((i: any, n: number) => assert.equal(r.str('iothub_method_response_topic', [i.status, i.request_id]), v9.expected[n]));
    const v10 = vec('azc-10');
    assert.equal(r.str('iothub_twin_get_topic', [v10.input[0].request_id]), v10.expected[0]);
    assert.equal(r.str('iothub_twin_patch_topic', [v10.input[1].request_id]), v10.expected[1]);
    assert.equal(r.str('iothub_method_response_topic', [65536, '1']), 'IOTHUB_BAD_STATUS');
    assert.equal(r.str('iothub_method_response_topic', [-1, '1']), 'IOTHUB_BAD_STATUS');
    for (const rid of ['', 'a&b', 'a/b', 'a+b', 'a#', 'a b', 'a?b', 'ü']) assert.equal(r.str('iothub_twin_get_topic', [rid]), 'IOTHUB_BAD_REQUEST_ID', rid);
    const exact = '$iothub/methods/res/200/?$rid=2';
    assert.equal(r.str('iothub_method_response_topic', [200, '2'], exact.length), exact);
    assert.equal(r.str('iothub_method_response_topic', [200, '2'], exact.length - 1), 'BUFFER_TOO_SMALL');
  });

  test(`[${profile}] C2D parser (azc-13..15, Node SDK capture): views, percent-decoding, system properties, null values`, () => {
    let p: any = parse(r, 'iothub_c2d_topic_parse', vec('azc-13').input);
    assert.equal(p.kind, 1);
    assert.equal(p.device, 'useragent_c');
    assert.deepEqual(walk(r, p.bag), [['$.mid', '79eadb01-bd0d-472d-bd35-ccb76e70eab8', 0], ['$.to', '/devices/useragent_c/messages/deviceBound', 3], ['abc', '123', -1]]);
    const v14 = vec('azc-14');
    p = parse(r, 'iothub_c2d_topic_parse', v14.input);
    const props = walk(r, p.bag) as [string, string | null, number][];
    // Raw views equal the SDK's (which never decodes); decoding them is one call away.
    assert.deepEqual(props.map(([n, v]) => [n, v]), v14.expected.properties_in_order);
    assert.equal(props[0][2], 3);
    assert.equal(decode(r, props[3][1]!), '/some/thing/?bla=bla');
    const v15 = vec('azc-15');
    p = parse(r, 'iothub_c2d_topic_parse', v15.input[0]);
    assert.equal(p.kind, 1);
    assert.equal(p.bag, '');
    assert.equal(parse(r, 'iothub_c2d_topic_parse', v15.input[1]), 'IOTHUB_TOPIC_NOT_MATCHED');
    assert.equal(parse(r, 'iothub_c2d_topic_parse', v15.input[2]), 'IOTHUB_TOPIC_NOT_MATCHED');
    // What the local hub / IoT Hub sends (captures): every system property recognised, values decode to UTF-8.
    const c2d = captures.scenarios.flatMap((s: any) => s.events).find((e: any) => /messages\/devicebound\/%24/.test(e?.topic ?? ''))?.topic
      ?? 'devices/devA/messages/devicebound/%24.mid=c2d-1&%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound&%24.cid=corr-c2d&%24.uid=user1&%24.ct=text%2Fplain&%24.ce=utf-8&%24.exp=2030-01-01T00%3A00%3A00.0000000Z&iothub-ack=full&custom%20k%C3%BC=v%26w%3Dx%2Fy%20%E2%82%AC';
    p = parse(r, 'iothub_topic_parse', c2d);
    assert.equal(p.kind, 1);
    const all = (walk(r, p.bag) as [string, string | null, number][]).map(([n, v, s]) => [decode(r, n), v === null ? null : decode(r, v), s]);
    assert.deepEqual(all, [['$.mid', 'c2d-1', 0], ['$.to', '/devices/dev1/messages/deviceBound', 3], ['$.cid', 'corr-c2d', 1], ['$.uid', 'user1', 2],
      ['$.ct', 'text/plain', 4], ['$.ce', 'utf-8', 5], ['$.exp', '2030-01-01T00:00:00.0000000Z', 7], ['iothub-ack', 'full', -1], ['custom kü', 'v&w=x/y €', -1]]);
    // a bare key is a null value (never the string "undefined"); "k=" is the empty string
    p = parse(r, 'iothub_c2d_topic_parse', 'devices/d/messages/devicebound/flag&k=&x=1');
    assert.deepEqual(walk(r, p.bag), [['flag', null, -1], ['k', '', -1], ['x', '1', -1]]);
    assert.equal(parse(r, 'iothub_c2d_topic_parse', 'devices/d/messages/devicebound/a=%2'), 'IOTHUB_TOPIC_MALFORMED');
    assert.equal(parse(r, 'iothub_c2d_topic_parse', 'devices/d/messages/devicebound/=v'), 'IOTHUB_TOPIC_MALFORMED');
    assert.equal(parse(r, 'iothub_c2d_topic_parse', 'devices//messages/devicebound/'), 'IOTHUB_TOPIC_NOT_MATCHED');
  });

  test(`[${profile}] method parser (azc-16..18)`, () => {
    const p: any = parse(r, 'iothub_method_topic_parse', vec('azc-16').input);
    assert.deepEqual([p.kind, p.name, p.rid], [4, 'TestMethod', '1']);
    const v17 = vec('azc-17').input as string[];
    for (const t of v17.slice(0, 3).concat(v17.slice(4))) assert.equal(parse(r, 'iothub_method_topic_parse', t), 'IOTHUB_TOPIC_NOT_MATCHED', t);
    // v17[3] describes the subscribe filter followed by a NUL: it starts like a method request, so we call it
    // IOTHUB_TOPIC_MALFORMED where the SDK says NO_MATCH — an error either way.
    assert.equal(parse(r, 'iothub_method_topic_parse', '$iothub/methods/POST/#\u0000'), 'IOTHUB_TOPIC_MALFORMED');
    // azc-18 (PnP commands): we hand back the whole name; the component split at '*' is the caller's.
    const c: any = parse(r, 'iothub_method_topic_parse', vec('azc-18').input[1]);
    assert.equal(c.name, 'component_one*TestMethod');
    assert.equal(parse(r, 'iothub_method_topic_parse', '$iothub/methods/POST/x'), 'IOTHUB_TOPIC_MALFORMED');
    assert.equal(parse(r, 'iothub_method_topic_parse', '$iothub/methods/POST//?$rid=1'), 'IOTHUB_TOPIC_MALFORMED');
    assert.equal(parse(r, 'iothub_method_topic_parse', '$iothub/methods/POST/x/?$version=1'), 'IOTHUB_TOPIC_MALFORMED');
  });

  test(`[${profile}] twin parser (azc-19..22)`, () => {
    const want19 = [[3, -1, null, 'id_one'], [2, 200, 'id_one', null], [2, 204, 'id_one', '16'], [2, 204, 'id_one', null]];
    (vec('azc-19').input as string[]).forEach((t, n) => {
      const p: any = parse(r, 'iothub_twin_topic_parse', t);
      assert.deepEqual([p.kind, p.status, p.rid, p.version], want19[n], t);
    });
    const p: any = parse(r, 'iothub_twin_topic_parse', '$iothub/twin/res/204/?$rid=id_one&$version=16');
    assert.equal(p.versionNumber, 16);
    assert.equal((parse(r, 'iothub_twin_topic_parse', '$iothub/twin/PATCH/properties/desired/?$version=id_one') as any).versionNumber, -1);
    for (const [t, status] of [['$iothub/twin/res/400/?$rid=id_one', 400], ['$iothub/twin/res/504/?$rid=id_one', 504], ['$iothub/twin/res/429/?$rid=9', 429]] as const) {
      assert.equal((parse(r, 'iothub_twin_topic_parse', t) as any).status, status);
    }
    const v21 = vec('azc-21').input as string[];
    assert.equal(parse(r, 'iothub_twin_topic_parse', v21[0]), 'IOTHUB_TOPIC_NOT_MATCHED');
    assert.equal(parse(r, 'iothub_twin_topic_parse', v21[1]), 'IOTHUB_TOPIC_MALFORMED'); // the SDK's UNEXPECTED_END
    assert.equal(parse(r, 'iothub_twin_topic_parse', v21[2]), 'IOTHUB_TOPIC_NOT_MATCHED');
    // azc-22: azure-sdk-for-c finds "$iothub/twin/" anywhere in the topic (a regression test of theirs). IoT Hub's
    // topics start with "$iothub/"; the hub sends nothing else, so we do not match these.
    for (const t of vec('azc-22').input as string[]) assert.equal(parse(r, 'iothub_twin_topic_parse', t), 'IOTHUB_TOPIC_NOT_MATCHED', t);
    // desired notifications from the Node SDK captures
    assert.equal((parse(r, 'iothub_topic_parse', '$iothub/twin/PATCH/properties/desired/?$version=3') as any).versionNumber, 3);
    assert.equal(parse(r, 'iothub_twin_topic_parse', '$iothub/twin/PATCH/properties/desired/'), 'IOTHUB_TOPIC_MALFORMED');
    assert.equal(parse(r, 'iothub_twin_topic_parse', '$iothub/twin/res/2000000/?$rid=1'), 'IOTHUB_TOPIC_MALFORMED');
    assert.equal(parse(r, 'iothub_twin_topic_parse', '$iothub/twin/res/20x/?$rid=1'), 'IOTHUB_TOPIC_MALFORMED');
    assert.equal(parse(r, 'iothub_twin_topic_parse', '$iothub/twin/res/200/?$version=1'), 'IOTHUB_TOPIC_MALFORMED');
  });

  test(`[${profile}] DPS parser (azc-23, azc-24): status, rid, retry-after in either order`, () => {
    const want = [[202, '1', 3], [202, '1', 120], [200, '1', -1], [401, '1', -1], [200, '1', -1]];
    (vec('azc-23').input as any[]).forEach((i, n) => {
      const p: any = parse(r, 'iothub_dps_topic_parse', i.topic);
      assert.deepEqual([p.kind, p.status, p.rid, p.retryAfter], [5, ...want[n]], i.topic);
      // the JSON payload is the client's to read; azc-23's payload fields are out of this layer
    });
    assert.equal(parse(r, 'iothub_dps_topic_parse', vec('azc-24').input[0].topic), 'IOTHUB_TOPIC_NOT_MATCHED');
    assert.equal(parse(r, 'iothub_dps_topic_parse', '$dps/registrations/res/202/?$rid=1&retry-after=soon'), 'IOTHUB_TOPIC_MALFORMED');
  });

  test(`[${profile}] classifier: each kind, other topics are 0`, () => {
    const kinds: [string, number][] = [
      ['devices/d/messages/devicebound/a=1', 1], ['$iothub/twin/res/200/?$rid=1', 2], ['$iothub/twin/PATCH/properties/desired/?$version=2', 3],
      ['$iothub/methods/POST/reboot/?$rid=1a', 4], ['$dps/registrations/res/202/?$rid=1&retry-after=3', 5],
      ['devices/d/messages/events/a=1', 0], ['$iothub/methods/res/200/?$rid=1', 0], ['', 0], ['x', 0],
    ];
    for (const [t, k] of kinds) assert.equal(r.call('iothub_topic_parse', [t]), k, t);
    assert.equal(r.name(r.call('iothub_topic_parse', ['$iothub/twin/res/abc'])), 'IOTHUB_TOPIC_MALFORMED');
  });

  test(`[${profile}] property bags: azc-26 append, azc-27 find, azc-28 URL encoding, errors`, () => {
    const v26 = vec('azc-26');
    v26.input.forEach((props: [string, string][], n: number) => assert.equal(String(bag(r, props)), v26.expected[n]));
    const v27 = vec('azc-27');
    v27.input.forEach((i: any, n: number) => {
      const { list } = r.lay([i.bag, i.name]);
      const s = r.e.iothub_bag_find(...(list as [number, number, number, number]));
      if (String(v27.expected[n]).startsWith('AZ_ERROR')) assert.equal(s, 0, JSON.stringify(i));
      else { assert.equal(s, 1); assert.equal(r.view(r.e.iothub_bag_iterator_ptr() + B.valuePtr), v27.expected[n]); }
    });
    // lookup by plain name matches the encoded form
    const { list } = r.lay(['%24.mid=1&weird%20key=2', 'weird key']);
    assert.equal(r.e.iothub_bag_find(...(list as [number, number, number, number])), 1);
    assert.equal(r.view(r.e.iothub_bag_iterator_ptr() + B.valuePtr), '2');
    const v28 = vec('azc-28');
    assert.equal(r.str('iothub_url_encode', [v28.input, 0]), v28.expected);
    assert.equal(r.str('iothub_url_encode', [v28.input, 0], 15), v28.expected);
    assert.equal(r.str('iothub_url_encode', [v28.input, 0], 14), 'BUFFER_TOO_SMALL');
    assert.equal(bag(r, [['', 'v']]), 'IOTHUB_BAG_EMPTY_NAME');
    assert.equal(bag(r, [['a', 'b']], 2), 'BUFFER_TOO_SMALL');
    assert.equal(String(bag(r, [['a', 'b']], 3)), 'a=b');
    assert.equal(String(bag(r, [['flag', null], ['x', '1']])), 'flag&x=1');
    assert.equal(r.str('iothub_url_decode', ['%4']), 'IOTHUB_URL_BAD_ESCAPE');
    assert.equal(r.str('iothub_url_decode', ['%zz']), 'IOTHUB_URL_BAD_ESCAPE');
    assert.equal(r.str('iothub_url_decode', ['a+b%2b']), 'a+b+');
    assert.deepEqual(walk(r, 'a=%G0'), 'IOTHUB_URL_BAD_ESCAPE');
    // a scribbled iterator struct is refused, not followed
    const it = r.e.iothub_bag_iterator_ptr();
    r.e.iothub_bag_begin(r.c.io, 3);
    r.c.buf.writeInt32LE(-16, it);
    assert.equal(r.name(r.e.iothub_bag_next()), 'BAD_ARGUMENT');
    r.e.iothub_bag_begin(r.c.io, 3);
    r.c.buf.writeInt32LE(-5, it + 8);
    assert.equal(r.name(r.e.iothub_bag_next()), 'BAD_ARGUMENT');
  });

  test(`[${profile}] retry delay (azc-29) and status classes (azc-31)`, () => {
    const v = vec('azc-29');
    v.input.forEach((args: number[], n: number) => assert.equal(r.e.iothub_retry_delay(...(args as [number, number, number, number, number])), v.expected[n], JSON.stringify(args)));
    // the client's defaults: 1 s min, 100 s cap, 5 s jitter
    assert.deepEqual([0, 1, 2, 5, 6, 7, 40].map((a) => r.e.iothub_retry_delay(0, a, 1000, 100000, 0)), [1000, 2000, 4000, 32000, 64000, 100000, 100000]);
    assert.equal(r.e.iothub_retry_delay(0, 3, 1000, 100000, 5000), 13000);
    assert.equal(r.name(r.e.iothub_retry_delay(-1, 0, 0, 0, 0)), 'BAD_ARGUMENT');
    for (let i = 0; i < 1000; i++) {
      const rnd = (Math.random() * 2 ** 32) >>> 0;
      const j = r.e.iothub_retry_jitter(rnd, 5000);
      assert.ok(j >= 0 && j <= 5000);
    }
    assert.equal(r.e.iothub_retry_jitter(0xffffffff, 0), 0);
    const s = vec('azc-31');
    s.input.succeeded.forEach((st: number, n: number) => assert.equal(r.e.iothub_status_succeeded(st), s.expected.succeeded[n] ? 1 : 0));
    s.input.retriable.forEach((st: number, n: number) => assert.equal(r.e.iothub_status_retriable(st), s.expected.retriable[n] ? 1 : 0));
    // every 5xx is retriable (azure-sdk-for-c retries 500 only)
    assert.equal(r.e.iothub_status_retriable(503), 1);
    assert.equal(r.e.iothub_status_retriable(600), 0);
  });
}

const r = new Raw('gateway');
const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed());

test('property: property bags equal encodeURIComponent and round-trip through the C2D parser', () => {
  fc.assert(fc.property(fc.array(fc.tuple(text.filter((s) => s.length > 0), fc.option(text, { nil: null })), { maxLength: 8 }), (props) => {
    const b = bag(r, props);
    assert.ok(Buffer.isBuffer(b));
    assert.equal(b.toString(), props.map(([k, v]) => encodeURIComponent(k) + (v === null ? '' : `=${encodeURIComponent(v)}`)).join('&'));
    const p: any = parse(r, 'iothub_c2d_topic_parse', Buffer.concat([Buffer.from('devices/d/messages/devicebound/'), b]));
    assert.equal(p.kind, 1);
    const back = (walk(r, p.bag) as [string, string | null, number][]).map(([n, v]) => [decode(r, n), v === null ? null : decode(r, v)]);
    assert.deepEqual(back, props);
  }), fcParams(3000));
});

test('property: URL encoding (both flavours) equals the JS reference and decodes back', () => {
  fc.assert(fc.property(text, (s) => {
    assert.equal(r.str('iothub_url_encode', [s, 1]), encodeURIComponent(s));
    const strict = encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
    assert.equal(r.str('iothub_url_encode', [s, 0]), strict);
    assert.equal(decode(r, strict), s);
  }), fcParams(3000));
});

test('property: random bytes into every parser, the iterator and the decoder never trap and give known codes', () => {
  const prefixes = ['', 'devices/d/messages/devicebound/', '$iothub/twin/res/', '$iothub/twin/PATCH/properties/desired/',
    '$iothub/methods/POST/', '$dps/registrations/res/', '$iothub/twin/res/200/?', '$dps/registrations/res/202/?'];
  const known = /^(IOTHUB_TOPIC_NOT_MATCHED|IOTHUB_TOPIC_MALFORMED|IOTHUB_URL_BAD_ESCAPE|IOTHUB_BAG_EMPTY_NAME|BUFFER_TOO_SMALL)$/;
  const mcu = new Raw('mcu');
  fc.assert(fc.property(fc.constantFrom(...prefixes), fc.oneof(fc.uint8Array({ maxLength: 120 }), text.map((s) => Buffer.from(s)),
    fc.string({ unit: fc.constantFrom(...'$?&=/%2F4a+#rid versionretry-after0123456789'), maxLength: 40 }).map((s) => Buffer.from(s))), (pre, tail) => {
    const topic = Buffer.concat([Buffer.from(pre), tail]);
    for (const core of [r, mcu]) {
      for (const fn of ['iothub_topic_parse', 'iothub_twin_topic_parse', 'iothub_method_topic_parse', 'iothub_c2d_topic_parse', 'iothub_dps_topic_parse'] as const) {
        const s = core.call(fn, [topic]);
        if (s < 0) assert.match(core.name(s), known, fn);
        else assert.ok(s <= 5);
      }
      const w = walk(core, topic);
      if (typeof w === 'string') assert.match(w, known);
      const d = core.build('iothub_url_decode', [topic]);
      if (typeof d === 'string') assert.match(d, known);
    }
  }), fcParams(3000));
});
