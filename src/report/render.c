/*
 * Reports rendered (render.h): JSON reports in, CSV and self-contained
 * HTML out.
 */
#include "config.h"

#include "report/render.h"

#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

static double jd(json_object *o, const char *k)
{
    json_object *x;
    return json_object_object_get_ex(o, k, &x) && x ? json_object_get_double(x) : NAN;
}

static const char *js(json_object *o, const char *k)
{
    json_object *x;
    return json_object_object_get_ex(o, k, &x) && x ? json_object_get_string(x) : "";
}

static json_object *jo(json_object *o, const char *k)
{
    json_object *x = NULL;
    json_object_object_get_ex(o, k, &x);
    return x;
}

static const char *const total_cols[] = {"up_s",           "host_only_s",      "unresponsive_s",
                                         "planned_down_s", "unplanned_down_s", "unknown_s"};

/* CSV fields are quoted when they hold a comma, quote or line break. */
static void csv_field(GString *s, const char *v)
{
    if (!strpbrk(v, ",\"\r\n")) {
        g_string_append(s, v);
        return;
    }
    g_string_append_c(s, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            g_string_append_c(s, '"');
        g_string_append_c(s, *p);
    }
    g_string_append_c(s, '"');
}

static void csv_num(GString *s, double v)
{
    if (!isnan(v))
        g_string_append_printf(s, "%.8g", v);
}

GString *report_avail_csv(json_object *rep)
{
    GString *s = g_string_new("vm,uuid,host");
    for (guint i = 0; i < G_N_ELEMENTS(total_cols); i++)
        g_string_append_printf(s, ",%s", total_cols[i]);
    g_string_append(s, ",availability,responsive,host_view_only,outages\r\n");
    json_object *vms = jo(rep, "vms");
    for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
        json_object *v = json_object_array_get_idx(vms, i), *t = jo(v, "totals");
        csv_field(s, js(v, "name"));
        g_string_append_c(s, ',');
        csv_field(s, js(v, "uuid"));
        g_string_append_c(s, ',');
        csv_field(s, js(v, "host"));
        for (guint k = 0; k < G_N_ELEMENTS(total_cols); k++) {
            g_string_append_c(s, ',');
            csv_num(s, jd(t, total_cols[k]));
        }
        g_string_append_c(s, ',');
        csv_num(s, jd(t, "availability"));
        g_string_append_c(s, ',');
        csv_num(s, jd(t, "responsive"));
        g_string_append_printf(s, ",%s,%zu\r\n",
                               json_object_get_boolean(jo(v, "host_view_only")) ? "yes" : "no",
                               json_object_array_length(jo(v, "outages")));
    }
    return s;
}

static void html_text(GString *s, const char *v)
{
    g_autofree char *e = g_markup_escape_text(v ? v : "", -1);
    g_string_append(s, e);
}

static void html_pct(GString *s, double v)
{
    if (isnan(v))
        g_string_append(s, "–");
    else
        g_string_append_printf(s, "%.3f %%", v * 100.0);
}

/* One VM's time as a bar: up, host-only, unresponsive, planned, unplanned,
 * unknown, in proportion. */
static void html_bar(GString *s, json_object *t)
{
    static const char *const colours[] = {"#2e7d32", "#81c784", "#f9a825",
                                          "#90a4ae", "#c62828", "#e0e0e0"};
    double all = 0;
    for (guint k = 0; k < G_N_ELEMENTS(total_cols); k++)
        all += fmax(jd(t, total_cols[k]), 0);
    g_string_append(s, "<svg width=\"240\" height=\"14\" role=\"img\">");
    double x = 0;
    for (guint k = 0; all > 0 && k < G_N_ELEMENTS(total_cols); k++) {
        double w = 240.0 * fmax(jd(t, total_cols[k]), 0) / all;
        if (w > 0)
            g_string_append_printf(s,
                                   "<rect x=\"%.2f\" width=\"%.2f\" height=\"14\" fill=\"%s\">"
                                   "<title>%s</title></rect>",
                                   x, w, colours[k], total_cols[k]);
        x += w;
    }
    g_string_append(s, "</svg>");
}

GString *report_avail_html(json_object *rep)
{
    GString *s =
        g_string_new("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>kanri availability report</title><style>"
                     "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
                     "table{border-collapse:collapse;margin:1em 0}td,th{padding:3px 8px;"
                     "border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right}"
                     ".bad{color:#c62828}@media print{body{margin:0}}</style></head><body>");
    g_string_append(s, "<h1>Availability</h1><p>From ");
    html_text(s, js(rep, "from"));
    g_string_append(s, " to ");
    html_text(s, js(rep, "to"));
    if (*js(rep, "group")) {
        g_string_append(s, ", group ");
        html_text(s, js(rep, "group"));
    }
    g_string_append(s, ".</p>");
    json_object *t = jo(rep, "totals"), *slo = jo(rep, "slo");
    g_string_append(s, "<p>Availability ");
    html_pct(s, jd(t, "availability"));
    g_string_append(s, " (responsive ");
    html_pct(s, jd(t, "responsive"));
    g_string_append_printf(s, "); unknown %.0f s.</p>", jd(t, "unknown_s"));
    if (slo) {
        bool met = json_object_get_boolean(jo(slo, "met"));
        g_string_append_printf(s, "<p class=\"%s\">SLO ", met ? "" : "bad");
        html_pct(s, jd(slo, "target"));
        g_string_append_printf(s, ": %s; error budget %.0f s, ", met ? "met" : "missed",
                               jd(slo, "budget_s"));
        html_pct(s, jd(slo, "budget_used"));
        g_string_append_printf(s, " used, burn rate %.2f.</p>", jd(slo, "burn_rate"));
    }
    g_string_append(s, "<table><tr><th>VM</th><th>host</th><th>time</th><th>availability</th>"
                       "<th>unplanned down (s)</th><th>unknown (s)</th><th>note</th></tr>");
    json_object *vms = jo(rep, "vms");
    for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
        json_object *v = json_object_array_get_idx(vms, i), *vt = jo(v, "totals");
        g_string_append(s, "<tr><td>");
        html_text(s, js(v, "name"));
        g_string_append(s, "</td><td>");
        html_text(s, js(v, "host"));
        g_string_append(s, "</td><td>");
        html_bar(s, vt);
        g_string_append(s, "</td><td class=\"n\">");
        html_pct(s, jd(vt, "availability"));
        g_string_append_printf(s, "</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f</td><td>",
                               jd(vt, "unplanned_down_s"), jd(vt, "unknown_s"));
        html_text(s, js(v, "caveat"));
        g_string_append(s, "</td></tr>");
    }
    g_string_append(s, "</table><h2>Outages</h2><table><tr><th>VM</th><th>kind</th><th>start</th>"
                       "<th>end</th><th>duration (s)</th><th>planned</th><th>cause</th></tr>");
    json_object *outs = jo(rep, "outages");
    for (size_t i = 0; outs && i < json_object_array_length(outs); i++) {
        json_object *o = json_object_array_get_idx(outs, i);
        g_string_append(s, "<tr><td>");
        html_text(s, js(o, "vm"));
        g_string_append(s, "</td><td>");
        html_text(s, js(o, "kind"));
        g_string_append(s, "</td><td>");
        html_text(s, js(o, "start"));
        g_string_append(s, json_object_get_boolean(jo(o, "began_before")) ? " (before)" : "");
        g_string_append(s, "</td><td>");
        html_text(s, js(o, "end"));
        g_string_append(s, json_object_get_boolean(jo(o, "open")) ? " (open)" : "");
        g_string_append_printf(s, "</td><td class=\"n\">%.0f</td><td>%s</td><td>",
                               jd(o, "duration_s"),
                               json_object_get_boolean(jo(o, "planned")) ? "yes" : "no");
        html_text(s, js(o, "cause"));
        g_string_append(s, "</td></tr>");
    }
    g_string_append(s, "</table></body></html>\n");
    return s;
}

static const char *const res_names[] = {"cpu", "memory", "disk"};

GString *report_capacity_csv(json_object *rep)
{
    GString *s = g_string_new("host,usable,cpus,memory_bytes,disk_bytes,vms,vcpus,"
                              "memory_allocated_bytes,cpu_cores_used,memory_bytes_used,"
                              "disk_bytes_used,fits,limited_by,cpu_exhausted,memory_exhausted,"
                              "disk_exhausted\r\n");
    json_object *hosts = jo(rep, "hosts");
    for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i), *c = jo(h, "capacity"),
                    *d = jo(h, "demand"), *f = jo(h, "fits"), *fc = jo(h, "forecasts");
        csv_field(s, js(h, "name"));
        g_string_append_printf(s, ",%s", json_object_get_boolean(jo(h, "usable")) ? "yes" : "no");
        const char *nums[][2] = {{"c", "cpus"},
                                 {"c", "memory_bytes"},
                                 {"c", "disk_bytes"},
                                 {"d", "vms"},
                                 {"d", "vcpus"},
                                 {"d", "memory_bytes"},
                                 {"d", "cpu_cores_used"},
                                 {"d", "memory_bytes_used"},
                                 {"d", "disk_bytes_used"},
                                 {"f", "n"}};
        for (size_t k = 0; k < G_N_ELEMENTS(nums); k++) {
            json_object *o = nums[k][0][0] == 'c' ? c : nums[k][0][0] == 'd' ? d : f;
            g_string_append_c(s, ',');
            csv_num(s, jd(o, nums[k][1]));
        }
        g_string_append_c(s, ',');
        csv_field(s, js(f, "limited_by"));
        for (size_t k = 0; k < G_N_ELEMENTS(res_names); k++) {
            json_object *ex = jo(jo(fc, res_names[k]), "exhausted");
            g_string_append_c(s, ',');
            csv_field(s, ex ? js(ex, "at") : "");
        }
        g_string_append(s, "\r\n");
    }
    return s;
}

/* A chart of one forecast: its history, the forecast with its interval
 * band, and the limit, scaled to fit 480 x 140. */
static void svg_chart(GString *s, json_object *f, const char *title, double unit)
{
    json_object *hist = jo(f, "history"), *fut = jo(f, "forecast");
    size_t nh = hist ? json_object_array_length(hist) : 0;
    size_t nf = fut ? json_object_array_length(fut) : 0;
    double limit = jd(f, "limit") / unit;
    double vmax = isnan(limit) ? 0 : limit, vmin = 0;
    for (size_t i = 0; i < nh + nf; i++) {
        json_object *p =
            i < nh ? json_object_array_get_idx(hist, i) : json_object_array_get_idx(fut, i - nh);
        for (size_t k = 1; k < json_object_array_length(p); k++)
            vmax = fmax(vmax, json_object_get_double(json_object_array_get_idx(p, k)) / unit);
    }
    if (vmax <= vmin)
        vmax = vmin + 1;
    const double W = 480, H = 140;
    size_t n = nh + nf;
#define X(i) (n > 1 ? (double)(i)*W / (double)(n - 1) : 0)
#define Y(v) (H - ((v)-vmin) * H / (vmax - vmin))
    g_string_append_printf(s, "<figure><figcaption>");
    html_text(s, title);
    g_string_append_printf(s,
                           " (%s; %s)</figcaption><svg width=\"%.0f\" height=\"%.0f\" "
                           "viewBox=\"-2 -2 %.0f %.0f\" role=\"img\">",
                           js(f, "method"), js(f, "verdict"), W + 4, H + 4, W + 4, H + 4);
    g_string_append_printf(s,
                           "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
                           "stroke=\"#ccc\"/>",
                           W, H);
    if (nf) { /* the interval band */
        g_string_append(s, "<polygon fill=\"#bbdefb\" points=\"");
        for (size_t i = 0; i < nf; i++) {
            json_object *p = json_object_array_get_idx(fut, i);
            g_string_append_printf(
                s, "%.1f,%.1f ", X(nh + i),
                Y(json_object_get_double(json_object_array_get_idx(p, 3)) / unit));
        }
        for (size_t i = nf; i-- > 0;) {
            json_object *p = json_object_array_get_idx(fut, i);
            g_string_append_printf(
                s, "%.1f,%.1f ", X(nh + i),
                Y(json_object_get_double(json_object_array_get_idx(p, 2)) / unit));
        }
        g_string_append(s, "\"/>");
    }
    for (int part = 0; part < 2; part++) {
        json_object *a = part ? fut : hist;
        size_t m = part ? nf : nh, off = part ? nh : 0;
        if (!m)
            continue;
        g_string_append_printf(s,
                               "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                               "points=\"",
                               part ? "#1565c0" : "#333");
        for (size_t i = 0; i < m; i++) {
            json_object *p = json_object_array_get_idx(a, i);
            g_string_append_printf(
                s, "%.1f,%.1f ", X(off + i),
                Y(json_object_get_double(json_object_array_get_idx(p, 1)) / unit));
        }
        g_string_append(s, "\"/>");
    }
    if (!isnan(limit))
        g_string_append_printf(s,
                               "<line x1=\"0\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" "
                               "stroke=\"#c62828\" stroke-dasharray=\"4 3\"/>",
                               W, Y(limit), Y(limit));
#undef X
#undef Y
    g_string_append_printf(s, "</svg></figure>");
}

GString *report_capacity_html(json_object *rep)
{
    GString *s =
        g_string_new("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<title>kanri capacity report</title><style>"
                     "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
                     "table{border-collapse:collapse;margin:1em 0}td,th{padding:3px 8px;"
                     "border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right}"
                     "figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:12px}"
                     "@media print{body{margin:0}figure{break-inside:avoid}}</style></head><body>");
    g_string_append(s, "<h1>Capacity</h1><p>Generated ");
    html_text(s, js(rep, "generated"));
    g_string_append(s, "; forecasts learnt from ");
    html_text(s, js(rep, "history_from"));
    g_string_append_printf(s, " and looking %.0f days ahead.</p>", jd(rep, "horizon_s") / 86400);
    json_object *size = jo(rep, "size");
    g_string_append_printf(s, "<p>Headroom in VMs of %.0f vCPUs, %.1f GiB memory, %.1f GiB disk",
                           jd(size, "vcpus"), jd(size, "memory_bytes") / (1 << 30),
                           jd(size, "disk_bytes") / (1 << 30));
    if (*js(size, "like")) {
        g_string_append(s, " (like ");
        html_text(s, js(size, "like"));
        g_string_append(s, ")");
    }
    g_string_append(s, ".</p><table><tr><th>host</th><th>CPU demand / cores</th>"
                       "<th>memory used / total (GiB)</th><th>fit</th><th>limited by</th></tr>");
    json_object *hosts = jo(rep, "hosts");
    for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i), *c = jo(h, "capacity"),
                    *d = jo(h, "demand"), *f = jo(h, "fits");
        g_string_append(s, "<tr><td>");
        html_text(s, js(h, "name"));
        g_string_append_printf(s,
                               "</td><td class=\"n\">%.2f / %.0f</td><td class=\"n\">%.1f / "
                               "%.1f</td><td class=\"n\">%.0f</td><td>",
                               jd(d, "cpu_cores_used"), jd(c, "cpus"),
                               jd(d, "memory_bytes_used") / (1 << 30),
                               jd(c, "memory_bytes") / (1 << 30), jd(f, "n"));
        html_text(s, js(f, "limited_by"));
        g_string_append(s, "</td></tr>");
    }
    g_string_append(s, "</table>");
    for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i), *fc = jo(h, "forecasts");
        g_string_append(s, "<h2>");
        html_text(s, js(h, "name"));
        g_string_append(s, "</h2>");
        static const double units[] = {1, 1 << 30, 1 << 30};
        static const char *const titles[] = {"CPU demand (cores)", "Memory in use (GiB)",
                                             "Disk in use (GiB)"};
        for (size_t k = 0; k < G_N_ELEMENTS(res_names); k++) {
            json_object *f = jo(fc, res_names[k]);
            if (f)
                svg_chart(s, f, titles[k], units[k]);
        }
    }
    g_string_append(s, "</body></html>\n");
    return s;
}
