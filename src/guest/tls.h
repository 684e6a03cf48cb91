/*
 * tls: kanri-guestd's TLS client, on BearSSL linked statically.  The
 * server is trusted by the SHA-256 of its public key (SubjectPublicKeyInfo),
 * written as curl and kanrid write it, "sha256//BASE64", several joined by
 * ';' while a key is being replaced.  No CA, no name or date check: the pin
 * is the whole trust decision, so a self-signed kanrid certificate works
 * as it is, on an IP address as well as a name.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_MAX_PINS 4

struct tls_pins {
    int n;
    unsigned char sha256[TLS_MAX_PINS][32];
};

/* Returns 0, or -EINVAL with the reason in err. */
int tls_pins_parse(const char *text, struct tls_pins *ret, char *err, size_t errsz);

/* SHA-256 of the SubjectPublicKeyInfo of a DER certificate; false when the
 * DER is not a certificate. */
bool tls_spki_sha256(const unsigned char *der, size_t len, unsigned char out[32]);

struct tls_conn;

/* Starts TLS on a connected non-blocking socket.  server_name is sent as
 * SNI unless it is an IP literal.  Every later call gives up at
 * deadline_ms (CLOCK_MONOTONIC milliseconds).  NULL only when out of
 * memory. */
struct tls_conn *tls_open(int fd, const char *server_name, const struct tls_pins *pins,
                          int64_t deadline_ms);

/* 0, or -errno: -ETIMEDOUT, -ECONNRESET, -EPERM when the server's key is
 * not pinned, -EPROTO for any other TLS failure (tls_error() says which). */
int tls_write_all(struct tls_conn *t, const void *buf, size_t len);
int tls_flush(struct tls_conn *t);
/* Bytes read (> 0), 0 at the end of the stream, or -errno as above. */
int tls_read(struct tls_conn *t, void *buf, size_t len);

/* Why the last call failed, for a log line; NULL when TLS did not fail
 * (the stream ended cleanly, or nothing went wrong). */
const char *tls_error(const struct tls_conn *t);

/* Frees the session; the socket stays open (the caller closes it). */
void tls_free(struct tls_conn *t);
