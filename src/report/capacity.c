/*
 * Capacity: demand, fits and what-ifs (capacity.h).
 */
#include "config.h"

#include "report/capacity.h"

#include <glib.h>
#include <math.h>
#include <string.h>

void cap_demand_sum(const struct cap_vm *vms, size_t n, struct cap_demand *ret)
{
    memset(ret, 0, sizeof(*ret));
    for (size_t i = 0; i < n; i++) {
        const struct cap_vm *v = &vms[i];
        ret->vms++;
        ret->vcpus += v->vcpus;
        ret->memory_bytes += v->memory_bytes;
        ret->disk_bytes += v->disk_bytes;
        bool missing = false;
        if (isnan(v->cpu_demand_pct)) {
            ret->cpu_cores += (double)v->vcpus;
            missing = true;
        } else {
            ret->cpu_cores += v->cpu_demand_pct / 100.0 * (double)v->vcpus;
        }
        if (isnan(v->mem_used_bytes)) {
            ret->memory_bytes_used += (double)v->memory_bytes;
            missing = true;
        } else {
            ret->memory_bytes_used += v->mem_used_bytes;
        }
        /* Disk: the guest's use where it says, else what the images take. */
        ret->disk_bytes_used +=
            isnan(v->disk_used_bytes) ? (double)v->disk_host_bytes : v->disk_used_bytes;
        ret->without_view += missing;
    }
}

void cap_size_of(int64_t vcpus, int64_t memory_bytes, int64_t disk_bytes, struct cap_size *ret)
{
    *ret = (struct cap_size){.vcpus = vcpus,
                             .memory_bytes = memory_bytes,
                             .disk_bytes = disk_bytes,
                             .cpu_cores = (double)vcpus,
                             .memory_bytes_used = (double)memory_bytes,
                             .disk_bytes_used = (double)disk_bytes};
}

const char *cap_resource_name(enum cap_resource r)
{
    static const char *const names[CAP_N] = {"cpu", "memory", "disk"};
    return r < CAP_N ? names[r] : "?";
}

static int64_t how_many(double free, double need)
{
    if (need <= 0)
        return INT64_MAX;
    if (free <= 0)
        return 0;
    double n = floor(free / need);
    return n >= 9e18 ? INT64_MAX : (int64_t)n;
}

void cap_fit(const struct cap_host *h, const struct cap_size *x, struct cap_fit *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->free[CAP_CPU] = (double)h->cpus - h->d.cpu_cores;
    ret->free[CAP_MEMORY] = (double)h->memory_bytes - h->d.memory_bytes_used;
    /* Thin disks may still claim up to their virtual size: that part of
     * the pools' free space is spoken for. */
    double thin = fmax((double)h->d.disk_bytes - h->d.disk_bytes_used, 0);
    ret->free[CAP_DISK] = (double)h->disk_free_bytes - thin;
    ret->by[CAP_CPU] = how_many(ret->free[CAP_CPU], x->cpu_cores);
    ret->by[CAP_MEMORY] = how_many(ret->free[CAP_MEMORY], x->memory_bytes_used);
    ret->by[CAP_DISK] =
        h->disk_bytes > 0 ? how_many(ret->free[CAP_DISK], (double)x->disk_bytes) : INT64_MAX;
    ret->limited = CAP_CPU;
    for (int r = 1; r < CAP_N; r++) {
        if (ret->by[r] < ret->by[ret->limited])
            ret->limited = (enum cap_resource)r;
    }
    ret->n = h->usable ? ret->by[ret->limited] : 0;
}

static void demand_add(struct cap_demand *d, const struct cap_size *x, double share)
{
    d->vcpus += (int64_t)llround((double)x->vcpus * share);
    d->memory_bytes += (int64_t)llround((double)x->memory_bytes * share);
    d->disk_bytes += (int64_t)llround((double)x->disk_bytes * share);
    d->cpu_cores += x->cpu_cores * share;
    d->memory_bytes_used += x->memory_bytes_used * share;
    d->disk_bytes_used += x->disk_bytes_used * share;
}

void cap_whatif_apply(const struct cap_host *hosts, size_t n, const struct cap_whatif *w,
                      struct cap_host *after, struct cap_whatif_result *ret)
{
    memcpy(after, hosts, sizeof(*hosts) * n);
    memset(ret, 0, sizeof(*ret));
    ret->moved_fits = true;
    if (w->remove >= 0 && (size_t)w->remove < n) {
        struct cap_host *gone = &after[w->remove];
        const struct cap_demand moved = gone->d;
        memset(&gone->d, 0, sizeof(gone->d));
        gone->usable = false;
        double free_sum = 0;
        for (size_t i = 0; i < n; i++) {
            if (after[i].usable)
                free_sum += fmax((double)after[i].memory_bytes - after[i].d.memory_bytes_used, 0);
        }
        const struct cap_size m = {.vcpus = moved.vcpus,
                                   .memory_bytes = moved.memory_bytes,
                                   .disk_bytes = moved.disk_bytes,
                                   .cpu_cores = moved.cpu_cores,
                                   .memory_bytes_used = moved.memory_bytes_used,
                                   .disk_bytes_used = moved.disk_bytes_used};
        if (free_sum <= 0 && moved.vms > 0)
            ret->moved_fits = false;
        for (size_t i = 0; i < n && free_sum > 0; i++) {
            if (!after[i].usable)
                continue;
            double share =
                fmax((double)after[i].memory_bytes - after[i].d.memory_bytes_used, 0) / free_sum;
            demand_add(&after[i].d, &m, share);
            after[i].d.vms += (int64_t)llround((double)moved.vms * share);
            /* Its disks come along (its pools go with it). */
            after[i].disk_free_bytes -= (int64_t)llround(moved.disk_bytes_used * share);
            if ((double)after[i].cpus < after[i].d.cpu_cores ||
                (double)after[i].memory_bytes < after[i].d.memory_bytes_used)
                ret->moved_fits = false;
        }
    }
    for (int64_t k = 0; k < w->add; k++) {
        int best = -1;
        double best_free = -1;
        for (size_t i = 0; i < n; i++) {
            struct cap_fit f;
            cap_fit(&after[i], &w->add_size, &f);
            if (f.n < 1)
                continue;
            if (f.free[CAP_MEMORY] > best_free) {
                best = (int)i;
                best_free = f.free[CAP_MEMORY];
            }
        }
        if (best < 0)
            break;
        demand_add(&after[best].d, &w->add_size, 1.0);
        after[best].d.vms++;
        after[best].disk_free_bytes -= (int64_t)llround(w->add_size.disk_bytes_used);
        ret->placed++;
    }
}
