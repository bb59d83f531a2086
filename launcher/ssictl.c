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
#include "ssi_paths.h"
#include "ssictl_admin.h"
#include "ssictl_call.h"
#include "ssictl_ckpt.h"

#define MIGRATE_TIMEOUT_S 600
#define MISSING_MAX SSI_CLUSTER_MAX

static void usage(FILE *f)
{
    fprintf(
        f,
        "Usage: ssictl [--socket PATH] COMMAND [ARGS]\n"
        "\n"
        "Commands:\n"
        "  keygen DIR [--name NODE]  make a node key pair in DIR; prints the public key\n"
        "  nodes [--json]            every node: state, load, CPUs, free memory, processes\n"
        "  ps [--json] [--partial-ok]  every ssi process in the cluster\n"
        "  migrate [--json] [--timeout S] [HOME:]PID NODE  move a process to NODE ('home' brings it back)\n"
        "  metrics [--partial-ok]    the cluster's state and counters (Prometheus text format)\n"
        "  checkpoint PID [FILE]     write a checkpoint of a process at home; it runs on\n"
        "%s"
        "\n"
        "  -s, --socket PATH         ssid's local socket [$SSI_SOCKET or %s]\n"
        "  -V, --version             print the version and exit\n"
        "  -h, --help                this help\n"
        "\n"
        "See ssictl(1).\n",
        ssictl_admin_usage, SSI_LOCAL_DEFAULT);
}

static int cmd_nodes(int json)
{
    static uint8_t buf[SSI_MSG_HEADER + SSI_MSG_MAX_BODY];
    static ssi_msg_t m;
    long n = ssictl_call(SSI_MSG_NODES, buf, sizeof buf);
    if (n < 0 || ssictl_parse_reply(buf, n, &m, SSI_MSG_NODES_REP, NULL) < 0)
        return SSICTL_EXIT_ERROR;
    ssi_json_t *j = NULL;
    if (json) {
        j = ssictl_json_begin();
        if (j)
            ssi_json_array_begin(j);
    } else {
        printf("%-16s %-8s %6s %6s %10s %6s %8s %8s %s\n", "NODE", "STATE", "LOAD", "CPUS",
               "FREE-MiB", "PROCS", "AGE", "EMPTY", "VERSION");
    }
    for (size_t i = 0; i < m.nfields; i++) {
        if (m.field[i].tag != SSI_TAG_LOAD)
            continue;
        ssi_field_t f[16];
        long k = ssi_msg_fields(m.field[i].val, m.field[i].len, f, 16);
        char name[SSI_NAME_MAX + 1] = "?", state[40] = "?", version[64] = "";
        uint64_t loadm = 0, ncpu = 0, cpum = 0, freekb = 0, nprocs = 0, age = 0, proto = 0;
        uint64_t blocked = 0;
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
        /* The node's ssi version and protocol (issue #16). */
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_VERSION), version, sizeof version);
        int has_proto = ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_PROTO), &proto) == 0;
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
            /* Absent when not known (a node never heard, or incompatible). */
            if (version[0]) {
                ssi_json_key(j, "version");
                ssi_json_str(j, version);
            }
            if (has_proto) {
                ssi_json_key(j, "protocol");
                ssi_json_u64(j, proto);
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
            printf("%-16s %-8s %6.2f %6s %10llu %6llu %7.1fs %8s %s\n", name,
                   strcmp(state, "up") == 0 && blocked ? admin : state, loadm / 1000.0, cpus,
                   (unsigned long long)(freekb / 1024), (unsigned long long)nprocs, age / 1000.0,
                   empty, version[0] ? version : "-");
        } else {
            printf("%-16s %-8s %6s %6s %10s %6s %8s %8s %s\n", name, state, "-", "-", "-", "-",
                   "never", "-", version[0] ? version : "-");
        }
    }
    /* The table is this ssid's own (down nodes are in it, as down): no
     * node can be missing from it. */
    if (json) {
        if (j)
            ssi_json_array_end(j);
        return ssictl_json_end(&j, NULL, 0);
    }
    return 0;
}

static int cmd_ps(int json, int partial_ok)
{
    static uint8_t buf[SSI_MSG_HEADER + SSI_MSG_MAX_BODY];
    static ssi_msg_t m;
    static char missing[MISSING_MAX][SSI_NAME_MAX + 1];
    long n = ssictl_call(SSI_MSG_PS, buf, sizeof buf);
    if (n < 0 || ssictl_parse_reply(buf, n, &m, SSI_MSG_PS_REP, NULL) < 0)
        return SSICTL_EXIT_ERROR;
    size_t nmissing = ssictl_missing(&m, "its processes are missing", missing, MISSING_MAX);
    ssi_json_t *j = NULL;
    if (json) {
        j = ssictl_json_begin();
        if (j)
            ssi_json_array_begin(j);
    } else {
        printf("%-12s %8s %-12s %-8s %6s %5s %8s  %s\n", "HOME", "PID", "NODE", "STATE", "UID",
               "MOVES", "ON-NODE", "COMMAND");
    }
    for (size_t i = 0; i < m.nfields; i++) {
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
        uint64_t ckpt_age = 0;
        int has_ckpt =
            ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_CKPT_AGEMS), &ckpt_age) == 0;
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
            if (has_ckpt) {
                ssi_json_key(j, "checkpoint_age_ms");
                ssi_json_u64(j, ckpt_age);
            }
            ssi_json_object_end(j);
        } else {
            char on[16];
            snprintf(on, sizeof on, "%.1fs", onms / 1000.0);
            printf("%-12s %8llu %-12s %-8s %6llu %5llu %8s  %s%s", home, (unsigned long long)pid,
                   node, state, (unsigned long long)uid, (unsigned long long)moves, on,
                   stay ? "[stay] " : "", cmd);
            if (has_ckpt)
                printf("  [checkpoint %.1fs ago]", ckpt_age / 1000.0);
            printf("\n");
        }
    }
    int rc = ssictl_partial_exit(nmissing, partial_ok);
    if (json) {
        if (j)
            ssi_json_array_end(j);
        if (ssictl_json_end(&j, missing, nmissing))
            return SSICTL_EXIT_ERROR;
    }
    return rc;
}

/* ssictl's exit status for a MIGRATE's outcome class (ssictl(1)). */
static int s_migrate_exit(int outcome)
{
    switch (outcome) {
    case SSI_OUTCOME_OK: return SSICTL_EXIT_OK;
    case SSI_OUTCOME_REFUSED: return SSICTL_EXIT_REFUSED;
    case SSI_OUTCOME_NODE: return SSICTL_EXIT_NODE;
    case SSI_OUTCOME_PERM: return SSICTL_EXIT_PERM;
    case SSI_OUTCOME_FAILED: return SSICTL_EXIT_FAILED;
    case SSI_OUTCOME_NOPROC: return SSICTL_EXIT_NOPROC;
    default: return SSICTL_EXIT_ERROR;
    }
}

#define MIGRATE_USAGE \
    "Usage: ssictl migrate [--json] [--stop-copy] [--timeout SECONDS] [HOME:]PID NODE\n"

/* ssictl migrate [--json] [--timeout SECONDS] [HOME:]PID NODE */
static int cmd_migrate(int argc, char **argv)
{
    long timeout_s = MIGRATE_TIMEOUT_S;
    int json = 0, stop_copy = 0;
    char *pos[2];
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *val = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf(
                MIGRATE_USAGE
                "Move ssi process PID (its home pid, as 'ssictl ps' shows) to NODE, or back with NODE 'home'.\n"
                "  --json             what the move did as JSON (ssictl(1))\n"
                "  --stop-copy        freeze it for the whole copy (no pre-copy rounds)\n"
                "  --timeout SECONDS  give up waiting after SECONDS (default %d); the move may go on\n",
                MIGRATE_TIMEOUT_S);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        } else if (strcmp(argv[i], "--stop-copy") == 0) {
            stop_copy = 1;
            continue;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            val = argv[++i];
        } else if (strncmp(argv[i], "--timeout=", 10) == 0) {
            val = argv[i] + 10;
        } else if (argv[i][0] == '-' && !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
            fprintf(stderr, "ssictl migrate: unknown option '%s'\n" MIGRATE_USAGE, argv[i]);
            return SSICTL_EXIT_USAGE;
        } else if (npos < 2) {
            pos[npos++] = argv[i];
            continue;
        } else {
            fprintf(stderr, "ssictl migrate: unexpected argument '%s'\n" MIGRATE_USAGE, argv[i]);
            return SSICTL_EXIT_USAGE;
        }
        char *end;
        timeout_s = strtol(val, &end, 10);
        if (*val == 0 || *end || timeout_s <= 0 || timeout_s > 86400) {
            fprintf(stderr,
                    "ssictl migrate: --timeout wants whole seconds from 1 to 86400, not '%s'\n",
                    val);
            return SSICTL_EXIT_USAGE;
        }
    }
    if (npos != 2) {
        fprintf(stderr, MIGRATE_USAGE);
        return SSICTL_EXIT_USAGE;
    }
    argv = pos;
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
    if (stop_copy)
        ssi_msg_put_u64(&w, SSI_TAG_STOPCOPY, 1);
    long n = ssi_msg_end(&w);
    int fd = ssi_local_connect(ssictl_socket);
    if (fd < 0) {
        fprintf(stderr, "ssictl: cannot reach ssid at %s: %s\n", ssictl_socket, strerror(-fd));
        return SSICTL_EXIT_ERROR;
    }
    /* A large process takes a while to move: wait as long as ssid works,
     * up to --timeout. */
    int64_t t0 = ssictl_migrate_clock();
    int rc = ssi_local_send(fd, req, (size_t)n);
    char what[200];
    snprintf(what, sizeof what, "moving process %s to %s", argv[0], node);
    if (rc == 0)
        n = ssictl_migrate_wait(fd, rep, sizeof rep, timeout_s * 1000, what);
    int64_t total_ms = ssictl_migrate_clock() - t0;
    close(fd);
    if (rc == 0 && n == -ETIMEDOUT) {
        fprintf(stderr,
                "ssictl migrate: no answer within %ld s; the move may still be under way: "
                "see 'ssictl ps'\n",
                timeout_s);
        return SSICTL_EXIT_TIMEOUT;
    }
    if (rc < 0 || n < 0) {
        fprintf(stderr, "ssictl migrate: no answer from ssid: %s\n",
                strerror(rc < 0 ? -rc : (int)-n));
        return SSICTL_EXIT_ERROR;
    }
    static ssi_msg_t m;
    int outcome;
    if (ssictl_parse_reply(rep, n, &m, SSI_MSG_OK, &outcome) < 0) {
        if (m.type != SSI_MSG_ERROR)
            return SSICTL_EXIT_ERROR;
        ssictl_migrate_report(&m, 0, outcome, pid, json, total_ms);
        return s_migrate_exit(outcome);
    }
    return ssictl_migrate_report(&m, 1, SSI_OUTCOME_OK, pid, json, total_ms) ? SSICTL_EXIT_ERROR
                                                                             : 0;
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
    ssictl_socket = ssi_local_path();
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "--socket") == 0 || strcmp(argv[i], "-s") == 0) && i + 1 < argc)
            ssictl_socket = argv[++i];
        else if (strncmp(argv[i], "--socket=", 9) == 0)
            ssictl_socket = argv[i] + 9;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("ssictl (ssi) %s\n", SSI_VERSION);
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
    int json = 0, partial_ok = 0, ps = strcmp(cmd, "ps") == 0;
    if (strcmp(cmd, "nodes") == 0 || ps) {
        for (; i < argc; i++) {
            if (strcmp(argv[i], "--json") == 0)
                json = 1;
            else if (ps && strcmp(argv[i], "--partial-ok") == 0)
                partial_ok = 1;
            else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                printf("Usage: ssictl %s [--json]%s\n", cmd, ps ? " [--partial-ok]" : "");
                return 0;
            } else {
                fprintf(stderr, "ssictl %s: unexpected argument '%s'\n", cmd, argv[i]);
                return SSICTL_EXIT_USAGE;
            }
        }
        return ps ? cmd_ps(json, partial_ok) : cmd_nodes(json);
    }
    if (strcmp(cmd, "metrics") == 0)
        return ssictl_metrics(argc - i, argv + i);
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc - i, argv + i);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - i, argv + i);
    if (strcmp(cmd, "checkpoint") == 0)
        return ssictl_checkpoint(argc - i, argv + i, ssictl_socket);
    int admin = ssictl_admin_main(ssictl_socket, cmd, argc - i, argv + i);
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
