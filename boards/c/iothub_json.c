/*
 * Just enough JSON for a device: find a member of an object and tell a number. Works on the bytes in place (no
 * allocation, no copy) and skips nested values without parsing them; malformed input only ever means "not found".
 */
#include <string.h>

#include "iothub_board.h"

static size_t skip_ws(const uint8_t *s, size_t len, size_t i) {
  while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
  return i;
}

/* s[i] is '"': returns the index just past the closing quote, or len. */
static size_t skip_string(const uint8_t *s, size_t len, size_t i) {
  for (i++; i < len; i++) {
    if (s[i] == '\\') i++;
    else if (s[i] == '"') return i + 1;
  }
  return len;
}

/* Returns the index just past the value starting at s[i]. */
static size_t skip_value(const uint8_t *s, size_t len, size_t i) {
  size_t depth = 0;
  if (i >= len) return len;
  if (s[i] == '"') return skip_string(s, len, i);
  if (s[i] != '{' && s[i] != '[') { /* number, true, false, null */
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
           s[i] != '\n') {
      i++;
    }
    return i;
  }
  while (i < len) {
    if (s[i] == '"') { i = skip_string(s, len, i); continue; }
    if (s[i] == '{' || s[i] == '[') depth++;
    else if ((s[i] == '}' || s[i] == ']') && --depth == 0) return i + 1;
    i++;
  }
  return len;
}

int iothub_json_member(const uint8_t *s, size_t len, const char *key, const uint8_t **val, size_t *val_len) {
  size_t klen = strlen(key), i = skip_ws(s, len, 0);
  if (i >= len || s[i] != '{') return 0;
  i++;
  for (;;) {
    size_t name, name_end, start;
    i = skip_ws(s, len, i);
    if (i >= len || s[i] != '"') return 0; /* '}' (end) or malformed */
    name = i + 1;
    i = skip_string(s, len, i);
    name_end = i - 1;
    i = skip_ws(s, len, i);
    if (i >= len || s[i] != ':') return 0;
    start = skip_ws(s, len, i + 1);
    i = skip_value(s, len, start);
    if (i > len || start >= len) return 0;
    if (name_end - name == klen && memcmp(s + name, key, klen) == 0) {
      *val = s + start;
      *val_len = i - start;
      return 1;
    }
    i = skip_ws(s, len, i);
    if (i >= len || s[i] != ',') return 0;
    i++;
  }
}

int iothub_json_is_number(const uint8_t *s, size_t len) {
  size_t i = 0, digits = 0;
  if (i < len && s[i] == '-') i++;
  while (i < len && s[i] >= '0' && s[i] <= '9') { i++; digits++; }
  if (i < len && s[i] == '.') {
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
  }
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
  }
  return digits > 0 && i == len;
}
