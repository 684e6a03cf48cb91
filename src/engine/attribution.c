/*
 * Change attribution (attribution.h).
 */
#include "config.h"

#include "engine/attribution.h"

#include <stddef.h>

struct attribution attribution_seen(const struct attribution_prior *prior, bool xml_differs,
                                    bool by_action)
{
    bool comes_back = !prior->known || prior->removed;
    struct attribution a = {.record = false, .new_version = false, .cause = NULL};
    if (xml_differs) {
        a.record = true;
        a.new_version = true;
    } else if (prior->known && prior->removed) {
        a.record = true;
    }
    if (!a.record)
        return a;
    a.cause = by_action ? "action" : comes_back ? "created" : "external";
    return a;
}

struct attribution attribution_gone(bool by_action)
{
    return (struct attribution){
        .record = true, .new_version = false, .cause = by_action ? "action" : "removed"};
}
