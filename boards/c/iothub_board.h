/*
 * The board library's interface: what a board supplies (a transport, a clock, entropy) and the device loop it runs.
 *
 * The library hosts the core (build/mcu.wasm, translated to C by wasm2c) and drives it; it never allocates, never
 * blocks, and never rebuilds protocol: topics, tokens, retry policy and back-off all come from the core. A board
 * calls iothub_device_step() from its main loop and sleeps at most the number of milliseconds it returns (waking
 * early for I/O if it can).
 *
 * C99. No dynamic memory. One device per core instance.
 */
#ifndef IOTHUB_BOARD_H
#define IOTHUB_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "iothub_wasm_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- What the board supplies ------------------------------------------------------------------------------- */

/* Results of transport calls: >= 0 is a byte count (or 0 = done for open/close). */
#define IOTHUB_IO_WOULD_BLOCK (-1) /* nothing now; call again later (never means "closed") */
#define IOTHUB_IO_CLOSED (-2)      /* the peer closed, or the connection failed: the transport is gone */
#define IOTHUB_IO_FAILED (-3)      /* a failure retrying with the same settings cannot fix (e.g. untrusted certificate) */

/*
 * A byte stream to the hub, in the style of coreMQTT's transport interface. Every call is non-blocking.
 * open() may complete over several calls: it returns IOTHUB_IO_WOULD_BLOCK until the stream (and TLS) is up, then 0.
 * send() returns how many bytes it took (0..len) or a negative result; recv() how many it wrote (1..cap), or
 * IOTHUB_IO_WOULD_BLOCK when nothing is buffered, or IOTHUB_IO_CLOSED when the stream ended (a POSIX recv() of 0).
 * close() always succeeds and may be called on a transport that is not open.
 * detail(): a short static text saying why the last call failed (e.g. the TLS verification error), or NULL.
 */
typedef struct iothub_transport {
  void *ctx;
  int32_t (*open)(void *ctx, const char *host, uint16_t port, const char *sni_host);
  int32_t (*send)(void *ctx, const uint8_t *data, size_t len);
  int32_t (*recv)(void *ctx, uint8_t *buf, size_t cap);
  void (*close)(void *ctx);
  const char *(*detail)(void *ctx);
} iothub_transport_t;

/* A millisecond tick (may wrap at 2^32) and the Unix time at which it was read. */
typedef struct iothub_clock {
  void *ctx;
  uint32_t (*now_ms)(void *ctx);
  /* Unix time in ms for the tick `now_ms` returned last, or 0 if the board does not know it yet (no SNTP). */
  uint64_t (*unix_ms)(void *ctx);
} iothub_clock_t;

/* 32 bits of entropy (for back-off jitter): a hardware RNG, or at least something that differs per boot. */
typedef uint32_t (*iothub_entropy_fn)(void *ctx);

/* ---- What the application handles --------------------------------------------------------------------------- */

/* An event from the core: the record at client_event_ptr(), with views resolved to C pointers (valid only during
 * the callback). Types and statuses are IOTHUB_WASM_EV_* and IOTHUB_WASM_STATUS values from iothub_wasm_abi.h. */
typedef struct iothub_event {
  uint32_t type;
  int32_t status;
  uint32_t token;
  uint32_t version;
  const uint8_t *a; int32_t a_len;
  const uint8_t *b; int32_t b_len;
  const uint8_t *c; int32_t c_len;
  int32_t extra;
} iothub_event_t;

struct iothub_device;
typedef void (*iothub_event_fn)(struct iothub_device *dev, const iothub_event_t *ev, void *user);

/* ---- The device ------------------------------------------------------------------------------------------------ */

typedef struct iothub_device {
  /* set by iothub_device_init */
  iothub_transport_t transport;
  iothub_clock_t clock;
  iothub_entropy_fn entropy; void *entropy_ctx;
  iothub_event_fn on_event; void *user;
  /* loop state (private) */
  uint8_t transport_open;   /* open() has returned 0 and transport_up was called */
  uint8_t opening;          /* open() is in progress */
  uint8_t time_set;
  int32_t last_io_result;   /* the last negative transport result, for diagnostics */
} iothub_device_t;

/* Parses the connection string into the core and sets the board's interfaces. Returns a core status (< 0: failed). */
int32_t iothub_device_init(iothub_device_t *dev, const char *connection_string, size_t len,
                           const iothub_transport_t *transport, const iothub_clock_t *clock,
                           iothub_entropy_fn entropy, void *entropy_ctx, iothub_event_fn on_event, void *user);

/* Starts connecting (needs the clock's Unix time for SAS). Returns a core status. */
int32_t iothub_device_start(iothub_device_t *dev);

/* Runs one turn of the loop: opens/closes the transport as the core wants, feeds received bytes, dispatches events,
 * writes what the core emitted. Returns the longest the board may sleep before the next call, in ms. */
uint32_t iothub_device_step(iothub_device_t *dev);

/* Queues a DISCONNECT and stops; keep calling iothub_device_step() until iothub_device_stopped(). */
void iothub_device_stop(iothub_device_t *dev);
int iothub_device_stopped(const iothub_device_t *dev);

/* The core's name for a status (e.g. "CLIENT_CONNACK_NOT_AUTHORIZED"), copied into buf as NUL-terminated ASCII. */
const char *iothub_status_name(int32_t status, char *buf, size_t cap);

/* Application calls: thin wrappers that copy arguments into the core's IO window. Return core statuses/tokens. */
int32_t iothub_telemetry_begin(iothub_device_t *dev);
int32_t iothub_telemetry_property(iothub_device_t *dev, const char *name, const char *value);
int32_t iothub_telemetry_system(iothub_device_t *dev, int32_t which, const char *value);
int32_t iothub_telemetry_send(iothub_device_t *dev, const uint8_t *payload, size_t len, int32_t qos);
int32_t iothub_twin_get(iothub_device_t *dev);
int32_t iothub_twin_patch(iothub_device_t *dev, const char *json, size_t len);
int32_t iothub_method_respond(iothub_device_t *dev, const uint8_t *rid, size_t rid_len, int32_t status,
                              const char *json, size_t len);
int32_t iothub_c2d_ack(iothub_device_t *dev, uint32_t packet_id);

#ifdef __cplusplus
}
#endif

#endif
