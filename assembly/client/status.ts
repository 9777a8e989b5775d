// Status codes of the device client (-300 .. -399): refusals of a call, and reasons carried by events.

/** No successful client_init. */
export const E_CLIENT_NOT_CONFIGURED: i32 = -300;
/** Back-pressure: the outbox (or the pending-ack list, 32) has no free slot or no room for this message: retry later. */
export const E_CLIENT_QUEUE_FULL: i32 = -301;
/** The message is larger than TX_SIZE or IoT Hub's limit (256 KiB D2C, 128 KiB method response); nothing was sent. */
export const E_CLIENT_MESSAGE_TOO_LARGE: i32 = -302;
/** Reserved. */
export const E_CLIENT_NOT_CONNECTED: i32 = -303;
/** CONNACK return code 1 (unacceptable protocol version): not retried. */
export const E_CLIENT_CONNACK_PROTOCOL: i32 = -304;
/** CONNACK return code 2 (identifier rejected): not retried. */
export const E_CLIENT_CONNACK_ID_REJECTED: i32 = -305;
/** CONNACK return code 3 (server unavailable): the only refusal that is retried. */
export const E_CLIENT_CONNACK_SERVER_UNAVAILABLE: i32 = -306;
/** CONNACK return code 4 (bad user name or password): the hub could not read the credentials (a malformed SAS token, or a user name for another hub); not retried. */
export const E_CLIENT_CONNACK_BAD_CREDENTIALS: i32 = -307;
/** CONNACK return code 5 (not authorized), or any other: the device is not registered on this hub, is disabled, or its key or certificate does not match; not retried. */
export const E_CLIENT_CONNACK_NOT_AUTHORIZED: i32 = -308;
/** No PINGRESP in time: the connection is presumed dead. */
export const E_CLIENT_PING_TIMEOUT: i32 = -309;
/** No CONNACK (or SUBACK) in time after the transport came up. */
export const E_CLIENT_CONNECT_TIMEOUT: i32 = -310;
/** The board reported the transport closed (or it could not be opened: the error's cause says why). */
export const E_CLIENT_TRANSPORT_CLOSED: i32 = -311;
/** A planned reconnect with a fresh SAS token. */
export const E_CLIENT_TOKEN_RENEWAL: i32 = -312;
/** The application closed the client. */
export const E_CLIENT_CLOSED: i32 = -313;
/** A twin request got no answer in time. */
export const E_CLIENT_TIMEOUT: i32 = -314;
/** A twin request was sent on a connection that dropped before its answer. */
export const E_CLIENT_DISCONNECTED: i32 = -315;
/** The hub refused a subscription (SUBACK 0x80). */
export const E_CLIENT_SUBSCRIBE_REFUSED: i32 = -316;
/** The hub sent a packet a client never receives (CONNECT, SUBSCRIBE...). */
export const E_CLIENT_UNEXPECTED_PACKET: i32 = -317;
/** A PUBLISH on a topic the client does not know. */
export const E_CLIENT_UNEXPECTED_TOPIC: i32 = -318;
/** Too many twin requests awaiting an answer. */
export const E_CLIENT_TOO_MANY_REQUESTS: i32 = -319;
/** The message's properties do not fit the property bag. */
export const E_CLIENT_PROPERTIES_TOO_LARGE: i32 = -320;
/** client_telemetry_send with a qos other than 0 or 1. */
export const E_CLIENT_BAD_QOS: i32 = -321;
/** SAS authentication needs the Unix time (client_time_set) before connecting. */
export const E_CLIENT_TIME_NOT_SET: i32 = -322;
/** An incoming message is larger than this profile's receive buffer: refused, never truncated. */
export const E_CLIENT_INCOMING_TOO_LARGE: i32 = -323;
/** client_snapshot_restore was given bytes that are not a snapshot of this build and profile. */
export const E_CLIENT_BAD_SNAPSHOT: i32 = -325;
/** An unknown option number. */
export const E_CLIENT_BAD_OPTION: i32 = -324;
/** The hub sent a message addressed to another identity (e.g. C2D on `devices/OTHER/…`): reported, never delivered. */
export const E_CLIENT_FOREIGN_TOPIC: i32 = -326;

/** The hub answered a twin request 429 (throttled), and OPT_TWIN_RETRIES resends did not help. */
export const E_CLIENT_TWIN_THROTTLED: i32 = -327;
/** The hub answered a twin request 5xx, and OPT_TWIN_RETRIES resends did not help. */
export const E_CLIENT_TWIN_SERVER_ERROR: i32 = -328;
/** The hub refused a twin request (a 3xx or 4xx other than 429): final, not retried. */
export const E_CLIENT_TWIN_REFUSED: i32 = -329;

/** Store and forward: a store record whose magic, format version, length, CRC-32 or message does not check out; never trusted. */
export const E_CLIENT_STORE_CORRUPT: i32 = -330;
/** Store and forward: the bytes end inside a record (a write torn by a power cut or a kill): the record is not used. */
export const E_CLIENT_STORE_TRUNCATED: i32 = -331;
/** Store and forward: the board's store is full (its bound on messages or bytes): back-pressure, nothing was stored. */
export const E_CLIENT_STORE_FULL: i32 = -332;

/** The status a twin request answered `status` by the hub fails with, or OK for a success (see client_twin_error). */
export function twinError(status: i32): i32 {
  if (status < 0) return status;
  if (status < 300) return 0;
  if (status == 429) return E_CLIENT_TWIN_THROTTLED;
  if (status >= 500 && status <= 599) return E_CLIENT_TWIN_SERVER_ERROR;
  return E_CLIENT_TWIN_REFUSED;
}

export function clientStatusName(code: i32): string | null {
  switch (code) {
    case E_CLIENT_NOT_CONFIGURED: return "CLIENT_NOT_CONFIGURED";
    case E_CLIENT_QUEUE_FULL: return "CLIENT_QUEUE_FULL";
    case E_CLIENT_MESSAGE_TOO_LARGE: return "CLIENT_MESSAGE_TOO_LARGE";
    case E_CLIENT_NOT_CONNECTED: return "CLIENT_NOT_CONNECTED";
    case E_CLIENT_CONNACK_PROTOCOL: return "CLIENT_CONNACK_PROTOCOL";
    case E_CLIENT_CONNACK_ID_REJECTED: return "CLIENT_CONNACK_ID_REJECTED";
    case E_CLIENT_CONNACK_SERVER_UNAVAILABLE: return "CLIENT_CONNACK_SERVER_UNAVAILABLE";
    case E_CLIENT_CONNACK_BAD_CREDENTIALS: return "CLIENT_CONNACK_BAD_CREDENTIALS";
    case E_CLIENT_CONNACK_NOT_AUTHORIZED: return "CLIENT_CONNACK_NOT_AUTHORIZED";
    case E_CLIENT_PING_TIMEOUT: return "CLIENT_PING_TIMEOUT";
    case E_CLIENT_CONNECT_TIMEOUT: return "CLIENT_CONNECT_TIMEOUT";
    case E_CLIENT_TRANSPORT_CLOSED: return "CLIENT_TRANSPORT_CLOSED";
    case E_CLIENT_TOKEN_RENEWAL: return "CLIENT_TOKEN_RENEWAL";
    case E_CLIENT_CLOSED: return "CLIENT_CLOSED";
    case E_CLIENT_TIMEOUT: return "CLIENT_TIMEOUT";
    case E_CLIENT_DISCONNECTED: return "CLIENT_DISCONNECTED";
    case E_CLIENT_SUBSCRIBE_REFUSED: return "CLIENT_SUBSCRIBE_REFUSED";
    case E_CLIENT_UNEXPECTED_PACKET: return "CLIENT_UNEXPECTED_PACKET";
    case E_CLIENT_UNEXPECTED_TOPIC: return "CLIENT_UNEXPECTED_TOPIC";
    case E_CLIENT_TOO_MANY_REQUESTS: return "CLIENT_TOO_MANY_REQUESTS";
    case E_CLIENT_PROPERTIES_TOO_LARGE: return "CLIENT_PROPERTIES_TOO_LARGE";
    case E_CLIENT_BAD_QOS: return "CLIENT_BAD_QOS";
    case E_CLIENT_TIME_NOT_SET: return "CLIENT_TIME_NOT_SET";
    case E_CLIENT_INCOMING_TOO_LARGE: return "CLIENT_INCOMING_TOO_LARGE";
    case E_CLIENT_BAD_OPTION: return "CLIENT_BAD_OPTION";
    case E_CLIENT_BAD_SNAPSHOT: return "CLIENT_BAD_SNAPSHOT";
    case E_CLIENT_FOREIGN_TOPIC: return "CLIENT_FOREIGN_TOPIC";
    case E_CLIENT_TWIN_THROTTLED: return "CLIENT_TWIN_THROTTLED";
    case E_CLIENT_TWIN_SERVER_ERROR: return "CLIENT_TWIN_SERVER_ERROR";
    case E_CLIENT_TWIN_REFUSED: return "CLIENT_TWIN_REFUSED";
    case E_CLIENT_STORE_CORRUPT: return "CLIENT_STORE_CORRUPT";
    case E_CLIENT_STORE_TRUNCATED: return "CLIENT_STORE_TRUNCATED";
    case E_CLIENT_STORE_FULL: return "CLIENT_STORE_FULL";
  }
  return null;
}
