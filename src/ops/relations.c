/*
 * Relations between configuration items, and what fails with an item
 * (ops.h).  Pure: the caller reads the inventory and passes it in.
 */
#include "config.h"

#include "ops/ops.h"

#include <string.h>

void ops_relation_clear(struct ops_relation *r)
{
    g_free(r->item);
    g_free(r->name);
    memset(r, 0, sizeof(*r));
}

static void add(GArray *ret, const char *type, char *item, const char *name)
{
    struct ops_relation r = {type, item, g_strdup(name)};
    g_array_append_val(ret, r);
}

bool ops_path_inside(const char *source, const char *path)
{
    if (!source || !path || !*path)
        return false;
    size_t n = strlen(path);
    if (strncmp(source, path, n) != 0)
        return false;
    return source[n] == '\0' || source[n] == '/' || path[n - 1] == '/';
}

static bool vm_uses_pool(const struct ops_rel_vm *v, const struct ops_rel_pool *p)
{
    if (g_strcmp0(v->host, p->host) != 0)
        return false;
    for (guint i = 0; v->disk_sources && i < v->disk_sources->len; i++) {
        if (ops_path_inside(g_ptr_array_index(v->disk_sources, i), p->target_path))
            return true;
    }
    return false;
}

static bool vm_on_network(const struct ops_rel_vm *v, const char *host, const char *net)
{
    if (g_strcmp0(v->host, host) != 0)
        return false;
    for (guint i = 0; v->networks && i < v->networks->len; i++) {
        if (g_strcmp0(g_ptr_array_index(v->networks, i), net) == 0)
            return true;
    }
    return false;
}

static char *vm_item(const struct ops_rel_vm *v)
{
    return g_strconcat("vm:", v->uuid, NULL);
}

/* Splits "HOST/NAME" (the name may not hold a '/'; the host may not). */
static bool split(const char *text, char **ret_host, const char **ret_name)
{
    const char *slash = strchr(text, '/');
    if (!slash || slash == text || !slash[1])
        return false;
    *ret_host = g_strndup(text, (gsize)(slash - text));
    *ret_name = slash + 1;
    return true;
}

static void vms_where(const char *type, const char *item, const struct ops_rel_vm *vms,
                      size_t n_vms, const struct ops_rel_pool *pools, size_t n_pools, GArray *ret,
                      bool *ret_known)
{
    if (g_str_has_prefix(item, "host:")) {
        const char *host = item + 5;
        for (size_t i = 0; i < n_vms; i++) {
            if (g_strcmp0(vms[i].host, host) == 0) {
                *ret_known = true;
                add(ret, type ? type : "hosts", vm_item(&vms[i]), vms[i].name);
            }
        }
        for (size_t i = 0; i < n_pools && !*ret_known; i++)
            *ret_known = g_strcmp0(pools[i].host, host) == 0;
        return;
    }
    g_autofree char *host = NULL;
    const char *name = NULL;
    if (g_str_has_prefix(item, "pool:") && split(item + 5, &host, &name)) {
        for (size_t p = 0; p < n_pools; p++) {
            if (g_strcmp0(pools[p].host, host) != 0 || g_strcmp0(pools[p].name, name) != 0)
                continue;
            *ret_known = true;
            for (size_t i = 0; i < n_vms; i++) {
                if (vm_uses_pool(&vms[i], &pools[p]))
                    add(ret, type ? type : "used-by", vm_item(&vms[i]), vms[i].name);
            }
        }
    } else if (g_str_has_prefix(item, "network:") && split(item + 8, &host, &name)) {
        for (size_t i = 0; i < n_vms; i++) {
            if (vm_on_network(&vms[i], host, name)) {
                *ret_known = true;
                add(ret, type ? type : "serves", vm_item(&vms[i]), vms[i].name);
            }
        }
    }
}

bool ops_relations(const char *item, const struct ops_rel_vm *vms, size_t n_vms,
                   const struct ops_rel_pool *pools, size_t n_pools, GArray *ret)
{
    bool known = false;
    const char *uuid = g_str_has_prefix(item, "vm:")      ? item + 3
                       : g_str_has_prefix(item, "agent:") ? item + 6
                                                          : NULL;
    for (size_t i = 0; uuid && i < n_vms; i++) {
        const struct ops_rel_vm *v = &vms[i];
        if (g_strcmp0(v->uuid, uuid) != 0)
            continue;
        known = true;
        if (g_str_has_prefix(item, "agent:")) {
            add(ret, "reports-for", vm_item(v), v->name);
            continue;
        }
        if (v->host)
            add(ret, "runs-on", g_strconcat("host:", v->host, NULL), v->host);
        for (size_t p = 0; p < n_pools; p++) {
            if (vm_uses_pool(v, &pools[p]))
                add(ret, "uses", g_strdup_printf("pool:%s/%s", pools[p].host, pools[p].name),
                    pools[p].name);
        }
        for (guint n = 0; v->networks && n < v->networks->len; n++) {
            const char *net = g_ptr_array_index(v->networks, n);
            add(ret, "attached-to", g_strdup_printf("network:%s/%s", v->host, net), net);
        }
        if (v->has_agent)
            add(ret, "reported-by", g_strconcat("agent:", v->uuid, NULL), v->name);
    }
    if (!uuid)
        vms_where(NULL, item, vms, n_vms, pools, n_pools, ret, &known);
    return known;
}

void ops_impact(const char *item, const struct ops_rel_vm *vms, size_t n_vms,
                const struct ops_rel_pool *pools, size_t n_pools, GArray *ret)
{
    bool known = false;
    vms_where("affected", item, vms, n_vms, pools, n_pools, ret, &known);
}
