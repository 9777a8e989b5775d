// Provisioning (Device Provisioning Service over MQTT) entry points, documented for board authors in
// boards/README.md. The same board contract as the device client (client_*): the board opens and closes the
// transport when dps_wants() says so, writes dps_tx, feeds received bytes through dps_rx, and polls events.
// A device provisions first, then configures the client with dps_connection_string and connects to its hub:
// the two share the receive buffer, so they do not run at once (dps_start says DPS_BUSY while the client is
// connected, and client_start says DPS_BUSY while a registration runs).
import { E_BAD_ARGUMENT } from "../status";
import { inRange } from "../crypto/bytes";
import { rxWindow, rxSpace, rxCommit } from "../mqtt/stream";
import * as C from "./config";
import * as M from "./machine";
import { D, resetDpsState, setTime } from "./state";
import { DPS_EVENT } from "./events";

/**
 * A new registration: id scope and registration id (the MQTT client id). Clears the credential, payload, host
 * (back to global.azure-devices-provisioning.net), options, clock and any earlier outcome. OK or IOTHUB_ID_*.
 */
export function dps_init(scope: usize, scopeLen: i32, reg: usize, regLen: i32): i32 {
  if (!inRange(scope, scopeLen) || !inRange(reg, regLen)) return E_BAD_ARGUMENT;
  M.reset();
  resetDpsState();
  return C.configure(scope, scopeLen, reg, regLen);
}
/** An individual enrollment's symmetric key (base64). */
export function dps_symmetric_key_set(key: usize, keyLen: i32): i32 { return inRange(key, keyLen) ? C.setSymmetricKey(key, keyLen) : E_BAD_ARGUMENT; }
/** A group enrollment's symmetric key (base64): the device key is derived as base64(HMAC-SHA256(groupKey, registrationId)). */
export function dps_group_key_set(key: usize, keyLen: i32): i32 { return inRange(key, keyLen) ? C.setGroupKey(key, keyLen) : E_BAD_ARGUMENT; }
/** 1: X.509 (the board presents the device certificate in TLS; no password); 0: back to no credential. */
export function dps_x509_set(on: i32): i32 { return C.setX509(on); }
/** The registration's payload: one JSON value sent as "payload" (IoT Plug and Play: {"modelId":…}); 0 length = none. */
export function dps_payload_set(ptr: usize, len: i32): i32 { return inRange(ptr, len) ? C.setPayload(ptr, len) : E_BAD_ARGUMENT; }
/** The largest payload this profile sends. */
export function dps_payload_capacity(): i32 { return C.DPS_PAYLOAD_CAPACITY; }
/** The provisioning service's endpoint, `host[:port]` (default global.azure-devices-provisioning.net). */
export function dps_host_set(ptr: usize, len: i32): i32 { return inRange(ptr, len) ? C.setHost(ptr, len) : E_BAD_ARGUMENT; }
/** Where the board should connect (and the TLS server name): the host without its port. */
export function dps_endpoint_ptr(): usize { return C.fieldPtr(C.F_HOST); }
export function dps_endpoint_len(): i32 { return C.endpointHostLen(); }
/** The port to connect to over `transport` (TRANSPORT_*): the host's own if it names one, else the transport's default. */
export function dps_endpoint_port(transport: i32): i32 { return C.endpointPort(transport); }
/** dps_option_set(DPS_OPT_*, value): time-outs, retry-after bounds, resends, back-off, token lifetime, keepalive. */
export function dps_option_set(opt: i32, value: i32): i32 { return C.setOption(opt, value); }
/** Seeds the reconnect jitter from the board's entropy (0 keeps the default). */
export function dps_seed_set(seed: u32): void { if (seed != 0) D().rng = seed; }
/** Anchors wall-clock time: `unixSeconds` is now, at the board's monotonic `nowMs`. Needed for SAS tokens. */
export function dps_time_set(unixSeconds: u32, nowMs: u32): void { setTime(unixSeconds, nowMs); }

/** Starts the registration (a no-op while one runs). OK, DPS_NOT_CONFIGURED, DPS_TIME_NOT_SET or DPS_BUSY. */
export function dps_start(nowMs: u32): i32 { return M.start(nowMs); }
/** Ends the registration (DPS_CLOSED) unless it is over. */
export function dps_stop(nowMs: u32): void { M.stop(nowMs); }
/** WANT_NOTHING, WANT_OPEN (open the transport, then dps_transport_up) or WANT_CLOSE (write dps_tx, close, dps_transport_down). */
export function dps_wants(): i32 { return M.wants(); }
export function dps_state(): i32 { return M.dpsState(); }
/** The outcome once DPS_STATE_DONE: OK (assigned) or a DPS_* status; BAD_STATE before. */
export function dps_result(): i32 { return M.result(); }
export function dps_transport_up(nowMs: u32): i32 { return M.transportUp(nowMs); }
export function dps_transport_down(nowMs: u32): void { M.transportDown(nowMs); }

/** Received bytes: write up to dps_rx_space() bytes at dps_rx_window(), then dps_rx_commit(n). */
export function dps_rx_window(): usize { return rxWindow(); }
export function dps_rx_space(): i32 { return rxSpace(); }
export function dps_rx_commit(n: i32): i32 { return rxCommit(n); }
/** Bytes to send: dps_tx_len() bytes at dps_tx_ptr(); report what was written with dps_tx_consumed. */
export function dps_tx_ptr(): usize { return M.txPtr(); }
export function dps_tx_len(): i32 { return M.txLen(); }
export function dps_tx_consumed(n: i32): i32 { return M.txConsumed(n); }

/** Runs the machine to `nowMs`; returns the next event type (DPS_EV_*, 0 = none) with its record at dps_event_ptr(). */
export function dps_poll(nowMs: u32): u32 { return M.poll(nowMs); }
export function dps_event_ptr(): usize { return DPS_EVENT; }
/** Milliseconds until dps_poll must run again even without I/O, or -1. */
export function dps_next_timeout(): i32 { return M.nextTimeout(); }

/** After DPS_EV_ASSIGNED (kept until dps_init or dps_start): the assigned hub's host name and the device id. */
export function dps_assigned_hub_ptr(): usize { return C.fieldPtr(C.F_HUB); }
export function dps_assigned_hub_len(): i32 { return C.fieldLen(C.F_HUB); }
export function dps_device_id_ptr(): usize { return C.fieldPtr(C.F_DEVICE); }
export function dps_device_id_len(): i32 { return C.fieldLen(C.F_DEVICE); }
/**
 * After DPS_EV_ASSIGNED: the device's connection string for client_init, `HostName={assignedHub};DeviceId={deviceId};`
 * then `SharedAccessKey={the device key, derived for a group}` or `x509=true`. Its length, BAD_STATE or BUFFER_TOO_SMALL.
 */
export function dps_connection_string(out: usize, cap: i32): i32 {
  if (!inRange(out, cap)) return E_BAD_ARGUMENT;
  return M.connectionString(out, cap);
}
