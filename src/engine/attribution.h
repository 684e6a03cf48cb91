/*
 * attribution: what an inventory sync's sighting of a domain means for its
 * configuration history, and who caused it.  Pure: the engine gathers the
 * facts (what the store holds of the domain, whether the XML differs,
 * whether a kanri action is in flight on it) and writes what this decides.
 *
 * The rules (docs/architecture.md, "Configuration history and
 * attribution"):
 *   - a new definition (XML differing from the newest version, or none
 *     stored) is stored as a new version with a change record;
 *   - a domain seen again with the same definition after it had been
 *     removed gets a change record without a new version, so its history
 *     does not end on "removed" while it lives;
 *   - a known, live domain missing from a full listing is marked removed
 *     with a change record;
 *   - the cause is "action" when a kanri action is in flight on it (or, for
 *     a domain appearing, a define on its host); otherwise "created" for a
 *     first sighting or a return, "removed" for a disappearance, and
 *     "external" for any other change.
 *
 * The persistent definition (the one a running domain boots with next,
 * libvirt's VIR_DOMAIN_XML_INACTIVE) is versioned on a second track:
 *   - for a shut-off persistent domain it is the one XML libvirt reports;
 *     it is stored as a version when it differs from the newest, with no
 *     change record (the live track records that change already);
 *   - for a running persistent domain the first version is a baseline
 *     with no change record; each later difference is a new version with a
 *     change record;
 *   - such a change is pending ("applies at next boot") unless the live
 *     definition already has it (attribution_in_live()); it stops being
 *     pending, and is stamped applied, the first time the domain is seen
 *     not running or its live definition has it;
 *   - transient domains have no persistent track.
 */
#pragma once

#include <stdbool.h>

/* What the engine knows of a domain before the sighting. */
struct attribution_prior {
    bool known;   /* a row exists for it on this host */
    bool removed; /* that row is marked removed */
};

struct attribution {
    bool record;       /* write a change record */
    bool new_version;  /* store the XML as the next version */
    const char *cause; /* static: "action" | "external" | "created" | "removed" */
};

/* A domain present in a sync.  XML_DIFFERS: its XML is not the newest
 * stored version (true when none is stored). */
struct attribution attribution_seen(const struct attribution_prior *prior, bool xml_differs,
                                    bool by_action);
/* A known, live domain absent from a full listing. */
struct attribution attribution_gone(bool by_action);

/* What the engine knows of a domain's persistent definition and how it was
 * seen.  The persistent XML is the inactive XML of a running domain and the
 * only XML of a shut-off one. */
struct persistent_sighting {
    bool persistent; /* libvirt keeps a definition of it */
    bool running;    /* it has a live instance */
    bool known;      /* a persistent version is stored */
    bool differs;    /* the persistent XML is not the newest stored version */
    bool in_live;    /* the change it makes is already in the live XML */
};

struct persistent_attribution {
    bool new_version; /* store the persistent XML as its next version */
    bool record;      /* write a change record on the persistent track */
    bool pending;     /* that record waits for the next boot */
};

struct persistent_attribution attribution_persistent(const struct persistent_sighting *s);

/* Whether the live XML has the change a unified diff (basic/diff.h) made:
 * every line the diff adds occurs in LIVE_XML, and, when it removes lines,
 * at least one of them no longer does.  Lines are compared with leading and
 * trailing white space removed; a line both added and removed (moved) is
 * ignored.  An empty diff is in every definition. */
bool attribution_in_live(const char *diff, const char *live_xml);

/* Whether a pending persistent change is settled now: the domain is not
 * running (its persistent definition is the live one and boots next), or
 * its live XML has the change. */
bool attribution_pending_settled(bool running, const char *diff, const char *live_xml);
