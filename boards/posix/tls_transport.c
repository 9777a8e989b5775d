/*
 * TLS over a non-blocking socket with mbedTLS 2.28 (Debian libmbedtls-dev). Every call returns at once: a TCP
 * connect or a handshake in progress is IOTHUB_IO_WOULD_BLOCK. A server certificate that does not verify is
 * IOTHUB_IO_FAILED (retrying cannot fix it); everything else that ends a connection is IOTHUB_IO_CLOSED, and the core
 * decides when to try again.
 */
#define _POSIX_C_SOURCE 200809L

#include "tls_transport.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/error.h>

enum { IDLE, CONNECTING, HANDSHAKE, OPEN };

static void set_detail_mbedtls(tls_transport_t *t, const char *what, int rc) {
  char e[160];
  mbedtls_strerror(rc, e, sizeof e);
  snprintf(t->detail, sizeof t->detail, "%s: %s (-0x%04x)", what, e, (unsigned)-rc);
}

int tls_transport_init(tls_transport_t *t, const char *ca_file, const char *cert_file, const char *key_file,
                       char *err, size_t cap) {
  static const char pers[] = "iothub-wasm-posix";
  int rc;
  memset(t, 0, sizeof *t);
  mbedtls_net_init(&t->net);
  mbedtls_ssl_init(&t->ssl);
  mbedtls_ssl_config_init(&t->conf);
  mbedtls_x509_crt_init(&t->ca);
  mbedtls_x509_crt_init(&t->cert);
  mbedtls_pk_init(&t->key);
  mbedtls_entropy_init(&t->entropy);
  mbedtls_ctr_drbg_init(&t->drbg);
  if ((rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, (const unsigned char *)pers,
                                  sizeof pers - 1)) != 0) {
    set_detail_mbedtls(t, "cannot seed the random generator", rc);
    goto fail;
  }
  if ((rc = mbedtls_x509_crt_parse_file(&t->ca, ca_file)) != 0) {
    set_detail_mbedtls(t, ca_file, rc);
    goto fail;
  }
  if ((rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
    set_detail_mbedtls(t, "TLS configuration", rc);
    goto fail;
  }
  mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
  mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
  if (cert_file) {
    if ((rc = mbedtls_x509_crt_parse_file(&t->cert, cert_file)) != 0) {
      set_detail_mbedtls(t, cert_file, rc);
      goto fail;
    }
    if ((rc = mbedtls_pk_parse_keyfile(&t->key, key_file, NULL)) != 0) {
      set_detail_mbedtls(t, key_file, rc);
      goto fail;
    }
    if ((rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0) {
      set_detail_mbedtls(t, "client certificate and key", rc);
      goto fail;
    }
  }
  if ((rc = mbedtls_ssl_setup(&t->ssl, &t->conf)) != 0) {
    set_detail_mbedtls(t, "TLS set-up", rc);
    goto fail;
  }
  return 0;
fail:
  snprintf(err, cap, "%s", t->detail);
  return -1;
}

/* Starts a TCP connect to t->addr onwards; CONNECTING, HANDSHAKE (connected at once) or IDLE (no address left). */
static void start_connect(tls_transport_t *t) {
  for (; t->addr; t->addr = t->addr->ai_next) {
    int fd = socket(t->addr->ai_family, t->addr->ai_socktype, t->addr->ai_protocol);
    if (fd < 0) continue;
    t->net.fd = fd;
    mbedtls_net_set_nonblock(&t->net);
    if (connect(fd, t->addr->ai_addr, t->addr->ai_addrlen) == 0) { t->state = HANDSHAKE; return; }
    if (errno == EINPROGRESS) { t->state = CONNECTING; return; }
    snprintf(t->detail, sizeof t->detail, "connect: %s", strerror(errno));
    close(fd);
    t->net.fd = -1;
  }
  t->state = IDLE;
}

static void drop(tls_transport_t *t) {
  if (t->net.fd >= 0) close(t->net.fd);
  t->net.fd = -1;
  if (t->addrs) freeaddrinfo(t->addrs);
  t->addrs = t->addr = NULL;
  t->state = IDLE;
  t->pending = 0;
  t->bio_ready = 0;
  mbedtls_ssl_session_reset(&t->ssl);
}

static int32_t tls_open(void *ctx, const char *host, uint16_t port, const char *sni_host) {
  tls_transport_t *t = (tls_transport_t *)ctx;
  int rc;
  if (t->state == IDLE) {
    struct addrinfo hints;
    char service[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%u", (unsigned)port);
    t->detail[0] = '\0';
    /* getaddrinfo blocks while it resolves: a board with a resolver of its own would make this asynchronous. */
    if ((rc = getaddrinfo(host, service, &hints, &t->addrs)) != 0) {
      snprintf(t->detail, sizeof t->detail, "cannot resolve %s: %s", host, gai_strerror(rc));
      t->addrs = NULL;
      return IOTHUB_IO_CLOSED;
    }
    t->addr = t->addrs;
    start_connect(t);
    if (t->state == IDLE) { drop(t); return IOTHUB_IO_CLOSED; }
  }
  if (t->state == CONNECTING) {
    struct pollfd p = {t->net.fd, POLLOUT, 0};
    int so = 0;
    socklen_t len = sizeof so;
    if (poll(&p, 1, 0) == 0) return IOTHUB_IO_WOULD_BLOCK;
    getsockopt(t->net.fd, SOL_SOCKET, SO_ERROR, &so, &len);
    if (so != 0) { /* refused on this address: the next one (127.0.0.1 after ::1), else give up for now */
      snprintf(t->detail, sizeof t->detail, "connect: %s", strerror(so));
      close(t->net.fd);
      t->net.fd = -1;
      t->addr = t->addr->ai_next;
      start_connect(t);
      if (t->state == IDLE) { drop(t); return IOTHUB_IO_CLOSED; }
      if (t->state == CONNECTING) return IOTHUB_IO_WOULD_BLOCK;
    } else {
      t->state = HANDSHAKE;
    }
  }
  if (!t->bio_ready) {
    if ((rc = mbedtls_ssl_set_hostname(&t->ssl, sni_host)) != 0) { /* SNI, and the name the certificate must carry */
      set_detail_mbedtls(t, "TLS host name", rc);
      drop(t);
      return IOTHUB_IO_FAILED;
    }
    mbedtls_ssl_set_bio(&t->ssl, &t->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    t->bio_ready = 1;
  }
  rc = mbedtls_ssl_handshake(&t->ssl);
  if (rc == 0) { t->state = OPEN; return 0; }
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return IOTHUB_IO_WOULD_BLOCK;
  if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    char info[256];
    size_t n;
    mbedtls_x509_crt_verify_info(info, sizeof info, "", mbedtls_ssl_get_verify_result(&t->ssl));
    for (n = strlen(info); n > 0 && (info[n - 1] == '\n' || info[n - 1] == ' '); n--) info[n - 1] = '\0';
    for (n = 0; info[n]; n++) if (info[n] == '\n') info[n] = ';';
    snprintf(t->detail, sizeof t->detail, "TLS certificate verification failed: %s", info);
    drop(t);
    return IOTHUB_IO_FAILED;
  }
  set_detail_mbedtls(t, "TLS handshake", rc);
  drop(t);
  return IOTHUB_IO_CLOSED;
}

static int32_t tls_send(void *ctx, const uint8_t *data, size_t len) {
  tls_transport_t *t = (tls_transport_t *)ctx;
  int rc;
  if (t->state != OPEN) return IOTHUB_IO_CLOSED;
  if (t->max_io && len > t->max_io) len = t->max_io;
  if (t->pending) len = t->pending; /* the bytes are still the front of the core's tx: offer the same ones */
  rc = mbedtls_ssl_write(&t->ssl, data, len);
  if (rc >= 0) { t->pending = 0; return rc; }
  if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) { t->pending = len; return IOTHUB_IO_WOULD_BLOCK; }
  set_detail_mbedtls(t, "TLS write", rc);
  return IOTHUB_IO_CLOSED;
}

static int32_t tls_recv(void *ctx, uint8_t *buf, size_t cap) {
  tls_transport_t *t = (tls_transport_t *)ctx;
  int rc;
  if (t->state != OPEN) return IOTHUB_IO_CLOSED;
  if (t->max_io && cap > t->max_io) cap = t->max_io;
  rc = mbedtls_ssl_read(&t->ssl, buf, cap);
  if (rc > 0) return rc;
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return IOTHUB_IO_WOULD_BLOCK;
  if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) snprintf(t->detail, sizeof t->detail, "closed by the peer");
  else set_detail_mbedtls(t, "TLS read", rc);
  return IOTHUB_IO_CLOSED;
}

static void tls_close(void *ctx) {
  tls_transport_t *t = (tls_transport_t *)ctx;
  if (t->state == OPEN) mbedtls_ssl_close_notify(&t->ssl); /* best effort: never waits */
  drop(t);
}

static const char *tls_detail(void *ctx) {
  tls_transport_t *t = (tls_transport_t *)ctx;
  return t->detail[0] ? t->detail : NULL;
}

iothub_transport_t tls_transport_interface(tls_transport_t *t) {
  iothub_transport_t i;
  i.ctx = t;
  i.open = tls_open;
  i.send = tls_send;
  i.recv = tls_recv;
  i.close = tls_close;
  i.detail = tls_detail;
  return i;
}

int tls_transport_fd(const tls_transport_t *t) { return t->state == IDLE ? -1 : t->net.fd; }
int tls_transport_wants_write(const tls_transport_t *t) { return t->state == CONNECTING || t->pending != 0; }
