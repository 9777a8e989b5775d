/* The bench workload: see bench_app.h. */
#include "bench_app.h"

#include <string.h>

#include "board.h"
#include "cmsdk_uart.h"

/* 100 bytes of JSON, like a sensor record. */
static const char body[] =
    "{\"temperature\":21.5,\"humidity\":48.25,\"pressure\":1013.2,\"seq\":0,\"site\":\"bench-rig-0001-ab\",\"ok\":true}";
typedef char body_is_100_bytes[sizeof body - 1 == 100 ? 1 : -1];

void bench_app_init(bench_app_t *b, iothub_device_t *dev, uint32_t messages) {
  memset(b, 0, sizeof *b);
  b->dev = dev;
  b->total = messages + BENCH_WARMUP;
}

void bench_app_on_event(iothub_device_t *dev, const iothub_event_t *ev, void *user) {
  bench_app_t *b = (bench_app_t *)user;
  (void)dev;
  if (ev->type == IOTHUB_WASM_EV_CONNECTED) b->connected = 1;
  if (ev->type == IOTHUB_WASM_EV_TELEMETRY_ACKED && ev->token == b->token) {
    b->token = 0;
    b->acked++;
  }
  if (ev->type == IOTHUB_WASM_EV_TELEMETRY_FAILED && ev->token == b->token && !b->stopping) b->failed = 1;
}

static uint64_t ns(uint64_t ticks) { return ticks * (1000000u / BOARD_TICKS_PER_MS); }

static void log_u64(uint64_t v) {
  char buf[21];
  size_t i = sizeof buf;
  do {
    buf[--i] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  board_log_n(buf + i, sizeof buf - i);
}

void bench_app_step(bench_app_t *b, uint64_t step_ticks, uint64_t driver_ticks) {
  int32_t r;
  if (b->stopping || !b->connected || b->token) return;
  if (b->acked == BENCH_WARMUP && b->sent == BENCH_WARMUP) {
    b->busy0 = clock_busy_ticks();
    b->step0 = step_ticks;
    b->driver0 = driver_ticks;
    b->rx0 = uart0_rx_count();
    b->wakes0 = clock_wakes();
    b->steps0 = b->steps;
  }
  if (b->acked == b->total || b->failed) {
    board_log("bench: messages=");
    board_log_u32(b->total - BENCH_WARMUP);
    board_log(" busy_ns=");
    log_u64(ns(clock_busy_ticks() - b->busy0));
    board_log(" step_ns=");
    log_u64(ns(step_ticks - b->step0));
    board_log(" driver_ns=");
    log_u64(ns(driver_ticks - b->driver0));
    board_log(" rx_bytes=");
    board_log_u32(uart0_rx_count() - b->rx0);
    board_log(" wakes=");
    board_log_u32(clock_wakes() - b->wakes0);
    board_log(" steps=");
    board_log_u32(b->steps - b->steps0);
    board_log(b->failed ? " failed\n" : "\n");
    b->stopping = 1;
    iothub_device_stop(b->dev);
    return;
  }
  iothub_telemetry_begin(b->dev);
  iothub_telemetry_property(b->dev, "sensor", "thermostat");
  iothub_telemetry_property(b->dev, "unit", "celsius");
  r = iothub_telemetry_send(b->dev, (const uint8_t *)body, sizeof body - 1, 1);
  if (r > 0) {
    b->token = (uint32_t)r;
    b->sent++;
  }
}

int bench_app_finished(const bench_app_t *b) { return b->stopping; }
