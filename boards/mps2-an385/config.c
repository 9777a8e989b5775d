/* CONFIG page parser: `key=value` lines ('\n' or "\r\n"), the page ends at its first NUL (or its last byte). */
#include "config.h"

#include <string.h>

static int key_is(const char *line, size_t key_len, const char *key) {
  return key_len == strlen(key) && memcmp(line, key, key_len) == 0;
}

/* A decimal u32 spanning the whole of s[0..len): 0, else -1. */
static int parse_u32(const char *s, size_t len, uint32_t *out) {
  uint32_t v = 0;
  size_t i;
  if (len == 0 || len > 10) return -1;
  for (i = 0; i < len; i++) {
    uint32_t d = (uint32_t)(s[i] - '0');
    if (d > 9u || v > (0xFFFFFFFFu - d) / 10u) return -1;
    v = v * 10u + d;
  }
  *out = v;
  return 0;
}

int config_parse(const char *page, size_t cap, board_config_t *cfg, const char **bad) {
  size_t end = 0, pos = 0;
  int have_cs = 0, have_count = 0;
  while (end < cap && page[end] != '\0') end++;
  memset(cfg, 0, sizeof *cfg);
  cfg->interval_ms = 1000;
  while (pos < end) {
    const char *line = page + pos;
    size_t len = 0, key_len = 0, value_len;
    const char *value;
    while (pos + len < end && line[len] != '\n') len++;
    pos += len + 1;
    if (len > 0 && line[len - 1] == '\r') len--;
    if (len == 0 || line[0] == '#') continue;
    while (key_len < len && line[key_len] != '=') key_len++;
    if (key_len == len) {
      *bad = "a line without '='";
      return -1;
    }
    value = line + key_len + 1;
    value_len = len - key_len - 1;
    if (key_is(line, key_len, "connection_string")) {
      if (value_len == 0) {
        *bad = "connection_string";
        return -1;
      }
      cfg->connection_string = value;
      cfg->connection_string_len = value_len;
      have_cs = 1;
    } else if (key_is(line, key_len, "count")) {
      if (parse_u32(value, value_len, &cfg->count) < 0 || cfg->count == 0) {
        *bad = "count";
        return -1;
      }
      have_count = 1;
    } else if (key_is(line, key_len, "interval_ms")) {
      if (parse_u32(value, value_len, &cfg->interval_ms) < 0) {
        *bad = "interval_ms";
        return -1;
      }
    } else if (key_is(line, key_len, "bench")) {
      if (parse_u32(value, value_len, &cfg->bench) < 0) {
        *bad = "bench";
        return -1;
      }
    }
    /* Other keys are left to newer images. */
  }
  if (!have_cs) {
    *bad = "connection_string";
    return -1;
  }
  if (!have_count && cfg->bench == 0) {
    *bad = "count";
    return -1;
  }
  return 0;
}
