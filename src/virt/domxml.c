/*
 * domxml: libvirt domain, capabilities and snapshot XML -> structs.
 *
 * One GMarkup pass per document.  The parser keeps the path of open elements
 * as a string ("/domain/devices/disk/source"), and every element kanri reads
 * is an entry in a per-document table keyed by that exact path.  Matching the
 * whole path, not just the element name, is what keeps a <disk> inside a
 * snapshot's <disks> or a <name> inside <parent> from being taken for
 * something else, and it makes everything not in the table ignored for free.
 */
#include "virt/domxml.h"

#include <string.h>

GQuark domxml_error_quark(void)
{
    return g_quark_from_static_string("domxml-error-quark");
}

enum doc_kind {
    DOC_DOMAIN,
    DOC_CAPS,
    DOC_SNAPSHOT,
};

struct parse_state {
    enum doc_kind kind;
    const char *root; /* expected root element name */
    GMarkupParseContext *ctx;

    /* Path of open elements; path_len[i] is the length of path->str before
     * the element at depth i + 1 was appended, so closing one is a truncate. */
    GString *path;
    size_t path_len[DOMXML_MAX_DEPTH];
    unsigned depth;
    bool seen_root;

    /* Text is collected only for the element whose table entry asks for it,
     * and only while it is the innermost open element (text_depth). */
    unsigned text_depth;
    GString *text;

    /* An attribute of the element being read that is needed when it closes
     * (unit= of <memory>, current= of <vcpu>). */
    char *pending_attr;

    unsigned ndevices;
    bool have_memory;
    bool have_current_memory;
    bool have_vcpu;
    bool have_creation_time;

    struct domxml_domain *dom;
    struct domxml_disk *disk; /* the <disk> being read, owned until its end */
    struct domxml_nic *nic;   /* same for <interface> */
    struct domxml_caps *caps;
    struct domxml_snapshot *snap;
};

/* Longest text quoted from the document in an error message. */
#define MAX_QUOTE   64
#define MAX_MESSAGE 256

typedef bool (*start_fn)(struct parse_state *st, const char **names, const char **values,
                         GError **error);
typedef bool (*end_fn)(struct parse_state *st, char *text, GError **error);

/* One element kanri reads.  When `text` is set, `end` receives the element's
 * text (stripped of surrounding whitespace when `strip`) and takes ownership
 * of it; otherwise it receives NULL. */
struct field {
    const char *path;
    start_fn start;
    end_fn end;
    bool text;
    bool strip;
};

/* Errors raised while parsing name the line, so an operator can find the
 * offending element in a document that may be thousands of lines long. */
G_GNUC_PRINTF(4, 5)
static void set_error(struct parse_state *st, GError **error, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *raw = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* Quoted values are cut with %.*s, which may split a character: GError
     * messages must stay UTF-8 because they end up in JSON. */
    g_autofree char *msg = g_utf8_make_valid(raw, -1);
    if (st && st->ctx) {
        int line = 0;
        g_markup_parse_context_get_position(st->ctx, &line, NULL);
        g_set_error(error, DOMXML_ERROR, code, "line %d: %s", line, msg);
    } else {
        g_set_error_literal(error, DOMXML_ERROR, code, msg);
    }
}

static const char *attr(const char **names, const char **values, const char *name)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

/* NULL for an absent or empty attribute: an empty source path means "no
 * medium" to libvirt, and kanri treats it the same way. */
static char *attr_dup(const char **names, const char **values, const char *name)
{
    const char *v = attr(names, values, name);
    return v && *v ? g_strdup(v) : NULL;
}

static void replace(char **field, char *value)
{
    g_free(*field);
    *field = value;
}

/* Whole-string unsigned decimal: no sign, no spaces, no hex, no overflow. */
static bool parse_u64_strict(const char *s, uint64_t *ret)
{
    uint64_t v = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (!g_ascii_isdigit(*s))
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (G_MAXUINT64 - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *ret = v;
    return true;
}

static bool parse_i64_strict(const char *s, int64_t *ret)
{
    bool neg = false;
    uint64_t v;
    if (s && *s == '-') {
        neg = true;
        s++;
    }
    if (!parse_u64_strict(s, &v))
        return false;
    if (neg) {
        if (v > (uint64_t)G_MAXINT64 + 1)
            return false;
        *ret = v == (uint64_t)G_MAXINT64 + 1 ? G_MININT64 : -(int64_t)v;
    } else {
        if (v > (uint64_t)G_MAXINT64)
            return false;
        *ret = (int64_t)v;
    }
    return true;
}

/* The unit rules are libvirt's (virScaleInteger): "b"/"bytes" are bytes; a
 * power letter alone or followed by "iB" is binary, followed by "B" decimal;
 * the letter's case does not matter.  No unit means KiB. */
static bool unit_multiplier(const char *unit, uint64_t *ret)
{
    if (!unit) {
        *ret = 1024;
        return true;
    }
    if (g_ascii_strcasecmp(unit, "b") == 0 || g_ascii_strcasecmp(unit, "bytes") == 0) {
        *ret = 1;
        return true;
    }
    static const char powers[] = "kmgtpe";
    const char *p = *unit ? strchr(powers, g_ascii_tolower(unit[0])) : NULL;
    if (!p)
        return false;
    uint64_t base;
    if (unit[1] == '\0' || g_ascii_strcasecmp(unit + 1, "iB") == 0)
        base = 1024;
    else if (g_ascii_strcasecmp(unit + 1, "B") == 0)
        base = 1000;
    else
        return false;
    uint64_t m = 1;
    /* At most 1024^6 = 2^60: no overflow here. */
    for (const char *q = powers; q <= p; q++)
        m *= base;
    *ret = m;
    return true;
}

static bool parse_memory(struct parse_state *st, const char *elem, const char *text,
                         const char *unit, uint64_t *ret, GError **error)
{
    uint64_t v, mult;
    if (!unit_multiplier(unit, &mult)) {
        set_error(st, error, DOMXML_ERROR_INVALID, "<%s>: unknown unit '%.*s'", elem, MAX_QUOTE,
                  unit);
        return false;
    }
    if (!parse_u64_strict(text, &v)) {
        set_error(st, error, DOMXML_ERROR_INVALID, "<%s>: '%.*s' is not an unsigned 64-bit integer",
                  elem, MAX_QUOTE, text);
        return false;
    }
    if (mult > 1 && v > G_MAXUINT64 / mult) {
        set_error(st, error, DOMXML_ERROR_INVALID, "<%s>: %s %s overflows 64 bits of bytes", elem,
                  text, unit ? unit : "KiB");
        return false;
    }
    *ret = v * mult;
    return true;
}

/* Canonical 8-4-4-4-12 hex, lower-cased in place on success. */
static bool uuid_normalize(char *s)
{
    static const int group[] = {8, 4, 4, 4, 12};
    char *p = s;
    for (size_t g = 0; g < G_N_ELEMENTS(group); g++) {
        for (int i = 0; i < group[g]; i++, p++) {
            if (!g_ascii_isxdigit(*p))
                return false;
            *p = g_ascii_tolower(*p);
        }
        if (g + 1 < G_N_ELEMENTS(group) && *p++ != '-')
            return false;
    }
    return *p == '\0';
}

/* Canonical aa:bb:cc:dd:ee:ff, lower-cased in place on success. */
static bool mac_normalize(char *s)
{
    char *p = s;
    for (int octet = 0; octet < 6; octet++) {
        for (int i = 0; i < 2; i++, p++) {
            if (!g_ascii_isxdigit(*p))
                return false;
            *p = g_ascii_tolower(*p);
        }
        if (octet < 5 && *p++ != ':')
            return false;
    }
    return *p == '\0';
}

/* Duplicated singleton elements are refused: with two <uuid>s, which one a
 * consumer would believe is a guess, and a wrong guess misattributes data. */
static bool set_once(struct parse_state *st, char **field, char *text, const char *elem,
                     GError **error)
{
    if (*field) {
        g_free(text);
        set_error(st, error, DOMXML_ERROR_INVALID, "<%s> given more than once", elem);
        return false;
    }
    *field = text;
    return true;
}

/* ---- domain ------------------------------------------------------------ */

static void disk_free(struct domxml_disk *d)
{
    if (!d)
        return;
    g_free(d->target);
    g_free(d->bus);
    g_free(d->device);
    g_free(d->type);
    g_free(d->source);
    g_free(d->format);
    g_free(d);
}

static void nic_free(struct domxml_nic *n)
{
    if (!n)
        return;
    g_free(n->mac);
    g_free(n->type);
    g_free(n->source);
    g_free(n->model);
    g_free(n->target);
    g_free(n);
}

void domxml_domain_free(struct domxml_domain *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->uuid);
    g_free(d->domain_type);
    g_free(d->os_type);
    if (d->disks)
        g_ptr_array_unref(d->disks);
    if (d->nics)
        g_ptr_array_unref(d->nics);
    g_free(d->balloon_model);
    g_free(d);
}

static bool dom_root_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    st->dom->domain_type = attr_dup(n, v, "type");
    return true;
}

static bool dom_name_end(struct parse_state *st, char *text, GError **e)
{
    return set_once(st, &st->dom->name, text, "name", e);
}

static bool dom_uuid_end(struct parse_state *st, char *text, GError **e)
{
    if (!uuid_normalize(text)) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<uuid>: '%.*s' is not a UUID", MAX_QUOTE, text);
        g_free(text);
        return false;
    }
    return set_once(st, &st->dom->uuid, text, "uuid", e);
}

static bool keep_attr_start(struct parse_state *st, const char **n, const char **v,
                            const char *name)
{
    replace(&st->pending_attr, g_strdup(attr(n, v, name)));
    return true;
}

static bool unit_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    return keep_attr_start(st, n, v, "unit");
}

static bool memory_end_common(struct parse_state *st, char *text, const char *elem, bool *seen,
                              uint64_t *field, GError **e)
{
    g_autofree char *t = text;
    if (*seen) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<%s> given more than once", elem);
        return false;
    }
    *seen = true;
    return parse_memory(st, elem, t, st->pending_attr, field, e);
}

static bool dom_memory_end(struct parse_state *st, char *text, GError **e)
{
    return memory_end_common(st, text, "memory", &st->have_memory, &st->dom->max_memory_bytes, e);
}

static bool dom_current_memory_end(struct parse_state *st, char *text, GError **e)
{
    return memory_end_common(st, text, "currentMemory", &st->have_current_memory,
                             &st->dom->memory_bytes, e);
}

static bool dom_vcpu_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    return keep_attr_start(st, n, v, "current");
}

/* libvirt allows at most a few thousand vCPUs; anything above G_MAXINT is
 * certainly garbage and would not fit the unsigned fields anyway. */
static bool parse_vcpu_count(struct parse_state *st, const char *s, const char *what, unsigned *ret,
                             GError **e)
{
    uint64_t v;
    if (!parse_u64_strict(s, &v) || v == 0 || v > G_MAXINT) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<vcpu%s>: '%.*s' is not a positive count", what,
                  MAX_QUOTE, s);
        return false;
    }
    *ret = (unsigned)v;
    return true;
}

static bool dom_vcpu_end(struct parse_state *st, char *text, GError **e)
{
    g_autofree char *t = text;
    if (st->have_vcpu) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<vcpu> given more than once");
        return false;
    }
    st->have_vcpu = true;
    if (!parse_vcpu_count(st, t, "", &st->dom->max_vcpus, e))
        return false;
    st->dom->vcpus = st->dom->max_vcpus;
    if (st->pending_attr) {
        if (!parse_vcpu_count(st, st->pending_attr, " current=", &st->dom->vcpus, e))
            return false;
        if (st->dom->vcpus > st->dom->max_vcpus) {
            set_error(st, e, DOMXML_ERROR_INVALID, "<vcpu current='%u'> exceeds maximum %u",
                      st->dom->vcpus, st->dom->max_vcpus);
            return false;
        }
    }
    return true;
}

static bool dom_os_type_end(struct parse_state *st, char *text, GError **e)
{
    if (!*text) {
        g_free(text);
        text = NULL;
    }
    replace(&st->dom->os_type, text);
    return true;
}

static bool disk_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    g_assert(!st->disk);
    st->disk = g_new0(struct domxml_disk, 1);
    st->disk->type = attr_dup(n, v, "type");
    st->disk->device = attr_dup(n, v, "device");
    /* libvirt's defaults when the attributes are left out. */
    if (!st->disk->type)
        st->disk->type = g_strdup("file");
    if (!st->disk->device)
        st->disk->device = g_strdup("disk");
    return true;
}

static bool disk_end(struct parse_state *st, char *text, GError **e)
{
    struct domxml_disk *d = g_steal_pointer(&st->disk);
    if (!d->target) {
        disk_free(d);
        set_error(st, e, DOMXML_ERROR_INVALID, "<disk> without <target dev=>");
        return false;
    }
    g_ptr_array_add(st->dom->disks, d);
    return true;
}

/* Which attribute names the medium depends on the disk type, but each
 * attribute belongs to exactly one type, so the first present one wins. */
static bool disk_source_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    const char *file = attr(n, v, "file"), *dev = attr(n, v, "dev"), *dir = attr(n, v, "dir");
    const char *pool = attr(n, v, "pool"), *volume = attr(n, v, "volume");
    const char *protocol = attr(n, v, "protocol"), *name = attr(n, v, "name");
    char *src = NULL;

    if (file && *file)
        src = g_strdup(file);
    else if (dev && *dev)
        src = g_strdup(dev);
    else if (dir && *dir)
        src = g_strdup(dir);
    else if (pool && *pool && volume && *volume)
        src = g_strdup_printf("%s/%s", pool, volume);
    else if (protocol && *protocol)
        src = name && *name ? g_strdup_printf("%s:%s", protocol, name) : g_strdup(protocol);
    replace(&st->disk->source, src);
    return true;
}

static bool disk_target_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    replace(&st->disk->target, attr_dup(n, v, "dev"));
    replace(&st->disk->bus, attr_dup(n, v, "bus"));
    return true;
}

static bool disk_driver_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    replace(&st->disk->format, attr_dup(n, v, "type"));
    return true;
}

static bool disk_readonly_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    st->disk->readonly = true;
    return true;
}

static bool nic_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    g_assert(!st->nic);
    char *type = attr_dup(n, v, "type");
    if (!type) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<interface> without type=");
        return false;
    }
    st->nic = g_new0(struct domxml_nic, 1);
    st->nic->type = type;
    return true;
}

static bool nic_end(struct parse_state *st, char *text, GError **e)
{
    g_ptr_array_add(st->dom->nics, g_steal_pointer(&st->nic));
    return true;
}

static bool nic_mac_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    char *mac = attr_dup(n, v, "address");
    if (mac && !mac_normalize(mac)) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<mac address='%.*s'> is not a MAC address",
                  MAX_QUOTE, mac);
        g_free(mac);
        return false;
    }
    replace(&st->nic->mac, mac);
    return true;
}

static bool nic_source_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    char *src = attr_dup(n, v, "network");
    if (!src)
        src = attr_dup(n, v, "bridge");
    if (!src)
        src = attr_dup(n, v, "dev");
    replace(&st->nic->source, src);
    return true;
}

static bool nic_model_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    replace(&st->nic->model, attr_dup(n, v, "type"));
    return true;
}

static bool nic_target_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    replace(&st->nic->target, attr_dup(n, v, "dev"));
    return true;
}

static bool balloon_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    const char *model = attr(n, v, "model");
    /* The element's presence is what matters; a model-less one still says
     * "there is a balloon", so it must not read as NULL (absent). */
    replace(&st->dom->balloon_model, g_strdup(model ? model : ""));
    return true;
}

static bool balloon_stats_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    const char *period = attr(n, v, "period");
    uint64_t p;
    if (!period)
        return true;
    if (!parse_u64_strict(period, &p) || p > G_MAXINT) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<stats period='%.*s'> is not a number of seconds",
                  MAX_QUOTE, period);
        return false;
    }
    st->dom->balloon_stats_period = (int)p;
    return true;
}

static bool channel_target_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    const char *type = attr(n, v, "type"), *name = attr(n, v, "name");
    if (g_strcmp0(type, "virtio") == 0 && g_strcmp0(name, "org.qemu.guest_agent.0") == 0)
        st->dom->has_guest_agent = true;
    return true;
}

static const struct field domain_fields[] = {
    {"/domain", dom_root_start, NULL, false, false},
    {"/domain/name", NULL, dom_name_end, true, false},
    {"/domain/uuid", NULL, dom_uuid_end, true, true},
    {"/domain/memory", unit_start, dom_memory_end, true, true},
    {"/domain/currentMemory", unit_start, dom_current_memory_end, true, true},
    {"/domain/vcpu", dom_vcpu_start, dom_vcpu_end, true, true},
    {"/domain/os/type", NULL, dom_os_type_end, true, true},
    {"/domain/devices/disk", disk_start, disk_end, false, false},
    {"/domain/devices/disk/source", disk_source_start, NULL, false, false},
    {"/domain/devices/disk/target", disk_target_start, NULL, false, false},
    {"/domain/devices/disk/driver", disk_driver_start, NULL, false, false},
    {"/domain/devices/disk/readonly", disk_readonly_start, NULL, false, false},
    {"/domain/devices/interface", nic_start, nic_end, false, false},
    {"/domain/devices/interface/mac", nic_mac_start, NULL, false, false},
    {"/domain/devices/interface/source", nic_source_start, NULL, false, false},
    {"/domain/devices/interface/model", nic_model_start, NULL, false, false},
    {"/domain/devices/interface/target", nic_target_start, NULL, false, false},
    {"/domain/devices/memballoon", balloon_start, NULL, false, false},
    {"/domain/devices/memballoon/stats", balloon_stats_start, NULL, false, false},
    {"/domain/devices/channel/target", channel_target_start, NULL, false, false},
    {NULL, NULL, NULL, false, false},
};

/* ---- capabilities ------------------------------------------------------ */

void domxml_caps_free(struct domxml_caps *c)
{
    if (!c)
        return;
    g_free(c->host_uuid);
    g_free(c->arch);
    g_free(c->cpu_model);
    g_free(c);
}

static bool caps_uuid_end(struct parse_state *st, char *text, GError **e)
{
    if (!uuid_normalize(text)) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<host><uuid>: '%.*s' is not a UUID", MAX_QUOTE,
                  text);
        g_free(text);
        return false;
    }
    return set_once(st, &st->caps->host_uuid, text, "uuid", e);
}

static bool caps_arch_end(struct parse_state *st, char *text, GError **e)
{
    return set_once(st, &st->caps->arch, text, "arch", e);
}

static bool caps_model_end(struct parse_state *st, char *text, GError **e)
{
    return set_once(st, &st->caps->cpu_model, text, "model", e);
}

static bool caps_cell_start(struct parse_state *st, const char **n, const char **v, GError **e)
{
    st->caps->numa_cells++;
    return true;
}

static const struct field caps_fields[] = {
    {"/capabilities/host/uuid", NULL, caps_uuid_end, true, true},
    {"/capabilities/host/cpu/arch", NULL, caps_arch_end, true, true},
    {"/capabilities/host/cpu/model", NULL, caps_model_end, true, true},
    {"/capabilities/host/topology/cells/cell", caps_cell_start, NULL, false, false},
    {NULL, NULL, NULL, false, false},
};

/* ---- snapshot ---------------------------------------------------------- */

void domxml_snapshot_free(struct domxml_snapshot *s)
{
    if (!s)
        return;
    g_free(s->name);
    g_free(s->description);
    g_free(s->state);
    g_free(s->parent);
    g_free(s);
}

static bool snap_name_end(struct parse_state *st, char *text, GError **e)
{
    return set_once(st, &st->snap->name, text, "name", e);
}

static bool snap_description_end(struct parse_state *st, char *text, GError **e)
{
    return set_once(st, &st->snap->description, text, "description", e);
}

static bool snap_state_end(struct parse_state *st, char *text, GError **e)
{
    return set_once(st, &st->snap->state, text, "state", e);
}

static bool snap_parent_end(struct parse_state *st, char *text, GError **e)
{
    return set_once(st, &st->snap->parent, text, "parent><name", e);
}

static bool snap_creation_time_end(struct parse_state *st, char *text, GError **e)
{
    g_autofree char *t = text;
    int64_t v;
    if (st->have_creation_time) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<creationTime> given more than once");
        return false;
    }
    st->have_creation_time = true;
    if (!parse_i64_strict(t, &v)) {
        set_error(st, e, DOMXML_ERROR_INVALID, "<creationTime>: '%.*s' is not an integer",
                  MAX_QUOTE, t);
        return false;
    }
    st->snap->creation_time = v;
    return true;
}

static const struct field snapshot_fields[] = {
    {"/domainsnapshot/name", NULL, snap_name_end, true, false},
    {"/domainsnapshot/description", NULL, snap_description_end, true, false},
    {"/domainsnapshot/state", NULL, snap_state_end, true, true},
    {"/domainsnapshot/parent/name", NULL, snap_parent_end, true, false},
    {"/domainsnapshot/creationTime", NULL, snap_creation_time_end, true, true},
    {NULL, NULL, NULL, false, false},
};

/* ---- the GMarkup driver ------------------------------------------------ */

static const struct field *fields_for(enum doc_kind kind)
{
    switch (kind) {
    case DOC_DOMAIN:
        return domain_fields;
    case DOC_CAPS:
        return caps_fields;
    case DOC_SNAPSHOT:
        return snapshot_fields;
    }
    g_assert_not_reached();
}

static const struct field *field_lookup(const struct parse_state *st)
{
    for (const struct field *f = fields_for(st->kind); f->path; f++)
        if (strcmp(f->path, st->path->str) == 0)
            return f;
    return NULL;
}

static void on_start(GMarkupParseContext *ctx, const char *element, const char **names,
                     const char **values, gpointer user_data, GError **error)
{
    struct parse_state *st = user_data;

    if (st->depth == 0) {
        /* GMarkup accepts a second top-level element; XML does not. */
        if (st->seen_root) {
            set_error(st, error, DOMXML_ERROR_SYNTAX, "more than one root element");
            return;
        }
        st->seen_root = true;
        if (strcmp(element, st->root) != 0) {
            set_error(st, error, DOMXML_ERROR_INVALID, "root element is <%.*s>, expected <%s>",
                      MAX_QUOTE, element, st->root);
            return;
        }
    }
    if (st->depth >= DOMXML_MAX_DEPTH) {
        set_error(st, error, DOMXML_ERROR_TOO_LARGE, "elements nested deeper than %d",
                  DOMXML_MAX_DEPTH);
        return;
    }
    /* Every direct child of <devices> is a device, whatever its kind: the
     * bound is on what a hostile document can make us walk and store. */
    if (st->kind == DOC_DOMAIN && st->depth == 2 && strcmp(st->path->str, "/domain/devices") == 0 &&
        ++st->ndevices > DOMXML_MAX_DEVICES) {
        set_error(st, error, DOMXML_ERROR_TOO_LARGE, "more than %d devices", DOMXML_MAX_DEVICES);
        return;
    }

    st->path_len[st->depth++] = st->path->len;
    g_string_append_c(st->path, '/');
    g_string_append(st->path, element);

    const struct field *f = field_lookup(st);
    if (!f)
        return;
    if (f->text) {
        st->text_depth = st->depth;
        g_string_truncate(st->text, 0);
    }
    if (f->start)
        f->start(st, names, values, error);
}

static void on_end(GMarkupParseContext *ctx, const char *element, gpointer user_data,
                   GError **error)
{
    struct parse_state *st = user_data;
    const struct field *f = field_lookup(st);

    if (f && f->end) {
        /* Elements read for their text always get a string, possibly "";
         * the others get NULL and have nothing to free. */
        char *text = NULL;
        if (f->text) {
            text = g_strdup(st->text_depth == st->depth ? st->text->str : "");
            if (f->strip)
                g_strstrip(text);
            st->text_depth = 0;
        }
        bool ok = f->end(st, text, error);
        g_clear_pointer(&st->pending_attr, g_free);
        if (!ok)
            return;
    }
    st->depth--;
    g_string_truncate(st->path, st->path_len[st->depth]);
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer user_data,
                    GError **error)
{
    struct parse_state *st = user_data;
    /* Mixed content: only the element's own text, not its children's. */
    if (st->text_depth != 0 && st->text_depth == st->depth)
        g_string_append_len(st->text, text, (gssize)len);
}

static const GMarkupParser parser = {
    .start_element = on_start,
    .end_element = on_end,
    .text = on_text,
};

static void state_clear(struct parse_state *st)
{
    if (st->ctx)
        g_markup_parse_context_free(st->ctx);
    if (st->path)
        g_string_free(st->path, TRUE);
    if (st->text)
        g_string_free(st->text, TRUE);
    g_free(st->pending_attr);
    disk_free(st->disk);
    nic_free(st->nic);
}

/* Runs the document through GMarkup.  Returns false with *error set. */
static bool run(struct parse_state *st, const char *xml, GError **error)
{
    GError *local = NULL;

    if (!xml) {
        g_set_error_literal(error, DOMXML_ERROR, DOMXML_ERROR_INVALID, "no document");
        return false;
    }
    /* strnlen so that a huge document is refused without being walked. */
    size_t len = strnlen(xml, (size_t)DOMXML_MAX_BYTES + 1);
    if (len > DOMXML_MAX_BYTES) {
        g_set_error(error, DOMXML_ERROR, DOMXML_ERROR_TOO_LARGE, "document larger than %d bytes",
                    DOMXML_MAX_BYTES);
        return false;
    }

    st->path = g_string_new(NULL);
    st->text = g_string_new(NULL);
    /* libvirt writes UTF-8 only.  Checking the whole document first also
     * keeps GMarkup (2.74) off a bad path: when it finds invalid UTF-8 in a
     * comment or CDATA section it sets the error but parses on, so later
     * errors are set over it. */
    const char *bad;
    if (!g_utf8_validate_len(xml, len, &bad)) {
        g_set_error(error, DOMXML_ERROR, DOMXML_ERROR_SYNTAX,
                    "document is not valid UTF-8 (byte offset %zu)", (size_t)(bad - xml));
        return false;
    }

    /* CDATA is how some tools write a <description>: it is text all the same. */
    st->ctx = g_markup_parse_context_new(&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, st, NULL);
    /* Success is judged by `local`, not only by the return values, in case
     * GMarkup reports an error without failing (see above). */
    if (g_markup_parse_context_parse(st->ctx, xml, (gssize)len, &local) && !local)
        g_markup_parse_context_end_parse(st->ctx, &local);
    if (local) {
        if (local->domain == DOMXML_ERROR) {
            g_propagate_error(error, local);
        } else {
            /* GMarkup quotes the offending text, which can be megabytes long
             * and, for an encoding error, is by definition not UTF-8. */
            g_autofree char *msg = g_utf8_make_valid(local->message, -1);
            if (strlen(msg) > MAX_MESSAGE)
                strcpy(g_utf8_find_prev_char(msg, msg + MAX_MESSAGE - 2), "...");
            g_set_error(error, DOMXML_ERROR, DOMXML_ERROR_SYNTAX, "malformed XML: %s", msg);
            g_error_free(local);
        }
        return false;
    }
    /* Checks after the parse have no useful line to point at. */
    g_markup_parse_context_free(g_steal_pointer(&st->ctx));
    return true;
}

struct domxml_domain *domxml_domain_parse(const char *xml, GError **error)
{
    struct parse_state st = {.kind = DOC_DOMAIN, .root = "domain"};
    g_autoptr(domxml_domain) d = g_new0(struct domxml_domain, 1);

    d->disks = g_ptr_array_new_with_free_func((GDestroyNotify)disk_free);
    d->nics = g_ptr_array_new_with_free_func((GDestroyNotify)nic_free);
    d->balloon_stats_period = -1;
    st.dom = d;
    bool ok = run(&st, xml, error);
    state_clear(&st);
    if (!ok)
        return NULL;

    if (!d->name || !*d->name) {
        g_set_error_literal(error, DOMXML_ERROR, DOMXML_ERROR_INVALID, "missing <name>");
        return NULL;
    }
    if (!d->uuid) {
        g_set_error_literal(error, DOMXML_ERROR, DOMXML_ERROR_INVALID, "missing <uuid>");
        return NULL;
    }
    if (!st.have_memory) {
        g_set_error_literal(error, DOMXML_ERROR, DOMXML_ERROR_INVALID, "missing <memory>");
        return NULL;
    }
    if (!st.have_current_memory)
        d->memory_bytes = d->max_memory_bytes;
    if (!st.have_vcpu)
        d->vcpus = d->max_vcpus = 1;
    return g_steal_pointer(&d);
}

struct domxml_caps *domxml_caps_parse(const char *xml, GError **error)
{
    struct parse_state st = {.kind = DOC_CAPS, .root = "capabilities"};
    g_autoptr(domxml_caps) c = g_new0(struct domxml_caps, 1);

    st.caps = c;
    bool ok = run(&st, xml, error);
    state_clear(&st);
    if (!ok)
        return NULL;
    if (!c->arch || !*c->arch) {
        g_set_error_literal(error, DOMXML_ERROR, DOMXML_ERROR_INVALID, "missing <host><cpu><arch>");
        return NULL;
    }
    if (c->cpu_model && !*c->cpu_model)
        g_clear_pointer(&c->cpu_model, g_free);
    return g_steal_pointer(&c);
}

struct domxml_snapshot *domxml_snapshot_parse(const char *xml, GError **error)
{
    struct parse_state st = {.kind = DOC_SNAPSHOT, .root = "domainsnapshot"};
    g_autoptr(domxml_snapshot) s = g_new0(struct domxml_snapshot, 1);

    st.snap = s;
    bool ok = run(&st, xml, error);
    state_clear(&st);
    if (!ok)
        return NULL;
    if (!s->name || !*s->name) {
        g_set_error_literal(error, DOMXML_ERROR, DOMXML_ERROR_INVALID, "missing <name>");
        return NULL;
    }
    if (!s->state || !*s->state) {
        g_set_error_literal(error, DOMXML_ERROR, DOMXML_ERROR_INVALID, "missing <state>");
        return NULL;
    }
    if (s->description && !*s->description)
        g_clear_pointer(&s->description, g_free);
    if (s->parent && !*s->parent)
        g_clear_pointer(&s->parent, g_free);
    return g_steal_pointer(&s);
}

/* ---- storage pool: only the target path ---- */

struct pool_ps {
    int depth;
    bool in_target;
    bool in_path;
    GString *path;
};

static void pool_start(GMarkupParseContext *ctx, const char *name, const char **an, const char **av,
                       gpointer data, GError **error)
{
    struct pool_ps *p = data;
    if (++p->depth > DOMXML_MAX_DEPTH) {
        g_set_error(error, DOMXML_ERROR, 0, "pool XML nested too deeply");
        return;
    }
    if (p->depth == 2 && g_str_equal(name, "target"))
        p->in_target = true;
    else if (p->depth == 3 && p->in_target && g_str_equal(name, "path"))
        p->in_path = true;
}

static void pool_end(GMarkupParseContext *ctx, const char *name, gpointer data, GError **error)
{
    struct pool_ps *p = data;
    if (p->depth == 3)
        p->in_path = false;
    if (p->depth == 2)
        p->in_target = false;
    p->depth--;
}

static void pool_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                      GError **error)
{
    struct pool_ps *p = data;
    if (p->in_path && p->path->len + len < 4096)
        g_string_append_len(p->path, text, (gssize)len);
}

char *domxml_pool_target_path(const char *xml, GError **error)
{
    static const GMarkupParser pool_parser = {pool_start, pool_end, pool_text, NULL, NULL};
    if (!xml || strlen(xml) > DOMXML_MAX_BYTES) {
        g_set_error(error, DOMXML_ERROR, 0, "pool XML missing or too large");
        return NULL;
    }
    struct pool_ps p = {.path = g_string_new(NULL)};
    GMarkupParseContext *ctx = g_markup_parse_context_new(&pool_parser, 0, &p, NULL);
    bool ok = g_markup_parse_context_parse(ctx, xml, (gssize)strlen(xml), error) &&
              g_markup_parse_context_end_parse(ctx, error);
    g_markup_parse_context_free(ctx);
    g_strstrip(p.path->str);
    p.path->len = strlen(p.path->str);
    if (ok && p.path->len == 0) {
        g_set_error(error, DOMXML_ERROR, 0, "pool has no target path");
        ok = false;
    }
    return g_string_free(p.path, !ok);
}
