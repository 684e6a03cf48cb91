/*
 * Constructors of the sample value types (model/sample.h): the one place
 * that knows which fields a sample owns and what "absent" looks like.
 */
#include "config.h"

#include "model/sample.h"

#include <string.h>

const char *guest_source_static(const char *s)
{
    static const char *const known[] = {"qga", "balloon", "kanri-guestd"};
    for (size_t i = 0; s && i < G_N_ELEMENTS(known); i++) {
        if (strcmp(s, known[i]) == 0)
            return known[i];
    }
    return NULL;
}

/* ---- guest view ---- */

void guest_sample_init(struct guest_sample *g)
{
    memset(g, 0xff, sizeof(*g)); /* every uint64 becomes SAMPLE_ABSENT */
    g->machine_uuid = NULL;
    g->source = NULL;
    g->time_us = 0;
    g->received_us = 0;
    g->filesystems_json = NULL;
    g->disks_json = NULL;
    g->nics_json = NULL;
    g->extra_json = NULL;
}

void guest_sample_clear(struct guest_sample *g)
{
    g_free(g->machine_uuid);
    g_free(g->filesystems_json);
    g_free(g->disks_json);
    g_free(g->nics_json);
    g_free(g->extra_json);
    guest_sample_init(g);
}

void guest_sample_copy(struct guest_sample *dst, const struct guest_sample *src)
{
    *dst = *src;
    dst->machine_uuid = g_strdup(src->machine_uuid);
    dst->filesystems_json = g_strdup(src->filesystems_json);
    dst->disks_json = g_strdup(src->disks_json);
    dst->nics_json = g_strdup(src->nics_json);
    dst->extra_json = g_strdup(src->extra_json);
}

void guest_sample_move(struct guest_sample *dst, struct guest_sample *src)
{
    guest_sample_clear(dst);
    *dst = *src;
    guest_sample_init(src);
}

/* ---- host view ---- */

void host_sample_init(struct host_sample *v)
{
    memset(v, 0xff, sizeof(*v)); /* every uint64 becomes SAMPLE_ABSENT */
    v->host_id = 0;
    v->uuid = NULL;
    v->time_us = 0;
    v->dom_id = -1;
    v->state = 0;
    v->state_reason = 0;
    v->container = false;
    v->vcpus_json = v->blocks_json = v->nics_json = NULL;
}

void host_sample_clear(struct host_sample *v)
{
    g_free(v->uuid);
    g_free(v->vcpus_json);
    g_free(v->blocks_json);
    g_free(v->nics_json);
    host_sample_init(v);
}

void host_sample_copy(struct host_sample *dst, const struct host_sample *src)
{
    *dst = *src;
    dst->uuid = g_strdup(src->uuid);
    dst->vcpus_json = g_strdup(src->vcpus_json);
    dst->blocks_json = g_strdup(src->blocks_json);
    dst->nics_json = g_strdup(src->nics_json);
}

void host_sample_move(struct host_sample *dst, struct host_sample *src)
{
    host_sample_clear(dst);
    *dst = *src;
    host_sample_init(src);
}

/* ---- host figures, pools, reconciled ---- */

void node_sample_init(struct node_sample *v)
{
    memset(v, 0xff, sizeof(*v));
    v->host_id = 0;
    v->time_us = 0;
    v->round_cut = false;
}

void pool_sample_init(struct pool_sample *p)
{
    memset(p, 0xff, sizeof(*p));
    p->host_id = 0;
    p->name = NULL;
    p->time_us = 0;
}

void pool_sample_clear(struct pool_sample *p)
{
    g_free(p->name);
    pool_sample_init(p);
}

void pool_sample_copy(struct pool_sample *dst, const struct pool_sample *src)
{
    *dst = *src;
    dst->name = g_strdup(src->name);
}

void reconciled_sample_init(struct reconciled_sample *s)
{
    memset(s, 0xff, sizeof(*s)); /* every uint64 becomes SAMPLE_ABSENT */
    s->host_id = 0;
    s->uuid = NULL;
    s->time_us = 0;
}

void reconciled_sample_clear(struct reconciled_sample *s)
{
    g_free(s->uuid);
    reconciled_sample_init(s);
}
