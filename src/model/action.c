/*
 * The action table and typed requests (model/action.h).
 */
#include "config.h"

#include "model/action.h"

#include <string.h>

#define INT(n, lo, hi, req)                                                                        \
    {                                                                                              \
        n, AP_INT, lo, hi, req                                                                     \
    }
#define BOOL(n)                                                                                    \
    {                                                                                              \
        n, AP_BOOL, 0, 1, false                                                                    \
    }
#define STR(n, len, req)                                                                           \
    {                                                                                              \
        n, AP_STR, 1, len, req                                                                     \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, 0, 0, 0, false                                                                       \
    }

const struct action_spec action_specs[ACTION_N] = {
    [ACTION_START] = {"start", true, {END}},
    [ACTION_SHUTDOWN] = {"shutdown", true, {INT("timeout", 1, 3600, false), BOOL("force"), END}},
    [ACTION_REBOOT] = {"reboot", true, {END}},
    [ACTION_DESTROY] = {"destroy", true, {END}},
    [ACTION_SUSPEND] = {"suspend", true, {END}},
    [ACTION_RESUME] = {"resume", true, {END}},
    [ACTION_SETMEM] = {"setmem",
                       true,
                       {INT("memory_bytes", 1024 * 1024, G_MAXINT64 / 2, false),
                        INT("memory_mib", 1, G_MAXINT64 / (2 * 1048576), false), BOOL("config"),
                        INT("wait", 0, 600, false), END}},
    [ACTION_SETVCPUS] = {"setvcpus", true, {INT("vcpus", 1, 4096, true), BOOL("config"), END}},
    [ACTION_SNAPSHOT_CREATE] = {"snapshot-create",
                                true,
                                {STR("name", 128, false), STR("description", 4096, false), END}},
    [ACTION_SNAPSHOT_REVERT] = {"snapshot-revert", true, {STR("name", 128, true), END}},
    [ACTION_SNAPSHOT_DELETE] = {"snapshot-delete", true, {STR("name", 128, true), END}},
    [ACTION_MIGRATE] = {"migrate", true, {STR("to_host", 256, true), BOOL("live"), END}},
    [ACTION_UNDEFINE] = {"undefine", true, {END}},
    [ACTION_SET_BALLOON_PERIOD] = {"set-balloon-period",
                                   false,
                                   {INT("period", 0, 86400, true), INT("previous", 0, 86400, false),
                                    END}},
    /* Each limit given is set, live and in the configuration; 0 removes
     * it (memory_bytes 0: no limit).  At least one is required (the
     * driver says so). */
    [ACTION_SET_LIMITS] = {"set-limits",
                           true,
                           {INT("memory_bytes", 0, G_MAXINT64 / 2, false),
                            INT("cpu_millicores", 0, 1024 * 1000, false),
                            INT("cpu_weight", 0, 10000, false), INT("pids", 0, 4194304, false),
                            END}},
};

bool action_lookup(const char *name, enum action_kind *ret)
{
    for (int i = 0; i < ACTION_N; i++) {
        if (action_specs[i].api && strcmp(action_specs[i].name, name) == 0) {
            *ret = (enum action_kind)i;
            return true;
        }
    }
    return false;
}

const char *action_api_names(void)
{
    static gsize once = 0;
    static char *names;
    if (g_once_init_enter(&once)) {
        GString *s = g_string_new(NULL);
        for (int i = 0; i < ACTION_N; i++) {
            if (action_specs[i].api)
                g_string_append_printf(s, "%s%s", s->len ? ", " : "", action_specs[i].name);
        }
        names = g_string_free(s, FALSE);
        g_once_init_leave(&once, 1);
    }
    return names;
}

static int param_index(enum action_kind kind, const char *name)
{
    const struct action_param_spec *p = action_specs[kind].params;
    for (int i = 0; p[i].name; i++) {
        if (strcmp(p[i].name, name) == 0)
            return i;
    }
    return -1;
}

void action_request_init(struct action_request *req, enum action_kind kind)
{
    memset(req, 0, sizeof(*req));
    req->kind = kind;
}

void action_request_clear(struct action_request *req)
{
    for (int i = 0; i < ACTION_MAX_PARAMS; i++)
        g_free(req->args[i].s);
    action_request_init(req, req->kind);
}

const struct action_arg *action_arg(const struct action_request *req, const char *name)
{
    int i = param_index(req->kind, name);
    return i < 0 ? NULL : &req->args[i];
}

static struct action_arg *arg_mut(struct action_request *req, const char *name)
{
    int i = param_index(req->kind, name);
    return i < 0 ? NULL : &req->args[i];
}

bool action_set_int(struct action_request *req, const char *name, int64_t v)
{
    struct action_arg *a = arg_mut(req, name);
    if (a) {
        a->set = true;
        a->i = v;
    }
    return a != NULL;
}

bool action_set_bool(struct action_request *req, const char *name, bool v)
{
    struct action_arg *a = arg_mut(req, name);
    if (a) {
        a->set = true;
        a->b = v;
    }
    return a != NULL;
}

bool action_set_str(struct action_request *req, const char *name, const char *v)
{
    struct action_arg *a = arg_mut(req, name);
    if (a) {
        a->set = true;
        g_free(a->s);
        a->s = g_strdup(v);
    }
    return a != NULL;
}

int64_t action_int(const struct action_request *req, const char *name, int64_t def)
{
    const struct action_arg *a = action_arg(req, name);
    return a && a->set ? a->i : def;
}

bool action_bool(const struct action_request *req, const char *name, bool def)
{
    const struct action_arg *a = action_arg(req, name);
    return a && a->set ? a->b : def;
}

const char *action_str(const struct action_request *req, const char *name)
{
    const struct action_arg *a = action_arg(req, name);
    return a && a->set ? a->s : NULL;
}

void action_result_init(struct action_result *r)
{
    memset(r, 0, sizeof(*r));
    r->forced = -1;
    r->actual_bytes = G_MININT64;
    r->reached = -1;
}

void action_result_clear(struct action_result *r)
{
    g_free(r->snapshot);
    g_free(r->host);
    action_result_init(r);
}
