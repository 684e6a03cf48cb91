/*
 * model/finding: a finding's stored lifecycle.  The reconciliation stage
 * reports every rule it tracks each round; reconcile/lifecycle.c turns
 * that, and the rows open so far, into the writes below; the store
 * performs them without deciding anything.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* A finding row open in the store, as the engine remembers it. */
struct finding_open {
    char *rule;
    char *severity;
    char *message;
    double measure;
    int64_t updated_us; /* when its row was last written */
};

void finding_open_free(struct finding_open *f);

enum finding_op {
    FINDING_OPEN,   /* insert an open row */
    FINDING_UPDATE, /* change the open row of (uuid, rule) */
    FINDING_CLOSE,  /* close the open row of (uuid, rule) */
};

/* One write.  Strings are owned (finding_write_clear). */
struct finding_write {
    enum finding_op op;
    char *uuid;
    int64_t host_id;
    char *rule;
    char *severity;
    int64_t since_us; /* OPEN: the episode's start */
    int64_t at_us;    /* OPEN: opened; CLOSE: closed; every op: the row's "updated" */
    double measure;
    char *message;
    bool new_severity; /* UPDATE: the severity changed (not only the measure or words) */
};

void finding_write_clear(struct finding_write *w);
