/*
 * report/render: the reports' JSON (engine_report_availability(),
 * engine_report_capacity(), docs/api.md) as CSV, one line per VM or host,
 * and as a self-contained HTML page (inline CSS and SVG, no script,
 * nothing fetched) that prints cleanly to PDF.  Pure: JSON in, text out.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

GString *report_avail_csv(json_object *rep);
GString *report_avail_html(json_object *rep);
GString *report_capacity_csv(json_object *rep);
GString *report_capacity_html(json_object *rep);
