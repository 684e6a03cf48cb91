/* kanri-guestd's pins: the form kanrid and curl write, and the key they
 * name.  tests/data/tls/cert.der is a self-signed P-256 certificate; its
 * pin was computed with OpenSSL, independently of this code:
 *   openssl x509 -inform der -in cert.der -pubkey -noout |
 *     openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64
 * The handshake itself is tested against kanrid (tests/integration). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls.h"
#include "testutil.h"

#define CERT_PIN "sha256//6NCoQpDCfynPYhL1sW9D6TRsNXsdISK2NHVEu9ie/+U="

static void test_pins_parse(void **state)
{
    struct tls_pins p;
    char err[200];
    assert_int_equal(tls_pins_parse(CERT_PIN, &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.sha256[0][0], 0xe8);
    assert_int_equal(p.sha256[0][31], 0xe5);
    /* Two while a key is replaced. */
    assert_int_equal(tls_pins_parse(CERT_PIN ";sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                                    &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.sha256[1][5], 0);
    static const char *bad[] = {
        "",
        "6NCoQpDCfynPYhL1sW9D6TRsNXsdISK2NHVEu9ie/+U=",         /* no scheme */
        "sha1//6NCoQpDCfynPYhL1sW9D6TRsNXsdISK2NHVEu9ie/+U=",   /* other hash */
        "sha256//6NCoQpDCfynPYhL1sW9D6TRsNXsdISK2NHVEu9ie/+U",  /* unpadded */
        "sha256//6NCoQpDCfynPYhL1sW9D6TRsNXsdISK2NHVEu9ie/+V=", /* spare bits set */
        "sha256//6NCoQpDCfynPYhL1sW9D6TRsNXsdISK2NHVEu9ie/+U=;", /* empty second */
        "sha256//6NCoQpDCfynPYhL1sW9D6TRsNXsdISK2NHVEu9i*/+U=", /* not base64 */
        "sha256//AAAA",                                          /* too short */
        CERT_PIN ";" CERT_PIN ";" CERT_PIN ";" CERT_PIN ";" CERT_PIN, /* five */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (tls_pins_parse(bad[i], &p, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted pin %zu: %s", i, bad[i]);
        assert_true(err[0] != '\0');
    }
}

static void test_spki_hash_matches_openssl(void **state)
{
    size_t len;
    char *der = tu_read_file(TEST_DATA_DIR "/tls/cert.der", &len);
    struct tls_pins p;
    char err[200];
    assert_int_equal(tls_pins_parse(CERT_PIN, &p, err, sizeof(err)), 0);
    unsigned char h[32];
    assert_true(tls_spki_sha256((unsigned char *)der, len, h));
    assert_memory_equal(h, p.sha256[0], 32);
    /* Truncated or not DER at all: no hash, never a read past the end. */
    for (size_t cut = 0; cut < len; cut += 7)
        assert_false(tls_spki_sha256((unsigned char *)der, cut, h));
    der[0] = 0x31; /* a SET, not a SEQUENCE */
    assert_false(tls_spki_sha256((unsigned char *)der, len, h));
    free(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pins_parse),
        cmocka_unit_test(test_spki_hash_matches_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
