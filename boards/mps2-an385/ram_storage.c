/* The store variant's log in a static RAM region (ram_storage.h): bounds-checked, no allocation. */
#include "ram_storage.h"

#include <string.h>

#include "board.h"
#include "iothub_wasm_abi.h"

static int32_t rs_append(void *ctx, const uint8_t *record, size_t len) {
  ram_storage_t *rs = ctx;
  if (len > RAM_STORAGE_BYTES || rs->size > RAM_STORAGE_BYTES - len) return IOTHUB_WASM_CLIENT_STORE_FULL;
  memcpy(rs->bytes + rs->size, record, len);
  rs->size += (uint32_t)len;
  rs->appended++;
  /* one line a record, so that a test can see the log in use (what the Linux board's file storage prints too) */
  board_log("store: stored ");
  board_log_u32((uint32_t)len);
  board_log(" bytes (log ");
  board_log_u32(rs->size);
  board_log(" bytes)\n");
  return 0;
}

static int32_t rs_read(void *ctx, uint32_t off, uint8_t *buf, size_t cap) {
  ram_storage_t *rs = ctx;
  uint32_t n;
  if (off >= rs->size) return 0;
  n = rs->size - off;
  if (n > cap) n = (uint32_t)cap;
  memcpy(buf, rs->bytes + off, n);
  return (int32_t)n;
}

static void rs_truncate(void *ctx, uint32_t len) {
  ram_storage_t *rs = ctx;
  if (len >= rs->size) return; /* truncate only cuts */
  rs->size = len;
  board_log("store: log cut to ");
  board_log_u32(len);
  board_log(" bytes\n");
}

static uint32_t rs_size(void *ctx) { return ((ram_storage_t *)ctx)->size; }

iothub_storage_t ram_storage(ram_storage_t *rs) {
  iothub_storage_t s;
  rs->size = 0;
  rs->appended = 0;
  s.ctx = rs;
  s.append = rs_append;
  s.read = rs_read;
  s.truncate = rs_truncate;
  s.size = rs_size;
  return s;
}
