// The device state machine (sans-IO). The host moves bytes and time; this decides everything else. The states
// and their transitions are a table (transitions.ts, applied by go()); this file is what happens on each one:
// CONNECT and SUBSCRIBE, losing and ending connections, the outbox flush, telemetry, twin requests, timers, and
// the event pump. Its scalars live in ClientState (state.ts); the clock is clock.ts, the transmit buffer tx.ts
// and the dispatch of incoming PUBLISHes inbound.ts.
//
// The host learns what to do with client_wants() (open or close the transport), client_tx_* (bytes to write),
// client_poll() (one event at a time) and client_next_timeout() (when to poll again).
import { OK, E_BAD_ARGUMENT, E_BAD_STATE, E_BUFFER_TOO_SMALL } from "../status";
import { TX_CAPACITY, BAG_CAPACITY } from "../profile";
import { Packet, clearPacket, CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT } from "../mqtt/packet";
import { varintSize, writeVarint } from "../mqtt/varint";
import { validateTopicName } from "../mqtt/strings";
import { decodeNext, rxReset, rxReserved, rxSkipOversized, OVERSIZED_PUBLISH } from "../mqtt/stream";
import { E_DPS_BUSY } from "../dps/status";
import { E_MQTT_PACKET_TOO_LARGE } from "../mqtt/status";
import { clientId, username } from "../iothub/identity";
import { sasDevicePassword } from "../iothub/sas";
import { subscribeTopic, telemetryTopic, twinGetTopic, twinPatchTopic, methodResponseTopic, SUB_C2D, SUB_METHODS, SUB_TWIN_RESPONSE, SUB_TWIN_DESIRED } from "../iothub/topics";
import { bagAppend, bagAppendSystem } from "../iothub/property-bag";
import { retryDelay, jitterFrom } from "../iothub/retry";
import { writeDecimal } from "../iothub/writer";
import { isoTime, ISO_TIME_LEN } from "../iothub/time";
import { SYS_MESSAGE_ID } from "../iothub/property-bag";
import { IO_CAPACITY } from "../profile";
import * as Store from "./store";
import * as C from "./config";
import * as St from "./status";
import * as Ob from "./outbox";
import * as Rq from "./requests";
import { FEATURE_C2D, FEATURE_METHODS, FEATURE_TWIN } from "./options";
import { STATE_CLOSING, STATE_STOPPED, STATE_READY, STATE_OPENING, STATE_CONNECTING, STATE_SUBSCRIBING, STATE_BACKOFF, WANT_NOTHING, WANT_OPEN, WANT_CLOSE } from "./states";
import {
  go, nextState, inSession, transportWanted, IN_START, IN_TRANSPORT_UP, IN_SUBSCRIBING, IN_CONNECTED, IN_DROP,
  IN_TRANSPORT_LOST, IN_CLOSED_RETRY, IN_CLOSED_STOP, IN_STOP, IN_RETRY_DUE, IN_RESET,
} from "./transitions";
import { S } from "./state";
import { advance, elapsed, random, unixNowMs } from "./clock";
import { enc, emit, emitBytes, emitControl, txReset, queueAck, flushAcks, dropAcks, saveTx, restoreTx, OUT_RESERVE } from "./tx";
import { handlePublish, handleOversized, connackCode, PKT } from "./inbound";
import {
  EV_NONE, EV_CONNECTED, EV_DISCONNECTED, EV_TELEMETRY_ACKED, EV_TELEMETRY_FAILED, EV_TWIN_RESPONSE, EV_ERROR,
  setEvent, raise, takeRaised, clearRaised,
} from "./events";

/** IoT Hub's limits (its documented quotas: 256 KiB device-to-cloud, 128 KiB method response). */
const MAX_D2C_BYTES: i32 = 262144;
const MAX_METHOD_RESPONSE_BYTES: i32 = 131072;

const TOPIC_CAP: i32 = BAG_CAPACITY + 512;
const TOPIC: usize = memory.data(TOPIC_CAP, 16);
const BAG: usize = memory.data(BAG_CAPACITY, 16);
const ID_BUF: usize = memory.data(264, 16); // client id
const USER_BUF: usize = memory.data(1024, 16); // username
const PASS_BUF: usize = memory.data(1024, 16); // SAS token
const SUB_BUF: usize = memory.data(640, 16); // SUBSCRIBE list in wire form
const RID_BUF: usize = memory.data(16, 16);

// ---- accessors for the ABI ----------------------------------------------------------------------------------
export function clientState(): i32 { return S().state; }

export function wants(): i32 {
  if (S().state == STATE_OPENING) return WANT_OPEN;
  if (S().state == STATE_CLOSING) return WANT_CLOSE;
  return WANT_NOTHING;
}

/**
 * The packet id for a QoS 1 message in outbox slot `slot`: `k * slots + slot + 1`, k counting up, at most 65534.
 * Ids of live slots differ by construction (one message per slot), so nothing is scanned to pick one and a PUBACK
 * finds its slot at once (Ob.findInflight). 65535 is SUBSCRIBE's.
 */
function slotPacketId(slot: i32): u32 {
  const n = <u32>Ob.slotCount();
  const span = (SUBSCRIBE_ID - 1 - <u32>slot - 1) / n + 1; // the k that keep the id below SUBSCRIBE_ID
  const k = S().nextPacketId % span;
  S().nextPacketId = S().nextPacketId >= 65535 ? 1 : S().nextPacketId + 1;
  return k * n + <u32>slot + 1;
}
/** The packet id of SUBSCRIBE, which no outbox message ever has. */
const SUBSCRIBE_ID: u32 = 65535;

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
  if (!S().x509) {
    if (!S().timeSet) return St.E_CLIENT_TIME_NOT_SET;
    const nowUnixMs = unixNowMs();
    const expiry = nowUnixMs / 1000 + <u64>S().tokenLifetimeS;
    // Renew at 80 % of what the token really has left (the expiry is in whole seconds).
    const validMs = expiry * 1000 - nowUnixMs;
    S().tokenRenewAfterMs = validMs > 2000000000 ? 0x7FFFFFFF : <i32>(validMs * 4 / 5);
    passLen = sasDevicePassword(host, hostLen, dev, devLen, mod, modLen, C.keyPtr(), S().keyLen,
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
  p.keepalive = <u32>S().keepaliveS;
  p.clientIdPtr = ID_BUF;
  p.clientIdLen = <u32>idLen;
  p.hasUsername = 1;
  p.usernamePtr = USER_BUF;
  p.usernameLen = <u32>userLen;
  if (!S().x509) {
    p.hasPassword = 1;
    p.passwordPtr = PASS_BUF;
    p.passwordLen = <u32>passLen;
  }
  txReset();
  if (!emit(TX_CAPACITY + OUT_RESERVE)) return E_BUFFER_TOO_SMALL;
  S().tokenIssuedAt = S().now;
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

/** The features whose topics this identity subscribes to: a module has no C2D topic over MQTT (IoT Hub refuses it). */
function subscribedFeatures(): i32 {
  return C.fieldLen(C.F_MODULE) > 0 ? S().features & ~FEATURE_C2D : S().features;
}

function sendSubscribe(): i32 {
  let at: i32 = 0;
  const f = subscribedFeatures();
  if (f & FEATURE_C2D) at = appendFilter(at, SUB_C2D, 1);
  if (at >= 0 && (f & FEATURE_METHODS)) at = appendFilter(at, SUB_METHODS, 0);
  if (at >= 0 && (f & FEATURE_TWIN)) at = appendFilter(at, SUB_TWIN_RESPONSE, 0);
  if (at >= 0 && (f & FEATURE_TWIN)) at = appendFilter(at, SUB_TWIN_DESIRED, 0);
  if (at < 0) return at;
  S().subscribeId = SUBSCRIBE_ID;
  const p = enc();
  clearPacket(p);
  p.type = SUBSCRIBE;
  p.messageId = S().subscribeId;
  p.listPtr = SUB_BUF;
  p.listLen = <u32>at;
  return emit(TX_CAPACITY + OUT_RESERVE) ? OK : E_BUFFER_TOO_SMALL;
}

function becomeReady(sessionPresent: u32): u32 {
  go(IN_CONNECTED);
  S().readyAt = S().now;
  S().stable = 0;
  S().pingOutstanding = 0;
  // IoT Hub sends desired patches only to a connected device: after a reconnect, read the twin to catch up on what
  // changed meanwhile (inbound.ts reports a newer desired document as one EV_DESIRED)
  const s = S();
  if (s.connectedOnce && s.twinResync && (s.features & FEATURE_TWIN)) {
    const rid = twinRequest(false, 0, 0, s.now);
    s.resyncRid = rid > 0 ? <u32>rid : 0;
  }
  s.connectedOnce = 1;
  flush();
  return setEvent(EV_CONNECTED, <i32>sessionPresent, 0);
}

// ---- losing the connection ------------------------------------------------------------------------------------
/** Bookkeeping when a connection ends: requeue in-flight telemetry, fail answers that cannot come, tell the app. */
function connectionLost(reason: i32, retry: bool, delay: i32): void {
  // A connection that lasted stableMs was stable: back-off starts over. Checked here and on every poll rather than
  // by a timer of its own, so that a gateway's devices are not each woken once per connection for it.
  if (S().state == STATE_READY) markStable();
  for (let i = 0; i < Ob.slotCount(); i++) {
    const s = Ob.slotAt(i);
    if (s.state == Ob.INFLIGHT) {
      Ob.setState(s, Ob.UNSENT);
      const first = Ob.slotBytes(s);
      store<u8>(first, load<u8>(first) | 0x08); // DUP: this PUBLISH may have been seen before
    }
  }
  Rq.requestsFail(St.E_CLIENT_DISCONNECTED, true); // their answers would come on the connection that is gone
  dropAcks(); // the hub redelivers unacknowledged C2D on the next connection
  S().pingOutstanding = 0;
  S().subscribeId = 0;
  if (retry) {
    if (delay < 0) {
      delay = retryDelay(0, S().attempt < 30 ? S().attempt : 30, S().retryMinMs, S().retryMaxMs, jitterFrom(random(), S().retryJitterMs));
      S().attempt++;
    }
    S().reconnectDelay = delay;
    S().afterClose = STATE_BACKOFF;
  } else {
    S().afterClose = STATE_STOPPED;
    delay = -1;
  }
  raise(EV_DISCONNECTED, reason, 0, delay);
}

/** We end the connection: optionally say DISCONNECT, then ask the host to close the transport. */
function drop(reason: i32, retry: bool, delay: i32, sayDisconnect: bool): void {
  if (sayDisconnect && inSession(S().state)) emitControl(DISCONNECT, 0);
  connectionLost(reason, retry, delay);
  go(IN_DROP);
}

export function transportUp(nowMs: u32): i32 {
  advance(nowMs);
  if (nextState(S().state, IN_TRANSPORT_UP) < 0) return E_BAD_STATE;
  rxReset();
  rxSkipOversized(true);
  txReset();
  const r = buildConnect();
  if (r != OK) {
    drop(r, false, -1, false);
    return r;
  }
  go(IN_TRANSPORT_UP);
  S().transportUpAt = S().now;
  return OK;
}

export function transportDown(nowMs: u32): void {
  advance(nowMs);
  if (transportWanted(S().state)) {
    connectionLost(St.E_CLIENT_TRANSPORT_CLOSED, true, -1);
    go(IN_TRANSPORT_LOST);
  }
  if (S().state == STATE_CLOSING) {
    go(S().afterClose == STATE_BACKOFF ? IN_CLOSED_RETRY : IN_CLOSED_STOP);
    if (S().state == STATE_BACKOFF) S().reconnectAt = S().now + <u32>S().reconnectDelay;
  }
  rxReset();
  txReset();
}

export function start(nowMs: u32): i32 {
  advance(nowMs);
  if (!S().configured) return St.E_CLIENT_NOT_CONFIGURED;
  if (!S().x509 && !S().timeSet) return St.E_CLIENT_TIME_NOT_SET;
  if (rxReserved()) return E_DPS_BUSY; // a registration is under way: it holds the receive buffer
  const was = S().state;
  go(IN_START); // a no-op while a connection is being made or held
  if (S().state != was) S().attempt = 0;
  return OK;
}

/** Closes for good: every message and request still pending is reported as failed (CLIENT_CLOSED). */
export function stop(nowMs: u32): void {
  advance(nowMs);
  for (let i = 0; i < Ob.slotCount(); i++) {
    const s = Ob.slotAt(i);
    if (s.state == Ob.UNSENT || s.state == Ob.INFLIGHT || s.state == Ob.HELD) {
      if (s.kind == Ob.KIND_TELEMETRY_QOS0 || s.kind == Ob.KIND_TELEMETRY_QOS1) {
        Ob.setState(s, Ob.FAILED);
        s.status = St.E_CLIENT_CLOSED;
      } else {
        Ob.release(i);
      }
    }
  }
  Rq.requestsFail(St.E_CLIENT_CLOSED, false);
  if (transportWanted(S().state)) {
    drop(St.E_CLIENT_CLOSED, false, -1, true);
  } else {
    if (S().state == STATE_CLOSING) S().afterClose = STATE_STOPPED; // closing already: stay stopped after it
    else if (S().state != STATE_STOPPED) raise(EV_DISCONNECTED, St.E_CLIENT_CLOSED, 0, -1);
    go(IN_STOP);
  }
}

// ---- sending ------------------------------------------------------------------------------------------------------
/** Moves what can go S().now from the outbox (and pending PUBACKs) to the transmit buffer, oldest first. */
function flush(): void {
  if (S().state != STATE_READY) return;
  if (!flushAcks()) return;
  for (;;) {
    const i = Ob.oldest(Ob.UNSENT);
    if (i < 0) return;
    const s = Ob.slotAt(i);
    if (!emitBytes(Ob.slotBytes(s), <i32>s.len)) return;
    if (s.kind == Ob.KIND_TELEMETRY_QOS1) {
      Ob.setState(s, Ob.INFLIGHT);
    } else if (s.kind == Ob.KIND_TELEMETRY_QOS0) {
      Ob.setState(s, Ob.DONE);
    } else if (s.kind == Ob.KIND_TWIN_REQUEST) {
      Rq.requestSent(s.token);
      Ob.setState(s, Ob.HELD); // kept until its answer, in case the hub asks for it again (429, 5xx)
    } else {
      Ob.release(i);
    }
  }
}

// PUBLISH packets are written here rather than through the codec's Packet record: every topic the client sends is
// one it built (ids checked, a bag percent-encoded to ASCII with no wildcard, request ids in decimal), so there is
// nothing for the codec to validate, and the bytes go straight where they are kept.
/** Bytes of a PUBLISH of `topicLen` topic bytes and `payloadLen` payload bytes, or CLIENT_MESSAGE_TOO_LARGE. */
function publishSize(topicLen: i32, payloadLen: i32, qos: u32): i32 {
  const rem = <u32>(2 + topicLen + (qos != 0 ? 2 : 0)) + <u32>payloadLen;
  const size = 1 + varintSize(rem) + <i32>rem;
  return size > TX_CAPACITY ? St.E_CLIENT_MESSAGE_TOO_LARGE : size;
}

/**
 * Writes a PUBLISH's fixed header, topic ([t1, t1+n1) then [t2, t2+n2)) and packet id (QoS 1) at `out`; returns
 * where its payload goes.
 */
function publishHead(out: usize, t1: usize, n1: i32, t2: usize, n2: i32, payloadLen: i32, qos: u32, id: u32): usize {
  const topicLen = n1 + n2;
  store<u8>(out, <u8>(0x30 | (qos << 1)));
  let at = out + 1 + <usize>writeVarint(out + 1, <u32>(2 + topicLen + (qos != 0 ? 2 : 0)) + <u32>payloadLen);
  store<u8>(at, <u8>(topicLen >> 8));
  store<u8>(at + 1, <u8>topicLen);
  memory.copy(at + 2, t1, <usize>n1);
  memory.copy(at + 2 + <usize>n1, t2, <usize>n2);
  at += 2 + <usize>topicLen;
  if (qos != 0) {
    store<u8>(at, <u8>(id >> 8));
    store<u8>(at + 1, <u8>id);
    at += 2;
  }
  return at;
}

/**
 * Queues a PUBLISH (topic [t1, t1+n1) + [t2, t2+n2)) as an outbox message of `kind`: the slot index, or a status
 * (too large for the profile, outbox full). The one way anything is sent, so everything is ordered and bounded.
 */
function queuePublish(kind: u32, t1: usize, n1: i32, t2: usize, n2: i32, payload: usize, payloadLen: i32, qos: u32): i32 {
  const size = publishSize(n1 + n2, payloadLen, qos);
  if (size < 0) return size;
  const i = Ob.reserve(kind, <u32>size);
  if (i < 0) return St.E_CLIENT_QUEUE_FULL;
  const s = Ob.slotAt(i);
  const id = qos != 0 ? slotPacketId(i) : 0;
  s.packetId = id;
  memory.copy(publishHead(Ob.slotBytes(s), t1, n1, t2, n2, payloadLen, qos, id), payload, <usize>payloadLen);
  return i;
}

export function telemetryBegin(): void { S().bagLen = 0; S().bagMid = 0; }

// The previous message's property bag, still at BAG (appends overwrite it from the start, so the first append of
// a message forgets it): client_telemetry_properties_repeat sends the same properties again without encoding them.
// -1 when there is none (also after any device switch: BAG is not part of a device's state).
let repeatBagLen: i32 = -1;
let repeatBagMid: u32 = 0;

function bagResult(r: i32): i32 {
  repeatBagLen = -1;
  if (r == E_BUFFER_TOO_SMALL || r == E_BAD_ARGUMENT) return St.E_CLIENT_PROPERTIES_TOO_LARGE;
  if (r < 0) return r;
  S().bagLen = r;
  return OK;
}
export function telemetryProperty(name: usize, nameLen: i32, value: usize, valueLen: i32): i32 {
  return bagResult(bagAppend(BAG, S().bagLen, BAG_CAPACITY, name, nameLen, value, valueLen));
}
export function telemetrySystem(which: i32, value: usize, valueLen: i32): i32 {
  const r = bagResult(bagAppendSystem(BAG, S().bagLen, BAG_CAPACITY, which, value, valueLen));
  if (r == OK && which == SYS_MESSAGE_ID) S().bagMid = 1;
  return r;
}

/**
 * Begins a message with exactly the properties (system and application) of the last one sent (client_telemetry_send),
 * instead of telemetryBegin and adding them. OK, or E_BAD_STATE when they are gone (another device ran on this
 * core, or a property was added since): then begin and add them one by one.
 */
export function telemetryRepeat(): i32 {
  if (repeatBagLen < 0) return E_BAD_STATE;
  S().bagLen = repeatBagLen;
  S().bagMid = repeatBagMid;
  return OK;
}

// `devices/{id}[/modules/{module}]/messages/events/`, built and checked (ids, MQTT topic rules) once per device
// rather than per message: topicPrefixLen bytes at PREFIX, -1 until built (and after any reset or device switch).
const PREFIX_CAP: i32 = 304; // "devices/" + 128 + "/modules/" + 128 + "/messages/events/" = 290
const PREFIX: usize = memory.data(PREFIX_CAP, 16);
let topicPrefixLen: i32 = -1;

/** Forgets what is cached for the current device (its topic prefix, the last property bag). */
function forgetTelemetryCache(): void {
  topicPrefixLen = -1;
  repeatBagLen = -1;
}

function topicPrefix(): i32 {
  if (topicPrefixLen >= 0) return topicPrefixLen;
  const n = telemetryTopic(C.fieldPtr(C.F_DEVICE), C.fieldLen(C.F_DEVICE), C.fieldPtr(C.F_MODULE), C.fieldLen(C.F_MODULE),
    BAG, 0, PREFIX, PREFIX_CAP);
  if (n < 0) return n == E_BUFFER_TOO_SMALL ? St.E_CLIENT_PROPERTIES_TOO_LARGE : n;
  const r = validateTopicName(PREFIX, <u32>n);
  if (r != OK) return r;
  topicPrefixLen = n;
  return n;
}

/** Checks a message's size against IoT Hub's limit; the topic's length (prefix + bag), or a status. */
function telemetryTopicLen(properties: i32, payloadLen: i32): i32 {
  if (payloadLen < 0) return E_BAD_ARGUMENT;
  if (payloadLen + properties > MAX_D2C_BYTES) return St.E_CLIENT_MESSAGE_TOO_LARGE;
  const prefix = topicPrefix();
  if (prefix < 0) return prefix;
  if (prefix + properties > TOPIC_CAP) return St.E_CLIENT_PROPERTIES_TOO_LARGE;
  return prefix + properties;
}

function takeToken(): u32 {
  const token = S().nextToken;
  S().nextToken = S().nextToken >= 0x7FFFFFFF ? 1 : S().nextToken + 1;
  return token;
}

/** Queues a telemetry message with the properties given since telemetryBegin. Returns its token (> 0) or a status. */
export function telemetrySend(payload: usize, payloadLen: i32, qos: i32): i32 {
  const properties = S().bagLen;
  const mid = S().bagMid;
  S().bagLen = 0; // the properties belong to this message, whatever becomes of it
  S().bagMid = 0;
  if (!S().configured) return St.E_CLIENT_NOT_CONFIGURED;
  // Before the first connection messages wait in the outbox; once the client is stopped nothing would send them.
  if (S().state == STATE_STOPPED) return St.E_CLIENT_CLOSED;
  if (qos != 0 && qos != 1) return St.E_CLIENT_BAD_QOS;
  const topicLen = telemetryTopicLen(properties, payloadLen);
  if (topicLen < 0) return topicLen;
  const i = queuePublish(qos == 1 ? Ob.KIND_TELEMETRY_QOS1 : Ob.KIND_TELEMETRY_QOS0, PREFIX, topicPrefixLen, BAG, properties,
    payload, payloadLen, <u32>qos);
  if (i < 0) return i;
  repeatBagLen = properties;
  repeatBagMid = mid;
  const token = takeToken();
  Ob.slotAt(i).token = token;
  flush();
  return <i32>token;
}

// ---- store and forward (the record format is store.ts) ---------------------------------------------------------
// One scratch for the UUID and then the creation time (each is copied into the bag before the next is written).
const UUID: usize = memory.data(36, 16);
const ISO: usize = UUID;
const CTIME = memory.data<u8>([0x24, 0x2E, 0x63, 0x74, 0x69, 0x6D, 0x65]); // "$.ctime", UTF-8
const HEX = memory.data<u8>([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]); // 0-9a-f

/** A random (version 4) UUID from the client's generator, seeded by the board's entropy, at UUID. */
function randomUuid(): void {
  let at: i32 = 0;
  for (let w: i32 = 0; w < 4; w++) {
    let r = random();
    if (w == 1) r = (r & 0xFFFF0FFF) | 0x00004000; // version 4
    if (w == 2) r = (r & 0x3FFFFFFF) | 0x80000000; // variant 10
    for (let k: i32 = 0; k < 8; k++) {
      if (at == 8 || at == 13 || at == 18 || at == 23) { store<u8>(UUID + <usize>at, 45); at++; }
      store<u8>(UUID + <usize>at, load<u8>(HEX + <usize>((r >> 28) & 15)));
      at++;
      r <<= 4;
    }
  }
}

/**
 * Telemetry for the board's store: the message built since telemetryBegin, QoS 1, given a message id ($.mid, a
 * random UUID) when it has none and its creation time ($.ctime, ISO 8601 UTC) when the clock is set, so that the
 * copy sent after a reboot is the same message to the back end. Encoded as a store record at the IO window (not
 * queued: the board writes it, then hands it to storeRestore). Returns its token, or a status.
 */
export function telemetryStore(payload: usize, payloadLen: i32, nowMs: u32): i32 {
  advance(nowMs);
  let properties = S().bagLen;
  const hasMid = S().bagMid;
  S().bagLen = 0; // the properties belong to this message, whatever becomes of it
  S().bagMid = 0;
  if (!S().configured) return St.E_CLIENT_NOT_CONFIGURED;
  if (!hasMid) {
    randomUuid();
    const r = bagAppendSystem(BAG, properties, BAG_CAPACITY, SYS_MESSAGE_ID, UUID, 36);
    if (r < 0) return St.E_CLIENT_PROPERTIES_TOO_LARGE;
    properties = r;
  }
  let ctime: u64 = 0;
  if (S().timeSet) {
    ctime = unixNowMs();
    isoTime(ctime, ISO, ISO_TIME_LEN);
    const r = bagAppend(BAG, properties, BAG_CAPACITY, CTIME, 7, ISO, ISO_TIME_LEN);
    if (r < 0) return St.E_CLIENT_PROPERTIES_TOO_LARGE;
    properties = r;
  }
  const topicLen = telemetryTopicLen(properties, payloadLen);
  if (topicLen < 0) return topicLen;
  const size = publishSize(topicLen, payloadLen, 1);
  if (size < 0) return size;
  if (size > IO_CAPACITY - Store.RECORD_OVERHEAD) return St.E_CLIENT_MESSAGE_TOO_LARGE;
  const body = Store.recordBody();
  memory.copy(body + <usize>(size - payloadLen), payload, <usize>payloadLen); // first: the payload may lie where the header goes
  // 0xFFFF stands in for the packet id, given when the record is queued (storeRestore)
  publishHead(body, PREFIX, topicPrefixLen, BAG, properties, payloadLen, 1, 0xFFFF);
  const token = takeToken();
  Store.seal(Store.STORE_MESSAGE, token, ctime, size);
  return <i32>token;
}

/**
 * Queues a message record the board kept (client_telemetry_store's, or read back after a reboot) as unsent, with
 * its token and a fresh packet id: the token, or CLIENT_STORE_CORRUPT / _TRUNCATED (never trusted), BAD_ARGUMENT
 * (a completion marker), CLIENT_FOREIGN_TOPIC (a message of another device or module), CLIENT_CLOSED (stopped: queue it after client_start), CLIENT_QUEUE_FULL (the outbox is a
 * window on the store: queue it when a message is acknowledged).
 */
export function storeRestore(ptr: usize, len: i32): i32 {
  const n = Store.check(ptr, len);
  if (n < 0) return n;
  if (Store.lastKind() != Store.STORE_MESSAGE) return E_BAD_ARGUMENT;
  if (!S().configured) return St.E_CLIENT_NOT_CONFIGURED;
  if (S().state == STATE_STOPPED) return St.E_CLIENT_CLOSED;
  const size = n - Store.RECORD_OVERHEAD;
  // A record of another identity (the store outlived a re-provisioning) would be refused by the hub at every connect.
  const body = ptr + <usize>Store.RECORD_HEAD;
  let h: usize = 1; // past the remaining length (checked: at most four bytes)
  while (load<u8>(body + h) & 0x80) h++;
  const topicLen = <i32>load<u8>(body + h + 1) << 8 | <i32>load<u8>(body + h + 2);
  const ours = topicPrefix();
  if (ours < 0 || topicLen < ours || memory.compare(body + h + 3, PREFIX, <usize>ours) != 0) return St.E_CLIENT_FOREIGN_TOPIC;
  if (!Ob.roomFor(<u32>size)) return St.E_CLIENT_QUEUE_FULL;
  const i = Ob.reserve(Ob.KIND_TELEMETRY_QOS1, <u32>size);
  if (i < 0) return St.E_CLIENT_QUEUE_FULL;
  const id = slotPacketId(i);
  const s = Ob.slotAt(i);
  const at = Ob.slotBytes(s);
  memory.copy(at, ptr + <usize>Store.RECORD_HEAD, <usize>size);
  const pid = at + <usize>Store.lastPacketIdAt();
  store<u8>(pid, <u8>(id >> 8));
  store<u8>(pid + 1, <u8>id);
  s.packetId = id;
  s.token = Store.lastToken();
  flush();
  return <i32>s.token;
}

/** Acknowledges a QoS 1 C2D message once the application has it (at least once). */
export function ack(packetId: u32): i32 {
  if (packetId == 0) return OK;
  if (packetId > 65535) return E_BAD_ARGUMENT;
  if (S().state == STATE_READY && S().ackCount == 0 && emitControl(PUBACK, packetId)) return OK;
  return queueAck(packetId) ? OK : St.E_CLIENT_QUEUE_FULL;
}

export function methodRespond(rid: usize, ridLen: i32, status: i32, payload: usize, payloadLen: i32): i32 {
  if (payloadLen < 0) return E_BAD_ARGUMENT;
  if (payloadLen > MAX_METHOD_RESPONSE_BYTES) return St.E_CLIENT_MESSAGE_TOO_LARGE;
  const topicLen = methodResponseTopic(status, rid, ridLen, TOPIC, TOPIC_CAP);
  if (topicLen < 0) return topicLen;
  const i = queuePublish(Ob.KIND_METHOD_RESPONSE, TOPIC, topicLen, 0, 0, payload, payloadLen, 0);
  if (i < 0) return i;
  flush();
  return OK;
}

// ---- twin ---------------------------------------------------------------------------------------------------------
/** Twin GET (patch == false) or reported-properties PATCH with a JSON body. Returns the request id or a status. */
export function twinRequest(patch: bool, body: usize, bodyLen: i32, nowMs: u32): i32 {
  advance(nowMs); // the time-out counts from S().now, not from the last poll
  if (!S().configured) return St.E_CLIENT_NOT_CONFIGURED;
  if (bodyLen < 0) return E_BAD_ARGUMENT;
  if (Rq.requestsFull()) return St.E_CLIENT_TOO_MANY_REQUESTS;
  const rid = S().nextRid;
  S().nextRid = S().nextRid >= 0x7FFFFFFF ? 1 : S().nextRid + 1;
  const ridLen = writeDecimal(<u64>rid, RID_BUF, 16);
  const topicLen = patch ? twinPatchTopic(RID_BUF, ridLen, TOPIC, TOPIC_CAP) : twinGetTopic(RID_BUF, ridLen, TOPIC, TOPIC_CAP);
  if (topicLen < 0) return topicLen;
  const i = queuePublish(Ob.KIND_TWIN_REQUEST, TOPIC, topicLen, 0, 0, body, patch ? bodyLen : 0, 0);
  if (i < 0) return i;
  Ob.slotAt(i).token = rid;
  Rq.requestOpen(rid, S().now + <u32>S().requestTimeoutMs, i);
  flush();
  return <i32>rid;
}

/** The application read the full twin: patches up to this desired version are already applied. */
export function setDesiredVersion(v: i64): void { if (v > S().lastDesired) S().lastDesired = v; }

// ---- receiving (the dispatch of a decoded PUBLISH is in inbound.ts) -----------------------------------------------
function handlePacket(type: i32): u32 {
  const p = changetype<Packet>(PKT);
  switch (<u32>type) {
    case CONNACK: {
      if (S().state != STATE_CONNECTING) break;
      if (p.returnCode != 0) {
        // Only "server unavailable" can get better by itself; bad credentials must not become a reconnect storm.
        drop(connackCode(p.returnCode), p.returnCode == 3, -1, false);
        return takeRaised();
      }
      if (subscribedFeatures() == 0 || (p.sessionPresent != 0 && S().subscribedOnce)) return becomeReady(p.sessionPresent);
      const r = sendSubscribe();
      if (r != OK) { drop(r, true, -1, false); return takeRaised(); }
      go(IN_SUBSCRIBING);
      return EV_NONE;
    }
    case SUBACK: {
      if (S().state != STATE_SUBSCRIBING || p.messageId != S().subscribeId) return EV_NONE;
      S().subscribeId = 0;
      S().subscribedOnce = 1;
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
      S().pingOutstanding = 0;
      return EV_NONE;
    }
    case PUBLISH: {
      if (S().state != STATE_READY && S().state != STATE_SUBSCRIBING) break;
      return handlePublish(p);
    }
  }
  drop(St.E_CLIENT_UNEXPECTED_PACKET, true, -1, false);
  return takeRaised();
}

// ---- time -----------------------------------------------------------------------------------------------------

function markStable(): void {
  if (!S().stable && elapsed(S().readyAt) >= S().stableMs) { S().stable = 1; S().attempt = 0; }
}

function timers(): void {
  if (S().state == STATE_CONNECTING || S().state == STATE_SUBSCRIBING) { // the handshake
    if (elapsed(S().transportUpAt) >= S().connectTimeoutMs) drop(St.E_CLIENT_CONNECT_TIMEOUT, true, -1, false);
  } else if (S().state == STATE_READY) {
    markStable();
    if (!S().x509 && elapsed(S().tokenIssuedAt) >= renewAfterMs()) {
      drop(St.E_CLIENT_TOKEN_RENEWAL, true, 0, true); // reconnect at once with a fresh token; in-flight messages resend
      return;
    }
    if (S().keepaliveS > 0) {
      if (S().pingOutstanding) {
        if (elapsed(S().pingSentAt) >= S().pingTimeoutMs) drop(St.E_CLIENT_PING_TIMEOUT, true, -1, false);
      } else if (elapsed(S().lastTxAt) >= S().keepaliveS * 1000) {
        if (emitControl(PINGREQ, 0)) { S().pingOutstanding = 1; S().pingSentAt = S().now; }
      }
    }
  } else if (S().state == STATE_BACKOFF) {
    if (<i32>(S().now - S().reconnectAt) >= 0) go(IN_RETRY_DUE);
  }
}

/**
 * When the planned reconnect with a fresh token is due: at 80 % of the token's validity, or, while a twin answer is
 * on its way over this connection, at 90 % (so the renewal does not fail a request it could have waited for).
 */
function renewAfterMs(): i32 {
  const at = S().tokenRenewAfterMs;
  return Rq.requestsAwaitingAnswer() && at < 0x7FFFFFFF ? at + at / 8 : at;
}

/** Milliseconds until client_poll has something time-driven to do, or -1 when only I/O can wake it. */
export function nextTimeout(): i32 {
  let best: i32 = 0x7FFFFFFF;
  if (S().state == STATE_CONNECTING || S().state == STATE_SUBSCRIBING) best = S().connectTimeoutMs - elapsed(S().transportUpAt);
  else if (S().state == STATE_READY) {
    if (!S().x509) best = min(best, renewAfterMs() - elapsed(S().tokenIssuedAt));
    if (S().keepaliveS > 0) {
      best = min(best, S().pingOutstanding ? S().pingTimeoutMs - elapsed(S().pingSentAt) : S().keepaliveS * 1000 - elapsed(S().lastTxAt));
    }
  } else if (S().state == STATE_BACKOFF) best = <i32>(S().reconnectAt - S().now);
  best = min(best, Rq.requestsNextDeadline(S().now));
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
  // Twin requests whose back-off is over go again, from the bytes kept in their slot.
  for (;;) {
    const slot = Rq.requestsDue(S().now, S().requestTimeoutMs);
    if (slot < 0) break;
    const s = Ob.slotAt(slot);
    if (s.state == Ob.HELD && s.kind == Ob.KIND_TWIN_REQUEST && s.token == Rq.dueRid) Ob.setState(s, Ob.UNSENT);
  }
  // Twin requests that failed or timed out (one not yet sent need not go at all).
  if (Rq.requestTakeDone(S().now)) {
    Ob.releaseTwin(Rq.doneSlot, Rq.doneRid);
    return setEvent(EV_TWIN_RESPONSE, Rq.doneExpired ? St.E_CLIENT_TIMEOUT : Rq.doneStatus, Rq.doneRid);
  }
  // Incoming packets.
  if (inSession(S().state)) {
    for (;;) {
      const type = decodeNext(changetype<Packet>(PKT));
      if (type == 0) break;
      if (type < 0) {
        drop(type == E_MQTT_PACKET_TOO_LARGE ? St.E_CLIENT_INCOMING_TOO_LARGE : type, true, -1, false);
        return takeRaised();
      }
      t = type == OVERSIZED_PUBLISH ? handleOversized(changetype<Packet>(PKT)) : handlePacket(type);
      if (t != EV_NONE) return t;
      if (S().state == STATE_CLOSING) break;
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
  go(IN_RESET);
  S().afterClose = STATE_STOPPED;
  S().nextPacketId = 1;
  S().nextToken = 1;
  S().nextRid = 1;
  S().pingOutstanding = 0;
  S().subscribeId = 0;
  S().timeSet = 0;
  S().clockStarted = 0;
  S().sinceAnchorMs = 0;
  S().bagLen = 0;
  S().bagMid = 0;
  forgetTelemetryCache();
  txReset();
  dropAcks();
  S().subscribedOnce = 0;
  S().connectedOnce = 0;
  S().resyncRid = 0;
  S().lastDesired = -1;
  S().attempt = 0;
  Ob.outboxReset();
  clearRaised();
  Rq.requestsReset();
  rxReset();
}

/** The machine's live buffers for a snapshot (its scalars are in ClientState): pending bytes, requests, acks. */
export function saveMachine(): void {
  saveTx();
  Rq.saveRequests();
}
export function restoreMachine(): void {
  restoreTx();
  Rq.restoreRequests();
  S().bagLen = 0;
  forgetTelemetryCache();
}
