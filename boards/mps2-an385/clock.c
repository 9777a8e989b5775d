/*
 * The millisecond clock: SysTick on the 25 MHz processor clock, one interrupt a millisecond. clock_idle() sleeps
 * in WFI and keeps the count of ticks spent awake, which is the bench's measure of work (under QEMU's
 * -icount shift=0 every instruction takes exactly 1 ns of virtual time).
 */
#include "board.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)
#define CSR_ENABLE 1u
#define CSR_TICKINT 2u
#define CSR_CLKSOURCE 4u /* the processor clock */

static volatile uint32_t ms;
static uint64_t busy;
static uint64_t awake_since;
static uint32_t wakes;

void SysTick_Handler(void) { ms = ms + 1u; }

void clock_init(void) {
  SYST_RVR = BOARD_TICKS_PER_MS - 1u;
  SYST_CVR = 0;
  SYST_CSR = CSR_ENABLE | CSR_TICKINT | CSR_CLKSOURCE;
}

uint32_t clock_ms(void) { return ms; }

uint64_t clock_ticks(void) {
  uint32_t m, v, v2, pending;
  /* The counter may have wrapped before its interrupt ran (QEMU takes interrupts between translation blocks):
   * then SysTick is pending and the millisecond count is one behind. Retry if the interrupt ran, or the counter
   * wrapped, between the reads. */
  do {
    m = ms;
    v = SYST_CVR;
    pending = ICSR & ICSR_PENDSTSET;
    v2 = SYST_CVR;
  } while (m != ms || v2 > v);
  if (pending) m++;
  return (uint64_t)m * BOARD_TICKS_PER_MS + (BOARD_TICKS_PER_MS - 1u - v);
}

void clock_idle(int ready) {
  uint64_t now;
  if (ready) return;
  now = clock_ticks();
  busy += now - awake_since;

  __asm__ volatile("wfi" ::: "memory");
  awake_since = clock_ticks();
  wakes++;
}

uint32_t clock_wakes(void) { return wakes; }

uint64_t clock_busy_ticks(void) { return busy + (clock_ticks() - awake_since); }
