// The provisioning client's states (dps_state). What each asks of the board is client_wants' WANT_* (dps_wants).
// The transitions between them are a table (transitions.ts).

/** not started (after dps_init) */
export const DPS_STATE_IDLE: i32 = 0;
/** waiting for the board to open the transport to the provisioning endpoint (dps_wants() = WANT_OPEN) */
export const DPS_STATE_OPENING: i32 = 1;
/** CONNECT sent, waiting for CONNACK */
export const DPS_STATE_CONNECTING: i32 = 2;
/** SUBSCRIBE ($dps/registrations/res/#) sent, waiting for SUBACK */
export const DPS_STATE_SUBSCRIBING: i32 = 3;
/** a register or operation-status request sent, waiting for its answer */
export const DPS_STATE_REQUESTING: i32 = 4;
/** waiting out the service's retry-after before the next request (polling, or after a 429/5xx) */
export const DPS_STATE_WAITING: i32 = 5;
/** waiting for the board to close the transport (dps_wants() = WANT_CLOSE) */
export const DPS_STATE_CLOSING: i32 = 6;
/** waiting out the back-off delay before connecting again */
export const DPS_STATE_BACKOFF: i32 = 7;
/** finished: dps_result() is OK (assigned) or the DPS_* status it ended with */
export const DPS_STATE_DONE: i32 = 8;
