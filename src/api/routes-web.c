/*
 * The web dashboard's files (src/web/, built into kanrid): the page at "/"
 * and its script and style sheet under "/ui/".  They need no token — the
 * page asks for one and every figure it shows comes through the API like
 * the CLI's.
 */
#include "api/api-private.h"
#include "web/assets.h"

void req_asset(struct req *r, const char *name)
{
    const struct web_asset *a = web_asset_find(name);
    if (!a) {
        req_problem(r, 404, "%s is not built into this kanrid", name);
        return;
    }
    r->status = 200;
    r->asset = a;
}

static void h_index(struct req *r)
{
    req_asset(r, "index.html");
}

static void h_ui_file(struct req *r)
{
    /* Only the bundle's own names: "/ui/app.js", "/ui/app.css". */
    g_autofree char *name = g_strconcat("ui/", r->params[0], NULL);
    req_asset(r, name);
}

const struct route api_web_routes[] = {
    {"GET", "/", -1, false, h_index},
    {"GET", "/index.html", -1, false, h_index},
    {"GET", "/ui/{}", -1, false, h_ui_file},
    {NULL, NULL, 0, false, NULL},
};
