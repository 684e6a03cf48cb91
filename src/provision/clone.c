/*
 * provision/clone: see clone.h.  One GMarkup pass copies the document,
 * element by element, and changes what the table of paths below says;
 * reading a template's disks is the same pass without a spec.
 */
#include "provision/clone.h"

#include <string.h>

GQuark clone_error_quark(void)
{
    return g_quark_from_static_string("clone-error-quark");
}

void clone_disk_clear(struct clone_disk *d)
{
    g_clear_pointer(&d->path, g_free);
    g_clear_pointer(&d->format, g_free);
    g_clear_pointer(&d->target, g_free);
}

static void clone_disk_clear_p(gpointer p)
{
    clone_disk_clear(p);
}

struct rw {
    const struct clone_spec *spec; /* NULL: only read the disks */
    GMarkupParseContext *ctx;
    GString *out;
    GString *path; /* "/domain/devices/disk/source" */
    size_t path_len[CLONE_MAX_DEPTH];
    unsigned depth;
    unsigned skip_depth; /* >0: inside an element left out, opened at this depth */
    unsigned text_depth; /* >0: the element at this depth has its text replaced */
    bool seen_root;
    bool in_disk;     /* inside a <disk> with device "disk" */
    bool seed_put;    /* the seed CD-ROM is in the copy */
    bool driver_seen; /* the disk being read has a <driver> */
    char *disk_type;
    struct clone_disk cur;
    GArray *disks;                    /* struct clone_disk: the document's own */
    GString *vcpu_text, *memory_text; /* <vcpu> and <memory> as written */
    char *memory_unit;
    GPtrArray *targets; /* every <disk>'s target dev, for the seed's */
};

static void set_error(struct rw *st, GError **error, int code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void set_error(struct rw *st, GError **error, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *raw = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *msg = g_utf8_make_valid(raw, -1);
    int line = 0;
    if (st->ctx)
        g_markup_parse_context_get_position(st->ctx, &line, NULL);
    g_set_error(error, CLONE_ERROR, code, "line %d: %s", line, msg);
}

static const char *attr(const char **names, const char **values, const char *name)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

static void put_escaped(GString *out, const char *s)
{
    g_autofree char *e = g_markup_escape_text(s, -1);
    g_string_append(out, e);
}

static void put_attr(GString *out, const char *name, const char *value)
{
    g_string_append_printf(out, " %s=\"", name);
    put_escaped(out, value);
    g_string_append_c(out, '"');
}

/* An element copied with its attributes, except DROP, and with SET (when
 * not NULL) given the value SET_VALUE, added when the element had none. */
static void put_start(GString *out, const char *element, const char **names, const char **values,
                      const char *drop, const char *set, const char *set_value)
{
    g_string_append_printf(out, "<%s", element);
    bool done = false;
    for (size_t i = 0; names[i]; i++) {
        if (drop && strcmp(names[i], drop) == 0)
            continue;
        bool mine = set && strcmp(names[i], set) == 0;
        put_attr(out, names[i], mine ? set_value : values[i]);
        done |= mine;
    }
    if (set && !done)
        put_attr(out, set, set_value);
    g_string_append_c(out, '>');
}

/* Takes back the indentation before an element left out, so that no
 * blank line stands where it was. */
static void drop_indent(GString *out)
{
    size_t n = out->len;
    while (n > 0 && (out->str[n - 1] == ' ' || out->str[n - 1] == '\t'))
        n--;
    if (n > 0 && out->str[n - 1] == '\n')
        g_string_truncate(out, n - 1);
}

/* Whether the element at PATH is left out of the copy. */
static bool left_out(const struct rw *st, const char *path)
{
    if (!st->spec)
        return false;
    if (strcmp(path, "/domain/uuid") == 0 || strcmp(path, "/domain/devices/interface/mac") == 0)
        return true;
    if (st->spec->vcpus &&
        (strcmp(path, "/domain/cpu/topology") == 0 || strcmp(path, "/domain/vcpus") == 0))
        return true;
    return st->in_disk && strcmp(path, "/domain/devices/disk/backingStore") == 0;
}

static void disk_start(struct rw *st, const char **names, const char **values)
{
    const char *device = attr(names, values, "device");
    if (device && strcmp(device, "disk") != 0)
        return;
    st->in_disk = true;
    st->driver_seen = false;
    const char *type = attr(names, values, "type");
    g_free(st->disk_type);
    st->disk_type = g_strdup(type ? type : "file");
}

static bool disk_end(struct rw *st, GError **error)
{
    st->in_disk = false;
    const char *which = st->cur.target ? st->cur.target : "without a target";
    if (strcmp(st->disk_type, "file") != 0) {
        set_error(st, error, CLONE_ERR_DISK,
                  "disk %s is a '%.32s' disk; a template takes file disks only", which,
                  st->disk_type);
        return false;
    }
    if (!st->cur.path) {
        set_error(st, error, CLONE_ERR_DISK, "disk %s has no source file", which);
        return false;
    }
    if (st->disks->len >= CLONE_MAX_DISKS) {
        set_error(st, error, CLONE_ERR_DISK, "more than %d disks", CLONE_MAX_DISKS);
        return false;
    }
    g_array_append_val(st->disks, st->cur);
    memset(&st->cur, 0, sizeof(st->cur));
    return true;
}

/* The spec's source for the disk being read (NULL without a spec, or
 * when the spec has fewer: the count is checked at the end). */
static const struct clone_disk *new_source(const struct rw *st)
{
    if (!st->spec || st->disks->len >= st->spec->n_disks)
        return NULL;
    return &st->spec->disks[st->disks->len];
}

static void on_start(GMarkupParseContext *ctx, const char *element, const char **names,
                     const char **values, gpointer data, GError **error)
{
    (void)ctx;
    struct rw *st = data;
    if (st->depth >= CLONE_MAX_DEPTH) {
        set_error(st, error, CLONE_ERR_PARSE, "elements nested deeper than %d", CLONE_MAX_DEPTH);
        return;
    }
    if (!st->seen_root && strcmp(element, "domain") != 0) {
        set_error(st, error, CLONE_ERR_PARSE, "<%.32s> is not a domain", element);
        return;
    }
    st->seen_root = true;
    st->path_len[st->depth++] = st->path->len;
    g_string_append_printf(st->path, "/%s", element);
    if (st->skip_depth)
        return;
    const char *path = st->path->str;
    if (left_out(st, path)) {
        st->skip_depth = st->depth;
        drop_indent(st->out);
        return;
    }
    const struct clone_spec *sp = st->spec;
    const char *text = NULL, *drop = NULL, *set = NULL, *set_value = NULL;
    char kib[24];
    if (strcmp(path, "/domain/devices/disk") == 0) {
        disk_start(st, names, values);
    } else if (strcmp(path, "/domain/devices/disk/target") == 0) {
        const char *dev = attr(names, values, "dev");
        if (dev)
            g_ptr_array_add(st->targets, g_strdup(dev));
        if (st->in_disk && dev && !st->cur.target)
            st->cur.target = g_strdup(dev);
    } else if (st->in_disk && strcmp(path, "/domain/devices/disk/source") == 0) {
        const char *file = attr(names, values, "file");
        if (file && *file && !st->cur.path)
            st->cur.path = g_strdup(file);
        const struct clone_disk *src = new_source(st);
        if (src)
            set = "file", set_value = src->path;
    } else if (st->in_disk && strcmp(path, "/domain/devices/disk/driver") == 0) {
        st->driver_seen = true;
        const char *type = attr(names, values, "type");
        if (type && !st->cur.format)
            st->cur.format = g_strdup(type);
        const struct clone_disk *src = new_source(st);
        if (src && src->format)
            set = "type", set_value = src->format;
    } else if (!sp && strcmp(path, "/domain/memory") == 0) {
        g_free(st->memory_unit);
        st->memory_unit = g_strdup(attr(names, values, "unit"));
    } else if (sp && strcmp(path, "/domain/name") == 0) {
        text = sp->name;
    } else if (sp && sp->vcpus && strcmp(path, "/domain/vcpu") == 0) {
        g_snprintf(kib, sizeof(kib), "%u", sp->vcpus);
        text = kib, drop = "current";
    } else if (sp && sp->memory_kib &&
               (strcmp(path, "/domain/memory") == 0 ||
                strcmp(path, "/domain/currentMemory") == 0)) {
        g_snprintf(kib, sizeof(kib), "%" G_GUINT64_FORMAT, sp->memory_kib);
        text = kib, set = "unit", set_value = "KiB";
    }
    put_start(st->out, element, names, values, drop, set, set_value);
    if (text) {
        put_escaped(st->out, text);
        st->text_depth = st->depth;
    }
}

/* The seed CD-ROM on the first sdX no disk has. */
static bool put_seed(struct rw *st, GError **error)
{
    char dev[4] = "sd?";
    for (char c = 'a'; c <= 'z'; c++) {
        dev[2] = c;
        bool taken = false;
        for (guint i = 0; i < st->targets->len && !taken; i++)
            taken = strcmp(g_ptr_array_index(st->targets, i), dev) == 0;
        if (!taken)
            break;
        if (c == 'z') {
            set_error(st, error, CLONE_ERR_SPEC, "no free sdX target for the seed image");
            return false;
        }
    }
    g_string_append(st->out, "  <disk type=\"file\" device=\"cdrom\">\n"
                             "      <driver name=\"qemu\" type=\"raw\"/>\n"
                             "      <source");
    put_attr(st->out, "file", st->spec->seed_path);
    g_string_append_printf(st->out,
                           "/>\n      <target dev=\"%s\" bus=\"sata\"/>\n"
                           "      <readonly/>\n    </disk>\n  ",
                           dev);
    st->seed_put = true;
    return true;
}

static void on_end(GMarkupParseContext *ctx, const char *element, gpointer data, GError **error)
{
    (void)ctx;
    struct rw *st = data;
    const char *path = st->path->str;
    bool skipped = st->skip_depth != 0;
    if (st->skip_depth == st->depth)
        st->skip_depth = 0;
    if (st->text_depth == st->depth)
        st->text_depth = 0;
    if (!skipped) {
        if (st->in_disk && strcmp(path, "/domain/devices/disk") == 0) {
            /* A new format needs saying even where the template let
             * libvirt assume raw: an overlay read as raw shows its header. */
            const struct clone_disk *src = new_source(st);
            if (src && src->format && !st->driver_seen) {
                g_string_append(st->out, "  <driver name=\"qemu\"");
                put_attr(st->out, "type", src->format);
                g_string_append(st->out, "/>\n    ");
            }
            if (!disk_end(st, error))
                return;
        }
        if (st->spec && st->spec->seed_path && strcmp(path, "/domain/devices") == 0 &&
            !put_seed(st, error))
            return;
        g_string_append_printf(st->out, "</%s>", element);
    }
    g_string_truncate(st->path, st->path_len[--st->depth]);
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                    GError **error)
{
    (void)ctx, (void)error;
    struct rw *st = data;
    if (st->skip_depth || (st->text_depth && st->text_depth == st->depth))
        return;
    g_autofree char *e = g_markup_escape_text(text, (gssize)len);
    g_string_append(st->out, e);
    GString *keep = strcmp(st->path->str, "/domain/vcpu") == 0     ? st->vcpu_text
                    : strcmp(st->path->str, "/domain/memory") == 0 ? st->memory_text
                                                                   : NULL;
    if (keep && keep->len + len < 64)
        g_string_append_len(keep, text, (gssize)len);
}

static void on_passthrough(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                           GError **error)
{
    (void)ctx, (void)error;
    struct rw *st = data;
    if (!st->skip_depth)
        g_string_append_len(st->out, text, (gssize)len);
}

static const GMarkupParser parser = {on_start, on_end, on_text, on_passthrough, NULL};

/* The pass: the copy in ST->out and the document's disks in ST->disks. */
static bool run(struct rw *st, const char *xml, GError **error)
{
    size_t n = xml ? strlen(xml) : 0;
    if (n == 0 || n > CLONE_XML_MAX) {
        g_set_error(error, CLONE_ERROR, CLONE_ERR_PARSE,
                    n ? "domain XML over %d bytes" : "no domain XML", CLONE_XML_MAX);
        return false;
    }
    st->out = g_string_sized_new(n + 256);
    st->path = g_string_new(NULL);
    st->disks = g_array_new(FALSE, TRUE, sizeof(struct clone_disk));
    g_array_set_clear_func(st->disks, clone_disk_clear_p);
    st->targets = g_ptr_array_new_with_free_func(g_free);
    st->vcpu_text = g_string_new(NULL);
    st->memory_text = g_string_new(NULL);
    st->ctx = g_markup_parse_context_new(&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, st, NULL);
    GError *err = NULL;
    bool ok = g_markup_parse_context_parse(st->ctx, xml, (gssize)n, &err) &&
              g_markup_parse_context_end_parse(st->ctx, &err);
    if (!ok && err->domain != CLONE_ERROR) {
        set_error(st, error, CLONE_ERR_PARSE, "%s", err->message);
        g_clear_error(&err);
    } else if (!ok) {
        g_propagate_error(error, err);
    } else if (!st->seen_root) {
        set_error(st, error, CLONE_ERR_PARSE, "no <domain> element");
        ok = false;
    }
    return ok;
}

static void rw_clear(struct rw *st)
{
    if (st->ctx)
        g_markup_parse_context_free(st->ctx);
    if (st->out)
        g_string_free(st->out, TRUE);
    if (st->path)
        g_string_free(st->path, TRUE);
    if (st->disks)
        g_array_unref(st->disks);
    if (st->targets)
        g_ptr_array_unref(st->targets);
    clone_disk_clear(&st->cur);
    g_free(st->disk_type);
    if (st->vcpu_text)
        g_string_free(st->vcpu_text, TRUE);
    if (st->memory_text)
        g_string_free(st->memory_text, TRUE);
    g_free(st->memory_unit);
}

GArray *clone_disks(const char *xml, GError **error)
{
    struct rw st = {0};
    GArray *ret = NULL;
    if (run(&st, xml, error))
        ret = g_array_ref(st.disks);
    rw_clear(&st);
    return ret;
}

char *clone_domain_xml(const char *xml, const struct clone_spec *spec, GError **error)
{
    if (!spec->name || !*spec->name) {
        g_set_error(error, CLONE_ERROR, CLONE_ERR_SPEC, "the new VM needs a name");
        return NULL;
    }
    for (size_t i = 0; i < spec->n_disks; i++)
        if (!spec->disks[i].path || !*spec->disks[i].path) {
            g_set_error(error, CLONE_ERROR, CLONE_ERR_SPEC, "disk %zu has no new source", i + 1);
            return NULL;
        }
    struct rw st = {.spec = spec};
    char *ret = NULL;
    if (run(&st, xml, error)) {
        if (st.disks->len != spec->n_disks)
            g_set_error(error, CLONE_ERROR, CLONE_ERR_SPEC,
                        "the template has %u disks; %zu new sources given", st.disks->len,
                        spec->n_disks);
        else if (spec->seed_path && !st.seed_put)
            g_set_error(error, CLONE_ERROR, CLONE_ERR_SPEC,
                        "the template has no <devices> to add the seed image to");
        else
            ret = g_strdup(st.out->str);
    }
    rw_clear(&st);
    return ret;
}

/* KiB in one UNIT of libvirt's memory units (NULL: KiB); 0 when unknown. */
static uint64_t unit_kib(const char *unit, uint64_t *ret_div)
{
    static const struct {
        const char *name;
        uint64_t bytes;
    } units[] = {
        {"b", 1},
        {"bytes", 1},
        {"KB", 1000},
        {"k", 1024},
        {"KiB", 1024},
        {"MB", 1000000},
        {"M", 1048576},
        {"MiB", 1048576},
        {"GB", 1000000000},
        {"G", 1073741824},
        {"GiB", 1073741824},
        {"TB", 1000000000000},
        {"T", 1099511627776},
        {"TiB", 1099511627776},
    };
    *ret_div = 1;
    if (!unit)
        return 1;
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (strcmp(units[i].name, unit) != 0)
            continue;
        if (units[i].bytes % 1024 == 0)
            return units[i].bytes / 1024;
        *ret_div = 1024; /* bytes, KB, ...: times BYTES, then over 1024 */
        return units[i].bytes;
    }
    return 0;
}

bool clone_sizes(const char *xml, unsigned *ret_vcpus, uint64_t *ret_memory_kib, GError **error)
{
    struct rw st = {0};
    bool ok = run(&st, xml, error);
    if (ok) {
        g_strstrip(st.vcpu_text->str);
        g_strstrip(st.memory_text->str);
        guint64 v = 0, m = 0, div = 1;
        uint64_t mult = unit_kib(st.memory_unit, &div);
        ok = g_ascii_string_to_unsigned(st.vcpu_text->str, 10, 1, 65536, &v, NULL) &&
             g_ascii_string_to_unsigned(st.memory_text->str, 10, 1, G_MAXUINT32 * 1024ULL, &m,
                                        NULL) &&
             mult;
        if (ok) {
            *ret_vcpus = (unsigned)v;
            *ret_memory_kib = m * mult / div;
        } else {
            g_set_error(error, CLONE_ERROR, CLONE_ERR_PARSE,
                        "the domain does not say its vCPUs and memory");
        }
    }
    rw_clear(&st);
    return ok;
}
