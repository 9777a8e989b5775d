/* The CONFIG page (4 KiB at 0x003FF000, loaded by QEMU, read-only to the image): `key=value` lines, NUL-ended. */
#ifndef MPS2_CONFIG_H
#define MPS2_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct board_config {
  const char *connection_string; /* points into the page; not NUL-terminated at the line's end */
  size_t connection_string_len;
  uint32_t count;       /* acknowledged readings before a clean stop */
  uint32_t interval_ms; /* between readings */
  uint32_t bench;       /* > 0: instead of the thermostat, send this many bench messages (bench/boards.bench.ts) */
} board_config_t;

/* Parses page[0..cap) up to its NUL. Returns 0, or -1 with *bad naming the key that is missing or wrong. */
int config_parse(const char *page, size_t cap, board_config_t *cfg, const char **bad);

#endif
