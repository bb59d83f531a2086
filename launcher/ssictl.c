/* ssictl: the user's view of the cluster: keys, nodes, processes, and moving a
 * process (migrate). Talks to the local ssid over its Unix socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_cert.h"
#include "ssi_cluster.h"
#include "ssi_json.h"
#include "ssi_local.h"
#include "ssi_msg.h"
#include "ssictl_admin.h"

#define TIMEOUT_MS 5000
#define MIGRATE_TIMEOUT_MS 600000

static const char *s_socket;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ssictl [--socket PATH] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n"
            "  keygen DIR [--name NODE]  make a node key pair in DIR; prints the public key\n"
            "  nodes [--json]            every node: state, load, CPUs, free memory, processes\n"
            "  ps [--json]               every ssi process in the cluster\n"
            "  migrate [HOME:]PID NODE   move a process to NODE ('home' brings it back)\n"
            "%s"
            "\n"
            "  -s, --socket PATH         ssid's local socket [$SSI_SOCKET or %s]\n"
            "  -h, --help                this help\n"
            "\n"
            "See ssictl(1).\n",
            ssictl_admin_usage, SSI_LOCAL_DEFAULT);
}

/* Prints the finished --json document (ssi_json.h) and a newline. */
static int s_json_print(ssi_json_t **pj)
{
    const char *text = *pj ? ssi_json_text(*pj, NULL) : NULL;
    if (!text)
        fprintf(stderr, "ssictl: cannot write JSON: %s\n",
                strerror(*pj && ssi_json_error(*pj) ? -ssi_json_error(*pj) : ENOMEM));
    else
        printf("%s\n", text);
    ssi_json_destroy(pj);
    return text ? 0 : 1;
}

/* Send one request to ssid and read its reply into rep. */
static long s_call(int type, uint8_t *rep, size_t cap)
{
    int fd = ssi_local_connect(s_socket);
    if (fd < 0) {
        fprintf(
            stderr,
            "ssictl: cannot reach ssid at %s: %s\n"
            "ssictl: is ssid running on this node? Start it with: ssid --cluster FILE --name NODE --keys DIR\n",
            s_socket, strerror(-fd));
        return fd;
    }
    uint8_t req[64];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, req, sizeof req, type);
    if (type == SSI_MSG_PS)
        ssi_msg_put_u64(&w, SSI_TAG_SCOPE, 1);
    long n = ssi_msg_end(&w);
    int rc = ssi_local_send(fd, req, (size_t)n);
    if (rc == 0)
        n = ssi_local_recv(fd, rep, cap, TIMEOUT_MS);
    close(fd);
    if (rc < 0 || n < 0) {
        fprintf(stderr, "ssictl: no answer from ssid at %s: %s\n", s_socket,
                strerror(rc < 0 ? -rc : (int)-n));
        return rc < 0 ? rc : n;
    }
    return n;
}

static int s_parse_reply(const uint8_t *buf, long len, ssi_msg_t *m, int want)
{
    int rc = ssi_msg_parse(buf, (size_t)len, m);
    if (rc < 0) {
        fprintf(stderr, "ssictl: malformed reply from ssid: %s\n", strerror(-rc));
        return -1;
    }
    if (m->type == SSI_MSG_ERROR) {
        char text[512] = "?";
        ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
        fprintf(stderr, "ssictl: %s\n", text);
        return -1;
    }
    if (m->type != want) {
        fprintf(stderr, "ssictl: unexpected %s reply from ssid\n", ssi_msg_type_name(m->type));
        return -1;
    }
    return 0;
}

static int cmd_nodes(int json)
{
    static uint8_t buf[SSI_MSG_HEADER + SSI_MSG_MAX_BODY];
    static ssi_msg_t m;
    long n = s_call(SSI_MSG_NODES, buf, sizeof buf);
    if (n < 0 || s_parse_reply(buf, n, &m, SSI_MSG_NODES_REP) < 0)
        return 1;
    ssi_json_t *j = NULL;
    if (json) {
        j = ssi_json_new();
        if (j)
            ssi_json_array_begin(j);
    } else {
        printf("%-16s %-8s %6s %6s %10s %6s %8s %8s\n", "NODE", "STATE", "LOAD", "CPUS", "FREE-MiB",
               "PROCS", "AGE", "EMPTY");
    }
    for (size_t i = 0; i < m.nfields; i++) {
        if (m.field[i].tag != SSI_TAG_LOAD)
            continue;
        ssi_field_t f[16];
        long k = ssi_msg_fields(m.field[i].val, m.field[i].len, f, 16);
        char name[SSI_NAME_MAX + 1] = "?", state[16] = "?";
        uint64_t loadm = 0, ncpu = 0, cpum = 0, freekb = 0, nprocs = 0, age = 0, blocked = 0;
        if (k < 0)
            continue;
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_BLOCKED), &blocked);
        uint64_t emptyms = 0;
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_EMPTYMS), &emptyms);
        const char *admin = blocked == 2 ? "draining" : blocked ? "blocked" : "open";
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), name, sizeof name);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_STATE), state, sizeof state);
        int known = ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_AGEMS), &age) == 0;
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_LOADM), &loadm);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_NCPU), &ncpu);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_CPUM), &cpum);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_FREEKB), &freekb);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_NPROCS), &nprocs);
        if (json) {
            if (!j)
                continue;
            ssi_json_object_begin(j);
            ssi_json_key(j, "name");
            ssi_json_str(j, name);
            ssi_json_key(j, "state");
            ssi_json_str(j, state);
            ssi_json_key(j, "guests");
            ssi_json_str(j, admin);
            if (known) {
                ssi_json_key(j, "load");
                ssi_json_fixed(j, loadm / 1000.0, 2);
                ssi_json_key(j, "cpus");
                ssi_json_u64(j, ncpu);
                ssi_json_key(j, "cpu_share");
                ssi_json_fixed(j, cpum / 1000.0, 2);
                ssi_json_key(j, "free_mib");
                ssi_json_u64(j, freekb / 1024);
                ssi_json_key(j, "procs");
                ssi_json_u64(j, nprocs);
                ssi_json_key(j, "age_ms");
                ssi_json_u64(j, age);
                ssi_json_key(j, "empty_ms");
                ssi_json_u64(j, emptyms);
            }
            ssi_json_object_end(j);
        } else if (known) {
            char cpus[32];
            if (cpum && cpum != ncpu * 1000)
                snprintf(cpus, sizeof cpus, "%.2f", cpum / 1000.0);
            else
                snprintf(cpus, sizeof cpus, "%llu", (unsigned long long)ncpu);
            char empty[24] = "-";
            if (emptyms)
                snprintf(empty, sizeof empty, "%.1fs", emptyms / 1000.0);
            printf("%-16s %-8s %6.2f %6s %10llu %6llu %7.1fs %8s\n", name,
                   strcmp(state, "up") == 0 && blocked ? admin : state, loadm / 1000.0, cpus,
                   (unsigned long long)(freekb / 1024), (unsigned long long)nprocs, age / 1000.0,
                   empty);
        } else {
            printf("%-16s %-8s %6s %6s %10s %6s %8s %8s\n", name, state, "-", "-", "-", "-",
                   "never", "-");
        }
    }
    if (json) {
        if (j)
            ssi_json_array_end(j);
        return s_json_print(&j);
    }
    return 0;
}

static int cmd_ps(int json)
{
    static uint8_t buf[SSI_MSG_HEADER + SSI_MSG_MAX_BODY];
    static ssi_msg_t m;
    long n = s_call(SSI_MSG_PS, buf, sizeof buf);
    if (n < 0 || s_parse_reply(buf, n, &m, SSI_MSG_PS_REP) < 0)
        return 1;
    ssi_json_t *j = NULL;
    if (json) {
        j = ssi_json_new();
        if (j)
            ssi_json_array_begin(j);
    } else {
        printf("%-12s %8s %-12s %-8s %6s %5s %8s  %s\n", "HOME", "PID", "NODE", "STATE", "UID",
               "MOVES", "ON-NODE", "COMMAND");
    }
    for (size_t i = 0; i < m.nfields; i++) {
        if (m.field[i].tag == SSI_TAG_TEXT) {
            char node[SSI_NAME_MAX + 1];
            if (ssi_field_str(&m.field[i], node, sizeof node) == 0)
                fprintf(stderr, "ssictl: node %s did not answer; its processes are missing\n",
                        node);
            continue;
        }
        if (m.field[i].tag != SSI_TAG_PROC)
            continue;
        ssi_field_t f[16];
        long k = ssi_msg_fields(m.field[i].val, m.field[i].len, f, 16);
        if (k < 0)
            continue;
        char home[SSI_NAME_MAX + 1] = "?", node[SSI_NAME_MAX + 1] = "?", state[32] = "?";
        char cmd[SSI_MSG_MAX_FIELD + 1] = "?";
        uint64_t pid = 0, uid = 0, moves = 0, onms = 0, stay = 0;
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_MOVES), &moves);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_ONNODEMS), &onms);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_STAY), &stay);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_HOME), home, sizeof home);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), node, sizeof node);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_STATE), state, sizeof state);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_CMD), cmd, sizeof cmd);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_PID), &pid);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_UID), &uid);
        if (json) {
            if (!j)
                continue;
            ssi_json_object_begin(j);
            ssi_json_key(j, "home");
            ssi_json_str(j, home);
            ssi_json_key(j, "pid");
            ssi_json_u64(j, pid);
            ssi_json_key(j, "node");
            ssi_json_str(j, node);
            ssi_json_key(j, "state");
            ssi_json_str(j, state);
            ssi_json_key(j, "uid");
            ssi_json_u64(j, uid);
            ssi_json_key(j, "cmd");
            ssi_json_str(j, cmd);
            ssi_json_key(j, "moves");
            ssi_json_u64(j, moves);
            ssi_json_key(j, "on_node_ms");
            ssi_json_u64(j, onms);
            ssi_json_key(j, "stay");
            ssi_json_u64(j, stay != 0);
            ssi_json_object_end(j);
        } else {
            char on[16];
            snprintf(on, sizeof on, "%.1fs", onms / 1000.0);
            printf("%-12s %8llu %-12s %-8s %6llu %5llu %8s  %s%s\n", home, (unsigned long long)pid,
                   node, state, (unsigned long long)uid, (unsigned long long)moves, on,
                   stay ? "[stay] " : "", cmd);
        }
    }
    if (json) {
        if (j)
            ssi_json_array_end(j);
        return s_json_print(&j);
    }
    return 0;
}

/* ssictl migrate [HOME:]PID NODE */
static int cmd_migrate(int argc, char **argv)
{
    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf(
            "Usage: ssictl migrate [HOME:]PID NODE\n"
            "Move ssi process PID (its home pid, as 'ssictl ps' shows) to NODE, or back with NODE 'home'.\n");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "Usage: ssictl migrate [HOME:]PID NODE\n");
        return 2;
    }
    char home[SSI_NAME_MAX + 1] = "";
    const char *pid_s = argv[0];
    const char *colon = strchr(argv[0], ':');
    if (colon) {
        size_t n = (size_t)(colon - argv[0]);
        if (n == 0 || n > SSI_NAME_MAX) {
            fprintf(stderr, "ssictl migrate: '%s' is not HOME:PID\n", argv[0]);
            return 2;
        }
        memcpy(home, argv[0], n);
        home[n] = 0;
        pid_s = colon + 1;
    }
    char *end;
    long pid = strtol(pid_s, &end, 10);
    if (*pid_s == 0 || *end || pid <= 0) {
        fprintf(stderr, "ssictl migrate: '%s' is not a process id\n", argv[0]);
        return 2;
    }
    const char *node = argv[1];
    if (strcmp(node, "home") != 0 && !ssi_cluster_valid_name(node)) {
        fprintf(stderr, "ssictl migrate: '%s' is not a node name\n", node);
        return 2;
    }
    static uint8_t req[512], rep[4096];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, req, sizeof req, SSI_MSG_MIGRATE);
    ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)pid);
    ssi_msg_put_str(&w, SSI_TAG_NODE, node);
    if (*home)
        ssi_msg_put_str(&w, SSI_TAG_HOME, home);
    long n = ssi_msg_end(&w);
    int fd = ssi_local_connect(s_socket);
    if (fd < 0) {
        fprintf(stderr, "ssictl: cannot reach ssid at %s: %s\n", s_socket, strerror(-fd));
        return 1;
    }
    /* A large process takes a while to move: wait as long as ssid works. */
    int rc = ssi_local_send(fd, req, (size_t)n);
    if (rc == 0)
        n = ssi_local_recv(fd, rep, sizeof rep, MIGRATE_TIMEOUT_MS);
    close(fd);
    if (rc < 0 || n < 0) {
        fprintf(stderr, "ssictl migrate: no answer from ssid: %s\n",
                strerror(rc < 0 ? -rc : (int)-n));
        return 1;
    }
    static ssi_msg_t m;
    if (s_parse_reply(rep, n, &m, SSI_MSG_OK) < 0)
        return 1;
    char text[1024] = "";
    ssi_field_str(ssi_msg_find(m.field, m.nfields, SSI_TAG_TEXT), text, sizeof text);
    if (*text)
        printf("%s\n", text);
    return 0;
}

static int cmd_keygen(int argc, char **argv)
{
    const char *dir = NULL, *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            fprintf(
                stderr,
                "ssictl keygen: unexpected argument '%s'\nUsage: ssictl keygen DIR [--name NODE]\n",
                argv[i]);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "Usage: ssictl keygen DIR [--name NODE]\n");
        return 2;
    }
    char z85[41], err[512];
    if (ssi_cert_keygen(dir, name, z85, err, sizeof err) < 0) {
        fprintf(stderr, "ssictl keygen: %s\n", err);
        return 1;
    }
    printf("%s\n", z85);
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1;
    s_socket = ssi_local_path();
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "--socket") == 0 || strcmp(argv[i], "-s") == 0) && i + 1 < argc)
            s_socket = argv[++i];
        else if (strncmp(argv[i], "--socket=", 9) == 0)
            s_socket = argv[i] + 9;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ssictl: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i == argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    int json = 0;
    if (strcmp(cmd, "nodes") == 0 || strcmp(cmd, "ps") == 0) {
        for (; i < argc; i++) {
            if (strcmp(argv[i], "--json") == 0)
                json = 1;
            else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                printf("Usage: ssictl %s [--json]\n", cmd);
                return 0;
            } else {
                fprintf(stderr, "ssictl %s: unexpected argument '%s'\n", cmd, argv[i]);
                return 2;
            }
        }
        return strcmp(cmd, "nodes") == 0 ? cmd_nodes(json) : cmd_ps(json);
    }
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc - i, argv + i);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - i, argv + i);
    int admin = ssictl_admin_main(s_socket, cmd, argc - i, argv + i);
    if (admin >= 0)
        return admin;
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ssictl: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
