// Status codes of the provisioning client (-400 .. -499): refusals of a call, and the outcomes and causes its
// events carry. The outcome of a registration is OK (assigned) or one of these, by name.

/** No dps_init, or no credential (dps_symmetric_key_set, dps_group_key_set or dps_x509_set). */
export const E_DPS_NOT_CONFIGURED: i32 = -400;
/** SAS authentication needs the Unix time (dps_time_set) before connecting. */
export const E_DPS_TIME_NOT_SET: i32 = -401;
/** The service answered the registration with status "failed" (the event's errorCode and message say why): final. */
export const E_DPS_FAILED: i32 = -402;
/** The enrollment (or its group) is disabled: the service answered status "disabled"; final. */
export const E_DPS_DISABLED: i32 = -403;
/** The service answered 429 (throttled) and DPS_OPT_RETRIES resends, each after its retry-after, did not help. */
export const E_DPS_THROTTLED: i32 = -404;
/** The service answered 5xx and DPS_OPT_RETRIES resends, each after its retry-after, did not help. */
export const E_DPS_SERVER_ERROR: i32 = -405;
/** The service refused the credentials (CONNACK 4 or 5, or an answer 401): no enrollment has this registration id in this id scope, or the key or certificate does not match it; final. */
export const E_DPS_UNAUTHORIZED: i32 = -406;
/** The service answered 404 (not found): final. */
export const E_DPS_NOT_FOUND: i32 = -407;
/** The service refused the request (an answer 3xx/4xx other than 401, 404, 429; CONNACK 1 or 2; a refused subscription): final. */
export const E_DPS_REFUSED: i32 = -408;
/** The registration did not finish within DPS_OPT_REGISTRATION_TIMEOUT_MS (the event's errorCode holds the last transient cause, a DPS_* status). */
export const E_DPS_TIMEOUT: i32 = -409;
/** The service's answer could not be read (not JSON, no operationId to poll, an assignment without assignedHub or deviceId, an unknown status): final. */
export const E_DPS_BAD_ANSWER: i32 = -410;
/** An answer larger than this profile's receive buffer: refused, never truncated; final. */
export const E_DPS_ANSWER_TOO_LARGE: i32 = -411;
/** dps_payload_set was given something that is not one JSON value. */
export const E_DPS_BAD_PAYLOAD: i32 = -412;
/** The registration payload is larger than this profile's DPS payload buffer. */
export const E_DPS_PAYLOAD_TOO_LARGE: i32 = -413;
/** The application stopped the registration (dps_stop). */
export const E_DPS_CLOSED: i32 = -414;
/** The transport closed (or could not be opened) during the registration: retried with back-off. */
export const E_DPS_TRANSPORT_CLOSED: i32 = -415;
/** No CONNACK (or SUBACK) in time after the transport came up: retried with back-off. */
export const E_DPS_CONNECT_TIMEOUT: i32 = -416;
/** A request got no answer within DPS_OPT_REQUEST_TIMEOUT_MS: sent again. */
export const E_DPS_REQUEST_TIMEOUT: i32 = -417;
/** CONNACK return code 3 (server unavailable): retried with back-off. */
export const E_DPS_SERVER_UNAVAILABLE: i32 = -418;
/** The service sent a packet a client never receives, or a malformed one: the connection is dropped and retried. */
export const E_DPS_UNEXPECTED_PACKET: i32 = -419;
/** An unknown DPS_OPT_* option number. */
export const E_DPS_BAD_OPTION: i32 = -420;
/** The receive buffer is in use by the other client: dps_start while the device client is in session, or client_start while a registration runs. Provision first, then start the client. */
export const E_DPS_BUSY: i32 = -421;

export function dpsStatusName(code: i32): string | null {
  switch (code) {
    case E_DPS_NOT_CONFIGURED: return "DPS_NOT_CONFIGURED";
    case E_DPS_TIME_NOT_SET: return "DPS_TIME_NOT_SET";
    case E_DPS_FAILED: return "DPS_FAILED";
    case E_DPS_DISABLED: return "DPS_DISABLED";
    case E_DPS_THROTTLED: return "DPS_THROTTLED";
    case E_DPS_SERVER_ERROR: return "DPS_SERVER_ERROR";
    case E_DPS_UNAUTHORIZED: return "DPS_UNAUTHORIZED";
    case E_DPS_NOT_FOUND: return "DPS_NOT_FOUND";
    case E_DPS_REFUSED: return "DPS_REFUSED";
    case E_DPS_TIMEOUT: return "DPS_TIMEOUT";
    case E_DPS_BAD_ANSWER: return "DPS_BAD_ANSWER";
    case E_DPS_ANSWER_TOO_LARGE: return "DPS_ANSWER_TOO_LARGE";
    case E_DPS_BAD_PAYLOAD: return "DPS_BAD_PAYLOAD";
    case E_DPS_PAYLOAD_TOO_LARGE: return "DPS_PAYLOAD_TOO_LARGE";
    case E_DPS_CLOSED: return "DPS_CLOSED";
    case E_DPS_TRANSPORT_CLOSED: return "DPS_TRANSPORT_CLOSED";
    case E_DPS_CONNECT_TIMEOUT: return "DPS_CONNECT_TIMEOUT";
    case E_DPS_REQUEST_TIMEOUT: return "DPS_REQUEST_TIMEOUT";
    case E_DPS_SERVER_UNAVAILABLE: return "DPS_SERVER_UNAVAILABLE";
    case E_DPS_UNEXPECTED_PACKET: return "DPS_UNEXPECTED_PACKET";
    case E_DPS_BAD_OPTION: return "DPS_BAD_OPTION";
    case E_DPS_BUSY: return "DPS_BUSY";
  }
  return null;
}
