/* ssi_log: stderr or syslog sink shared by ssid, the tools and czmq. */
#include "ssi_log.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static int s_level = SSI_LOG_INFO;
static bool s_syslog;
static char s_ident[32] = "ssi";
static char s_tag[64];

void ssi_log_open(const char *ident, const char *tag, bool to_syslog)
{
    snprintf(s_ident, sizeof s_ident, "%s", ident ? ident : "ssi");
    snprintf(s_tag, sizeof s_tag, "%s", tag ? tag : "");
    s_syslog = to_syslog;
    if (to_syslog) {
        openlog(s_ident, LOG_PID, LOG_DAEMON);
        zsys_set_logident(s_ident);
        zsys_set_logsystem(true);
        zsys_set_logstream(NULL);
    } else {
        zsys_set_logsystem(false);
        zsys_set_logstream(stderr);
    }
}

void ssi_log_set_level(int level)
{
    s_level = level;
}

int ssi_log_level(void)
{
    return s_level;
}

void ssi_log_msg(int level, const char *prefix, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char text[1024];
    va_list ap;

    if (level > s_level)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (s_syslog) {
        syslog(prio[level], "%s%s%s: %s", s_tag, *s_tag ? ": " : "", prefix, text);
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    /* The date too, so that logs of several nodes merge into one timeline
     * (ssilab log) and a log that spans midnight stays in order. */
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld %s%s%s %s: %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            s_ident, *s_tag ? " " : "", s_tag, names[level], prefix, text);
}
