/* ssid_move: migration requests and what follows a migration's end (see
 * ssid_move.h). Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_move.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ssid_ckpt.h"
#include "ssid_home.h"
#include "ssid_offer.h"
#include "ssid_relay.h"

#include "ssi_log.h"

/* MIGRATE for asker a, from wherever it came. */
static void s_request(const ssid_asker_t *asker, const ssi_msg_t *m)
{
    uint64_t pid = 0, stop_copy = 0;
    ssid_asker_t a1 = *asker;
    const ssid_asker_t *a = &a1;
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_STOPCOPY), &stop_copy) == 0)
        a1.stop_copy = stop_copy != 0;
    char dest[SSI_NAME_MAX + 1], why[512];
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid) < 0 ||
        ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_NODE), dest, sizeof dest) < 0) {
        ssid_mig_answer(a, EINVAL, "malformed migrate request");
        return;
    }
    char home[SSI_NAME_MAX + 1] = "";
    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_HOME), home, sizeof home);
    if (*home && strcmp(home, ssid_node.name) != 0) {
        ssid_relay_ask(a, home, pid, dest);
        return;
    }
    ssid_client_t *p = ssid_client_by_pid((pid_t)pid);
    if (!p) {
        snprintf(
            why, sizeof why,
            "process %llu is not an ssi process whose home is %s (see 'ssictl ps'; start programs with ssirun)",
            (unsigned long long)pid, ssid_node.name);
        ssid_mig_answer(a, ESRCH, why);
        return;
    }
    if (a->uid != 0 && a->uid != p->uid) {
        snprintf(why, sizeof why,
                 "process %d belongs to uid %u: only its owner or root may move it", p->pid,
                 (unsigned)p->uid);
        ssid_mig_answer(a, EPERM, why);
        return;
    }
    if (p->migrating || p->ckpt) {
        snprintf(why, sizeof why, "process %d is being moved already; try again when that is done",
                 p->pid);
        ssid_mig_answer(a, EBUSY, why);
        return;
    }
    bool to_home = strcmp(dest, "home") == 0 || strcmp(dest, ssid_node.name) == 0;
    if (p->away >= 0 && to_home) {
        ssid_home_start(a, p, -1);
        return;
    }
    if (to_home) {
        snprintf(why, sizeof why, "process %d already runs at home on %s", p->pid, ssid_node.name);
        ssid_mig_answer(a, EALREADY, why);
        return;
    }
    int to = ssi_cluster_index(ssid_node.cluster, dest);
    if (to < 0) {
        char names[256] = "";
        for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++) {
            if (ssi_cluster_removed(ssid_node.cluster, i))
                continue;
            strncat(names, " ", sizeof names - strlen(names) - 1);
            strncat(names, ssid_node_peer_name((int)i), sizeof names - strlen(names) - 1);
        }
        snprintf(why, sizeof why, "unknown node '%s'; the nodes are:%s", dest, names);
        ssid_mig_answer(a, ENOENT, why);
        return;
    }
    if (p->away >= 0 && to == p->away) {
        snprintf(why, sizeof why, "process %d already runs on %s", p->pid, dest);
        ssid_mig_answer(a, EALREADY, why);
        return;
    }
    if (!ssi_gossip_is_up(ssid_node.gossip, to, ssid_node_now())) {
        char state[64]; /* down, or incompatible (protocol N) */
        snprintf(why, sizeof why, "node %s is %s (see 'ssictl nodes'); the process was not touched",
                 dest,
                 ssi_gossip_state(ssid_node.gossip, to, ssid_node_now(), state, sizeof state));
        ssid_mig_answer(a, EHOSTDOWN, why);
        return;
    }
    if (p->away >= 0) {
        /* A chained move: home first, then on as a first hop. */
        ssid_home_start(a, p, to);
        return;
    }
    ssid_offer_start(a, p, to, "");
}

void ssid_move_request(ssid_client_t *c, const ssi_msg_t *m)
{
    ssid_asker_t a = {.client = c->id, .peer = -1, .uid = c->uid};
    s_request(&a, m);
}

void ssid_move_home_ask(ssid_client_t *c)
{
    /* Only for itself: the process is the connection's peer (SO_PEERCRED),
     * whatever the message says. */
    ssid_asker_t a = {.client = c->id, .peer = -1, .uid = c->uid};
    ssid_client_t *p = c->registered ? c : ssid_client_by_pid(c->pid);
    char why[256];
    ssi_info("process %d asks to come home: it forks, spawns, makes a pipe or execs", c->pid);
    /* Being moved (a body that runs already while ssi-freeze, which we
     * have not reaped yet, ends: p->away is set then) or checkpointed: the
     * deputy asks again a second later. */
    if (p && (p->migrating || p->ckpt)) {
        snprintf(why, sizeof why, "process %d is being moved or checkpointed", p->pid);
        ssid_mig_answer(&a, EBUSY, why);
        return;
    }
    if (!p || p->away < 0) {
        snprintf(why, sizeof why, "process %d is not an ssi process away from %s", c->pid,
                 ssid_node.name);
        ssid_mig_answer(&a, ESRCH, why);
        return;
    }
    ssid_home_start(&a, p, -1);
}

void ssid_move_relayed(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0, uid = 0;
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_UID), &uid) < 0)
        return;
    ssid_asker_t a = {.client = 0, .peer = from, .reqid = reqid, .uid = (uid_t)uid};
    s_request(&a, m);
}

void ssid_move_reaped(ssid_mig_t *g)
{
    if (g->checkpoint) {
        ssid_ckpt_reaped(g);
        return;
    }
    if (!g->home_side || !g->homecoming) {
        ssid_offer_reaped(g);
        return;
    }
    ssid_home_next_t next;
    if (ssid_home_reaped(g, &next) == 0)
        return;
    /* The second leg of a chained move, as a first hop from home. Its
	 * failures leave the process here, and say so. */
    ssid_client_t *p = ssid_client_by_pid(next.pid);
    if (!p) {
        ssid_mig_answer(&next.asker, ESRCH, "the process ended at home before it could move on");
        return;
    }
    if (!ssi_gossip_is_up(ssid_node.gossip, next.to, ssid_node_now())) {
        char text[900];
        snprintf(text, sizeof text, "%snode %s is down; it keeps running on %s", next.note,
                 ssid_node_peer_name(next.to), ssid_node.name);
        ssid_mig_answer(&next.asker, EHOSTDOWN, text);
        return;
    }
    ssid_offer_start(&next.asker, p, next.to, next.note);
}
