/*
 * The mps2-an385 image: reads the CONFIG page, brings up the Wi-Fi module (UART0, ESP-AT) for the time and the
 * network, and runs the thermostat (or the bench workload) on the board library until `count` readings are
 * acknowledged and the device stopped; the exit code goes to QEMU through semihosting (board.h EXIT_*).
 *
 * The loop is event-driven: the device loop steps when the module reports something (a reply, data, a closed
 * link) or when the core's or the application's timer is due; otherwise the CPU sleeps in WFI.
 */
#include <string.h>

#include "app/thermostat.h"
#include "bench_app.h"
#include "board.h"
#include "cmsdk_uart.h"
#include "config.h"
#include "espat.h"
#include "iothub_board.h"
#include "iothub_core.h"
#include "iothub_wasm_rt.h"
#include "semihost.h"
#ifdef MPS2_STORE
#include "ram_storage.h"
#endif

extern const char __config_start[];
extern const char __config_size[];

#define DRAIN_MS 3000u /* after the stop: time for the module to answer AT+CIPCLOSE */

static espat_t modem;
static iothub_device_t dev;
static thermostat_t thermostat;
static bench_app_t bench;
static uint32_t last_tick;
#ifdef MPS2_STORE
static ram_storage_t store_ram; /* the store variant: store and forward over a RAM region (ram_storage.h) */
static iothub_store_t store_state;
#endif

static uint32_t clock_now(void *ctx) {
  (void)ctx;
  last_tick = clock_ms();
  return last_tick;
}

static uint64_t clock_unix(void *ctx) {
  (void)ctx;
  return espat_unix_ms(&modem, last_tick);
}

/* No RNG on this board: the boot's timing (host-dependent without -icount) and the time of day. */
static uint32_t entropy(void *ctx) {
  uint64_t t = clock_ticks() ^ (espat_unix_ms(&modem, clock_ms()) * 2654435761u);
  (void)ctx;
  return (uint32_t)(t ^ (t >> 32));
}

static void log_line(void *ctx, const char *line) {
  (void)ctx;
  board_log(line);
  board_log("\n");
}

void iothub_wasm_rt_on_trap(int kind, const char *name) {
  board_log("trap: ");
  board_log(name);
  board_log(" (");
  board_log_i32(kind);
  board_log(")\n");
  semihost_exit(EXIT_TRAP);
}

static void log_status(const char *what, int32_t status) {
  char name[48];
  board_log(what);
  board_log(iothub_status_name(status, name, sizeof name));
  board_log("\n");
}

int main(void) {
  board_config_t cfg;
  const char *bad = "";
  iothub_transport_t transport;
  iothub_clock_t clk;
  uint32_t next_step, sleep, app_sleep, stopped_at;
  uint64_t step_ticks = 0, driver_ticks = 0;
  int32_t rc;

  clock_init();
  uart_init(UART1_BASE);
  uart_init(UART0_BASE);
  board_log("mps2-an385: iothub-wasm, core native via wasm2c\n");

  if (config_parse(__config_start, (size_t)(uintptr_t)__config_size, &cfg, &bad) < 0) {
    board_log("config: missing or bad ");
    board_log(bad);
    board_log("\n");
    return (int)EXIT_BAD_CONFIG;
  }

  espat_init(&modem);
  while (!espat_ready(&modem)) {
    espat_poll(&modem);
    if (espat_failed(&modem)) {
      board_log("modem: ");
      board_log(modem.detail);
      board_log("\n");
      return (int)EXIT_NO_MODEM;
    }
    clock_idle(uart0_rx_available() > 0);
  }
  board_log("modem: ready, time from SNTP\n");

  espat_transport(&modem, &transport);
  clk.ctx = NULL;
  clk.now_ms = clock_now;
  clk.unix_ms = clock_unix;
  if (cfg.bench) {
    bench_app_init(&bench, &dev, cfg.bench);
    rc = iothub_device_init(&dev, cfg.connection_string, cfg.connection_string_len, &transport, &clk, entropy, NULL,
                            bench_app_on_event, &bench);
  } else {
    rc = iothub_device_init(&dev, cfg.connection_string, cfg.connection_string_len, &transport, &clk, entropy, NULL,
                            thermostat_on_event, &thermostat);
    thermostat_init(&thermostat, &dev, cfg.count, cfg.interval_ms, log_line, NULL);
  }
  if (rc < 0) {
    log_status("config: connection_string: ", rc);
    return (int)EXIT_BAD_CONFIG;
  }
#ifdef MPS2_STORE
  store_state.storage = ram_storage(&store_ram);
  rc = iothub_device_storage(&dev, &store_state);
  board_log("store: ");
  board_log_i32(rc);
  board_log(" messages to send\n");
#endif
  rc = iothub_device_start(&dev);
  if (rc < 0) {
    log_status("start: ", rc);
    return (int)EXIT_FAILED;
  }

  next_step = clock_ms();
  while (!iothub_device_stopped(&dev)) {
    uint32_t now;
    uint64_t t0 = clock_ticks();
    if (espat_poll(&modem)) driver_ticks += clock_ticks() - t0; /* the bench counts the parser's work, not idle ticks */
    now = clock_ms();
    if (espat_take_wake(&modem) || (int32_t)(now - next_step) >= 0) {
      t0 = clock_ticks();
      sleep = iothub_device_step(&dev);
      if (cfg.bench) {
        uint32_t sent = bench.sent;
        bench.steps++;
        bench_app_step(&bench, step_ticks, driver_ticks);
        app_sleep = bench.sent != sent || bench.stopping ? 0 : 1000u; /* the bench runs on events only */
      } else {
        app_sleep = thermostat_step(&thermostat); /* 0: it queued work, which the next step sends */
      }
      /* The library asks to be called again soon while the transport is busy (it cannot know when it will be
       * done); this transport wakes the loop itself when it is, so only the core's own timers count then. */
      if (espat_busy(&modem) && sleep < app_sleep) {
        int32_t core = iothub_core_client_next_timeout();
        sleep = core < 0 ? app_sleep : (uint32_t)core;
      }
      if (app_sleep < sleep) sleep = app_sleep;
      next_step = clock_ms() + sleep;
      step_ticks += clock_ticks() - t0;
    }
    clock_idle(uart0_rx_available() > 0 || modem.wake || (int32_t)(clock_ms() - next_step) >= 0);
  }

  /* Let the module finish closing the link (AT+CIPCLOSE) before the run ends. */
  stopped_at = clock_ms();
  while (!espat_quiet(&modem) && clock_ms() - stopped_at < DRAIN_MS) {
    espat_poll(&modem);
    clock_idle(uart0_rx_available() > 0);
  }

  board_log("stack: high water ");
  board_log_u32(stack_high_water());
  board_log(" of ");
  board_log_u32(stack_size());
  board_log(" bytes\n");
  rc = iothub_device_failure(&dev, &bad);
  if (rc != 0) {
    log_status("stopped: ", rc);
    if (bad) {
      board_log("transport: ");
      board_log(bad);
      board_log("\n");
    }
    return (int)EXIT_FAILED;
  }
  if (!cfg.bench && !thermostat_finished(&thermostat)) {
    board_log("stopped before the readings were done\n");
    return (int)EXIT_FAILED;
  }
  board_log("exit: ok\n");
  return (int)EXIT_OK;
}
