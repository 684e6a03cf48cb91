/* The container driver's shared state (driver.c, actions.c). */
#pragma once

#include <lxc/lxccontainer.h>
#include <sys/stat.h>

#include "lxc/cgroup.h"
#include "lxc/lxc.h"
#include "lxc/lxcconf.h"
#include "model/row.h"

#define LXC_DEFAULT_PATH "/var/lib/lxc"
#define LXC_TEMPLATE_DIR "/usr/share/lxc/templates"
/* virDomainState's values, which host samples carry. */
#define LXC_VIR_RUNNING 1
#define LXC_VIR_PAUSED  3

/* One container as the worker knows it; the worker's alone. */
struct ct {
    char *name, *uuid;
    char *config; /* the file's text as last read */
    struct stat st;
    struct lxcconf conf;
    char *state;        /* as last seen ("running", "paused", "shutoff") */
    const char *reason; /* static */
    struct lxc_container *c;
    pid_t pid;    /* its init, 0: ask liblxc */
    char *cgpath; /* its control group */
    char **veths; /* host ends of its veth interfaces, NULL: none */
    char *rootfs_dir;     /* the root file system last measured */
    uint64_t rootfs_used; /* its bytes then */
    int64_t rootfs_at;    /* when (monotonic µs), 0: never */
    bool reported, warned;
};

/* A listing an action waits for. */
struct sync_req {
    char *name; /* the container it is about; NULL: any */
    bool has_cause;
    struct change_cause cause; /* actor points at `actor` */
    char *actor;
    bool done;
};

struct lxc_driver;

struct lhost {
    struct lxc_driver *d;
    int64_t id;
    char *name, *path;
    int cpus;
    enum cgroup_layout layout;
    GThread *thread;
    GMutex lock; /* guards what follows down to `stop`, and the cond */
    GCond cond;
    GPtrArray *reqs;      /* struct sync_req *, pending */
    GHashTable *names;    /* uuid -> name of the containers listed */
    GHashTable *creating; /* names being created: not listed yet */
    GHashTable *oplocks;  /* names an action is running on */
    bool stop;
    bool resync; /* report every container again at the next listing */
    bool ready;  /* listed completely since it became reachable */
    char *why;   /* why it is not, when it is unreachable */
    /* the worker's own */
    GHashTable *cts; /* name -> struct ct * */
    enum host_state state;
    char *reason;
    bool synced; /* `ready`, the worker's copy */
    int64_t backoff_us;
};

struct lxc_driver {
    struct driver base;
    struct lxc_conf conf;
    const struct driver_sink *sink;
    GMutex lock;
    GPtrArray *hosts; /* struct lhost * */
};

struct lhost *lxc_host_find(struct lxc_driver *d, int64_t host_id);
/* Asks H's worker for a listing that reports NAME's container (NULL: a
 * full listing) with CAUSE, and waits until it is done. */
void lhost_sync(struct lhost *h, const char *name, const struct change_cause *cause);

/* actions.c */
int lxc_action(struct driver *d, int64_t host_id, const char *uuid,
               const struct action_request *req, const struct change_cause *cause,
               struct action_result *result, GError **error);
int lxc_define(struct driver *d, int64_t host_id, const char *xml, const struct change_cause *cause,
               char **ret_uuid, char **ret_name, GError **error);
int lxc_create(struct driver *d, int64_t host_id, const struct container_spec *spec,
               const struct change_cause *cause, char **ret_uuid, GError **error);
struct rows *lxc_snapshots(struct driver *d, int64_t host_id, const char *uuid, GError **error);
