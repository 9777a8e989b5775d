// The provisioning client's options (dps_option_set) and their defaults.

/** the whole registration, from dps_start to its outcome (every reconnect and poll included) */
export const DPS_OPT_REGISTRATION_TIMEOUT_MS: i32 = 1;
/** transport up → CONNACK and SUBACK */
export const DPS_OPT_CONNECT_TIMEOUT_MS: i32 = 2;
/** a request → its answer; an unanswered request is sent again */
export const DPS_OPT_REQUEST_TIMEOUT_MS: i32 = 3;
/** the wait before polling when the service's answer names no retry-after */
export const DPS_OPT_RETRY_AFTER_DEFAULT_MS: i32 = 4;
/** the shortest wait, whatever retry-after says (a retry-after of 0 must not become a busy loop) */
export const DPS_OPT_RETRY_AFTER_MIN_MS: i32 = 5;
/** the longest wait, whatever retry-after says (at most 120000, below the keepalive) */
export const DPS_OPT_RETRY_AFTER_MAX_MS: i32 = 6;
/** a request answered 429 (throttled) or 5xx is sent again this many times, each after its retry-after */
export const DPS_OPT_RETRIES: i32 = 7;
/** SAS token lifetime in seconds, >= 1 */
export const DPS_OPT_TOKEN_LIFETIME_S: i32 = 8;
/** reconnect back-off: min(min·2^attempt, max) + jitter */
export const DPS_OPT_RETRY_MIN_MS: i32 = 9;
/** the reconnect back-off's cap */
export const DPS_OPT_RETRY_MAX_MS: i32 = 10;
/** jitter added to the reconnect back-off, drawn from dps_seed_set */
export const DPS_OPT_RETRY_JITTER_MS: i32 = 11;
/** MQTT keepalive in seconds, 0..1177; a PINGREQ goes when nothing else was sent for that long */
export const DPS_OPT_KEEPALIVE_S: i32 = 12;

export const DPS_DEFAULT_REGISTRATION_TIMEOUT_MS: i32 = 120000;
export const DPS_DEFAULT_CONNECT_TIMEOUT_MS: i32 = 30000;
export const DPS_DEFAULT_REQUEST_TIMEOUT_MS: i32 = 30000;
export const DPS_DEFAULT_RETRY_AFTER_DEFAULT_MS: i32 = 3000;
export const DPS_DEFAULT_RETRY_AFTER_MIN_MS: i32 = 1000;
export const DPS_DEFAULT_RETRY_AFTER_MAX_MS: i32 = 60000;
export const DPS_DEFAULT_RETRIES: i32 = 3;
export const DPS_DEFAULT_TOKEN_LIFETIME_S: i32 = 3600;
export const DPS_DEFAULT_RETRY_MIN_MS: i32 = 1000;
export const DPS_DEFAULT_RETRY_MAX_MS: i32 = 30000;
export const DPS_DEFAULT_RETRY_JITTER_MS: i32 = 1000;
export const DPS_DEFAULT_KEEPALIVE_S: i32 = 60;

/** The cap on DPS_OPT_RETRY_AFTER_MAX_MS. */
export const RETRY_AFTER_CAP_MS: i32 = 120000;
