/* ssi_log: the one logger of the daemon and the tools. Messages go to stderr
 * or syslog with a per-file prefix; czmq's own messages go to the same sink.
 * Not for code that runs inside user processes (the shim has its own). */
#ifndef SSI_LOG_H
#define SSI_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum { SSI_LOG_ERROR, SSI_LOG_WARN, SSI_LOG_INFO, SSI_LOG_DEBUG };

/* Open the sink: ident names the program ("ssid"), tag is printed after it
 * (the node name; may be NULL), to_syslog picks syslog over stderr. */
void ssi_log_open(const char *ident, const char *tag, bool to_syslog);
void ssi_log_set_level(int level);
int ssi_log_level(void);
void ssi_log_msg(int level, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each .c file defines SSI_LOG_PREFIX ("gossip") before using these. */
#define ssi_error(...) ssi_log_msg(SSI_LOG_ERROR, SSI_LOG_PREFIX, __VA_ARGS__)
#define ssi_warn(...) ssi_log_msg(SSI_LOG_WARN, SSI_LOG_PREFIX, __VA_ARGS__)
#define ssi_info(...) ssi_log_msg(SSI_LOG_INFO, SSI_LOG_PREFIX, __VA_ARGS__)
#define ssi_debug(...)                                               \
    do {                                                             \
        if (ssi_log_level() >= SSI_LOG_DEBUG)                        \
            ssi_log_msg(SSI_LOG_DEBUG, SSI_LOG_PREFIX, __VA_ARGS__); \
    } while (0)

#endif
