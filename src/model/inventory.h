/*
 * model/inventory: what a driver learns about a host and its domains,
 * pools and networks, as it hands them to the engine (model/driver.h),
 * and who caused a configuration change.
 *
 * Ownership: every string is owned by its struct; the _free() functions
 * accept NULL.  A driver builds these on the heap and passes them to the
 * sink, which takes ownership.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

enum host_state {
    HOST_CONNECTING,  /* connecting, or connected and still loading its inventory */
    HOST_CONNECTED,   /* connected, and the inventory synced since */
    HOST_UNREACHABLE, /* the connection failed; the reason says why */
    HOST_ELSEWHERE,   /* another kanrid instance holds it (docs/scale-out.md) */
};

const char *host_state_name(enum host_state s); /* "connecting", ... */

/* Facts of a host, read once per (re)connection.  Strings may be NULL,
 * numbers 0, when the driver cannot tell. */
struct host_info {
    char *driver;
    char *hv_version;
    char *libvirt_version;
    char *hostname;
    char *cpu_model;
    int cpus;
    int mhz;
    uint64_t memory_bytes;
    int numa_cells;
};

void host_info_free(struct host_info *h);

/* One disk of a domain.  Sizes are G_MININT64 when unknown (an empty
 * cdrom, an unreachable network disk). */
struct disk_info {
    char *target; /* "vda" */
    char *device; /* "disk", "cdrom", ... */
    char *type;   /* "file", "block", "network", ... */
    char *source; /* path or name, NULL when none */
    char *format; /* "qcow2", ... */
    int64_t capacity, allocation, physical;
};

struct nic_info {
    char *mac, *type, *source, *model, *target;
};

/* A domain as an inventory sync sees it. */
struct domain_info {
    char *uuid; /* lower case */
    char *name;
    char *state;        /* "running", "shutoff", ... */
    char *state_reason; /* "booted", "destroyed", ... */
    bool running;       /* has a live instance (running, paused, ...) */
    bool persistent;
    bool autostart;
    unsigned vcpus;
    unsigned max_vcpus;
    uint64_t memory_bytes; /* current (balloon) */
    uint64_t max_memory_bytes;
    char *os_type;
    char *domain_type;
    GPtrArray *disks;    /* of struct disk_info *, owned */
    GPtrArray *nics;     /* of struct nic_info *, owned */
    bool has_agent;      /* a qemu-guest-agent channel is configured */
    char *balloon_model; /* "virtio", "none", NULL when the XML has none */
    int balloon_period;  /* memory statistics period in the live XML, 0: off */
    char *xml;           /* the definition as libvirt reports it */
    /* The persistent definition of a running persistent domain (the one it
     * boots with next, VIR_DOMAIN_XML_INACTIVE); NULL when the domain is
     * not running or transient (XML is then all there is), or when libvirt
     * could not give it (the engine then leaves that track alone). */
    char *inactive_xml;
};

struct domain_info *domain_info_new(void);
void domain_info_free(struct domain_info *d);
typedef struct domain_info domain_info; /* for g_autoptr() only */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(domain_info, domain_info_free)
void disk_info_free(struct disk_info *d);
void nic_info_free(struct nic_info *n);

/* A domain's kind as every list shows it: "container" for DOMAIN_TYPE
 * "lxc" (a system container, whichever driver runs it), "vm" for any
 * other type or none.  The store's queries say the same in SQL
 * (vm_row.kind). */
const char *domain_kind(const char *domain_type);
/* Whether S is a kind domain_kind() gives. */
bool domain_kind_valid(const char *s);

struct pool_info {
    char *name;
    char *uuid;
    char *state;
    uint64_t capacity, allocation, available;
    char *target_path; /* directory or device the volumes live in; NULL unknown */
};

void pool_info_free(struct pool_info *p);

struct network_info {
    char *name;
    char *uuid;
    bool active;
    char *bridge;
};

void network_info_free(struct network_info *n);

/*
 * Who caused a configuration change:
 *   "action"   a kanri action (actor = token name, audit_id its entry)
 *   "external" someone else (virsh, another tool, the guest)
 *   "created"  first sight of a domain, or its return after removal
 *   "removed"  the domain disappeared
 * Strings are borrowed for the duration of a call.
 */
struct change_cause {
    const char *cause;
    const char *actor;
    int64_t audit_id;
};
