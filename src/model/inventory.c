/*
 * Inventory value types (model/inventory.h) and the driver seam's own
 * small types (model/driver.h).
 */
#include "config.h"

#include "model/driver.h"
#include "model/finding.h"
#include "model/inventory.h"
#include "model/view.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK(kanri_driver_error_quark, driver_error)

const char *host_state_name(enum host_state s)
{
    static const char *const names[] = {"connecting", "connected", "unreachable", "elsewhere"};
    return (unsigned)s < G_N_ELEMENTS(names) ? names[s] : "unknown";
}

void host_info_free(struct host_info *h)
{
    if (!h)
        return;
    g_free(h->driver);
    g_free(h->hv_version);
    g_free(h->libvirt_version);
    g_free(h->hostname);
    g_free(h->cpu_model);
    g_free(h);
}

void disk_info_free(struct disk_info *d)
{
    if (!d)
        return;
    g_free(d->target);
    g_free(d->device);
    g_free(d->type);
    g_free(d->source);
    g_free(d->format);
    g_free(d);
}

void nic_info_free(struct nic_info *n)
{
    if (!n)
        return;
    g_free(n->mac);
    g_free(n->type);
    g_free(n->source);
    g_free(n->model);
    g_free(n->target);
    g_free(n);
}

struct domain_info *domain_info_new(void)
{
    struct domain_info *d = g_new0(struct domain_info, 1);
    d->disks = g_ptr_array_new_with_free_func((GDestroyNotify)disk_info_free);
    d->nics = g_ptr_array_new_with_free_func((GDestroyNotify)nic_info_free);
    return d;
}

void domain_info_free(struct domain_info *d)
{
    if (!d)
        return;
    g_free(d->uuid);
    g_free(d->name);
    g_free(d->state);
    g_free(d->state_reason);
    g_free(d->os_type);
    g_free(d->domain_type);
    g_ptr_array_unref(d->disks);
    g_ptr_array_unref(d->nics);
    g_free(d->balloon_model);
    g_free(d->xml);
    g_free(d->inactive_xml);
    g_free(d);
}

const char *domain_kind(const char *domain_type)
{
    return g_strcmp0(domain_type, "lxc") == 0 ? "container" : "vm";
}

bool domain_kind_valid(const char *s)
{
    return g_strcmp0(s, "vm") == 0 || g_strcmp0(s, "container") == 0;
}

void pool_info_free(struct pool_info *p)
{
    if (!p)
        return;
    g_free(p->name);
    g_free(p->uuid);
    g_free(p->state);
    g_free(p->target_path);
    g_free(p);
}

void network_info_free(struct network_info *n)
{
    if (!n)
        return;
    g_free(n->name);
    g_free(n->uuid);
    g_free(n->bridge);
    g_free(n);
}

static void host_sample_clear_cb(gpointer p)
{
    host_sample_clear(p);
}

static void guest_sample_clear_cb(gpointer p)
{
    guest_sample_clear(p);
}

static void pool_sample_clear_cb(gpointer p)
{
    pool_sample_clear(p);
}

struct round_report *round_report_new(int64_t host_id, int64_t t_us)
{
    struct round_report *r = g_new0(struct round_report, 1);
    r->host_id = host_id;
    r->t_us = t_us;
    r->hosts = g_array_new(FALSE, FALSE, sizeof(struct host_sample));
    g_array_set_clear_func(r->hosts, host_sample_clear_cb);
    r->balloons = g_array_new(FALSE, FALSE, sizeof(struct guest_sample));
    g_array_set_clear_func(r->balloons, guest_sample_clear_cb);
    r->active = g_ptr_array_new_with_free_func(g_free);
    r->pools = g_array_new(FALSE, FALSE, sizeof(struct pool_sample));
    g_array_set_clear_func(r->pools, pool_sample_clear_cb);
    node_sample_init(&r->node);
    r->node.host_id = host_id;
    r->node.time_us = t_us;
    return r;
}

void round_report_free(struct round_report *r)
{
    if (!r)
        return;
    g_array_unref(r->hosts);
    g_array_unref(r->balloons);
    g_ptr_array_unref(r->active);
    g_array_unref(r->pools);
    g_free(r);
}

/* ---- model/view.h ---- */

struct vm_view *vm_view_new(void)
{
    return g_new0(struct vm_view, 1);
}

void vm_view_free(struct vm_view *v)
{
    if (!v)
        return;
    for (unsigned i = 0; i < v->n_values; i++) {
        struct view_value *x = &v->values[i];
        g_free(x->resource);
        g_free(x->unit);
        g_free(x->provenance);
        g_free(x->g_source);
        g_free(x->reason);
    }
    g_free(v->uuid);
    g_free(v);
}

struct view_value *vm_view_add(struct vm_view *v, const char *resource, const char *unit)
{
    if (v->n_values >= VIEW_MAX_VALUES)
        return NULL;
    struct view_value *x = &v->values[v->n_values++];
    memset(x, 0, sizeof(*x));
    x->resource = g_strdup(resource);
    x->unit = g_strdup(unit);
    x->h = x->g = x->r = NAN;
    x->h_age_us = x->g_age_us = -1;
    return x;
}

/* ---- model/finding.h ---- */

void finding_open_free(struct finding_open *f)
{
    if (!f)
        return;
    g_free(f->rule);
    g_free(f->severity);
    g_free(f->message);
    g_free(f);
}

void finding_write_clear(struct finding_write *w)
{
    g_free(w->uuid);
    g_free(w->rule);
    g_free(w->severity);
    g_free(w->message);
    memset(w, 0, sizeof(*w));
}

/* ---- model/driver.h: containers ---- */

bool container_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!g_ascii_isalnum(ch) && ch != '_' && ch != '.' && ch != '-')
            return false;
    }
    return true;
}
