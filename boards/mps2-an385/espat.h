/*
 * The Wi-Fi module on UART0, speaking Espressif's ESP-AT in single-connection normal transmission mode; the module
 * does TLS. This is the board's iothub_transport_t (iothub_board.h) and its only wall clock (AT+CIPSNTPTIME?).
 *
 * A state machine fed by UART bytes: nothing here waits. espat_poll() moves the bytes that arrived through the
 * reply parser; the transport calls poll too, then act on the state. The AT exchange (ESP-AT's documented syntax):
 *   start-up   AT → OK;  ATE0 → OK;  AT+CIPSNTPTIME? → +CIPSNTPTIME:<asctime UTC> OK
 *   open       AT+CIPSSLCSNI="<sni>" → OK;  AT+CIPSTART="SSL","<host>",<port> → CONNECT OK  (or ERROR)
 *   send       AT+CIPSEND=<n> → OK >;  then exactly n bytes → Recv <n> bytes, SEND OK  (or SEND FAIL)
 *   receive    +IPD,<n>:<n bytes>  (unsolicited)
 *   close      AT+CIPCLOSE → CLOSED OK  (or ERROR when no link);  an unsolicited CLOSED = the peer closed
 */
#ifndef MPS2_ESPAT_H
#define MPS2_ESPAT_H

#include <stdint.h>

#include "iothub_board.h"

typedef struct espat {
  uint8_t state;
  uint8_t wake;          /* something the device loop acts on happened (data, prompt, link up/down) */
  uint8_t open_failed;   /* the last open attempt ended in ERROR: open() reports it once */
  uint8_t link_lost;     /* the link dropped since it came up: recv()/send() report it until the next open */
  uint8_t connect_seen;  /* CONNECT arrived for the current CIPSTART */
  uint8_t close_wanted;  /* close() came while a CIPSEND was in progress */
  uint8_t in_ipd;        /* the next ipd_left bytes on the UART are +IPD data */
  uint8_t send_blocked;  /* send() took nothing while a CIPSEND was in progress: wake the loop when it ends */
  uint8_t line_len;
  char line[80];
  uint32_t ipd_left;
  uint32_t send_left;    /* bytes the current CIPSEND still expects */
  uint32_t deadline;     /* for the command in progress (clock_ms) */
  uint32_t retry_at;     /* start-up: when to ask again */
  uint32_t tries;
  uint16_t cmd_len, cmd_sent;
  char cmd[300];         /* the AT command being written (the host may be 255 characters) */
  uint64_t unix_ms;      /* the module's SNTP time (0 = none yet) ... */
  uint32_t unix_tick;    /* ... seen at this tick */
  int64_t sntp_s;        /* +CIPSNTPTIME of the answer in progress */
  const char *detail;
} espat_t;

/* Starts the module's start-up exchange (AT, ATE0, AT+CIPSNTPTIME?). */
void espat_init(espat_t *m);
/* Moves what arrived through the reply parser and writes what is pending; returns how many bytes it took. */
uint32_t espat_poll(espat_t *m);
/* Start-up done: the time is known and the module takes connections. */
int espat_ready(const espat_t *m);
/* Start-up failed (no answer, or no valid time, within its deadline). */
int espat_failed(const espat_t *m);
/* No link and no command in progress (after a close, before the image exits). */
int espat_quiet(const espat_t *m);
/* A CIPSEND, an open or a close is in progress: its end wakes the loop (espat_take_wake), no need to poll for it. */
int espat_busy(const espat_t *m);
/* Returns and clears the wake flag: whether the device loop should run a step now. */
int espat_take_wake(espat_t *m);
/* The transport (ctx = m) and the clock (Unix time from the module's SNTP) for iothub_device_init. */
void espat_transport(espat_t *m, iothub_transport_t *t);
uint64_t espat_unix_ms(const espat_t *m, uint32_t tick);

/* asctime-style UTC time ("Tue Dec 01 11:20:00 2026") → Unix seconds, or -1. */
int64_t espat_parse_asctime(const char *s, uint32_t len);

#endif
