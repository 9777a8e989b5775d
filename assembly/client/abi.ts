// Device client entry points (documented for board authors in boards/README.md). Integers and offsets only.
import { OK, E_BAD_ARGUMENT, E_BUFFER_TOO_SMALL } from "../status";
import { BAG_CAPACITY, RX_CAPACITY, OUTBOX_SLOT_COUNT } from "../profile";
import { rxWindow, rxSpace, rxCommit } from "../mqtt/stream";
import { bagIterBegin, bagIterNext, BAG_ITER_SIZE, BagIterator } from "../iothub/property-bag";
import { urlDecode } from "../iothub/urlencode";
import { inRange } from "../crypto/bytes";
import { EVENT, BagItem } from "./events";
import * as C from "./config";
import * as M from "./machine";
import * as Clock from "./clock";
import * as Tx from "./tx";
import { S, CLIENT_STATE, CLIENT_STATE_SIZE } from "./state";
import { SNAP, snapBegin, snapEnd, readBegin, readOk, putBytes, getBytes } from "../snapshot";
import { SNAPSHOT_CAPACITY, IS_MCU } from "../profile";
import { saveStream, restoreStream, rxReset } from "../mqtt/stream";
import { saveOutbox, restoreOutbox, compactForSave } from "./outbox";
import { saveEvents, restoreEvents } from "./events";
import { E_CLIENT_BAD_SNAPSHOT, twinError } from "./status";
import * as Store from "./store";
import { IO } from "../io";

/** Configures the device from its connection string (in linear memory). OK or a connection-string code. */
export function client_init(csPtr: usize, csLen: i32): i32 {
  if (!inRange(csPtr, csLen)) return E_BAD_ARGUMENT;
  M.resetMachine();
  return C.configure(csPtr, csLen);
}
/** IoT Plug and Play model id (sent as model-id in the username); 0 length = none. */
export function client_model_id_set(ptr: usize, len: i32): i32 { return inRange(ptr, len) ? C.setField(C.F_MODEL_ID, ptr, len) : E_BAD_ARGUMENT; }
/** Product/version string sent as DeviceClientType in the username; 0 length = none. */
export function client_type_set(ptr: usize, len: i32): i32 { return inRange(ptr, len) ? C.setField(C.F_CLIENT_TYPE, ptr, len) : E_BAD_ARGUMENT; }
/** client_option_set(OPT_*, value): keepalive, token lifetime, time-outs, back-off, features. */
export function client_option_set(opt: i32, value: i32): i32 { return C.setOption(opt, value); }
/** Seeds the jitter generator from the board's entropy. */
export function client_seed_set(seed: u32): void { Clock.seed(seed); }
/** Anchors wall-clock time: `unixSeconds` is now, at the board's monotonic `nowMs`. Needed for SAS tokens. */
export function client_time_set(unixSeconds: u32, nowMs: u32): void { Clock.setTime(unixSeconds, nowMs); }

/** Connect through this gateway (`host[:port]`) instead of the connection string's GatewayHostName/HostName; 0 length = none. */
export function client_gateway_set(ptr: usize, len: i32): i32 { return inRange(ptr, len) ? C.setField(C.F_GATEWAY, ptr, len) : E_BAD_ARGUMENT; }
/** Where the board should connect: the gateway's host (without its port) if there is one, else HostName. */
export function client_endpoint_ptr(): usize { return C.endpointPtr(); }
export function client_endpoint_len(): i32 { return C.endpointHostLen(); }
/** The port to connect to over `transport` (TRANSPORT_*): the gateway's own if it names one, else the transport's default. */
export function client_endpoint_port(transport: i32): i32 { return C.endpointPort(transport); }
/** The IoT Hub host name (for TLS SNI and certificate checks when no gateway is used). */
export function client_hostname_ptr(): usize { return C.fieldPtr(C.F_HOST); }
export function client_hostname_len(): i32 { return C.fieldLen(C.F_HOST); }
/** The device id (and module id, length 0 for a device) from the connection string. */
export function client_device_id_ptr(): usize { return C.fieldPtr(C.F_DEVICE); }
export function client_device_id_len(): i32 { return C.fieldLen(C.F_DEVICE); }
export function client_module_id_ptr(): usize { return C.fieldPtr(C.F_MODULE); }
export function client_module_id_len(): i32 { return C.fieldLen(C.F_MODULE); }
/** 1 when the device authenticates with an X.509 certificate the board supplies. */
export function client_x509_enabled(): i32 { return S().x509 ? 1 : 0; }

/** Starts connecting (a no-op while connecting or connected). OK, CLIENT_NOT_CONFIGURED, CLIENT_TIME_NOT_SET, or DPS_BUSY while a registration (dps_start) is under way. */
export function client_start(nowMs: u32): i32 { return M.start(nowMs); }
export function client_stop(nowMs: u32): void { M.stop(nowMs); }
/** 0 nothing, 1 open the transport, 2 close it (after writing what client_tx holds). */
export function client_wants(): i32 { return M.wants(); }
export function client_state(): i32 { return M.clientState(); }
export function client_transport_up(nowMs: u32): i32 { return M.transportUp(nowMs); }
export function client_transport_down(nowMs: u32): void { M.transportDown(nowMs); }

/** Received bytes: write up to client_rx_space() bytes at client_rx_window(), then client_rx_commit(n). */
export function client_rx_window(): usize { return rxWindow(); }
export function client_rx_space(): i32 { return rxSpace(); }
export function client_rx_commit(n: i32): i32 { return rxCommit(n); }
export function client_rx_capacity(): i32 { return RX_CAPACITY; }
/** Bytes to send: client_tx_len() bytes at client_tx_ptr(); report what was written with client_tx_consumed. */
export function client_tx_ptr(): usize { return Tx.txPtr(); }
export function client_tx_len(): i32 { return Tx.txLen(); }
export function client_tx_consumed(n: i32): i32 { return Tx.txConsumed(n); }

/** Runs the machine to `nowMs`; returns the next event type (0 = none) with its record at client_event_ptr(). */
export function client_poll(nowMs: u32): u32 { return M.poll(nowMs); }
export function client_event_ptr(): usize { return EVENT; }
/** Milliseconds until client_poll must run again even without I/O, or -1. */
export function client_next_timeout(): i32 { return M.nextTimeout(); }

/** Telemetry: begin, add properties (valueLen -1 = null) and system properties (SYS_*), then send. */
export function client_telemetry_begin(): void { M.telemetryBegin(); }
export function client_telemetry_property_add(name: usize, nameLen: i32, value: usize, valueLen: i32): i32 {
  if (!inRange(name, nameLen) || (valueLen > 0 && !inRange(value, valueLen))) return E_BAD_ARGUMENT;
  return M.telemetryProperty(name, nameLen, value, valueLen);
}
export function client_telemetry_system_add(which: i32, value: usize, valueLen: i32): i32 {
  if (!inRange(value, valueLen)) return E_BAD_ARGUMENT;
  return M.telemetrySystem(which, value, valueLen);
}
/**
 * Instead of client_telemetry_begin and adding them again: this message has the same properties (system and
 * application) as the last one sent. OK, or BAD_STATE when the core no longer has them (another device ran on it,
 * or properties were added since): begin and add them one by one then. Saves encoding a bag that does not change.
 */
export function client_telemetry_properties_repeat(): i32 { return M.telemetryRepeat(); }
/** Queues the message (qos 0 or 1): its token (> 0), reported later as acked or failed; or a status now. */
export function client_telemetry_send(payload: usize, payloadLen: i32, qos: i32): i32 {
  if (!inRange(payload, payloadLen)) return E_BAD_ARGUMENT;
  return M.telemetrySend(payload, payloadLen, qos);
}

// Store and forward (the record format is store.ts): the board writes every record the core gives it to its storage,
// in order, and hands the message records back with client_store_restore — at once, and after a reboot those that
// have no completion marker (the core checks each one first; a bad record is reported, never trusted).
/**
 * Telemetry for the board's store (QoS 1): the message built since client_telemetry_begin, with a message id when
 * it has none and its creation time, as a store record at client_store_ptr() (client_store_len() bytes, within
 * the IO window). It is not queued yet: write it to storage, then client_store_restore it. Its token, or a status.
 */
export function client_telemetry_store(payload: usize, payloadLen: i32, nowMs: u32): i32 {
  if (!inRange(payload, payloadLen)) return E_BAD_ARGUMENT;
  return M.telemetryStore(payload, payloadLen, nowMs);
}
/** Where client_telemetry_store and client_store_done write their record (the IO window). */
export function client_store_ptr(): usize { return IO; }
/** The length of the record last written or checked. */
export function client_store_len(): i32 { return Store.lastLen(); }
/** The completion marker for the message of `token` (its EV_TELEMETRY_ACKED), at client_store_ptr(): its length. */
export function client_store_done(token: u32): i32 { return Store.done(token); }
/**
 * Checks the record at ptr, of at most `len` bytes (the rest of what the board read): its length, with its
 * client_store_token() and client_store_kind() (STORE_*); CLIENT_STORE_TRUNCATED when the bytes end inside a
 * record, CLIENT_STORE_CORRUPT when it does not check out. Check every record at boot, before sending anything:
 * new messages then get tokens past the stored ones.
 */
export function client_store_check(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  return Store.check(ptr, len);
}
export function client_store_token(): u32 { return Store.lastToken(); }
export function client_store_kind(): i32 { return Store.lastKind(); }
/**
 * Queues a message record (checked first) as unsent, with its original token: the token, or CLIENT_STORE_CORRUPT,
 * CLIENT_STORE_TRUNCATED, BAD_ARGUMENT (not a message record), CLIENT_FOREIGN_TOPIC (a message of another device or
 * module: the store outlived a re-provisioning), CLIENT_CLOSED (stopped), CLIENT_QUEUE_FULL (the
 * outbox is a window on the store: try again after the next EV_TELEMETRY_ACKED or EV_TELEMETRY_FAILED).
 */
export function client_store_restore(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  return M.storeRestore(ptr, len);
}

/** How many messages the outbox holds (sent but unacknowledged, or waiting): the back-pressure bound. */
export function client_outbox_slots(): i32 { return OUTBOX_SLOT_COUNT; }

/** Acknowledges a C2D message (the token of its EV_C2D event) once the application has it. */
export function client_c2d_ack(packetId: u32): i32 { return M.ack(packetId); }
/** Answers a direct method: request id from its EV_METHOD event, status, JSON payload. */
export function client_method_respond(rid: usize, ridLen: i32, status: i32, payload: usize, payloadLen: i32): i32 {
  if (!inRange(rid, ridLen) || !inRange(payload, payloadLen)) return E_BAD_ARGUMENT;
  return M.methodRespond(rid, ridLen, status, payload, payloadLen);
}
/** Twin GET at the board's `nowMs` (its time-out counts from then): the request id (answered by EV_TWIN_RESPONSE with the same token) or a status. */
export function client_twin_get(nowMs: u32): i32 { return M.twinRequest(false, 0, 0, nowMs); }
/** Reported-properties PATCH with a JSON body: the request id or a status. */
export function client_twin_patch(body: usize, bodyLen: i32, nowMs: u32): i32 {
  if (!inRange(body, bodyLen)) return E_BAD_ARGUMENT;
  return M.twinRequest(true, body, bodyLen, nowMs);
}
/**
 * The status a twin answer of hub status `status` fails with: OK for a success (< 300), CLIENT_TWIN_THROTTLED
 * (429), CLIENT_TWIN_SERVER_ERROR (5xx), CLIENT_TWIN_REFUSED (any other); a negative status is returned as it is.
 */
export function client_twin_error(status: i32): i32 { return twinError(status); }
/** After reading the full twin: desired patches up to this $version are already applied. */
export function client_twin_desired_applied(version: u32): void { M.setDesiredVersion(<i64>version); }

// Property bags of C2D messages, decoded by the core into a BagItem.
const BAG_IT: usize = memory.data(BAG_ITER_SIZE, 16);
const ITEM: usize = memory.data(offsetof<BagItem>(), 16);
const NAME: usize = memory.data(BAG_CAPACITY, 16);
const VALUE: usize = memory.data(BAG_CAPACITY, 16);

export function client_bag_begin(ptr: usize, len: i32): i32 {
  if (!inRange(ptr, len)) return E_BAD_ARGUMENT;
  bagIterBegin(BAG_IT, ptr, len);
  return OK;
}
/** 1 with the next property decoded into client_bag_item_ptr(), 0 at the end, or a status for a malformed bag. */
export function client_bag_next(): i32 {
  const r = bagIterNext(BAG_IT);
  if (r <= 0) return r;
  const n = urlDecode(<usize>load<i32>(BAG_IT, offsetof<BagIterator>("namePtr")), load<i32>(BAG_IT, offsetof<BagIterator>("nameLen")), NAME, BAG_CAPACITY);
  if (n < 0) return n;
  const rawValueLen = load<i32>(BAG_IT, offsetof<BagIterator>("valueLen"));
  let v: i32 = -1;
  if (rawValueLen >= 0) {
    v = urlDecode(<usize>load<i32>(BAG_IT, offsetof<BagIterator>("valuePtr")), rawValueLen, VALUE, BAG_CAPACITY);
    if (v < 0) return v;
  }
  const item = changetype<BagItem>(ITEM);
  item.namePtr = <u32>NAME;
  item.nameLen = n;
  item.valuePtr = <u32>VALUE;
  item.valueLen = v;
  item.system = load<i32>(BAG_IT, offsetof<BagIterator>("system"));
  return 1;
}
export function client_bag_item_ptr(): usize { return ITEM; }

// Several devices on one instance (gateways): the host saves the current device's state, then restores the
// next one's. Snapshots are plain bytes at client_snapshot_ptr(); the host keeps them between turns.
/** A blank, unconfigured client with default options (for a device that has no snapshot yet). */
export function client_reset(): void {
  M.resetMachine();
  C.resetConfig();
  rxReset();
}
export function client_snapshot_ptr(): usize { return SNAP; }
export function client_snapshot_capacity(): i32 { return SNAPSHOT_CAPACITY; }
/** Writes this device's state at client_snapshot_ptr(): its length, or E_BUFFER_TOO_SMALL (profile too small). */
export function client_snapshot_save(): i32 {
  if (IS_MCU) return E_BUFFER_TOO_SMALL; // one device per microcontroller: compiled out of the MCU profile
  snapBegin();
  compactForSave(); // first: it moves arenaEnd, which ClientState holds
  putBytes(CLIENT_STATE, CLIENT_STATE_SIZE); // every scalar at once; then the live buffers
  C.saveConfig();
  M.saveMachine();
  saveOutbox();
  saveEvents();
  saveStream();
  const n = snapEnd();
  return n < 0 ? E_BUFFER_TOO_SMALL : n;
}
/** Makes the `len`-byte snapshot at client_snapshot_ptr() the current device. OK or CLIENT_BAD_SNAPSHOT (then reset). */
export function client_snapshot_restore(len: i32): i32 {
  if (IS_MCU) return E_CLIENT_BAD_SNAPSHOT;
  if (!readBegin(len) || getBytes(CLIENT_STATE, CLIENT_STATE_SIZE) != CLIENT_STATE_SIZE) { client_reset(); return E_CLIENT_BAD_SNAPSHOT; }
  C.restoreConfig();
  M.restoreMachine();
  restoreOutbox();
  restoreEvents();
  restoreStream();
  if (!readOk()) { client_reset(); return E_CLIENT_BAD_SNAPSHOT; }
  return OK;
}
