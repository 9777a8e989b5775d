// Unit specs for SHA-256, HMAC-SHA256 and base64 (as-pect; the built modules are tested from node:test).
import { sha256Init, sha256Update, sha256Final, sha256Once, SHA256_CTX_SIZE } from "../crypto/sha256";
import { hmacSha256 } from "../crypto/hmac";
import { base64Encode, base64Decode } from "../crypto/base64";
import { inRange } from "../crypto/bytes";
import * as C from "../crypto/status";
import { E_BUFFER_TOO_SMALL } from "../status";

const CTX = memory.data(SHA256_CTX_SIZE, 8);
const IN = memory.data(512);
const OUT = memory.data(256);

function put(s: string, at: usize = IN): i32 {
  const n = String.UTF8.byteLength(s);
  const b = String.UTF8.encode(s);
  for (let i = 0; i < n; i++) store<u8>(at + <usize>i, load<u8>(changetype<usize>(b) + <usize>i));
  return n;
}
function hex(p: usize, n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    const b = load<u8>(p + <usize>i);
    s += (b < 16 ? "0" : "") + b.toString(16);
  }
  return s;
}
function str(p: usize, n: i32): string { return String.UTF8.decodeUnsafe(p, <usize>n); }

describe("sha256", () => {
  it("matches the NIST vectors", () => {
    sha256Once(CTX, IN, 0, OUT);
    expect(hex(OUT, 32)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256Once(CTX, IN, put("abc"), OUT);
    expect(hex(OUT, 32)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256Once(CTX, IN, put("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), OUT);
    expect(hex(OUT, 32)).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("gives the same digest at every split point of a 130-byte input", () => {
    for (let i = 0; i < 130; i++) store<u8>(IN + <usize>i, <u8>(i * 7 + 1));
    sha256Once(CTX, IN, 130, OUT + 64);
    const want = hex(OUT + 64, 32);
    for (let a = 0; a <= 130; a++) {
      sha256Init(CTX);
      sha256Update(CTX, IN, <usize>a);
      sha256Update(CTX, IN + <usize>a, <usize>(130 - a));
      sha256Final(CTX, OUT);
      expect(hex(OUT, 32)).toBe(want);
    }
  });
});

describe("hmac-sha256", () => {
  it("matches RFC 4231 test cases 1 and 2", () => {
    for (let i = 0; i < 20; i++) store<u8>(IN + 256 + <usize>i, 0x0b);
    hmacSha256(IN + 256, 20, IN, put("Hi There"), OUT);
    expect(hex(OUT, 32)).toBe("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    const k = put("Jefe", IN + 256);
    hmacSha256(IN + 256, k, IN, put("what do ya want for nothing?"), OUT);
    expect(hex(OUT, 32)).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });

  it("hashes keys longer than a block (RFC 4231 case 6)", () => {
    for (let i = 0; i < 131; i++) store<u8>(IN + 300 + <usize>i, 0xaa);
    hmacSha256(IN + 300, 131, IN, put("Test Using Larger Than Block-Size Key - Hash Key First"), OUT);
    expect(hex(OUT, 32)).toBe("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  });
});

describe("base64", () => {
  it("encodes and decodes the RFC 4648 vectors", () => {
    const n = base64Encode(IN, put("foobar"), OUT, 64);
    expect(str(OUT, n)).toBe("Zm9vYmFy");
    expect(str(OUT, base64Encode(IN, put("fo"), OUT, 64))).toBe("Zm8=");
    const d = base64Decode(IN, put("Zm9vYg=="), OUT, 64);
    expect(str(OUT, d)).toBe("foob");
  });

  it("refuses bad characters, lengths and padding with codes", () => {
    expect(base64Decode(IN, put("Zm9*"), OUT, 64)).toBe(C.E_CRYPTO_BASE64_BAD_CHAR);
    expect(base64Decode(IN, put("Zm9"), OUT, 64)).toBe(C.E_CRYPTO_BASE64_BAD_LENGTH);
    expect(base64Decode(IN, put("Zg=a"), OUT, 64)).toBe(C.E_CRYPTO_BASE64_BAD_PADDING);
    expect(base64Decode(IN, put("Zh=="), OUT, 64)).toBe(C.E_CRYPTO_BASE64_BAD_PADDING);
    expect(base64Encode(IN, put("foo"), OUT, 3)).toBe(E_BUFFER_TOO_SMALL);
  });
});

describe("ranges", () => {
  it("accepts static data and refuses what lies beyond it", () => {
    expect(inRange(IN, 10)).toBe(true);
    expect(inRange(IN, -1)).toBe(false);
    expect(inRange(__heap_base, 1)).toBe(false);
  });
});
