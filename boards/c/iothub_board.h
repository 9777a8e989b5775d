/*
 * The board library's interface: what a board supplies (a transport, a clock, entropy) and the device loop it runs.
 *
 * The library hosts the core (build/mcu.wasm, translated to C by wasm2c) and drives it; it never allocates, never
 * blocks, and never rebuilds protocol: topics, tokens, retry policy and back-off all come from the core. A board
 * calls iothub_device_step() from its main loop and sleeps at most the number of milliseconds it returns (waking
 * early for I/O if it can).
 *
 * The core's exports are reached through iothub_core.h, so the library does not depend on how the core is hosted
 * (native through wasm2c, or an interpreter).
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
 * send() returns how many bytes it took (0..len) or a negative result; after IOTHUB_IO_WOULD_BLOCK the library
 * offers the same bytes again, possibly with more after them (what TLS stacks that must resend a record need).
 * recv() returns how many it wrote (1..cap), or IOTHUB_IO_WOULD_BLOCK when nothing is buffered, or IOTHUB_IO_CLOSED
 * when the stream ended (a POSIX recv() of 0). A transport without framing (a raw UART) cannot tell open from
 * closed: give it a protocol that can (the ESP-AT module's CONNECT / CLOSED lines).
 * close() always succeeds and may be called on a transport that is not open.
 * detail() (may be NULL): a short text saying why the last call failed (e.g. the TLS verification error), or NULL;
 * it must stay readable until the next open(), as the library keeps it as iothub_device_failure()'s detail.
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
  /* Unix time in ms for the tick `now_ms` returned last, or 0 if the board does not know it yet (no SNTP); NULL
   * for a board without a wall clock (then only X.509 devices can connect: SAS tokens need the time). The library
   * reads it again before every connection attempt. */
  uint64_t (*unix_ms)(void *ctx);
} iothub_clock_t;

/* For boards whose only wall clock is an occasional sync (SNTP, a modem's AT+CIPSNTPTIME?): the Unix time seen at
 * one tick. unix_ms at a later tick is the anchor plus the ticks since (the tick may wrap; re-sync within 49 days). */
typedef struct iothub_time_anchor {
  uint64_t unix_ms; /* 0 = never synced */
  uint32_t tick;
} iothub_time_anchor_t;
void iothub_time_anchor_set(iothub_time_anchor_t *anchor, uint64_t unix_ms, uint32_t tick);
uint64_t iothub_time_anchor_unix_ms(const iothub_time_anchor_t *anchor, uint32_t tick); /* 0 if never synced */

/* 32 bits of entropy (for back-off jitter): a hardware RNG, or at least something that differs per boot. */
typedef uint32_t (*iothub_entropy_fn)(void *ctx);

/*
 * Storage for store and forward (optional, iothub_device_storage): an append-only log the board keeps across reboots
 * (a file, flash pages, a RAM region that survives a reset). The library writes the core's store records to it (each
 * accepted QoS 1 message, and completion markers) and reads them back; the board never looks inside them.
 * append() writes one record durably (the message is accepted once it returns 0), or returns
 * IOTHUB_WASM_CLIENT_STORE_FULL when there is no room (nothing written). read() copies up to cap bytes from offset
 * off: the count, 0 at the end. truncate() cuts the log to len bytes (a torn last record at boot; 0 once every
 * message in it is acknowledged). size() is the log's length.
 */
typedef struct iothub_storage {
  void *ctx;
  int32_t (*append)(void *ctx, const uint8_t *record, size_t len);
  int32_t (*read)(void *ctx, uint32_t off, uint8_t *buf, size_t cap);
  void (*truncate)(void *ctx, uint32_t len);
  uint32_t (*size)(void *ctx);
} iothub_storage_t;

/* Messages handed to the core at once from the log: at least the core's outbox slots (8 on mcu.wasm). */
#define IOTHUB_STORE_WINDOW 16u

/* Store and forward's state: the board's storage and the library's bookkeeping (a static the board keeps, so that a
 * board without storage pays nothing for it). Set `storage`; the rest is private. */
typedef struct iothub_store {
  iothub_storage_t storage;
  uint32_t end;       /* the log's length as the library wrote or found it */
  uint32_t next;      /* the next record to hand to the core */
  uint32_t done;      /* every message of a token up to this is acknowledged (markers are written in order) */
  uint32_t tokens[IOTHUB_STORE_WINDOW]; /* messages in the core, oldest first (a ring) */
  uint32_t offsets[IOTHUB_STORE_WINDOW];
  uint8_t acked[IOTHUB_STORE_WINDOW];
  uint8_t head, count;
} iothub_store_t;

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

/* One decoded property of a C2D message (iothub_c2d_property_next): name and value point into the core's memory and
 * are valid until the next call. value_len -1 = a bare name (no value); system = IOTHUB_WASM_SYS_* or -1. */
typedef struct iothub_property {
  const uint8_t *name; int32_t name_len;
  const uint8_t *value; int32_t value_len;
  int32_t system;
} iothub_property_t;

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
  int32_t failure;          /* why the device stopped for good (a core status), 0 while none */
  const char *failure_detail; /* the transport's detail() for a transport failure, or NULL */
  uint32_t twin_gets[4];    /* request ids of twin GETs in flight (their answer updates the applied desired version) */
  /* store and forward (set by iothub_device_storage; private). The library's hooks are reached through pointers so
   * that a board that never attaches storage links none of it. */
  iothub_store_t *store;
  int32_t (*store_send)(struct iothub_device *dev, uint32_t payload, uint32_t len);
  void (*store_event)(struct iothub_device *dev, const struct iothub_event *ev);
  void (*store_feed)(struct iothub_device *dev);
  char host[256];           /* the endpoint and the TLS host name, NUL-terminated copies of the core's */
  char sni[256];
  uint16_t port;
} iothub_device_t;

/* Parses the connection string into the core and sets the board's interfaces. Returns a core status (< 0: failed). */
int32_t iothub_device_init(iothub_device_t *dev, const char *connection_string, size_t len,
                           const iothub_transport_t *transport, const iothub_clock_t *clock,
                           iothub_entropy_fn entropy, void *entropy_ctx, iothub_event_fn on_event, void *user);

/* Store and forward: QoS 1 telemetry goes through store->storage (a log the board keeps across reboots) and is sent again
 * after a reboot until the hub acknowledges it, with its message id and creation time. Call after iothub_device_init
 * and before iothub_device_start: it checks every record (a torn last one is cut off; a stretch that does not check
 * out is skipped, and reported to on_event as IOTHUB_WASM_EV_ERROR with status CLIENT_STORE_CORRUPT or
 * CLIENT_STORE_TRUNCATED, extra = its offset) and queues what is not acknowledged. Returns the number of messages
 * waiting. iothub_telemetry_send(qos 1) then returns IOTHUB_WASM_CLIENT_STORE_FULL when the log is full. */
int32_t iothub_device_storage(iothub_device_t *dev, iothub_store_t *store);

/* Sets a core option (IOTHUB_WASM_OPT_*) before iothub_device_start. Returns a core status. */
int32_t iothub_device_option(iothub_device_t *dev, uint32_t opt, int32_t value);

/* Starts connecting. Returns a core status: IOTHUB_WASM_CLIENT_TIME_NOT_SET for a SAS device while the clock's
 * unix_ms is still 0 (call again once the board has the time). */
int32_t iothub_device_start(iothub_device_t *dev);

/* Runs one turn of the loop: opens/closes the transport as the core wants, feeds received bytes, dispatches events
 * (to on_event, from inside this call), writes what the core emitted. Returns the longest the board may sleep before
 * the next call, in ms: until the core's next timer (1000 when it has none), at most 10 while an open or a write is pending (a
 * board that can wake on its transport's readiness may wait for that instead). */
uint32_t iothub_device_step(iothub_device_t *dev);

/* Queues a DISCONNECT and stops; keep calling iothub_device_step() until iothub_device_stopped(). */
void iothub_device_stop(iothub_device_t *dev);
int iothub_device_stopped(const iothub_device_t *dev);

/* Once stopped: 0 after iothub_device_stop, else why the device stopped for a reason retrying cannot fix (the core's
 * refusal, e.g. IOTHUB_WASM_CLIENT_CONNACK_NOT_AUTHORIZED, or IOTHUB_WASM_CLIENT_TRANSPORT_CLOSED when the transport
 * returned IOTHUB_IO_FAILED; *detail then says why, e.g. the certificate problem). detail may be NULL. */
int32_t iothub_device_failure(const iothub_device_t *dev, const char **detail);

/* The core's state (IOTHUB_WASM_STATE_*), and whether the device wants a client certificate (x509=true). */
uint32_t iothub_device_state(const iothub_device_t *dev);
int iothub_device_x509(const iothub_device_t *dev);

/* The core's name for a status (e.g. "CLIENT_CONNACK_NOT_AUTHORIZED"), copied into buf as NUL-terminated ASCII. */
const char *iothub_status_name(int32_t status, char *buf, size_t cap);

/* Application calls: thin wrappers that copy their arguments into the core's IO window (abi_io_capacity(), 1024
 * bytes on mcu.wasm, for all of one call's arguments; an argument already in the core's memory, such as an event's
 * view, is passed in place). Return core statuses or tokens; CLIENT_MESSAGE_TOO_LARGE (CLIENT_PROPERTIES_TOO_LARGE for
 * a property) when they do not fit.
 * iothub_twin_get also remembers its request: the answer tells the core which desired version the full twin holds.
 * iothub_telemetry_property: value NULL = a bare name. */
int32_t iothub_telemetry_begin(iothub_device_t *dev);
int32_t iothub_telemetry_property(iothub_device_t *dev, const char *name, const char *value);
int32_t iothub_telemetry_system(iothub_device_t *dev, int32_t which, const char *value);
int32_t iothub_telemetry_send(iothub_device_t *dev, const uint8_t *payload, size_t len, int32_t qos);
int32_t iothub_twin_get(iothub_device_t *dev);
int32_t iothub_twin_patch(iothub_device_t *dev, const char *json, size_t len);
int32_t iothub_method_respond(iothub_device_t *dev, const uint8_t *rid, size_t rid_len, int32_t status,
                              const char *json, size_t len);
int32_t iothub_c2d_ack(iothub_device_t *dev, uint32_t packet_id);

/* Walks the properties of an IOTHUB_WASM_EV_C2D event (during its callback): begin, then next until it returns 0.
 * next returns 1 with *prop filled, 0 at the end, or a core status for a malformed bag. */
int32_t iothub_c2d_properties_begin(iothub_device_t *dev, const iothub_event_t *ev);
int32_t iothub_c2d_property_next(iothub_device_t *dev, iothub_property_t *prop);

/* ---- JSON, just enough for a device's twin and method payloads (no allocation, no validation beyond need) ----- */

/* Finds member `key` of the JSON object s[0..len): 1 with *val and *val_len spanning its value's text, else 0. */
int iothub_json_member(const uint8_t *s, size_t len, const char *key, const uint8_t **val, size_t *val_len);
/* The span is a JSON number: 1, else 0. */
int iothub_json_is_number(const uint8_t *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif
