/* ssictl_metrics: `ssictl metrics`, the cluster's state and each node's
 * counters in the Prometheus text exposition format (version 0.0.4), for
 * node_exporter's textfile collector or a scrape wrapper. The node table
 * (NODES: up, load, CPUs, free memory, ssi processes) is this node's view;
 * the counters (migrations by outcome, bytes moved, freeze times, guests,
 * forwarded calls)
 * come from each node's ssid in the PS fan-out (ssid_stats). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_cluster.h"
#include "ssictl_call.h"

#define STATS_BUCKETS_MAX 32

typedef struct {
    char name[SSI_NAME_MAX + 1];
    uint64_t guests, bytes, freeze_sum_us, calls;
    int has_calls; /* the node counts forwarded calls */
    uint64_t outcome[SSI_OUTCOME_MAX + 1];
    uint64_t le_us[STATS_BUCKETS_MAX], count[STATS_BUCKETS_MAX];
    size_t nbuckets;
} stats_t;

/* A label value, escaped as the format wants (\\, \", \n). */
static void s_label(const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            printf("\\%c", *v);
        else if (*v == '\n')
            printf("\\n");
        else
            putchar(*v);
    }
}

static void s_head(const char *name, const char *type, const char *help)
{
    printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_sample(const char *name, const char *node, const char *extra, double v)
{
    printf("%s{node=\"", name);
    s_label(node);
    printf("\"%s} %.15g\n", extra ? extra : "", v);
}

/* One STATS record into st: 0, or -1 if it is not one. */
static int s_read_stats(const ssi_field_t *rec, stats_t *st)
{
    static ssi_field_t f[128];
    long k = ssi_msg_fields(rec->val, rec->len, f, 128);
    memset(st, 0, sizeof *st);
    if (k < 0 ||
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), st->name, sizeof st->name) < 0)
        return -1;
    ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_GUESTS), &st->guests);
    ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_BYTES), &st->bytes);
    ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_FRZSUM), &st->freeze_sum_us);
    st->has_calls = ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_CALLS), &st->calls) == 0;
    for (long i = 0; i < k; i++) {
        ssi_field_t g[4];
        uint64_t a, b;
        if (f[i].tag != SSI_TAG_MIGS && f[i].tag != SSI_TAG_FREEZE)
            continue;
        long kg = ssi_msg_fields(f[i].val, f[i].len, g, 4);
        if (kg < 0 || ssi_field_u64(ssi_msg_find(g, (size_t)kg, SSI_TAG_SEQ), &b) < 0)
            continue;
        if (f[i].tag == SSI_TAG_MIGS &&
            ssi_field_u64(ssi_msg_find(g, (size_t)kg, SSI_TAG_OUTCOME), &a) == 0 &&
            a <= SSI_OUTCOME_MAX)
            st->outcome[a] = b;
        if (f[i].tag == SSI_TAG_FREEZE &&
            ssi_field_u64(ssi_msg_find(g, (size_t)kg, SSI_TAG_LEUS), &a) == 0 &&
            st->nbuckets < STATS_BUCKETS_MAX) {
            st->le_us[st->nbuckets] = a;
            st->count[st->nbuckets++] = b;
        }
    }
    /* The histogram must end with +Inf, bounds rising: else drop it. */
    for (size_t i = 1; i < st->nbuckets; i++)
        if (st->le_us[i] <= st->le_us[i - 1])
            st->nbuckets = 0;
    if (st->nbuckets && st->le_us[st->nbuckets - 1] != UINT64_MAX)
        st->nbuckets = 0;
    return 0;
}

static int s_by_name(const void *a, const void *b)
{
    return strcmp(((const stats_t *)a)->name, ((const stats_t *)b)->name);
}

static void s_print_nodes(const ssi_msg_t *m)
{
    static const struct {
        const char *name, *help;
    } g[] = {
        {"ssi_node_up", "Whether the node is up (1) or down (0), as the asked node sees it."},
        {"ssi_node_load", "The node's run-queue length (load), from its last gossip."},
        {"ssi_node_cpus", "The node's CPUs (its CPU share where a quota limits it)."},
        {"ssi_node_memory_free_bytes", "The node's free memory in bytes."},
        {"ssi_node_processes", "ssi processes whose home is the node."},
    };
    for (size_t gi = 0; gi < sizeof g / sizeof *g; gi++) {
        s_head(g[gi].name, "gauge", g[gi].help);
        for (size_t i = 0; i < m->nfields; i++) {
            if (m->field[i].tag != SSI_TAG_LOAD)
                continue;
            ssi_field_t f[16];
            long k = ssi_msg_fields(m->field[i].val, m->field[i].len, f, 16);
            char name[SSI_NAME_MAX + 1], state[16] = "";
            uint64_t v = 0, ncpu = 0, cpum = 0, age;
            if (k < 0 ||
                ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), name, sizeof name) < 0)
                continue;
            ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_STATE), state, sizeof state);
            int known = ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_AGEMS), &age) == 0;
            double x;
            if (gi == 0) {
                x = strcmp(state, "up") == 0;
            } else if (!known) {
                continue; /* never heard of: no value rather than a false 0 */
            } else if (gi == 1) {
                ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_LOADM), &v);
                x = v / 1000.0;
            } else if (gi == 2) {
                ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_NCPU), &ncpu);
                ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_CPUM), &cpum);
                x = cpum ? cpum / 1000.0 : (double)ncpu;
            } else if (gi == 3) {
                ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_FREEKB), &v);
                x = (double)v * 1024.0;
            } else {
                ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_NPROCS), &v);
                x = (double)v;
            }
            s_sample(g[gi].name, name, NULL, x);
        }
    }
}

static void s_print_stats(const stats_t *st, size_t n)
{
    char extra[64];
    s_head("ssi_node_guests", "gauge",
           "Bodies of other homes' processes that the node runs (or is receiving).");
    for (size_t i = 0; i < n; i++)
        s_sample("ssi_node_guests", st[i].name, NULL, (double)st[i].guests);
    s_head("ssi_migrations_total", "counter",
           "Migration requests the node answered as a home (or could not pass on), by outcome.");
    for (size_t i = 0; i < n; i++)
        for (int o = 0; o <= SSI_OUTCOME_MAX; o++) {
            snprintf(extra, sizeof extra, ",outcome=\"%s\"", ssi_outcome_name(o));
            s_sample("ssi_migrations_total", st[i].name, extra, (double)st[i].outcome[o]);
        }
    s_head("ssi_moved_bytes_total", "counter",
           "Image bytes of the moves out of the node (as home) that succeeded.");
    for (size_t i = 0; i < n; i++)
        s_sample("ssi_moved_bytes_total", st[i].name, NULL, (double)st[i].bytes);
    s_head("ssi_freeze_seconds", "histogram",
           "Freeze times of the moves out of the node that succeeded: freeze signal to image end.");
    for (size_t i = 0; i < n; i++) {
        uint64_t cum = 0;
        for (size_t b = 0; b < st[i].nbuckets; b++) {
            cum += st[i].count[b];
            if (st[i].le_us[b] == UINT64_MAX)
                snprintf(extra, sizeof extra, ",le=\"+Inf\"");
            else
                snprintf(extra, sizeof extra, ",le=\"%g\"", st[i].le_us[b] / 1e6);
            s_sample("ssi_freeze_seconds_bucket", st[i].name, extra, (double)cum);
        }
        if (!st[i].nbuckets)
            continue;
        s_sample("ssi_freeze_seconds_sum", st[i].name, NULL, st[i].freeze_sum_us / 1e6);
        s_sample("ssi_freeze_seconds_count", st[i].name, NULL, (double)cum);
    }
    s_head("ssi_forwarded_calls_total", "counter",
           "Calls of processes away that their deputies at the node (their home) served.");
    for (size_t i = 0; i < n; i++)
        if (st[i].has_calls)
            s_sample("ssi_forwarded_calls_total", st[i].name, NULL, (double)st[i].calls);
}

int ssictl_metrics(int argc, char **argv)
{
    int partial_ok = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--partial-ok") == 0) {
            partial_ok = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("Usage: ssictl metrics [--partial-ok]\n"
                   "The cluster's state and counters in the Prometheus text format.\n");
            return SSICTL_EXIT_OK;
        } else {
            fprintf(stderr, "ssictl metrics: unexpected argument '%s'\n", argv[i]);
            return SSICTL_EXIT_USAGE;
        }
    }
    static uint8_t nbuf[SSI_MSG_HEADER + SSI_MSG_MAX_BODY], pbuf[SSI_MSG_HEADER + SSI_MSG_MAX_BODY];
    static ssi_msg_t nm, pm;
    static char missing[SSI_CLUSTER_MAX][SSI_NAME_MAX + 1];
    static stats_t st[SSI_CLUSTER_MAX];
    long n = ssictl_call(SSI_MSG_NODES, nbuf, sizeof nbuf);
    if (n < 0 || ssictl_parse_reply(nbuf, n, &nm, SSI_MSG_NODES_REP, NULL) < 0)
        return SSICTL_EXIT_ERROR;
    n = ssictl_call(SSI_MSG_PS, pbuf, sizeof pbuf);
    if (n < 0 || ssictl_parse_reply(pbuf, n, &pm, SSI_MSG_PS_REP, NULL) < 0)
        return SSICTL_EXIT_ERROR;
    size_t nmissing = ssictl_missing(&pm, "its counters are missing", missing, SSI_CLUSTER_MAX);
    size_t nst = 0;
    for (size_t i = 0; i < pm.nfields && nst < SSI_CLUSTER_MAX; i++)
        if (pm.field[i].tag == SSI_TAG_STATS && s_read_stats(&pm.field[i], &st[nst]) == 0)
            nst++;
    qsort(st, nst, sizeof *st, s_by_name);
    s_print_nodes(&nm);
    s_print_stats(st, nst);
    s_head("ssi_node_answered", "gauge",
           "Whether the node's counters are in this answer (0: it did not answer in time).");
    for (size_t i = 0; i < nst; i++)
        s_sample("ssi_node_answered", st[i].name, NULL, 1);
    for (size_t i = 0; i < nmissing; i++)
        s_sample("ssi_node_answered", missing[i], NULL, 0);
    if (fflush(stdout) != 0) {
        perror("ssictl metrics");
        return SSICTL_EXIT_ERROR;
    }
    return ssictl_partial_exit(nmissing, partial_ok);
}
