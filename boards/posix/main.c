/*
 * iothub-wasm-posix: the demo thermostat (boards/c/app) on Linux, TLS by mbedTLS.
 *   iothub-wasm-posix --connection-string CS --ca FILE [--cert FILE --key FILE] [--count N] [--interval-ms MS]
 *   iothub-wasm-posix --id-scope S --registration-id R (--symmetric-key K | --group-key K | --cert FILE --key FILE)
 *                     [--provisioning-host H[:PORT]] [--provisioning-port PORT] --ca FILE [--count N] [...]
 *   either form takes [--store DIR]: readings not yet acknowledged are kept in DIR/telemetry.log, sent after a restart.
 * With --id-scope the device registers with the Device Provisioning Service first (boards/c/iothub_provision.h) and
 * then runs on the hub it is assigned. Exit 0 after --count acknowledged readings and a clean stop; 1 for a failure
 * retrying cannot fix (the core's status name on stderr, a refused registration included); 2 for bad arguments; 3 if
 * the core trapped (a bug). Built with -DIOTHUB_POSIX_NO_PROVISIONING (the board on the plain mcu.wasm, which has no
 * dps_*), --id-scope is refused as a bad argument.
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
#ifndef IOTHUB_POSIX_NO_PROVISIONING
#include "iothub_provision.h"
#endif
#include "iothub_wasm_rt.h"
#include "tls_transport.h"

#define PROG "iothub-wasm-posix"
#define USAGE \
  "usage: " PROG " --connection-string CS --ca FILE [--cert FILE --key FILE] [--count N] [--interval-ms MS]\n" \
  "       " PROG " --id-scope S --registration-id R (--symmetric-key K | --group-key K | --cert FILE --key FILE)\n" \
  "         [--provisioning-host HOST[:PORT]] [--provisioning-port PORT] --ca FILE [--count N] [--interval-ms MS]\n" \
  "       [--store DIR]\n" \
  "  Runs the demo thermostat against an IoT Hub over MQTT/TLS until --count readings are acknowledged (default:\n" \
  "  until interrupted). CS may come from IOTHUB_DEVICE_CONNECTION_STRING; --cert and --key for x509=true devices.\n" \
  "  With --id-scope the device registers with the Device Provisioning Service first (default host\n" \
  "  " DEFAULT_DPS_HOST ") and runs on the hub it is assigned.\n" \
  "  --store DIR: keep readings not yet acknowledged in DIR/telemetry.log, sent again after a restart.\n"
#define DEFAULT_DPS_HOST "global.azure-devices-provisioning.net"

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

/* Waits for the transport (or the longest the loop may sleep). */
static void wait_for_io(uint32_t ms) {
  struct pollfd p;
  p.fd = tls_transport_fd(&tls);
  p.events = (short)(POLLIN | (tls_transport_wants_write(&tls) ? POLLOUT : 0));
  p.revents = 0;
  poll(&p, p.fd >= 0 ? 1 : 0, (int)ms);
}

#ifndef IOTHUB_POSIX_NO_PROVISIONING
static iothub_provision_t prov;
static char dps_endpoint[300]; /* --provisioning-host with --provisioning-port */
/* What the service said when it refused, for the exit message. */
static struct { int32_t service_status, error_code; char message[160]; } refusal;

static void span(char *dst, size_t cap, const uint8_t *p, int32_t len) {
  size_t n = p && len > 0 ? (size_t)len : 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(dst, p, n);
  dst[n] = '\0';
}

static void on_provision_event(iothub_provision_t *p, const iothub_provision_event_t *ev, void *user) {
  char line[600], a[256], b[160], name[48];
  (void)p;
  (void)user;
  switch (ev->type) {
    case IOTHUB_WASM_DPS_EV_ASSIGNING:
      span(a, sizeof a, ev->operation, ev->operation_len);
      snprintf(line, sizeof line, "provisioning: assigning (operation %s), polling in %ld ms", a, (long)ev->retry_after_ms);
      log_line(NULL, line);
      break;
    case IOTHUB_WASM_DPS_EV_RETRY:
      snprintf(line, sizeof line, "provisioning: %s, retrying in %ld ms", iothub_status_name(ev->status, name, sizeof name),
               (long)ev->retry_after_ms);
      log_line(NULL, line);
      break;
    case IOTHUB_WASM_DPS_EV_ASSIGNED:
      span(a, sizeof a, ev->hub, ev->hub_len);
      span(b, sizeof b, ev->device, ev->device_len);
      snprintf(line, sizeof line, "assigned to %s as %s", a, b);
      log_line(NULL, line);
      break;
    case IOTHUB_WASM_DPS_EV_FAILED:
      refusal.service_status = ev->service_status;
      refusal.error_code = ev->error_code;
      span(refusal.message, sizeof refusal.message, ev->message, ev->message_len);
      break;
    default:
      break;
  }
}

/* Registers; 0 with the device initialised for the assigned hub, else the exit code. */
static int provision(const char *scope, const char *reg, const char *symmetric_key, const char *group_key, int x509,
                     const char *host, const iothub_transport_t *transport, const iothub_clock_t *clock) {
  char line[400], name[48], cause[48];
  const char *detail;
  int32_t rc;
  int stopping = 0;
  rc = iothub_provision_init(&prov, scope, reg, transport, clock, entropy, NULL, on_provision_event, NULL);
  if (rc < 0) return bad_args("bad --id-scope or --registration-id: ", iothub_status_name(rc, name, sizeof name));
  if (symmetric_key) rc = iothub_provision_symmetric_key(&prov, symmetric_key);
  else if (group_key) rc = iothub_provision_group_key(&prov, group_key);
  else if (x509) rc = iothub_provision_x509(&prov);
  if (rc < 0) return bad_args("bad key: ", iothub_status_name(rc, name, sizeof name));
  if (host && (rc = iothub_provision_host(&prov, host)) < 0) {
    return bad_args("bad --provisioning-host: ", iothub_status_name(rc, name, sizeof name));
  }
  snprintf(line, sizeof line, "registering %s with the provisioning service (id scope %s)", reg, scope);
  log_line(NULL, line);
  rc = iothub_provision_start(&prov);
  if (rc < 0) {
    fprintf(stderr, PROG ": %s\n", iothub_status_name(rc, name, sizeof name));
    return 1;
  }
  for (;;) {
    uint32_t wait;
    if (interrupted && !stopping) { stopping = 1; iothub_provision_stop(&prov); }
    wait = iothub_provision_step(&prov);
    if (iothub_provision_done(&prov)) break;
    wait_for_io(wait);
  }
  rc = iothub_provision_result(&prov, &detail);
  if (rc == IOTHUB_WASM_DPS_CLOSED && interrupted) return 0; /* Ctrl-C while registering: a clean stop */
  if (rc != IOTHUB_WASM_OK) {
    iothub_status_name(rc, name, sizeof name);
    if (detail) fprintf(stderr, PROG ": %s: %s\n", name, detail);
    else if (refusal.service_status) {
      fprintf(stderr, PROG ": %s: the provisioning service answered %ld", name, (long)refusal.service_status);
      if (refusal.error_code) fprintf(stderr, " (errorCode %ld)", (long)refusal.error_code);
      fprintf(stderr, "%s%s\n", refusal.message[0] ? ": " : "", refusal.message);
    } else if (rc == IOTHUB_WASM_DPS_UNAUTHORIZED && refusal.error_code) {
      fprintf(stderr, PROG ": %s: the provisioning service refused the connection (CONNACK %ld)\n", name,
              (long)refusal.error_code);
    } else if (rc == IOTHUB_WASM_DPS_TIMEOUT && refusal.error_code < 0) {
      fprintf(stderr, PROG ": %s (last cause: %s)\n", name, iothub_status_name(refusal.error_code, cause, sizeof cause));
    } else {
      fprintf(stderr, PROG ": %s\n", name);
    }
    return 1;
  }
  rc = iothub_device_init_provisioned(&dev, &prov, transport, clock, entropy, NULL, thermostat_on_event, &app);
  if (rc < 0) {
    fprintf(stderr, PROG ": the assignment cannot be used: %s\n", iothub_status_name(rc, name, sizeof name));
    return 1;
  }
  return 0;
}
#endif

int main(int argc, char **argv) {
  const char *cs = NULL, *ca = NULL, *cert = NULL, *key = NULL, *store_dir = NULL;
  const char *scope = NULL, *reg = NULL, *symmetric_key = NULL, *group_key = NULL, *dps_host = NULL;
  uint32_t count = THERMOSTAT_FOREVER, interval = 5000, dps_port = 0;
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
    else if (!strcmp(a, "--id-scope")) scope = v;
    else if (!strcmp(a, "--registration-id")) reg = v;
    else if (!strcmp(a, "--symmetric-key")) symmetric_key = v;
    else if (!strcmp(a, "--group-key")) group_key = v;
    else if (!strcmp(a, "--provisioning-host")) dps_host = v;
    else if (!strcmp(a, "--provisioning-port")) {
      if (!parse_u32(v, &dps_port) || dps_port == 0 || dps_port > 65535) return bad_args("--provisioning-port takes a port number, not ", v);
    }
    else return bad_args("unknown option ", a);
    i++;
  }
  if ((cert == NULL) != (key == NULL)) return bad_args("--cert and --key go together", NULL);
  if (scope || reg || symmetric_key || group_key || dps_host || dps_port) {
#ifdef IOTHUB_POSIX_NO_PROVISIONING
    return bad_args("this build does not provision (its core, mcu.wasm, has no dps_*): use " PROG, NULL);
#else
    int credentials = (symmetric_key != NULL) + (group_key != NULL) + (cert != NULL);
    if (cs) return bad_args("give either --connection-string or --id-scope/--registration-id, not both", NULL);
    if (!scope || !*scope || !reg || !*reg) return bad_args("--id-scope and --registration-id go together", NULL);
    if (credentials != 1) return bad_args("give one of --symmetric-key, --group-key, or --cert with --key", NULL);
    if (dps_port) { /* --provisioning-port: the port, unless the host names one */
      const char *h = dps_host ? dps_host : DEFAULT_DPS_HOST;
      if (strchr(h, ':')) snprintf(dps_endpoint, sizeof dps_endpoint, "%s", h);
      else snprintf(dps_endpoint, sizeof dps_endpoint, "%s:%lu", h, (unsigned long)dps_port);
      dps_host = dps_endpoint;
    }
#endif
  } else {
    if (!cs) cs = getenv("IOTHUB_DEVICE_CONNECTION_STRING");
    if (!cs || !*cs) return bad_args("--connection-string is required (or IOTHUB_DEVICE_CONNECTION_STRING), or --id-scope and --registration-id", NULL);
  }
  if (!ca) return bad_args("--ca is required: the CA that signed the hub's certificate", NULL);

  if (tls_transport_init(&tls, ca, cert, key, err, sizeof err) != 0) return bad_args(err, NULL);
  /* Tests only: move at most this many bytes per send and recv, to drive the loop through partial I/O. */
  if (getenv("IOTHUB_POSIX_MAX_IO")) {
    uint32_t max_io;
    if (!parse_u32(getenv("IOTHUB_POSIX_MAX_IO"), &max_io)) return bad_args("IOTHUB_POSIX_MAX_IO takes a number", NULL);
    tls.max_io = max_io;
  }
  transport = tls_transport_interface(&tls);
  signal(SIGPIPE, SIG_IGN); /* a write to a dropped socket is an error result, not a signal */
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (cs) {
    rc = iothub_device_init(&dev, cs, strlen(cs), &transport, &clock, entropy, NULL, thermostat_on_event, &app);
    if (rc < 0) return bad_args("bad connection string: ", iothub_status_name(rc, name, sizeof name));
  } else {
#ifndef IOTHUB_POSIX_NO_PROVISIONING
    int exit_code = provision(scope, reg, symmetric_key, group_key, cert != NULL, dps_host, &transport, &clock);
    if (exit_code != 0) return exit_code;
    if (interrupted) return 0; /* Ctrl-C while registering: nothing to stop on the hub */
#endif
  }
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

  rc = iothub_device_start(&dev);
  if (rc < 0) {
    fprintf(stderr, PROG ": %s\n", iothub_status_name(rc, name, sizeof name));
    return 1;
  }
  for (;;) {
    uint32_t wait, app_wait;
    if (interrupted && !stopping) { stopping = 1; iothub_device_stop(&dev); }
    wait = iothub_device_step(&dev);
    if (iothub_device_stopped(&dev)) break;
    app_wait = thermostat_step(&app); /* after the device's events: it may act on them at once */
    if (app_wait == 0) continue;      /* it queued something: the device's next step sends it */
    if (app_wait < wait) wait = app_wait;
    wait_for_io(wait);
  }
  rc = iothub_device_failure(&dev, &detail);
  if (rc != 0) {
    fprintf(stderr, PROG ": %s%s%s\n", iothub_status_name(rc, name, sizeof name), detail ? ": " : "", detail ? detail : "");
    return 1;
  }
  return 0;
}
