// The device client's states (client_state) and what each asks of the board (client_wants). The transitions
// between them are a table (transitions.ts).

/** not started (after client_init or client_reset) */
export const STATE_IDLE: i32 = 0;
/** waiting for the board to open the transport (client_wants() = WANT_OPEN) */
export const STATE_OPENING: i32 = 1;
/** CONNECT sent, waiting for CONNACK */
export const STATE_CONNECTING: i32 = 2;
/** SUBSCRIBE sent, waiting for SUBACK */
export const STATE_SUBSCRIBING: i32 = 3;
/** connected and subscribed */
export const STATE_READY: i32 = 4;
/** waiting for the board to close the transport (client_wants() = WANT_CLOSE) */
export const STATE_CLOSING: i32 = 5;
/** waiting out the back-off delay before the next attempt */
export const STATE_BACKOFF: i32 = 6;
/** closed for good (client_stop, or a refusal that retrying cannot fix) */
export const STATE_STOPPED: i32 = 7;

/** nothing to do */
export const WANT_NOTHING: i32 = 0;
/** open the transport, then call client_transport_up */
export const WANT_OPEN: i32 = 1;
/** write what client_tx holds, close the transport, then call client_transport_down */
export const WANT_CLOSE: i32 = 2;
