/*
 * model/template: a VM template as the store keeps it (docs/provisioning.md).
 *
 * A template is a domain definition plus copies of its disk images in a
 * storage pool of one host.  Templates are versioned like domain XML: a
 * name's versions count 1, 2, ... and are never renumbered; deleting a
 * template marks every version deleted (its images stay, since linked
 * clones are backed by them).
 */
#pragma once

#include "model/row.h"

struct template_row {
    int64_t id;
    char *name;
    int64_t version;               /* set by the store when added */
    int64_t host_id;               /* where its images are */
    char *host;                    /* the host's name, joined in queries */
    char *pool;                    /* the storage pool holding its images */
    char *source_uuid, *source_vm; /* the VM it was made from */
    char *xml;                     /* the domain definition, disks on the template's images */
    char *disks;                   /* JSON array of {"target", "path", "format"} in disk order */
    int64_t created;
    char *by;
    int64_t audit_id;
    int64_t deleted; /* time, 0: not deleted */
};

extern const struct row_desc template_row_desc; /* "templates" */
