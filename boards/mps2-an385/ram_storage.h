/*
 * Storage for store and forward on the mps2-an385 store variant (build/store/, -DMPS2_STORE): a fixed static RAM
 * region standing in for flash (iothub_board.h's iothub_storage_t). It does not survive a power cycle; it shows the
 * interface on this board, not durability.
 */
#ifndef RAM_STORAGE_H
#define RAM_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "iothub_board.h"

#define RAM_STORAGE_BYTES 8192u

typedef struct ram_storage {
  uint8_t bytes[RAM_STORAGE_BYTES];
  uint32_t size;
  uint32_t appended; /* records written since boot (messages and completion markers), for the log */
} ram_storage_t;

/* An empty region and the interface over it. */
iothub_storage_t ram_storage(ram_storage_t *rs);

#endif
