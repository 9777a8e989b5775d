// The device client's options (client_option_set), their defaults, and the feature bits of OPT_FEATURES.

// Options (client_option_set): integers with defaults chosen for IoT Hub.
/** MQTT keepalive in seconds, 0..1177 (the hub's maximum); 0 = no PINGREQ */
export const OPT_KEEPALIVE_S: i32 = 1;
/** SAS token lifetime in seconds, >= 1; the client reconnects with a fresh token at 80 % of it (90 % while a twin answer is on its way) */
export const OPT_TOKEN_LIFETIME_S: i32 = 2;
/** transport up → CONNACK and SUBACK */
export const OPT_CONNECT_TIMEOUT_MS: i32 = 3;
/** a twin request → its answer */
export const OPT_REQUEST_TIMEOUT_MS: i32 = 4;
/** back-off: min(min·2^attempt, max) + jitter, capped at max */
export const OPT_RETRY_MIN_MS: i32 = 5;
/** the back-off's cap */
export const OPT_RETRY_MAX_MS: i32 = 6;
/** jitter added to the back-off, drawn from client_seed_set */
export const OPT_RETRY_JITTER_MS: i32 = 7;
/** connected this long → the attempt counter starts over */
export const OPT_STABLE_MS: i32 = 8;
/** which topics are subscribed: FEATURE_* bits */
export const OPT_FEATURES: i32 = 9;
/** PINGREQ → PINGRESP */
export const OPT_PING_TIMEOUT_MS: i32 = 10;
/** a twin request answered 429 (throttled) or 5xx is sent again this many times, after the back-off delay */
export const OPT_TWIN_RETRIES: i32 = 11;
/** 1: after every reconnect the client reads the twin and reports a desired document newer than the last one delivered as one EV_DESIRED (desired updates made while the device was away are not missed); 0: off */
export const OPT_TWIN_RESYNC: i32 = 12;

export const DEFAULT_KEEPALIVE_S: i32 = 60;
export const DEFAULT_TOKEN_LIFETIME_S: i32 = 3600;
export const DEFAULT_CONNECT_TIMEOUT_MS: i32 = 30000;
export const DEFAULT_REQUEST_TIMEOUT_MS: i32 = 30000;
export const DEFAULT_RETRY_MIN_MS: i32 = 1000;
export const DEFAULT_RETRY_MAX_MS: i32 = 100000;
export const DEFAULT_RETRY_JITTER_MS: i32 = 5000;
export const DEFAULT_STABLE_MS: i32 = 30000;
export const DEFAULT_FEATURES: i32 = 7;
export const DEFAULT_PING_TIMEOUT_MS: i32 = 30000;
export const DEFAULT_TWIN_RETRIES: i32 = 3;
export const DEFAULT_TWIN_RESYNC: i32 = 1;
export const MAX_KEEPALIVE_S: i32 = 1177;

/** MQTT over TLS (port 8883) */
export const TRANSPORT_MQTTS: i32 = 0;
/** MQTT over WebSocket over TLS (port 443) */
export const TRANSPORT_WSS: i32 = 1;
/** MQTT over plain TCP (port 1883; local hubs and tests only) */
export const TRANSPORT_MQTT: i32 = 2;

/** cloud-to-device messages (subscribes to devices/{id}/messages/devicebound/#) */
export const FEATURE_C2D: i32 = 1;
/** direct methods ($iothub/methods/POST/#) */
export const FEATURE_METHODS: i32 = 2;
/** the device twin ($iothub/twin/res/# and desired-property patches) */
export const FEATURE_TWIN: i32 = 4;
export const FEATURES_ALL: i32 = FEATURE_C2D | FEATURE_METHODS | FEATURE_TWIN;

