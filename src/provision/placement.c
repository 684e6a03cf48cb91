/*
 * provision/placement: see placement.h.
 */
#include "provision/placement.h"

#include <math.h>

static double gib(double bytes)
{
    return bytes / (1024.0 * 1024 * 1024);
}

/* The host's memory in use, and whether by the reconciled view. */
static double used(const struct place_host *h, bool *ret_reconciled)
{
    *ret_reconciled = !isnan(h->mem_used_bytes);
    return *ret_reconciled ? h->mem_used_bytes : (double)MAX(h->mem_assigned_bytes, 0);
}

int place_choose(const struct place_host *hosts, size_t n, const struct place_need *need,
                 char **ret_reason)
{
    GString *why = g_string_new(NULL);
    int best = -1;
    double best_left = 0;
    for (size_t i = 0; i < n; i++) {
        const struct place_host *h = &hosts[i];
        const char *no = !h->connected          ? "not connected"
                         : h->maintenance       ? "in maintenance"
                         : !h->sees_images      ? "does not see the template's images"
                         : h->memory_bytes <= 0 ? "its memory is not known"
                                                : NULL;
        g_autofree char *own = NULL;
        bool reconciled = false;
        double left = 0;
        if (!no && h->cpus > 0 && need->vcpus > h->cpus)
            no = own = g_strdup_printf("%" G_GINT64_FORMAT " CPUs, fewer than %" G_GINT64_FORMAT,
                                       h->cpus, need->vcpus);
        if (!no) {
            left = (double)h->memory_bytes - used(h, &reconciled) - (double)need->memory_bytes;
            if (left < 0)
                no = own = g_strdup_printf("%.1f GiB free (%s), less than %.1f GiB",
                                           gib((double)h->memory_bytes - used(h, &reconciled)),
                                           reconciled ? "reconciled use" : "assigned",
                                           gib((double)need->memory_bytes));
        }
        if (no) {
            g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", h->name, no);
            continue;
        }
        if (best < 0 || left > best_left) {
            best = (int)i;
            best_left = left;
        }
    }
    if (best < 0) {
        *ret_reason = g_strdup_printf("no host fits the VM: %s", n ? why->str : "no hosts");
        g_string_free(why, TRUE);
        return -1;
    }
    g_string_free(why, TRUE);
    bool reconciled = false;
    const struct place_host *h = &hosts[best];
    double u = used(h, &reconciled);
    *ret_reason = g_strdup_printf("%s has the most memory left after it: %.1f GiB of %.1f GiB "
                                  "(%.1f GiB in use by the %s)",
                                  h->name, gib(best_left), gib((double)h->memory_bytes), gib(u),
                                  reconciled ? "reconciled view" : "VMs' assignments");
    return best;
}
