/* What the board's files share: exit codes, the log UART, the millisecond clock and idle wait, the stack report. */
#ifndef MPS2_BOARD_H
#define MPS2_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Semihosting exit codes (the test and the bench name them). */
#define EXIT_OK 0u          /* `count` acknowledged readings, then a clean stop */
#define EXIT_FAILED 1u      /* the device stopped for a reason retrying cannot fix (the log names the core status) */
#define EXIT_BAD_CONFIG 2u  /* the CONFIG page is missing a key or holds a bad value */
#define EXIT_NO_MODEM 3u    /* the Wi-Fi module did not answer AT / AT+CIPSNTPTIME? */
#define EXIT_TRAP 4u        /* the core trapped (a bug) */
#define EXIT_FAULT 5u       /* a Cortex-M fault (a bug) */

/* UART1: the log. Blocking on a full transmitter only (QEMU's file backend never is). */
void board_log(const char *s);
void board_log_n(const char *s, size_t len);
void board_log_u32(uint32_t v);
void board_log_i32(int32_t v);
void board_log_hex(uint32_t v);

/* SysTick at the 25 MHz system clock, interrupting every millisecond. */
#define BOARD_TICKS_PER_MS 25000u
void clock_init(void);
uint32_t clock_ms(void);
/* Fine time in SysTick ticks (40 ns) since boot; under -icount shift=0 one instruction takes 1 ns. */
uint64_t clock_ticks(void);
/* Sleeps (WFI) until an interrupt unless `ready` already holds; accounts the time spent awake for the bench. */
void clock_idle(int ready);
/* Ticks spent awake since boot (the bench's measure of work). */
uint64_t clock_busy_ticks(void);
/* How many times the CPU woke from WFI since boot. */
uint32_t clock_wakes(void);

/* Stack use: the deepest the stack went since reset (painted at reset), and its size. */
uint32_t stack_high_water(void);
uint32_t stack_size(void);

#endif
