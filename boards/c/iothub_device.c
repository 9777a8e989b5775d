/*
 * The device loop: moves bytes, time and events between the board's interfaces and the core (boards/README.md 5.3),
 * one non-blocking turn per iothub_device_step(). Everything about the protocol (topics, tokens, back-off) is the
 * core's; this file only acts on client_wants() and copies arguments into the core's IO window.
 */
#include <string.h>

#include "iothub_board.h"
#include "iothub_core.h"

/* How long a board may sleep while an open or a write is in progress and it cannot wait on the transport itself. */
#define IO_RETRY_MS 10u
/* The longest sleep when the core needs nothing but I/O (client_next_timeout() = -1). */
#define IDLE_MAX_MS 1000u

static uint32_t rd32(uint32_t p) {
  const uint8_t *m = iothub_core_memory() + p; /* the core is little-endian: read byte by byte on any board */
  return (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
}

static const uint8_t *view(uint32_t ptr, int32_t len) {
  return len > 0 ? iothub_core_memory() + ptr : NULL;
}

/* Puts data where the core can read it: in place if it already lies in linear memory (an event's view), else
 * copied into the IO window at *io_off. Returns the core pointer, or 0 if it does not fit. */
static uint32_t to_core(const void *data, size_t len, uint32_t *io_off) {
  const uint8_t *mem = iothub_core_memory(), *p = (const uint8_t *)data;
  uint32_t io = iothub_core_abi_io_ptr(), cap = iothub_core_abi_io_capacity(), at;
  if (len == 0) return io;
  if (p >= mem && p < mem + iothub_core_memory_size() && len <= (size_t)(mem + iothub_core_memory_size() - p)) {
    return (uint32_t)(p - mem);
  }
  if (*io_off > cap || len > cap - *io_off) return 0;
  at = io + *io_off;
  memmove(iothub_core_memory() + at, p, len); /* memmove: the source may be an earlier part of the window */
  *io_off += (uint32_t)len;
  return at;
}

static void copy_string(char *dst, size_t cap, uint32_t ptr, int32_t len) {
  size_t n = len > 0 ? (size_t)len : 0;
  if (n >= cap) n = cap - 1;
  memcpy(dst, iothub_core_memory() + ptr, n);
  dst[n] = '\0';
}

void iothub_time_anchor_set(iothub_time_anchor_t *anchor, uint64_t unix_ms, uint32_t tick) {
  anchor->unix_ms = unix_ms;
  anchor->tick = tick;
}

uint64_t iothub_time_anchor_unix_ms(const iothub_time_anchor_t *anchor, uint32_t tick) {
  return anchor->unix_ms == 0 ? 0 : anchor->unix_ms + (uint32_t)(tick - anchor->tick);
}

/* Tells the core the wall-clock time: the Unix second and the tick at which it began (again before every open:
 * the board's clock may have been synced since). */
static void anchor_time(iothub_device_t *dev, uint32_t now) {
  uint64_t unix_ms = dev->clock.unix_ms ? dev->clock.unix_ms(dev->clock.ctx) : 0;
  if (unix_ms == 0) return;
  iothub_core_client_time_set((uint32_t)(unix_ms / 1000u), now - (uint32_t)(unix_ms % 1000u));
  dev->time_set = 1;
}

static void track_twin_answer(iothub_device_t *dev, const iothub_event_t *ev) {
  size_t i;
  const uint8_t *desired, *version;
  size_t desired_len, version_len;
  for (i = 0; i < sizeof dev->twin_gets / sizeof dev->twin_gets[0]; i++) {
    if (dev->twin_gets[i] != ev->token || ev->token == 0) continue;
    dev->twin_gets[i] = 0;
    /* A full twin: desired patches up to its desired $version are applied by whoever reads it, so the core drops
     * them if they arrive again (as DeviceClient does). */
    if (ev->status == 200 && ev->a &&
        iothub_json_member(ev->a, (size_t)ev->a_len, "desired", &desired, &desired_len) &&
        iothub_json_member(desired, desired_len, "$version", &version, &version_len) &&
        iothub_json_is_number(version, version_len)) {
      uint32_t v = 0;
      size_t k;
      for (k = 0; k < version_len && version[k] >= '0' && version[k] <= '9'; k++) v = v * 10u + (uint32_t)(version[k] - '0');
      iothub_core_client_twin_desired_applied(v);
    }
  }
}

static void poll_events(iothub_device_t *dev, uint32_t now) {
  uint32_t type, rec = iothub_core_client_event_ptr();
  while ((type = iothub_core_client_poll(now)) != IOTHUB_WASM_EV_NONE) {
    iothub_event_t ev;
    ev.type = type;
    ev.status = (int32_t)rd32(rec + IOTHUB_WASM_EVENT_RECORD_STATUS);
    ev.token = rd32(rec + IOTHUB_WASM_EVENT_RECORD_TOKEN);
    ev.version = rd32(rec + IOTHUB_WASM_EVENT_RECORD_VERSION);
    ev.a_len = (int32_t)rd32(rec + IOTHUB_WASM_EVENT_RECORD_A_LEN);
    ev.a = view(rd32(rec + IOTHUB_WASM_EVENT_RECORD_A_PTR), ev.a_len);
    ev.b_len = (int32_t)rd32(rec + IOTHUB_WASM_EVENT_RECORD_B_LEN);
    ev.b = view(rd32(rec + IOTHUB_WASM_EVENT_RECORD_B_PTR), ev.b_len);
    ev.c_len = (int32_t)rd32(rec + IOTHUB_WASM_EVENT_RECORD_C_LEN);
    ev.c = view(rd32(rec + IOTHUB_WASM_EVENT_RECORD_C_PTR), ev.c_len);
    ev.extra = (int32_t)rd32(rec + IOTHUB_WASM_EVENT_RECORD_EXTRA);
    /* The core stopped by itself (a refusal retrying cannot fix): remember why for the board's exit status. */
    if (type == IOTHUB_WASM_EV_DISCONNECTED && ev.extra < 0 && ev.status != IOTHUB_WASM_CLIENT_CLOSED &&
        dev->failure == 0) {
      dev->failure = ev.status;
    }
    if (type == IOTHUB_WASM_EV_TWIN_RESPONSE) track_twin_answer(dev, &ev);
    if (dev->store_event) dev->store_event(dev, &ev); /* store and forward (iothub_store.c): markers, the next records */
    if (dev->on_event) dev->on_event(dev, &ev, dev->user);
  }
}

/* The transport is gone (closed by us, dropped, or never opened): tell the core, which backs off and retries. */
static void transport_gone(iothub_device_t *dev, uint32_t now) {
  if (dev->transport_open || dev->opening) dev->transport.close(dev->transport.ctx);
  dev->transport_open = 0;
  dev->opening = 0;
  iothub_core_client_transport_down(now);
}

/* A failure retrying cannot fix (e.g. an untrusted server certificate): stop for good and say why. */
static void transport_failed(iothub_device_t *dev, uint32_t now) {
  const char *detail = dev->transport.detail ? dev->transport.detail(dev->transport.ctx) : NULL;
  transport_gone(dev, now);
  if (dev->failure == 0) {
    dev->failure = IOTHUB_WASM_CLIENT_TRANSPORT_CLOSED;
    dev->failure_detail = detail;
  }
  iothub_core_client_stop(now);
}

static void on_io_error(iothub_device_t *dev, int32_t r, uint32_t now) {
  dev->last_io_result = r;
  if (r == IOTHUB_IO_FAILED) transport_failed(dev, now);
  else transport_gone(dev, now);
}

int32_t iothub_device_init(iothub_device_t *dev, const char *connection_string, size_t len,
                           const iothub_transport_t *transport, const iothub_clock_t *clock,
                           iothub_entropy_fn entropy, void *entropy_ctx, iothub_event_fn on_event, void *user) {
  uint32_t off = 0, cs;
  int32_t rc;
  size_t i;
  memset(dev, 0, sizeof *dev);
  dev->transport = *transport;
  dev->clock = *clock;
  dev->entropy = entropy;
  dev->entropy_ctx = entropy_ctx;
  dev->on_event = on_event;
  dev->user = user;
  rc = iothub_core_load(); /* once per boot; a no-op after provisioning (the assignment stays in the core) */
  if (rc < 0) return rc;
  cs = to_core(connection_string, len, &off);
  if (cs == 0) return IOTHUB_WASM_BAD_ARGUMENT;
  rc = iothub_core_client_init(cs, (uint32_t)len);
  if (rc < 0) return rc;
  rc = iothub_core_client_endpoint_port(IOTHUB_WASM_TRANSPORT_MQTTS);
  if (rc < 0) return rc;
  dev->port = (uint16_t)rc;
  copy_string(dev->host, sizeof dev->host, iothub_core_client_endpoint_ptr(), iothub_core_client_endpoint_len());
  copy_string(dev->sni, sizeof dev->sni, iothub_core_client_hostname_ptr(), iothub_core_client_hostname_len());
  /* A HostName with a port (the local hub's DPS assigns `localhost:PORT`): the TLS name is the host alone. */
  for (i = 0; dev->sni[i] != '\0'; i++) {
    if (dev->sni[i] == ':') { dev->sni[i] = '\0'; break; }
  }
  return IOTHUB_WASM_OK;
}

int32_t iothub_device_option(iothub_device_t *dev, uint32_t opt, int32_t value) {
  (void)dev;
  return iothub_core_client_option_set(opt, value);
}

int32_t iothub_device_start(iothub_device_t *dev) {
  uint32_t now = dev->clock.now_ms(dev->clock.ctx);
  int32_t rc;
  iothub_core_client_seed_set(dev->entropy ? dev->entropy(dev->entropy_ctx) : 0);
  anchor_time(dev, now);
  rc = iothub_core_client_start(now);
  if (rc == IOTHUB_WASM_OK && dev->store_feed) dev->store_feed(dev); /* what waited while stopped */
  return rc;
}

uint32_t iothub_device_step(iothub_device_t *dev) {
  uint32_t now = dev->clock.now_ms(dev->clock.ctx);
  uint32_t sleep_ms;
  int32_t t, r;

  poll_events(dev, now); /* timers first: they may ask for an open or a close */

  if (iothub_core_client_wants() == IOTHUB_WASM_WANT_OPEN && !dev->transport_open) {
    if (!dev->opening) anchor_time(dev, now);
    dev->opening = 1;
    r = dev->transport.open(dev->transport.ctx, dev->host, dev->port, dev->sni);
    if (r == 0) {
      dev->opening = 0;
      dev->transport_open = 1;
      iothub_core_client_transport_up(now); /* a CONNECT it cannot build makes it want a close: handled below */
    } else if (r != IOTHUB_IO_WOULD_BLOCK) {
      on_io_error(dev, r, now);
    }
  }

  if (dev->transport_open) { /* feed what arrived; views end at the next rx call, so dispatch after each chunk */
    for (;;) {
      uint32_t win = iothub_core_client_rx_window(); /* first: it makes room */
      int32_t space = iothub_core_client_rx_space();
      if (space <= 0) break;
      r = dev->transport.recv(dev->transport.ctx, iothub_core_memory() + win, (size_t)space);
      if (r > 0) {
        iothub_core_client_rx_commit((uint32_t)r);
        poll_events(dev, now);
        if (!dev->transport_open) break;
        continue;
      }
      if (r != IOTHUB_IO_WOULD_BLOCK) on_io_error(dev, r == 0 ? IOTHUB_IO_CLOSED : r, now);
      break;
    }
  }
  poll_events(dev, now);

  while (dev->transport_open && iothub_core_client_tx_len() > 0) { /* write what the core has, as far as it goes */
    r = dev->transport.send(dev->transport.ctx, iothub_core_memory() + iothub_core_client_tx_ptr(),
                            (size_t)iothub_core_client_tx_len());
    if (r > 0) {
      iothub_core_client_tx_consumed((uint32_t)r);
      poll_events(dev, now); /* room in tx: the outbox may have more (and QoS 0 sends are acknowledged here) */
    } else {
      if (r < 0 && r != IOTHUB_IO_WOULD_BLOCK) on_io_error(dev, r, now);
      break;
    }
  }

  if (iothub_core_client_wants() == IOTHUB_WASM_WANT_CLOSE) { /* after writing tx: it may end in a DISCONNECT */
    if (!dev->transport_open || iothub_core_client_tx_len() == 0) {
      transport_gone(dev, now);
      poll_events(dev, now);
    }
  }

  t = iothub_core_client_next_timeout();
  sleep_ms = t < 0 ? IDLE_MAX_MS : (uint32_t)t;
  if ((dev->opening || (dev->transport_open && iothub_core_client_tx_len() > 0) ||
       iothub_core_client_wants() != IOTHUB_WASM_WANT_NOTHING) && sleep_ms > IO_RETRY_MS) {
    sleep_ms = IO_RETRY_MS;
  }
  return sleep_ms;
}

void iothub_device_stop(iothub_device_t *dev) {
  uint32_t now = dev->clock.now_ms(dev->clock.ctx);
  iothub_core_client_stop(now); /* it now wants a close: the next step writes the DISCONNECT and closes */
  poll_events(dev, now);
}

int iothub_device_stopped(const iothub_device_t *dev) {
  return iothub_core_client_state() == IOTHUB_WASM_STATE_STOPPED && !dev->transport_open && !dev->opening;
}

int32_t iothub_device_failure(const iothub_device_t *dev, const char **detail) {
  if (detail) *detail = dev->failure_detail;
  return dev->failure;
}

uint32_t iothub_device_state(const iothub_device_t *dev) {
  (void)dev;
  return iothub_core_client_state();
}

int iothub_device_x509(const iothub_device_t *dev) {
  (void)dev;
  return iothub_core_client_x509_enabled() == 1;
}

const char *iothub_status_name(int32_t status, char *buf, size_t cap) {
  uint32_t p = iothub_core_abi_status_name(status), units, i;
  const uint8_t *s = iothub_core_memory() + p;
  if (cap == 0) return buf;
  units = rd32(p - 4) / 2; /* the byte length sits just before the UTF-16LE string */
  for (i = 0; i < units && i + 1 < cap; i++) buf[i] = s[2 * i + 1] == 0 && s[2 * i] < 0x80 ? (char)s[2 * i] : '?';
  buf[i] = '\0';
  return buf;
}

int32_t iothub_telemetry_begin(iothub_device_t *dev) {
  (void)dev;
  iothub_core_client_telemetry_begin();
  return IOTHUB_WASM_OK;
}

int32_t iothub_telemetry_property(iothub_device_t *dev, const char *name, const char *value) {
  uint32_t off = 0, n, v;
  size_t nl = strlen(name), vl = value ? strlen(value) : 0;
  (void)dev;
  n = to_core(name, nl, &off);
  v = to_core(value ? value : "", vl, &off);
  if (n == 0 || v == 0) return IOTHUB_WASM_CLIENT_PROPERTIES_TOO_LARGE;
  return iothub_core_client_telemetry_property_add(n, (uint32_t)nl, v, value ? (int32_t)vl : -1);
}

int32_t iothub_telemetry_system(iothub_device_t *dev, int32_t which, const char *value) {
  uint32_t off = 0, v;
  size_t vl = strlen(value);
  (void)dev;
  v = to_core(value, vl, &off);
  if (v == 0) return IOTHUB_WASM_CLIENT_PROPERTIES_TOO_LARGE;
  return iothub_core_client_telemetry_system_add(which, v, (int32_t)vl);
}

int32_t iothub_telemetry_send(iothub_device_t *dev, const uint8_t *payload, size_t len, int32_t qos) {
  uint32_t off = 0, p = to_core(payload, len, &off);
  if (p == 0) return IOTHUB_WASM_CLIENT_MESSAGE_TOO_LARGE;
  if (qos == 1 && dev->store_send) return dev->store_send(dev, p, (uint32_t)len);
  return iothub_core_client_telemetry_send(p, (uint32_t)len, qos);
}

int32_t iothub_twin_get(iothub_device_t *dev) {
  int32_t rid = iothub_core_client_twin_get(dev->clock.now_ms(dev->clock.ctx));
  size_t i;
  if (rid > 0) {
    for (i = 0; i < sizeof dev->twin_gets / sizeof dev->twin_gets[0]; i++) {
      if (dev->twin_gets[i] == 0) { dev->twin_gets[i] = (uint32_t)rid; break; }
    }
  }
  return rid;
}

int32_t iothub_twin_patch(iothub_device_t *dev, const char *json, size_t len) {
  uint32_t off = 0, p = to_core(json, len, &off);
  if (p == 0) return IOTHUB_WASM_CLIENT_MESSAGE_TOO_LARGE;
  return iothub_core_client_twin_patch(p, (uint32_t)len, dev->clock.now_ms(dev->clock.ctx));
}

int32_t iothub_method_respond(iothub_device_t *dev, const uint8_t *rid, size_t rid_len, int32_t status,
                              const char *json, size_t len) {
  uint32_t off = 0, r = to_core(rid, rid_len, &off), p = to_core(json, len, &off);
  (void)dev;
  if (r == 0 || p == 0) return IOTHUB_WASM_CLIENT_MESSAGE_TOO_LARGE;
  return iothub_core_client_method_respond(r, (uint32_t)rid_len, status, p, (uint32_t)len);
}

int32_t iothub_c2d_ack(iothub_device_t *dev, uint32_t packet_id) {
  (void)dev;
  return iothub_core_client_c2d_ack(packet_id);
}

int32_t iothub_c2d_properties_begin(iothub_device_t *dev, const iothub_event_t *ev) {
  (void)dev;
  if (ev->b == NULL || ev->b_len <= 0) return iothub_core_client_bag_begin(0, 0);
  return iothub_core_client_bag_begin((uint32_t)(ev->b - iothub_core_memory()), ev->b_len);
}

int32_t iothub_c2d_property_next(iothub_device_t *dev, iothub_property_t *prop) {
  int32_t r = iothub_core_client_bag_next();
  uint32_t item = iothub_core_client_bag_item_ptr();
  (void)dev;
  if (r != 1) return r;
  prop->name_len = (int32_t)rd32(item + IOTHUB_WASM_BAG_ITEM_NAME_LEN);
  prop->name = iothub_core_memory() + rd32(item + IOTHUB_WASM_BAG_ITEM_NAME_PTR);
  prop->value_len = (int32_t)rd32(item + IOTHUB_WASM_BAG_ITEM_VALUE_LEN);
  prop->value = prop->value_len >= 0 ? iothub_core_memory() + rd32(item + IOTHUB_WASM_BAG_ITEM_VALUE_PTR) : NULL;
  prop->system = (int32_t)rd32(item + IOTHUB_WASM_BAG_ITEM_SYSTEM);
  return 1;
}
