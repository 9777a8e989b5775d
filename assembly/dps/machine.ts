// The provisioning state machine (sans-IO), over the same board contract as the device client: the board opens
// and closes the transport when asked (dps_wants), writes what dps_tx holds, feeds received bytes to the rx
// window, and polls for events and the next time-out. The states and their transitions are a table
// (transitions.ts, applied by go()); this file is what happens on each one:
//
//   CONNECT    client id {registrationId}, username {idScope}/registrations/{registrationId}/api-version=2019-03-31,
//              password a SAS token for {idScope}/registrations/{registrationId} with skn=registration (none with X.509)
//   SUBSCRIBE  $dps/registrations/res/#
//   register   $dps/registrations/PUT/iotdps-register/?$rid={rid}  {"registrationId":…[,"payload":…]}
//   poll       $dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={op}, after retry-after
//   answers    $dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}] with a JSON body read by json.ts
//
// 429 and 5xx answers are sent again after their retry-after (DPS_OPT_RETRIES times); a lost transport, a
// connect time-out or CONNACK 3 reconnects after a back-off (polling the operation already started, if any);
// everything ends within DPS_OPT_REGISTRATION_TIMEOUT_MS.
import { OK, E_BAD_ARGUMENT, E_BAD_STATE, E_BUFFER_TOO_SMALL } from "../status";
import { Packet, clearPacket, PACKET_SIZE, CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT } from "../mqtt/packet";
import { encodePacket } from "../mqtt/encoder";
import { decodeNext, rxReset, rxSkipOversized } from "../mqtt/stream";
import { E_MQTT_PACKET_TOO_LARGE } from "../mqtt/status";
import { dpsUsername } from "../iothub/identity";
import { dpsSasToken } from "../iothub/sas";
import { subscribeTopic, dpsRegisterTopic, dpsPollTopic, dpsRegisterPayload, SUB_DPS } from "../iothub/topics";
import { parseDpsTopic, number as parseDecimal, TopicResult, TOPIC_RESULT_SIZE, TOPIC_DPS_RESPONSE } from "../iothub/parsers";
import { retryDelay, jitterFrom } from "../iothub/retry";
import { writeDecimal, wBegin, wLit, wBytes, wDone } from "../iothub/writer";
import { base64Encode } from "../crypto/base64";
import { S } from "../client/state";
import { transportWanted as clientBusy } from "../client/transitions";
import { WANT_NOTHING, WANT_OPEN, WANT_CLOSE } from "../client/states";
import * as C from "./config";
import * as St from "./status";
import { D, advance, elapsed, random, unixNowMs } from "./state";
import {
  DPS_STATE_IDLE, DPS_STATE_OPENING, DPS_STATE_CONNECTING, DPS_STATE_SUBSCRIBING, DPS_STATE_REQUESTING,
  DPS_STATE_WAITING, DPS_STATE_CLOSING, DPS_STATE_BACKOFF, DPS_STATE_DONE,
} from "./states";
import {
  go, nextState, inSession, transportWanted, IN_START, IN_TRANSPORT_UP, IN_SUBSCRIBING, IN_REQUEST, IN_WAIT,
  IN_DROP, IN_TRANSPORT_LOST, IN_CLOSED_RETRY, IN_CLOSED_DONE, IN_STOP, IN_RETRY_DUE, IN_RESET,
} from "./transitions";
import { DPS_EV_NONE, DPS_EV_ASSIGNING, DPS_EV_RETRY, DPS_EV_ASSIGNED, DPS_EV_FAILED, ev, setEvent, raise, takeRaised } from "./events";
import { jsonMember, foundStart, foundLen, plainString, smallInt } from "./json";

// The transmit buffer holds at most CONNECT, SUBSCRIBE, one request and a DISCONNECT at once.
const TX_CAP: i32 = C.DPS_PAYLOAD_CAPACITY + 1536;
const TX: usize = memory.data(TX_CAP, 16);
const ENC: usize = memory.data(PACKET_SIZE, 16);
const PKT: usize = memory.data(PACKET_SIZE, 16);
const TOPIC_RES: usize = memory.data(TOPIC_RESULT_SIZE, 16);
const USER: usize = memory.data(320, 16);
const PASS: usize = memory.data(640, 16);
const TOPIC_CAP: i32 = 512;
const TOPIC: usize = memory.data(TOPIC_CAP, 16);
const BODY_CAP: i32 = C.DPS_PAYLOAD_CAPACITY + 192;
const BODY: usize = memory.data(BODY_CAP, 16);
const SUB: usize = memory.data(32, 16);
const RID: usize = memory.data(16, 16);
const KEY64: usize = memory.data(88, 16);
const MQTT_NAME = memory.data<u8>([0x4D, 0x51, 0x54, 0x54]);

// @ts-ignore: decorator
@inline function enc(): Packet { return changetype<Packet>(ENC); }
// @ts-ignore: decorator
@inline function topic(): TopicResult { return changetype<TopicResult>(TOPIC_RES); }

// ---- accessors ---------------------------------------------------------------------------------------------------
export function dpsState(): i32 { return D().state; }
export function result(): i32 { return D().state == DPS_STATE_DONE ? D().result : E_BAD_STATE; }
export function wants(): i32 {
  if (D().state == DPS_STATE_OPENING) return WANT_OPEN;
  if (D().state == DPS_STATE_CLOSING) return WANT_CLOSE;
  return WANT_NOTHING;
}

// ---- the transmit buffer -------------------------------------------------------------------------------------------
export function txPtr(): usize { return TX; }
export function txLen(): i32 { return D().outLen; }
export function txConsumed(n: i32): i32 {
  const d = D();
  if (n < 0 || n > d.outLen) return E_BAD_ARGUMENT;
  for (let i: i32 = 0; i < d.outLen - n; i++) store<u8>(TX + <usize>i, load<u8>(TX + <usize>(i + n)));
  d.outLen -= n;
  return d.outLen;
}
function emit(): bool {
  const d = D();
  const n = encodePacket(enc(), TX + <usize>d.outLen, TX_CAP - d.outLen);
  if (n < 0) return false;
  d.outLen += n;
  d.lastTxAt = d.now;
  return true;
}
function control(type: u32, id: u32): bool {
  clearPacket(enc());
  enc().type = type;
  enc().messageId = id;
  return emit();
}

// ---- connecting ------------------------------------------------------------------------------------------------------
function buildConnect(): i32 {
  const d = D();
  const scope = C.fieldPtr(C.F_SCOPE), scopeLen = C.fieldLen(C.F_SCOPE);
  const reg = C.fieldPtr(C.F_REG), regLen = C.fieldLen(C.F_REG);
  const userLen = dpsUsername(scope, scopeLen, reg, regLen, USER, 320);
  if (userLen < 0) return userLen;
  let passLen: i32 = 0;
  if (!d.x509) {
    if (!d.timeSet) return St.E_DPS_TIME_NOT_SET;
    const expiry = unixNowMs() / 1000 + <u64>d.tokenLifetimeS;
    passLen = dpsSasToken(scope, scopeLen, reg, regLen, C.keyPtr(), d.keyLen, expiry, PASS, 640);
    if (passLen < 0) return passLen;
  }
  const p = enc();
  clearPacket(p);
  p.type = CONNECT;
  p.protocolPtr = MQTT_NAME;
  p.protocolLen = 4;
  p.protocolLevel = 4;
  p.clean = 1; // a registration needs no session
  p.keepalive = <u32>d.keepaliveS;
  p.clientIdPtr = reg;
  p.clientIdLen = <u32>regLen;
  p.hasUsername = 1;
  p.usernamePtr = USER;
  p.usernameLen = <u32>userLen;
  if (!d.x509) {
    p.hasPassword = 1;
    p.passwordPtr = PASS;
    p.passwordLen = <u32>passLen;
  }
  d.outLen = 0;
  return emit() ? OK : E_BUFFER_TOO_SMALL;
}

function sendSubscribe(): bool {
  const d = D();
  const n = subscribeTopic(SUB_DPS, 0, 0, SUB + 2, 28);
  store<u8>(SUB, <u8>(n >> 8));
  store<u8>(SUB + 1, <u8>n);
  store<u8>(SUB + <usize>(2 + n), 1);
  d.subscribeId = d.nextPacketId;
  d.nextPacketId = d.nextPacketId >= 65535 ? 1 : d.nextPacketId + 1;
  const p = enc();
  clearPacket(p);
  p.type = SUBSCRIBE;
  p.messageId = d.subscribeId;
  p.listPtr = SUB;
  p.listLen = <u32>(n + 3);
  return emit();
}

/** The register request, or the operation-status poll once an operation id is known, with a new $rid. */
function sendRequest(): i32 {
  const d = D();
  d.rid = d.rid >= 0x7FFFFFFF ? 1 : d.rid + 1;
  const ridLen = writeDecimal(<u64>d.rid, RID, 16);
  let topicLen: i32, bodyLen: i32 = 0;
  if (d.hasOperation) {
    topicLen = dpsPollTopic(RID, ridLen, C.fieldPtr(C.F_OPERATION), C.fieldLen(C.F_OPERATION), TOPIC, TOPIC_CAP);
  } else {
    topicLen = dpsRegisterTopic(RID, ridLen, TOPIC, TOPIC_CAP);
    bodyLen = dpsRegisterPayload(C.fieldPtr(C.F_REG), C.fieldLen(C.F_REG), C.payloadPtr(), d.payloadLen, BODY, BODY_CAP);
  }
  if (topicLen < 0) return topicLen;
  if (bodyLen < 0) return bodyLen;
  const p = enc();
  clearPacket(p);
  p.type = PUBLISH;
  p.qos = 0;
  p.topicPtr = TOPIC;
  p.topicLen = <u32>topicLen;
  p.payloadPtr = BODY;
  p.payloadLen = <u32>bodyLen;
  if (!emit()) return E_BUFFER_TOO_SMALL;
  d.requestSentAt = d.now;
  go(IN_REQUEST);
  return OK;
}

// ---- ending a connection, or the registration ----------------------------------------------------------------------
/** The registration is over with `status` (OK = assigned): close the transport if there is one. */
function finish(status: i32): void {
  const d = D();
  d.result = status;
  d.retryAfterClose = 0;
  if (transportWanted(d.state)) {
    if (inSession(d.state) && d.state != DPS_STATE_CONNECTING) control(DISCONNECT, 0); // not after a refused CONNACK
    go(IN_DROP);
  } else {
    go(IN_STOP); // IDLE / BACKOFF → DONE; CLOSING stays until the transport is down
  }
}

/** The delay before the next connection attempt (back-off with jitter), counted as an attempt. */
function backoff(): i32 {
  const d = D();
  const delay = retryDelay(0, d.attempt < 30 ? d.attempt : 30, d.retryMinMs, d.retryMaxMs, jitterFrom(random(), d.retryJitterMs));
  d.attempt++;
  return delay;
}

/** This connection is lost for a `cause` that another attempt may cure: reconnect after the back-off. */
function transient(cause: i32, input: i32): void {
  const d = D();
  d.lastCause = cause;
  d.reconnectDelay = backoff();
  d.retryAfterClose = 1;
  raise(DPS_EV_RETRY, cause, d.reconnectDelay, 0);
  go(input);
}

/** Ends the registration with a refusal read from the event record's views (set by the caller). */
function refuse(status: i32, serviceStatus: i32): u32 {
  finish(status);
  setEvent(DPS_EV_FAILED, status, serviceStatus);
  return DPS_EV_FAILED;
}

export function transportUp(nowMs: u32): i32 {
  advance(nowMs);
  const d = D();
  if (nextState(d.state, IN_TRANSPORT_UP) < 0) return E_BAD_STATE;
  rxReset();
  rxSkipOversized(false); // an answer too large is a final refusal, not something to skip
  const r = buildConnect();
  if (r != OK) {
    finish(r);
    raise(DPS_EV_FAILED, r, -1, 0);
    return r;
  }
  go(IN_TRANSPORT_UP);
  d.transportUpAt = d.now;
  return OK;
}

export function transportDown(nowMs: u32): void {
  advance(nowMs);
  const d = D();
  if (transportWanted(d.state)) transient(St.E_DPS_TRANSPORT_CLOSED, IN_TRANSPORT_LOST);
  if (d.state == DPS_STATE_CLOSING) {
    if (d.retryAfterClose) {
      go(IN_CLOSED_RETRY);
      d.reconnectAt = d.now + <u32>d.reconnectDelay;
    } else {
      go(IN_CLOSED_DONE);
    }
  }
  rxReset();
  d.outLen = 0;
}

export function start(nowMs: u32): i32 {
  advance(nowMs);
  const d = D();
  if (!d.configured || (!d.x509 && d.keyLen == 0)) return St.E_DPS_NOT_CONFIGURED;
  if (!d.x509 && !d.timeSet) return St.E_DPS_TIME_NOT_SET;
  if (clientBusy(S().state)) return St.E_DPS_BUSY;
  if (d.state != DPS_STATE_IDLE && d.state != DPS_STATE_DONE) return OK; // already registering
  d.attempt = 0;
  d.resends = 0;
  d.hasOperation = 0;
  d.lastCause = OK;
  d.result = E_BAD_STATE;
  d.startedAt = d.now;
  d.ringHead = 0;
  d.ringCount = 0;
  C.setField(C.F_HUB, 0, 0);
  C.setField(C.F_DEVICE, 0, 0);
  go(IN_START);
  return OK;
}

/** Ends the registration (DPS_CLOSED) unless it is already over. */
export function stop(nowMs: u32): void {
  advance(nowMs);
  const d = D();
  if (d.state == DPS_STATE_DONE || (d.state == DPS_STATE_CLOSING && !d.retryAfterClose)) return;
  finish(St.E_DPS_CLOSED);
  raise(DPS_EV_FAILED, St.E_DPS_CLOSED, -1, 0);
}

export function reset(): void {
  go(IN_RESET);
  rxReset();
}

// ---- answers ---------------------------------------------------------------------------------------------------------
/** ms to wait before the next request: retry-after (s) if the service gave one, else the default; clamped. */
function waitFor(retryAfterS: i32): i32 {
  const d = D();
  let ms = retryAfterS >= 0 ? (retryAfterS > RETRY_AFTER_LIMIT_S ? 0x7FFFFFFF : retryAfterS * 1000) : d.retryAfterDefaultMs;
  if (ms < d.retryAfterMinMs) ms = d.retryAfterMinMs;
  if (ms > d.retryAfterMaxMs) ms = d.retryAfterMaxMs;
  return ms;
}
const RETRY_AFTER_LIMIT_S: i32 = 2000000;

/** A string member of the object [p, p+len) without escapes: 1 with the view in OUT_PTR/OUT_LEN, 0 if absent/other. */
let memberPtr: usize = 0;
let memberLen: i32 = 0;
function stringMember(p: usize, len: i32, key: string): bool {
  if (jsonMember(p, len, key) != 1) return false;
  const v = p + <usize>foundStart(), n = foundLen();
  if (!plainString(v, n)) return false;
  memberPtr = v + 1;
  memberLen = n - 2;
  return true;
}
/** Any member: 1 with its raw value in memberPtr/memberLen. */
function rawMember(p: usize, len: i32, key: string): bool {
  if (jsonMember(p, len, key) != 1) return false;
  memberPtr = p + <usize>foundStart();
  memberLen = foundLen();
  return true;
}
function sameAs(p: usize, n: i32, s: string): bool {
  if (n != s.length) return false;
  const q = changetype<usize>(s);
  for (let i: i32 = 0; i < n; i++) if (<u32>load<u8>(p + <usize>i) != <u32>load<u16>(q + (<usize>i << 1))) return false;
  return true;
}

/** The body's own views on the event: body, operationId, and why (errorCode, message), from the top or registrationState. */
function describeBody(body: usize, len: i32): void {
  const e = ev();
  e.bodyPtr = <u32>body;
  e.bodyLen = len;
  if (stringMember(body, len, "operationId")) { e.operationPtr = <u32>memberPtr; e.operationLen = memberLen; }
  if (rawMember(body, len, "errorCode")) e.errorCode = smallInt(memberPtr, memberLen);
  if (stringMember(body, len, "message")) { e.messagePtr = <u32>memberPtr; e.messageLen = memberLen; }
  if (rawMember(body, len, "registrationState")) {
    const rs = memberPtr, rsLen = memberLen;
    if (e.errorCode == 0 && rawMember(rs, rsLen, "errorCode")) e.errorCode = smallInt(memberPtr, memberLen);
    if (e.messageLen == 0 && stringMember(rs, rsLen, "errorMessage")) { e.messagePtr = <u32>memberPtr; e.messageLen = memberLen; }
    if (rawMember(rs, rsLen, "payload")) { e.payloadPtr = <u32>memberPtr; e.payloadLen = memberLen; }
  }
}

function handleAnswer(p: Packet): u32 {
  const d = D();
  if (parseDpsTopic(p.topicPtr, <i32>p.topicLen, TOPIC_RES) != TOPIC_DPS_RESPONSE) return DPS_EV_NONE;
  if (d.state != DPS_STATE_REQUESTING) return DPS_EV_NONE;
  if (parseDecimal(<usize>topic().ridPtr, topic().ridLen) != <i64>d.rid) return DPS_EV_NONE; // an older request's answer
  const status = topic().status;
  const body = p.payloadPtr, len = <i32>p.payloadLen;
  if (status == 429 || (status >= 500 && status <= 599)) {
    const cause = status == 429 ? St.E_DPS_THROTTLED : St.E_DPS_SERVER_ERROR;
    if (d.resends >= d.retries) { const t = refuse(cause, status); describeBody(body, len); return t; }
    d.resends++;
    d.lastCause = cause;
    const delay = waitFor(topic().retryAfterS);
    d.sendAt = d.now + <u32>delay;
    go(IN_WAIT);
    setEvent(DPS_EV_RETRY, cause, status);
    describeBody(body, len);
    ev().retryAfterMs = delay;
    return DPS_EV_RETRY;
  }
  if (status < 200 || status >= 300) {
    const t = refuse(status == 401 ? St.E_DPS_UNAUTHORIZED : status == 404 ? St.E_DPS_NOT_FOUND : St.E_DPS_REFUSED, status);
    describeBody(body, len);
    return t;
  }
  if (!stringMember(body, len, "status")) return badAnswer(status, body, len);
  const sPtr = memberPtr, sLen = memberLen;
  if (sameAs(sPtr, sLen, "assigning") || sameAs(sPtr, sLen, "unassigned")) {
    if (!stringMember(body, len, "operationId") || memberLen == 0 || C.setField(C.F_OPERATION, memberPtr, memberLen) != OK) {
      return badAnswer(status, body, len);
    }
    d.hasOperation = 1;
    const delay = waitFor(topic().retryAfterS);
    d.sendAt = d.now + <u32>delay;
    go(IN_WAIT);
    setEvent(DPS_EV_ASSIGNING, OK, status);
    describeBody(body, len);
    ev().retryAfterMs = delay;
    return DPS_EV_ASSIGNING;
  }
  if (sameAs(sPtr, sLen, "assigned")) {
    if (!rawMember(body, len, "registrationState")) return badAnswer(status, body, len);
    const rs = memberPtr, rsLen = memberLen;
    if (!stringMember(rs, rsLen, "assignedHub") || memberLen == 0 || C.setField(C.F_HUB, memberPtr, memberLen) != OK) return badAnswer(status, body, len);
    if (!stringMember(rs, rsLen, "deviceId") || memberLen == 0 || C.setField(C.F_DEVICE, memberPtr, memberLen) != OK) return badAnswer(status, body, len);
    finish(OK);
    setEvent(DPS_EV_ASSIGNED, OK, status);
    describeBody(body, len);
    const e = ev();
    e.hubPtr = <u32>C.fieldPtr(C.F_HUB);
    e.hubLen = C.fieldLen(C.F_HUB);
    e.devicePtr = <u32>C.fieldPtr(C.F_DEVICE);
    e.deviceLen = C.fieldLen(C.F_DEVICE);
    return DPS_EV_ASSIGNED;
  }
  if (sameAs(sPtr, sLen, "failed")) { const t = refuse(St.E_DPS_FAILED, status); describeBody(body, len); return t; }
  if (sameAs(sPtr, sLen, "disabled")) { const t = refuse(St.E_DPS_DISABLED, status); describeBody(body, len); return t; }
  return badAnswer(status, body, len);
}

function badAnswer(status: i32, body: usize, len: i32): u32 {
  const t = refuse(St.E_DPS_BAD_ANSWER, status);
  ev().bodyPtr = <u32>body;
  ev().bodyLen = len;
  return t;
}

function handlePacket(type: i32): u32 {
  const d = D();
  const p = changetype<Packet>(PKT);
  switch (<u32>type) {
    case CONNACK: {
      if (d.state != DPS_STATE_CONNECTING) break;
      const rc = p.returnCode;
      if (rc == 0) {
        if (!sendSubscribe()) break;
        go(IN_SUBSCRIBING);
        return DPS_EV_NONE;
      }
      if (rc == 3) { transient(St.E_DPS_SERVER_UNAVAILABLE, IN_DROP); return takeRaised(); }
      const t = refuse(rc == 4 || rc == 5 ? St.E_DPS_UNAUTHORIZED : St.E_DPS_REFUSED, 0);
      ev().errorCode = <i32>rc;
      return t;
    }
    case SUBACK: {
      if (d.state != DPS_STATE_SUBSCRIBING || p.messageId != d.subscribeId) return DPS_EV_NONE;
      if (p.listLen < 1 || load<u8>(p.listPtr) == 0x80) return refuse(St.E_DPS_REFUSED, 0);
      const r = sendRequest();
      if (r != OK) { finish(r); setEvent(DPS_EV_FAILED, r, 0); return DPS_EV_FAILED; }
      return DPS_EV_NONE;
    }
    case PUBLISH: {
      if (p.qos > 0) control(PUBACK, p.messageId);
      return handleAnswer(p);
    }
    case PUBACK: case PINGRESP: return DPS_EV_NONE;
  }
  transient(St.E_DPS_UNEXPECTED_PACKET, IN_DROP);
  return takeRaised();
}

// ---- time ------------------------------------------------------------------------------------------------------------
/** Registering, not yet finished (a final outcome may still be closing its transport). */
// @ts-ignore: decorator
@inline function active(): bool { const s = D().state; return s != DPS_STATE_IDLE && s != DPS_STATE_DONE && D().result == E_BAD_STATE; }

function timers(): void {
  const d = D();
  if (!active()) return;
  if (elapsed(d.startedAt) >= d.registrationTimeoutMs) {
    finish(St.E_DPS_TIMEOUT);
    raise(DPS_EV_FAILED, St.E_DPS_TIMEOUT, -1, d.lastCause);
    return;
  }
  const s = d.state;
  if (s == DPS_STATE_CONNECTING || s == DPS_STATE_SUBSCRIBING) {
    if (elapsed(d.transportUpAt) >= d.connectTimeoutMs) transient(St.E_DPS_CONNECT_TIMEOUT, IN_DROP);
  } else if (s == DPS_STATE_REQUESTING) {
    if (elapsed(d.requestSentAt) >= d.requestTimeoutMs) {
      d.lastCause = St.E_DPS_REQUEST_TIMEOUT;
      raise(DPS_EV_RETRY, St.E_DPS_REQUEST_TIMEOUT, 0, 0);
      const r = sendRequest();
      if (r != OK) { finish(r); raise(DPS_EV_FAILED, r, -1, 0); }
    }
  } else if (s == DPS_STATE_WAITING) {
    if (<i32>(d.now - d.sendAt) >= 0) {
      const r = sendRequest();
      if (r != OK) { finish(r); raise(DPS_EV_FAILED, r, -1, 0); }
    }
  } else if (s == DPS_STATE_BACKOFF) {
    if (<i32>(d.now - d.reconnectAt) >= 0) go(IN_RETRY_DUE);
  }
  if (inSession(d.state) && d.keepaliveS > 0 && elapsed(d.lastTxAt) >= d.keepaliveS * 1000) control(PINGREQ, 0);
}

/** Milliseconds until dps_poll has something time-driven to do, or -1 when only I/O (or nothing) can wake it. */
export function nextTimeout(): i32 {
  const d = D();
  if (!active()) return -1;
  let best = d.registrationTimeoutMs - elapsed(d.startedAt);
  const s = d.state;
  if (s == DPS_STATE_CONNECTING || s == DPS_STATE_SUBSCRIBING) best = min(best, d.connectTimeoutMs - elapsed(d.transportUpAt));
  else if (s == DPS_STATE_REQUESTING) best = min(best, d.requestTimeoutMs - elapsed(d.requestSentAt));
  else if (s == DPS_STATE_WAITING) best = min(best, <i32>(d.sendAt - d.now));
  else if (s == DPS_STATE_BACKOFF) best = min(best, <i32>(d.reconnectAt - d.now));
  if (inSession(s) && d.keepaliveS > 0) best = min(best, d.keepaliveS * 1000 - elapsed(d.lastTxAt));
  return best < 0 ? 0 : best;
}

// ---- the event pump --------------------------------------------------------------------------------------------------
export function poll(nowMs: u32): u32 {
  advance(nowMs);
  const d = D();
  let t = takeRaised();
  if (t != DPS_EV_NONE) return t;
  if (inSession(d.state)) {
    for (;;) {
      const type = decodeNext(changetype<Packet>(PKT));
      if (type == 0) break;
      if (type < 0) {
        if (type == E_MQTT_PACKET_TOO_LARGE) return refuse(St.E_DPS_ANSWER_TOO_LARGE, 0);
        transient(St.E_DPS_UNEXPECTED_PACKET, IN_DROP);
        return takeRaised();
      }
      t = handlePacket(type);
      if (t != DPS_EV_NONE) return t;
      if (!inSession(d.state)) break;
    }
  }
  timers();
  return takeRaised();
}

// ---- the assignment ----------------------------------------------------------------------------------------------------
/**
 * The device's connection string for its assigned hub: `HostName={assignedHub};DeviceId={deviceId};` and
 * `SharedAccessKey={the device key}` (the individual key, or the one derived from the group key) or `x509=true`.
 * Its length, E_BAD_STATE before an assignment (from DPS_EV_ASSIGNED on), or E_BUFFER_TOO_SMALL.
 */
export function connectionString(out: usize, cap: i32): i32 {
  const d = D();
  if (d.result != OK) return E_BAD_STATE;
  let keyLen: i32 = 0;
  if (!d.x509) keyLen = base64Encode(C.keyPtr(), d.keyLen, KEY64, 88);
  wBegin(out, cap);
  wLit("HostName=");
  wBytes(C.fieldPtr(C.F_HUB), C.fieldLen(C.F_HUB));
  wLit(";DeviceId=");
  wBytes(C.fieldPtr(C.F_DEVICE), C.fieldLen(C.F_DEVICE));
  if (d.x509) wLit(";x509=true");
  else { wLit(";SharedAccessKey="); wBytes(KEY64, keyLen); }
  return wDone();
}
