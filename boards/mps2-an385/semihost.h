/* Arm semihosting (QEMU -semihosting-config enable=on,target=native): how the image ends a run with an exit code. */
#ifndef MPS2_SEMIHOST_H
#define MPS2_SEMIHOST_H

#include <stdint.h>

/* SYS_EXIT_EXTENDED with ADP_Stopped_ApplicationExit: QEMU exits with `code`. Never returns. */
void semihost_exit(uint32_t code) __attribute__((noreturn));

#endif
