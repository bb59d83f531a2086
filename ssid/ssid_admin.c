/* ssid_admin: block, unblock, expel, drain, stay, nostay (see
 * ssid_admin.h). Runs in ssid. */
#define SSI_LOG_PREFIX "admin"

#include "ssid_admin.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_log.h"
#include "ssi_precheck.h"
#include "ssid_events.h"
#include "ssid_mig.h"
#include "ssid_node.h"
#include "ssid_offer.h"

/* An ADMIN we relayed to another node, waiting for its answer. */
typedef struct admin_relay {
    struct admin_relay *next;
    uint64_t reqid;
    uint64_t client;
    int peer;
    int timer;
} admin_relay_t;

static admin_relay_t *s_relays;

/* Asks the home of every guest here to bring it home: how many. */
static int s_expel(void)
{
    int n = 0;
    for (ssid_mig_t *g = ssid_mig_first(); g; g = g->next) {
        int home = ssi_cluster_index(ssid_node.cluster, g->home);
        if (g->home_side || home < 0 || home == ssid_node.self)
            continue;
        uint8_t out[256];
        ssi_msg_writer_t w;
        ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIGRATE);
        ssi_msg_put_u64(&w, SSI_TAG_REQID, ssid_node_new_reqid());
        ssi_msg_put_u64(&w, SSI_TAG_UID, 0);
        ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)g->pid);
        ssi_msg_put_str(&w, SSI_TAG_NODE, "home");
        long len = ssi_msg_end(&w);
        if (len > 0)
            ssid_node_send(home, out, (size_t)len);
        ssi_info("expel: asked %s to bring its process %d home", g->home, g->pid);
        n++;
    }
    return n;
}

/* The least loaded up node that takes guests (a random one among equals),
 * or -1. */
static int s_least_loaded(void)
{
    int best = -1, nbest = 0;
    double best_load = 0;
    int64_t now = ssid_node_now();
    for (int i = 0; i < (int)ssi_cluster_size(ssid_node.cluster); i++) {
        const ssi_gossip_entry_t *e = ssi_gossip_entry(ssid_node.gossip, i);
        if (i == ssid_node.self || !ssi_gossip_is_up(ssid_node.gossip, i, now) || !e->known ||
            e->blocked || e->cpum == 0)
            continue;
        double load = (e->loadm / 1000.0 + 1) / (e->cpum / 1000.0);
        if (best < 0 || load < best_load - 1e-9) {
            best = i;
            best_load = load;
            nbest = 1;
        } else if (load < best_load + 1e-9 && randombytes_uniform((uint32_t)++nbest) == 0) {
            best = i;
        }
    }
    return best;
}

/* Moves every process of this home that runs here elsewhere; says how it
 * went in text. */
static void s_drain(char *text, size_t cap)
{
    int moving = 0, refused = 0, nowhere = 0;
    char refusals[300] = "";
    for (int i = 0; i < ssid_client_count(); i++) {
        ssid_client_t *p = ssid_client_at(i);
        if (!p->registered || p->away >= 0 || p->migrating)
            continue;
        char why[160];
        if (ssi_deputy_check(p->pid, why, sizeof why) < 0) {
            refused++;
            size_t l = strlen(refusals);
            snprintf(refusals + l, sizeof refusals - l, "%s%d: %s", l ? "; " : "", p->pid, why);
            continue;
        }
        int to = s_least_loaded();
        if (to < 0) {
            nowhere++;
            continue;
        }
        ssid_asker_t a = {.client = 0, .peer = -1}; /* the log says how it ends */
        ssi_info("drain: moving process %d to %s", p->pid, ssid_node_peer_name(to));
        ssid_offer_start(&a, p, to, "");
        moving++;
    }
    size_t l = strlen(text);
    snprintf(text + l, cap - l, "; %d process%s of %s moving to other nodes", moving,
             moving == 1 ? "" : "es", ssid_node.name);
    if (nowhere) {
        l = strlen(text);
        snprintf(text + l, cap - l, "; %d with no node to go to (none up that takes guests)",
                 nowhere);
    }
    if (refused) {
        l = strlen(text);
        snprintf(text + l, cap - l, "; %d cannot move (%s)", refused, refusals);
    }
}

/* Carries out op for a user uid: 0 and the answer in text, or an errno
 * and the reason in text. */
static int s_exec(const char *op, uint64_t pid, uid_t uid, char *text, size_t cap)
{
    const char *me = ssid_node.name;
    if (strcmp(op, "stay") == 0 || strcmp(op, "nostay") == 0) {
        ssid_client_t *p = ssid_client_by_pid((pid_t)pid);
        if (!p) {
            snprintf(text, cap,
                     "process %llu is not an ssi process whose home is %s (see 'ssictl ps')",
                     (unsigned long long)pid, me);
            return ESRCH;
        }
        if (uid != 0 && uid != p->uid) {
            snprintf(text, cap,
                     "process %d belongs to uid %u: only its owner or root may use %s on it (you "
                     "are uid %u)",
                     p->pid, (unsigned)p->uid, op, (unsigned)uid);
            return EPERM;
        }
        p->stay = strcmp(op, "stay") == 0;
        snprintf(text, cap,
                 p->stay ? "process %d stays where it runs (the balancer leaves it alone)"
                         : "process %d may be moved by the balancer again",
                 p->pid);
        ssi_info("%s (asked by uid %u)", text, (unsigned)uid);
        ssid_events_note("admin", "%s (asked by uid %u)", text, (unsigned)uid);
        return 0;
    }
    bool known = strcmp(op, "block") == 0 || strcmp(op, "unblock") == 0 ||
                 strcmp(op, "expel") == 0 || strcmp(op, "drain") == 0;
    if (!known) {
        snprintf(text, cap, "unknown operation '%s'", op);
        return EINVAL;
    }
    if (uid != 0) {
        snprintf(text, cap, "only root may %s a node (%s); you are uid %u", op, me, (unsigned)uid);
        return EPERM;
    }
    if (strcmp(op, "block") == 0) {
        ssid_node.blocked = true;
        snprintf(text, cap, "%s is blocked: it takes no new guests", me);
    } else if (strcmp(op, "unblock") == 0) {
        ssid_node.blocked = ssid_node.draining = false;
        snprintf(text, cap, "%s takes guests again", me);
    } else if (strcmp(op, "expel") == 0) {
        int n = s_expel();
        snprintf(text, cap, "%s: asked the homes of %d guest%s to take them back", me, n,
                 n == 1 ? "" : "s");
    } else {
        ssid_node.blocked = ssid_node.draining = true;
        int n = s_expel();
        snprintf(text, cap,
                 "%s is blocked and drains: asked the homes of %d guest%s to take them back", me, n,
                 n == 1 ? "" : "s");
        s_drain(text, cap);
    }
    ssi_info("%s", text);
    ssid_events_note("admin", "%s", text);
    return 0;
}

void ssid_admin_drain_for_stop(void)
{
    char text[1024];
    s_exec("drain", 0, 0, text, sizeof text);
}

int ssid_admin_drain_left(char *what, size_t cap)
{
    int guests = 0, moving = 0;
    for (ssid_mig_t *g = ssid_mig_first(); g; g = g->next)
        if (g->checkpoint)
            continue;
        else if (!g->home_side)
            guests++;
        else
            moving++;
    snprintf(what, cap, "%d guest%s here, %d move%s of this home's processes in flight", guests,
             guests == 1 ? "" : "s", moving, moving == 1 ? "" : "s");
    return guests + moving;
}

static void s_relay_free(admin_relay_t *r)
{
    for (admin_relay_t **pp = &s_relays; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    /* A one-shot timer ended from another handler may still fire in this
	 * turn: its handler finds the relay by id. */
    if (r->timer)
        zloop_timer_end(ssid_node.loop, r->timer);
    free(r);
}

static int s_on_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    for (admin_relay_t *r = s_relays; r; r = r->next)
        if (r->reqid == (uint64_t)(uintptr_t)arg) {
            r->timer = 0; /* one-shot: the loop removes it itself */
            ssid_client_t *c = ssid_client_by_id(r->client);
            if (c) {
                char text[200];
                snprintf(text, sizeof text, "%s did not answer in %d s",
                         ssid_node_peer_name(r->peer), SSID_ADMIN_WAIT_MS / 1000);
                ssid_client_reply_error(c, ETIMEDOUT, text);
            }
            s_relay_free(r);
            break;
        }
    return 0;
}

void ssid_admin_request(ssid_client_t *c, const ssi_msg_t *m)
{
    char op[32], node[SSI_NAME_MAX + 1] = "", text[900];
    uint64_t pid = 0;
    if (ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_OP), op, sizeof op) < 0) {
        ssid_client_reply_error(c, EINVAL, "malformed admin request");
        return;
    }
    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_NODE), node, sizeof node);
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid);
    int to = *node ? ssi_cluster_index(ssid_node.cluster, node) : ssid_node.self;
    if (to < 0) {
        snprintf(text, sizeof text, "unknown node '%s' (see 'ssictl nodes')", node);
        ssid_client_reply_error(c, ENOENT, text);
        return;
    }
    if (to == ssid_node.self) {
        int err = s_exec(op, pid, c->uid, text, sizeof text);
        if (err)
            ssid_client_reply_error(c, err, text);
        else
            ssid_client_reply_ok(c, text);
        return;
    }
    if (!ssi_gossip_is_up(ssid_node.gossip, to, ssid_node_now())) {
        snprintf(text, sizeof text, "node %s is down (see 'ssictl nodes')", node);
        ssid_client_reply_error(c, EHOSTDOWN, text);
        return;
    }
    admin_relay_t *r = calloc(1, sizeof *r);
    if (!r) {
        ssid_client_reply_error(c, ENOMEM, "out of memory");
        return;
    }
    r->reqid = ssid_node_new_reqid();
    r->client = c->id;
    r->peer = to;
    r->timer = zloop_timer(ssid_node.loop, SSID_ADMIN_WAIT_MS, 1, s_on_deadline,
                           (void *)(uintptr_t)r->reqid);
    r->next = s_relays;
    s_relays = r;
    uint8_t out[256];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_ADMIN);
    ssi_msg_put_str(&w, SSI_TAG_OP, op);
    ssi_msg_put_u64(&w, SSI_TAG_PID, pid);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, r->reqid);
    ssi_msg_put_u64(&w, SSI_TAG_UID, c->uid);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_node_send(to, out, (size_t)n);
}

void ssid_admin_relayed(int from, const ssi_msg_t *m)
{
    char op[32], text[900];
    uint64_t pid = 0, reqid = 0, uid = 0;
    if (ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_OP), op, sizeof op) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0 ||
        ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_UID), &uid) < 0) {
        ssi_warn("dropped a malformed admin request from %s", ssid_node_peer_name(from));
        return;
    }
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_PID), &pid);
    int err = s_exec(op, pid, (uid_t)uid, text, sizeof text);
    uint8_t out[1200];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_ADMIN_DONE);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, reqid);
    ssi_msg_put_u64(&w, SSI_TAG_ERRNO, (uint64_t)err);
    ssi_msg_put_str_cut(&w, SSI_TAG_TEXT, text);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_node_send(from, out, (size_t)n);
}

void ssid_admin_done(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0, err = 0;
    char text[1024] = "";
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0)
        return;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_ERRNO), &err);
    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
    for (admin_relay_t *r = s_relays; r; r = r->next)
        if (r->reqid == reqid && r->peer == from) {
            ssid_client_t *c = ssid_client_by_id(r->client);
            if (c && err)
                ssid_client_reply_error(c, (int)err, text);
            else if (c)
                ssid_client_reply_ok(c, text);
            s_relay_free(r);
            return;
        }
}
