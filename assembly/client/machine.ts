// The device state machine (sans-IO). The host moves bytes and time; this decides everything else:
//
//   IDLE ─start→ OPENING ─transport up→ CONNECTING ─CONNACK→ SUBSCRIBING ─SUBACK→ READY
//     READY ─drop / ping timeout / renewal→ CLOSING ─transport down→ BACKOFF ─delay→ OPENING …
//     any ─stop, or a refusal that retrying cannot fix→ CLOSING → STOPPED
//
// The host learns what to do with client_wants() (open or close the transport), client_tx_* (bytes to write),
// client_poll() (one event at a time) and client_next_timeout() (when to poll again).
import { OK, E_BAD_ARGUMENT, E_BAD_STATE } from "../status";
import { TX_CAPACITY, BAG_CAPACITY } from "../profile";
import {
  Packet, clearPacket, PACKET_SIZE, CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT,
} from "../mqtt/packet";
import { encodePacket, packetSize } from "../mqtt/encoder";
import { decodeNext, rxReset, rxSkipOversized, OVERSIZED_PUBLISH } from "../mqtt/stream";
import { E_MQTT_PACKET_TOO_LARGE } from "../mqtt/status";
import { clientId, username } from "../iothub/identity";
import { sasDevicePassword } from "../iothub/sas";
import { subscribeTopic, telemetryTopic, twinGetTopic, twinPatchTopic, methodResponseTopic, SUB_C2D, SUB_METHODS, SUB_TWIN_RESPONSE, SUB_TWIN_DESIRED } from "../iothub/topics";
import { number as parseDecimal, classifyTopic, TOPIC_RESULT_SIZE, TopicResult, TOPIC_C2D, TOPIC_TWIN_RESPONSE, TOPIC_TWIN_DESIRED, TOPIC_METHOD_REQUEST } from "../iothub/parsers";
import { bagAppend, bagAppendSystem } from "../iothub/property-bag";
import { retryDelay, jitterFrom } from "../iothub/retry";
import { writeDecimal } from "../iothub/writer";
import { E_BUFFER_TOO_SMALL } from "../status";
import * as C from "./config";
import * as St from "./status";
import * as Ob from "./outbox";
import * as Rq from "./requests";
import { put32, put64, putBytes, get32, get64, getBytes } from "../snapshot";
import {
  EV_NONE, EV_CONNECTED, EV_DISCONNECTED, EV_TELEMETRY_ACKED, EV_TELEMETRY_FAILED, EV_C2D, EV_METHOD, EV_TWIN_RESPONSE,
  EV_DESIRED, EV_ERROR, setEvent, setView, setVersion, setExtra, raise, takeRaised, clearRaised,
} from "./events";

/** not started (after client_init or client_reset) */
export const STATE_IDLE: i32 = 0;
/** waiting for the board to open the transport (client_wants() = WANT_OPEN) */
export const STATE_OPENING: i32 = 1;
/** CONNECT sent, waiting for CONNACK */
export const STATE_CONNECTING: i32 = 2;
/** SUBSCRIBE sent, waiting for SUBACK */
export const STATE_SUBSCRIBING: i32 = 3;
/** connected and subscribed */
export const STATE_READY: i32 = 4;
/** waiting for the board to close the transport (client_wants() = WANT_CLOSE) */
export const STATE_CLOSING: i32 = 5;
/** waiting out the back-off delay before the next attempt */
export const STATE_BACKOFF: i32 = 6;
/** closed for good (client_stop, or a refusal that retrying cannot fix) */
export const STATE_STOPPED: i32 = 7;

/** nothing to do */
export const WANT_NOTHING: i32 = 0;
/** open the transport, then call client_transport_up */
export const WANT_OPEN: i32 = 1;
/** write what client_tx holds, close the transport, then call client_transport_down */
export const WANT_CLOSE: i32 = 2;

/** IoT Hub's limits (its documented quotas: 256 KiB device-to-cloud, 128 KiB method response). */
const MAX_D2C_BYTES: i32 = 262144;
const MAX_METHOD_RESPONSE_BYTES: i32 = 131072;

// Outgoing bytes: data packets may fill TX_CAPACITY; control packets (PUBACK, PINGREQ, DISCONNECT) also use
// a small reserve so that a busy data stream never blocks them.
const OUT_RESERVE: i32 = 64;
const OUT: usize = memory.data(TX_CAPACITY + OUT_RESERVE, 16);
let outLen: i32 = 0;

const ENC: usize = memory.data(PACKET_SIZE, 16); // packets being encoded
const PKT: usize = memory.data(PACKET_SIZE, 16); // packet just decoded
const TOPIC_RES: usize = memory.data(TOPIC_RESULT_SIZE, 16);
const TOPIC_CAP: i32 = BAG_CAPACITY + 512;
const TOPIC: usize = memory.data(TOPIC_CAP, 16);
const BAG: usize = memory.data(BAG_CAPACITY, 16);
let bagLen: i32 = 0;
const ID_BUF: usize = memory.data(264, 16); // client id
const USER_BUF: usize = memory.data(1024, 16); // username
const PASS_BUF: usize = memory.data(1024, 16); // SAS token
const SUB_BUF: usize = memory.data(640, 16); // SUBSCRIBE list in wire form
const RID_BUF: usize = memory.data(16, 16);

let state: i32 = STATE_IDLE;
let afterClose: i32 = STATE_STOPPED;
let reconnectDelay: i32 = 0;
let reconnectAt: u32 = 0;
let attempt: i32 = 0;

let now: u32 = 0; // the board's monotonic milliseconds (wraps every 49.7 days: only differences are used)
let timeSet: bool = false;
let unixAtBase: u32 = 0; // Unix seconds at the anchor
let sinceAnchorMs: u64 = 0; // accumulated from `now` differences, so it never wraps
let rng: u32 = 0x9E3779B9;

let transportUpAt: u32 = 0;
let tokenIssuedAt: u32 = 0;
let tokenRenewAfterMs: i32 = 0x7FFFFFFF;
let readyAt: u32 = 0;
let stable: bool = false;
let lastTxAt: u32 = 0;
let pingOutstanding: bool = false;
let pingSentAt: u32 = 0;

let subscribedOnce: bool = false;
let subscribeId: u32 = 0;
let nextPacketId: u32 = 1;
let nextToken: u32 = 1;
let nextRid: u32 = 1;
let lastDesired: i64 = -1;


// PUBACKs for C2D that did not fit the transmit buffer yet.
const ACKS_SIZE: i32 = 32;
const ACKS: usize = memory.data(ACKS_SIZE * 4, 16);
let ackCount: i32 = 0;

// @ts-ignore: decorator
@inline function elapsed(since: u32): i32 { return <i32>(now - since); }
// @ts-ignore: decorator
@inline function enc(): Packet { return changetype<Packet>(ENC); }
// @ts-ignore: decorator
@inline function topic(): TopicResult { return changetype<TopicResult>(TOPIC_RES); }

function random(): u32 {
  let x = rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng = x;
  return x;
}

// ---- accessors for the ABI ----------------------------------------------------------------------------------
export function clientState(): i32 { return state; }
export function txPtr(): usize { return OUT; }
export function txLen(): i32 { return outLen; }
/** Moves the clock to the board's `ms`; time never runs backwards here. */
let clockStarted: bool = false;
function advance(ms: u32): void {
  if (!clockStarted) {
    clockStarted = true;
    now = ms;
    return;
  }
  const d = <i32>(ms - now);
  if (d > 0) {
    sinceAnchorMs += <u64>d;
    now = ms;
  }
}
export function seed(s: u32): void { rng = s != 0 ? s : 0x9E3779B9; }
/** `unixSeconds` began at the board's tick `nowMs` (hosts pass the tick of the second's start for precision). */
export function setTime(unixSeconds: u32, nowMs: u32): void {
  advance(nowMs);
  unixAtBase = unixSeconds;
  const fraction = <i32>(now - nowMs);
  sinceAnchorMs = fraction > 0 ? <u64>fraction : 0;
  timeSet = true;
}
function unixNowMs(): u64 { return <u64>unixAtBase * 1000 + sinceAnchorMs; }

export function wants(): i32 {
  if (state == STATE_OPENING) return WANT_OPEN;
  if (state == STATE_CLOSING) return WANT_CLOSE;
  return WANT_NOTHING;
}

/** The host wrote `n` bytes of client_tx to the transport. */
export function txConsumed(n: i32): i32 {
  if (n < 0 || n > outLen) return E_BAD_ARGUMENT;
  if (n < outLen) memory.copy(OUT, OUT + <usize>n, <usize>(outLen - n));
  outLen -= n;
  return outLen;
}

// ---- writing packets ------------------------------------------------------------------------------------------
/** Encodes ENC at the end of the transmit buffer within `limit` bytes in all; false when it does not fit. */
function emit(limit: i32): bool {
  const n = encodePacket(enc(), OUT + <usize>outLen, limit - outLen);
  if (n < 0) return false;
  outLen += n;
  lastTxAt = now;
  return true;
}

function emitControl(type: u32, id: u32): bool {
  clearPacket(enc());
  enc().type = type;
  enc().messageId = id;
  return emit(TX_CAPACITY + OUT_RESERVE);
}

function allocPacketId(): u32 {
  for (let tries = 0; tries < 65536; tries++) {
    const id = nextPacketId;
    nextPacketId = nextPacketId >= 65535 ? 1 : nextPacketId + 1;
    if (id != subscribeId && !Ob.packetIdInUse(id)) return id;
  }
  return 0;
}

// ---- connecting ---------------------------------------------------------------------------------------------
function buildConnect(): i32 {
  const host = C.fieldPtr(C.F_HOST), hostLen = C.fieldLen(C.F_HOST);
  const dev = C.fieldPtr(C.F_DEVICE), devLen = C.fieldLen(C.F_DEVICE);
  const mod = C.fieldPtr(C.F_MODULE), modLen = C.fieldLen(C.F_MODULE);
  const idLen = clientId(dev, devLen, mod, modLen, ID_BUF, 264);
  if (idLen < 0) return idLen;
  const userLen = username(host, hostLen, dev, devLen, mod, modLen, C.fieldPtr(C.F_MODEL_ID), C.fieldLen(C.F_MODEL_ID),
    C.fieldPtr(C.F_CLIENT_TYPE), C.fieldLen(C.F_CLIENT_TYPE), USER_BUF, 1024);
  if (userLen < 0) return userLen;
  let passLen: i32 = 0;
  if (!C.x509) {
    if (!timeSet) return St.E_CLIENT_TIME_NOT_SET;
    const nowUnixMs = unixNowMs();
    const expiry = nowUnixMs / 1000 + <u64>C.tokenLifetimeS;
    // Renew at 80 % of what the token really has left (the expiry is in whole seconds).
    const validMs = expiry * 1000 - nowUnixMs;
    tokenRenewAfterMs = validMs > 2000000000 ? 0x7FFFFFFF : <i32>(validMs * 4 / 5);
    passLen = sasDevicePassword(host, hostLen, dev, devLen, mod, modLen, C.keyPtr(), C.keyLen,
      C.fieldPtr(C.F_KEY_NAME), C.fieldLen(C.F_KEY_NAME), expiry, PASS_BUF, 1024);
    if (passLen < 0) return passLen;
  }
  const p = enc();
  clearPacket(p);
  p.type = CONNECT;
  p.protocolPtr = changetype<usize>(MQTT_NAME);
  p.protocolLen = 4;
  p.protocolLevel = 4;
  p.clean = 0; // IoT Hub keeps subscriptions and C2D for a persistent session
  p.keepalive = <u32>C.keepaliveS;
  p.clientIdPtr = ID_BUF;
  p.clientIdLen = <u32>idLen;
  p.hasUsername = 1;
  p.usernamePtr = USER_BUF;
  p.usernameLen = <u32>userLen;
  if (!C.x509) {
    p.hasPassword = 1;
    p.passwordPtr = PASS_BUF;
    p.passwordLen = <u32>passLen;
  }
  outLen = 0;
  if (!emit(TX_CAPACITY + OUT_RESERVE)) return E_BUFFER_TOO_SMALL;
  tokenIssuedAt = now;
  return OK;
}
const MQTT_NAME = memory.data<u8>([0x4D, 0x51, 0x54, 0x54]);

function appendFilter(at: i32, kind: i32, qos: u8): i32 {
  const n = subscribeTopic(kind, C.fieldPtr(C.F_DEVICE), C.fieldLen(C.F_DEVICE), SUB_BUF + <usize>(at + 2), 600 - at);
  if (n < 0) return n;
  store<u8>(SUB_BUF + <usize>at, <u8>(n >> 8));
  store<u8>(SUB_BUF + <usize>at + 1, <u8>n);
  store<u8>(SUB_BUF + <usize>(at + 2 + n), qos);
  return at + 3 + n;
}

function sendSubscribe(): i32 {
  let at: i32 = 0;
  const f = C.features;
  if (f & C.FEATURE_C2D) at = appendFilter(at, SUB_C2D, 1);
  if (at >= 0 && (f & C.FEATURE_METHODS)) at = appendFilter(at, SUB_METHODS, 0);
  if (at >= 0 && (f & C.FEATURE_TWIN)) at = appendFilter(at, SUB_TWIN_RESPONSE, 0);
  if (at >= 0 && (f & C.FEATURE_TWIN)) at = appendFilter(at, SUB_TWIN_DESIRED, 0);
  if (at < 0) return at;
  subscribeId = 0;
  subscribeId = allocPacketId();
  const p = enc();
  clearPacket(p);
  p.type = SUBSCRIBE;
  p.messageId = subscribeId;
  p.listPtr = SUB_BUF;
  p.listLen = <u32>at;
  return emit(TX_CAPACITY + OUT_RESERVE) ? OK : E_BUFFER_TOO_SMALL;
}

function becomeReady(sessionPresent: u32): u32 {
  state = STATE_READY;
  readyAt = now;
  stable = false;
  pingOutstanding = false;
  flush();
  return setEvent(EV_CONNECTED, <i32>sessionPresent, 0);
}

// ---- losing the connection ------------------------------------------------------------------------------------
/** Bookkeeping when a connection ends: requeue in-flight telemetry, fail answers that cannot come, tell the app. */
function connectionLost(reason: i32, retry: bool, delay: i32): void {
  for (let i = 0; i < Ob.slotCount(); i++) {
    const s = Ob.slotAt(i);
    if (s.state == Ob.INFLIGHT) {
      Ob.setState(s, Ob.UNSENT);
      const first = Ob.slotBytes(s);
      store<u8>(first, load<u8>(first) | 0x08); // DUP: this PUBLISH may have been seen before
    }
  }
  Rq.requestsFail(St.E_CLIENT_DISCONNECTED, true); // their answers would come on the connection that is gone
  ackCount = 0; // the hub redelivers unacknowledged C2D on the next connection
  pingOutstanding = false;
  subscribeId = 0;
  if (retry) {
    if (delay < 0) {
      delay = retryDelay(0, attempt < 30 ? attempt : 30, C.retryMinMs, C.retryMaxMs, jitterFrom(random(), C.retryJitterMs));
      attempt++;
    }
    reconnectDelay = delay;
    afterClose = STATE_BACKOFF;
  } else {
    afterClose = STATE_STOPPED;
    delay = -1;
  }
  raise(EV_DISCONNECTED, reason, 0, delay);
}

/** We end the connection: optionally say DISCONNECT, then ask the host to close the transport. */
function drop(reason: i32, retry: bool, delay: i32, sayDisconnect: bool): void {
  if (sayDisconnect && (state == STATE_CONNECTING || state == STATE_SUBSCRIBING || state == STATE_READY)) emitControl(DISCONNECT, 0);
  connectionLost(reason, retry, delay);
  state = STATE_CLOSING;
}

export function transportUp(nowMs: u32): i32 {
  advance(nowMs);
  if (state != STATE_OPENING) return E_BAD_STATE;
  rxReset();
  rxSkipOversized(true);
  outLen = 0;
  const r = buildConnect();
  if (r != OK) {
    drop(r, false, -1, false);
    return r;
  }
  state = STATE_CONNECTING;
  transportUpAt = now;
  return OK;
}

export function transportDown(nowMs: u32): void {
  advance(nowMs);
  if (state == STATE_CONNECTING || state == STATE_SUBSCRIBING || state == STATE_READY || state == STATE_OPENING) {
    connectionLost(St.E_CLIENT_TRANSPORT_CLOSED, true, -1);
    state = STATE_CLOSING;
  }
  if (state == STATE_CLOSING) {
    state = afterClose;
    if (state == STATE_BACKOFF) reconnectAt = now + <u32>reconnectDelay;
  }
  rxReset();
  outLen = 0;
}

export function start(nowMs: u32): i32 {
  advance(nowMs);
  if (!C.configured) return St.E_CLIENT_NOT_CONFIGURED;
  if (!C.x509 && !timeSet) return St.E_CLIENT_TIME_NOT_SET;
  if (state == STATE_IDLE || state == STATE_STOPPED || state == STATE_BACKOFF) {
    state = STATE_OPENING;
    attempt = 0;
  }
  return OK;
}

/** Closes for good: every message and request still pending is reported as failed (CLIENT_CLOSED). */
export function stop(nowMs: u32): void {
  advance(nowMs);
  for (let i = 0; i < Ob.slotCount(); i++) {
    const s = Ob.slotAt(i);
    if (s.state == Ob.UNSENT || s.state == Ob.INFLIGHT) {
      if (s.kind == Ob.KIND_TELEMETRY_QOS0 || s.kind == Ob.KIND_TELEMETRY_QOS1) {
        Ob.setState(s, Ob.FAILED);
        s.status = St.E_CLIENT_CLOSED;
      } else {
        Ob.release(i);
      }
    }
  }
  Rq.requestsFail(St.E_CLIENT_CLOSED, false);
  if (state == STATE_CONNECTING || state == STATE_SUBSCRIBING || state == STATE_READY || state == STATE_OPENING) {
    drop(St.E_CLIENT_CLOSED, false, -1, true);
  } else if (state != STATE_CLOSING) {
    if (state != STATE_STOPPED) raise(EV_DISCONNECTED, St.E_CLIENT_CLOSED, 0, -1);
    state = STATE_STOPPED;
  } else {
    afterClose = STATE_STOPPED;
  }
}

// ---- sending ------------------------------------------------------------------------------------------------------
/** Moves what can go now from the outbox (and pending PUBACKs) to the transmit buffer, oldest first. */
function flush(): void {
  if (state != STATE_READY) return;
  while (ackCount > 0) {
    if (!emitControl(PUBACK, load<u32>(ACKS))) return;
    ackCount--;
    for (let i = 0; i < ackCount; i++) store<u32>(ACKS + <usize>(i << 2), load<u32>(ACKS + <usize>((i + 1) << 2)));
  }
  for (;;) {
    const i = Ob.oldest(Ob.UNSENT);
    if (i < 0) return;
    const s = Ob.slotAt(i);
    if (outLen + <i32>s.len > TX_CAPACITY) return;
    memory.copy(OUT + <usize>outLen, Ob.slotBytes(s), <usize>s.len);
    outLen += <i32>s.len;
    lastTxAt = now;
    if (s.kind == Ob.KIND_TELEMETRY_QOS1) {
      Ob.setState(s, Ob.INFLIGHT);
    } else if (s.kind == Ob.KIND_TELEMETRY_QOS0) {
      Ob.setState(s, Ob.DONE);
    } else {
      if (s.kind == Ob.KIND_TWIN_REQUEST) Rq.requestSent(s.token);
      Ob.release(i);
    }
  }
}

/**
 * Queues a PUBLISH of `topicLen` bytes at TOPIC as an outbox message of `kind`: the slot index, or a status
 * (too large for the profile, outbox full). The one way anything is sent, so everything is ordered and bounded.
 */
function queuePublish(kind: u32, topicLen: i32, payload: usize, payloadLen: i32, qos: u32, messageId: u32): i32 {
  const p = enc();
  clearPacket(p);
  p.type = PUBLISH;
  p.qos = qos;
  p.messageId = messageId;
  p.topicPtr = TOPIC;
  p.topicLen = <u32>topicLen;
  p.payloadPtr = payload;
  p.payloadLen = <u32>payloadLen;
  const size = packetSize(p);
  if (size < 0) return size;
  if (size > TX_CAPACITY) return St.E_CLIENT_MESSAGE_TOO_LARGE;
  const i = Ob.reserve(kind, <u32>size);
  if (i < 0) return St.E_CLIENT_QUEUE_FULL;
  encodePacket(p, Ob.slotBytes(Ob.slotAt(i)), size);
  Ob.slotAt(i).packetId = messageId;
  return i;
}

export function telemetryBegin(): void { bagLen = 0; }

function bagResult(r: i32): i32 {
  if (r == E_BUFFER_TOO_SMALL || r == E_BAD_ARGUMENT) return St.E_CLIENT_PROPERTIES_TOO_LARGE;
  if (r < 0) return r;
  bagLen = r;
  return OK;
}
export function telemetryProperty(name: usize, nameLen: i32, value: usize, valueLen: i32): i32 {
  return bagResult(bagAppend(BAG, bagLen, BAG_CAPACITY, name, nameLen, value, valueLen));
}
export function telemetrySystem(which: i32, value: usize, valueLen: i32): i32 {
  return bagResult(bagAppendSystem(BAG, bagLen, BAG_CAPACITY, which, value, valueLen));
}

/** Queues a telemetry message with the properties given since telemetryBegin. Returns its token (> 0) or a status. */
export function telemetrySend(payload: usize, payloadLen: i32, qos: i32): i32 {
  const properties = bagLen;
  bagLen = 0; // the properties belong to this message, whatever becomes of it
  if (!C.configured) return St.E_CLIENT_NOT_CONFIGURED;
  // Before the first connection messages wait in the outbox; once the client is stopped nothing would send them.
  if (state == STATE_STOPPED) return St.E_CLIENT_CLOSED;
  if (qos != 0 && qos != 1) return St.E_CLIENT_BAD_QOS;
  if (payloadLen < 0) return E_BAD_ARGUMENT;
  if (payloadLen + properties > MAX_D2C_BYTES) return St.E_CLIENT_MESSAGE_TOO_LARGE;
  const topicLen = telemetryTopic(C.fieldPtr(C.F_DEVICE), C.fieldLen(C.F_DEVICE), C.fieldPtr(C.F_MODULE), C.fieldLen(C.F_MODULE),
    BAG, properties, TOPIC, TOPIC_CAP);
  if (topicLen < 0) return topicLen == E_BUFFER_TOO_SMALL ? St.E_CLIENT_PROPERTIES_TOO_LARGE : topicLen;
  const i = queuePublish(qos == 1 ? Ob.KIND_TELEMETRY_QOS1 : Ob.KIND_TELEMETRY_QOS0, topicLen, payload, payloadLen,
    <u32>qos, qos == 1 ? allocPacketId() : 0);
  if (i < 0) return i;
  const token = nextToken;
  nextToken = nextToken >= 0x7FFFFFFF ? 1 : nextToken + 1;
  Ob.slotAt(i).token = token;
  flush();
  return <i32>token;
}

/** Acknowledges a QoS 1 C2D message once the application has it (at least once). */
export function ack(packetId: u32): i32 {
  if (packetId == 0) return OK;
  if (packetId > 65535) return E_BAD_ARGUMENT;
  if (state == STATE_READY && ackCount == 0 && emitControl(PUBACK, packetId)) return OK;
  if (ackCount == ACKS_SIZE) return St.E_CLIENT_QUEUE_FULL;
  store<u32>(ACKS + <usize>(ackCount << 2), packetId);
  ackCount++;
  return OK;
}

export function methodRespond(rid: usize, ridLen: i32, status: i32, payload: usize, payloadLen: i32): i32 {
  if (payloadLen < 0) return E_BAD_ARGUMENT;
  if (payloadLen > MAX_METHOD_RESPONSE_BYTES) return St.E_CLIENT_MESSAGE_TOO_LARGE;
  const topicLen = methodResponseTopic(status, rid, ridLen, TOPIC, TOPIC_CAP);
  if (topicLen < 0) return topicLen;
  const i = queuePublish(Ob.KIND_METHOD_RESPONSE, topicLen, payload, payloadLen, 0, 0);
  if (i < 0) return i;
  flush();
  return OK;
}

// ---- twin ---------------------------------------------------------------------------------------------------------
/** Twin GET (patch == false) or reported-properties PATCH with a JSON body. Returns the request id or a status. */
export function twinRequest(patch: bool, body: usize, bodyLen: i32, nowMs: u32): i32 {
  advance(nowMs); // the time-out counts from now, not from the last poll
  if (!C.configured) return St.E_CLIENT_NOT_CONFIGURED;
  if (bodyLen < 0) return E_BAD_ARGUMENT;
  if (Rq.requestsFull()) return St.E_CLIENT_TOO_MANY_REQUESTS;
  const rid = nextRid;
  nextRid = nextRid >= 0x7FFFFFFF ? 1 : nextRid + 1;
  const ridLen = writeDecimal(<u64>rid, RID_BUF, 16);
  const topicLen = patch ? twinPatchTopic(RID_BUF, ridLen, TOPIC, TOPIC_CAP) : twinGetTopic(RID_BUF, ridLen, TOPIC, TOPIC_CAP);
  if (topicLen < 0) return topicLen;
  const i = queuePublish(Ob.KIND_TWIN_REQUEST, topicLen, body, patch ? bodyLen : 0, 0, 0);
  if (i < 0) return i;
  Ob.slotAt(i).token = rid;
  Rq.requestOpen(rid, now + <u32>C.requestTimeoutMs, i);
  flush();
  return <i32>rid;
}

/** The application read the full twin: patches up to this desired version are already applied. */
export function setDesiredVersion(v: i64): void { if (v > lastDesired) lastDesired = v; }

// ---- receiving ------------------------------------------------------------------------------------------------
function handlePublish(p: Packet): u32 {
  const kind = classifyTopic(p.topicPtr, <i32>p.topicLen, TOPIC_RES);
  const qos = p.qos;
  // Everything but C2D is acknowledged at once; C2D waits for the application (client_c2d_ack).
  if (qos > 0 && kind != TOPIC_C2D) ack(p.messageId);
  if (kind == TOPIC_C2D && !ownC2dTopic()) {
    // Another identity's message is a protocol violation by the hub: reported with its topic, never delivered.
    // Acknowledged, so that the hub does not redeliver it on every connection.
    if (qos > 0) ack(p.messageId);
    setEvent(EV_ERROR, St.E_CLIENT_FOREIGN_TOPIC, 0);
    setView(0, p.topicPtr, <i32>p.topicLen);
    return EV_ERROR;
  }
  if (kind == TOPIC_C2D) {
    setEvent(EV_C2D, <i32>qos, qos > 0 ? p.messageId : 0);
    setView(0, p.payloadPtr, <i32>p.payloadLen);
    const bagLen = topic().bagLen;
    setView(1, <usize>topic().bagPtr, bagLen > 0 ? bagLen : 0);
    return EV_C2D;
  }
  if (kind == TOPIC_METHOD_REQUEST) {
    setEvent(EV_METHOD, 0, 0);
    setView(0, <usize>topic().namePtr, topic().nameLen);
    setView(1, <usize>topic().ridPtr, topic().ridLen);
    setView(2, p.payloadPtr, <i32>p.payloadLen);
    return EV_METHOD;
  }
  if (kind == TOPIC_TWIN_RESPONSE) {
    const rid = parseDecimal(<usize>topic().ridPtr, topic().ridLen);
    if (!Rq.requestAnswered(rid)) return EV_NONE; // an answer to a request that already timed out
    setEvent(EV_TWIN_RESPONSE, topic().status, <u32>rid);
    const v = topic().version;
    setVersion(v >= 0 ? <u32>v : 0);
    setView(0, p.payloadPtr, <i32>p.payloadLen);
    return EV_TWIN_RESPONSE;
  }
  if (kind == TOPIC_TWIN_DESIRED) {
    const v = topic().version;
    if (v <= lastDesired) return EV_NONE; // older or repeated: already applied
    lastDesired = v;
    setEvent(EV_DESIRED, 0, 0);
    setVersion(<u32>v);
    setView(0, p.payloadPtr, <i32>p.payloadLen);
    return EV_DESIRED;
  }
  setEvent(EV_ERROR, St.E_CLIENT_UNEXPECTED_TOPIC, 0);
  setView(0, p.topicPtr, <i32>p.topicLen);
  return EV_ERROR;
}

/** Whether the C2D topic just parsed names this device (modules get no C2D over MQTT). */
function ownC2dTopic(): bool {
  if (C.fieldLen(C.F_MODULE) > 0) return false;
  const len = topic().deviceLen;
  if (len != C.fieldLen(C.F_DEVICE)) return false;
  return memory.compare(<usize>topic().devicePtr, C.fieldPtr(C.F_DEVICE), <usize>len) == 0;
}

/**
 * A PUBLISH larger than this profile can hold: refused, never truncated, and the connection survives. Whoever
 * waits is told: a twin request fails, a method gets 413, anything else is an EV_ERROR (a QoS 1 C2D is
 * acknowledged, since MQTT cannot reject it and the hub would otherwise redeliver it forever).
 */
function handleOversized(p: Packet): u32 {
  const kind = classifyTopic(p.topicPtr, <i32>p.topicLen, TOPIC_RES);
  if (p.qos > 0) ack(p.messageId);
  if (kind == TOPIC_TWIN_RESPONSE) {
    const rid = parseDecimal(<usize>topic().ridPtr, topic().ridLen);
    if (Rq.requestAnswered(rid)) return setEvent(EV_TWIN_RESPONSE, St.E_CLIENT_INCOMING_TOO_LARGE, <u32>rid);
  } else if (kind == TOPIC_METHOD_REQUEST) {
    methodRespond(<usize>topic().ridPtr, topic().ridLen, 413, 0, 0);
  }
  setEvent(EV_ERROR, St.E_CLIENT_INCOMING_TOO_LARGE, p.messageId);
  setView(0, p.topicPtr, <i32>p.topicLen);
  setExtra(<i32>p.payloadLen);
  return EV_ERROR;
}

function connackCode(rc: u32): i32 {
  switch (rc) {
    case 1: return St.E_CLIENT_CONNACK_PROTOCOL;
    case 2: return St.E_CLIENT_CONNACK_ID_REJECTED;
    case 3: return St.E_CLIENT_CONNACK_SERVER_UNAVAILABLE;
    case 4: return St.E_CLIENT_CONNACK_BAD_CREDENTIALS;
  }
  return St.E_CLIENT_CONNACK_NOT_AUTHORIZED;
}

function handlePacket(type: i32): u32 {
  const p = changetype<Packet>(PKT);
  switch (<u32>type) {
    case CONNACK: {
      if (state != STATE_CONNECTING) break;
      if (p.returnCode != 0) {
        // Only "server unavailable" can get better by itself; bad credentials must not become a reconnect storm.
        drop(connackCode(p.returnCode), p.returnCode == 3, -1, false);
        return takeRaised();
      }
      if (C.features == 0 || (p.sessionPresent != 0 && subscribedOnce)) return becomeReady(p.sessionPresent);
      const r = sendSubscribe();
      if (r != OK) { drop(r, true, -1, false); return takeRaised(); }
      state = STATE_SUBSCRIBING;
      return EV_NONE;
    }
    case SUBACK: {
      if (state != STATE_SUBSCRIBING || p.messageId != subscribeId) return EV_NONE;
      subscribeId = 0;
      subscribedOnce = true;
      let refused: i32 = 0;
      for (let i: u32 = 0; i < p.listLen; i++) if (load<u8>(p.listPtr + <usize>i) == 0x80) refused |= 1 << i;
      if (refused != 0) raise(EV_ERROR, St.E_CLIENT_SUBSCRIBE_REFUSED, 0, refused);
      return becomeReady(0);
    }
    case PUBACK: {
      const i = Ob.findInflight(p.messageId);
      if (i < 0) return EV_NONE;
      const token = Ob.slotAt(i).token;
      Ob.release(i);
      flush();
      return setEvent(EV_TELEMETRY_ACKED, 0, token);
    }
    case PINGRESP: {
      pingOutstanding = false;
      return EV_NONE;
    }
    case PUBLISH: {
      if (state != STATE_READY && state != STATE_SUBSCRIBING) break;
      return handlePublish(p);
    }
  }
  drop(St.E_CLIENT_UNEXPECTED_PACKET, true, -1, false);
  return takeRaised();
}

// ---- time -----------------------------------------------------------------------------------------------------

function timers(): void {
  if (state == STATE_CONNECTING || state == STATE_SUBSCRIBING) {
    if (elapsed(transportUpAt) >= C.connectTimeoutMs) drop(St.E_CLIENT_CONNECT_TIMEOUT, true, -1, false);
  } else if (state == STATE_READY) {
    if (!stable && elapsed(readyAt) >= C.stableMs) { stable = true; attempt = 0; }
    if (!C.x509 && elapsed(tokenIssuedAt) >= tokenRenewAfterMs) {
      drop(St.E_CLIENT_TOKEN_RENEWAL, true, 0, true); // reconnect at once with a fresh token; in-flight messages resend
      return;
    }
    if (C.keepaliveS > 0) {
      if (pingOutstanding) {
        if (elapsed(pingSentAt) >= C.pingTimeoutMs) drop(St.E_CLIENT_PING_TIMEOUT, true, -1, false);
      } else if (elapsed(lastTxAt) >= C.keepaliveS * 1000) {
        if (emitControl(PINGREQ, 0)) { pingOutstanding = true; pingSentAt = now; }
      }
    }
  } else if (state == STATE_BACKOFF) {
    if (<i32>(now - reconnectAt) >= 0) state = STATE_OPENING;
  }
}

/** Milliseconds until client_poll has something time-driven to do, or -1 when only I/O can wake it. */
export function nextTimeout(): i32 {
  let best: i32 = 0x7FFFFFFF;
  if (state == STATE_CONNECTING || state == STATE_SUBSCRIBING) best = C.connectTimeoutMs - elapsed(transportUpAt);
  else if (state == STATE_READY) {
    if (!stable) best = min(best, C.stableMs - elapsed(readyAt));
    if (!C.x509) best = min(best, tokenRenewAfterMs - elapsed(tokenIssuedAt));
    if (C.keepaliveS > 0) {
      best = min(best, pingOutstanding ? C.pingTimeoutMs - elapsed(pingSentAt) : C.keepaliveS * 1000 - elapsed(lastTxAt));
    }
  } else if (state == STATE_BACKOFF) best = <i32>(reconnectAt - now);
  best = min(best, Rq.requestsNextDeadline(now));
  if (best == 0x7FFFFFFF) return -1;
  return best < 0 ? 0 : best;
}

// ---- the event pump -------------------------------------------------------------------------------------------
/** Advances the machine to `nowMs` and returns the next event (EV_NONE when there is nothing to report). */
export function poll(nowMs: u32): u32 {
  advance(nowMs);
  let t = takeRaised();
  if (t != EV_NONE) return t;
  // Outcomes of telemetry: failed, or QoS 0 written.
  let i = Ob.oldest(Ob.FAILED);
  if (i >= 0) {
    const s = Ob.slotAt(i);
    setEvent(EV_TELEMETRY_FAILED, s.status, s.token);
    Ob.release(i);
    return EV_TELEMETRY_FAILED;
  }
  i = Ob.oldest(Ob.DONE);
  if (i >= 0) {
    const token = Ob.slotAt(i).token;
    Ob.release(i);
    return setEvent(EV_TELEMETRY_ACKED, 0, token);
  }
  // Twin requests that failed or timed out.
  if (Rq.requestTakeDone(now)) {
    if (Rq.doneSlot >= 0) { // timed out before it could even be sent: it need not go at all
      const s = Ob.slotAt(Rq.doneSlot);
      if (s.state == Ob.UNSENT && s.kind == Ob.KIND_TWIN_REQUEST && s.token == Rq.doneRid) Ob.release(Rq.doneSlot);
    }
    return setEvent(EV_TWIN_RESPONSE, Rq.doneExpired ? St.E_CLIENT_TIMEOUT : Rq.doneStatus, Rq.doneRid);
  }
  // Incoming packets.
  if (state == STATE_CONNECTING || state == STATE_SUBSCRIBING || state == STATE_READY) {
    for (;;) {
      const type = decodeNext(changetype<Packet>(PKT));
      if (type == 0) break;
      if (type < 0) {
        drop(type == E_MQTT_PACKET_TOO_LARGE ? St.E_CLIENT_INCOMING_TOO_LARGE : type, true, -1, false);
        return takeRaised();
      }
      t = type == OVERSIZED_PUBLISH ? handleOversized(changetype<Packet>(PKT)) : handlePacket(type);
      if (t != EV_NONE) return t;
      if (state == STATE_CLOSING) break;
    }
  }
  timers();
  t = takeRaised();
  if (t != EV_NONE) return t;
  flush();
  i = Ob.oldest(Ob.DONE);
  if (i >= 0) {
    const token = Ob.slotAt(i).token;
    Ob.release(i);
    return setEvent(EV_TELEMETRY_ACKED, 0, token);
  }
  return EV_NONE;
}

/** Back to a fresh, unconfigured-state machine (outbox emptied, nothing reported). */
export function resetMachine(): void {
  state = STATE_IDLE;
  afterClose = STATE_STOPPED;
  nextPacketId = 1;
  nextToken = 1;
  nextRid = 1;
  pingOutstanding = false;
  subscribeId = 0;
  timeSet = false;
  clockStarted = false;
  sinceAnchorMs = 0;
  bagLen = 0;
  outLen = 0;
  ackCount = 0;
  subscribedOnce = false;
  lastDesired = -1;
  attempt = 0;
  Ob.outboxReset();
  clearRaised();
  Rq.requestsReset();
  rxReset();
}

/** Snapshot of the machine: every variable above that outlives a call, in one list each way. */
export function saveMachine(): void {
  put32(<u32>state); put32(<u32>afterClose); put32(<u32>reconnectDelay); put32(reconnectAt); put32(<u32>attempt);
  put32(now); put32(timeSet ? 1 : 0); put32(unixAtBase); put64(sinceAnchorMs); put32(rng); put32(clockStarted ? 1 : 0);
  put32(transportUpAt); put32(tokenIssuedAt); put32(<u32>tokenRenewAfterMs); put32(readyAt); put32(stable ? 1 : 0);
  put32(lastTxAt); put32(pingOutstanding ? 1 : 0); put32(pingSentAt);
  put32(subscribedOnce ? 1 : 0); put32(subscribeId); put32(nextPacketId); put32(nextToken); put32(nextRid);
  put64(<u64>lastDesired);
  putBytes(OUT, outLen);
  Rq.saveRequests();
  putBytes(ACKS, ackCount * 4);
}
export function restoreMachine(): void {
  state = <i32>get32(); afterClose = <i32>get32(); reconnectDelay = <i32>get32(); reconnectAt = get32(); attempt = <i32>get32();
  now = get32(); timeSet = get32() != 0; unixAtBase = get32(); sinceAnchorMs = get64(); rng = get32(); clockStarted = get32() != 0;
  transportUpAt = get32(); tokenIssuedAt = get32(); tokenRenewAfterMs = <i32>get32(); readyAt = get32(); stable = get32() != 0;
  lastTxAt = get32(); pingOutstanding = get32() != 0; pingSentAt = get32();
  subscribedOnce = get32() != 0; subscribeId = get32(); nextPacketId = get32(); nextToken = get32(); nextRid = get32();
  lastDesired = <i64>get64();
  const o = getBytes(OUT, TX_CAPACITY + OUT_RESERVE);
  outLen = o < 0 ? 0 : o;
  Rq.restoreRequests();
  const a = getBytes(ACKS, ACKS_SIZE * 4);
  ackCount = a < 0 ? 0 : a >> 2;
  bagLen = 0;
}
