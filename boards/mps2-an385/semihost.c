/* Semihosting exit. SYS_EXIT (0x18) on A32/T32 carries no status, so SYS_EXIT_EXTENDED (0x20) is used: its
 * parameter block is {reason, subcode}, and QEMU exits with the subcode when the reason is ApplicationExit. */
#include "semihost.h"

#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

void semihost_exit(uint32_t code) {
  volatile uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
  for (;;) {
    register uint32_t r0 __asm__("r0") = SYS_EXIT_EXTENDED;
    register volatile uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  }
}
