/* ssictl_admin: block, unblock, expel, drain [NODE]; stay, nostay [HOME:]PID
 * (see ssictl_admin.h and ssictl(1)). */
#include "ssictl_admin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_cluster.h"
#include "ssi_local.h"
#include "ssi_msg.h"
#include "ssictl_events.h"
#include "ssictl_call.h"
#include "ssictl_top.h"

#define S_TIMEOUT_MS 10000

const char ssictl_admin_usage[] =
    "  block [NODE]              NODE (default: this one) takes no new guests (root)\n"
    "  unblock [NODE]            it takes guests again (root)\n"
    "  expel [NODE]              send its guests home (root)\n"
    "  drain [NODE]              block, send guests home, move its own processes away (root)\n"
    "  stay [HOME:]PID           the balancer leaves PID where it is (owner or root)\n"
    "  nostay [HOME:]PID         the balancer may move PID again (owner or root)\n"
    "  events [--follow] [--json]  the cluster's migrations, decisions, refusals, node changes\n"
    "  top [-n FRAMES]           live view: nodes, busiest processes, latest migrations\n";

static int s_usage(const char *cmd, FILE *f)
{
    bool node_cmd = strcmp(cmd, "stay") != 0 && strcmp(cmd, "nostay") != 0;
    fprintf(f, "Usage: ssictl %s %s\n", cmd, node_cmd ? "[NODE]" : "[HOME:]PID");
    return f == stdout ? 0 : 2;
}

int ssictl_admin_main(const char *socket, const char *cmd, int argc, char **argv)
{
    if (strcmp(cmd, "events") == 0)
        return ssictl_events_main(socket, argc, argv);
    if (strcmp(cmd, "top") == 0)
        return ssictl_top_main(socket, argc, argv);
    static const char *const ops[] = {"block", "unblock", "expel", "drain", "stay", "nostay"};
    bool known = false;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        known |= strcmp(cmd, ops[i]) == 0;
    if (!known)
        return -1;
    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0))
        return s_usage(cmd, stdout);
    bool pid_cmd = strcmp(cmd, "stay") == 0 || strcmp(cmd, "nostay") == 0;
    char node[SSI_NAME_MAX + 1] = "";
    long pid = 0;
    if (pid_cmd) {
        if (argc != 1)
            return s_usage(cmd, stderr);
        const char *pid_s = argv[0], *colon = strchr(argv[0], ':');
        if (colon) {
            size_t n = (size_t)(colon - argv[0]);
            if (n == 0 || n > SSI_NAME_MAX) {
                fprintf(stderr, "ssictl %s: '%s' is not HOME:PID\n", cmd, argv[0]);
                return 2;
            }
            memcpy(node, argv[0], n);
            node[n] = 0;
            pid_s = colon + 1;
        }
        char *end;
        pid = strtol(pid_s, &end, 10);
        if (*pid_s == 0 || *end || pid <= 0) {
            fprintf(stderr, "ssictl %s: '%s' is not a process id\n", cmd, argv[0]);
            return 2;
        }
    } else {
        if (argc > 1)
            return s_usage(cmd, stderr);
        if (argc == 1)
            snprintf(node, sizeof node, "%s", argv[0]);
    }
    if (*node && !ssi_cluster_valid_name(node)) {
        fprintf(stderr, "ssictl %s: '%s' is not a node name\n", cmd, node);
        return 2;
    }
    uint8_t req[256];
    static uint8_t rep[4096];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, req, sizeof req, SSI_MSG_ADMIN);
    ssi_msg_put_str(&w, SSI_TAG_OP, cmd);
    if (*node)
        ssi_msg_put_str(&w, SSI_TAG_NODE, node);
    if (pid)
        ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)pid);
    long n = ssi_msg_end(&w);
    n = ssictl_exchange(req, (size_t)n, rep, sizeof rep, S_TIMEOUT_MS, false);
    if (n < 0)
        return 1;
    static ssi_msg_t m;
    int rc = ssi_msg_parse(rep, (size_t)n, &m);
    char text[1024] = "";
    if (rc == 0)
        ssi_field_str(ssi_msg_find(m.field, m.nfields, SSI_TAG_TEXT), text, sizeof text);
    if (rc < 0 || (m.type != SSI_MSG_OK && m.type != SSI_MSG_ERROR)) {
        fprintf(stderr, "ssictl %s: malformed reply from ssid\n", cmd);
        return 1;
    }
    if (m.type == SSI_MSG_ERROR) {
        fprintf(stderr, "ssictl %s: %s\n", cmd, text);
        return 1;
    }
    if (*text)
        printf("%s\n", text);
    return 0;
}
