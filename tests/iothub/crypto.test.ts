// SHA-256 / HMAC-SHA256 / base64 of the built core against NIST and RFC 4231 vectors and node:crypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fc from 'fast-check';
import { fcParams } from '../support/fast-check.js';
import { fixture } from '../support/fixtures.js';
import { Raw, profiles } from './helpers.js';

const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest();
const hmac = (k: Uint8Array, m: Uint8Array) => crypto.createHmac('sha256', k).update(m).digest();

function ourSha(r: Raw, data: Uint8Array): Buffer {
  const { list, free } = r.lay([data]);
  assert.equal(r.e.crypto_sha256(list[0] as number, list[1] as number, free), 32);
  return Buffer.from(r.c.u8.subarray(free, free + 32));
}

/** Streams data through crypto_sha256_update in the given chunk boundaries (data copied into the window once). */
function ourShaSplit(r: Raw, data: Uint8Array, cuts: number[]): Buffer {
  const { list, free } = r.lay([data]);
  const base = list[0] as number;
  r.e.crypto_sha256_init();
  let prev = 0;
  for (const cut of [...cuts, data.length]) { assert.equal(r.e.crypto_sha256_update(base + prev, cut - prev), 0); prev = cut; }
  assert.equal(r.e.crypto_sha256_final(free), 32);
  return Buffer.from(r.c.u8.subarray(free, free + 32));
}

function ourHmac(r: Raw, key: Uint8Array, msg: Uint8Array): Buffer {
  const { list, free } = r.lay([key, msg]);
  assert.equal(r.e.crypto_hmac_sha256(...(list as [number, number, number, number]), free), 32);
  return Buffer.from(r.c.u8.subarray(free, free + 32));
}

for (const profile of profiles) {
  const r = new Raw(profile);

  test(`[${profile}] NIST SHA-256: empty, "abc", 448-bit two-block message`, () => {
    assert.equal(ourSha(r, Buffer.alloc(0)).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(ourSha(r, Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(ourSha(r, Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toString('hex'),
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  test(`[${profile}] NIST SHA-256: one million 'a' (streamed in 1000-byte updates)`, () => {
    const chunk = Buffer.alloc(1000, 'a');
    const { list, free } = r.lay([chunk]);
    r.e.crypto_sha256_init();
    for (let i = 0; i < 1000; i++) r.e.crypto_sha256_update(list[0] as number, 1000);
    r.e.crypto_sha256_final(free);
    assert.equal(Buffer.from(r.c.u8.subarray(free, free + 32)).toString('hex'),
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  test(`[${profile}] streaming SHA-256 is right at every split point (lengths around block boundaries)`, () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 191, 192, 200]) {
      const data = crypto.randomBytes(n);
      const want = sha(data);
      for (let a = 0; a <= n; a++) {
        assert.deepEqual(ourShaSplit(r, data, [a]), want, `len ${n} split ${a}`);
        // a three-way split too: a partial block followed by whole blocks is the classic bug
        const b = Math.min(n, a + 64 + (a % 7));
        assert.deepEqual(ourShaSplit(r, data, [a, b]), want, `len ${n} splits ${a},${b}`);
      }
    }
  });

  test(`[${profile}] sas-hmac-vectors.json: HMAC, SAS and DPS vectors`, () => {
    const vectors = fixture<{ id: string; kind: string; input: Record<string, unknown>; expected: string }[]>('sas-hmac-vectors.json');
    let used = 0;
    for (const v of vectors) {
      const i = v.input;
      if (v.kind === 'hmac_sha256_hex') {
        assert.equal(ourHmac(r, Buffer.from(i.key_hex as string, 'hex'), Buffer.from(i.data_hex as string, 'hex')).toString('hex'), v.expected, v.id);
        used++;
      } else if (v.kind === 'hmac_sha256_b64key') {
        assert.equal(ourHmac(r, Buffer.from(i.key_base64 as string, 'base64'), Buffer.from(i.message as string)).toString('base64'), v.expected, v.id);
        used++;
      } else if (v.kind === 'sas_token') {
        assert.equal(r.str('iothub_sas_token', [i.resource_uri as string, i.key_base64 as string, null, BigInt(i.expiry as number)]), v.expected, v.id);
        used++;
      } else if (v.kind === 'dps_group_derived_key') {
        assert.equal(r.str('iothub_dps_key_derive', [i.group_key_base64 as string, i.registration_id as string]), v.expected, v.id);
        used++;
      } else if (v.kind === 'derived.hub_sas_password') {
        assert.equal(r.str('iothub_sas_device_password', [i.hostname as string, i.device_id as string, null,
          i.key_base64 as string, null, BigInt(i.expiry as number)]), v.expected, v.id);
        used++;
      }
    }
    assert.equal(used, vectors.length, 'every vector is used');
  });

  test(`[${profile}] base64 vectors (RFC 4648 §10) and strict refusals`, () => {
    const cases: [string, string][] = [['', ''], ['f', 'Zg=='], ['fo', 'Zm8='], ['foo', 'Zm9v'], ['foob', 'Zm9vYg=='], ['fooba', 'Zm9vYmE='], ['foobar', 'Zm9vYmFy']];
    for (const [plain, b64] of cases) {
      assert.equal(r.str('crypto_base64_encode', [plain]), b64);
      assert.equal(r.str('crypto_base64_decode', [b64]), plain);
    }
    const bad: [string, string][] = [
      ['Zm9v!', 'CRYPTO_BASE64_BAD_LENGTH'], ['Zm9', 'CRYPTO_BASE64_BAD_LENGTH'], ['Zm9*', 'CRYPTO_BASE64_BAD_CHAR'], ['Zm 9', 'CRYPTO_BASE64_BAD_CHAR'],
      ['Zg=a', 'CRYPTO_BASE64_BAD_PADDING'], ['Z===', 'CRYPTO_BASE64_BAD_PADDING'], ['====', 'CRYPTO_BASE64_BAD_PADDING'], ['Zg==Zm9v', 'CRYPTO_BASE64_BAD_PADDING'],
      ['Zh==', 'CRYPTO_BASE64_BAD_PADDING'], ['Zm9=', 'CRYPTO_BASE64_BAD_PADDING'], ['Zm-v', 'CRYPTO_BASE64_BAD_CHAR'], ['Zm_v', 'CRYPTO_BASE64_BAD_CHAR'],
    ];
    for (const [b64, code] of bad) assert.equal(r.str('crypto_base64_decode', [b64]), code, b64);
    assert.equal(r.str('crypto_base64_encode', ['foo'], 3), 'BUFFER_TOO_SMALL');
    assert.equal(r.str('crypto_base64_decode', ['Zm9vYmFy'], 5), 'BUFFER_TOO_SMALL');
  });

  test(`[${profile}] out-of-range pointers are BAD_ARGUMENT, not traps`, () => {
    const top = r.e.abi_heap_base();
    assert.equal(r.name(r.e.crypto_sha256(top, 1, r.c.io)), 'BAD_ARGUMENT');
    assert.equal(r.name(r.e.crypto_sha256(r.c.io, -1, r.c.io)), 'BAD_ARGUMENT');
    assert.equal(r.name(r.e.crypto_hmac_sha256(0xfffffff0, 32, r.c.io, 0, r.c.io)), 'BAD_ARGUMENT');
    assert.equal(r.name(r.e.crypto_base64_decode(r.c.io, 4, top - 1, 3)), 'BAD_ARGUMENT');
    assert.equal(r.name(r.e.crypto_sha256_update(-5, 10)), 'BAD_ARGUMENT');
  });
}

const r = new Raw('gateway');
const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });

test('property: SHA-256 equals node:crypto, one-shot and streamed at a random split', () => {
  fc.assert(fc.property(bytes(300), fc.nat(), (data, cut) => {
    const want = sha(data);
    assert.deepEqual(ourSha(r, data), want);
    const a = data.length ? cut % (data.length + 1) : 0;
    assert.deepEqual(ourShaSplit(r, data, [a]), want);
  }), fcParams(3000));
});

test('property: HMAC-SHA256 equals node:crypto for keys of every length 0..200 (beyond the 64-byte block)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 200 }), bytes(200), fc.infiniteStream(fc.nat(255)), (keyLen, msg, s) => {
    const key = Uint8Array.from(s.take(keyLen));
    assert.deepEqual(ourHmac(r, key, msg), hmac(key, msg));
  }), fcParams(3000));
  // Every key length explicitly, so no length is left to chance.
  for (let n = 0; n <= 140; n++) {
    const key = crypto.randomBytes(n), msg = crypto.randomBytes(n * 3 % 170);
    assert.deepEqual(ourHmac(r, key, msg), hmac(key, msg), `key length ${n}`);
  }
});

test('property: HMAC midstate cache never serves a stale key (alternating keys)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(bytes(80), bytes(100)), { minLength: 1, maxLength: 6 }), (pairs) => {
    for (const [k, m] of [...pairs, ...pairs.reverse()]) assert.deepEqual(ourHmac(r, k, m), hmac(k, m));
  }), fcParams(2000));
});

test('property: base64 encode/decode equal Buffer and round-trip', () => {
  fc.assert(fc.property(bytes(200), (data) => {
    const b64 = Buffer.from(data).toString('base64');
    assert.equal(r.str('crypto_base64_encode', [data]), b64);
    const dec = r.build('crypto_base64_decode', [b64]);
    assert.ok(Buffer.isBuffer(dec));
    assert.deepEqual(dec, Buffer.from(data));
  }), fcParams(3000));
});

test('property: random text is either canonical base64 (decodes like Buffer, re-encodes to itself) or a coded error', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n*';
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 24 }), (s) => {
    const dec = r.build('crypto_base64_decode', [s]);
    if (typeof dec === 'string') assert.match(dec, /^CRYPTO_BASE64_BAD_(CHAR|LENGTH|PADDING)$/);
    else {
      assert.equal(dec.toString('base64'), s);
      assert.deepEqual(dec, Buffer.from(s, 'base64'));
    }
  }), fcParams(5000));
});
