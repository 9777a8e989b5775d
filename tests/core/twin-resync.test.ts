// The core's catch-up read after a reconnect (OPT_TWIN_RESYNC), scripted byte by byte with mqtt-packet as the hub:
// the GET goes out after the reconnect (not after the first connection), a newer desired document becomes one
// EV_DESIRED whose view is exactly the desired member, an older one nothing, and any answer body never traps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ScriptedCore } from '../support/scripted-core.js';
import { fcParams } from '../support/fast-check.js';
import { EVENT, OPTION, STATUS } from '../../host/wasm/abi.generated.js';
import type { Packet } from '../../host/codec/index.js';

/** The twin GET the client sent, by its $rid. */
function twinGet(packets: Packet[]): string | undefined {
  const p = packets.find((x) => x.cmd === 'publish' && (x as { topic: string }).topic.startsWith('$iothub/twin/GET/')) as { topic: string } | undefined;
  return p ? /\$rid=([^&]+)/.exec(p.topic)?.[1] : undefined;
}

function reconnected(c: ScriptedCore): { rid: string; events: ReturnType<ScriptedCore['poll']> } {
  c.drop();
  c.now += 200_000; // past any back-off
  c.poll();
  const r = c.connect(true, [1, 0, 0, 0]);
  const rid = twinGet(r.packets);
  assert.ok(rid, 'the client reads the twin after a reconnect');
  return { rid, events: r.events };
}

function answer(c: ScriptedCore, rid: string, body: string | Buffer, status = 200) {
  c.feed({ cmd: 'publish', topic: `$iothub/twin/res/${status}/?$rid=${rid}`, payload: typeof body === 'string' ? Buffer.from(body) : body, qos: 0, dup: false, retain: false } as Packet);
  return c.poll();
}

for (const profile of ['gateway', 'mcu'] as const) {
  test(`[${profile}] no read after the first connection; after a reconnect a newer desired document is one EV_DESIRED, an older one nothing`, () => {
    const c = new ScriptedCore(profile);
    const first = c.connect();
    assert.equal(twinGet(first.packets), undefined, 'the first connection reads nothing by itself');
    c.ex.client_twin_desired_applied(3);
    let { rid } = reconnected(c);
    const desired = '{ "rate" : {"a":[1,{"b":"}"}]}, "$version": 7 }';
    let ev = answer(c, rid, `{"desired":${desired},"reported":{"$version":2}}`);
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.type, EVENT.DESIRED);
    assert.equal(ev[0]!.version, 7);
    assert.equal(ev[0]!.a.toString(), desired, 'the view is the desired member, exactly');
    // a patch of that version (or older) is a repeat; a newer one is delivered
    c.feed({ cmd: 'publish', topic: '$iothub/twin/PATCH/properties/desired/?$version=7', payload: Buffer.from('{"$version":7}'), qos: 0, dup: false, retain: false } as Packet);
    assert.deepEqual(c.poll(), []);
    ({ rid } = reconnected(c));
    ev = answer(c, rid, '{"desired":{"$version":6},"reported":{}}');
    assert.deepEqual(ev, [], 'an older document is nothing');
    ({ rid } = reconnected(c));
    assert.deepEqual(answer(c, rid, '{"desired":{"x":1,"$version":9}}', 429).map((e) => e.type), [EVENT.TWIN_RETRY], 'a throttled read is retried like any twin request');
  });
}

test('option OPT_TWIN_RESYNC takes 0 or 1', () => {
  const c = new ScriptedCore('mcu');
  assert.equal(c.ex.client_option_set(OPTION.TWIN_RESYNC, 0), STATUS.OK);
  assert.equal(c.ex.client_option_set(OPTION.TWIN_RESYNC, 2), STATUS.BAD_ARGUMENT);
});

test('property: any answer body to the catch-up read never traps, and only a newer $version is delivered', () => {
  fc.assert(fc.property(fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.json().map((j) => Buffer.from(j)),
    fc.tuple(fc.json(), fc.nat({ max: 99999 })).map(([j, v]) => Buffer.from(`{"desired":{"k":${j},"$version":${v}}}`)),
  ), (body) => {
    const c = new ScriptedCore('mcu');
    c.connect();
    c.ex.client_twin_desired_applied(10);
    const { rid } = reconnected(c);
    const ev = answer(c, rid, body);
    for (const e of ev) {
      assert.equal(e.type, EVENT.DESIRED);
      assert.ok(e.version > 10);
    }
    assert.ok(ev.length <= 1);
  }), fcParams(400));
});
