/*
 * Structured log messages (log.h).
 */
#include "config.h"

#include "basic/log.h"

const char *klog_priority(GLogLevelFlags level)
{
    GLogLevelFlags l = level & G_LOG_LEVEL_MASK;
    if (l & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        return "3";
    if (l & G_LOG_LEVEL_WARNING)
        return "4";
    if (l & G_LOG_LEVEL_MESSAGE)
        return "5";
    if (l & G_LOG_LEVEL_INFO)
        return "6";
    return "7";
}

void klog(GLogLevelFlags level, const char *host, const char *vm, const char *action,
          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    GLogField fields[6] = {
        {"MESSAGE", msg, -1},
        {"PRIORITY", klog_priority(level), -1},
    };
    gsize n = 2;
    if (host)
        fields[n++] = (GLogField){"KANRI_HOST", host, -1};
    if (vm)
        fields[n++] = (GLogField){"KANRI_VM", vm, -1};
    if (action)
        fields[n++] = (GLogField){"KANRI_ACTION", action, -1};
    g_log_structured_array(level, fields, n);
}
