// The hub's pure parts: SAS (azure-iot-common as the oracle), property bags, twin merge, C2D queue, topic rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import common from 'azure-iot-common';
import { verifySasToken, createSasToken } from '../../host/hub/auth/sas.js';
import { parsePropertyBag, encodePropertyBag, checkSubscription, classifyPublish, topicMatches } from '../../host/hub/device/topics.js';
import { mergePatch, type JsonObject } from '../../host/hub/state/twin-store.js';
import { C2DQueue } from '../../host/hub/state/c2d-queue.js';

const { SharedAccessSignature } = common;
const key = Buffer.alloc(32, 9).toString('base64');
const other = Buffer.alloc(32, 8).toString('base64');

test('SAS: tokens from azure-iot-common verify with either key; expiry, resource and signature are checked', () => {
  const now = Math.floor(Date.now() / 1000);
  // the device SDK encodes the resource itself (strictly: also !'()*) before azure-iot-common signs it
  const strict = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  for (const uri of ['h.example/devices/d1', "h.example/devices/d(1)'/modules/m!x"]) {
    const token = SharedAccessSignature.create(strict(uri), '', key, now + 60).toString();
    assert.deepEqual(verifySasToken(token, [uri], [other, key], now), { ok: true, expiresAt: now + 60 });
    assert.equal(verifySasToken(token, [uri], [other], now).ok, false);
    assert.equal(verifySasToken(token, ['h.example/devices/d2'], [key], now).ok, false);
    assert.equal(verifySasToken(token, [uri], [key], now + 61).ok, false);
    // a token made with plain encodeURIComponent verifies too
    assert.equal(verifySasToken(createSasToken(uri, key, now + 60), [uri], [key], now).ok, true);
  }
  const r = verifySasToken('SharedAccessSignature sr=a', ['a'], [key], now);
  assert.deepEqual(r.ok ? null : r.malformed, true);
});

test('property bags: percent-decoding, null for a bare key, round trip', () => {
  assert.deepEqual(parsePropertyBag('%24.mid=1&a%20b=c%26d%3De&bare&empty=&x=%F0%9F%98%80'), { '$.mid': '1', 'a b': 'c&d=e', bare: null, empty: '', x: '😀' });
  assert.deepEqual(parsePropertyBag('bad=%E0%A4%A&ok=1'), { bad: '%E0%A4%A', ok: '1' });
  const bag = { '$.mid': 'm/1', 'k ü&=/': 'v ü&=/?#+', n: null };
  assert.equal(encodePropertyBag(bag), '%24.mid=m%2F1&k%20%C3%BC%26%3D%2F=v%20%C3%BC%26%3D%2F%3F%23%2B&n');
  assert.deepEqual(parsePropertyBag(encodePropertyBag(bag)), bag);
});

test('twin merge patch: null deletes, objects merge, $-keys ignored', () => {
  const doc: JsonObject = { a: 1, b: { c: 1, d: 2 }, e: [1] };
  mergePatch(doc, { a: null, b: { c: null, x: 3 }, e: { y: 1 }, $version: 9 });
  assert.deepEqual(doc, { b: { d: 2, x: 3 }, e: { y: 1 } });
});

test('C2D queue: delivery count, dead-lettering, feedback per ack mode', () => {
  let now = 1000;
  const q = new C2DQueue(2, () => now);
  const m = q.enqueue('d', Buffer.from('x'), { messageId: 'a', ack: 'negative', ttlSeconds: 10 });
  assert.equal(q.takeNext('d')?.deliveryCount, 1);
  assert.equal(q.takeNext('d'), undefined); // in flight
  q.abandon(m.lockToken);
  assert.equal(q.takeNext('d')?.deliveryCount, 2);
  q.abandon(m.lockToken);
  assert.equal(q.takeNext('d'), undefined); // delivery count exceeded
  q.enqueue('d', Buffer.from('y'), { messageId: 'b', ack: 'positive', ttlSeconds: 1 });
  now += 1001;
  q.sweep();
  q.enqueue('d', Buffer.from('z'), { messageId: 'c', ack: 'positive' });
  q.complete(q.takeNext('d')!.lockToken);
  assert.deepEqual(q.takeFeedback().map((f) => [f.originalMessageId, f.statusCode]), [['a', 'DeliveryCountExceeded'], ['c', 'Success']]);
});

test('topic rules: own topics only, narrower filters allowed, wildcard matching', () => {
  const dev = { deviceId: 'd' };
  assert.equal(checkSubscription(dev, 'devices/d/messages/devicebound/#'), null);
  assert.equal(checkSubscription(dev, '$iothub/methods/POST/reboot/#'), null);
  assert.notEqual(checkSubscription(dev, 'devices/e/messages/devicebound/#'), null);
  assert.notEqual(checkSubscription(dev, 'devices/d/messages/events/#'), null);
  assert.notEqual(checkSubscription(dev, '$iothub/twin/#'), null);
  assert.notEqual(checkSubscription(dev, '$iothub/methods/POST/a#'), null);
  assert.deepEqual(classifyPublish(dev, '$iothub/twin/GET/?$rid=7'), { kind: 'twin-get', rid: '7' });
  assert.deepEqual(classifyPublish(dev, '$iothub/methods/res/200/?$rid=x'), { kind: 'method-response', rid: 'x', status: 200 });
  assert.equal(classifyPublish(dev, 'devices/e/messages/events/').kind, 'foreign');
  assert.equal(classifyPublish({ deviceId: 'd', moduleId: 'm' }, 'devices/d/messages/events/').kind, 'foreign');
  assert.ok(topicMatches('$iothub/twin/res/#', '$iothub/twin/res/200/?$rid=1'));
  assert.ok(topicMatches('a/+/c', 'a/b/c'));
  assert.ok(!topicMatches('a/+/c', 'a/b/d'));
});
