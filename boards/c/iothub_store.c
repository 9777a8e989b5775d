/*
 * Store and forward for the board library (boards/README.md 5.8): QoS 1 telemetry goes through the board's log
 * (iothub_storage_t) as the core's store records, and the core's outbox is a window fed from the log. The records are
 * the core's: this file only appends them, reads them back into the IO window and hands them to the core, which
 * checks each one. No allocation: the messages in the core are a ring of IOTHUB_STORE_WINDOW tokens and offsets in
 * the board's iothub_store_t.
 *
 * Completion markers are written in order (a message acknowledged before an older one waits for it), so a marker
 * also covers every earlier message: at boot the newest marker says which messages are done, in one pass and with
 * no table of tokens. Message tokens grow along the log (the core's next token follows every record checked).
 */
#include <string.h>

#include "iothub_board.h"
#include "iothub_core.h"

/* Everything in the log is acknowledged and it is at least this long: empty it (a file or flash page is reused). */
#ifndef IOTHUB_STORE_EMPTY_AT
#define IOTHUB_STORE_EMPTY_AT 4096u
#endif

static void report(iothub_device_t *dev, int32_t status, uint32_t off) {
  iothub_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.type = IOTHUB_WASM_EV_ERROR;
  ev.status = status;
  ev.extra = (int32_t)off;
  if (dev->on_event) dev->on_event(dev, &ev, dev->user);
}

/* Reads the log from `off` into the IO window and has the core check the record there: its length or a status. */
static int32_t load(iothub_device_t *dev, uint32_t off) {
  uint32_t io = iothub_core_abi_io_ptr(), cap = iothub_core_abi_io_capacity(), left = dev->store->end - off;
  int32_t n = dev->store->storage.read(dev->store->storage.ctx, off, iothub_core_memory() + io, left < cap ? left : cap);
  if (n < 0) return IOTHUB_WASM_CLIENT_STORE_TRUNCATED;
  return iothub_core_client_store_check(io, (uint32_t)n);
}

/* The first offset from `off` at which a record checks (or the end): a stretch that does not is reported, skipped. */
static uint32_t skip_bad(iothub_device_t *dev, uint32_t off) {
  uint32_t from = off;
  while (off < dev->store->end && load(dev, off) == IOTHUB_WASM_CLIENT_STORE_CORRUPT) off++;
  if (off != from) report(dev, IOTHUB_WASM_CLIENT_STORE_CORRUPT, from);
  return off;
}

static void ring_reset(iothub_device_t *dev) {
  dev->store->head = 0;
  dev->store->count = 0;
}

/* Hands waiting records to the core, oldest first, while it has room. */
static void feed(iothub_device_t *dev) {
  while (dev->store->next < dev->store->end && dev->store->count < IOTHUB_STORE_WINDOW) {
    int32_t n = load(dev, dev->store->next), r;
    uint32_t token;
    if (n < 0) { dev->store->next = skip_bad(dev, dev->store->next + 1); continue; }
    token = iothub_core_client_store_token();
    if (iothub_core_client_store_kind() != IOTHUB_WASM_STORE_MESSAGE || token <= dev->store->done) {
      dev->store->next += (uint32_t)n;
      continue;
    }
    r = iothub_core_client_store_restore(iothub_core_abi_io_ptr(), (uint32_t)n);
    if (r == IOTHUB_WASM_CLIENT_QUEUE_FULL || r == IOTHUB_WASM_CLIENT_CLOSED) return; /* again after an ack, a start */
    if (r > 0) {
      uint32_t at = (uint32_t)(dev->store->head + dev->store->count) % IOTHUB_STORE_WINDOW;
      dev->store->tokens[at] = token;
      dev->store->offsets[at] = dev->store->next;
      dev->store->acked[at] = 0;
      dev->store->count++;
    }
    dev->store->next += (uint32_t)n;
  }
}

static int32_t store_send(iothub_device_t *dev, uint32_t payload, uint32_t len) {
  uint32_t now = dev->clock.now_ms(dev->clock.ctx);
  int32_t token = iothub_core_client_telemetry_store(payload, len, now), r;
  if (token < 0) return token;
  r = dev->store->storage.append(dev->store->storage.ctx, iothub_core_memory() + iothub_core_client_store_ptr(),
                          (size_t)iothub_core_client_store_len());
  if (r < 0) return r; /* IOTHUB_WASM_CLIENT_STORE_FULL: back-pressure, nothing was accepted */
  dev->store->end += (uint32_t)iothub_core_client_store_len();
  feed(dev);
  return token;
}

/* The oldest messages are acknowledged: one marker for them all, and an empty log once nothing in it is needed. */
static void acknowledged(iothub_device_t *dev, uint32_t token) {
  uint32_t i, done = 0;
  for (i = 0; i < dev->store->count; i++) {
    uint32_t at = (dev->store->head + i) % IOTHUB_STORE_WINDOW;
    if (dev->store->tokens[at] == token) dev->store->acked[at] = 1;
  }
  while (dev->store->count > 0 && dev->store->acked[dev->store->head]) {
    done = dev->store->tokens[dev->store->head];
    dev->store->head = (uint8_t)((dev->store->head + 1u) % IOTHUB_STORE_WINDOW);
    dev->store->count--;
  }
  if (done == 0) return;
  dev->store->done = done;
  if (dev->store->count == 0 && dev->store->next >= dev->store->end && dev->store->end >= IOTHUB_STORE_EMPTY_AT) {
    dev->store->storage.truncate(dev->store->storage.ctx, 0);
    dev->store->end = 0;
    dev->store->next = 0;
    return;
  }
  /* a marker lost to a full log only means the message may be sent again (at least once) */
  if (dev->store->storage.append(dev->store->storage.ctx, iothub_core_memory() + iothub_core_client_store_ptr(),
                          (size_t)iothub_core_client_store_done(done)) == 0) {
    dev->store->end += (uint32_t)iothub_core_client_store_len();
  }
}

static void store_event(iothub_device_t *dev, const iothub_event_t *ev) {
  if (ev->type == IOTHUB_WASM_EV_TELEMETRY_ACKED) {
    acknowledged(dev, ev->token);
    feed(dev);
  } else if (ev->type == IOTHUB_WASM_EV_TELEMETRY_FAILED && dev->store->count > 0) {
    /* stopped: what the core held goes to it again from the oldest after the next start (or the next boot) */
    dev->store->next = dev->store->offsets[dev->store->head];
    ring_reset(dev);
  }
}

int32_t iothub_device_storage(iothub_device_t *dev, iothub_store_t *store) {
  uint32_t off = 0, waiting = 0;
  const iothub_storage_t *storage = &store->storage;
  dev->store = store;
  dev->store->end = storage->size(storage->ctx);
  dev->store->done = 0;
  ring_reset(dev);
  /* Message ids come from the core's generator and creation times from its clock: set both before any message. */
  iothub_core_client_seed_set(dev->entropy ? dev->entropy(dev->entropy_ctx) : 0);
  if (dev->clock.unix_ms && dev->clock.unix_ms(dev->clock.ctx) != 0) {
    uint64_t unix_ms = dev->clock.unix_ms(dev->clock.ctx);
    uint32_t now = dev->clock.now_ms(dev->clock.ctx);
    iothub_core_client_time_set((uint32_t)(unix_ms / 1000u), now - (uint32_t)(unix_ms % 1000u));
  }
  /* One pass: every record checked (which moves the core's next token past it), the newest marker remembered. */
  while (off < dev->store->end) {
    int32_t n = load(dev, off);
    if (n == IOTHUB_WASM_CLIENT_STORE_TRUNCATED && dev->store->end - off <= iothub_core_abi_io_capacity()) {
      report(dev, IOTHUB_WASM_CLIENT_STORE_TRUNCATED, off); /* a write torn by a reset: cut off, never sent */
      storage->truncate(storage->ctx, off);
      dev->store->end = off;
      break;
    }
    if (n < 0) { off = skip_bad(dev, off + 1); continue; }
    if (iothub_core_client_store_kind() == IOTHUB_WASM_STORE_DONE && iothub_core_client_store_token() > dev->store->done) {
      dev->store->done = iothub_core_client_store_token();
    }
    off += (uint32_t)n;
  }
  for (off = 0; off < dev->store->end;) { /* the waiting messages, for the caller */
    int32_t n = load(dev, off);
    if (n < 0) { off++; continue; }
    if (iothub_core_client_store_kind() == IOTHUB_WASM_STORE_MESSAGE && iothub_core_client_store_token() > dev->store->done) waiting++;
    off += (uint32_t)n;
  }
  dev->store->next = 0;
  dev->store_send = store_send;
  dev->store_event = store_event;
  dev->store_feed = feed;
  feed(dev);
  return (int32_t)waiting;
}
