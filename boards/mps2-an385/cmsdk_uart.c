/* CMSDK APB UART driver (ARM DDI0479C, as QEMU models it in hw/char/cmsdk-apb-uart.c). */
#include "cmsdk_uart.h"

#include "board.h"

#define REG(base, off) (*(volatile uint32_t *)((base) + (off)))
#define DATA 0x00u
#define STATE 0x04u
#define CTRL 0x08u
#define INTSTATUS 0x0Cu
#define BAUDDIV 0x10u

#define STATE_TXFULL 1u
#define STATE_RXFULL 2u
#define CTRL_TX_EN 1u
#define CTRL_RX_EN 2u
#define CTRL_RX_INTEN 8u
#define INT_RX 2u

#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)
#define UART0_RX_IRQ 0u

/* 25 MHz / 115200: QEMU ignores the rate, a real FPGA does not. */
#define BAUD_115200 217u

/* Power of two, so indices wrap with a mask. Large enough for an AT reply plus a chunk of +IPD data. */
#define RX_RING 512u
static uint8_t rx_ring[RX_RING];
static volatile uint32_t rx_head; /* written by the interrupt */
static volatile uint32_t rx_tail; /* written by the main loop */

void uart_init(uint32_t base) {
  REG(base, BAUDDIV) = BAUD_115200;
  if (base == UART0_BASE) {
    REG(base, CTRL) = CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INTEN;
    NVIC_ISER0 = 1u << UART0_RX_IRQ;
  } else {
    REG(base, CTRL) = CTRL_TX_EN;
  }
}

size_t uart_write(uint32_t base, const uint8_t *data, size_t len) {
  size_t n = 0;
  while (n < len && !(REG(base, STATE) & STATE_TXFULL)) REG(base, DATA) = data[n++];
  return n;
}

void uart_write_all(uint32_t base, const uint8_t *data, size_t len) {
  size_t n = 0;
  while (n < len) n += uart_write(base, data + n, len - n);
}

/* Moves received bytes into the ring while it has room; with the ring full, the byte stays in the UART and the
 * interrupt is masked until the main loop makes room (rx_resume). The interrupt is acknowledged before the UART is
 * read: a byte that lands after the last read raises it again instead of waiting unseen. */
static void rx_drain(void) {
  REG(UART0_BASE, INTSTATUS) = INT_RX;
  while (REG(UART0_BASE, STATE) & STATE_RXFULL) {
    if (rx_head - rx_tail >= RX_RING) {
      REG(UART0_BASE, CTRL) &= ~CTRL_RX_INTEN;
      break;
    }
    rx_ring[rx_head & (RX_RING - 1u)] = (uint8_t)REG(UART0_BASE, DATA);
    rx_head = rx_head + 1u;
  }
}

void UART0_RX_Handler(void) { rx_drain(); }

/* After taking bytes (or finding none): unmask the interrupt and pick up a byte that is waiting in the UART. */
static void rx_resume(void) {
  if (!(REG(UART0_BASE, CTRL) & CTRL_RX_INTEN) || (REG(UART0_BASE, STATE) & STATE_RXFULL)) {
    __asm__ volatile("cpsid i" ::: "memory");
    REG(UART0_BASE, CTRL) |= CTRL_RX_INTEN;
    rx_drain();
    __asm__ volatile("cpsie i" ::: "memory");
  }
}

size_t uart0_rx_available(void) {
  size_t n = (size_t)(rx_head - rx_tail);
  if (n == 0) {
    rx_resume();
    n = (size_t)(rx_head - rx_tail);
  }
  return n;
}

int uart0_rx_peek(void) {
  if (uart0_rx_available() == 0) return -1;
  return rx_ring[rx_tail & (RX_RING - 1u)];
}

int uart0_rx_byte(void) {
  int c = uart0_rx_peek();
  if (c >= 0) {
    rx_tail = rx_tail + 1u;
    rx_resume();
  }
  return c;
}

size_t uart0_rx_take(uint8_t *dst, size_t max) {
  size_t i, n = uart0_rx_available();
  if (n > max) n = max;
  for (i = 0; i < n; i++) dst[i] = rx_ring[(rx_tail + i) & (RX_RING - 1u)];
  rx_tail = rx_tail + (uint32_t)n;
  rx_resume();
  return n;
}

uint32_t uart0_rx_count(void) { return rx_head; }

void uart0_rx_drop(size_t n) {
  rx_tail = rx_tail + (uint32_t)n;
  rx_resume();
}
