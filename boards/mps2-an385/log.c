/* The log: text on UART1 (QEMU -serial file:LOG). */
#include <string.h>

#include "board.h"
#include "cmsdk_uart.h"

void board_log_n(const char *s, size_t len) { uart_write_all(UART1_BASE, (const uint8_t *)s, len); }

void board_log(const char *s) { board_log_n(s, strlen(s)); }

void board_log_u32(uint32_t v) {
  char buf[10];
  size_t i = sizeof buf;
  do {
    buf[--i] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  board_log_n(buf + i, sizeof buf - i);
}

void board_log_i32(int32_t v) {
  if (v < 0) {
    board_log_n("-", 1);
    board_log_u32(0u - (uint32_t)v);
  } else {
    board_log_u32((uint32_t)v);
  }
}

void board_log_hex(uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  char buf[10];
  int i;
  buf[0] = '0';
  buf[1] = 'x';
  for (i = 0; i < 8; i++) buf[2 + i] = digits[(v >> (28 - 4 * i)) & 15u];
  board_log_n(buf, sizeof buf);
}
