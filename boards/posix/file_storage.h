/* Store and forward on Linux: the board library's log (iothub_storage_t) as one file, written with write() and
 * fdatasync() before a message counts as accepted. */
#ifndef FILE_STORAGE_H
#define FILE_STORAGE_H

#include "iothub_board.h"

typedef struct file_storage {
  int fd;
  uint32_t size;
  uint32_t max_bytes; /* the log's bound: beyond it append() is IOTHUB_WASM_CLIENT_STORE_FULL */
  void (*log)(void *ctx, const char *line); /* one line per record written (may be NULL) */
  void *log_ctx;
} file_storage_t;

/* Opens (creating) `path`; 0, or -1 with errno set. */
int file_storage_open(file_storage_t *fs, const char *path, uint32_t max_bytes);
void file_storage_close(file_storage_t *fs);
/* The iothub_storage_t for it. */
iothub_storage_t file_storage(file_storage_t *fs);

#endif
