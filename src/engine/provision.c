/*
 * Templates and VMs made from them (docs/provisioning.md), through the
 * audited path every action takes: one audit entry from start to end,
 * the new domain marked in flight so its appearance is attributed to the
 * entry, and what was made undone when a later step fails (no image is
 * left behind by a failed create).  The XML is rewritten by the pure
 * provision/clone; the host's driver only copies images and defines.
 */
#include "config.h"

#include "engine/engine-private.h"

#include "basic/util.h"
#include "provision/clone.h"
#include "provision/seed.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <string.h>

/* A new image's file name: "<base>-<target>.<ext>". */
static char *image_name(const char *base, const struct clone_disk *d, guint i, const char *format)
{
    g_autofree char *target = d->target ? g_strdup(d->target) : g_strdup_printf("disk%u", i);
    return g_strdup_printf("%s-%s.%s", base, target,
                           g_strcmp0(format, "qcow2") == 0 ? "qcow2" : "img");
}

/* Deletes the images made so far (PATHS) after a failure, logging what
 * could not be deleted: the failure itself is what the caller reports. */
static void images_undo(struct driver *drv, int64_t host_id, GPtrArray *paths)
{
    for (guint i = 0; i < paths->len; i++) {
        g_autoptr(GError) err = NULL;
        const char *p = g_ptr_array_index(paths, i);
        if (drv->ops->volume_delete(drv, host_id, p, &err) < 0)
            g_warning("undoing a provisioning step: %s is left behind: %s", p, err->message);
    }
}

/* The disks of a clone_disks() array as the template's JSON. */
static char *disks_json(GArray *disks)
{
    json_object *a = json_object_new_array();
    for (guint i = 0; i < disks->len; i++) {
        const struct clone_disk *d = &g_array_index(disks, struct clone_disk, i);
        json_object *o = json_object_new_object();
        if (d->target)
            json_object_object_add(o, "target", json_object_new_string(d->target));
        json_object_object_add(o, "path", json_object_new_string(d->path));
        if (d->format)
            json_object_object_add(o, "format", json_object_new_string(d->format));
        json_object_array_add(a, o);
    }
    char *ret = g_strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
    return ret;
}

static bool can_provision(struct driver *drv, const char *host, GError **error)
{
    if (drv->ops->volume_clone && drv->ops->domain_definition)
        return true;
    g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNSUPPORTED,
                "host %s has no disk images to make templates or clones of (a container host)",
                host);
    return false;
}

/* Copies each of DISKS as told; the new ones in RET (their sources, in
 * order) and their paths in MADE (for undoing).  *ret_pool is the pool
 * of the first. */
static int images_make(struct driver *drv, int64_t host_id, GArray *disks, const char *base,
                       const char *pool, bool linked, uint64_t first_capacity, GArray *ret,
                       GPtrArray *made, char **ret_pool, GError **error)
{
    for (guint i = 0; i < disks->len; i++) {
        const struct clone_disk *d = &g_array_index(disks, struct clone_disk, i);
        const char *format = linked ? "qcow2" : (d->format ? d->format : "raw");
        g_autofree char *name = image_name(base, d, i, format);
        struct volume_clone vc = {.from = d->path,
                                  .format = d->format,
                                  .pool = pool,
                                  .name = name,
                                  .linked = linked,
                                  .capacity = i == 0 ? first_capacity : 0};
        struct clone_disk nd = {.format = g_strdup(format), .target = g_strdup(d->target)};
        g_autofree char *pool_name = NULL;
        if (drv->ops->volume_clone(drv, host_id, &vc, &nd.path, &pool_name, error) < 0) {
            clone_disk_clear(&nd);
            return -EIO;
        }
        g_ptr_array_add(made, g_strdup(nd.path));
        g_array_append_val(ret, nd);
        if (i == 0 && ret_pool)
            *ret_pool = g_steal_pointer(&pool_name);
    }
    return 0;
}

static void clone_disk_clear_p(gpointer p)
{
    clone_disk_clear(p);
}

static GArray *disk_array(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(struct clone_disk));
    g_array_set_clear_func(a, clone_disk_clear_p);
    return a;
}

/* The template: its images copied, its definition rewritten onto them
 * and stored.  Under an audit entry already begun. */
static int template_make(struct engine *e, struct driver *drv, int64_t host_id,
                         const struct template_request *req, int64_t audit_id,
                         const struct actor *who, int64_t *ret_version, GError **error)
{
    bool active = false;
    g_autofree char *def = drv->ops->domain_definition(drv, host_id, req->uuid, &active, error);
    if (!def)
        return -EIO;
    if (active) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_STATE,
                    "VM %s is running: a template is made from a shut-off VM, whose disks "
                    "are still (shut it down first)",
                    req->vm);
        return -EBUSY;
    }
    GError *cerr = NULL;
    g_autoptr(GArray) disks = clone_disks(def, &cerr);
    if (!disks) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_STATE, "VM %s cannot be a template: %s",
                    req->vm, cerr->message);
        g_error_free(cerr);
        return -EINVAL;
    }
    /* The images are named after the version this template will be. */
    int64_t next = 1;
    g_autoptr(rows) old = e->store->ops->templates_query(e->store, req->name, true, false, NULL);
    if (old && rows_len(old) > 0)
        next = ((struct template_row *)rows_get(old, rows_len(old) - 1))->version + 1;
    g_autofree char *base = g_strdup_printf("%s-v%" G_GINT64_FORMAT, req->name, next);
    g_autoptr(GArray) copies = disk_array();
    g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *pool = NULL;
    int r = images_make(drv, host_id, disks, base, req->pool, false, 0, copies, made, &pool, error);
    g_autofree char *xml = NULL;
    if (r == 0) {
        struct clone_spec spec = {.name = req->name,
                                  .disks = (const struct clone_disk *)copies->data,
                                  .n_disks = copies->len};
        xml = clone_domain_xml(def, &spec, &cerr);
        if (!xml) {
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INTERNAL, "%s", cerr->message);
            g_error_free(cerr);
            r = -EIO;
        }
    }
    if (r == 0) {
        g_autofree char *disks_text = disks_json(copies);
        struct template_row t = {.name = (char *)req->name,
                                 .host_id = host_id,
                                 .pool = pool ? pool : (char *)req->pool,
                                 .source_uuid = (char *)req->uuid,
                                 .source_vm = (char *)req->vm,
                                 .xml = xml,
                                 .disks = disks_text,
                                 .created = now_usec(),
                                 .by = (char *)who->name,
                                 .audit_id = audit_id};
        GError *serr = NULL;
        if (!pool && !req->pool) /* a VM without disks: the pool asked for, or none */
            t.pool = "";
        if (e->store->ops->template_add(e->store, &t, ret_version, &serr) < 0)
            r = engine_audit_failed(serr, error);
    }
    if (r < 0)
        images_undo(drv, host_id, made);
    return r;
}

int engine_template_create(struct engine *e, int64_t host_id, const struct template_request *req,
                           const struct actor *who, int64_t *ret_version, int64_t *ret_audit_id,
                           GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *host = NULL;
    struct driver *drv = engine_driver_of(e, host_id, &host, &err);
    json_object *po = json_object_new_object();
    json_object_object_add(po, "template", json_object_new_string(req->name));
    if (req->pool)
        json_object_object_add(po, "pool", json_object_new_string(req->pool));
    g_autofree char *params = g_strdup(json_object_to_json_string_ext(po, JSON_C_TO_STRING_PLAIN));
    json_object_put(po);
    int64_t audit_id = 0;
    GError *serr = NULL;
    if (e->store->ops->audit_begin(e->store, who->name, who->token_id, "template-create", req->vm,
                                   req->uuid, host, params, &audit_id, &serr) < 0)
        return engine_audit_failed(serr, error);
    *ret_audit_id = audit_id;
    if (drv && can_provision(drv, host, &err))
        template_make(e, drv, host_id, req, audit_id, who, ret_version, &err);
    engine_audit_finish(e, audit_id, err);
    if (err) {
        g_propagate_error(error, g_steal_pointer(&err));
        return -EIO;
    }
    return 0;
}

/* The seed image of REQ made (genisoimage, volume id "cidata") and put in
 * POOL of HOST_ID as NAME-seed.iso; its path in *ret_path. */
static int seed_make(struct driver *drv, int64_t host_id, const struct provision_request *req,
                     const char *pool, char **ret_path, GError **error)
{
    if (!drv->ops->volume_upload) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_UNSUPPORTED,
                    "this host cannot take a seed image");
        return -ENOTSUP;
    }
    if (!pool || !*pool) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID,
                    "pool: the template has no images; name a pool for the seed image");
        return -EINVAL;
    }
    g_autofree char *iid =
        g_strdup_printf("iid-%s-%" G_GINT64_FORMAT, req->name, now_usec() / USEC_PER_SEC);
    g_autofree char *meta = NULL, *user = NULL;
    GError *serr = NULL;
    if (!seed_files(req->name, iid, req->user_data, req->ssh_keys, req->n_keys, &meta, &user,
                    &serr)) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID, "%s", serr->message);
        g_error_free(serr);
        return -EINVAL;
    }
    g_autofree char *dir = g_dir_make_tmp("kanri-seed-XXXXXX", error);
    if (!dir)
        return -EIO;
    g_autofree char *mp = g_build_filename(dir, "meta-data", NULL);
    g_autofree char *up = g_build_filename(dir, "user-data", NULL);
    g_autofree char *iso = g_build_filename(dir, "seed.iso", NULL);
    int r = -EIO;
    g_autofree char *out = NULL;
    g_autofree char *name = g_strdup_printf("%s-seed.iso", req->name);
    int status = 0;
    const char *argv[] = {"genisoimage", "-quiet", "-output", iso, "-volid", "cidata",
                          "-joliet",     "-rock",  up,        mp,  NULL};
    if (!g_file_set_contents(mp, meta, -1, error) || !g_file_set_contents(up, user, -1, error))
        goto out;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &out, &status, &serr) ||
        !g_spawn_check_wait_status(status, &serr)) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INTERNAL,
                    "making the seed image with genisoimage: %s%s%s", serr->message,
                    out && *out ? ": " : "", out ? g_strstrip(out) : "");
        g_error_free(serr);
        goto out;
    }
    r = drv->ops->volume_upload(drv, host_id, pool, name, iso, ret_path, error);
out:
    g_unlink(mp);
    g_unlink(up);
    g_unlink(iso);
    g_rmdir(dir);
    return r;
}

/* The VM: images cloned from the template's, its definition defined and
 * (when asked) started.  Under an audit entry already begun. */
static int vm_make(struct engine *e, struct driver *drv, int64_t host_id,
                   const struct template_row *t, const struct provision_request *req,
                   const struct change_cause *cause, char **ret_uuid, GError **error)
{
    GError *cerr = NULL;
    g_autoptr(GArray) disks = clone_disks(t->xml, &cerr);
    if (!disks) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INTERNAL,
                    "template %s version %" G_GINT64_FORMAT ": %s", t->name, t->version,
                    cerr->message);
        g_error_free(cerr);
        return -EIO;
    }
    if (req->disk_bytes && disks->len == 0) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID,
                    "disk_size: template %s has no disk to size", t->name);
        return -EINVAL;
    }
    g_autoptr(GArray) clones = disk_array();
    g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);
    int r = images_make(drv, host_id, disks, req->name, req->pool, req->linked, req->disk_bytes,
                        clones, made, NULL, error);
    g_autofree char *seed = NULL;
    if (r == 0 && (req->user_data || req->n_keys)) {
        r = seed_make(drv, host_id, req, req->pool ? req->pool : t->pool, &seed, error);
        if (r == 0)
            g_ptr_array_add(made, g_strdup(seed));
    }
    g_autofree char *xml = NULL;
    if (r == 0) {
        struct clone_spec spec = {.name = req->name,
                                  .seed_path = seed,
                                  .vcpus = req->vcpus,
                                  .memory_kib = req->memory_bytes / 1024,
                                  .disks = (const struct clone_disk *)clones->data,
                                  .n_disks = clones->len};
        xml = clone_domain_xml(t->xml, &spec, &cerr);
        if (!xml) {
            g_set_error(error, DRIVER_ERROR, DRIVER_ERR_INVALID, "%s", cerr->message);
            g_error_free(cerr);
            r = -EINVAL;
        }
    }
    g_autofree char *name = NULL;
    if (r == 0) {
        engine_inflight_set(e, host_id, DRIVER_INFLIGHT_DEFINE, cause);
        r = drv->ops->define(drv, host_id, xml, cause, ret_uuid, &name, error);
        engine_inflight_set(e, host_id, DRIVER_INFLIGHT_DEFINE, NULL);
    }
    if (r < 0) {
        images_undo(drv, host_id, made);
        return r;
    }
    if (req->start) {
        /* A VM that was made but did not start stays made: the failure
         * says so, and it can be started (or undefined) like any other. */
        struct action_request start;
        action_request_init(&start, ACTION_START);
        struct action_result res;
        action_result_init(&res);
        engine_inflight_set(e, host_id, *ret_uuid, cause);
        r = drv->ops->action(drv, host_id, *ret_uuid, &start, cause, &res, error);
        engine_inflight_set(e, host_id, *ret_uuid, NULL);
        action_result_clear(&res);
        action_request_clear(&start);
        if (r < 0)
            g_prefix_error(error, "%s was created but did not start: ", req->name);
    }
    return r;
}

int engine_vm_provision(struct engine *e, int64_t host_id, const struct provision_request *req,
                        const char *params_text, const struct actor *who, char **ret_uuid,
                        int64_t *ret_audit_id, GError **error)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *host = NULL;
    struct driver *drv = engine_driver_of(e, host_id, &host, &err);
    int64_t audit_id = 0;
    GError *serr = NULL;
    if (e->store->ops->audit_begin(e->store, who->name, who->token_id, "create", req->name, NULL,
                                   host, params_text ? params_text : "{}", &audit_id, &serr) < 0)
        return engine_audit_failed(serr, error);
    *ret_audit_id = audit_id;
    g_autofree char *uuid = NULL;
    if (drv && can_provision(drv, host, &err)) {
        struct change_cause cause = {.cause = "action", .actor = who->name, .audit_id = audit_id};
        vm_make(e, drv, host_id, req->template, req, &cause, &uuid, &err);
        if (uuid)
            e->store->ops->audit_set_target(e->store, audit_id, req->name, uuid, NULL);
    }
    engine_audit_finish(e, audit_id, err);
    *ret_uuid = g_steal_pointer(&uuid);
    if (err) {
        g_propagate_error(error, g_steal_pointer(&err));
        return -EIO;
    }
    return 0;
}
