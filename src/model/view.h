/*
 * model/view: the reconciled view of one VM as it is served and kept: for
 * each resource the host value H, the guest value G and the reconciled
 * value R, where R came from and why, and the age of each side.  See
 * docs/reconciliation.md.
 *
 * The engine builds one from its latest reconciliation when asked (the
 * engine keeps the reconcile module's own result between rounds, not
 * this), and the store keeps the last one of every VM so that a VM that is
 * not running still shows what was last known, with its age.
 *
 * Ownership: every string is owned; vm_view_free() accepts NULL.
 * Absent numbers are NaN (values) or -1 (ages).
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#define VIEW_MAX_VALUES 32

struct view_value {
    char *resource; /* "cpu_busy", ... */
    char *unit;     /* "%", "B", "B/s" */
    double h, g, r;
    char *provenance; /* "guest", "host", "host-run+wait", "guest+host-backing", "none" */
    char *g_source;   /* "qga", "balloon", "kanri-guestd", NULL */
    char *reason;
    int64_t h_age_us, g_age_us; /* as of `time`; -1 when that side is absent */
};

struct vm_view {
    char *uuid;
    int64_t host_id;
    int64_t time_us; /* the round it was computed in */
    struct view_value values[VIEW_MAX_VALUES];
    unsigned n_values;
};

struct vm_view *vm_view_new(void);
void vm_view_free(struct vm_view *v);
typedef struct vm_view vm_view; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vm_view, vm_view_free)
/* Appends a value (strings copied); false when VIEW_MAX_VALUES are there. */
struct view_value *vm_view_add(struct vm_view *v, const char *resource, const char *unit);
