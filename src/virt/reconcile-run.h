/*
 * reconcile-run: runs the reconciliation engine for one domain on what the
 * store holds and stores the result (reconcile-run.c).  Called by the
 * collector after each round; no logging (the caller logs once).
 */
#pragma once

#include <glib.h>

#include "reconcile/reconcile.h"
#include "store/store.h"

/* What the collector keeps of a domain's last reconciliation, for GET
 * /metrics.  Owned strings; virt_reconciled_clear() frees them. */
struct virt_reconciled {
    struct reconciled_sample sample;
    GPtrArray *open_findings; /* "rule\tseverity" of findings open now */
};

/*
 * Reconciles domain UUID of HOST_ID as of NOW_US with CFG (NULL: defaults)
 * and stores values, view, state and findings.  Fills RET (the caller
 * clears it) on success.  -ENOENT when the domain has no host sample yet,
 * -EIO when the store failed; *error says more.
 */
int virt_reconcile_domain(struct store *st, const struct reconcile_config *cfg, int64_t host_id,
                          const char *uuid, int64_t now_us, struct virt_reconciled *ret,
                          GError **error);

void virt_reconciled_clear(struct virt_reconciled *v);
