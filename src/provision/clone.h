/*
 * provision/clone: a template's domain XML -> a new VM's domain XML.
 *
 * Pure: no I/O, no libvirt, no clock.  The rewrite is one GMarkup pass
 * that copies the document and changes only what makes the VM a new one
 * (docs/provisioning.md):
 *
 *   - <name> is the new name;
 *   - <uuid> and every interface's <mac> are left out, so that libvirt
 *     gives the new VM its own (a template never carries them);
 *   - with vCPUs given: <vcpu> says so (without current=), and a CPU
 *     <topology> and per-vCPU <vcpus> of the template, made for another
 *     count, are left out;
 *   - with memory given: <memory> and <currentMemory> say so, in KiB;
 *   - the Nth disk (a <disk> with device "disk", the default) gets the
 *     Nth source of the spec: its file and its driver's format; what the
 *     template's image was backed by (<backingStore>) is left out, since
 *     the new image says it itself;
 *   - with a seed image: a read-only CD-ROM with it is added on the first
 *     free sdX of a SATA bus (cloud-init's NoCloud data source).
 *
 * Bounds: the document is at most CLONE_XML_MAX bytes and CLONE_MAX_DEPTH
 * deep, with at most CLONE_MAX_DISKS disks.  A template's disks must be
 * files with a source (see clone_disks()); anything else is refused with
 * the disk's target named.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define CLONE_ERROR (clone_error_quark())
GQuark clone_error_quark(void);
enum clone_err {
    CLONE_ERR_PARSE = 1, /* not a domain document kanri can rewrite */
    CLONE_ERR_DISK,      /* a disk a template cannot carry */
    CLONE_ERR_SPEC,      /* the spec does not fit the document */
};

#define CLONE_XML_MAX   (1024 * 1024)
#define CLONE_MAX_DEPTH 64
#define CLONE_MAX_DISKS 16

/* One disk of a domain, in document order. */
struct clone_disk {
    char *path;   /* source file */
    char *format; /* the driver's type= ("qcow2", "raw"); NULL when not said */
    char *target; /* target dev= ("vda"); NULL when not said */
};

void clone_disk_clear(struct clone_disk *d);

/* The disks (device "disk") of domain XML, in order, as a GArray of
 * struct clone_disk (cleared with the array); NULL with CLONE_ERR_DISK
 * when one is not a file with a source, or there are more than
 * CLONE_MAX_DISKS. */
GArray *clone_disks(const char *xml, GError **error);

/* A domain's vCPUs (<vcpu>) and memory (<memory>, in KiB); false with
 * CLONE_ERR_PARSE when the document is not a domain or says neither. */
bool clone_sizes(const char *xml, unsigned *ret_vcpus, uint64_t *ret_memory_kib, GError **error);

struct clone_spec {
    const char *name;    /* required */
    unsigned vcpus;      /* 0: the template's */
    uint64_t memory_kib; /* 0: the template's */
    /* The new sources, one per disk of the template in order (n_disks must
     * be their number); path required, format NULL keeps the template's. */
    const struct clone_disk *disks;
    size_t n_disks;
    const char *seed_path; /* NULL: no seed CD-ROM */
};

/* The new VM's domain XML (g_free), or NULL with an error. */
char *clone_domain_xml(const char *xml, const struct clone_spec *spec, GError **error);
