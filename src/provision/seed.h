/*
 * provision/seed: the files of a cloud-init NoCloud seed for a new VM
 * (docs/provisioning.md).  Pure: the VM's name and the operator's user
 * data and SSH keys in, meta-data and user-data out; the image
 * (ISO 9660, volume id "cidata") is made of them by the engine.
 *
 * Bounds: user data at most SEED_USER_DATA_MAX bytes of UTF-8 without NUL;
 * at most SEED_KEYS_MAX keys, each one line of at most SEED_KEY_MAX
 * printable ASCII characters starting with its type (ssh-..., ecdsa-...,
 * sk-...).  A key is written quoted, so nothing in it is read as YAML.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#define SEED_ERROR (seed_error_quark())
GQuark seed_error_quark(void);
enum { SEED_ERR_INVALID = 1 };

#define SEED_USER_DATA_MAX (64 * 1024)
#define SEED_KEYS_MAX      16
#define SEED_KEY_MAX       8192

/* Whether KEY may be an SSH public key in the seed; *ret_why (g_free)
 * otherwise. */
bool seed_key_ok(const char *key, char **ret_why);

/* The seed's files (g_free): meta-data names the instance (INSTANCE_ID)
 * and its host name (NAME) and lists KEYS (N of them); user-data is
 * USER_DATA as given, or "#cloud-config" alone when NULL.  False with
 * SEED_ERR_INVALID when an input is out of bounds. */
bool seed_files(const char *name, const char *instance_id, const char *user_data,
                const char *const *keys, size_t n, char **ret_meta_data, char **ret_user_data,
                GError **error);
