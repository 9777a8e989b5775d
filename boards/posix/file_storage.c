/* The board library's log as one file (file_storage.h). */
#define _DEFAULT_SOURCE

#include "file_storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int32_t fs_append(void *ctx, const uint8_t *record, size_t len) {
  file_storage_t *fs = ctx;
  size_t done = 0;
  char line[96];
  if (len > fs->max_bytes || fs->size > fs->max_bytes - len) return IOTHUB_WASM_CLIENT_STORE_FULL;
  while (done < len) {
    ssize_t n = pwrite(fs->fd, record + done, len - done, (off_t)(fs->size + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (ftruncate(fs->fd, (off_t)fs->size) != 0) { /* a part written is cut off (or found torn at the next boot) */ }
      return IOTHUB_WASM_CLIENT_STORE_FULL;
    }
    done += (size_t)n;
  }
  if (fdatasync(fs->fd) != 0) return IOTHUB_WASM_CLIENT_STORE_FULL; /* not durable: not accepted */
  fs->size += (uint32_t)len;
  if (fs->log) {
    snprintf(line, sizeof line, "stored %u bytes (log %u bytes)", (unsigned)len, (unsigned)fs->size);
    fs->log(fs->log_ctx, line);
  }
  return 0;
}

static int32_t fs_read(void *ctx, uint32_t off, uint8_t *buf, size_t cap) {
  file_storage_t *fs = ctx;
  for (;;) {
    ssize_t n = pread(fs->fd, buf, cap, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? -1 : (int32_t)n;
  }
}

static void fs_truncate(void *ctx, uint32_t len) {
  file_storage_t *fs = ctx;
  if (ftruncate(fs->fd, (off_t)len) == 0) {
    fs->size = len;
    if (fdatasync(fs->fd) != 0) { /* the next boot finds the longer log: its records are checked again */ }
  }
}

static uint32_t fs_size(void *ctx) { return ((file_storage_t *)ctx)->size; }

int file_storage_open(file_storage_t *fs, const char *path, uint32_t max_bytes) {
  struct stat st;
  fs->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fs->fd < 0) return -1;
  if (fstat(fs->fd, &st) != 0) { close(fs->fd); fs->fd = -1; return -1; }
  fs->size = st.st_size > 0xFFFFFFFF ? 0xFFFFFFFFu : (uint32_t)st.st_size;
  fs->max_bytes = max_bytes;
  fs->log = NULL;
  fs->log_ctx = NULL;
  return 0;
}

void file_storage_close(file_storage_t *fs) {
  if (fs->fd >= 0) close(fs->fd);
  fs->fd = -1;
}

iothub_storage_t file_storage(file_storage_t *fs) {
  iothub_storage_t s;
  s.ctx = fs;
  s.append = fs_append;
  s.read = fs_read;
  s.truncate = fs_truncate;
  s.size = fs_size;
  return s;
}
