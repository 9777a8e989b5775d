// Inbound dispatch: what a decoded PUBLISH from the hub means (C2D, a method call, a twin answer, a desired
// patch, or a protocol violation), turned into the event the host polls. Packets that drive the connection
// (CONNACK, SUBACK, PUBACK, PINGRESP) are handled by the machine (machine.ts).
import { Packet, PACKET_SIZE } from "../mqtt/packet";
import {
  number as parseDecimal, classifyTopic, TOPIC_RESULT_SIZE, TopicResult, TOPIC_C2D, TOPIC_TWIN_RESPONSE,
  TOPIC_TWIN_DESIRED, TOPIC_METHOD_REQUEST,
} from "../iothub/parsers";
import * as C from "./config";
import * as St from "./status";
import * as Rq from "./requests";
import * as Ob from "./outbox";
import { retryDelay, jitterFrom, statusRetriable } from "../iothub/retry";
import { random } from "./clock";
import { S } from "./state";
import { ack, methodRespond } from "./machine";
import { objectMember, memberStart, memberLen, smallNatural } from "../iothub/twin-document";
import { EV_NONE, EV_C2D, EV_METHOD, EV_TWIN_RESPONSE, EV_TWIN_RETRY, EV_DESIRED, EV_ERROR, setEvent, setView, setVersion, setExtra } from "./events";

/** The packet just decoded. */
export const PKT: usize = memory.data(PACKET_SIZE, 16);
const TOPIC_RES: usize = memory.data(TOPIC_RESULT_SIZE, 16);
// @ts-ignore: decorator
@inline function topic(): TopicResult { return changetype<TopicResult>(TOPIC_RES); }

export function handlePublish(p: Packet): u32 {
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
    const c2dBagLen = topic().bagLen;
    setView(1, <usize>topic().bagPtr, c2dBagLen > 0 ? c2dBagLen : 0);
    return EV_C2D;
  }
  if (kind == TOPIC_METHOD_REQUEST) {
    setEvent(EV_METHOD, 0, 0);
    setView(0, <usize>topic().namePtr, topic().nameLen);
    setView(1, <usize>topic().ridPtr, topic().ridLen);
    setView(2, p.payloadPtr, <i32>p.payloadLen);
    setExtra(componentSplit(<usize>topic().namePtr, topic().nameLen));
    return EV_METHOD;
  }
  if (kind == TOPIC_TWIN_RESPONSE) {
    const rid = parseDecimal(<usize>topic().ridPtr, topic().ridLen);
    const i = Rq.requestFind(rid);
    if (i < 0) return EV_NONE; // an answer to a request that already timed out
    const status = topic().status;
    const attempt = <i32>Rq.requestAttempt(i);
    if (statusRetriable(status) && attempt < S().twinRetries) {
      // Throttled or a server error: the same request goes again after the back-off delay for this attempt.
      const s = S();
      const delay = retryDelay(0, attempt < 30 ? attempt : 30, s.retryMinMs, s.retryMaxMs, jitterFrom(random(), s.retryJitterMs));
      Rq.requestBackoff(i, s.now + <u32>delay);
      setEvent(EV_TWIN_RETRY, status, <u32>rid);
      setExtra(delay);
      return EV_TWIN_RETRY;
    }
    Ob.releaseTwin(Rq.requestClose(i), <u32>rid);
    if (<u32>rid == S().resyncRid) { S().resyncRid = 0; return resynced(status, p); }
    setEvent(EV_TWIN_RESPONSE, status, <u32>rid);
    const v = topic().version;
    setVersion(v >= 0 ? <u32>v : 0);
    setView(0, p.payloadPtr, <i32>p.payloadLen);
    return EV_TWIN_RESPONSE;
  }
  if (kind == TOPIC_TWIN_DESIRED) {
    const v = topic().version;
    if (v <= S().lastDesired) return EV_NONE; // older or repeated: already applied
    S().lastDesired = v;
    setEvent(EV_DESIRED, 0, 0);
    setVersion(<u32>v);
    setView(0, p.payloadPtr, <i32>p.payloadLen);
    return EV_DESIRED;
  }
  setEvent(EV_ERROR, St.E_CLIENT_UNEXPECTED_TOPIC, 0);
  setView(0, p.topicPtr, <i32>p.topicLen);
  return EV_ERROR;
}

/**
 * IoT Plug and Play names a component's command `{component}*{command}`: the offset of the first '*' in the method
 * name, or -1 for a command of the default component (no '*', or one at either end).
 */
function componentSplit(p: usize, len: i32): i32 {
  for (let i: i32 = 1; i < len - 1; i++) if (load<u8>(p + <usize>i) == 0x2A) return i;
  return -1;
}

/**
 * The answer to the client's own twin read after a reconnect: the desired document, if its $version is newer than
 * the last one delivered, becomes one EV_DESIRED with that version (later patches of that version or older are then
 * dropped as repeats). Anything else — an older document, a refusal — is nothing the application must act on.
 */
function resynced(status: i32, p: Packet): u32 {
  if (status != 200) return EV_NONE;
  const body = p.payloadPtr, len = <i32>p.payloadLen;
  if (!objectMember(body, len, "desired")) return EV_NONE;
  const dPtr = body + <usize>memberStart(), dLen = memberLen();
  if (!objectMember(dPtr, dLen, "$version")) return EV_NONE;
  const v = <i64>smallNatural(dPtr + <usize>memberStart(), memberLen());
  if (v < 0 || v <= S().lastDesired) return EV_NONE;
  S().lastDesired = v;
  setEvent(EV_DESIRED, 0, 0);
  setVersion(<u32>v);
  setView(0, dPtr, dLen);
  return EV_DESIRED;
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
export function handleOversized(p: Packet): u32 {
  const kind = classifyTopic(p.topicPtr, <i32>p.topicLen, TOPIC_RES);
  if (p.qos > 0) ack(p.messageId);
  if (kind == TOPIC_TWIN_RESPONSE) {
    const rid = parseDecimal(<usize>topic().ridPtr, topic().ridLen);
    const i = Rq.requestFind(rid);
    if (i >= 0) {
      Ob.releaseTwin(Rq.requestClose(i), <u32>rid);
      return setEvent(EV_TWIN_RESPONSE, St.E_CLIENT_INCOMING_TOO_LARGE, <u32>rid);
    }
  } else if (kind == TOPIC_METHOD_REQUEST) {
    methodRespond(<usize>topic().ridPtr, topic().ridLen, 413, 0, 0);
  }
  setEvent(EV_ERROR, St.E_CLIENT_INCOMING_TOO_LARGE, p.messageId);
  setView(0, p.topicPtr, <i32>p.topicLen);
  setExtra(<i32>p.payloadLen);
  return EV_ERROR;
}

export function connackCode(rc: u32): i32 {
  switch (rc) {
    case 1: return St.E_CLIENT_CONNACK_PROTOCOL;
    case 2: return St.E_CLIENT_CONNACK_ID_REJECTED;
    case 3: return St.E_CLIENT_CONNACK_SERVER_UNAVAILABLE;
    case 4: return St.E_CLIENT_CONNACK_BAD_CREDENTIALS;
  }
  return St.E_CLIENT_CONNACK_NOT_AUTHORIZED;
}

