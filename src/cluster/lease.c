/*
 * Host leases among kanrid instances (lease.h).
 */
#include "cluster/lease.h"

#include <string.h>

void lease_plan_init(struct lease_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->renew = g_ptr_array_new();
    p->take = g_ptr_array_new();
    p->give_up = g_ptr_array_new();
}

void lease_plan_clear(struct lease_plan *p)
{
    g_clear_pointer(&p->renew, g_ptr_array_unref);
    g_clear_pointer(&p->take, g_ptr_array_unref);
    g_clear_pointer(&p->give_up, g_ptr_array_unref);
}

bool lease_instance_live(const struct lease_instance *i, int64_t now_us, int64_t lease_us)
{
    return i->heartbeat_us > now_us - lease_us;
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void lease_plan(const char *me, const struct lease_instance *instances, size_t n_instances,
                const struct lease *leases, size_t n_leases, const char *const *hosts,
                size_t n_hosts, int64_t now_us, int64_t lease_us, struct lease_plan *ret)
{
    lease_plan_init(ret);
    g_autoptr(GHashTable) live = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_add(live, (gpointer)me);
    for (size_t i = 0; i < n_instances; i++) {
        if (lease_instance_live(&instances[i], now_us, lease_us))
            g_hash_table_add(live, (gpointer)instances[i].id);
    }
    /* Every instance sorts the same live set the same way, so the shares
     * they compute add up to the fleet. */
    guint n_live = 0;
    g_autofree gpointer *ids = g_hash_table_get_keys_as_array(live, &n_live);
    qsort(ids, n_live, sizeof(*ids), (int (*)(const void *, const void *))by_name);
    size_t rank = 0;
    while (rank < n_live && strcmp(ids[rank], me) != 0)
        rank++;
    ret->live = n_live;
    ret->share = (unsigned)(n_hosts / n_live + (rank < n_hosts % n_live ? 1 : 0));

    /* The lease of each host of the fleet (the newest, should the store
     * hand over two). */
    g_autoptr(GHashTable) lease_of = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; i < n_hosts; i++)
        g_hash_table_insert(lease_of, (gpointer)hosts[i], NULL);
    for (size_t i = 0; i < n_leases; i++) {
        const struct lease *l = &leases[i], *had = NULL;
        gpointer value;
        if (!g_hash_table_lookup_extended(lease_of, l->host, NULL, &value))
            continue;
        had = value;
        if (!had || l->epoch > had->epoch)
            g_hash_table_insert(lease_of, (gpointer)l->host, (gpointer)l);
    }

    g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new((guint)n_hosts);
    for (size_t i = 0; i < n_hosts; i++)
        g_ptr_array_add(sorted, (gpointer)hosts[i]);
    g_ptr_array_sort(sorted, by_name);

    g_autoptr(GPtrArray) free_hosts = g_ptr_array_new();
    for (guint i = 0; i < sorted->len; i++) {
        const char *h = sorted->pdata[i];
        const struct lease *l = g_hash_table_lookup(lease_of, h);
        bool current = l && l->holder && l->expires_us > now_us;
        if (current && strcmp(l->holder, me) == 0)
            g_ptr_array_add(ret->renew->len < ret->share ? ret->renew : ret->give_up, (gpointer)h);
        else if (!current || !g_hash_table_contains(live, l->holder))
            g_ptr_array_add(free_hosts, (gpointer)h);
    }
    for (guint i = 0; i < free_hosts->len && ret->renew->len + ret->take->len < ret->share; i++)
        g_ptr_array_add(ret->take, free_hosts->pdata[i]);
}
