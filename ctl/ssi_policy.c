/* ssi_policy: the balancer's decision rule (see ssi_policy.h). */
#include "ssi_policy.h"

#include <stdio.h>
#include <string.h>

/* The CPU share a CPU-bound process gets among runq runnable ones. */
static double s_share(double cap, double runq)
{
    if (runq < 1)
        runq = 1;
    double s = cap / runq;
    return s > 1 ? 1 : s;
}

/* What one move of p from c to t would bring: 0 and *net (CPU-s per s
 * gained) and *score (CPU-s over the horizon, less the cost), or -1 with
 * the reason in why. */
static int s_weigh(const ssi_balance_conf_t *conf, const ssi_policy_node_t *nodes, int home,
                   const ssi_policy_proc_t *p, int t, double bandwidth, double *net, double *score,
                   char *why, size_t cap)
{
    int c = p->node;
    double now = s_share(nodes[c].cap, nodes[c].runq);
    double then = s_share(nodes[t].cap, nodes[t].runq + 1);
    if (p->pinned) {
        snprintf(why, cap, "%s", p->pinned);
        return -1;
    }
    if (p->demand < 0.5) {
        snprintf(why, cap, "not CPU-bound (runnable %.0f%% of the last period)", p->demand * 100);
        return -1;
    }
    if (c == home && t != home && p->io_rate > conf->io_limit / 2) {
        snprintf(why, cap, "I/O-heavy at home (%.0f calls/s > io_limit/2 = %.0f)", p->io_rate,
                 conf->io_limit / 2);
        return -1;
    }
    if (nodes[t].free_mb - p->image_mb < conf->mem_min) {
        snprintf(why, cap, "%.0f MiB free there: no room for %.0f MiB and mem_min %.0f",
                 nodes[t].free_mb, p->image_mb, conf->mem_min);
        return -1;
    }
    double margin = conf->margin * (1 + p->moves);
    if (then < now * (1 + margin)) {
        if (p->moves)
            snprintf(why, cap, "gain %.0f%% below the margin %.0f%% (%u x %.0f%%: moved %u times)",
                     (then / now - 1) * 100, margin * 100, 1 + p->moves, conf->margin * 100,
                     p->moves);
        else
            snprintf(why, cap, "gain %.0f%% below the margin %.0f%%", (then / now - 1) * 100,
                     margin * 100);
        return -1;
    }
    double calls = p->io_rate * conf->call_ms / 1000; /* s of waiting per s away */
    double io = c == home && t != home ? calls : c != home && t == home ? -calls : 0;
    *net = then - now - io;
    double horizon =
        p->age_s > conf->residence_ms / 1000.0 ? p->age_s : conf->residence_ms / 1000.0;
    double cost = now * (SSI_POLICY_FIXED_S + p->image_mb / bandwidth);
    *score = *net * horizon - cost;
    if (*score <= 0) {
        snprintf(why, cap,
                 "gain %.2f CPU-s over %.0f s (forwarded calls %.0f/s) does not pay the move's "
                 "%.2f CPU-s",
                 *net * horizon, horizon, p->io_rate, cost);
        return -1;
    }
    return 0;
}

/* May p go to t at all (up, takes guests, not where it is)? */
static bool s_target(const ssi_policy_node_t *nodes, int home, const ssi_policy_proc_t *p, int t)
{
    (void)home;
    return t != p->node && nodes[t].up && nodes[t].accepts;
}

/* Consolidation: a process goes to the first node (in the cluster file's
 * order) that has room for it, if that comes before the node it is on, so
 * that the last nodes empty. Room: the node's run queue plus this process's
 * demand stays within its capacity (nothing there gets less CPU), and mem_min
 * free after its image. Moves only go towards the front: no cycles. The
 * process on the last node goes first. */
static void s_consolidate(const ssi_balance_conf_t *conf, const ssi_policy_node_t *nodes,
                          const char *const *names, int nnodes, int home,
                          const ssi_policy_proc_t *procs, int nprocs, ssi_policy_decision_t *out)
{
    int best = -1, best_to = -1;
    for (int i = 0; i < nprocs; i++) {
        const ssi_policy_proc_t *p = &procs[i];
        if (p->pinned || p->node < 0 || p->node >= nnodes ||
            (best >= 0 && p->node <= procs[best].node))
            continue;
        for (int t = 0; t < p->node; t++)
            if (s_target(nodes, home, p, t) &&
                nodes[t].runq + (p->demand > 0.1 ? p->demand : 0.1) <= nodes[t].cap &&
                nodes[t].free_mb - p->image_mb >= conf->mem_min) {
                best = i;
                best_to = t;
                break;
            }
    }
    if (best < 0)
        return;
    const ssi_policy_proc_t *p = &procs[best];
    out->kind = best_to == home ? SSI_POLICY_HOME : SSI_POLICY_MOVE;
    out->proc = best;
    out->to = best_to;
    snprintf(out->why, sizeof out->why,
             "consolidate: process %d %s -> %s (room there: load %.2f of %.2f CPUs), so that %s "
             "can empty",
             p->pid, names[p->node], names[best_to], nodes[best_to].runq, nodes[best_to].cap,
             names[p->node]);
}

/* The CPU rule: the process that gains most, to one of its near-best
 * targets at random. false when none may move (out->why then holds the
 * best declined chance, or is empty). */
static bool s_cpu_choice(const ssi_balance_conf_t *conf, const ssi_policy_node_t *nodes,
                         const char *const *names, int nnodes, int home,
                         const ssi_policy_proc_t *procs, int nprocs, double bandwidth, uint32_t rnd,
                         ssi_policy_decision_t *out)
{
    /* The process that gains most, and the best declined chance. */
    int best = -1;
    double best_score = 0, best_net = 0, declined_ratio = 0;
    char why[200];
    for (int i = 0; i < nprocs; i++) {
        const ssi_policy_proc_t *p = &procs[i];
        int c = p->node;
        if (c < 0 || c >= nnodes || !nodes[c].up)
            continue;
        double now = s_share(nodes[c].cap, nodes[c].runq);
        for (int t = 0; t < nnodes; t++) {
            if (!s_target(nodes, home, p, t))
                continue;
            double then = s_share(nodes[t].cap, nodes[t].runq + 1);
            if (then <= now)
                continue; /* no chance at all */
            double net, score;
            if (s_weigh(conf, nodes, home, p, t, bandwidth, &net, &score, why, sizeof why) < 0) {
                if (then / now > declined_ratio) {
                    declined_ratio = then / now;
                    snprintf(out->why, sizeof out->why,
                             "declined: process %d %s -> %s (CPU share %.2f -> %.2f): %s", p->pid,
                             names[c], names[t], now, then, why);
                }
                continue;
            }
            if (best < 0 || score > best_score) {
                best = i;
                best_score = score;
                best_net = net;
            }
        }
    }
    if (best < 0)
        return false;

    /* Its targets within `near` of the best: one at random. */
    const ssi_policy_proc_t *p = &procs[best];
    int near[SSI_CLUSTER_MAX], n = 0, best_t = -1;
    for (int t = 0; t < nnodes && n < SSI_CLUSTER_MAX; t++) {
        double net, score;
        if (!s_target(nodes, home, p, t) ||
            s_weigh(conf, nodes, home, p, t, bandwidth, &net, &score, why, sizeof why) < 0)
            continue;
        if (net >= best_net * (1 - conf->near))
            near[n++] = t;
        if (net >= best_net && best_t < 0)
            best_t = t;
    }
    int to = n ? near[rnd % (uint32_t)n] : best_t;
    out->kind = to == home ? SSI_POLICY_HOME : SSI_POLICY_MOVE;
    out->proc = best;
    out->to = to;
    out->share_now = s_share(nodes[p->node].cap, nodes[p->node].runq);
    out->share_then = s_share(nodes[to].cap, nodes[to].runq + 1);
    snprintf(out->why, sizeof out->why,
             "process %d %s -> %s: CPU share %.2f -> %.2f (load %.2f -> %.2f per CPU), gain "
             "%.2f CPU-s over the move's cost; chosen among %d near-best target%s",
             p->pid, names[p->node], names[to], out->share_now, out->share_then,
             nodes[p->node].runq / nodes[p->node].cap, (nodes[to].runq + 1) / nodes[to].cap,
             best_score, n, n == 1 ? "" : "s");
    return true;
}

void ssi_policy_decide(const ssi_balance_conf_t *conf, const ssi_policy_node_t *nodes,
                       const char *const *names, int nnodes, int home,
                       const ssi_policy_proc_t *procs, int nprocs, double bandwidth, uint32_t rnd,
                       ssi_policy_decision_t *out)
{
    memset(out, 0, sizeof *out);
    out->kind = SSI_POLICY_NONE;
    out->proc = out->to = -1;
    if (bandwidth <= 0)
        bandwidth = conf->bandwidth;

    /* Memory ushering first: our biggest process on a node short of
	 * memory goes where there is the most room. */
    int big = -1;
    for (int i = 0; i < nprocs; i++) {
        const ssi_policy_proc_t *p = &procs[i];
        if (p->node >= 0 && p->node < nnodes && !p->pinned && nodes[p->node].up &&
            nodes[p->node].free_mb < conf->mem_min &&
            (big < 0 || p->image_mb > procs[big].image_mb))
            big = i;
    }
    if (big >= 0) {
        const ssi_policy_proc_t *p = &procs[big];
        int to = -1, n = 0;
        double most = 0;
        for (int t = 0; t < nnodes; t++)
            if (s_target(nodes, home, p, t) && nodes[t].free_mb - p->image_mb >= conf->mem_min &&
                nodes[t].free_mb > most) {
                most = nodes[t].free_mb;
                to = t;
            }
        for (int t = 0; to >= 0 && t < nnodes; t++)
            if (s_target(nodes, home, p, t) && nodes[t].free_mb - p->image_mb >= conf->mem_min &&
                nodes[t].free_mb >= most * (1 - conf->near) && rnd % (uint32_t)++n == 0)
                to = t;
        if (to >= 0) {
            out->kind = to == home ? SSI_POLICY_HOME : SSI_POLICY_MOVE;
            out->proc = big;
            out->to = to;
            snprintf(out->why, sizeof out->why,
                     "%s is short of memory (%.0f MiB free < mem_min %.0f): process %d (%.0f "
                     "MiB) %s -> %s (%.0f MiB free)",
                     names[p->node], nodes[p->node].free_mb, conf->mem_min, p->pid, p->image_mb,
                     names[p->node], names[to], nodes[to].free_mb);
            return;
        }
        snprintf(out->why, sizeof out->why,
                 "declined: %s is short of memory (%.0f MiB free < mem_min %.0f) but no node has "
                 "room for process %d (%.0f MiB)",
                 names[p->node], nodes[p->node].free_mb, conf->mem_min, p->pid, p->image_mb);
        return;
    }

    /* A process away that became I/O-heavy comes home first. */
    int heavy = -1;
    for (int i = 0; i < nprocs; i++) {
        const ssi_policy_proc_t *p = &procs[i];
        if (p->node != home && p->node >= 0 && p->node < nnodes && !p->pinned &&
            nodes[home].accepts && p->io_rate > conf->io_limit &&
            (heavy < 0 || p->io_rate > procs[heavy].io_rate))
            heavy = i;
    }
    if (heavy >= 0) {
        out->kind = SSI_POLICY_HOME;
        out->proc = heavy;
        out->to = home;
        snprintf(out->why, sizeof out->why,
                 "process %d on %s makes %.0f forwarded calls/s (io_limit %.0f): home to %s",
                 procs[heavy].pid, names[procs[heavy].node], procs[heavy].io_rate, conf->io_limit,
                 names[home]);
        return;
    }

    if (!s_cpu_choice(conf, nodes, names, nnodes, home, procs, nprocs, bandwidth, rnd, out) &&
        conf->consolidate)
        s_consolidate(conf, nodes, names, nnodes, home, procs, nprocs, out);
}

void ssi_policy_place(const ssi_balance_conf_t *conf, const ssi_policy_node_t *nodes,
                      const char *const *names, int nnodes, int home, int pid, double image_mb,
                      double bandwidth, uint32_t rnd, ssi_policy_decision_t *out)
{
    memset(out, 0, sizeof *out);
    out->kind = SSI_POLICY_NONE;
    out->proc = out->to = -1;
    if (bandwidth <= 0)
        bandwidth = conf->bandwidth;
    if (home < 0 || home >= nnodes || nnodes > SSI_CLUSTER_MAX)
        return;
    /* Nothing is measured yet: taken as CPU-bound, at home, counted in
     * home's run queue, with the minimum residence as its horizon. */
    ssi_policy_node_t with[SSI_CLUSTER_MAX];
    memcpy(with, nodes, sizeof *nodes * (size_t)nnodes);
    with[home].runq += 1;
    ssi_policy_proc_t p = {.pid = pid, .node = home, .demand = 1, .image_mb = image_mb};
    /* Half the margin: a process placed before main cannot bounce (it did
     * not begin, nothing of it is measured yet, and the residence pins it
     * after), and with whole jobs the full margin kept a fifth job at home
     * beside a node with four and a little (5 against 4.1: 22%), so 16 jobs
     * on 4 hosts ran 5/4/4/3 until the balancer moved one. */
    ssi_balance_conf_t half = *conf;
    half.margin = conf->margin / 2;
    if (s_cpu_choice(&half, with, names, nnodes, home, &p, 1, bandwidth, rnd, out) &&
        out->to == home)
        out->kind = SSI_POLICY_NONE; /* cannot happen: home is where it is */
}

int ssi_policy_decide_many(const ssi_balance_conf_t *conf, ssi_policy_node_t *nodes,
                           const char *const *names, int nnodes, int home, ssi_policy_proc_t *procs,
                           int nprocs, double bandwidth, uint32_t rnd, unsigned *out,
                           ssi_policy_decision_t *dec, int max, ssi_policy_decision_t *declined)
{
    static const char spent[] = "its node sent its moves for this period already";
    unsigned limit = conf->moves ? conf->moves : 1;
    int n = 0;
    memset(declined, 0, sizeof *declined);
    declined->kind = SSI_POLICY_NONE;
    declined->proc = declined->to = -1;
    /* Processes on a node whose budget is spent wait for the next period. */
    for (int i = 0; i < nprocs; i++)
        if (!procs[i].pinned && procs[i].node >= 0 && procs[i].node < nnodes &&
            out[procs[i].node] >= limit)
            procs[i].pinned = spent;
    for (int round = 0; n < max && round < nprocs; round++) {
        ssi_policy_decision_t d;
        ssi_policy_decide(conf, nodes, names, nnodes, home, procs, nprocs, bandwidth,
                          rnd + (uint32_t)round * 7919u, &d);
        if (d.kind == SSI_POLICY_NONE) {
            if (n == 0)
                *declined = d;
            break;
        }
        /* Beyond the first, only when the imbalance is large. */
        if (n > 0 && !(d.share_now > 0 && d.share_then >= d.share_now * SSI_POLICY_LARGE))
            break;
        ssi_policy_proc_t *p = &procs[d.proc];
        int src = p->node;
        double demand = p->demand > 0.1 ? p->demand : 0.1;
        nodes[src].runq -= p->demand;
        if (nodes[src].runq < 0)
            nodes[src].runq = 0;
        nodes[src].free_mb += p->image_mb;
        nodes[d.to].runq += demand;
        nodes[d.to].free_mb -= p->image_mb;
        p->pinned = "it is being moved";
        dec[n++] = d;
        if (++out[src] >= limit)
            for (int i = 0; i < nprocs; i++)
                if (!procs[i].pinned && procs[i].node == src)
                    procs[i].pinned = spent;
    }
    return n;
}
