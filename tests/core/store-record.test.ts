// The store record (assembly/client/store.ts), on both builds: the core writes it and is the only judge of it. Its
// CRC is zlib's CRC-32 (computed here independently), every flipped byte and every cut is refused by name, a record
// whose CRC was made to match is still refused for a wrong version or a body that is not a QoS 1 PUBLISH, a restored
// record goes out as the same PUBLISH with a fresh packet id and its own token, and the creation time is ISO 8601.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedCore, DEVICE_CS } from '../support/scripted-core.js';
import { EVENT, STATUS, STORE_KIND, SYSTEM_PROPERTY } from '../../host/wasm/abi.generated.js';

/** CRC-32 (IEEE, reflected, as zlib and PNG compute it), bit by bit. */
function crc32(b: Uint8Array): number {
  let c = 0xFFFFFFFF;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xEDB88320 : c >>> 1;
  }
  return (c ^ 0xFFFFFFFF) >>> 0;
}

/** A store record for a message with `payload` (and message id `mid`, if given), copied out of the core. */
function record(c: ScriptedCore, payload: string, mid?: string): { token: number; bytes: Buffer } {
  const { ex, io } = c;
  ex.client_telemetry_begin();
  if (mid !== undefined) assert.equal(ex.client_telemetry_system_add(SYSTEM_PROPERTY.MESSAGE_ID, io, c.put(mid)), 0);
  const token = ex.client_telemetry_store(io, c.put(payload), c.now);
  assert.ok(token > 0, `stored: ${token}`);
  const ptr = ex.client_store_ptr();
  return { token, bytes: Buffer.from(c.mem.subarray(ptr, ptr + ex.client_store_len())) };
}
const check = (c: ScriptedCore, b: Uint8Array, len = b.length) => { c.mem.set(b, c.io); return c.ex.client_store_check(c.io, len); };
/** The same record with its CRC made to match whatever the bytes now say. */
function resealed(b: Buffer): Buffer {
  const r = Buffer.from(b);
  r.writeUInt32LE(crc32(r.subarray(0, r.length - 4)), r.length - 4);
  return r;
}

for (const profile of ['mcu', 'gateway'] as const) {
  test(`${profile}: the record's trailer is zlib's CRC-32 of the rest, and a good record checks with its length, token and kind`, () => {
    const c = new ScriptedCore(profile);
    const { token, bytes } = record(c, '{"t":1}', 'm-1');
    assert.equal(bytes.readUInt32LE(bytes.length - 4), crc32(bytes.subarray(0, bytes.length - 4)));
    assert.equal(crc32(Buffer.from('123456789')), 0xCBF43926); // the check value of CRC-32
    assert.equal(check(c, bytes), bytes.length);
    assert.equal(c.ex.client_store_token(), token);
    assert.equal(c.ex.client_store_kind(), STORE_KIND.MESSAGE);
    // a board may pass everything it has left: the record ends where it says
    const two = Buffer.concat([bytes, bytes]);
    assert.equal(check(c, two), bytes.length);
  });

  test(`${profile}: every flipped byte is CLIENT_STORE_CORRUPT (or _TRUNCATED when it lengthens the record), every cut is CLIENT_STORE_TRUNCATED`, () => {
    const c = new ScriptedCore(profile);
    const { bytes } = record(c, 'payload', 'm-2');
    for (let i = 0; i < bytes.length; i++) {
      const b = Buffer.from(bytes);
      b[i] ^= 0x20;
      const r = check(c, b);
      // a longer body length within the profile's packet size reads as a record the bytes end inside of
      const lengthened = i >= 12 && i < 16 && b.readUInt32LE(12) > bytes.readUInt32LE(12) && b.readUInt32LE(12) <= c.ex.client_rx_capacity();
      assert.equal(r, lengthened ? STATUS.CLIENT_STORE_TRUNCATED : STATUS.CLIENT_STORE_CORRUPT, `byte ${i}`);
    }
    for (let k = 0; k < bytes.length; k++) assert.equal(check(c, bytes, k), STATUS.CLIENT_STORE_TRUNCATED, `cut at ${k}`);
    assert.equal(check(c, Buffer.from('not a record at all')), STATUS.CLIENT_STORE_CORRUPT);
  });

  test(`${profile}: a matching CRC is not enough: another format version, unknown kind, a body that is not a QoS 1 PUBLISH are CLIENT_STORE_CORRUPT`, () => {
    const c = new ScriptedCore(profile);
    const { bytes } = record(c, 'x', 'm-3');
    const edit = (f: (b: Buffer) => void) => { const b = Buffer.from(bytes); f(b); return check(c, resealed(b)); };
    assert.equal(edit(() => {}), bytes.length, 'resealing itself changes nothing');
    assert.equal(edit((b) => { b[4] = 2; }), STATUS.CLIENT_STORE_CORRUPT, 'version 2');
    assert.equal(edit((b) => { b[5] = 9; }), STATUS.CLIENT_STORE_CORRUPT, 'kind 9');
    assert.equal(edit((b) => { b[24] = 0x30; }), STATUS.CLIENT_STORE_CORRUPT, 'a QoS 0 PUBLISH');
    assert.equal(edit((b) => { b[24] = 0x3A; }), STATUS.CLIENT_STORE_CORRUPT, 'DUP set');
    assert.equal(edit((b) => { b[25] += 1; }), STATUS.CLIENT_STORE_CORRUPT, 'a remaining length that is not the rest');
    assert.equal(edit((b) => { b.writeUInt32LE(0, 8); }), STATUS.CLIENT_STORE_CORRUPT, 'token 0');
    assert.equal(c.ex.client_store_restore(c.io, bytes.length), STATUS.CLIENT_STORE_CORRUPT, 'restore checks too');
  });

  test(`${profile}: a restored record goes out as the same PUBLISH with a fresh packet id; PUBACK reports its token, and its completion marker checks as STORE_DONE`, () => {
    const c = new ScriptedCore(profile);
    c.connect();
    const { token, bytes } = record(c, 'kept', 'm-4');
    assert.deepEqual(c.sent(), [], 'a stored message is not queued until it is handed back');
    // later (another boot): the record comes back from storage
    assert.equal(check(c, bytes), bytes.length);
    assert.equal(c.ex.client_store_restore(c.io, bytes.length), token);
    const [p] = c.sent();
    assert.equal(p?.cmd, 'publish');
    assert.equal(p.qos, 1);
    assert.notEqual(p.messageId, 0xFFFF, 'not the stand-in packet id of the record');
    assert.match(p.topic, /^devices\/dev-1\/messages\/events\/%24\.mid=m-4&%24\.ctime=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\d\.\d{3}Z$/);
    assert.equal(Buffer.from(p.payload).toString(), 'kept');
    c.feed({ cmd: 'puback', messageId: p.messageId! });
    const acked = c.poll().find((e) => e.type === EVENT.TELEMETRY_ACKED);
    assert.equal(acked?.token, token);
    const n = c.ex.client_store_done(token);
    assert.equal(c.ex.client_store_check(c.ex.client_store_ptr(), n), n);
    assert.equal(c.ex.client_store_kind(), STORE_KIND.DONE);
    assert.equal(c.ex.client_store_token(), token);
    assert.equal(c.ex.client_store_restore(c.ex.client_store_ptr(), n), STATUS.BAD_ARGUMENT, 'a marker is not a message');
  });

  test(`${profile}: a record of another device or module is CLIENT_FOREIGN_TOPIC, not queued (a store that outlived a re-provisioning)`, () => {
    const { bytes } = record(new ScriptedCore(profile), 'theirs', 'm-5');
    for (const cs of [DEVICE_CS.replace('DeviceId=dev-1', 'DeviceId=dev-2'), DEVICE_CS.replace('DeviceId=dev-1', 'DeviceId=dev-1x'), `${DEVICE_CS};ModuleId=m1`]) {
      const other = new ScriptedCore(profile, cs);
      other.connect();
      assert.equal(check(other, bytes), bytes.length, 'a good record');
      assert.equal(other.ex.client_store_restore(other.io, bytes.length), STATUS.CLIENT_FOREIGN_TOPIC, cs);
      assert.deepEqual(other.sent(), []);
    }
  });

  test(`${profile}: checking stored records moves the next token past theirs; the outbox full is CLIENT_QUEUE_FULL, a stopped client CLIENT_CLOSED`, () => {
    const old = new ScriptedCore(profile);
    let last: { token: number; bytes: Buffer } = { token: 0, bytes: Buffer.alloc(0) };
    for (let i = 0; i < 40; i++) last = record(old, `r${i}`, `m-${i}`);
    const c = new ScriptedCore(profile); // a fresh boot
    assert.equal(check(c, last.bytes), last.bytes.length);
    const next = record(c, 'new', 'm-new');
    assert.equal(next.token, last.token + 1);
    const slots = c.ex.client_outbox_slots();
    let r = 0;
    let queued = 0;
    for (let i = 0; i <= slots; i++) {
      r = check(c, next.bytes) > 0 ? c.ex.client_store_restore(c.io, next.bytes.length) : -1;
      if (r > 0) queued++;
    }
    assert.equal(queued, slots);
    assert.equal(r, STATUS.CLIENT_QUEUE_FULL);
    c.ex.client_stop(c.now);
    c.poll();
    assert.equal(check(c, next.bytes) > 0 && c.ex.client_store_restore(c.io, next.bytes.length), STATUS.CLIENT_CLOSED);
  });

  test(`${profile}: the creation time is ISO 8601 UTC to the millisecond ($.ctime and the record's header), a message id is added only when there is none`, () => {
    const c = new ScriptedCore(profile);
    const cases: Array<[number, string]> = [
      [0, '1970-01-01T00:00:00.000Z'],
      [951_782_400_123, '2000-02-29T00:00:00.123Z'],
      [1_796_132_128_005, '2026-12-01T13:35:28.005Z'],
      [4_102_444_799_999, '2099-12-31T23:59:59.999Z'],
    ];
    for (const [ms, iso] of cases) {
      c.ex.client_time_set(Math.floor(ms / 1000), c.now);
      c.now += ms % 1000;
      const { bytes } = record(c, 'x', 'given');
      const text = bytes.toString('latin1');
      assert.ok(text.includes(`%24.mid=given&%24.ctime=${iso.replaceAll(':', '%3A')}`), `${ms}: ${text}`);
      assert.equal(Number(bytes.readBigUInt64LE(16)), ms);
      assert.ok(!text.slice(text.indexOf('given')).includes('%24.mid'), 'only the id given');
    }
    const a = record(c, 'y').bytes.toString('latin1');
    const b = record(c, 'y').bytes.toString('latin1');
    const mid = (t: string) => /%24\.mid=([0-9a-f-]{36})&/.exec(t)?.[1];
    assert.ok(mid(a) && mid(b) && mid(a) !== mid(b), 'a UUID of its own for each');
  });
}
