/*
 * spool: the bounded on-disk queue kanri-guestd keeps while kanrid cannot
 * take its documents.
 *
 * Each document is one file named "<seq>-<time>.json" (seq zero-padded to
 * 20 digits so names sort like numbers), written through a temporary file
 * and rename() so a crash never leaves half a document.  The queue is
 * indexed in memory (one small entry per file) so that sending does not
 * rescan the directory; spool_open() rebuilds the index from the directory.
 *
 * Bounds: a document older than max_age seconds, or past max_count files or
 * max_bytes in total, is deleted oldest first, and the deletions are counted
 * in `dropped` (kept in the file "dropped" so restarts do not forget them)
 * until spool_ack_dropped() says a document carrying the number reached
 * kanrid.  Documents kanrid refused (4xx) move to rejected/, which keeps at
 * most max_rejected files.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gbuf.h"

struct spool_limits {
    int64_t max_age;    /* seconds */
    uint64_t max_bytes; /* sum of file sizes */
    uint64_t max_count; /* files */
    unsigned max_rejected;
};

struct spool_entry {
    uint64_t seq;
    int64_t time; /* seconds since the epoch, from the name */
    uint64_t size;
};

struct spool {
    char dir[3968]; /* leaves room for "/rejected/" and a file name in PATH_MAX */
    struct spool_limits lim;
    struct spool_entry *v; /* v[head .. head+n) are queued, oldest first */
    size_t head, n, cap;
    uint64_t bytes;
    uint64_t dropped;
};

/* Hard limit on max_count: the index costs 24 bytes per entry. */
#define SPOOL_MAX_COUNT 1000000

/* Creates dir (and dir/rejected) if needed and indexes what is there.
 * Returns 0 or -errno. */
int spool_open(struct spool *sp, const char *dir, const struct spool_limits *lim);
void spool_close(struct spool *sp);

static inline size_t spool_count(const struct spool *sp)
{
    return sp->n;
}

/* Queues a document.  Returns 0 or -errno; on failure the document is lost,
 * and it is counted as dropped. */
int spool_add(struct spool *sp, uint64_t seq, int64_t time, const char *doc, size_t len);

/* Deletes documents past the bounds at time now; returns how many. */
unsigned spool_enforce(struct spool *sp, int64_t now);

/* Counts documents lost outside the spool (e.g. a failed spool_add). */
void spool_count_dropped(struct spool *sp, uint64_t n);

/* Acknowledges that kanrid was told about n drops. */
void spool_ack_dropped(struct spool *sp, uint64_t n);

/* Reads the oldest document into out.  Returns 0, -ENOENT when empty, or
 * -errno (an unreadable file is dropped and counted, and the next call
 * moves on). */
int spool_read_oldest(struct spool *sp, struct gbuf *out, struct spool_entry *ret);

/* Deletes the oldest document (it was delivered). */
int spool_remove_oldest(struct spool *sp);

/* Moves the oldest document to rejected/ and trims rejected/. */
int spool_reject_oldest(struct spool *sp);

/* Keeps a document kanrid refused that never went through the queue. */
int spool_save_rejected(struct spool *sp, uint64_t seq, int64_t time, const char *doc, size_t len);
