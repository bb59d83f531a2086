/* ssid_recover: see ssid_recover.h. Runs in ssid. */
#define SSI_LOG_PREFIX "recover"

#include "ssid_recover.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ssi_image.h"
#include "ssi_log.h"
#include "ssid_events.h"
#include "ssid_mig.h"
#include "ssid_node.h"
#include "ssid_offer.h"

/* The freeze signal with the probe value, through the pidfd ssid holds
 * (no pid can be taken again in between). */
static int s_probe(const ssid_client_t *p)
{
    siginfo_t si;
    int fd = ssid_client_pidfd(p);
    if (fd < 0)
        return -EBADF;
    memset(&si, 0, sizeof si);
    si.si_signo = SSI_FREEZE_SIGNAL;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = SSI_IMAGE_PROBE_VALUE;
    return syscall(SYS_pidfd_send_signal, fd, SSI_FREEZE_SIGNAL, &si, 0) < 0 ? -errno : 0;
}

/* Processes recovered here whose lost node is still to be told. */
typedef struct {
    int node;
    pid_t pid;
    uint64_t reqid; /* the move that put the body there, 0 unknown */
    int64_t since, next;
} s_tell_t;
static s_tell_t s_tell[SSID_RECOVER_TELL_MAX];
static int s_ntell;

/* Node i's run queue per CPU with one more process, from the gossip, or
 * -1 when its figures are not fresh. */
static double s_load_with_one(int i, int64_t now)
{
    const ssi_gossip_entry_t *e = ssi_gossip_entry(ssid_node.gossip, i);
    double speed = ssi_cluster_node(ssid_node.cluster, (size_t)i)->speed;
    double cpus = e->cpum / 1000.0 * (speed > 0 ? speed : 1);
    if (!e->known || e->cpum == 0 || now - e->stamp > SSID_RECOVER_FRESH_MS)
        return -1;
    return (e->loadm / 1000.0 + 1) / cpus;
}

/* Did process pid's body die on node i (still to be told)? The gossip may
 * not say that node down yet: the link broke first. */
static bool s_lost_on(int i, pid_t pid)
{
    for (int k = 0; k < s_ntell; k++)
        if (s_tell[k].node == i && s_tell[k].pid == pid)
            return true;
    return false;
}

/* A process recovered at home: stays if home is not loaded, else goes to
 * the least loaded live node that takes guests, if less loaded. */
static void s_place(ssid_client_t *p, int64_t now)
{
    int self = ssid_node.self, best = -1;
    double home = s_load_with_one(self, now), best_load = 0;
    for (int i = 0; i < (int)ssi_cluster_size(ssid_node.cluster); i++) {
        const ssi_gossip_entry_t *e = ssi_gossip_entry(ssid_node.gossip, i);
        double l = s_load_with_one(i, now);
        if (i == self || l < 0 || ssi_cluster_removed(ssid_node.cluster, (size_t)i) ||
            !ssi_gossip_is_up(ssid_node.gossip, i, now) || e->blocked || s_lost_on(i, p->pid))
            continue;
        if (best < 0 || l < best_load) {
            best = i;
            best_load = l;
        }
    }
    if (p->stay || home <= 1.0 || best < 0 || best_load >= home) {
        ssi_info("process %d (%s), recovered here, runs on here: %s", p->pid, p->cmd,
                 p->stay       ? "it stays (ssirun --stay)"
                 : home < 0    ? "this node's load is not known"
                 : home <= 1.0 ? "this node is not loaded"
                 : best < 0    ? "no other live node takes guests"
                               : "no other live node is less loaded");
        return;
    }
    char note[160];
    snprintf(note, sizeof note, "recovered at loaded %s (load %.2f per CPU): ", ssid_node.name,
             home);
    ssi_warn("process %d (%s), recovered here, moves to %s, the least loaded live node "
             "(load %.2f per CPU with it; here %.2f)",
             p->pid, p->cmd, ssid_node_peer_name(best), best_load, home);
    ssid_events_note("recover",
                     "process %d (%s), recovered at %s (loaded: %.2f per CPU), moves to %s, the "
                     "least loaded live node (%.2f)",
                     p->pid, p->cmd, ssid_node.name, home, ssid_node_peer_name(best), best_load);
    ssid_asker_t a = {.client = 0, .peer = -1, .uid = 0}; /* no one waits for the answer */
    ssid_offer_start(&a, p, best, note);
}

static void s_tell_send(const s_tell_t *t)
{
    uint8_t out[128];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_RECOVERED);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, t->reqid);
    ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)t->pid);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_node_send(t->node, out, (size_t)n);
}

/* Each lost node heard again hears RECOVERED for each of its old bodies,
 * every SSID_RECOVER_TELL_MS until it answers. */
static void s_tell_watch(int64_t now)
{
    for (int i = 0; i < s_ntell; i++) {
        s_tell_t *t = &s_tell[i];
        if (now - t->since > SSID_RECOVER_TELL_FOR_MS ||
            ssi_cluster_removed(ssid_node.cluster, (size_t)t->node)) {
            s_tell[i--] = s_tell[--s_ntell];
            continue;
        }
        if (now < t->next || !ssi_gossip_is_up(ssid_node.gossip, t->node, now))
            continue;
        if (!t->next)
            ssi_info("%s is up: telling it that process %d was recovered here",
                     ssid_node_peer_name(t->node), t->pid);
        t->next = now + SSID_RECOVER_TELL_MS;
        s_tell_send(t);
    }
}

/* Old bodies killed here on their home's word, so that the same word
 * again (sent every second until answered: our first answer may have been
 * lost) is answered the same way, with the same event. */
typedef struct {
    int home;
    pid_t pid;
    uint64_t reqid;
    uint64_t time_ms; /* of the event */
} s_ended_t;
static s_ended_t s_ended[SSID_RECOVER_ENDED_MAX];
static unsigned s_nended; /* entries written, the oldest overwritten */

static const s_ended_t *s_ended_find(int home, pid_t pid, uint64_t reqid)
{
    unsigned n = s_nended < SSID_RECOVER_ENDED_MAX ? s_nended : SSID_RECOVER_ENDED_MAX;
    for (unsigned k = 0; k < n; k++) {
        const s_ended_t *e = &s_ended[k];
        if (e->home == home && e->pid == pid && (!reqid || !e->reqid || e->reqid == reqid))
            return e;
    }
    return NULL;
}

void ssid_recover_told(int from, const ssi_msg_t *m, zsock_t *router, zframe_t *identity)
{
    uint64_t reqid = 0, pid = 0, found = 0;
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 || !pid)
        return;
    for (ssid_mig_t *g = ssid_mig_first(); g; g = g->next) {
        /* Our record of the body home sent here (by that very move, when
         * home knows it): the agent (helper 1) is pid 1 of the body's
         * namespace, which dies with it. */
        if (g->home_side || g->checkpoint || g->peer != from || g->pid != (pid_t)pid ||
            (reqid && g->reqid != reqid) || g->nhelpers < 2 || g->helper[1] <= 0)
            continue;
        /* Still our running child (never a pid used again). */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)g->helper[1], &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == 0 && kill(g->helper[1], SIGKILL) == 0)
            found++;
    }
    char text[400];
    snprintf(text, sizeof text,
             "the old body of %s:%llu on %s was killed: the process was recovered at its home "
             "while %s was cut off",
             ssid_node_peer_name(from), (unsigned long long)pid, ssid_node.name, ssid_node.name);
    const s_ended_t *e = found ? NULL : s_ended_find(from, (pid_t)pid, reqid);
    uint64_t when = 0;
    if (found) {
        ssi_warn("the body of %s:%llu here was recovered at its home while this node was "
                 "cut off: killed it",
                 ssid_node_peer_name(from), (unsigned long long)pid);
        /* Home gets the event with our answer. */
        when = ssid_events_note_except(from, "recover", text);
        s_ended[s_nended++ % SSID_RECOVER_ENDED_MAX] =
            (s_ended_t){.home = from, .pid = (pid_t)pid, .reqid = reqid, .time_ms = when};
    } else if (e) {
        found = 1; /* we answered already: the same again */
        when = e->time_ms;
    } else
        ssi_info("%s recovered its process %llu: no body of it runs here (any left ends when "
                 "its link to home breaks)",
                 ssid_node_peer_name(from), (unsigned long long)pid);
    uint8_t out[640];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_RECOVERED_ACK);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, reqid);
    ssi_msg_put_u64(&w, SSI_TAG_PID, pid);
    ssi_msg_put_u64(&w, SSI_TAG_FOUND, found);
    if (found)
        ssid_events_put(&w, "recover", when, text);
    long n = ssi_msg_end(&w);
    if (n <= 0)
        return;
    /* On the connection the word came in on, which works: our own link to
     * home may not be connected again yet after a pause (a frame sent on
     * it then is dropped). */
    if (router && identity)
        ssid_node_reply(router, identity, out, (size_t)n);
    else
        ssid_node_send(from, out, (size_t)n);
}

void ssid_recover_acked(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0, pid = 0, found = 0;
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0)
        return;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_FOUND), &found);
    for (int i = 0; i < s_ntell; i++) {
        s_tell_t *t = &s_tell[i];
        if (t->node != from || t->pid != (pid_t)pid || t->reqid != reqid)
            continue;
        ssi_info("%s was told that process %d was recovered here: %s", ssid_node_peer_name(from),
                 t->pid, found ? "it killed the old body" : "no old body ran there");
        /* Its event came with the answer (sent to every other node). */
        if (found)
            ssid_events_received(from, m);
        s_tell[i--] = s_tell[--s_ntell];
    }
}

/* Has process pid left ssi-restore for its own program again? */
static bool s_runs_program(pid_t pid)
{
    char path[64], exe[4096];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = 0;
    const char *base = strrchr(exe, '/');
    return strcmp(base ? base + 1 : exe, "ssi-restore") != 0;
}

void ssid_recover_watch(void)
{
    int64_t now = ssid_node_now();
    s_tell_watch(now);
    for (int i = 0; i < ssid_client_count(); i++) {
        ssid_client_t *p = ssid_client_at(i);
        if (p->registered && p->recovered && now >= p->recovered && p->away < 0 && !p->migrating &&
            !p->ckpt) {
            if (!s_runs_program(p->pid) && now - p->recovered < 10000)
                continue; /* not yet: looked at again on the next tick */
            p->recovered = 0;
            s_place(p, now);
        }
        if (!p->registered || p->away < 0 || p->migrating) {
            p->probe_next = 0;
            continue;
        }
        if (ssi_gossip_is_up(ssid_node.gossip, p->away, now)) {
            p->probe_next = 0;
            continue;
        }
        if (p->probe_next && now < p->probe_next)
            continue;
        if (!p->probe_next) {
            ssi_warn("node %s is down: the deputy of process %d (%s) probes its link",
                     ssid_node_peer_name(p->away), p->pid, p->cmd);
            ssid_events_note("recover",
                             "node %s is down: process %d (%s), whose body runs there, checks "
                             "its link (recovered from its checkpoint if lost)",
                             ssid_node_peer_name(p->away), p->pid, p->cmd);
        }
        p->probe_next = now + SSID_RECOVER_PROBE_MS;
        int rc = s_probe(p);
        if (rc < 0)
            ssi_warn("cannot ask process %d to probe its link: %s", p->pid, strerror(-rc));
    }
}

void ssid_recover_restarted(ssid_client_t *c, int node)
{
    ssi_warn("process %d (%s) was lost with its body on %s: restarted here from its last "
             "checkpoint",
             c->pid, c->cmd, ssid_node_peer_name(node));
    ssid_events_note("recover",
                     "process %d (%s) was lost with its body on %s: restarted at home from its "
                     "last checkpoint",
                     c->pid, c->cmd, ssid_node_peer_name(node));
    c->recovered = ssid_node_now() + SSID_RECOVER_PLACE_MS;
    /* Its node, should it come back, ends the old body. */
    if (s_ntell < SSID_RECOVER_TELL_MAX && node >= 0)
        s_tell[s_ntell++] = (s_tell_t){
            .node = node, .pid = c->pid, .reqid = c->away_reqid, .since = ssid_node_now()};
    else
        ssi_warn("too many recovered processes to tell their nodes: %s will not be told of "
                 "process %d",
                 ssid_node_peer_name(node), c->pid);
    c->away_reqid = 0;
}
