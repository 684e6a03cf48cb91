/*
 * kanrid's TLS identity: a certificate and key from files the operator
 * names, or made on first start (ECDSA P-256, self-signed, ten years) and
 * kept in the state directory; and the pin a client verifies it by.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

struct tls_identity {
    char *cert_pem, *key_pem;
    char *pin;       /* "sha256//BASE64" of the public key (curl's --pinnedpubkey) */
    char *cert_path; /* where the certificate is, for a client's --cacert */
    bool generated;  /* made just now */
};

/* Loads CERT_PATH and KEY_PATH when both are given; otherwise the pair in
 * STATE_DIR (tls-cert.pem, tls-key.pem, made if missing, the key 0600) for
 * the names in SANS (host names and IP addresses; localhost and the
 * loopback addresses are always in).  false with *error. */
bool tls_identity_load(const char *cert_path, const char *key_path, const char *state_dir,
                       const char *const *sans, struct tls_identity *ret, GError **error);
void tls_identity_clear(struct tls_identity *t);

/* Whether ADDR (numeric) is a loopback address. */
bool tls_is_loopback(const char *addr);
