/* ssid_balance: facts for the balancer's rule, and its moves (see
 * ssid_balance.h). Runs in ssid. */
#define SSI_LOG_PREFIX "balance"

#include "ssid_balance.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_log.h"
#include "ssi_policy.h"
#include "ssi_precheck.h"
#include "ssid_client.h"
#include "ssid_events.h"
#include "ssid_home.h"
#include "ssid_mig.h"
#include "ssid_node.h"
#include "ssid_offer.h"

#define S_FRESH_MS 5000        /* a load older than this is not trusted */
#define S_FAILED_MS 30000      /* a process whose move failed is left alone this long */
#define S_PENDING_MAX 64       /* moves in flight counted in the loads */
#define S_PENDING_HOLD 500     /* ms a move's effect is counted in full after it landed */
#define S_PENDING_FLIGHT 10000 /* ms a move not landed yet is counted in full, at most */
#define S_PENDING_MEM_MS 300   /* ms after a landing when a node's free memory shows it */
#define S_MAX_MOVES 64         /* moves one period may start (conf->moves per source) */
#define S_LEFT_MAX 64          /* balancer moves out of this node remembered */
#define S_ASK_MAX 32           /* moves waiting for their source's leave */
#define S_ASK_MS 1000          /* how long an answer is awaited */
#define S_GUEST_FRESH_MS 3000  /* a guest's demand measured where it runs is trusted this long */
#define S_GUESTS_MAX 256       /* guests measured here */
#define S_BURST_MS 2000        /* placements closer than this apart are one burst */

/* What we measured of one process at the last period. */
typedef struct {
    uint64_t id; /* the client's id; 0: a free slot */
    pid_t pid;
    int node;           /* where it ran */
    int64_t t;          /* when */
    uint64_t sched_ns;  /* at home: run + wait on a run queue (schedstat) */
    uint64_t calls;     /* at home: read/write calls; away: the deputy's wake-ups */
    double demand;      /* runnable fraction of the last period */
    double io_rate;     /* calls per second */
    double image_mb;    /* resident memory when last at home */
    bool rated;         /* demand and io_rate are from two samples */
    bool home_rated;    /* demand was measured at home at least once */
    double away_demand; /* away: the demand its node measured (GUEST_LOAD) */
    int64_t away_t;     /* when that came, or 0 */
    int away_node;      /* from which node */
    int64_t placed;     /* when placement before main decided where it runs, or 0 */
    unsigned moves;     /* the client's count when we tried to move it */
    bool tried;         /* we asked for a move and wait for its end */
    int64_t failed;     /* when our last move of it failed, or 0 */
} s_fact_t;

static s_fact_t s_facts[SSID_CLIENT_MAX];
static struct {
    int node;
    double delta;    /* run queue */
    double mb;       /* free memory */
    int64_t t;       /* when the move landed (or was decided, until it did) */
    uint64_t client; /* the moving client's id while its move is in flight, or 0 */
    unsigned moves;  /* its count of moves when the move was decided */
    int64_t decided; /* when */
    bool began;      /* its migration was seen under way */
    bool leaving;    /* a placed process leaving home: not counted by placements */
} s_pending[S_PENDING_MAX];
static double s_bandwidth; /* measured MB/s, 0 until a move was measured */
static char s_last_why[320];
static unsigned s_repeats;
static bool s_said_off;

static s_fact_t *s_fact(const ssid_client_t *c)
{
    s_fact_t *free_slot = NULL;
    for (int i = 0; i < SSID_CLIENT_MAX; i++) {
        if (s_facts[i].id == c->id)
            return &s_facts[i];
        if (!s_facts[i].id && !free_slot)
            free_slot = &s_facts[i];
    }
    if (free_slot)
        *free_slot = (s_fact_t){.id = c->id, .pid = c->pid, .node = -2};
    return free_slot;
}

/* Forgets processes that are gone. */
static void s_sweep(void)
{
    for (int i = 0; i < SSID_CLIENT_MAX; i++)
        if (s_facts[i].id) {
            ssid_client_t *c = ssid_client_by_id(s_facts[i].id);
            if (!c || !c->registered)
                s_facts[i].id = 0;
        }
}

/* The first number after key in /proc/PID/<file>, or -1. */
static long long s_proc_field(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
    FILE *f = fopen(path, "r");
    long long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) {
            v = strtoll(line + kl, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* Run time + time waiting on a run queue, ns; 0 if unreadable. */
static uint64_t s_schedstat(pid_t pid)
{
    char path[64];
    unsigned long long run = 0, wait = 0;
    snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &run, &wait) != 2)
            run = wait = 0;
        fclose(f);
    }
    return run + wait;
}

/* Samples c: at home its CPU demand (schedstat) and the read and write
 * calls it makes, which would be forwarded away; away the wake-ups of its
 * deputy, one per forwarded call or relayed message. */
static void s_sample(s_fact_t *f, const ssid_client_t *c, int64_t now)
{
    int node = c->away >= 0 ? c->away : ssid_node.self;
    uint64_t sched = 0, calls;
    if (c->away < 0) {
        sched = s_schedstat(c->pid);
        long long r = s_proc_field(c->pid, "io", "syscr:");
        long long w = s_proc_field(c->pid, "io", "syscw:");
        calls = (uint64_t)(r > 0 ? r : 0) + (uint64_t)(w > 0 ? w : 0);
        long long rss = s_proc_field(c->pid, "status", "VmRSS:");
        if (rss > 0)
            f->image_mb = rss / 1024.0;
    } else {
        long long v = s_proc_field(c->pid, "status", "voluntary_ctxt_switches:");
        calls = v > 0 ? (uint64_t)v : 0;
    }
    double dt = (now - f->t) / 1000.0;
    f->rated = false;
    if (f->node == node && dt > 0.05 && !c->migrating) {
        /* Away, its CPU is the other node's, which measures it and
         * tells us (GUEST_LOAD); without a fresh word from there we keep
         * what it used at home, or take it as CPU-bound if it never ran
         * here long. */
        if (c->away < 0) {
            f->demand = (double)(sched - f->sched_ns) / 1e9 / dt;
            f->home_rated = true;
        } else if (f->away_t && f->away_node == c->away && now - f->away_t <= S_GUEST_FRESH_MS) {
            f->demand = f->away_demand;
        } else if (!f->home_rated) {
            f->demand = 1;
        }
        if (f->demand > 1)
            f->demand = 1;
        f->io_rate = calls >= f->calls ? (double)(calls - f->calls) / dt : 0;
        f->rated = true;
    }
    f->node = node;
    f->t = now;
    f->sched_ns = sched;
    f->calls = calls;
}

/* Our guests as last measured, to rate their demand between periods. */
static struct {
    int home;  /* node index; -1: a free slot */
    pid_t pid; /* its home pid */
    uint64_t sched_ns;
    int64_t t;
    bool seen;
} s_guests[S_GUESTS_MAX];

/* The body of guest g, by its pid in our PID namespace: the child of its
 * agent (pid 1 of the body's namespace) whose innermost pid is the home
 * pid; 0 if not found. */
static pid_t s_body_pid(const ssid_mig_t *g)
{
    if (g->nhelpers < 2)
        return 0;
    char path[96], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", g->helper[1], g->helper[1]);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    pid_t found = 0;
    long child;
    while (!found && fscanf(f, "%ld", &child) == 1) {
        char sp[64];
        snprintf(sp, sizeof sp, "/proc/%ld/status", child);
        FILE *st = fopen(sp, "r");
        while (st && fgets(buf, sizeof buf, st))
            if (strncmp(buf, "NSpid:", 6) == 0) {
                char *last = strrchr(buf, '\t');
                if (last && strtol(last + 1, NULL, 10) == g->pid)
                    found = (pid_t)child;
                break;
            }
        if (st)
            fclose(st);
    }
    fclose(f);
    return found;
}

/* Measures each guest's CPU demand where it runs, here, and tells each
 * home about its own (GUEST_LOAD: PID LOADM pairs). */
static void s_report_guests(int64_t now)
{
    static uint8_t out[SSI_CLUSTER_MAX][2048];
    static ssi_msg_writer_t w[SSI_CLUSTER_MAX];
    static int npairs[SSI_CLUSTER_MAX];
    int nnodes = (int)ssi_cluster_size(ssid_node.cluster);
    for (int i = 0; i < nnodes; i++)
        npairs[i] = 0;
    for (int i = 0; i < S_GUESTS_MAX; i++)
        s_guests[i].seen = false;
    for (ssid_mig_t *g = ssid_mig_first(); g; g = g->next) {
        if (g->home_side || !g->running || g->peer < 0 || g->peer >= nnodes)
            continue;
        pid_t body = s_body_pid(g);
        if (body <= 0)
            continue;
        uint64_t sched = s_schedstat(body);
        int slot = -1, free_slot = -1;
        for (int i = 0; i < S_GUESTS_MAX && slot < 0; i++) {
            if (s_guests[i].t && s_guests[i].home == g->peer && s_guests[i].pid == g->pid)
                slot = i;
            else if (!s_guests[i].t && free_slot < 0)
                free_slot = i;
        }
        if (slot < 0) {
            if (free_slot < 0)
                continue;
            slot = free_slot;
            s_guests[slot] = (typeof(s_guests[0])){
                .home = g->peer, .pid = g->pid, .sched_ns = sched, .t = now, .seen = true};
            continue; /* rated from the next period on */
        }
        double dt = (now - s_guests[slot].t) / 1000.0;
        double demand = dt > 0.05 && sched >= s_guests[slot].sched_ns
                            ? (double)(sched - s_guests[slot].sched_ns) / 1e9 / dt
                            : -1;
        s_guests[slot].sched_ns = sched;
        s_guests[slot].t = now;
        s_guests[slot].seen = true;
        if (demand < 0)
            continue;
        if (demand > 1)
            demand = 1;
        int h = g->peer;
        if (npairs[h] == 0)
            ssi_msg_begin(&w[h], out[h], sizeof out[h], SSI_MSG_GUEST_LOAD);
        if (npairs[h] < 100) {
            ssi_msg_put_u64(&w[h], SSI_TAG_PID, (uint64_t)g->pid);
            ssi_msg_put_u64(&w[h], SSI_TAG_LOADM, (uint64_t)(demand * 1000 + 0.5));
            npairs[h]++;
        }
    }
    for (int i = 0; i < S_GUESTS_MAX; i++)
        if (!s_guests[i].seen)
            s_guests[i].t = 0; /* gone */
    for (int h = 0; h < nnodes; h++) {
        if (!npairs[h])
            continue;
        long len = ssi_msg_end(&w[h]);
        if (len > 0)
            ssid_node_send(h, out[h], (size_t)len);
    }
}

void ssid_balance_guest_load(int from, const ssi_msg_t *m)
{
    int64_t now = ssid_node_now();
    for (size_t i = 0; i + 1 < m->nfields; i++) {
        uint64_t pid = 0, loadm = 0;
        if (m->field[i].tag != SSI_TAG_PID || m->field[i + 1].tag != SSI_TAG_LOADM ||
            ssi_field_u64(&m->field[i], &pid) < 0 || ssi_field_u64(&m->field[i + 1], &loadm) < 0)
            continue;
        i++;
        ssid_client_t *c = ssid_client_by_pid((pid_t)pid);
        /* Only the node it runs on speaks for it. */
        if (!c || c->away != from || loadm > 1000)
            continue;
        s_fact_t *f = s_fact(c);
        if (!f)
            continue;
        f->away_demand = loadm / 1000.0;
        f->away_t = now;
        f->away_node = from;
    }
}

/* A move we asked for ended: measure the bandwidth, or note the failure. */
static void s_follow(s_fact_t *f, const ssid_client_t *c, int64_t now)
{
    if (!f->tried || c->migrating)
        return;
    f->tried = false;
    if (c->moves == f->moves) {
        f->failed = now;
        ssi_info("the move of process %d failed; it is left alone for %d s", c->pid,
                 S_FAILED_MS / 1000);
        return;
    }
    double s = c->move_ms / 1000.0 - SSI_POLICY_FIXED_S;
    if (s > 0.01 && f->image_mb > 0) {
        double bw = f->image_mb / s;
        s_bandwidth = s_bandwidth > 0 ? 0.7 * s_bandwidth + 0.3 * bw : bw;
        ssi_debug("move of %.1f MB in %lld ms: bandwidth now %.1f MB/s", f->image_mb,
                  (long long)c->move_ms, s_bandwidth);
    }
}

/* A move in flight is counted in full: its clock starts when it lands (or
 * fails, or S_PENDING_FLIGHT passed), since the gossip starts to show it only
 * then. Under load a placement's move can land seconds after the decision:
 * counted from the decision, it faded before the target's load showed it,
 * and the balancer moved one more job there (then one back). */
static void s_pending_follow(int i, int64_t now)
{
    if (!s_pending[i].client)
        return;
    const ssid_client_t *c = ssid_client_by_id(s_pending[i].client);
    /* A placement's move begins when the shim asks for it: until then it
     * is in flight too; one that began and ended with no move failed. */
    if (c && c->migrating)
        s_pending[i].began = true;
    bool flying = c && c->moves == s_pending[i].moves && (c->migrating || !s_pending[i].began) &&
                  now - s_pending[i].decided < S_PENDING_FLIGHT;
    s_pending[i].t = now;
    if (!flying)
        s_pending[i].client = 0;
}

/* Loads and free memory count the moves we started until the gossip shows
 * them: the run queue's change is returned, the memory's added to *mb.
 * The load is smoothed where it is measured, so a move's share fades as
 * the gossiped load takes it in; free memory is measured as it is, so a
 * move's memory counts in full until the node's first measurement taken
 * S_PENDING_MEM_MS after the landing (`stamp`: when its gossiped figures
 * were measured), then not at all. Faded by time, a guest sent off a node
 * short of memory had faded to half before a loaded node's report showed
 * the room it left, and a second guest was sent off (CI, balance_memory). */
static double s_pending_at(int node, int64_t now, double *mb, bool placing, int64_t stamp)
{
    double sum = 0;
    for (int i = 0; i < S_PENDING_MAX; i++) {
        if ((s_pending[i].delta == 0 && s_pending[i].mb == 0) || s_pending[i].node != node)
            continue;
        if (placing && s_pending[i].leaving)
            continue;
        s_pending_follow(i, now);
        int64_t age = now - s_pending[i].t;
        /* As the gossiped load is smoothed: 0.7 per 500 ms. */
        double w = 1;
        for (int64_t t = S_PENDING_HOLD; t < age && w >= 0.05; t += 500)
            w *= 0.7;
        if (!s_pending[i].client && stamp > s_pending[i].t + S_PENDING_MEM_MS)
            s_pending[i].mb = 0; /* landed, and measured since */
        if (w < 0.05) {
            s_pending[i].delta = s_pending[i].mb = 0;
        } else {
            sum += s_pending[i].delta * w;
            *mb += s_pending[i].mb;
        }
    }
    return sum;
}

static void s_pend(int node, double delta, double mb, const ssid_client_t *moving, int64_t now)
{
    int slot = 0;
    for (int i = 0; i < S_PENDING_MAX; i++) {
        bool unused = s_pending[i].delta == 0 && s_pending[i].mb == 0;
        if (unused || s_pending[i].t < s_pending[slot].t) {
            slot = i;
            if (unused)
                break;
        }
    }
    s_pending[slot].node = node;
    s_pending[slot].delta = delta;
    s_pending[slot].mb = mb;
    s_pending[slot].t = s_pending[slot].decided = now;
    s_pending[slot].client = moving ? moving->id : 0;
    s_pending[slot].moves = moving ? moving->moves : 0;
    s_pending[slot].began = moving && moving->migrating;
    s_pending[slot].leaving = false;
}

/* Logs a declined chance, once per run of the same reason. */
static void s_declined(const char *why)
{
    if (strcmp(why, s_last_why) == 0) {
        s_repeats++;
        return;
    }
    if (s_repeats)
        ssi_info("(the last reason held for %u more period%s)", s_repeats,
                 s_repeats == 1 ? "" : "s");
    s_repeats = 0;
    snprintf(s_last_why, sizeof s_last_why, "%s", why);
    if (*why) {
        ssi_info("%s", why);
        ssid_events_note("declined", "%s", why);
    }
}

/* Whether this node runs no ssi process (no guest, none of ours at home,
 * no move under way), and since when; with consolidation, a node empty for
 * empty_after runs empty_command once (to suspend it, say). */
static void s_track_empty(const ssi_balance_conf_t *conf, int64_t now)
{
    static bool s_ran;
    bool empty = ssid_mig_first() == NULL;
    for (int i = 0; empty && i < ssid_client_count(); i++) {
        ssid_client_t *c = ssid_client_at(i);
        empty = !c->registered || (c->away >= 0 && !c->migrating);
    }
    if (!empty) {
        if (ssid_node.empty_since)
            ssi_info("%s runs ssi processes again", ssid_node.name);
        ssid_node.empty_since = 0;
        s_ran = false;
        return;
    }
    if (!ssid_node.empty_since)
        ssid_node.empty_since = now;
    if (s_ran || !conf->on || !conf->consolidate || !*conf->empty_command ||
        now - ssid_node.empty_since < (int64_t)conf->empty_after_ms)
        return;
    s_ran = true;
    ssi_info("%s has been empty for %lld ms: running empty_command: %s", ssid_node.name,
             (long long)(now - ssid_node.empty_since), conf->empty_command);
    pid_t pid = fork();
    if (pid == 0) {
        /* ssid blocks the signals its signalfd reads: not the command's. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setenv("SSI_NODE", ssid_node.name, 1);
        execl("/bin/sh", "sh", "-c", conf->empty_command, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        ssi_warn("cannot run empty_command: %s", strerror(errno));
}

/* Balancer moves that left this node lately (ours, and those we granted to
 * other homes), for the per-source limit. */
static int64_t s_left[S_LEFT_MAX];

static unsigned s_left_count(int64_t now, unsigned period_ms)
{
    unsigned n = 0;
    for (int i = 0; i < S_LEFT_MAX; i++)
        if (s_left[i] && now - s_left[i] < (int64_t)period_ms)
            n++;
    return n;
}

static void s_left_note(int64_t now)
{
    int slot = 0;
    for (int i = 1; i < S_LEFT_MAX; i++)
        if (s_left[i] < s_left[slot])
            slot = i;
    s_left[slot] = now;
}

/* Moves of ours waiting for the leave of the node their process runs on. */
static struct {
    uint64_t reqid; /* 0: a free slot */
    uint64_t id;    /* the client */
    int node;       /* asked */
    int64_t t;
    int n; /* moves decided in its period */
    ssi_policy_decision_t d;
    ssi_policy_proc_t pp;
} s_asks[S_ASK_MAX];

static bool s_asking(uint64_t id, int64_t now)
{
    for (int i = 0; i < S_ASK_MAX; i++)
        if (s_asks[i].reqid && s_asks[i].id == id && now - s_asks[i].t < S_ASK_MS)
            return true;
    return false;
}

/* Starts one decision of this period (one of n): a first hop, a homecoming
 * or a chained move through home; logs it with its reason. */
static void s_start(const ssi_policy_decision_t *d, ssid_client_t *p, const ssi_policy_proc_t *pp,
                    int n, const char *note, int64_t now)
{
    char why[512];
    /* What cannot move (threads, shared memory...) is refused here,
	 * before anything is touched, and left alone for a while. */
    if (d->kind == SSI_POLICY_MOVE && p->away < 0 &&
        ssi_deputy_check(p->pid, why, sizeof why) < 0) {
        ssi_info("declined: process %d cannot migrate: %s", p->pid, why);
        s_fact(p)->failed = now;
        return;
    }
    s_declined("");
    const char *verb = d->kind == SSI_POLICY_HOME ? "bringing home" : "moving";
    char also[48] = "";
    if (n > 1)
        snprintf(also, sizeof also, " (one of %d moves this period)", n);
    ssi_info("%s: %s%s%s", verb, d->why, also, note);
    ssid_events_note("balance", "%s: %s%s%s", verb, d->why, also, note);
    s_fact_t *f = s_fact(p);
    f->tried = true;
    f->moves = p->moves;
    ssid_asker_t a = {.client = 0, .peer = -1, .uid = 0}; /* no one waits for the answer */
    s_pend(pp->node, -pp->demand, pp->image_mb, p, now);
    s_pend(d->to, pp->demand > 0.1 ? pp->demand : 0.1, -pp->image_mb, p, now);
    if (d->kind == SSI_POLICY_HOME)
        ssid_home_start(&a, p, -1);
    else if (p->away >= 0)
        ssid_home_start(&a, p, d->to); /* a chained move goes through home */
    else
        ssid_offer_start(&a, p, d->to, "");
}

/* One decision of this period: a process here leaves now (counted in our
 * own budget); one that runs on another node first asks that node for one
 * of its moves (MOVE_ASK), and starts when it is granted. */
static void s_carry_out(const ssi_policy_decision_t *d, ssid_client_t *p,
                        const ssi_policy_proc_t *pp, int n, int64_t now)
{
    if (pp->node == ssid_node.self) {
        s_left_note(now);
        s_start(d, p, pp, n, "", now);
        return;
    }
    int slot = -1;
    for (int i = 0; i < S_ASK_MAX && slot < 0; i++)
        if (!s_asks[i].reqid || now - s_asks[i].t >= S_ASK_MS)
            slot = i;
    if (slot < 0)
        return; /* too many asks in flight: the next period decides again */
    s_asks[slot].reqid = ssid_node_new_reqid();
    s_asks[slot].id = p->id;
    s_asks[slot].node = pp->node;
    s_asks[slot].t = now;
    s_asks[slot].n = n;
    s_asks[slot].d = *d;
    s_asks[slot].pp = *pp;
    s_asks[slot].pp.pinned = NULL;
    uint8_t out[256];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MOVE_ASK);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, s_asks[slot].reqid);
    ssi_msg_put_str(&w, SSI_TAG_HOME, ssid_node.name);
    ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)p->pid);
    long len = ssi_msg_end(&w);
    if (len > 0)
        ssid_node_send(pp->node, out, (size_t)len);
    ssi_debug("asked %s for one of its moves: process %d", ssid_node_peer_name(pp->node), p->pid);
}

void ssid_balance_asked(int from, const ssi_msg_t *m)
{
    const ssi_balance_conf_t *conf = ssi_cluster_balance(ssid_node.cluster);
    uint64_t reqid = 0, pid = 0;
    char home[SSI_NAME_MAX + 1] = "", text[300] = "";
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 ||
        ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_HOME), home, sizeof home) < 0) {
        ssi_warn("dropped a malformed MOVE_ASK from %s", ssid_node_peer_name(from));
        return;
    }
    /* Only a home about its own guest here (the sender is the CURVE
     * identity, not the HOME it claims). */
    bool guest = false;
    for (ssid_mig_t *g = ssid_mig_first(); g && !guest; g = g->next)
        guest =
            !g->home_side && g->peer == from && g->pid == (pid_t)pid && strcmp(g->home, home) == 0;
    int64_t now = ssid_node_now();
    unsigned left = s_left_count(now, conf->period_ms);
    int err = 0;
    if (!guest) {
        err = ESRCH;
        snprintf(text, sizeof text, "process %llu of %s does not run on %s",
                 (unsigned long long)pid, ssid_node_peer_name(from), ssid_node.name);
    } else if (left >= conf->moves) {
        err = EBUSY;
        snprintf(text, sizeof text,
                 "%s sent %u balancer move%s in the last %u ms already (moves = %u per node and "
                 "period)",
                 ssid_node.name, left, left == 1 ? "" : "s", conf->period_ms, conf->moves);
        ssi_info("refused %s a move of process %llu: %s", ssid_node_peer_name(from),
                 (unsigned long long)pid, text);
    } else {
        s_left_note(now);
        ssi_info("granted %s a move of process %llu (%u of %u this period)",
                 ssid_node_peer_name(from), (unsigned long long)pid, left + 1, conf->moves);
    }
    uint8_t out[512];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MOVE_ANSWER);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, reqid);
    ssi_msg_put_u64(&w, SSI_TAG_ERRNO, (uint64_t)err);
    if (*text)
        ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
    long len = ssi_msg_end(&w);
    if (len > 0)
        ssid_node_send(from, out, (size_t)len);
}

void ssid_balance_answered(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0, err = 0;
    char text[300] = "";
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_ERRNO), &err) < 0)
        return;
    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
    int64_t now = ssid_node_now();
    for (int i = 0; i < S_ASK_MAX; i++) {
        if (s_asks[i].reqid != reqid || s_asks[i].node != from)
            continue;
        s_asks[i].reqid = 0;
        ssid_client_t *p = ssid_client_by_id(s_asks[i].id);
        if (!p || !p->registered || p->migrating || p->away != from)
            return; /* it ended or moved meanwhile */
        if (now - s_asks[i].t >= S_ASK_MS) {
            ssi_info("declined: process %d: %s answered too late (%lld ms)", p->pid,
                     ssid_node_peer_name(from), (long long)(now - s_asks[i].t));
            return;
        }
        if (err) {
            char why[400];
            snprintf(why, sizeof why, "declined: process %d %s -> %s: %s", p->pid,
                     ssid_node_peer_name(from), ssid_node_peer_name(s_asks[i].d.to), text);
            ssi_info("%s", why);
            ssid_events_note("declined", "%s", why);
            return;
        }
        char note[120];
        snprintf(note, sizeof note, "; %s granted it one of its moves", ssid_node_peer_name(from));
        s_start(&s_asks[i].d, p, &s_asks[i].pp, s_asks[i].n, note, now);
        return;
    }
}

/* The node table as the policy sees it: gossiped loads, with the moves we
 * started and not yet gossiped counted in. Returns the number of nodes. */
static int s_nodes(ssi_policy_node_t *nodes, const char **names, int64_t now, bool placing)
{
    int nnodes = (int)ssi_cluster_size(ssid_node.cluster);
    for (int i = 0; i < nnodes; i++) {
        const ssi_gossip_entry_t *e = ssi_gossip_entry(ssid_node.gossip, i);
        double speed = ssi_cluster_node(ssid_node.cluster, (size_t)i)->speed;
        names[i] = ssid_node_peer_name(i);
        nodes[i].up = ssi_gossip_is_up(ssid_node.gossip, i, now) && e->known &&
                      now - e->stamp <= S_FRESH_MS && e->cpum > 0;
        /* Home takes its own back unless it drains; others take guests
		 * unless blocked. */
        nodes[i].accepts = i == ssid_node.self ? !ssid_node.draining : e->blocked == 0;
        nodes[i].cap = e->cpum / 1000.0 * speed;
        nodes[i].free_mb = e->freekb / 1024.0;
        nodes[i].runq =
            e->loadm / 1000.0 + s_pending_at(i, now, &nodes[i].free_mb, placing, e->stamp);
        if (nodes[i].runq < 0)
            nodes[i].runq = 0;
    }
    return nnodes;
}

/* Placements of one burst (N processes started at once) see the loads of
 * its start plus the burst's own decisions (pending): the burst's start-up
 * work (N processes exec'ing and loading, runnable for a while) raised the
 * home's smoothed load by several processes that then ran elsewhere, and the
 * home kept too few of them (3 of 16 on 4 hosts). A load that fell since the
 * burst began is taken as it is now. */
static void s_burst_loads(ssi_policy_node_t *nodes, int nnodes, int64_t now)
{
    static int64_t last;
    static double base[SSI_CLUSTER_MAX];
    bool fresh = now - last > S_BURST_MS;
    last = now;
    for (int i = 0; i < nnodes; i++) {
        double measured = ssi_gossip_entry(ssid_node.gossip, i)->loadm / 1000.0;
        if (fresh || measured < base[i])
            base[i] = measured;
        else if (nodes[i].runq > measured - base[i])
            nodes[i].runq -= measured - base[i];
    }
}

const char *ssid_balance_place(ssid_client_t *c, const ssi_msg_t *m)
{
    const ssi_balance_conf_t *conf = ssi_cluster_balance(ssid_node.cluster);
    uint64_t ask = 0;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PLACE_ASK), &ask);
    if (!ask || c->stay || !conf->on || !conf->place)
        return NULL;
    int64_t now = ssid_node_now();
    static ssi_policy_node_t nodes[SSI_CLUSTER_MAX];
    static const char *names[SSI_CLUSTER_MAX];
    int nnodes = s_nodes(nodes, names, now, true);
    s_burst_loads(nodes, nnodes, now);
    double image_mb = s_proc_field(c->pid, "status", "VmRSS:") / 1024.0;
    ssi_policy_decision_t d;
    ssi_policy_place(conf, nodes, names, nnodes, ssid_node.self, c->pid,
                     image_mb > 0 ? image_mb : 0, s_bandwidth, randombytes_random(), &d);
    char what[600];
    if (d.kind == SSI_POLICY_MOVE) {
        /* Away, fork, exec and threads fail until they exist there: a
         * program that may make them is left to the balancer, which moves
         * it only once measured CPU-bound. Nothing of it is known yet. */
        int rc = ssi_precheck_spawns(c->pid, what, sizeof what);
        if (rc != 0) {
            ssi_info("not placing process %d before main: %s", c->pid,
                     rc > 0 ? what : "its program could not be read");
            d.kind = SSI_POLICY_NONE;
        } else if (ssi_deputy_check(c->pid, what, sizeof what) < 0) {
            ssi_info("not placing process %d before main: %s", c->pid, what);
            d.kind = SSI_POLICY_NONE;
        }
    }
    /* Where it runs was decided with the loads of this instant: the
     * periodic rule leaves it there for the residence, as after a move
     * (the gossiped loads lag behind a burst of new processes). */
    s_fact_t *f = s_fact(c);
    if (f)
        f->placed = now;
    if (d.kind != SSI_POLICY_MOVE) {
        /* It runs here: counted in our load until the gossip shows it. */
        s_pend(ssid_node.self, 1, 0, NULL, now);
        return NULL;
    }
    ssi_info("placing: %s; before main", d.why);
    ssid_events_note("balance", "placing: %s; before main", d.why);
    s_pend(d.to, 1, -image_mb, c, now);
    /* Until its move lands it is here, runnable at times (its start, its
     * freeze): the periodic rule counts it gone, as the move's target
     * counts it there. Placements do not: the loads they see are the
     * burst's start, before it was here (s_burst_loads). */
    s_pend(ssid_node.self, -1, 0, c, now);
    for (int i = 0; i < S_PENDING_MAX; i++)
        if (s_pending[i].client == c->id && s_pending[i].node == ssid_node.self)
            s_pending[i].leaving = true;
    /* The shim asks for the move itself (a MIGRATE of its own); it runs at
     * home if that fails. */
    return names[d.to];
}

unsigned ssid_balance_tick(void)
{
    const ssi_balance_conf_t *conf = ssi_cluster_balance(ssid_node.cluster);
    s_track_empty(conf, ssid_node_now());
    if (!conf->on) {
        if (!s_said_off)
            ssi_info("balancing is off (cluster file: balance = off)");
        s_said_off = true;
        return conf->period_ms;
    }
    int64_t now = ssid_node_now();
    s_report_guests(now);
    static ssi_policy_node_t nodes[SSI_CLUSTER_MAX];
    static const char *names[SSI_CLUSTER_MAX];
    int nnodes = s_nodes(nodes, names, now, false);

    s_sweep();
    static ssi_policy_proc_t procs[SSID_CLIENT_MAX];
    static ssid_client_t *who[SSID_CLIENT_MAX];
    static char pins[SSID_CLIENT_MAX][80];
    int np = 0;
    for (int i = 0; i < ssid_client_count(); i++) {
        ssid_client_t *c = ssid_client_at(i);
        if (!c->registered)
            continue;
        s_fact_t *f = s_fact(c);
        if (!f)
            continue;
        s_follow(f, c, now);
        s_sample(f, c, now);
        c->demand = f->demand;
        const char *pin = NULL;
        if (c->stay)
            pin = "it stays (ssirun --stay)";
        else if (c->migrating)
            pin = "it is being moved";
        else if (s_asking(c->id, now))
            pin = "its node has not answered whether it may leave";
        else if (f->failed && now - f->failed < S_FAILED_MS)
            pin = "its last move failed";
        /* The residence keeps a moved process from bouncing; one that
		 * never moved may go as soon as it was measured (the horizon of
		 * the rule still keeps short-lived ones home). */
        else if ((c->moves > 0 || f->placed) && now - c->since < (int64_t)conf->residence_ms) {
            snprintf(pins[np], sizeof pins[np], "on its node for less than the residence of %u ms",
                     conf->residence_ms);
            pin = pins[np];
        } else if (!f->rated)
            pin = "not measured yet";
        who[np] = c;
        procs[np++] = (ssi_policy_proc_t){
            .pid = c->pid,
            .node = c->away >= 0 ? c->away : ssid_node.self,
            .pinned = pin,
            .demand = f->demand,
            .io_rate = f->io_rate,
            .image_mb = f->image_mb,
            .age_s = (now - c->started) / 1000.0,
            .moves = c->moves,
        };
    }
    if (np == 0)
        return conf->period_ms;

    /* Several moves when the imbalance is large, at most conf->moves out
     * of each source node (where the process runs) in this period. */
    static ssi_policy_decision_t dec[S_MAX_MOVES];
    unsigned out[SSI_CLUSTER_MAX] = {0};
    out[ssid_node.self] = s_left_count(now, conf->period_ms); /* granted to others */
    ssi_policy_decision_t declined;
    int nd =
        ssi_policy_decide_many(conf, nodes, names, nnodes, ssid_node.self, procs, np, s_bandwidth,
                               randombytes_random(), out, dec, S_MAX_MOVES, &declined);
    if (nd == 0) {
        s_declined(declined.why);
        return conf->period_ms;
    }
    for (int k = 0; k < nd; k++)
        s_carry_out(&dec[k], who[dec[k].proc], &procs[dec[k].proc], nd, now);
    return conf->period_ms;
}
