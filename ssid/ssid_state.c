/* ssid_state: the process table across an ssid restart (see
 * ssid_state.h). Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_log.h"
#include "ssid_client.h"
#include "ssid_node.h"

static char s_path[4200];
static char *s_last; /* what was written last */

void ssid_state_init(const char *socket_path)
{
    const char *slash = strrchr(socket_path, '/');
    int n = slash ? (int)(slash - socket_path) : 0;
    snprintf(s_path, sizeof s_path, "%.*s%sssid.procs", n, socket_path, slash ? "/" : "");
}

void ssid_state_save(void)
{
    if (!s_path[0])
        return;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return;
    buf[0] = 0;
    for (int i = 0; i < ssid_client_count(); i++) {
        ssid_client_t *c = ssid_client_at(i);
        if (!c->registered)
            continue;
        char line[1200];
        int n = snprintf(line, sizeof line, "%d %llu %u %d %s %s\n", (int)c->pid,
                         (unsigned long long)ssid_client_start_time(c->pid), (unsigned)c->uid,
                         (int)c->ppid, c->away >= 0 ? ssid_node_peer_name(c->away) : "-", c->cmd);
        if (n <= 0 || (size_t)n >= sizeof line)
            continue;
        if (len + (size_t)n + 1 > cap) {
            char *nb = realloc(buf, cap * 2 + (size_t)n);
            if (!nb) {
                free(buf);
                return;
            }
            buf = nb;
            cap = cap * 2 + (size_t)n;
        }
        memcpy(buf + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    if (s_last && strcmp(s_last, buf) == 0) {
        free(buf);
        return;
    }
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.new", s_path);
    FILE *f = fopen(tmp, "w");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0 || rename(tmp, s_path) < 0) {
        ssi_warn("cannot write %s: %s", s_path, strerror(errno));
        free(buf);
        return;
    }
    free(s_last);
    s_last = buf;
}

void ssid_state_load(void)
{
    FILE *f = s_path[0] ? fopen(s_path, "r") : NULL;
    char line[1300];
    int adopted = 0, gone = 0;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        int pid, ppid, off = 0;
        unsigned long long start;
        unsigned uid;
        char node[SSI_NAME_MAX + 2];
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%d %llu %u %d %64s %n", &pid, &start, &uid, &ppid, node, &off) < 5 ||
            off == 0 || pid <= 0)
            continue;
        if (start == 0 || ssid_client_start_time(pid) != start || ssid_client_by_pid(pid)) {
            gone++;
            continue;
        }
        int away = strcmp(node, "-") == 0 ? -1 : ssi_cluster_index(ssid_node.cluster, node);
        if (away == ssid_node.self || (away < 0 && strcmp(node, "-") != 0))
            away = -1;
        if (ssid_client_adopt(pid, uid, ppid, line + off, away) == 0)
            adopted++;
    }
    fclose(f);
    if (adopted || gone)
        ssi_info("found %d ssi process%s of a previous ssid again (%d ended meanwhile)", adopted,
                 adopted == 1 ? "" : "es", gone);
}
