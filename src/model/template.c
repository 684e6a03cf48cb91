/*
 * The row table of model/template.h.
 */
#include "config.h"

#include "model/row-table.h"
#include "model/template.h"

static const struct row_field template_fields[] = {
    FF(template_row, id, ROW_INT, ROW_F_INTERNAL),
    F(template_row, name, ROW_STR),
    F(template_row, version, ROW_INT),
    FF(template_row, host_id, ROW_INT, ROW_F_INTERNAL),
    F(template_row, host, ROW_STR),
    F(template_row, pool, ROW_STR),
    F(template_row, source_uuid, ROW_STR),
    F(template_row, source_vm, ROW_STR),
    FF(template_row, xml, ROW_STR, ROW_F_OMIT_NULL),
    F(template_row, disks, ROW_JSON),
    F(template_row, created, ROW_TIME),
    F(template_row, by, ROW_STR),
    F(template_row, audit_id, ROW_INT),
    FF(template_row, deleted, ROW_TIME, ROW_F_OMIT_NULL),
};
DESC(template_row, "templates", template_fields);
