/*
 * identity: the machine's UUID and the document sequence number.
 *
 * In a container (see container_detect()) the UUID is KANRI_CONTAINER_UUID,
 * which kanri's container driver puts into the container's environment
 * (lxc.environment) and sets to the container's UUID.  Elsewhere it is the
 * SMBIOS system UUID when the firmware provides a usable one (a hypervisor
 * sets it to the VM's UUID, which is how kanrid binds the agent to the
 * libvirt domain).  Otherwise it is a random version-4 UUID created once and
 * kept in the state directory.  A container never takes the SMBIOS UUID:
 * there it is the host's hardware, not the container's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 characters + NUL */

enum id_source {
    ID_SOURCE_SMBIOS,
    ID_SOURCE_GENERATED,
    ID_SOURCE_CONTAINER, /* KANRI_CONTAINER_UUID */
};

struct identity {
    char uuid[UUID_STR_LEN];
    enum id_source source;
    bool in_container;
    /* "" or a problem the caller should log: an invalid KANRI_CONTAINER_UUID
     * (ignored), or the agent's own value disagreeing with PID 1's. */
    char message[256];
};

const char *id_source_name(enum id_source s);

/* Validates a canonical 8-4-4-4-12 UUID (either case, surrounding blanks
 * allowed) and writes it lower-cased.  All-zero and all-F UUIDs, which
 * firmware uses for "not set", are refused. */
bool uuid_normalize(const char *in, size_t n, char out[UUID_STR_LEN]);

/* A random version-4 UUID from /dev/urandom.  Returns 0 or -errno. */
int uuid_generate_v4(char out[UUID_STR_LEN]);

/* How much of ROOT/proc/1/environ is read; entries past it are ignored. */
#define CONTAINER_ENVIRON_MAX (64 * 1024)

struct container_hint {
    bool in_container;
    char uuid[UUID_STR_LEN]; /* "" when no valid KANRI_CONTAINER_UUID */
    char message[256];       /* as in struct identity */
};

/*
 * Whether the agent runs in a container, and the container's UUID.  Looks
 * at PID 1's environment (ROOT/proc/1/environ, NUL-separated, the first
 * CONTAINER_ENVIRON_MAX bytes) and at own_env, the agent's own environment
 * (NULL-terminated like environ; may be NULL).  Both count because an agent
 * started by hand with lxc-attach inherits the attach environment, not PID
 * 1's, and PID 1's environ is unreadable without privilege.
 *
 * In a container: `container=` (any value; liblxc, systemd-nspawn and
 * podman set it for PID 1) or KANRI_CONTAINER_UUID in either environment,
 * or a container manager's marker file (ROOT/run/systemd/container,
 * ROOT/run/.containerenv, ROOT/.dockerenv).
 * The UUID: KANRI_CONTAINER_UUID, PID 1's winning over the agent's own; a
 * value that is not a UUID is ignored (as if absent) and named in message.
 */
void container_detect(const char *root, char *const *own_env, struct container_hint *ret);

/*
 * container_detect(); in a container, KANRI_CONTAINER_UUID.  Elsewhere
 * ROOT/sys/class/dmi/id/product_uuid.  Without either, loads
 * STATE_DIR/machine-id, creating it when missing (when state_dir is NULL a
 * fresh UUID is used and not kept).  Returns 0 or -errno (only when a
 * generated id cannot be stored); ret->message may be set either way.
 */
int identity_load(const char *root, char *const *own_env, const char *state_dir,
                  struct identity *ret);

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
