/*
 * The provisioning loop: moves bytes, time and events between the board's interfaces and the core's provisioning
 * client (boards/README.md 5.8), one non-blocking turn per iothub_provision_step(), exactly as iothub_device.c does
 * for the device client. Everything about the protocol (CONNECT, SAS, topics, polling, retry-after, back-off, the
 * derived key) is the core's; this file only acts on dps_wants() and copies arguments into the core's IO window.
 */
#include <string.h>

#include "iothub_core.h"
#include "iothub_core_dps.h"
#include "iothub_provision.h"

#define IO_RETRY_MS 10u  /* as iothub_device.c: while an open or a write is in progress */
#define IDLE_MAX_MS 1000u

static uint32_t rd32(uint32_t p) {
  const uint8_t *m = iothub_core_memory() + p; /* little-endian, byte by byte on any board */
  return (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
}

static const uint8_t *view(uint32_t ptr, int32_t len) { return len > 0 ? iothub_core_memory() + ptr : NULL; }

/* Copies s (NUL-terminated) into the core's IO window at *off; its core pointer, or 0 if it does not fit. */
static uint32_t to_io(const char *s, uint32_t *len, uint32_t *off) {
  size_t n = strlen(s);
  uint32_t cap = iothub_core_abi_io_capacity(), at;
  if (*off > cap || n > cap - *off) return 0;
  at = iothub_core_abi_io_ptr() + *off;
  memcpy(iothub_core_memory() + at, s, n);
  *off += (uint32_t)n;
  *len = (uint32_t)n;
  return at;
}

/* Calls a dps_*_set(ptr, len) export with s in the IO window. */
static int32_t with_string(const char *s, int32_t (*set)(uint32_t, uint32_t)) {
  uint32_t off = 0, len = 0, p = to_io(s, &len, &off);
  if (p == 0) return IOTHUB_WASM_BAD_ARGUMENT;
  return set(p, len);
}

static void copy_string(char *dst, size_t cap, uint32_t ptr, int32_t len) {
  size_t n = len > 0 ? (size_t)len : 0;
  if (cap == 0) return;
  if (n >= cap) n = cap - 1;
  memcpy(dst, iothub_core_memory() + ptr, n);
  dst[n] = '\0';
}

/* Tells the core the wall-clock time (again before every open: the board's clock may have been synced since). */
static void anchor_time(iothub_provision_t *prov, uint32_t now) {
  uint64_t unix_ms = prov->clock.unix_ms ? prov->clock.unix_ms(prov->clock.ctx) : 0;
  if (unix_ms == 0) return;
  iothub_core_dps_time_set((uint32_t)(unix_ms / 1000u), now - (uint32_t)(unix_ms % 1000u));
}

static void poll_events(iothub_provision_t *prov, uint32_t now) {
  uint32_t type, rec = iothub_core_dps_event_ptr();
  while ((type = iothub_core_dps_poll(now)) != IOTHUB_WASM_DPS_EV_NONE) {
    iothub_provision_event_t ev;
    ev.type = type;
    ev.status = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_STATUS);
    ev.service_status = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_SERVICE_STATUS);
    ev.retry_after_ms = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_RETRY_AFTER_MS);
    ev.error_code = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_ERROR_CODE);
    ev.hub_len = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_HUB_LEN);
    ev.hub = view(rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_HUB_PTR), ev.hub_len);
    ev.device_len = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_DEVICE_LEN);
    ev.device = view(rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_DEVICE_PTR), ev.device_len);
    ev.operation_len = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_OPERATION_LEN);
    ev.operation = view(rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_OPERATION_PTR), ev.operation_len);
    ev.payload_len = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_PAYLOAD_LEN);
    ev.payload = view(rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_PAYLOAD_PTR), ev.payload_len);
    ev.message_len = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_MESSAGE_LEN);
    ev.message = view(rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_MESSAGE_PTR), ev.message_len);
    ev.body_len = (int32_t)rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_BODY_LEN);
    ev.body = view(rd32(rec + IOTHUB_WASM_DPS_EVENT_RECORD_BODY_PTR), ev.body_len);
    if (prov->on_event) prov->on_event(prov, &ev, prov->user);
  }
}

/* The transport is gone (closed by us, dropped, or never opened): tell the core, which backs off and retries. */
static void transport_gone(iothub_provision_t *prov, uint32_t now) {
  if (prov->transport_open || prov->opening) prov->transport.close(prov->transport.ctx);
  prov->transport_open = 0;
  prov->opening = 0;
  iothub_core_dps_transport_down(now);
}

static void on_io_error(iothub_provision_t *prov, int32_t r, uint32_t now) {
  if (r == IOTHUB_IO_FAILED) { /* retrying cannot fix it (e.g. an untrusted certificate): stop and say why */
    const char *detail = prov->transport.detail ? prov->transport.detail(prov->transport.ctx) : NULL;
    transport_gone(prov, now);
    if (prov->failure == 0) {
      prov->failure = IOTHUB_WASM_DPS_TRANSPORT_CLOSED;
      prov->failure_detail = detail;
    }
    iothub_core_dps_stop(now);
    return;
  }
  transport_gone(prov, now);
}

int32_t iothub_provision_init(iothub_provision_t *prov, const char *id_scope, const char *registration_id,
                              const iothub_transport_t *transport, const iothub_clock_t *clock,
                              iothub_entropy_fn entropy, void *entropy_ctx, iothub_provision_event_fn on_event,
                              void *user) {
  uint32_t off = 0, scope_len = 0, reg_len = 0, scope, reg;
  int32_t rc;
  memset(prov, 0, sizeof *prov);
  prov->transport = *transport;
  prov->clock = *clock;
  prov->entropy = entropy;
  prov->entropy_ctx = entropy_ctx;
  prov->on_event = on_event;
  prov->user = user;
  rc = iothub_core_load();
  if (rc < 0) return rc;
  scope = to_io(id_scope, &scope_len, &off);
  reg = to_io(registration_id, &reg_len, &off);
  if (scope == 0 || reg == 0) return IOTHUB_WASM_BAD_ARGUMENT;
  return iothub_core_dps_init(scope, scope_len, reg, reg_len);
}

int32_t iothub_provision_symmetric_key(iothub_provision_t *prov, const char *key) {
  (void)prov;
  return with_string(key, iothub_core_dps_symmetric_key_set);
}

int32_t iothub_provision_group_key(iothub_provision_t *prov, const char *group_key) {
  (void)prov;
  return with_string(group_key, iothub_core_dps_group_key_set);
}

int32_t iothub_provision_x509(iothub_provision_t *prov) {
  (void)prov;
  return iothub_core_dps_x509_set(1);
}

int32_t iothub_provision_payload(iothub_provision_t *prov, const char *json) {
  (void)prov;
  return with_string(json, iothub_core_dps_payload_set);
}

int32_t iothub_provision_host(iothub_provision_t *prov, const char *host_port) {
  (void)prov;
  return with_string(host_port, iothub_core_dps_host_set);
}

int32_t iothub_provision_option(iothub_provision_t *prov, uint32_t opt, int32_t value) {
  (void)prov;
  return iothub_core_dps_option_set(opt, value);
}

int32_t iothub_provision_start(iothub_provision_t *prov) {
  uint32_t now = prov->clock.now_ms(prov->clock.ctx);
  int32_t rc = iothub_core_dps_endpoint_port(IOTHUB_WASM_TRANSPORT_MQTTS);
  if (rc < 0) return rc;
  prov->port = (uint16_t)rc;
  copy_string(prov->host, sizeof prov->host, iothub_core_dps_endpoint_ptr(), iothub_core_dps_endpoint_len());
  iothub_core_dps_seed_set(prov->entropy ? prov->entropy(prov->entropy_ctx) : 0);
  anchor_time(prov, now);
  rc = iothub_core_dps_start(now);
  if (rc == IOTHUB_WASM_OK) {
    prov->started = 1;
    prov->failure = 0;
    prov->failure_detail = NULL;
  }
  return rc;
}

uint32_t iothub_provision_step(iothub_provision_t *prov) {
  uint32_t now = prov->clock.now_ms(prov->clock.ctx);
  uint32_t sleep_ms;
  int32_t t, r;

  poll_events(prov, now); /* timers first: they may ask for an open or a close */

  if (iothub_core_dps_wants() == IOTHUB_WASM_WANT_OPEN && !prov->transport_open) {
    if (!prov->opening) anchor_time(prov, now);
    prov->opening = 1;
    r = prov->transport.open(prov->transport.ctx, prov->host, prov->port, prov->host);
    if (r == 0) {
      prov->opening = 0;
      prov->transport_open = 1;
      iothub_core_dps_transport_up(now);
    } else if (r != IOTHUB_IO_WOULD_BLOCK) {
      on_io_error(prov, r, now);
    }
  }

  if (prov->transport_open) { /* feed what arrived; views end at the next rx call, so dispatch after each chunk */
    for (;;) {
      uint32_t win = iothub_core_dps_rx_window(); /* first: it makes room */
      int32_t space = iothub_core_dps_rx_space();
      if (space <= 0) break; /* only once the core refused an answer too large (DPS_ANSWER_TOO_LARGE) */
      r = prov->transport.recv(prov->transport.ctx, iothub_core_memory() + win, (size_t)space);
      if (r > 0) {
        iothub_core_dps_rx_commit((uint32_t)r);
        poll_events(prov, now);
        if (!prov->transport_open) break;
        continue;
      }
      if (r != IOTHUB_IO_WOULD_BLOCK) on_io_error(prov, r == 0 ? IOTHUB_IO_CLOSED : r, now);
      break;
    }
  }
  poll_events(prov, now);

  while (prov->transport_open && iothub_core_dps_tx_len() > 0) {
    r = prov->transport.send(prov->transport.ctx, iothub_core_memory() + iothub_core_dps_tx_ptr(),
                             (size_t)iothub_core_dps_tx_len());
    if (r > 0) {
      iothub_core_dps_tx_consumed((uint32_t)r);
      poll_events(prov, now);
    } else {
      if (r < 0 && r != IOTHUB_IO_WOULD_BLOCK) on_io_error(prov, r, now);
      break;
    }
  }

  if (iothub_core_dps_wants() == IOTHUB_WASM_WANT_CLOSE) { /* after writing tx: it may end in a DISCONNECT */
    if (!prov->transport_open || iothub_core_dps_tx_len() == 0) {
      transport_gone(prov, now);
      poll_events(prov, now);
    }
  }

  t = iothub_core_dps_next_timeout();
  sleep_ms = t < 0 ? IDLE_MAX_MS : (uint32_t)t;
  if ((prov->opening || (prov->transport_open && iothub_core_dps_tx_len() > 0) ||
       iothub_core_dps_wants() != IOTHUB_WASM_WANT_NOTHING) && sleep_ms > IO_RETRY_MS) {
    sleep_ms = IO_RETRY_MS;
  }
  return sleep_ms;
}

void iothub_provision_stop(iothub_provision_t *prov) {
  uint32_t now = prov->clock.now_ms(prov->clock.ctx);
  iothub_core_dps_stop(now); /* it now wants a close: the next step writes the DISCONNECT and closes */
  poll_events(prov, now);
}

int iothub_provision_done(const iothub_provision_t *prov) {
  return prov->started && iothub_core_dps_state() == IOTHUB_WASM_DPS_STATE_DONE && !prov->transport_open &&
         !prov->opening;
}

int32_t iothub_provision_result(const iothub_provision_t *prov, const char **detail) {
  if (detail) *detail = NULL;
  if (!iothub_provision_done(prov)) return IOTHUB_WASM_BAD_STATE;
  if (prov->failure != 0) {
    if (detail) *detail = prov->failure_detail;
    return prov->failure;
  }
  return iothub_core_dps_result();
}

static int assigned(const iothub_provision_t *prov) { return iothub_provision_result(prov, NULL) == IOTHUB_WASM_OK; }

int32_t iothub_provision_assigned_hub(const iothub_provision_t *prov, char *buf, size_t cap) {
  if (!assigned(prov)) return IOTHUB_WASM_BAD_STATE;
  copy_string(buf, cap, iothub_core_dps_assigned_hub_ptr(), iothub_core_dps_assigned_hub_len());
  return iothub_core_dps_assigned_hub_len();
}

int32_t iothub_provision_device_id(const iothub_provision_t *prov, char *buf, size_t cap) {
  if (!assigned(prov)) return IOTHUB_WASM_BAD_STATE;
  copy_string(buf, cap, iothub_core_dps_device_id_ptr(), iothub_core_dps_device_id_len());
  return iothub_core_dps_device_id_len();
}

/* dps_connection_string into the IO window: its length there, or a core status. */
static int32_t connection_string_in_io(const iothub_provision_t *prov) {
  if (!assigned(prov)) return IOTHUB_WASM_BAD_STATE;
  return iothub_core_dps_connection_string(iothub_core_abi_io_ptr(), iothub_core_abi_io_capacity());
}

int32_t iothub_provision_connection_string(const iothub_provision_t *prov, char *buf, size_t cap) {
  int32_t n = connection_string_in_io(prov);
  if (n < 0) return n;
  if ((size_t)n >= cap) return IOTHUB_WASM_BUFFER_TOO_SMALL;
  copy_string(buf, cap, iothub_core_abi_io_ptr(), n);
  return n;
}

int32_t iothub_device_init_provisioned(iothub_device_t *dev, const iothub_provision_t *prov,
                                       const iothub_transport_t *transport, const iothub_clock_t *clock,
                                       iothub_entropy_fn entropy, void *entropy_ctx, iothub_event_fn on_event,
                                       void *user) {
  int32_t n = connection_string_in_io(prov);
  if (n < 0) return n;
  /* Already in the core's memory: iothub_device_init passes it to client_init in place. */
  return iothub_device_init(dev, (const char *)(iothub_core_memory() + iothub_core_abi_io_ptr()), (size_t)n,
                            transport, clock, entropy, entropy_ctx, on_event, user);
}
