/*
 * What a VM's state change means for the operations record (ops.h).
 * Pure.
 */
#include "config.h"

#include "ops/ops.h"

static bool set(struct ops_lifecycle *r, const char *kind, const char *condition, bool problem,
                enum severity sev, const char *words)
{
    *r = (struct ops_lifecycle){kind, condition, problem, sev, words};
    return true;
}

static bool stopped(const char *reason, bool by_action, struct ops_lifecycle *r)
{
    const char *why = reason ? reason : "unknown";
    if (g_str_equal(why, "crashed"))
        return set(r, "vm.crashed", "vm-down", true, SEV_CRITICAL, "crashed");
    if (g_str_equal(why, "failed"))
        return set(r, "vm.failed", "vm-down", true, SEV_CRITICAL, "failed");
    if (g_str_equal(why, "migrated"))
        return set(r, "vm.migrated", NULL, false, SEV_INFO, "migrated away");
    if (g_str_equal(why, "saved"))
        return set(r, "vm.saved", NULL, false, SEV_INFO, "saved");
    if (g_str_equal(why, "from-snapshot"))
        return set(r, "vm.reverted", NULL, false, SEV_INFO, "reverted to a snapshot");
    if (by_action)
        return set(r, "vm.stopped", NULL, false, SEV_INFO, "stopped by a kanri action");
    if (g_str_equal(why, "destroyed"))
        return set(r, "vm.destroyed", "vm-down", true, SEV_MAJOR,
                   "destroyed behind kanri's back (an external change)");
    if (g_str_equal(why, "shutdown"))
        return set(r, "vm.shutdown", "vm-down", true, SEV_WARNING,
                   "shut down from inside the guest");
    if (g_str_equal(why, "daemon"))
        return set(r, "vm.stopped", "vm-down", true, SEV_MAJOR,
                   "stopped by the hypervisor's daemon");
    return set(r, "vm.stopped", "vm-down", true, SEV_WARNING,
               "stopped for an unknown reason, not by kanri");
}

static bool paused(const char *reason, bool by_action, struct ops_lifecycle *r)
{
    const char *why = reason ? reason : "unknown";
    if (g_str_equal(why, "ioerror"))
        return set(r, "vm.paused", "vm-paused", true, SEV_CRITICAL, "paused on an I/O error");
    if (g_str_equal(why, "crashed"))
        return set(r, "vm.crashed", "vm-down", true, SEV_CRITICAL, "crashed (kept paused)");
    if (g_str_equal(why, "watchdog"))
        return set(r, "vm.paused", "vm-paused", true, SEV_MAJOR, "paused by its watchdog");
    if (g_str_equal(why, "api-error"))
        return set(r, "vm.paused", "vm-paused", true, SEV_MAJOR,
                   "paused after a hypervisor API error");
    /* Pauses for a migration, a save, a dump or a snapshot are part of an
     * operation, not an outage. */
    if (by_action || !g_str_equal(why, "user"))
        return set(r, "vm.paused", NULL, false, SEV_INFO, "paused");
    return set(r, "vm.paused", NULL, false, SEV_WARNING,
               "paused behind kanri's back (an external change)");
}

bool ops_vm_lifecycle(const char *old_state, const char *old_reason, const char *state,
                      const char *reason, bool by_action, struct ops_lifecycle *ret)
{
    if (!old_state || !state)
        return false;
    if (g_str_equal(old_state, state) && g_strcmp0(old_reason, reason) == 0)
        return false;
    if (g_str_equal(state, "running")) {
        if (g_str_equal(old_state, "running"))
            return false; /* a new reason only (e.g. "unpaused" after "booted") */
        if (g_str_equal(old_state, "paused"))
            return set(ret, "vm.resumed", "vm-paused", false, SEV_INFO, "running again");
        return set(ret, "vm.started", "vm-down", false, SEV_INFO, "running");
    }
    if (g_str_equal(state, "shutoff"))
        return g_str_equal(old_state, "shutoff") ? false : stopped(reason, by_action, ret);
    if (g_str_equal(state, "crashed"))
        return set(ret, "vm.crashed", "vm-down", true, SEV_CRITICAL, "crashed");
    if (g_str_equal(state, "paused"))
        return paused(reason, by_action, ret);
    if (g_str_equal(state, "pmsuspended"))
        return set(ret, "vm.suspended", NULL, false, SEV_INFO, "suspended by the guest");
    return false;
}
