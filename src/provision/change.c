/*
 * provision/change: see change.h.  The transitions are one table.
 */
#include "provision/change.h"

#include <string.h>

struct edge {
    const char *event;
    const char *from; /* "|"-separated states */
    const char *to;
    const char *done; /* the event said of a request: "approved" */
};

static const struct edge edges[] = {
    {"submit", "draft", "submitted", "submitted"},
    {"approve", "submitted", "approved", "approved"},
    {"reject", "submitted", "rejected", "rejected"},
    {"cancel", "draft|submitted|approved|scheduled", "cancelled", "cancelled"},
    {"schedule", "approved", "scheduled", "scheduled"},
    {"start", "approved|scheduled", "running", "started"},
    {"expire", "approved|scheduled", "expired", "expired"},
    {"done", "running", "done", "finished"},
    {"fail", "running", "failed", "failed"},
    {"roll-back", "running", "rolled-back", "rolled back"},
};

static const char *const finals[] = {"done",     "failed",    "rolled-back",
                                     "rejected", "cancelled", "expired"};

static bool listed(const char *list, const char *s)
{
    g_auto(GStrv) v = g_strsplit(list, "|", -1);
    return g_strv_contains((const char *const *)v, s);
}

const char *change_next(const char *state, const char *event, char **ret_why)
{
    bool known = false;
    for (size_t i = 0; i < G_N_ELEMENTS(edges); i++) {
        if (strcmp(edges[i].event, event) != 0)
            continue;
        known = true;
        if (listed(edges[i].from, state))
            return edges[i].to;
        *ret_why = g_strdup_printf("a request that is %s cannot be %s (only one that is %s)", state,
                                   edges[i].done, edges[i].from);
        for (char *p = strchr(*ret_why, '|'); p; p = strchr(p, '|'))
            *p = '/';
        return NULL;
    }
    if (!known)
        *ret_why = g_strdup_printf("no such step '%s'", event);
    return NULL;
}

bool change_final(const char *state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(finals); i++)
        if (strcmp(finals[i], state) == 0)
            return true;
    return false;
}

bool change_may_approve(int64_t requester, int64_t approver, char **ret_why)
{
    if (approver != requester)
        return true;
    *ret_why = g_strdup("a request is approved by another token than its requester's");
    return false;
}

enum change_window change_window_at(int64_t from_us, int64_t to_us, int64_t now_us)
{
    if (from_us && now_us < from_us)
        return CHANGE_WINDOW_BEFORE;
    if (to_us && now_us >= to_us)
        return CHANGE_WINDOW_PASSED;
    return CHANGE_WINDOW_OPEN;
}

unsigned change_batches(unsigned n, bool canary, unsigned batch, unsigned *ret)
{
    unsigned first = canary && n > 1 ? 1 : 0, b = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i < first)
            ret[i] = 0;
        else
            ret[i] = (first ? 1 : 0) + (batch ? (i - first) / batch : 0);
        b = ret[i] + 1;
    }
    return b;
}

bool change_check(const struct change_check_input *in, char **ret_why)
{
    if (in->want_state && g_strcmp0(in->state, in->want_state) != 0) {
        *ret_why =
            g_strdup_printf("the VM is %s, not %s", in->state ? in->state : "gone", in->want_state);
        return false;
    }
    if (in->guest_fresh_us > 0 && (in->guest_age_us < 0 || in->guest_age_us > in->guest_fresh_us)) {
        if (in->guest_age_us < 0)
            *ret_why = g_strdup_printf("no guest view within %" G_GINT64_FORMAT " s",
                                       in->guest_fresh_us / G_USEC_PER_SEC);
        else
            *ret_why = g_strdup_printf(
                "the guest view is %" G_GINT64_FORMAT " s old, more than %" G_GINT64_FORMAT " s",
                in->guest_age_us / G_USEC_PER_SEC, in->guest_fresh_us / G_USEC_PER_SEC);
        return false;
    }
    if (in->new_critical) {
        *ret_why = g_strdup_printf("%u new critical finding%s", in->new_critical,
                                   in->new_critical == 1 ? "" : "s");
        return false;
    }
    return true;
}
