/*
 * fsutil: small file helpers for kanri-guestd's state directory.
 * All return 0 or -errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes data to path through a temporary file and rename(), so readers see
 * the old or the new contents, never a mix.  With sync, the file and its
 * directory are fsync'ed so the new contents survive a crash. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool sync);

/* Reads at most size-1 bytes of path into buf and NUL-terminates it;
 * *ret_len (may be NULL) gets the length.  Fails with -EFBIG when the file
 * is larger. */
int read_small_file(const char *path, char *buf, size_t size, size_t *ret_len);

/* mkdir with mode unless the directory already exists. */
int ensure_dir(const char *path, mode_t mode);
