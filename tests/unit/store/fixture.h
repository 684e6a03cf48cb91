/*
 * The store unit tests' fixture: a fresh SQLite store in a temporary
 * directory per test (setup/teardown for cmocka), reopened on demand.
 * Include after <cmocka.h>, <glib.h>, <glib/gstdio.h> and store/store.h.
 */
#pragma once

struct fx {
    char *dir;
    char *path;
    struct store *st;
};

static int setup(void **state)
{
    struct fx *f = g_new0(struct fx, 1);
    f->dir = g_dir_make_tmp("kanri-store-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->path = g_build_filename(f->dir, "kanri.db", NULL);
    g_autoptr(GError) err = NULL;
    f->st = store_sqlite_open(f->path, &err);
    if (!f->st)
        fail_msg("open: %s", err->message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    store_close(f->st);
    g_autoptr(GError) err = NULL;
    f->st = store_sqlite_open(f->path, &err);
    if (!f->st)
        fail_msg("reopen: %s", err->message);
}

#define OPS(f) ((f)->st->ops)
