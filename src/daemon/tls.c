#include "config.h"

#include "daemon/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

static GQuark tls_error_quark(void)
{
    return g_quark_from_static_string("kanri-tls-error-quark");
}

static bool gnutls_failed(int rc, const char *what, GError **error)
{
    if (rc >= 0)
        return false;
    g_set_error(error, tls_error_quark(), 0, "%s: %s", what, gnutls_strerror(rc));
    return true;
}

bool tls_is_loopback(const char *addr)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, addr, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    return false;
}

static bool add_san(gnutls_x509_crt_t crt, const char *name, GError **error)
{
    unsigned char ip[16];
    int rc;
    if (inet_pton(AF_INET, name, ip) == 1)
        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
                                                  GNUTLS_FSAN_APPEND);
    else if (inet_pton(AF_INET6, name, ip) == 1)
        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
                                                  GNUTLS_FSAN_APPEND);
    else
        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
                                                  (unsigned)strlen(name), GNUTLS_FSAN_APPEND);
    return !gnutls_failed(rc, "subject alternative name", error);
}

/* A new self-signed certificate and key, PEM. */
static bool generate(const char *const *sans, char **ret_cert, char **ret_key, GError **error)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t c = {0}, k = {0};
    bool ok = false;
    unsigned char serial[16];
    time_t now = time(NULL);
    g_autofree char *cn = g_strdup_printf("kanrid on %s", g_get_host_name());
    if (gnutls_failed(gnutls_x509_privkey_init(&key), "key", error) ||
        gnutls_failed(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                                   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                                   0),
                      "generating the key", error) ||
        gnutls_failed(gnutls_x509_crt_init(&crt), "certificate", error) ||
        gnutls_failed(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)), "serial", error))
        goto out;
    serial[0] &= 0x7f;
    if (gnutls_failed(gnutls_x509_crt_set_version(crt, 3), "version", error) ||
        gnutls_failed(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), "serial", error) ||
        gnutls_failed(gnutls_x509_crt_set_activation_time(crt, now - 3600), "validity", error) ||
        gnutls_failed(gnutls_x509_crt_set_expiration_time(crt, now + 10 * 365 * 86400L), "validity",
                      error) ||
        gnutls_failed(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                                    (unsigned)strlen(cn)),
                      "subject", error) ||
        gnutls_failed(gnutls_x509_crt_set_key(crt, key), "public key", error) ||
        gnutls_failed(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), "constraints", error) ||
        gnutls_failed(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), "key usage",
                      error) ||
        gnutls_failed(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0),
                      "key purpose", error))
        goto out;
    static const char *const always[] = {"localhost", "127.0.0.1", "::1"};
    for (size_t i = 0; i < G_N_ELEMENTS(always); i++) {
        if (!add_san(crt, always[i], error))
            goto out;
    }
    for (const char *const *s = sans; s && *s; s++) {
        if (!g_strv_contains(always, *s) && !add_san(crt, *s, error))
            goto out;
    }
    if (gnutls_failed(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), "signing",
                      error) ||
        gnutls_failed(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c), "export", error) ||
        gnutls_failed(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &k), "export", error))
        goto out;
    *ret_cert = g_strndup((const char *)c.data, c.size);
    *ret_key = g_strndup((const char *)k.data, k.size);
    ok = true;
out:
    gnutls_free(c.data);
    if (k.data)
        gnutls_memset(k.data, 0, k.size);
    gnutls_free(k.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    return ok;
}

/* "sha256//BASE64" of the certificate's SubjectPublicKeyInfo. */
static char *pin_of(const char *cert_pem, GError **error)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t in = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)}, der = {0};
    char *pin = NULL;
    if (!gnutls_failed(gnutls_x509_crt_init(&crt), "certificate", error) &&
        !gnutls_failed(gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM), "certificate",
                       error) &&
        !gnutls_failed(gnutls_pubkey_init(&pub), "public key", error) &&
        !gnutls_failed(gnutls_pubkey_import_x509(pub, crt, 0), "public key", error) &&
        !gnutls_failed(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der), "public key",
                       error)) {
        unsigned char sum[32];
        gsize len = sizeof(sum);
        GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
        g_checksum_update(ck, der.data, der.size);
        g_checksum_get_digest(ck, sum, &len);
        g_checksum_free(ck);
        g_autofree char *b64 = g_base64_encode(sum, len);
        pin = g_strconcat("sha256//", b64, NULL);
    }
    gnutls_free(der.data);
    if (pub)
        gnutls_pubkey_deinit(pub);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return pin;
}

bool tls_identity_load(const char *cert_path, const char *key_path, const char *state_dir,
                       const char *const *sans, struct tls_identity *ret, GError **error)
{
    memset(ret, 0, sizeof(*ret));
    g_autofree char *cp = NULL, *kp = NULL;
    if (!cert_path != !key_path) {
        g_set_error(error, tls_error_quark(), 0,
                    "tls_cert and tls_key go together: give both, or neither for a "
                    "certificate kanrid makes and keeps in its state directory");
        return false;
    }
    if (cert_path && key_path) {
        cp = g_strdup(cert_path);
        kp = g_strdup(key_path);
    } else {
        cp = g_build_filename(state_dir, "tls-cert.pem", NULL);
        kp = g_build_filename(state_dir, "tls-key.pem", NULL);
        if (!g_file_test(cp, G_FILE_TEST_EXISTS) && !g_file_test(kp, G_FILE_TEST_EXISTS)) {
            g_autofree char *c = NULL, *k = NULL;
            if (!generate(sans, &c, &k, error))
                return false;
            if (!g_file_set_contents_full(kp, k, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) ||
                !g_file_set_contents_full(cp, c, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error))
                return false;
            memset(k, 0, strlen(k));
            ret->generated = true;
        }
    }
    if (!g_file_get_contents(cp, &ret->cert_pem, NULL, error) ||
        !g_file_get_contents(kp, &ret->key_pem, NULL, error)) {
        tls_identity_clear(ret);
        return false;
    }
    ret->pin = pin_of(ret->cert_pem, error);
    if (!ret->pin) {
        g_prefix_error(error, "%s: ", cp);
        tls_identity_clear(ret);
        return false;
    }
    ret->cert_path = g_steal_pointer(&cp);
    return true;
}

void tls_identity_clear(struct tls_identity *t)
{
    g_free(t->cert_pem);
    if (t->key_pem) {
        memset(t->key_pem, 0, strlen(t->key_pem));
        g_free(t->key_pem);
    }
    g_free(t->pin);
    g_free(t->cert_path);
    memset(t, 0, sizeof(*t));
}
