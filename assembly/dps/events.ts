// Events the provisioning client hands to the host, one per dps_poll() call, in a fixed record (DpsEventRecord).
// Views point into the receive buffer and stay valid until the next dps_poll or dps_rx_* call (the assigned hub
// and device id are also kept: dps_assigned_hub_ptr, dps_device_id_ptr, dps_connection_string).
import { D } from "./state";

export const DPS_EV_NONE: u32 = 0;
/** The service accepted the registration and is assigning: operation = its id, retryAfterMs = ms until the next poll. */
export const DPS_EV_ASSIGNING: u32 = 1;
/** A transient failure; the request or connection goes again in retryAfterMs. status = the cause (DPS_THROTTLED, DPS_SERVER_ERROR, DPS_TRANSPORT_CLOSED, DPS_CONNECT_TIMEOUT, DPS_REQUEST_TIMEOUT, DPS_SERVER_UNAVAILABLE, DPS_UNEXPECTED_PACKET). */
export const DPS_EV_RETRY: u32 = 2;
/** Assigned (the outcome, status OK): hub = assignedHub, device = deviceId, body = the whole answer, payload = registrationState.payload. */
export const DPS_EV_ASSIGNED: u32 = 3;
/** The registration ended without an assignment (the outcome): status = DPS_FAILED, DPS_DISABLED, DPS_THROTTLED, DPS_UNAUTHORIZED, DPS_TIMEOUT…; body, message and errorCode when the service said why. */
export const DPS_EV_FAILED: u32 = 4;

/** The event record at dps_event_ptr(), zeroed for each event (lengths 0 when a view is absent). */
@unmanaged
export class DpsEventRecord {
  /** DPS_EV_* (0 = none) */
  type: u32;
  /** OK, the outcome, or the cause of a retry (a DPS_* status) */
  status: i32;
  /** the service's status in the answer's topic (200, 202, 401, 429…), 0 when there was no answer */
  serviceStatus: i32;
  /** ms until the next request or connection attempt (DPS_EV_ASSIGNING, DPS_EV_RETRY), else -1 */
  retryAfterMs: i32;
  /** the service's errorCode (e.g. 401002), 0 when absent; for DPS_TIMEOUT the last cause */
  errorCode: i32;
  /** assignedHub: pointer */
  hubPtr: u32;
  /** assignedHub: length */
  hubLen: i32;
  /** deviceId: pointer */
  devicePtr: u32;
  /** deviceId: length */
  deviceLen: i32;
  /** the answer's whole JSON body: pointer */
  bodyPtr: u32;
  /** body: length */
  bodyLen: i32;
  /** registrationState.payload (JSON, as the service echoes it): pointer */
  payloadPtr: u32;
  /** payload: length */
  payloadLen: i32;
  /** operationId: pointer */
  operationPtr: u32;
  /** operationId: length */
  operationLen: i32;
  /** the service's message (errorMessage or message): pointer */
  messagePtr: u32;
  /** message: length */
  messageLen: i32;
}
const EVENT_SIZE: i32 = offsetof<DpsEventRecord>();
export const DPS_EVENT: usize = memory.data(EVENT_SIZE, 16);
// @ts-ignore: decorator
@inline export function ev(): DpsEventRecord { return changetype<DpsEventRecord>(DPS_EVENT); }

export function setEvent(type: u32, status: i32, serviceStatus: i32): u32 {
  for (let i = 0; i < EVENT_SIZE; i += 4) store<u32>(DPS_EVENT + <usize>i, 0);
  const e = ev();
  e.type = type;
  e.status = status;
  e.serviceStatus = serviceStatus;
  e.retryAfterMs = -1;
  return type;
}

// The ring of view-less events (type, status, retryAfterMs, errorCode), for outcomes that arrive with no packet.
const RING_SIZE: i32 = 4;
const RING: usize = memory.data(RING_SIZE * 16, 16);

export function raise(type: u32, status: i32, retryAfterMs: i32, errorCode: i32): void {
  const d = D();
  if (d.ringCount == RING_SIZE) { d.ringHead = (d.ringHead + 1) % RING_SIZE; d.ringCount--; } // keep the newest
  const slot = RING + <usize>(((d.ringHead + d.ringCount) % RING_SIZE) * 16);
  store<u32>(slot, type);
  store<i32>(slot, status, 4);
  store<i32>(slot, retryAfterMs, 8);
  store<i32>(slot, errorCode, 12);
  d.ringCount++;
}

/** Moves the oldest raised event into the record; its type or DPS_EV_NONE. */
export function takeRaised(): u32 {
  const d = D();
  if (d.ringCount == 0) return DPS_EV_NONE;
  const slot = RING + <usize>(d.ringHead * 16);
  const type = setEvent(load<u32>(slot), load<i32>(slot, 4), 0);
  ev().retryAfterMs = load<i32>(slot, 8);
  ev().errorCode = load<i32>(slot, 12);
  d.ringHead = (d.ringHead + 1) % RING_SIZE;
  d.ringCount--;
  return type;
}
