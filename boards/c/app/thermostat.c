/*
 * The demo thermostat (see thermostat.h): a small state machine driven by the device's events and its own step.
 * Numbers are integers (millidegrees): the Cortex-M3 has no FPU and the firmware need not carry a float library.
 */
#include <string.h>

#include "thermostat.h"

enum { WAIT_CONNECTED, GET_TWIN, REPORT_STARTUP, READINGS, DRAIN, STOPPING };

#define SERIAL_NUMBER "IOTHUB-WASM-0001"
#define FIRMWARE "iothub-wasm demo 0.1.0"

/* round(sin(n) * 50) millidegrees for n = 0..43 (44 rad is within 0.02 rad of 7 turns): the reading's wobble,
 * as `Math.sin(seq) * 0.05` degrees in host/demo/firmware.ts. */
static const int8_t wobble[44] = {0,   42,  45,  7,   -38, -48, -14, 33,  49,  21, -27, -50, -27, 21, 50,
                                  33,  -14, -48, -38, 7,   46,  42,  0,   -42, -45, -7, 38,  48,  14, -33,
                                  -49, -20, 28,  50,  26,  -21, -50, -32, 15,  48,  37, -8,  -46, -42};

/* ---- a bounded string builder: output that does not fit is cut, never overrun --------------------------------- */
typedef struct { char *buf; size_t cap, len; } sb_t;

static void sb_init(sb_t *b, char *buf, size_t cap) { b->buf = buf; b->cap = cap; b->len = 0; buf[0] = '\0'; }
static void sb_bytes(sb_t *b, const void *p, size_t n) {
  if (n > b->cap - 1 - b->len) n = b->cap - 1 - b->len;
  memcpy(b->buf + b->len, p, n);
  b->len += n;
  b->buf[b->len] = '\0';
}
static void sb_str(sb_t *b, const char *s) { sb_bytes(b, s, strlen(s)); }
static void sb_u32(sb_t *b, uint32_t v) {
  char d[10];
  size_t n = 0;
  do { d[n++] = (char)('0' + v % 10u); v /= 10u; } while (v);
  while (n) sb_bytes(b, &d[--n], 1);
}
static void sb_i32(sb_t *b, int32_t v) {
  if (v < 0) { sb_str(b, "-"); sb_u32(b, (uint32_t)0 - (uint32_t)v); }
  else sb_u32(b, (uint32_t)v);
}
/* millidegrees rounded to hundredths, printed as JSON.stringify prints Math.round(x * 100) / 100 */
static void sb_degrees(sb_t *b, int32_t m) {
  int32_t c = m >= 0 ? (m + 5) / 10 : -((-m + 5) / 10);
  uint32_t a = c < 0 ? (uint32_t)0 - (uint32_t)c : (uint32_t)c;
  if (c < 0) sb_str(b, "-");
  sb_u32(b, a / 100u);
  if (a % 100u) {
    char f[3] = {(char)('0' + a % 100u / 10u), (char)('0' + a % 10u), '\0'};
    if (f[1] == '0') f[1] = '\0';
    sb_str(b, ".");
    sb_str(b, f);
  }
}
/* a JSON string, escaped as JSON.stringify does */
static void sb_json_string(sb_t *b, const uint8_t *s, int32_t n) {
  static const char hex[] = "0123456789abcdef";
  int32_t i;
  sb_str(b, "\"");
  for (i = 0; i < n; i++) {
    uint8_t c = s[i];
    if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; sb_bytes(b, e, 2); }
    else if (c == '\n') sb_str(b, "\\n");
    else if (c == '\r') sb_str(b, "\\r");
    else if (c == '\t') sb_str(b, "\\t");
    else if (c == '\b') sb_str(b, "\\b");
    else if (c == '\f') sb_str(b, "\\f");
    else if (c < 0x20) { char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]}; sb_bytes(b, e, 6); }
    else sb_bytes(b, &c, 1);
  }
  sb_str(b, "\"");
}
static void sb_status(sb_t *b, int32_t status) {
  char name[48];
  sb_str(b, iothub_status_name(status, name, sizeof name));
}

/* ---- numbers from the hub ---------------------------------------------------------------------------------- */

/* A JSON number as millidegrees (fractions beyond a millidegree are dropped). 0 if it is not a number. */
static int parse_millidegrees(const uint8_t *s, size_t n, int32_t *out) {
  size_t i = 0;
  int32_t v = 0, frac = 0, scale = 100;
  int neg = 0;
  if (!iothub_json_is_number(s, n)) return 0;
  if (memchr(s, 'e', n) || memchr(s, 'E', n)) return 0; /* exponents: not a temperature anyone sends */
  i = 0;
  if (s[i] == '-') { neg = 1; i++; }
  for (; i < n && s[i] != '.'; i++) {
    if (v > 1000000) return 0;
    v = v * 10 + (s[i] - '0');
  }
  if (i < n) {
    for (i++; i < n && scale > 0; i++, scale /= 10) frac += (s[i] - '0') * scale;
  }
  v = v * 1000 + frac;
  *out = neg ? -v : v;
  return 1;
}

static void set_target(thermostat_t *t, const uint8_t *s, size_t n) {
  int32_t m;
  if (n >= sizeof t->target_text || !parse_millidegrees(s, n, &m)) return;
  t->target_m = m;
  memcpy(t->target_text, s, n);
  t->target_text[n] = '\0';
}

/* ---- the device's behaviour -------------------------------------------------------------------------------- */

static void log_line(thermostat_t *t, sb_t *b) { t->log(t->log_ctx, b->buf); }

static void twin_get(thermostat_t *t) {
  t->get_rid = iothub_twin_get(t->dev);
  if (t->get_rid > 0) t->phase = GET_TWIN;
}

static void report_startup(thermostat_t *t) {
  sb_t j;
  sb_init(&j, t->json, sizeof t->json);
  sb_str(&j, "{\"serialNumber\":\"" SERIAL_NUMBER "\",\"firmware\":\"" FIRMWARE "\",\"targetTemperature\":{\"value\":");
  sb_str(&j, t->target_text);
  sb_str(&j, "}}");
  t->startup_rid = iothub_twin_patch(t->dev, j.buf, j.len);
  t->phase = REPORT_STARTUP;
}

static void send_reading(thermostat_t *t) {
  sb_t j, id;
  char mid[24];
  int32_t token;
  t->temperature_m += (t->target_m - t->temperature_m) / 10 + wobble[t->seq % 44u];
  sb_init(&j, t->reading, sizeof t->reading);
  sb_str(&j, "{\"temperature\":");
  sb_degrees(&j, t->temperature_m);
  sb_str(&j, ",\"seq\":");
  sb_u32(&j, t->seq);
  sb_str(&j, "}");
  sb_init(&id, mid, sizeof mid);
  sb_str(&id, "reading-");
  sb_u32(&id, t->seq);
  iothub_telemetry_begin(t->dev);
  iothub_telemetry_system(t->dev, IOTHUB_WASM_SYS_MESSAGE_ID, mid);
  iothub_telemetry_system(t->dev, IOTHUB_WASM_SYS_CONTENT_TYPE, "application/json");
  iothub_telemetry_system(t->dev, IOTHUB_WASM_SYS_CONTENT_ENCODING, "utf-8");
  iothub_telemetry_property(t->dev, "sensor", "thermostat");
  iothub_telemetry_property(t->dev, "unit", "celsius");
  token = iothub_telemetry_send(t->dev, (const uint8_t *)j.buf, j.len, 1);
  if (token > 0) {
    t->reading_token = (uint32_t)token;
  } else { /* refused outright (cannot happen one at a time): say so and move on, as the Node device does */
    sb_t b;
    sb_init(&b, t->line, sizeof t->line);
    sb_str(&b, "telemetry failed: ");
    sb_status(&b, token);
    log_line(t, &b);
    t->reading_token = 0;
    t->seq++;
  }
}

/* The reading in flight is done (acknowledged or failed): schedule the next, or finish. */
static void reading_done(thermostat_t *t, uint32_t now) {
  t->reading_token = 0;
  t->seq++;
  t->next_at = now + t->interval_ms;
  if (t->count != THERMOSTAT_FOREVER && t->seq >= t->count) t->phase = DRAIN;
}

static void on_desired(thermostat_t *t, const iothub_event_t *ev) {
  sb_t b, j;
  const uint8_t *v;
  size_t vn;
  if (ev->a && iothub_json_member(ev->a, (size_t)ev->a_len, "targetTemperature", &v, &vn)) set_target(t, v, vn);
  sb_init(&b, t->line, sizeof t->line);
  sb_str(&b, "desired properties v");
  sb_u32(&b, ev->version);
  sb_str(&b, ": ");
  if (ev->a) sb_bytes(&b, ev->a, (size_t)ev->a_len);
  log_line(t, &b);
  sb_init(&j, t->json, sizeof t->json);
  sb_str(&j, "{\"targetTemperature\":{\"value\":");
  sb_str(&j, t->target_text);
  sb_str(&j, ",\"ac\":200,\"av\":");
  sb_u32(&j, ev->version);
  sb_str(&j, "}}");
  t->report_rid = iothub_twin_patch(t->dev, j.buf, j.len);
  if (t->report_rid < 0) {
    sb_init(&b, t->line, sizeof t->line);
    sb_str(&b, "reporting failed: ");
    sb_status(&b, t->report_rid);
    log_line(t, &b);
    t->report_rid = 0;
  }
}

static void on_method(thermostat_t *t, const iothub_event_t *ev) {
  sb_t j;
  int32_t status = 200;
  sb_init(&j, t->json, sizeof t->json);
  if (ev->a_len == 15 && memcmp(ev->a, "getMaxMinReport", 15) == 0) {
    sb_str(&j, "{\"since\":");
    if (ev->c) sb_bytes(&j, ev->c, (size_t)ev->c_len);
    else sb_str(&j, "null");
    sb_str(&j, ",\"maxTemp\":23.4,\"minTemp\":19.8,\"avgTemp\":21.2}");
  } else if (ev->a_len == 6 && memcmp(ev->a, "reboot", 6) == 0) {
    const uint8_t *d;
    size_t dn;
    sb_str(&j, "{\"rebooting\":true,\"delay\":");
    if (ev->c && iothub_json_member(ev->c, (size_t)ev->c_len, "delay", &d, &dn) && !(dn == 4 && !memcmp(d, "null", 4))) {
      sb_bytes(&j, d, dn);
    } else {
      sb_str(&j, "0");
    }
    sb_str(&j, "}");
  } else {
    status = 404;
    sb_str(&j, "{\"message\":\"no handler for method '");
    sb_bytes(&j, ev->a, ev->a ? (size_t)ev->a_len : 0);
    sb_str(&j, "'\"}");
  }
  iothub_method_respond(t->dev, ev->b, ev->b ? (size_t)ev->b_len : 0, status, j.buf, j.len);
}

static void on_c2d(thermostat_t *t, const iothub_event_t *ev) {
  sb_t b, props;
  iothub_property_t p;
  char mid[130]; /* item views last until the next property: keep the message id (<= 128 characters) */
  size_t mid_len = 0;
  int32_t r, n = 0;
  sb_init(&props, t->json, sizeof t->json);
  sb_str(&props, "{");
  iothub_c2d_properties_begin(t->dev, ev);
  while ((r = iothub_c2d_property_next(t->dev, &p)) == 1) {
    if (p.system == IOTHUB_WASM_SYS_MESSAGE_ID) {
      mid_len = p.value_len < 0 ? 0 : (size_t)p.value_len < sizeof mid ? (size_t)p.value_len : sizeof mid;
      memcpy(mid, p.value, mid_len);
      continue;
    }
    if (p.system >= 0) continue;
    if (n++) sb_str(&props, ",");
    sb_json_string(&props, p.name, p.name_len);
    sb_str(&props, ":");
    if (p.value_len < 0) sb_str(&props, "null");
    else sb_json_string(&props, p.value, p.value_len);
  }
  sb_str(&props, "}");
  sb_init(&b, t->line, sizeof t->line);
  sb_str(&b, "cloud-to-device message ");
  sb_bytes(&b, mid, mid_len);
  sb_str(&b, ": ");
  if (ev->a) sb_bytes(&b, ev->a, (size_t)ev->a_len);
  sb_str(&b, " ");
  sb_str(&b, props.buf);
  log_line(t, &b);
  if (r < 0) {
    sb_init(&b, t->line, sizeof t->line);
    sb_str(&b, "warning: malformed C2D property bag: ");
    sb_status(&b, r);
    log_line(t, &b);
  }
  iothub_c2d_ack(t->dev, ev->token);
}

static void on_twin_response(thermostat_t *t, const iothub_event_t *ev) {
  sb_t b;
  int32_t err = ev->status < 0 ? ev->status : (ev->status >= 300 ? IOTHUB_WASM_CLIENT_TWIN_REFUSED : 0);
  sb_init(&b, t->line, sizeof t->line);
  if ((int32_t)ev->token == t->get_rid) {
    const uint8_t *desired, *v;
    size_t dn, vn;
    t->get_rid = 0;
    if (err) { /* e.g. the connection dropped before the answer: ask again once connected */
      sb_str(&b, "warning: twin request failed: ");
      sb_status(&b, err);
      log_line(t, &b);
      t->phase = WAIT_CONNECTED;
      return;
    }
    if (ev->a && iothub_json_member(ev->a, (size_t)ev->a_len, "desired", &desired, &dn) &&
        iothub_json_member(desired, dn, "targetTemperature", &v, &vn)) {
      set_target(t, v, vn);
    }
    report_startup(t);
  } else if ((int32_t)ev->token == t->startup_rid) {
    t->startup_rid = 0;
    if (err) {
      sb_str(&b, "warning: twin request failed: ");
      sb_status(&b, err);
      log_line(t, &b);
      t->phase = WAIT_CONNECTED;
      return;
    }
    sb_str(&b, "twin reported at $version ");
    sb_u32(&b, ev->version);
    log_line(t, &b);
    t->phase = t->count == 0 ? DRAIN : READINGS;
    t->next_at = t->dev->clock.now_ms(t->dev->clock.ctx);
  } else if ((int32_t)ev->token == t->report_rid) {
    t->report_rid = 0;
    if (err) {
      sb_str(&b, "reporting failed: ");
      sb_status(&b, err);
    } else {
      sb_str(&b, "reported targetTemperature ");
      sb_str(&b, t->target_text);
      sb_str(&b, " at $version ");
      sb_u32(&b, ev->version);
    }
    log_line(t, &b);
  }
}

void thermostat_on_event(iothub_device_t *dev, const iothub_event_t *ev, void *user) {
  thermostat_t *t = (thermostat_t *)user;
  uint32_t now = dev->clock.now_ms(dev->clock.ctx);
  sb_t b;
  sb_init(&b, t->line, sizeof t->line);
  switch (ev->type) {
    case IOTHUB_WASM_EV_CONNECTED:
      sb_str(&b, "connected");
      log_line(t, &b);
      if (t->phase == WAIT_CONNECTED) twin_get(t);
      break;
    case IOTHUB_WASM_EV_DISCONNECTED:
      sb_str(&b, "disconnected: ");
      sb_status(&b, ev->status);
      if (ev->extra >= 0) {
        sb_str(&b, ", retrying in ");
        sb_i32(&b, ev->extra);
        sb_str(&b, " ms");
      }
      log_line(t, &b);
      break;
    case IOTHUB_WASM_EV_TELEMETRY_ACKED:
    case IOTHUB_WASM_EV_TELEMETRY_FAILED:
      if (ev->token != t->reading_token || t->reading_token == 0) break;
      if (ev->type == IOTHUB_WASM_EV_TELEMETRY_ACKED) {
        sb_str(&b, "telemetry ");
        sb_str(&b, t->reading);
        sb_str(&b, " acknowledged");
      } else {
        sb_str(&b, "telemetry failed: ");
        sb_status(&b, ev->status);
      }
      log_line(t, &b);
      reading_done(t, now);
      break;
    case IOTHUB_WASM_EV_C2D: on_c2d(t, ev); break;
    case IOTHUB_WASM_EV_METHOD: on_method(t, ev); break;
    case IOTHUB_WASM_EV_TWIN_RESPONSE: on_twin_response(t, ev); break;
    case IOTHUB_WASM_EV_DESIRED: on_desired(t, ev); break;
    case IOTHUB_WASM_EV_TWIN_RETRY:
      sb_str(&b, "warning: twin request answered ");
      sb_i32(&b, ev->status);
      sb_str(&b, ", sent again in ");
      sb_i32(&b, ev->extra);
      sb_str(&b, " ms");
      log_line(t, &b);
      break;
    case IOTHUB_WASM_EV_ERROR:
      sb_str(&b, "warning: ");
      sb_status(&b, ev->status);
      log_line(t, &b);
      break;
    default: break;
  }
}

void thermostat_init(thermostat_t *t, iothub_device_t *dev, uint32_t count, uint32_t interval_ms,
                     thermostat_log_fn log, void *log_ctx) {
  memset(t, 0, sizeof *t);
  t->dev = dev;
  t->log = log;
  t->log_ctx = log_ctx;
  t->count = count;
  t->interval_ms = interval_ms;
  t->temperature_m = 20000;
  t->target_m = 21000;
  strcpy(t->target_text, "21");
  t->phase = WAIT_CONNECTED;
}

uint32_t thermostat_step(thermostat_t *t) {
  uint32_t now = t->dev->clock.now_ms(t->dev->clock.ctx);
  int32_t due;
  if (t->phase == WAIT_CONNECTED && t->get_rid == 0 && t->startup_rid == 0 &&
      iothub_device_state(t->dev) == IOTHUB_WASM_STATE_READY) {
    twin_get(t); /* a twin request that failed with the connection: ask again now that it is back */
    return 0;
  }
  if (t->phase == READINGS && t->reading_token == 0) {
    due = (int32_t)(t->next_at - now);
    if (due > 0) return (uint32_t)due;
    send_reading(t);
    if (t->count != THERMOSTAT_FOREVER && t->seq >= t->count) t->phase = DRAIN;
    return 0;
  }
  if (t->phase == DRAIN && t->report_rid == 0) { /* the last desired update is acknowledged too: stop */
    iothub_device_stop(t->dev);
    t->phase = STOPPING;
    return 0;
  }
  return 1000;
}

int thermostat_finished(const thermostat_t *t) { return t->phase == STOPPING; }
