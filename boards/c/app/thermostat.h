/*
 * The demo thermostat every C board runs: the same device as `iothub-wasm run` (host/demo/firmware.ts,
 * host/commands/run.ts), with the same log lines. It reports its start-up properties, sends `count` readings one
 * at a time (QoS 1, `interval_ms` apart), applies and acknowledges desired targetTemperature, answers the
 * getMaxMinReport and reboot methods, prints cloud-to-device messages, then stops the device cleanly.
 *
 * It only calls the board library: the board supplies the log (printf, a UART) and runs the loop.
 */
#ifndef THERMOSTAT_H
#define THERMOSTAT_H

#include <stdint.h>

#include "../iothub_board.h"

#ifdef __cplusplus
extern "C" {
#endif

#define THERMOSTAT_FOREVER UINT32_MAX

/* Writes one line of the device's log (no newline; the board adds one, and a timestamp if it has one). */
typedef void (*thermostat_log_fn)(void *ctx, const char *line);

typedef struct thermostat {
  iothub_device_t *dev;
  thermostat_log_fn log; void *log_ctx;
  uint32_t count;         /* readings to send, THERMOSTAT_FOREVER for no end */
  uint32_t interval_ms;
  int32_t target_m;       /* targetTemperature, millidegrees */
  int32_t temperature_m;  /* the simulated reading, millidegrees */
  char target_text[32];   /* targetTemperature as the hub last sent it (reported back verbatim) */
  uint32_t seq;           /* the reading being sent / next to send */
  uint32_t reading_token; /* its telemetry token while in flight, else 0 */
  uint32_t next_at;       /* tick at which the next reading is due */
  int32_t get_rid, startup_rid, report_rid; /* twin requests in flight (0 none) */
  uint8_t phase;
  char line[640];         /* the log line being built */
  char json[256];         /* the JSON being built (twin patches, method answers, C2D properties) */
  char reading[64];       /* the reading in flight, for its log line */
} thermostat_t;

void thermostat_init(thermostat_t *t, iothub_device_t *dev, uint32_t count, uint32_t interval_ms,
                     thermostat_log_fn log, void *log_ctx);
/* Pass as the device's event handler (iothub_device_init's on_event), with the thermostat as `user`. */
void thermostat_on_event(iothub_device_t *dev, const iothub_event_t *ev, void *user);
/* Runs the application's timers; returns the longest the board may sleep before calling again, in ms: 0 when it
 * queued work, which the device's next step sends (call iothub_device_step before sleeping). */
uint32_t thermostat_step(thermostat_t *t);
/* 1 once `count` readings are done and the device was asked to stop (keep stepping it until it has stopped). */
int thermostat_finished(const thermostat_t *t);

#ifdef __cplusplus
}
#endif

#endif
