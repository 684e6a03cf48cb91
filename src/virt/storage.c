/*
 * The storage primitives provisioning is built of (docs/provisioning.md):
 * a domain's persistent definition, a disk image copied or overlaid in a
 * storage pool, and a volume deleted.  What to copy where, and what the
 * new domain's XML says, is the engine's (src/engine/provision.c); these
 * only do what they are told, on the host's own connection.
 */
#include "config.h"

#include "virt/virt-private.h"

#include "basic/util.h"

#include <errno.h>
#include <string.h>

/* WHAT (taken) failed: libvirt's message, with CODE or libvirt's own. */
static int fail_libvirt(GError **error, int code, char *what)
{
    g_set_error(error, DRIVER_ERROR, code ? code : virt_err_from_libvirt(), "%s: %s", what,
                virt_last_error());
    virResetLastError();
    g_free(what);
    return -EIO;
}

char *virt_domain_definition(struct driver *base, int64_t host_id, const char *uuid,
                             bool *ret_active, GError **error)
{
    struct virt_driver *d = (struct virt_driver *)base;
    virConnectPtr conn = virt_conn_ref(d, host_id, NULL, error);
    if (!conn)
        return NULL;
    char *ret = NULL;
    virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
    if (!dom) {
        fail_libvirt(error, DRIVER_ERR_NOT_FOUND, g_strdup_printf("domain %s", uuid));
    } else {
        *ret_active = virDomainIsActive(dom) == 1;
        char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        if (!xml)
            fail_libvirt(error, 0, g_strdup_printf("reading the definition of %s", uuid));
        ret = g_strdup(xml);
        free(xml);
        virDomainFree(dom);
    }
    virResetLastError();
    virConnectClose(conn);
    return ret;
}

/* The new volume's XML: a copy in FORMAT, or an overlay backed by FROM. */
static char *volume_xml(const char *name, const char *from, const char *format, bool linked,
                        unsigned long long capacity)
{
    if (!linked)
        return g_markup_printf_escaped("<volume><name>%s</name>"
                                       "<capacity unit='bytes'>%llu</capacity>"
                                       "<target><format type='%s'/></target></volume>",
                                       name, capacity, format);
    return g_markup_printf_escaped("<volume><name>%s</name>"
                                   "<capacity unit='bytes'>%llu</capacity>"
                                   "<target><format type='qcow2'/></target>"
                                   "<backingStore><path>%s</path><format type='%s'/>"
                                   "</backingStore></volume>",
                                   name, capacity, from, format);
}

int virt_volume_clone(struct driver *base, int64_t host_id, const struct volume_clone *vcl,
                      char **ret_path, char **ret_pool, GError **error)
{
    struct virt_driver *d = (struct virt_driver *)base;
    virConnectPtr conn = virt_conn_ref(d, host_id, NULL, error);
    if (!conn)
        return -EIO;
    int r = -EIO;
    g_autofree char *xml = NULL;
    virStoragePoolPtr pool = NULL;
    virStorageVolPtr made = NULL;
    virStorageVolPtr src = virStorageVolLookupByPath(conn, vcl->from);
    if (!src) {
        g_set_error(error, DRIVER_ERROR, DRIVER_ERR_STATE,
                    "the disk image %s is in no storage pool of this host: a template's and a "
                    "clone's images live in pools (define one for its directory, or refresh it)",
                    vcl->from);
        goto out;
    }
    pool =
        vcl->pool ? virStoragePoolLookupByName(conn, vcl->pool) : virStoragePoolLookupByVolume(src);
    if (!pool) {
        fail_libvirt(error, DRIVER_ERR_NOT_FOUND,
                     g_strdup_printf("storage pool %s", vcl->pool ? vcl->pool : "of the image"));
        goto out;
    }
    virStorageVolInfo info;
    if (virStorageVolGetInfo(src, &info) < 0) {
        fail_libvirt(error, 0, g_strdup_printf("reading the image %s", vcl->from));
        goto out;
    }
    unsigned long long capacity = MAX(info.capacity, (unsigned long long)vcl->capacity);
    xml =
        volume_xml(vcl->name, vcl->from, vcl->format ? vcl->format : "raw", vcl->linked, capacity);
    made = vcl->linked ? virStorageVolCreateXML(pool, xml, 0)
                       : virStorageVolCreateXMLFrom(pool, xml, src, 0);
    if (!made) {
        fail_libvirt(error, 0,
                     g_strdup_printf(vcl->linked ? "creating the overlay %s" : "copying into %s",
                                     vcl->name));
        goto out;
    }
    /* A copy is made at the source's size: grown afterwards when asked. */
    if (!vcl->linked && capacity > info.capacity && virStorageVolResize(made, capacity, 0) < 0) {
        fail_libvirt(error, 0, g_strdup_printf("growing %s", vcl->name));
        virStorageVolDelete(made, 0);
        goto out;
    }
    char *path = virStorageVolGetPath(made);
    *ret_path = g_strdup(path);
    free(path);
    *ret_pool = g_strdup(virStoragePoolGetName(pool));
    r = 0;
out:
    if (made)
        virStorageVolFree(made);
    if (pool)
        virStoragePoolFree(pool);
    if (src)
        virStorageVolFree(src);
    virResetLastError();
    virConnectClose(conn);
    return r;
}

int virt_volume_delete(struct driver *base, int64_t host_id, const char *path, GError **error)
{
    struct virt_driver *d = (struct virt_driver *)base;
    virConnectPtr conn = virt_conn_ref(d, host_id, NULL, error);
    if (!conn)
        return -EIO;
    int r = 0;
    virStorageVolPtr v = virStorageVolLookupByPath(conn, path);
    if (!v)
        r = fail_libvirt(error, DRIVER_ERR_NOT_FOUND, g_strdup_printf("volume %s", path));
    else if (virStorageVolDelete(v, 0) < 0)
        r = fail_libvirt(error, 0, g_strdup_printf("deleting %s", path));
    if (v)
        virStorageVolFree(v);
    virResetLastError();
    virConnectClose(conn);
    return r;
}

int virt_volume_upload(struct driver *base, int64_t host_id, const char *pool_name,
                       const char *name, const char *file, char **ret_path, GError **error)
{
    struct virt_driver *d = (struct virt_driver *)base;
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(file, &data, &len, error))
        return -EIO;
    virConnectPtr conn = virt_conn_ref(d, host_id, NULL, error);
    if (!conn)
        return -EIO;
    int r = -EIO;
    g_autofree char *xml = g_markup_printf_escaped(
        "<volume><name>%s</name><capacity unit='bytes'>%" G_GSIZE_FORMAT "</capacity>"
        "<target><format type='raw'/></target></volume>",
        name, len);
    virStreamPtr st = NULL;
    virStorageVolPtr vol = NULL;
    virStoragePoolPtr pool = virStoragePoolLookupByName(conn, pool_name);
    if (!pool) {
        fail_libvirt(error, DRIVER_ERR_NOT_FOUND, g_strdup_printf("storage pool %s", pool_name));
        goto out;
    }
    vol = virStorageVolCreateXML(pool, xml, 0);
    if (!vol) {
        fail_libvirt(error, 0, g_strdup_printf("creating %s", name));
        goto out;
    }
    st = virStreamNew(conn, 0);
    bool sent = st && virStorageVolUpload(vol, st, 0, len, 0) == 0;
    for (gsize off = 0; sent && off < len;) {
        int n = virStreamSend(st, data + off, MIN(len - off, (gsize)(256 * 1024)));
        sent = n > 0;
        off += sent ? (gsize)n : 0;
    }
    if (!sent || virStreamFinish(st) < 0) {
        fail_libvirt(error, 0, g_strdup_printf("uploading %s", name));
        if (st)
            virStreamAbort(st);
        virStorageVolDelete(vol, 0);
        goto out;
    }
    char *path = virStorageVolGetPath(vol);
    *ret_path = g_strdup(path);
    free(path);
    r = 0;
out:
    if (st)
        virStreamFree(st);
    if (vol)
        virStorageVolFree(vol);
    if (pool)
        virStoragePoolFree(pool);
    virResetLastError();
    virConnectClose(conn);
    return r;
}
