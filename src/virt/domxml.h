/*
 * domxml: libvirt XML documents -> plain structs.
 *
 * The XML comes from a hypervisor, which may be remote and is not trusted:
 * every parser bounds the document size (DOMXML_MAX_BYTES), the element depth
 * (DOMXML_MAX_DEPTH) and the number of repeated devices (DOMXML_MAX_DEVICES)
 * and fails with a GError naming what was wrong instead of truncating.
 * Parsing uses GLib's GMarkup (no extra dependency); unknown elements and
 * attributes are ignored, because libvirt adds new ones every release.
 *
 * Ownership: every returned struct and every string in it is owned by the
 * struct and released by its _free() function, which accepts NULL.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define DOMXML_MAX_BYTES   (4 * 1024 * 1024)
#define DOMXML_MAX_DEPTH   64
#define DOMXML_MAX_DEVICES 512

#define DOMXML_ERROR (domxml_error_quark())
GQuark domxml_error_quark(void);
enum {
    DOMXML_ERROR_TOO_LARGE, /* document, depth or device count over a bound */
    DOMXML_ERROR_SYNTAX,    /* not well-formed XML */
    DOMXML_ERROR_INVALID,   /* well-formed, but a required field is missing or bad */
};

struct domxml_disk {
    char *target; /* <target dev=>, e.g. "vda"; required */
    char *bus;    /* <target bus=>, or NULL */
    char *device; /* <disk device=>: disk | cdrom | floppy | lun; default "disk" */
    char *type;   /* <disk type=>: file | block | network | volume | dir ... */
    char *source; /* file or dev path, "pool/volume", "protocol:name"; NULL when empty (cdrom) */
    char *format; /* <driver type=>, e.g. "qcow2", or NULL */
    bool readonly;
};

struct domxml_nic {
    char *mac;    /* <mac address=>, lower case; NULL when absent */
    char *type;   /* <interface type=>: network | bridge | user | direct ... */
    char *source; /* network name, bridge name, or direct dev; NULL when none */
    char *model;  /* <model type=>, or NULL */
    char *target; /* <target dev=> (tap device of a running domain), or NULL */
};

struct domxml_domain {
    char *name;                /* required */
    char *uuid;                /* required, canonical lower-case 8-4-4-4-12 */
    char *domain_type;         /* <domain type=>: qemu | kvm | test | lxc | xen ... */
    char *os_type;             /* <os><type>: hvm | exe | xen | linux ... or NULL */
    unsigned vcpus;            /* <vcpu current=> or, without it, <vcpu> */
    unsigned max_vcpus;        /* <vcpu> */
    uint64_t memory_bytes;     /* <currentMemory> (falls back to <memory>) in bytes */
    uint64_t max_memory_bytes; /* <memory> in bytes; unit= honoured (b, KiB, MiB, GiB, TiB, k, M,
                                  G...) */
    GPtrArray *disks;          /* of struct domxml_disk *, owned */
    GPtrArray *nics;           /* of struct domxml_nic *, owned */
    char *balloon_model;       /* <memballoon model=>, NULL when the element is absent */
    int balloon_stats_period;  /* <memballoon><stats period=>, -1 when not set */
    bool has_guest_agent;      /* a <channel> with target name org.qemu.guest_agent.0 */
};

struct domxml_domain *domxml_domain_parse(const char *xml, GError **error);
void domxml_domain_free(struct domxml_domain *d);
/* g_autoptr needs a plain type name: use `g_autoptr(domxml_domain)`. */
typedef struct domxml_domain domxml_domain;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(domxml_domain, domxml_domain_free)

/* From virConnectGetCapabilities(). */
struct domxml_caps {
    char *host_uuid;     /* <host><uuid>, or NULL */
    char *arch;          /* <host><cpu><arch> */
    char *cpu_model;     /* <host><cpu><model>, or NULL */
    unsigned numa_cells; /* number of <cell> under <topology><cells>; 0 when not reported */
};

struct domxml_caps *domxml_caps_parse(const char *xml, GError **error);
void domxml_caps_free(struct domxml_caps *c);
typedef struct domxml_caps domxml_caps;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(domxml_caps, domxml_caps_free)

/* Snapshot XML (virDomainSnapshotGetXMLDesc): the fields kanri lists. */
struct domxml_snapshot {
    char *name;
    char *description;     /* or NULL */
    char *state;           /* <state>: running | shutoff | paused ... */
    char *parent;          /* <parent><name>, or NULL */
    int64_t creation_time; /* <creationTime>, seconds since the epoch; 0 when absent */
};

struct domxml_snapshot *domxml_snapshot_parse(const char *xml, GError **error);
void domxml_snapshot_free(struct domxml_snapshot *s);
typedef struct domxml_snapshot domxml_snapshot;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(domxml_snapshot, domxml_snapshot_free)

/* The target path of a storage pool (<pool><target><path>), the directory
 * or device its volumes live in.  NULL with *error when the XML is bad or
 * has none.  g_free. */
char *domxml_pool_target_path(const char *xml, GError **error);
