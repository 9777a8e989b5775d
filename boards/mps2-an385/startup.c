/*
 * Reset and exceptions for the Cortex-M3: the vector table, .data/.bss set-up, and the stack paint that lets the
 * image report its stack high-water mark at exit (stack_high_water()).
 */
#include <stdint.h>
#include <stdlib.h>

#include "board.h"
#include "semihost.h"

extern uint32_t __stack_limit[], __stack_top[];
extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];

int main(void);
void SysTick_Handler(void);
void UART0_RX_Handler(void);

#define STACK_PAINT 0x5AC3A55Au

void Reset_Handler(void) __attribute__((noreturn));
void Reset_Handler(void) {
  uint32_t *p;
  const uint32_t *s;
  uint32_t sp;
  for (s = __data_load, p = __data_start; p < __data_end;) *p++ = *s++;
  for (p = __bss_start; p < __bss_end;) *p++ = 0;
  /* Paint the stack below this frame (with a margin for it), so the deepest use can be found at exit. */
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (p = __stack_limit; p < (uint32_t *)(sp - 64u);) *p++ = STACK_PAINT;
  semihost_exit((uint32_t)main());
}

uint32_t stack_high_water(void) {
  const uint32_t *p = __stack_limit;
  while (p < __stack_top && *p == STACK_PAINT) p++;
  return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

uint32_t stack_size(void) { return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit); }

/* A fault is a bug: say which, where, and end the run with a code the test names (EXIT_FAULT). */
static void fault(const char *what) __attribute__((noreturn));
static void fault(const char *what) {
  uint32_t *frame;
  __asm__ volatile("mrs %0, msp" : "=r"(frame));
  board_log("fault: ");
  board_log(what);
  board_log(" pc=");
  board_log_hex(frame[6]);
  board_log(" cfsr=");
  board_log_hex(*(volatile uint32_t *)0xE000ED28u);
  board_log("\n");
  semihost_exit(EXIT_FAULT);
}

static void NMI_Handler(void) { fault("NMI"); }
static void HardFault_Handler(void) { fault("HardFault"); }
static void MemManage_Handler(void) { fault("MemManage"); }
static void BusFault_Handler(void) { fault("BusFault"); }
static void UsageFault_Handler(void) { fault("UsageFault"); }
static void Unexpected_Handler(void) { fault("unexpected interrupt"); }

typedef void (*vector_t)(void);

/* 16 system exceptions, then the 32 interrupts AN385 wires (QEMU gives the NVIC num-irq 32). */
__attribute__((section(".vectors"), used)) static const vector_t vectors[16 + 32] = {
    (vector_t)(uintptr_t)__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    Unexpected_Handler, /* SVCall */
    Unexpected_Handler, /* DebugMonitor */
    0,
    Unexpected_Handler, /* PendSV */
    SysTick_Handler,
    UART0_RX_Handler, /* IRQ 0: UART0 receive */
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler, Unexpected_Handler,
    Unexpected_Handler,
};

/* wasm-rt calls abort() if the trap hook ever returned; newlib's would pull in signals and stdio. */
void abort(void) {
  board_log("abort\n");
  semihost_exit(EXIT_TRAP);
}

/* assert() in the translated core: report and stop, without newlib's fprintf (stdio, malloc). */
void __assert_func(const char *file, int line, const char *func, const char *expr) __attribute__((noreturn));
void __assert_func(const char *file, int line, const char *func, const char *expr) {
  (void)func;
  board_log("assert: ");
  board_log(expr);
  board_log(" at ");
  board_log(file);
  board_log(":");
  board_log_i32(line);
  board_log("\n");
  semihost_exit(EXIT_TRAP);
}
