#include "tls.h"

#include "netio.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <bearssl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pins ------------------------------------------------------------ */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Exactly 32 bytes in canonical padded base64: 43 symbols and one '='. */
static bool b64_sha256(const char *s, size_t len, unsigned char out[32])
{
    if (len != 44 || s[43] != '=')
        return false;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < 43; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* The last symbol's two spare bits must be zero. */
    return o == 32 && (acc & ((1u << bits) - 1)) == 0;
}

int tls_pins_parse(const char *text, struct tls_pins *ret, char *err, size_t errsz)
{
    memset(ret, 0, sizeof(*ret));
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ";");
        if (ret->n == TLS_MAX_PINS) {
            snprintf(err, errsz, "at most %d pins", TLS_MAX_PINS);
            return -EINVAL;
        }
        if (len < 8 || strncmp(p, "sha256//", 8) != 0 ||
            !b64_sha256(p + 8, len - 8, ret->sha256[ret->n])) {
            snprintf(err, errsz,
                     "a pin is sha256// and the base64 of 32 bytes, as kanrid logs it at start");
            return -EINVAL;
        }
        ret->n++;
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

/* ---- the certificate's public key ------------------------------------ */

/* One DER element at *p: its tag, the start of its value and the value's
 * length.  *p moves past the element. */
static bool der_next(const unsigned char **p, const unsigned char *end, unsigned *tag,
                     const unsigned char **val, size_t *vlen)
{
    const unsigned char *q = *p;
    if (end - q < 2)
        return false;
    *tag = *q++;
    size_t len = *q++;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t)(end - q) < n)
            return false;
        len = 0;
        while (n--)
            len = (len << 8) | *q++;
    }
    if ((size_t)(end - q) < len)
        return false;
    *val = q;
    *vlen = len;
    *p = q + len;
    return true;
}

bool tls_spki_sha256(const unsigned char *der, size_t len, unsigned char out[32])
{
    const unsigned char *p = der, *end = der + len, *v;
    size_t vlen;
    unsigned tag;
    /* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
     * OPTIONAL, serialNumber, signature, issuer, validity, subject,
     * subjectPublicKeyInfo, ... }, ... } */
    if (!der_next(&p, end, &tag, &v, &vlen) || tag != 0x30)
        return false;
    p = v;
    end = v + vlen;
    if (!der_next(&p, end, &tag, &v, &vlen) || tag != 0x30)
        return false;
    p = v;
    end = v + vlen;
    if (!der_next(&p, end, &tag, &v, &vlen))
        return false;
    if (tag == 0xa0 && !der_next(&p, end, &tag, &v, &vlen))
        return false;
    /* serialNumber was read; skip signature, issuer, validity, subject. */
    for (int i = 0; i < 4; i++)
        if (!der_next(&p, end, &tag, &v, &vlen) || tag != 0x30)
            return false;
    const unsigned char *spki = p;
    if (!der_next(&p, end, &tag, &v, &vlen) || tag != 0x30)
        return false;
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, spki, (size_t)(p - spki));
    br_sha256_out(&h, out);
    return true;
}

/* ---- an X.509 "engine" that trusts a pinned key ---------------------- */

/* Room for the server's own certificate; the rest of the chain is ignored. */
#define LEAF_MAX 16384

struct pin_x509 {
    const br_x509_class *vtable;
    const struct tls_pins *pins;
    int index;     /* of the certificate being received */
    size_t len;
    bool overflow; /* the leaf is larger than LEAF_MAX */
    bool mismatch; /* the leaf's key is not pinned: say so, not "TLS error" */
    br_x509_decoder_context dec;
    unsigned char leaf[LEAF_MAX];
};

static void px_start_chain(const br_x509_class **ctx, const char *server_name)
{
    struct pin_x509 *x = (struct pin_x509 *)ctx;
    (void)server_name;
    x->index = 0;
    x->len = 0;
    x->overflow = x->mismatch = false;
    br_x509_decoder_init(&x->dec, NULL, NULL);
}

static void px_start_cert(const br_x509_class **ctx, uint32_t length)
{
    (void)ctx;
    (void)length;
}

static void px_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
    struct pin_x509 *x = (struct pin_x509 *)ctx;
    if (x->index != 0)
        return;
    if (len > LEAF_MAX - x->len) {
        x->overflow = true;
        return;
    }
    memcpy(x->leaf + x->len, buf, len);
    x->len += len;
    br_x509_decoder_push(&x->dec, buf, len);
}

static void px_end_cert(const br_x509_class **ctx)
{
    ((struct pin_x509 *)ctx)->index++;
}

static unsigned px_end_chain(const br_x509_class **ctx)
{
    struct pin_x509 *x = (struct pin_x509 *)ctx;
    if (x->index == 0)
        return BR_ERR_X509_EMPTY_CHAIN;
    if (x->overflow)
        return BR_ERR_X509_LIMIT_EXCEEDED;
    int e = br_x509_decoder_last_error(&x->dec);
    if (e)
        return (unsigned)e;
    unsigned char h[32];
    if (!tls_spki_sha256(x->leaf, x->len, h))
        return BR_ERR_X509_BAD_TAG_CLASS;
    for (int i = 0; i < x->pins->n; i++)
        if (memcmp(h, x->pins->sha256[i], 32) == 0)
            return 0;
    x->mismatch = true;
    return BR_ERR_X509_NOT_TRUSTED;
}

static const br_x509_pkey *px_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
    struct pin_x509 *x = (struct pin_x509 *)ctx;
    if (usages)
        *usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
    return br_x509_decoder_get_pkey(&x->dec);
}

static const br_x509_class pin_x509_class = {
    .context_size = sizeof(struct pin_x509),
    .start_chain = px_start_chain,
    .start_cert = px_start_cert,
    .append = px_append,
    .end_cert = px_end_cert,
    .end_chain = px_end_chain,
    .get_pkey = px_get_pkey,
};

/* ---- the connection -------------------------------------------------- */

struct tls_conn {
    int fd;
    int64_t deadline;
    int io_errno; /* why the socket callbacks gave up */
    char why[160];
    br_ssl_client_context cc;
    br_sslio_context io;
    struct pin_x509 x509;
    /* Half-duplex: one request, then its reply. */
    unsigned char buf[BR_SSL_BUFSIZE_MONO];
};

/* The engine's transport: -1 (with io_errno) stops it. */
static int low_read(void *ctx, unsigned char *data, size_t len)
{
    struct tls_conn *t = ctx;
    int r = netio_recv(t->fd, data, len, t->deadline);
    if (r > 0)
        return r;
    t->io_errno = r == 0 ? ECONNRESET : -r;
    return -1;
}

static int low_write(void *ctx, const unsigned char *data, size_t len)
{
    struct tls_conn *t = ctx;
    int r = netio_send(t->fd, data, len, t->deadline);
    if (r >= 0)
        return r;
    t->io_errno = -r;
    return -1;
}

static bool is_ip_literal(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* TLS 1.2 with forward secrecy and AEAD only: what GnuTLS (kanrid)
 * offers first, for an ECDSA or an RSA certificate.  Naming the suites,
 * instead of BearSSL's "full" profile, keeps the rest (RSA key exchange,
 * CBC, 3DES) out of the static agent (musl build: 252 KiB, not 286). */
static void client_profile(br_ssl_client_context *cc)
{
    static const uint16_t suites[] = {
        BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    };
    br_ssl_client_zero(cc);
    br_ssl_engine_context *eng = &cc->eng;
    br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_suites(eng, suites, sizeof(suites) / sizeof(suites[0]));
    /* The handshake transcript and the server's signature: SHA-256 and
     * SHA-384 (and SHA-512 or SHA-1 signatures, which some servers use). */
    br_ssl_engine_set_hash(eng, br_sha1_ID, &br_sha1_vtable);
    br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
    br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
    br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable);
    br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_default_aes_gcm(eng);
    br_ssl_engine_set_default_chapol(eng);
    br_ssl_engine_set_default_ec(eng);
    br_ssl_engine_set_default_ecdsa(eng);
    br_ssl_engine_set_default_rsavrfy(eng);
}

struct tls_conn *tls_open(int fd, const char *server_name, const struct tls_pins *pins,
                          int64_t deadline_ms)
{
    struct tls_conn *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->fd = fd;
    t->deadline = deadline_ms;
    client_profile(&t->cc);
    t->x509.vtable = &pin_x509_class;
    t->x509.pins = pins;
    br_ssl_engine_set_x509(&t->cc.eng, &t->x509.vtable);
    br_ssl_engine_set_buffer(&t->cc.eng, t->buf, sizeof(t->buf), 0);
    /* SNI carries names only; with an IP literal, send none. */
    br_ssl_client_reset(&t->cc, is_ip_literal(server_name) ? NULL : server_name, 0);
    br_sslio_init(&t->io, &t->cc.eng, low_read, t, low_write, t);
    return t;
}

/* The failure of the last call, as -errno, with the reason in t->why. */
static int failure(struct tls_conn *t)
{
    int e = br_ssl_engine_last_error(&t->cc.eng);
    if (t->x509.mismatch) {
        snprintf(t->why, sizeof(t->why), "the server's public key is not the pinned one");
        return -EPERM;
    }
    if (t->io_errno) {
        snprintf(t->why, sizeof(t->why), "%s", strerror(t->io_errno));
        return -t->io_errno;
    }
    if (e == BR_ERR_OK) {
        snprintf(t->why, sizeof(t->why), "the server closed the TLS session");
        return -ECONNRESET;
    }
    snprintf(t->why, sizeof(t->why), "TLS failed (BearSSL error %d%s)", e,
             e >= BR_ERR_SEND_FATAL_ALERT   ? ": the server sent an alert"
             : e == BR_ERR_BAD_CIPHER_SUITE ? ": no cipher suite in common"
             : e == BR_ERR_BAD_VERSION      ? ": no TLS 1.2 on the server"
                                            : "");
    return -EPROTO;
}

int tls_write_all(struct tls_conn *t, const void *buf, size_t len)
{
    return br_sslio_write_all(&t->io, buf, len) < 0 ? failure(t) : 0;
}

int tls_flush(struct tls_conn *t)
{
    return br_sslio_flush(&t->io) < 0 ? failure(t) : 0;
}

int tls_read(struct tls_conn *t, void *buf, size_t len)
{
    int r = br_sslio_read(&t->io, buf, len);
    if (r > 0)
        return r;
    /* A clean close_notify, or a server that just closed its socket after
     * the reply (common with "Connection: close"): both end the stream. */
    if (br_ssl_engine_last_error(&t->cc.eng) == BR_ERR_OK || t->io_errno == ECONNRESET)
        return 0;
    return failure(t);
}

const char *tls_error(const struct tls_conn *t)
{
    return t->why[0] ? t->why : NULL;
}

void tls_free(struct tls_conn *t)
{
    free(t);
}
