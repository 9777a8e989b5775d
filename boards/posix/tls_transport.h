/*
 * The POSIX board's transport: a non-blocking TCP socket with TLS by mbedTLS (CA file, SNI and host name check
 * against the connection string's HostName, an optional client certificate for X.509 devices).
 */
#ifndef TLS_TRANSPORT_H
#define TLS_TRANSPORT_H

#include <stddef.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "iothub_board.h"

typedef struct tls_transport {
  int state;                    /* IDLE, CONNECTING (TCP), HANDSHAKE, OPEN */
  mbedtls_net_context net;
  struct addrinfo *addrs, *addr; /* the endpoint's addresses, and the one being tried */
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca, cert;
  mbedtls_pk_context key;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  int bio_ready;                 /* SNI and the socket are given to the TLS context for this connection */
  size_t max_io;                /* 0, or the most bytes one send/recv moves (a test knob: partial reads and writes) */
  size_t pending;               /* a write mbedTLS could not finish: it must be offered the same bytes again */
  char detail[320];
} tls_transport_t;

/* Loads the CA (and the client certificate and key, if cert_file is not NULL). Returns 0, or -1 with why in err. */
int tls_transport_init(tls_transport_t *t, const char *ca_file, const char *cert_file, const char *key_file,
                       char *err, size_t cap);
/* The board library's view of it. */
iothub_transport_t tls_transport_interface(tls_transport_t *t);
/* The socket to wait on (-1 when none) and whether to wait for it to be writable too. */
int tls_transport_fd(const tls_transport_t *t);
int tls_transport_wants_write(const tls_transport_t *t);

#endif
