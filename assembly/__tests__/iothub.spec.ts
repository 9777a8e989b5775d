// Unit specs for the IoT Hub protocol layer (as-pect; the built modules are tested from node:test).
import { urlEncode, urlDecode, urlDecodedEquals } from "../iothub/urlencode";
import { parseConnectionString, csResult, CS_DEVICE, CS_KEY_LEN } from "../iothub/connection-string";
import { sasToken, sasDevicePassword, dpsSasToken, dpsDeriveKey } from "../iothub/sas";
import { clientId, username, dpsUsername } from "../iothub/identity";
import { telemetryTopic, subscribeTopic, twinGetTopic, methodResponseTopic, dpsPollTopic, SUB_C2D } from "../iothub/topics";
import { bagAppend, bagAppendSystem, bagIterBegin, bagIterNext, BAG_ITER_SIZE, SYS_MESSAGE_ID, SYS_TO } from "../iothub/property-bag";
import { classifyTopic, parseTwinTopic, TOPIC_RESULT_SIZE, TOPIC_C2D, TOPIC_TWIN_RESPONSE, TOPIC_METHOD_REQUEST, TOPIC_DPS_RESPONSE, TOPIC_OTHER } from "../iothub/parsers";
import { retryDelay, statusRetriable } from "../iothub/retry";
import { decodeKey, keyBuffer } from "../iothub/keys";
import { checkId } from "../iothub/ids";
import * as S from "../iothub/status";
import { OK, E_BUFFER_TOO_SMALL } from "../status";

const A = memory.data(1024);
const B = memory.data(1024);
const C = memory.data(256);
const D = memory.data(256);
const OUT = memory.data(1024);
const IT = memory.data(BAG_ITER_SIZE, 8);
const RES = memory.data(TOPIC_RESULT_SIZE, 8);

function put(s: string, at: usize): i32 {
  const n = String.UTF8.byteLength(s);
  const b = String.UTF8.encode(s);
  for (let i = 0; i < n; i++) store<u8>(at + <usize>i, load<u8>(changetype<usize>(b) + <usize>i));
  return n;
}
function str(p: usize, n: i32): string { return n < 0 ? "<" + n.toString() + ">" : String.UTF8.decodeUnsafe(p, <usize>n); }
function view(p: usize): string { const n = load<i32>(p + 4); return n < 0 ? "<null>" : str(<usize>load<i32>(p), n); }

describe("urlencode", () => {
  it("strict and component flavours over UTF-8", () => {
    const n = put("abc/=%012 ü!*'()~", A);
    expect(str(OUT, urlEncode(A, n, OUT, 256, false))).toBe("abc%2F%3D%25012%20%C3%BC%21%2A%27%28%29~");
    expect(str(OUT, urlEncode(A, n, OUT, 256, true))).toBe("abc%2F%3D%25012%20%C3%BC!*'()~");
    expect(urlEncode(A, n, OUT, 3, true)).toBe(E_BUFFER_TOO_SMALL);
  });
  it("decodes and refuses broken escapes", () => {
    expect(str(OUT, urlDecode(A, put("a%20b%c3%bc", A), OUT, 64))).toBe("a bü");
    expect(urlDecode(A, put("a%2", A), OUT, 64)).toBe(S.E_IOTHUB_URL_BAD_ESCAPE);
    expect(urlDecodedEquals(A, put("%24.mid", A), B, put("$.mid", B))).toBe(true);
    expect(urlDecodedEquals(A, put("%24.mid", A), B, put("$.mi", B))).toBe(false);
  });
});

describe("connection string", () => {
  it("parses a device string and decodes the key", () => {
    expect(parseConnectionString(A, put("HostName=h.net;DeviceId=dev;SharedAccessKey=cGFzc3dvcmQ=", A))).toBe(OK);
    expect(view(csResult() + <usize>CS_DEVICE)).toBe("dev");
    expect(load<i32>(csResult() + <usize>CS_KEY_LEN)).toBe(8);
    expect(str(keyBuffer(), 8)).toBe("password");
  });
  it("gives coded errors", () => {
    expect(parseConnectionString(A, put("HostName=h;HostName=h;DeviceId=d;x509=true", A))).toBe(S.E_IOTHUB_CS_DUPLICATE_KEY);
    expect(parseConnectionString(A, put("DeviceId=d;x509=true", A))).toBe(S.E_IOTHUB_CS_MISSING_HOSTNAME);
    expect(parseConnectionString(A, put("HostName=h;DeviceId=;x509=true", A))).toBe(S.E_IOTHUB_CS_EMPTY_VALUE);
    expect(parseConnectionString(A, put("HostName=h;DeviceId=d;SharedAccessKey=!!!!", A))).toBe(S.E_IOTHUB_CS_BAD_KEY);
    expect(parseConnectionString(A, put("HostName=h;DeviceId=d", A))).toBe(S.E_IOTHUB_CS_MISSING_CREDENTIAL);
  });
});

describe("sas", () => {
  it("signs the Node SDK vector", () => {
    const k = decodeKey(B, put("cGFzc3dvcmQ=", B));
    expect(k).toBe(8);
    const n = sasToken(A, put("uri", A), keyBuffer(), k, 0, 0, 12345, OUT, 512);
    expect(str(OUT, n)).toBe("SharedAccessSignature sr=uri&sig=kcWxXAK2OAaAoq2oCkaGzX2NMqDB8nCyNuq2fPYCDhk%3D&se=12345");
  });
  it("writes device, DPS and derived keys", () => {
    const k = decodeKey(B, put("cGFzc3dvcmQ=", B));
    const n = sasDevicePassword(A, put("myiothub.azure-devices.net", A), C, put("my_device", C), 0, 0, keyBuffer(), k, 0, 0, 1578941692, OUT, 512);
    expect(str(OUT, n)).toBe("SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device&sig=DTUpME%2Fc%2BX9Cvy%2B3r0ZNtHukhBGykBpAx8L30%2BISNuY%3D&se=1578941692");
    const d = dpsSasToken(A, put("0ne1", A), C, put("reg", C), keyBuffer(), k, 7, OUT, 512);
    expect(str(OUT, d).endsWith("&se=7&skn=registration")).toBe(true);
    const g = decodeKey(B, put("8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw==", B));
    expect(g).toBe(64);
    const r = dpsDeriveKey(keyBuffer(), g, C, put("sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6", C), OUT, 64);
    expect(str(OUT, r)).toBe("Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=");
    expect(sasToken(A, 3, keyBuffer(), 0, 0, 0, 1, OUT, 512)).toBe(S.E_IOTHUB_KEY_EMPTY);
  });
});

describe("identity and topics", () => {
  it("writes client id, username and DPS username", () => {
    const h = put("h.net", A), d = put("dev", B), m = put("mod", C);
    expect(str(OUT, clientId(B, d, C, m, OUT, 64))).toBe("dev/mod");
    const t = put("a b", D);
    expect(str(OUT, username(A, h, B, d, 0, 0, 0, 0, D, t, OUT, 256))).toBe("h.net/dev/?api-version=2021-04-12&DeviceClientType=a%20b");
    expect(str(OUT, dpsUsername(A, h, B, d, OUT, 256))).toBe("h.net/registrations/dev/api-version=2019-03-31");
    expect(checkId(B, put("a+b", B), true)).toBe(S.E_IOTHUB_ID_NOT_TOPIC_SAFE);
    expect(checkId(B, put("a+b", B), false)).toBe(OK);
  });
  it("writes telemetry with a bag, subscriptions, twin, method and DPS topics", () => {
    let n = bagAppendSystem(A, 0, 256, SYS_MESSAGE_ID, B, put("msg-1", B));
    n = bagAppend(A, n, 256, B, put("k ü", B), C, put("v&", C));
    n = bagAppend(A, n, 256, B, put("flag", B), 0, -1);
    expect(str(A, n)).toBe("%24.mid=msg-1&k%20%C3%BC=v%26&flag");
    expect(str(OUT, telemetryTopic(B, put("devA", B), 0, 0, A, n, OUT, 256))).toBe("devices/devA/messages/events/%24.mid=msg-1&k%20%C3%BC=v%26&flag");
    expect(str(OUT, subscribeTopic(SUB_C2D, B, put("devA", B), OUT, 256))).toBe("devices/devA/messages/devicebound/#");
    expect(str(OUT, twinGetTopic(B, put("7", B), OUT, 256))).toBe("$iothub/twin/GET/?$rid=7");
    expect(str(OUT, methodResponseTopic(404, B, put("1a", B), OUT, 256))).toBe("$iothub/methods/res/404/?$rid=1a");
    expect(str(OUT, dpsPollTopic(B, 1, C, put("4.x", C), OUT, 256))).toBe("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=1&operationId=4.x");
    expect(twinGetTopic(B, put("a&b", B), OUT, 256)).toBe(S.E_IOTHUB_BAD_REQUEST_ID);
  });
});

describe("parsers", () => {
  it("classifies and parses each kind", () => {
    expect(classifyTopic(A, put("devices/d/messages/devicebound/%24.to=%2Fx&flag", A), RES)).toBe(TOPIC_C2D);
    bagIterBegin(IT, <usize>load<i32>(RES + 40), load<i32>(RES + 44));
    expect(bagIterNext(IT)).toBe(1);
    expect(load<i32>(IT + 28)).toBe(SYS_TO);
    expect(bagIterNext(IT)).toBe(1);
    expect(load<i32>(IT + 24)).toBe(-1);
    expect(bagIterNext(IT)).toBe(0);
    expect(classifyTopic(A, put("$iothub/twin/res/204/?$rid=1&$version=5", A), RES)).toBe(TOPIC_TWIN_RESPONSE);
    expect(load<i64>(RES + 24)).toBe(5);
    expect(classifyTopic(A, put("$iothub/methods/POST/reboot/?$rid=9", A), RES)).toBe(TOPIC_METHOD_REQUEST);
    expect(view(RES + 32)).toBe("reboot");
    expect(classifyTopic(A, put("$dps/registrations/res/202/?retry-after=3&$rid=1", A), RES)).toBe(TOPIC_DPS_RESPONSE);
    expect(load<i32>(RES + 48)).toBe(3);
    expect(classifyTopic(A, put("devices/d/messages/events/", A), RES)).toBe(TOPIC_OTHER);
    expect(parseTwinTopic(A, put("$iothub/twin/res/200", A), RES)).toBe(S.E_IOTHUB_TOPIC_MALFORMED);
  });
});

describe("retry", () => {
  it("follows azure-sdk-for-c's formula", () => {
    expect(retryDelay(5, 1, 500, 100000, 1234)).toBe(2229);
    expect(retryDelay(5, 5, 500, 10000, 4321)).toBe(9995);
    expect(retryDelay(0, 32766, 2147483646, 2147483646, 2147483646)).toBe(2147483646);
    expect(statusRetriable(503)).toBe(true);
    expect(statusRetriable(404)).toBe(false);
  });
});
