/*
 * iothub-wasm-posix: the demo thermostat (boards/c/app) on Linux, TLS by mbedTLS.
 *   iothub-wasm-posix --connection-string CS --ca FILE [--cert FILE --key FILE] [--count N] [--interval-ms MS]
 *                     [--store DIR]
 * Exit 0 after --count acknowledged readings and a clean stop; 1 for a failure retrying cannot fix (the core's
 * status name on stderr); 2 for bad arguments; 3 if the core trapped (a bug).
 */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <sys/stat.h>

#include "app/thermostat.h"
#include "file_storage.h"
#include "iothub_board.h"
#include "iothub_wasm_rt.h"
#include "tls_transport.h"

#define PROG "iothub-wasm-posix"
#define USAGE \
  "usage: " PROG " --connection-string CS --ca FILE [--cert FILE --key FILE] [--count N] [--interval-ms MS]\n" \
  "       [--store DIR]\n" \
  "  Runs the demo thermostat against an IoT Hub over MQTT/TLS until --count readings are acknowledged (default:\n" \
  "  until interrupted). CS may come from IOTHUB_DEVICE_CONNECTION_STRING; --cert and --key for x509=true devices.\n" \
  "  --store: keep readings not yet acknowledged in DIR/telemetry.log, sent again after a restart.\n"

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

/* ---- the clock: CLOCK_MONOTONIC for the tick, CLOCK_REALTIME for Unix time --------------------------------- */
static uint32_t now_ms(void *ctx) {
  struct timespec ts;
  (void)ctx;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}
static uint64_t unix_ms(void *ctx) {
  struct timespec ts;
  (void)ctx;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t entropy(void *ctx) {
  uint32_t r = 0;
  (void)ctx;
  if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint32_t)time(NULL) ^ (uint32_t)clock();
  return r;
}

/* The device's log: one line on stdout with the UTC time, as `iothub-wasm run` prints it. */
static void log_line(void *ctx, const char *line) {
  struct timespec ts;
  struct tm tm;
  char when[32];
  (void)ctx;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  printf("%s.%03ldZ %s\n", when, ts.tv_nsec / 1000000L, line);
  fflush(stdout);
}

void iothub_wasm_rt_on_trap(int kind, const char *name) {
  fprintf(stderr, PROG ": the core trapped (%d, %s): this is a bug\n", kind, name);
  exit(3);
}

static int bad_args(const char *why, const char *what) {
  fprintf(stderr, PROG ": %s%s\n" USAGE, why, what ? what : "");
  return 2;
}

/* A decimal u32 (the whole string). */
static int parse_u32(const char *s, uint32_t *out) {
  char *end;
  unsigned long v;
  if (!s || !*s || *s == '-' || *s == '+') return 0;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end || v > 0xfffffffeUL) return 0;
  *out = (uint32_t)v;
  return 1;
}

static tls_transport_t tls;
static iothub_device_t dev;
static thermostat_t app;
static file_storage_t store;
static iothub_store_t store_state;
/* The log's bound: 1 MiB of records (several thousand readings). */
#define STORE_MAX_BYTES (1u << 20)

int main(int argc, char **argv) {
  const char *cs = getenv("IOTHUB_DEVICE_CONNECTION_STRING"), *ca = NULL, *cert = NULL, *key = NULL, *store_dir = NULL;
  uint32_t count = THERMOSTAT_FOREVER, interval = 5000;
  iothub_transport_t transport;
  iothub_clock_t clock = {NULL, now_ms, unix_ms};
  char err[400], name[48];
  const char *detail;
  int32_t rc;
  int i, stopping = 0;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(USAGE, stdout); return 0; }
    if (strncmp(a, "--", 2) != 0) return bad_args("unexpected argument ", a);
    if (!v) return bad_args("a value is needed after ", a);
    if (!strcmp(a, "--connection-string")) cs = v;
    else if (!strcmp(a, "--ca")) ca = v;
    else if (!strcmp(a, "--cert")) cert = v;
    else if (!strcmp(a, "--key")) key = v;
    else if (!strcmp(a, "--store")) store_dir = v;
    else if (!strcmp(a, "--count")) { if (!parse_u32(v, &count)) return bad_args("--count takes a number, not ", v); }
    else if (!strcmp(a, "--interval-ms")) { if (!parse_u32(v, &interval)) return bad_args("--interval-ms takes a number, not ", v); }
    else return bad_args("unknown option ", a);
    i++;
  }
  if (!cs || !*cs) return bad_args("--connection-string is required (or IOTHUB_DEVICE_CONNECTION_STRING)", NULL);
  if (!ca) return bad_args("--ca is required: the CA that signed the hub's certificate", NULL);
  if ((cert == NULL) != (key == NULL)) return bad_args("--cert and --key go together", NULL);

  if (tls_transport_init(&tls, ca, cert, key, err, sizeof err) != 0) return bad_args(err, NULL);
  /* Tests only: move at most this many bytes per send and recv, to drive the loop through partial I/O. */
  if (getenv("IOTHUB_POSIX_MAX_IO")) {
    uint32_t max_io;
    if (!parse_u32(getenv("IOTHUB_POSIX_MAX_IO"), &max_io)) return bad_args("IOTHUB_POSIX_MAX_IO takes a number", NULL);
    tls.max_io = max_io;
  }
  transport = tls_transport_interface(&tls);
  rc = iothub_device_init(&dev, cs, strlen(cs), &transport, &clock, entropy, NULL, thermostat_on_event, &app);
  if (rc < 0) return bad_args("bad connection string: ", iothub_status_name(rc, name, sizeof name));
  if (iothub_device_x509(&dev) && !cert) return bad_args("the connection string says x509=true: give --cert and --key", NULL);
  thermostat_init(&app, &dev, count, interval, log_line, NULL);
  /* after the application: what the store reports at boot goes to its log */
  if (store_dir) {
    char path[4096];
    int32_t waiting;
    if (mkdir(store_dir, 0700) != 0 && errno != EEXIST) return bad_args("--store: cannot create the folder ", store_dir);
    snprintf(path, sizeof path, "%s/telemetry.log", store_dir);
    if (file_storage_open(&store, path, STORE_MAX_BYTES) != 0) return bad_args("--store: cannot open ", path);
    store.log = log_line;
    store_state.storage = file_storage(&store);
    waiting = iothub_device_storage(&dev, &store_state);
    snprintf(err, sizeof err, "store: %ld messages to send", (long)waiting);
    log_line(NULL, err);
  }

  signal(SIGPIPE, SIG_IGN); /* a write to a dropped socket is an error result, not a signal */
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  rc = iothub_device_start(&dev);
  if (rc < 0) {
    fprintf(stderr, PROG ": %s\n", iothub_status_name(rc, name, sizeof name));
    return 1;
  }
  for (;;) {
    uint32_t wait, app_wait;
    struct pollfd p;
    if (interrupted && !stopping) { stopping = 1; iothub_device_stop(&dev); }
    wait = iothub_device_step(&dev);
    if (iothub_device_stopped(&dev)) break;
    app_wait = thermostat_step(&app); /* after the device's events: it may act on them at once */
    if (app_wait == 0) continue;      /* it queued something: the device's next step sends it */
    if (app_wait < wait) wait = app_wait;
    p.fd = tls_transport_fd(&tls);
    p.events = (short)(POLLIN | (tls_transport_wants_write(&tls) ? POLLOUT : 0));
    p.revents = 0;
    poll(&p, p.fd >= 0 ? 1 : 0, (int)wait);
  }
  rc = iothub_device_failure(&dev, &detail);
  if (rc != 0) {
    fprintf(stderr, PROG ": %s%s%s\n", iothub_status_name(rc, name, sizeof name), detail ? ": " : "", detail ? detail : "");
    return 1;
  }
  return 0;
}
