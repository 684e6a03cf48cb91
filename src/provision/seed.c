/*
 * provision/seed: see seed.h.
 */
#include "provision/seed.h"

#include <string.h>

GQuark seed_error_quark(void)
{
    return g_quark_from_static_string("seed-error-quark");
}

bool seed_key_ok(const char *key, char **ret_why)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > SEED_KEY_MAX) {
        *ret_why = g_strdup_printf("an SSH key is 1 to %d characters", SEED_KEY_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (key[i] < 0x20 || key[i] > 0x7e) {
            *ret_why = g_strdup("an SSH key is one line of printable ASCII");
            return false;
        }
    }
    if (!g_str_has_prefix(key, "ssh-") && !g_str_has_prefix(key, "ecdsa-") &&
        !g_str_has_prefix(key, "sk-")) {
        *ret_why = g_strdup("an SSH key starts with its type (ssh-ed25519, ssh-rsa, ecdsa-..., "
                            "sk-...)");
        return false;
    }
    return true;
}

/* S as a YAML double-quoted scalar: only printable ASCII reaches here, of
 * which '"' and '\\' need escaping. */
static void put_quoted(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            g_string_append_c(out, '\\');
        g_string_append_c(out, *s);
    }
    g_string_append_c(out, '"');
}

bool seed_files(const char *name, const char *instance_id, const char *user_data,
                const char *const *keys, size_t n, char **ret_meta_data, char **ret_user_data,
                GError **error)
{
    g_autofree char *why = NULL;
    if (!name || !*name || !instance_id || !*instance_id) {
        g_set_error(error, SEED_ERROR, SEED_ERR_INVALID, "a seed needs a name and an instance id");
        return false;
    }
    if (n > SEED_KEYS_MAX) {
        g_set_error(error, SEED_ERROR, SEED_ERR_INVALID, "at most %d SSH keys", SEED_KEYS_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!seed_key_ok(keys[i], &why)) {
            g_set_error(error, SEED_ERROR, SEED_ERR_INVALID, "SSH key %zu: %s", i + 1, why);
            return false;
        }
    }
    if (user_data &&
        (strlen(user_data) > SEED_USER_DATA_MAX || !g_utf8_validate(user_data, -1, NULL))) {
        g_set_error(error, SEED_ERROR, SEED_ERR_INVALID, "user data is at most %d bytes of UTF-8",
                    SEED_USER_DATA_MAX);
        return false;
    }
    GString *meta = g_string_new("instance-id: ");
    put_quoted(meta, instance_id);
    g_string_append(meta, "\nlocal-hostname: ");
    put_quoted(meta, name);
    g_string_append_c(meta, '\n');
    if (n) {
        g_string_append(meta, "public-keys:\n");
        for (size_t i = 0; i < n; i++) {
            g_string_append(meta, "  - ");
            put_quoted(meta, keys[i]);
            g_string_append_c(meta, '\n');
        }
    }
    *ret_meta_data = g_string_free(meta, FALSE);
    *ret_user_data = g_strdup(user_data ? user_data : "#cloud-config\n");
    return true;
}
