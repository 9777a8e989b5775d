/* ESP-AT transport: see espat.h for the exchange. */
#include "espat.h"

#include <string.h>

#include "board.h"
#include "cmsdk_uart.h"

enum {
  S_INIT_AT, S_INIT_ECHO, S_INIT_TIME, S_INIT_RETRY, S_DEAD,
  S_IDLE, S_SNI, S_SNI_DONE, S_START, S_LINK, S_SEND_PROMPT, S_SEND_DATA, S_SEND_WAIT, S_CLOSING
};

#define STARTUP_MS 20000u     /* the module answers and has SNTP time within this, or the image gives up */
#define STARTUP_RETRY_MS 500u
#define REPLY_MS 5000u        /* an AT command's reply */
#define CONNECT_MS 20000u     /* AT+CIPSTART: DNS, TCP and the TLS handshake */
#define SEND_MS 10000u        /* the bytes of a CIPSEND to SEND OK */
#define SEND_CHUNK 2048u      /* ESP-AT's largest AT+CIPSEND in normal transmission mode */

static uint32_t startup_began;

static int link_state(const espat_t *m) { return m->state >= S_LINK && m->state <= S_SEND_WAIT; }

static void cmd_put(espat_t *m, const char *s) {
  size_t n = strlen(s);
  if (n > sizeof m->cmd - m->cmd_len) n = sizeof m->cmd - m->cmd_len;
  memcpy(m->cmd + m->cmd_len, s, n);
  m->cmd_len = (uint16_t)(m->cmd_len + n);
}

static void cmd_put_u32(espat_t *m, uint32_t v) {
  char buf[11];
  size_t i = sizeof buf - 1;
  buf[i] = '\0';
  do {
    buf[--i] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  cmd_put(m, buf + i);
}

static void cmd_flush(espat_t *m) {
  if (m->cmd_sent < m->cmd_len) {
    m->cmd_sent = (uint16_t)(m->cmd_sent + uart_write(UART0_BASE, (const uint8_t *)m->cmd + m->cmd_sent,
                                                      (size_t)(m->cmd_len - m->cmd_sent)));
  }
}

/* A command is built with cmd_begin/cmd_put, then cmd_end adds "\r\n", sets the reply deadline and starts writing. */
static void cmd_begin(espat_t *m) { m->cmd_len = m->cmd_sent = 0; }

static void cmd_end(espat_t *m, uint32_t timeout_ms) {
  cmd_put(m, "\r\n");
  m->deadline = clock_ms() + timeout_ms;
  cmd_flush(m);
}

static void command(espat_t *m, const char *line, uint32_t timeout_ms) {
  cmd_begin(m);
  cmd_put(m, line);
  cmd_end(m, timeout_ms);
}

static void startup_command(espat_t *m) {
  static const char *const cmds[] = {"AT", "ATE0", "AT+CIPSNTPTIME?"};
  m->sntp_s = -1;
  command(m, cmds[m->state - S_INIT_AT], 1000u);
}

static void startup_retry(espat_t *m, uint8_t from) {
  if (clock_ms() - startup_began >= STARTUP_MS) {
    m->state = S_DEAD;
    m->detail = from == S_INIT_TIME ? "no SNTP time from AT+CIPSNTPTIME?" : "the Wi-Fi module does not answer AT";
    return;
  }
  m->tries = from; /* the step to redo */
  m->state = S_INIT_RETRY;
  m->retry_at = clock_ms() + STARTUP_RETRY_MS;
}

void espat_init(espat_t *m) {
  memset(m, 0, sizeof *m);
  startup_began = clock_ms();
  m->state = S_INIT_AT;
  startup_command(m);
}

/* A CIPSEND transaction ended (SEND OK, SEND FAIL or ERROR): back to the link, or on to a close. */
static void send_done(espat_t *m) {
  m->send_left = 0;
  if (m->send_blocked || m->link_lost || m->close_wanted) m->wake = 1;
  m->send_blocked = 0;
  if (m->link_lost) {
    m->state = S_IDLE;
  } else if (m->close_wanted) {
    m->close_wanted = 0;
    m->state = S_CLOSING;
    command(m, "AT+CIPCLOSE", REPLY_MS);
  } else {
    m->state = S_LINK;
  }
}

static void lose_link(espat_t *m, const char *why) {
  m->link_lost = 1;
  m->detail = why;
  m->wake = 1;
}

static int line_is(const espat_t *m, const char *s) {
  size_t n = strlen(s);
  return m->line_len == n && memcmp(m->line, s, n) == 0;
}

static int line_starts(const espat_t *m, const char *s) {
  size_t n = strlen(s);
  return m->line_len >= n && memcmp(m->line, s, n) == 0;
}

static void on_ok(espat_t *m) {
  switch (m->state) {
    case S_INIT_AT:
    case S_INIT_ECHO:
      m->state++;
      startup_command(m);
      break;
    case S_INIT_TIME:
      /* Before its first SNTP sync the module answers with a time in 1970: ask again. */
      if (m->sntp_s >= 1577836800) { /* 2020-01-01 */
        m->unix_ms = (uint64_t)m->sntp_s * 1000u;
        m->state = S_IDLE;
        m->wake = 1;
      } else {
        startup_retry(m, S_INIT_TIME);
      }
      break;
    case S_SNI:
      m->state = m->close_wanted ? S_IDLE : S_SNI_DONE;
      m->close_wanted = 0;
      m->wake = 1;
      break;
    case S_START:
      if (m->close_wanted) {
        m->close_wanted = 0;
        m->state = S_CLOSING;
        command(m, "AT+CIPCLOSE", REPLY_MS);
      } else {
        m->state = S_LINK;
        m->link_lost = 0;
      }
      m->wake = 1;
      break;
    case S_CLOSING:
      m->state = S_IDLE;
      m->wake = 1;
      break;
    default: /* the OK before a '>' prompt, or a stray one */
      break;
  }
}

static void on_error(espat_t *m) {
  switch (m->state) {
    case S_INIT_AT:
    case S_INIT_ECHO:
    case S_INIT_TIME:
      startup_retry(m, m->state);
      break;
    case S_SNI:
    case S_START:
      m->detail = m->state == S_SNI ? "AT+CIPSSLCSNI: ERROR" : "AT+CIPSTART: ERROR";
      m->open_failed = !m->close_wanted;
      m->close_wanted = 0;
      m->state = S_IDLE;
      m->wake = 1;
      break;
    case S_SEND_PROMPT: /* "link is not valid" */
      lose_link(m, "AT+CIPSEND: ERROR");
      send_done(m);
      break;
    case S_CLOSING:
      m->state = S_IDLE;
      m->wake = 1;
      break;
    default:
      break;
  }
}

static void on_line(espat_t *m) {
  if (line_is(m, "OK")) {
    on_ok(m);
  } else if (line_is(m, "ERROR") || line_is(m, "FAIL")) {
    on_error(m);
  } else if (line_is(m, "SEND OK")) {
    if (m->state == S_SEND_WAIT) send_done(m);
  } else if (line_is(m, "SEND FAIL")) {
    if (m->state == S_SEND_WAIT) {
      lose_link(m, "SEND FAIL");
      send_done(m);
    }
  } else if (line_is(m, "CLOSED")) {
    if (m->state == S_LINK) {
      lose_link(m, "CLOSED by the peer");
      m->state = S_IDLE;
    } else if (m->state >= S_SEND_PROMPT && m->state <= S_SEND_WAIT) {
      lose_link(m, "CLOSED by the peer"); /* the CIPSEND in progress still ends with its reply */
    }
    /* In S_START it precedes ERROR; in S_CLOSING it answers our CIPCLOSE: the OK/ERROR decides. */
  } else if (line_is(m, "CONNECT") || line_is(m, "ALREADY CONNECTED")) {
    m->connect_seen = 1;
  } else if (line_starts(m, "+CIPSNTPTIME:")) {
    m->sntp_s = espat_parse_asctime(m->line + 13, (uint32_t)(m->line_len - 13u));
    m->unix_tick = clock_ms();
  }
  /* Anything else ("Recv <n> bytes", echoes, "busy p...", Wi-Fi status lines) needs no action. */
}

/* "+IPD,<n>" in the line buffer: n, or -1. */
static int32_t ipd_length(const espat_t *m) {
  uint32_t i, n = 0;
  if (!line_starts(m, "+IPD,") || m->line_len == 5) return -1;
  for (i = 5; i < m->line_len; i++) {
    uint32_t d = (uint32_t)(m->line[i] - '0');
    if (d > 9u || n > 100000u) return -1;
    n = n * 10u + d;
  }
  return (int32_t)n;
}

uint32_t espat_poll(espat_t *m) {
  uint32_t now = clock_ms(), taken = 0;
  cmd_flush(m);
  for (;;) {
    int c;
    if (m->in_ipd) {
      /* +IPD data is read by recv(); with no link to read it for, it is stale and dropped. */
      size_t avail;
      if (link_state(m) && !m->link_lost) break;
      avail = uart0_rx_available();
      if (avail > m->ipd_left) avail = m->ipd_left;
      if (avail == 0) break;
      uart0_rx_drop(avail);
      taken += (uint32_t)avail;
      m->ipd_left -= (uint32_t)avail;
      if (m->ipd_left == 0) m->in_ipd = 0;
      continue;
    }
    c = uart0_rx_byte();
    if (c < 0) break;
    taken++;
    if (c == '\n') {
      if (m->line_len) on_line(m);
      m->line_len = 0;
    } else if (c == '>' && m->line_len == 0 && m->state == S_SEND_PROMPT) {
      m->state = S_SEND_DATA;
      m->wake = 1;
    } else if (c == ':' && ipd_length(m) >= 0) {
      m->ipd_left = (uint32_t)ipd_length(m);
      m->in_ipd = m->ipd_left > 0;
      m->line_len = 0;
    } else if (c != '\r' && m->line_len < sizeof m->line) {
      m->line[m->line_len++] = (char)c;
    }
  }
  /* Wake the loop when recv() has a whole +IPD (or a good part of a large one) to give: bytes come one at a time. */
  if (m->in_ipd && link_state(m) && !m->link_lost) {
    size_t a = uart0_rx_available();
    if (a >= m->ipd_left || a >= 256u) m->wake = 1;
  }
  /* A close that came mid-CIPSEND: the module still expects its bytes, so finish the transaction with filler. */
  if (m->state == S_SEND_DATA && (m->close_wanted || m->link_lost)) {
    static const uint8_t zeros[16];
    while (m->send_left) {
      size_t w = uart_write(UART0_BASE, zeros, m->send_left < sizeof zeros ? m->send_left : sizeof zeros);
      if (w == 0) break;
      m->send_left -= (uint32_t)w;
    }
    if (m->send_left == 0) {
      m->state = S_SEND_WAIT;
      m->deadline = now + SEND_MS;
    }
  }
  switch (m->state) {
    case S_INIT_AT:
    case S_INIT_ECHO:
    case S_INIT_TIME:
      if ((int32_t)(now - m->deadline) >= 0) startup_retry(m, m->state);
      break;
    case S_INIT_RETRY:
      if ((int32_t)(now - m->retry_at) >= 0) {
        m->state = (uint8_t)m->tries;
        startup_command(m);
      }
      break;
    case S_SNI:
    case S_START:
      if ((int32_t)(now - m->deadline) >= 0) {
        m->detail = "no answer to AT+CIPSTART";
        m->open_failed = 1;
        m->state = S_IDLE;
        m->wake = 1;
      }
      break;
    case S_SEND_PROMPT:
    case S_SEND_WAIT:
      if ((int32_t)(now - m->deadline) >= 0) {
        lose_link(m, "no answer to AT+CIPSEND");
        m->state = S_IDLE;
      }
      break;
    case S_CLOSING:
      if ((int32_t)(now - m->deadline) >= 0) {
        m->state = S_IDLE;
        m->wake = 1;
      }
      break;
    default:
      break;
  }
  return taken;
}

int espat_ready(const espat_t *m) { return m->state >= S_IDLE; }
int espat_failed(const espat_t *m) { return m->state == S_DEAD; }
int espat_quiet(const espat_t *m) { return m->state == S_IDLE && m->cmd_sent == m->cmd_len; }

int espat_busy(const espat_t *m) {
  return m->state == S_SNI || m->state == S_START || m->state == S_SEND_PROMPT || m->state == S_SEND_WAIT ||
         m->state == S_CLOSING;
}

int espat_take_wake(espat_t *m) {
  int w = m->wake;
  m->wake = 0;
  return w;
}

uint64_t espat_unix_ms(const espat_t *m, uint32_t tick) {
  return m->unix_ms == 0 ? 0 : m->unix_ms + (uint32_t)(tick - m->unix_tick);
}

/* ---- the transport ---------------------------------------------------------------------------------------- */

static int32_t t_open(void *ctx, const char *host, uint16_t port, const char *sni_host) {
  espat_t *m = (espat_t *)ctx;
  espat_poll(m);
  switch (m->state) {
    case S_IDLE:
      if (m->open_failed) {
        m->open_failed = 0;
        return IOTHUB_IO_CLOSED;
      }
      m->link_lost = m->connect_seen = m->close_wanted = 0;
      m->state = S_SNI;
      cmd_begin(m);
      cmd_put(m, "AT+CIPSSLCSNI=\"");
      cmd_put(m, sni_host);
      cmd_put(m, "\"");
      cmd_end(m, REPLY_MS);
      return IOTHUB_IO_WOULD_BLOCK;
    case S_SNI_DONE:
      m->state = S_START;
      cmd_begin(m);
      cmd_put(m, "AT+CIPSTART=\"SSL\",\"");
      cmd_put(m, host);
      cmd_put(m, "\",");
      cmd_put_u32(m, port);
      cmd_end(m, CONNECT_MS);
      return IOTHUB_IO_WOULD_BLOCK;
    case S_LINK:
    case S_SEND_PROMPT:
    case S_SEND_DATA:
    case S_SEND_WAIT:
      return m->link_lost ? IOTHUB_IO_CLOSED : 0;
    case S_DEAD:
      return IOTHUB_IO_CLOSED;
    default: /* start-up, an open or a close in progress */
      return IOTHUB_IO_WOULD_BLOCK;
  }
}

static int32_t t_send(void *ctx, const uint8_t *data, size_t len) {
  espat_t *m = (espat_t *)ctx;
  size_t n;
  espat_poll(m);
  if (!link_state(m) || m->link_lost) return IOTHUB_IO_CLOSED;
  switch (m->state) {
    case S_LINK:
      if (m->cmd_sent < m->cmd_len || len == 0) {
        m->send_blocked = 1;
        return 0;
      }
      n = len < SEND_CHUNK ? len : SEND_CHUNK;
      m->send_left = (uint32_t)n;
      m->state = S_SEND_PROMPT;
      cmd_begin(m);
      cmd_put(m, "AT+CIPSEND=");
      cmd_put_u32(m, (uint32_t)n);
      cmd_end(m, REPLY_MS);
      return 0;
    case S_SEND_DATA:
      n = len < m->send_left ? len : m->send_left;
      n = uart_write(UART0_BASE, data, n);
      m->send_left -= (uint32_t)n;
      if (m->send_left == 0) {
        m->state = S_SEND_WAIT;
        m->deadline = clock_ms() + SEND_MS;
      }
      return (int32_t)n;
    default: /* waiting for '>' or SEND OK */
      m->send_blocked = 1;
      return 0;
  }
}

static int32_t t_recv(void *ctx, uint8_t *buf, size_t cap) {
  espat_t *m = (espat_t *)ctx;
  espat_poll(m);
  if (m->in_ipd && link_state(m) && !m->link_lost) {
    size_t n = uart0_rx_take(buf, cap < m->ipd_left ? cap : m->ipd_left);
    m->ipd_left -= (uint32_t)n;
    if (m->ipd_left == 0) m->in_ipd = 0;
    if (n) return (int32_t)n;
    return IOTHUB_IO_WOULD_BLOCK;
  }
  if (!link_state(m) || m->link_lost) return IOTHUB_IO_CLOSED;
  return IOTHUB_IO_WOULD_BLOCK;
}

static void t_close(void *ctx) {
  espat_t *m = (espat_t *)ctx;
  espat_poll(m);
  switch (m->state) {
    case S_SNI:
    case S_START:
    case S_SEND_PROMPT:
    case S_SEND_DATA:
    case S_SEND_WAIT:
      m->close_wanted = 1; /* acted on when the command in progress ends */
      espat_poll(m);
      break;
    case S_SNI_DONE:
      m->state = S_IDLE;
      break;
    case S_LINK:
      m->state = S_CLOSING;
      command(m, "AT+CIPCLOSE", REPLY_MS);
      break;
    default:
      break;
  }
  m->open_failed = 0;
}

static const char *t_detail(void *ctx) { return ((const espat_t *)ctx)->detail; }

void espat_transport(espat_t *m, iothub_transport_t *t) {
  t->ctx = m;
  t->open = t_open;
  t->send = t_send;
  t->recv = t_recv;
  t->close = t_close;
  t->detail = t_detail;
}

/* ---- asctime ------------------------------------------------------------------------------------------------ */

static const char *skip_spaces(const char *s, const char *end) {
  while (s < end && *s == ' ') s++;
  return s;
}

static const char *number(const char *s, const char *end, uint32_t *out) {
  uint32_t v = 0;
  const char *start = s;
  while (s < end && *s >= '0' && *s <= '9' && s - start < 6) v = v * 10u + (uint32_t)(*s++ - '0');
  *out = v;
  return s == start ? NULL : s;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, uint32_t mo, uint32_t d) {
  int64_t era, yoe, doy, doe;
  y -= mo <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t espat_parse_asctime(const char *s, uint32_t len) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const char *end = s + len;
  uint32_t mo, day, hh, mm, ss, year;
  s = skip_spaces(s, end);
  if (end - s < 8 || s[3] != ' ') return -1; /* the weekday */
  s = skip_spaces(s + 4, end);
  if (end - s < 4) return -1;
  for (mo = 0; mo < 12; mo++) if (memcmp(s, months + 3 * mo, 3) == 0) break;
  if (mo == 12) return -1;
  s = skip_spaces(s + 3, end);
  if (!(s = number(s, end, &day)) || day < 1 || day > 31) return -1;
  s = skip_spaces(s, end);
  if (!(s = number(s, end, &hh)) || s >= end || *s++ != ':' || hh > 23) return -1;
  if (!(s = number(s, end, &mm)) || s >= end || *s++ != ':' || mm > 59) return -1;
  if (!(s = number(s, end, &ss)) || ss > 60) return -1;
  s = skip_spaces(s, end);
  if (!(s = number(s, end, &year)) || year < 1970) return -1;
  return days_from_civil((int64_t)year, mo + 1, day) * 86400 + (int64_t)(hh * 3600u + mm * 60u + ss);
}
