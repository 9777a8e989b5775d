/*
 * The bench workload (CONFIG `bench=N`): instead of the thermostat, N QoS 1 telemetry messages with a 100-byte body
 * and two application properties, one in flight at a time, then a clean stop. It logs the work they took, measured
 * from the first send to the last PUBACK: `bench: messages=N busy_ns=… step_ns=… driver_ns=… rx_bytes=… wakes=… steps=…` (busy: all time awake, which under
 * -icount sleep=on also catches some idle time; step: inside iothub_device_step and the application; driver: the
 * ESP-AT parser and UART reads of the main loop, when they took bytes; rx_bytes: UART0 receive interrupts). Under QEMU's -icount shift=0, 1 ns = 1 instruction.
 */
#ifndef MPS2_BENCH_APP_H
#define MPS2_BENCH_APP_H

#include <stdint.h>

#include "iothub_board.h"

typedef struct bench_app {
  iothub_device_t *dev;
  uint32_t total, sent, acked;
  uint32_t token;          /* the message in flight, 0 = none */
  uint8_t connected, stopping, failed;
  uint64_t busy0, step0, driver0;
  uint32_t rx0;
  uint32_t wakes0, steps0, steps;  /* WFI wake-ups and device steps, at the start and so far */   /* clock_busy_ticks() and step ticks when the measured run began */
} bench_app_t;

/* Messages sent before the measured run starts (connection set-up and the first allocations of the outbox). */
#define BENCH_WARMUP 4u

void bench_app_init(bench_app_t *b, iothub_device_t *dev, uint32_t messages);
void bench_app_on_event(iothub_device_t *dev, const iothub_event_t *ev, void *user);
/* Sends the next message when the last was acknowledged; logs the result and stops the device after the last. */
void bench_app_step(bench_app_t *b, uint64_t step_ticks, uint64_t driver_ticks);
int bench_app_finished(const bench_app_t *b);

#endif
