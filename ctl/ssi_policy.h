/* ssi_policy: the load balancer's decision rule, MOSIX style, as pure
 * logic: one home node looks at the nodes' loads and at its own processes,
 * wherever they run, and decides at most one move per period (or none, and
 * says why). No sockets, no clock, no /proc, no logging: ssid_balance
 * gathers the facts, calls ssi_policy_decide, carries out and logs.
 *
 * The rule. A node's CPU capacity is its CPU share (the quota where it has
 * one, else its CPUs) times its speed; a CPU-bound process on it gets
 * share = min(1, capacity / run queue). A process may move from node c to
 * node t when
 *   - it is CPU-bound (runnable at least half of the time) and not I/O-heavy,
 *     and the caller did not pin it (it stays, is migrating, or arrived
 *     less than the minimum residence ago);
 *   - the share it would get on t, min(1, cap_t / (runq_t + 1)), beats the
 *     share it gets on c by the margin (relative), times 1 + the moves it
 *     made already (a process that moved twice needs three margins: noisy
 *     loads on a busy machine made jobs bounce four times and more);
 *   - what it gains over its horizon (its age, as MOSIX assumes a process
 *     runs about as long again, at least the minimum residence) exceeds
 *     what the move costs: share_c x (image size / bandwidth + fixed cost);
 *     a move away from home also costs the forwarded calls
 *     (rate x call_ms), a move home saves them.
 * Among the targets whose net gain is within `near` of the best, one is
 * picked at random; among processes, the one that gains most moves.
 * Before any of that: memory ushering, a node with less than mem_min MiB
 * free sends our biggest process there to the node with the most free
 * memory that has room for it (mem_min left after its image); then a
 * process away whose forwarded calls exceed io_limit comes home. No move
 * goes to a node that would be left with less than mem_min free. */
#ifndef SSI_POLICY_H
#define SSI_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "ssi_cluster.h"

#define SSI_POLICY_FIXED_S 0.3 /* a move's cost beyond its image: freeze, offer, restore */

typedef struct {
    bool up;        /* up, and its load known and fresh */
    bool accepts;   /* takes guests (not blocked); home: takes its own back (not draining) */
    double runq;    /* smoothed run-queue length, moves in flight counted */
    double cap;     /* CPU capacity: share (quota or CPUs) x speed */
    double free_mb; /* free memory (MiB) */
} ssi_policy_node_t;

typedef struct {
    int pid;            /* for the reasons */
    int node;           /* where it runs now */
    const char *pinned; /* NULL: movable; else why not ("stays", ...) */
    double demand;      /* runnable fraction of the last period, 0..1 */
    double io_rate;     /* calls per second that go (or would go) home */
    double image_mb;    /* what a move carries */
    double age_s;       /* how long it has run */
    unsigned moves;     /* moves it made already (placement included) */
} ssi_policy_proc_t;

typedef enum {
    SSI_POLICY_NONE, /* nothing to do; why says which chance was declined, or is empty */
    SSI_POLICY_MOVE, /* move procs[proc] to node `to` */
    SSI_POLICY_HOME, /* bring procs[proc] home */
} ssi_policy_kind_t;

typedef struct {
    ssi_policy_kind_t kind;
    int proc;          /* index in procs, or -1 */
    int to;            /* target node index, or -1 */
    double share_now;  /* CPU share where it runs */
    double share_then; /* CPU share on the target */
    char why[320];     /* the reason, of a move or of declining */
} ssi_policy_decision_t;

/* One decision for home node `home` (an index of nodes). names[i] is node
 * i's name (for the reasons), bandwidth the MB/s a move carries (measured
 * or configured), rnd a random number. Fills *out. */
void ssi_policy_decide(const ssi_balance_conf_t *conf, const ssi_policy_node_t *nodes,
                       const char *const *names, int nnodes, int home,
                       const ssi_policy_proc_t *procs, int nprocs, double bandwidth, uint32_t rnd,
                       ssi_policy_decision_t *out);

/* Placement before main (issue #13): a new process of home `home` (pid,
 * image_mb resident), nothing measured yet, is taken as CPU-bound and
 * counted in home's run queue; the CPU rule above, with half the margin,
 * says whether it runs better elsewhere. *out: SSI_POLICY_MOVE to `to`, or SSI_POLICY_NONE with
 * the best declined chance in why (or an empty why). */
void ssi_policy_place(const ssi_balance_conf_t *conf, const ssi_policy_node_t *nodes,
                      const char *const *names, int nnodes, int home, int pid, double image_mb,
                      double bandwidth, uint32_t rnd, ssi_policy_decision_t *out);

/* Several moves in one period (issue #13), bounded: decisions are taken one
 * after the other (each as ssi_policy_decide), each counted in the loads
 * (nodes[].runq and free_mb are updated in place: the process's demand
 * leaves its node, at least 0.1 arrives at the target) and its process
 * pinned (procs[].pinned set), so that the next sees the cluster as it will
 * be. The first may be any decision; a further one only a CPU move under
 * large imbalance (the share at least doubles: SSI_POLICY_LARGE). At most
 * conf->moves moves leave each SOURCE node (where the process runs, not its
 * home): out[src] counts the moves that already left src this period
 * (other homes' too, where known) and is incremented; processes on a node
 * whose budget is spent are passed over. Fills dec[0..max-1]; returns how
 * many moves, and *declined holds the first decision's reason when none. */
#define SSI_POLICY_LARGE 2.0
int ssi_policy_decide_many(const ssi_balance_conf_t *conf, ssi_policy_node_t *nodes,
                           const char *const *names, int nnodes, int home, ssi_policy_proc_t *procs,
                           int nprocs, double bandwidth, uint32_t rnd, unsigned *out,
                           ssi_policy_decision_t *dec, int max, ssi_policy_decision_t *declined);

#endif
