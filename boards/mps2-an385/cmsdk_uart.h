/* The CMSDK APB UART of the AN385 FPGA image: UART0 (the Wi-Fi module, interrupt-driven receive) and UART1 (log). */
#ifndef MPS2_CMSDK_UART_H
#define MPS2_CMSDK_UART_H

#include <stddef.h>
#include <stdint.h>

#define UART0_BASE 0x40004000u
#define UART1_BASE 0x40005000u

/* Enables a UART at 115200 baud (8N1 is fixed). UART0 also gets its receive interrupt (IRQ 0). */
void uart_init(uint32_t base);
/* Writes what the transmitter takes now, never waiting: returns how many bytes went (0..len). */
size_t uart_write(uint32_t base, const uint8_t *data, size_t len);
/* Writes all of it, waiting on a full transmitter (the log only). */
void uart_write_all(uint32_t base, const uint8_t *data, size_t len);

/* UART0 receive: bytes the interrupt moved into a ring. When the ring is full the interrupt stops taking bytes, so
 * the sender is held back (QEMU stops reading the socket) instead of bytes being lost. */
size_t uart0_rx_available(void);
/* The next byte without taking it, or -1. */
int uart0_rx_peek(void);
int uart0_rx_byte(void);
size_t uart0_rx_take(uint8_t *dst, size_t max);
/* Bytes received since boot (the bench's count of receive interrupts' work). */
uint32_t uart0_rx_count(void);
/* Drops n bytes (n <= available). */
void uart0_rx_drop(size_t n);

#endif
