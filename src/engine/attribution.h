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
