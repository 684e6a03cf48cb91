/*
 * identity: the machine's UUID and the document sequence number.
 *
 * The UUID is the SMBIOS system UUID when the firmware provides a usable one
 * (a hypervisor sets it to the VM's UUID, which is how kanrid binds the
 * agent to the libvirt domain), otherwise a random version-4 UUID created
 * once and kept in the state directory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 characters + NUL */

enum id_source {
    ID_SOURCE_SMBIOS,
    ID_SOURCE_GENERATED,
};

struct identity {
    char uuid[UUID_STR_LEN];
    enum id_source source;
};

const char *id_source_name(enum id_source s);

/* Validates a canonical 8-4-4-4-12 UUID (either case, surrounding blanks
 * allowed) and writes it lower-cased.  All-zero and all-F UUIDs, which
 * firmware uses for "not set", are refused. */
bool uuid_normalize(const char *in, size_t n, char out[UUID_STR_LEN]);

/* A random version-4 UUID from /dev/urandom.  Returns 0 or -errno. */
int uuid_generate_v4(char out[UUID_STR_LEN]);

/*
 * Reads ROOT/sys/class/dmi/id/product_uuid; without a usable one, loads
 * STATE_DIR/machine-id, creating it when missing (when state_dir is NULL a
 * fresh UUID is used and not kept).  Returns 0 or -errno (only when a
 * generated id cannot be stored).
 */
int identity_load(const char *root, const char *state_dir, struct identity *ret);

/*
 * Sequence numbers survive restarts without an fsync per document: the
 * state file holds the end of a reserved block, written (and fsync'ed) only
 * when a block is used up, and a restart continues after the block.  Numbers
 * therefore always increase, with gaps after a restart.
 */
#define SEQ_BLOCK 1024

struct seqgen {
    char path[4096]; /* "" when not persisted */
    uint64_t next;
    uint64_t reserved_end;
};

/* state_dir NULL: numbers start at 1 and nothing is written. */
int seqgen_open(struct seqgen *g, const char *state_dir);
int seqgen_next(struct seqgen *g, uint64_t *ret);
