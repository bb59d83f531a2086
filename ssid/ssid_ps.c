/* ssid_ps: the ps fan-out (see ssid_ps.h). Each request in flight has a
 * one-shot timer of ssid's loop for its deadline. Runs in ssid. */
#include "ssid_ps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ssid_mig.h"
#include "ssid_stats.h"

/* A `ssictl ps` (or `ssictl metrics`) in flight: waiting for the peers' answers. */
typedef struct ps_req {
    struct ps_req *next;
    uint64_t reqid;
    uint64_t client;             /* the asking client's id */
    int timer;                   /* the deadline's timer, or 0 */
    int waiting;                 /* answers still expected */
    bool asked[SSI_CLUSTER_MAX]; /* peers we asked */
    bool answered[SSI_CLUSTER_MAX];
    size_t nbytes;
    uint8_t *records; /* PROC and STATS fields, back to back, ready to copy */
} ps_req_t;

static ps_req_t *s_reqs;

/* This node's STATS record (ssid_stats), with its guests: the bodies that
 * ssi-agents run here for other homes. */
static void s_put_stats(ssi_msg_writer_t *w)
{
    uint64_t guests = 0;
    for (ssid_mig_t *g = ssid_mig_first(); g; g = g->next)
        guests += !g->home_side;
    ssid_stats_put(w, ssid_node.name, guests);
}
static uint8_t s_out[SSID_FRAME_MAX];

static ps_req_t *s_find(uint64_t reqid)
{
    for (ps_req_t *r = s_reqs; r; r = r->next)
        if (r->reqid == reqid)
            return r;
    return NULL;
}

/* Answers the client (if it is still there) and forgets the request. */
static void s_finish(ps_req_t *r)
{
    ssid_client_t *c = ssid_client_by_id(r->client);
    if (c) {
        ssi_msg_writer_t w;
        ssi_msg_begin(&w, s_out, sizeof s_out, SSI_MSG_PS_REP);
        ssi_msg_put_u64(&w, SSI_TAG_REQID, r->reqid);
        ssi_msg_put_str(&w, SSI_TAG_NODE, ssid_node.name);
        ssid_client_put_procs(&w);
        s_put_stats(&w);
        if (!w.err && w.len + r->nbytes <= w.cap) {
            memcpy(w.buf + w.len, r->records, r->nbytes);
            w.len += r->nbytes;
        }
        /* Say which nodes did not answer, so the tool can tell the user. */
        for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++)
            if (r->asked[i] && !r->answered[i])
                ssi_msg_put_str(&w, SSI_TAG_TEXT, ssid_node_peer_name((int)i));
        long n = ssi_msg_end(&w);
        if (n > 0)
            ssid_client_reply(c, s_out, (size_t)n);
    }
    for (ps_req_t **pp = &s_reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    /* A timer ended from another handler may still fire in this turn of
	 * the loop: its handler finds the request by id, and none is left. */
    if (r->timer)
        zloop_timer_end(ssid_node.loop, r->timer);
    free(r->records);
    free(r);
}

static int s_on_deadline(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    ps_req_t *r = s_find((uint64_t)(uintptr_t)arg);
    if (r) {
        r->timer = 0; /* one-shot: the loop removes it itself */
        s_finish(r);
    }
    return 0;
}

static void s_start(ssid_client_t *c);

/* A look again, during the start-up wait, for the client that still
 * waits for its ps. */
static int s_on_startup(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    ssid_client_t *c = ssid_client_by_id((uint64_t)(uintptr_t)arg);
    if (c)
        ssid_ps_start(c);
    return 0;
}

void ssid_ps_start(ssid_client_t *c)
{
    int64_t up = ssid_node_uptime(), now = ssid_node_now();
    bool all = true;
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++)
        if ((int)i != ssid_node.self && !ssi_gossip_is_up(ssid_node.gossip, (int)i, now))
            all = false;
    if (!all && up < SSID_PS_STARTUP_MS &&
        zloop_timer(ssid_node.loop, 100, 1, s_on_startup, (void *)(uintptr_t)c->id) >= 0)
        return;
    s_start(c);
}

static void s_start(ssid_client_t *c)
{
    ps_req_t *r = calloc(1, sizeof *r);
    if (!r) {
        ssid_client_reply_error(c, ENOMEM, "out of memory");
        return;
    }
    r->reqid = ssid_node_new_reqid();
    r->client = c->id;
    uint8_t out[128];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_PS);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, r->reqid);
    ssi_msg_put_u64(&w, SSI_TAG_SCOPE, 0);
    long n = ssi_msg_end(&w);
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++)
        if ((int)i != ssid_node.self &&
            ssi_gossip_is_up(ssid_node.gossip, (int)i, ssid_node_now())) {
            r->asked[i] = true;
            r->waiting++;
            ssid_node_send((int)i, out, (size_t)n);
        }
    r->next = s_reqs;
    s_reqs = r;
    if (r->waiting == 0) {
        s_finish(r);
        return;
    }
    int t =
        zloop_timer(ssid_node.loop, SSID_PS_WAIT_MS, 1, s_on_deadline, (void *)(uintptr_t)r->reqid);
    if (t < 0)
        s_finish(r); /* no timer: answer with what we have rather than never */
    else
        r->timer = t;
}

void ssid_ps_collect(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0;
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0)
        return;
    ps_req_t *r = s_find(reqid);
    if (!r || !r->asked[from] || r->answered[from])
        return;
    r->answered[from] = true;
    for (size_t i = 0; i < m->nfields; i++) {
        const ssi_field_t *f = &m->field[i];
        if ((f->tag != SSI_TAG_PROC && f->tag != SSI_TAG_STATS) ||
            r->nbytes + 3 + f->len > SSI_MSG_MAX_BODY / 2)
            continue;
        uint8_t *nb = realloc(r->records, r->nbytes + 3 + f->len);
        if (!nb)
            continue;
        r->records = nb;
        nb[r->nbytes] = f->tag;
        nb[r->nbytes + 1] = (uint8_t)(f->len >> 8);
        nb[r->nbytes + 2] = (uint8_t)f->len;
        memcpy(nb + r->nbytes + 3, f->val, f->len);
        r->nbytes += 3 + f->len;
    }
    if (--r->waiting == 0)
        s_finish(r);
}

void ssid_ps_answer(const ssi_msg_t *m, zsock_t *router, zframe_t *identity)
{
    uint64_t reqid = 0;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid);
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, s_out, sizeof s_out, SSI_MSG_PS_REP);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, reqid);
    ssi_msg_put_str(&w, SSI_TAG_NODE, ssid_node.name);
    ssid_client_put_procs(&w);
    s_put_stats(&w);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_node_reply(router, identity, s_out, (size_t)n);
}

void ssid_ps_stop(void)
{
    while (s_reqs)
        s_finish(s_reqs);
}
