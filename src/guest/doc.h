/*
 * doc: renders a sample as the JSON document kanri-guestd sends to kanrid
 * (format described in docs/guest-agent.md, schema 1).
 *
 * The "spool" member is always the last one, so that a spooled document can
 * have it replaced with the queue's state at the time it is finally sent
 * (doc_patch_spool) without parsing JSON.
 */
#pragma once

#include <stdint.h>
#include <time.h>

#include "config.h"
#include "gbuf.h"
#include "sample.h"

#define KANRI_GUESTD_NAME    "kanri-guestd"
#define KANRI_GUESTD_VERSION KANRI_VERSION
#define DOC_SCHEMA           1

struct doc_meta {
    const char *machine_id;
    const char *id_source; /* "smbios" or "generated" */
    uint64_t seq;
    struct timespec time; /* CLOCK_REALTIME */
    unsigned interval;    /* seconds */
    uint64_t backlog, dropped;
};

/* Appends the document (one line, ending in '\n') to b.  Returns 0, or
 * -E2BIG when the buffer bound was hit. */
int doc_render(struct gbuf *b, const struct sample *s, const struct doc_meta *m);

/* Writes doc to out with the trailing spool member replaced.  When doc does
 * not end with one (not written by doc_render), it is copied unchanged and
 * -ENOENT is returned. */
int doc_patch_spool(const char *doc, size_t len, uint64_t backlog, uint64_t dropped,
                    struct gbuf *out);
