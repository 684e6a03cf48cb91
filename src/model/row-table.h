/*
 * model/row-table: the macros that write a row table (model/row.h), one
 * line per field, the JSON member named after it.  For the model's .c
 * files only.
 */
#pragma once

#include <stddef.h>

#include "model/row.h"

#define F(st, field, type)                                                                         \
    {                                                                                              \
#field, type, offsetof(struct st, field), 0                                                \
    }
#define FF(st, field, type, flags)                                                                 \
    {                                                                                              \
#field, type, offsetof(struct st, field), flags                                            \
    }
#define DESC(st, list, fields_)                                                                    \
    const struct row_desc st##_desc = {list, sizeof(struct st), fields_, G_N_ELEMENTS(fields_)}
