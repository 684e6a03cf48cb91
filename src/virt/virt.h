/*
 * virt: the libvirt driver (model/driver.h).  One struct virt_conn per
 * host, each with its own worker thread, so a slow, hung or dead host only
 * ever delays itself.  The worker connects (with keepalive and exponential
 * backoff), keeps the inventory current from domain events plus a periodic
 * full resync, and reports everything to the engine's sink; a collector
 * per host (collect.c) runs the statistics rounds and polls the guest
 * agents (guest.c) on connections of its own.
 *
 * Actions (actions.c) run in the caller's thread on a reference to the
 * host's connection; the engine audits them.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "model/driver.h"

struct virt_conf {
    int resync_interval_s; /* full inventory resync period */
    bool collect;          /* run statistics rounds and agent polls */
    int interval_s;        /* round period */
    int budget_ms;         /* a round's stats calls are cut after this; 0: 80 % of the interval */
    int connections;       /* stats connections per host, for large hosts */
    int agent_timeout_s;   /* per guest-agent command */
    /* Refresh each active storage pool before reading its figures in a
     * round (virStoragePoolRefresh: a rescan of the pool's directory).
     * Without it a directory pool filled by a thin image's growth looks as
     * empty as when it was started; hosts with huge pools may turn it off. */
    bool refresh_pools;
};

/* Registers libvirt's default event loop and starts its thread.  Call once,
 * before any driver is made. */
int virt_event_loop_start(GError **error);

/* A libvirt driver reporting to SINK (which must outlive it). */
struct driver *virt_driver_new(const struct virt_conf *conf, const struct driver_sink *sink);
