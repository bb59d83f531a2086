/* ssid_loop: the event loop and the dispatch of peer messages, client
 * requests, ZAP requests, signals and timers (see ssid_loop.h).
 *
 * zloop decisions: every fd ssid watches is a poller of its own, added when
 * it is opened and removed before it is closed, so there is no fixed limit
 * (zloop keeps lists and rebuilds its poll set after a change; libzmq's
 * zmq_poll uses poll(2); timers and tickets are unlimited, max_timers 0).
 * The periodic timers are one-shot timers set again by their handler, as
 * "now + period": after a stall the loop does not catch up with a burst.
 * A one-shot timer ended by another handler may still fire in the same
 * turn, so timer handlers find their object by id, never by pointer;
 * tickets (offers) are safe with pointers: a deleted ticket never fires.
 * czmq's own signal handler stays disabled (main): signals come through the
 * signalfd, and zloop runs "nonstop" so that zsys_interrupted never ends it.
 * Runs in ssid. */
#define SSI_LOG_PREFIX "node"

#include "ssid_loop.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ssi_log.h"
#include "ssid_admin.h"
#include "ssid_balance.h"
#include "ssid_ckpt.h"
#include "ssid_recover.h"
#include "ssid_client.h"
#include "ssid_events.h"
#include "ssid_home.h"
#include "ssid_load.h"
#include "ssid_mig.h"
#include "ssid_move.h"
#include "ssid_node.h"
#include "ssid_offer.h"
#include "ssid_ps.h"
#include "ssid_relay.h"
#include "ssid_state.h"
#include "ssid_stats.h"

static bool s_stopping; /* a stop signal came */
/* SSID_DRAIN_ON_STOP=yes: SIGTERM drains the node first, for at most
 * SSID_DRAIN_STOP_MS (another stop signal stops at once). When to give up,
 * or 0. */
#define SSID_DRAIN_STOP_MS 60000
static int64_t s_drain_until;
static int64_t s_last_refusal_log;

/* --- peers --------------------------------------------------------------- */

static void s_heard_us(int from, const ssi_msg_t *m, int64_t now);

/* A message from a peer, already authenticated: from is its index. A PS
 * or a RECOVERED came on the ROUTER (reply_to, identity) and is answered
 * there. */
static void s_peer_message(int from, const uint8_t *data, size_t len, zsock_t *reply_to,
                           zframe_t *identity)
{
    static ssi_msg_t m;
    /* Another protocol version: shown and refused, never read further. */
    int proto = ssi_msg_version(data, len);
    if (proto >= 0 && proto != ssid_node.proto) {
        ssid_load_alien(from, proto);
        return;
    }
    data = ssid_node_received(data, len);
    int rc = ssi_msg_parse(data, len, &m);
    if (rc < 0) {
        ssi_warn("dropped a malformed frame from %s: %s", ssid_node_peer_name(from), strerror(-rc));
        return;
    }
    int64_t now = ssid_node_now();
    ssi_gossip_heard(ssid_node.gossip, from, now);
    switch (m.type) {
    case SSI_MSG_HEARTBEAT:
        ssid_load_heartbeat(from, &m);
        s_heard_us(from, &m, now);
        break;
    case SSI_MSG_GOSSIP:
        if (ssi_gossip_apply(ssid_node.gossip, &m, now) < 0)
            ssi_warn("dropped a malformed gossip from %s", ssid_node_peer_name(from));
        break;
    case SSI_MSG_PS:
        if (reply_to)
            ssid_ps_answer(&m, reply_to, identity);
        break;
    case SSI_MSG_PS_REP: ssid_ps_collect(from, &m); break;
    case SSI_MSG_MIG_OFFER: ssid_offer_received(from, &m); break;
    case SSI_MSG_MIG_READY: ssid_offer_ready(from, &m); break;
    case SSI_MSG_MIG_FAIL: ssid_offer_failed(from, &m); break;
    case SSI_MSG_MIGRATE: ssid_move_relayed(from, &m); break;
    case SSI_MSG_MIG_DONE: ssid_relay_done(from, &m); break;
    case SSI_MSG_BODY_SIGNAL: ssid_home_body_signal(from, &m); break;
    case SSI_MSG_ADMIN: ssid_admin_relayed(from, &m); break;
    case SSI_MSG_ADMIN_DONE: ssid_admin_done(from, &m); break;
    case SSI_MSG_EVENT: ssid_events_received(from, &m); break;
    case SSI_MSG_MOVE_ASK: ssid_balance_asked(from, &m); break;
    case SSI_MSG_MOVE_ANSWER: ssid_balance_answered(from, &m); break;
    case SSI_MSG_GUEST_LOAD: ssid_balance_guest_load(from, &m); break;
    case SSI_MSG_RECOVERED: ssid_recover_told(from, &m, reply_to, identity); break;
    case SSI_MSG_RECOVERED_ACK: ssid_recover_acked(from, &m); break;
    default: ssi_debug("ignored %s from %s", ssi_msg_type_name(m.type), ssid_node_peer_name(from));
    }
}

/* Who sent this frame: the node name our ZAP handler put in User-Id. */
static int s_sender(zframe_t *frame)
{
    const char *user = zframe_meta(frame, "User-Id");
    return user ? ssi_cluster_index(ssid_node.cluster, user) : -1;
}

static void s_router_message(zsock_t *router)
{
    zmsg_t *msg = zmsg_recv(router);
    if (!msg)
        return;
    zframe_t *id = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    if (id && body && zmsg_size(msg) == 0) {
        int from = s_sender(body);
        if (from >= 0 && from != ssid_node.self)
            s_peer_message(from, zframe_data(body), zframe_size(body), router, id);
    }
    zframe_destroy(&id);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
}

static int s_on_router(zloop_t *loop, zsock_t *router, void *arg)
{
    (void)loop;
    (void)arg;
    while (zsock_events(router) & ZMQ_POLLIN)
        s_router_message(router);
    return 0;
}

/* Replies on our own link to peer idx. */
static int s_on_dealer(zloop_t *loop, zsock_t *dealer, void *arg)
{
    (void)loop;
    int idx = (int)(intptr_t)arg;
    while (zsock_events(dealer) & ZMQ_POLLIN) {
        zframe_t *f = zframe_recv(dealer);
        if (!f)
            break;
        /* They come from the server we authenticated by its key (CURVE),
		 * so the sender is idx. */
        if (!zframe_more(f))
            s_peer_message(idx, zframe_data(f), zframe_size(f), NULL, NULL);
        else
            while (zsock_rcvmore(dealer)) {
                zframe_t *g = zframe_recv(dealer);
                zframe_destroy(&g);
            }
        zframe_destroy(&f);
    }
    return 0;
}

/* ZAP (RFC 27): let in a CURVE client only if its key is a cluster node's. */
static int s_on_zap(zloop_t *loop, zsock_t *zap, void *arg)
{
    (void)loop;
    (void)arg;
    zmsg_t *req = zmsg_recv(zap);
    if (!req)
        return 0;
    char *version = zmsg_popstr(req);
    char *reqid = zmsg_popstr(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    char *identity = zmsg_popstr(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req);
    const ssi_node_conf_t *node = NULL;
    if (mechanism && strcmp(mechanism, "CURVE") == 0 && key && zframe_size(key) == 32)
        node = ssi_cluster_find_key(ssid_node.cluster, zframe_data(key));
    if (!node) {
        char z85[41] = "?";
        if (key && zframe_size(key) == 32)
            zmq_z85_encode(z85, zframe_data(key), 32);
        int64_t now = ssid_node_now();
        /* A refused peer retries every few hundred ms: say it, not forever. */
        if (now - s_last_refusal_log > 5000) {
            ssi_warn("refused a peer from %s: its key %s is not in the cluster file (%s)",
                     address ? address : "?", z85, mechanism ? mechanism : "?");
            s_last_refusal_log = now;
        }
    }
    zmsg_t *rep = zmsg_new();
    zmsg_addstr(rep, "1.0");
    zmsg_addstr(rep, reqid ? reqid : "");
    zmsg_addstr(rep, node ? "200" : "400");
    zmsg_addstr(rep, node ? "OK" : "key not in cluster file");
    zmsg_addstr(rep, node ? node->name : "");
    zmsg_addmem(rep, NULL, 0);
    zmsg_send(&rep, zap);
    free(version);
    free(reqid);
    free(domain);
    free(address);
    free(identity);
    free(mechanism);
    zframe_destroy(&key);
    zmsg_destroy(&req);
    return 0;
}

/* --- local clients ------------------------------------------------------- */

/* A deputy's count of the calls it served so far (CALLS, no answer), on a
 * connection of its own: the rise since its last count goes to the node's
 * counter, never backwards. The first report must come from a live
 * registered process (the sender's pid, from the kernel); from then on the
 * connection is that deputy's, so its last report counts even when the
 * process has ended by the time ssid reads it. */
static void s_client_calls(ssid_client_t *c, const ssi_msg_t *m)
{
    uint64_t n;
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_CALLS), &n) < 0)
        return;
    if (!c->calls_vouched) {
        if (!c->registered && !ssid_client_by_pid(c->pid))
            return;
        c->calls_vouched = true;
    }
    if (n <= c->calls)
        return;
    ssid_stats_calls(n - c->calls);
    c->calls = n;
}

/* A shim says why its process cannot move (PIN, no answer): only on its
 * own registration connection, so a process speaks for itself alone. */
static void s_client_pin(ssid_client_t *c, const ssi_msg_t *m)
{
    char why[sizeof c->pinned];
    if (!c->registered ||
        ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), why, sizeof why) < 0)
        return;
    if (why[0] && strcmp(why, c->pinned) != 0)
        ssi_info("process %d cannot move: %s", c->pid, why);
    snprintf(c->pinned, sizeof c->pinned, "%s", why);
}

/* One whole frame from a local client (a tool or a shim). */
static void s_client_message(ssid_client_t *c, const uint8_t *data, size_t len)
{
    static ssi_msg_t m;
    int rc = ssi_msg_parse(data, len, &m);
    if (rc < 0) {
        ssid_client_reply_error(c, -rc, "malformed request");
        return;
    }
    switch (m.type) {
    case SSI_MSG_REGISTER: {
        int lost;
        if (ssid_client_register(c, &m, &lost) < 0)
            break;
        /* A process restarted from a checkpoint is not placed again. */
        ssid_client_registered(c, lost >= 0 ? NULL : ssid_balance_place(c, &m));
        if (lost >= 0)
            ssid_recover_restarted(c, lost);
        break;
    }
    case SSI_MSG_NODES: ssid_load_nodes(c); break;
    case SSI_MSG_PS: ssid_ps_start(c); break;
    case SSI_MSG_MIGRATE: ssid_move_request(c, &m); break;
    case SSI_MSG_ADMIN: ssid_admin_request(c, &m); break;
    case SSI_MSG_EVENTS: ssid_events_list(c, &m); break;
    case SSI_MSG_CHECKPOINT: ssid_ckpt_request(c, &m); break;
    case SSI_MSG_CALLS: s_client_calls(c, &m); break;
    case SSI_MSG_HOME_ASK: ssid_move_home_ask(c); break;
    case SSI_MSG_PIN: s_client_pin(c, &m); break;
    default: ssid_client_reply_error(c, EPROTO, "unexpected request");
    }
}

/* --- signals ------------------------------------------------------------- */

/* A fresh link to peer i (none if it was removed from the cluster). */
static void s_redial(int i)
{
    if (ssid_node.dealer[i]) {
        zloop_reader_end(ssid_node.loop, ssid_node.dealer[i]);
        zsock_destroy(&ssid_node.dealer[i]);
    }
    if (ssi_cluster_removed(ssid_node.cluster, (size_t)i))
        return;
    ssid_node.dealer[i] = ssid_node_dealer_open(i);
    if (ssid_node.dealer[i] &&
        zloop_reader(ssid_node.loop, ssid_node.dealer[i], s_on_dealer, (void *)(intptr_t)i) == 0)
        zloop_reader_set_tolerant(ssid_node.loop, ssid_node.dealer[i]);
}

/* A heartbeat from peer `from` says whether it hears ours (HEARD). If we
 * hear it and it has not heard us for SSID_DEAF_MS, our link to it is
 * dead: libzmq does not dial again a peer that refused our key once (a
 * node added to the cluster file before the others reloaded it), so we
 * dial it afresh, at most every SSID_REDIAL_MS. */
#define SSID_DEAF_MS 3000
#define SSID_REDIAL_MS 5000
static void s_heard_us(int from, const ssi_msg_t *m, int64_t now)
{
    static int64_t deaf_since[SSI_CLUSTER_MAX], redialed[SSI_CLUSTER_MAX];
    uint64_t heard = 1;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_HEARD), &heard);
    if (heard) {
        deaf_since[from] = 0;
        return;
    }
    if (!deaf_since[from])
        deaf_since[from] = now;
    if (now - deaf_since[from] < SSID_DEAF_MS || now - redialed[from] < SSID_REDIAL_MS)
        return;
    ssi_info("%s does not hear us: dialling it afresh", ssid_node_peer_name(from));
    redialed[from] = now;
    deaf_since[from] = 0;
    s_redial(from);
}

/* SIGHUP: the cluster file again. Nodes added get a link, nodes removed
 * lose theirs (and the allowlist forgets their key), nodes whose endpoint
 * or key changed are dialled again; every other node keeps its index, its
 * link and what is known of it. A file that does not parse, or that
 * changes or drops this node, changes nothing. */
static void s_reload(void)
{
    char err[512];
    unsigned char what[SSI_CLUSTER_MAX];
    ssi_cluster_t *fresh = ssi_cluster_load(ssid_node.cluster_path, err, sizeof err);
    if (!fresh) {
        ssi_warn("SIGHUP: %s; the cluster stays as it was", err);
        return;
    }
    const ssi_node_conf_t *me = ssi_cluster_find(fresh, ssid_node.name);
    const ssi_node_conf_t *was = ssi_cluster_node(ssid_node.cluster, (size_t)ssid_node.self);
    if (!me || strcmp(me->endpoint, was->endpoint) || strcmp(me->key, was->key)) {
        ssi_warn("SIGHUP: %s %s this node; restart ssid for that. The cluster stays as it was",
                 ssid_node.cluster_path, me ? "changes the endpoint or key of" : "no longer lists");
        ssi_cluster_destroy(&fresh);
        return;
    }
    int rc = ssi_cluster_update(ssid_node.cluster, fresh, what, err, sizeof err);
    ssi_cluster_destroy(&fresh);
    if (rc < 0) {
        ssi_warn("SIGHUP: %s; the cluster stays as it was", err);
        return;
    }
    ssi_gossip_resize(ssid_node.gossip);
    int n[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++) {
        if (what[i] == SSI_CLUSTER_SAME || (int)i == ssid_node.self)
            continue;
        n[what[i]]++;
        ssi_info("SIGHUP: node %s %s", ssid_node_peer_name((int)i),
                 what[i] == SSI_CLUSTER_ADDED     ? "added"
                 : what[i] == SSI_CLUSTER_REMOVED ? "removed"
                                                  : "changed");
        ssi_gossip_forget(ssid_node.gossip, (int)i);
        s_redial((int)i);
    }
    ssi_info("reloaded %s: %d added, %d changed, %d removed", ssid_node.cluster_path,
             n[SSI_CLUSTER_ADDED], n[SSI_CLUSTER_CHANGED], n[SSI_CLUSTER_REMOVED]);
}

/* A helper exited: when it was a migration's last, that migration ends. */
static void s_reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        ssid_mig_t *g = ssid_mig_exited(pid, status);
        if (g)
            ssid_move_reaped(g);
    }
}

static int s_on_signal(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    (void)arg;
    struct signalfd_siginfo si;
    bool reap = false;
    while (read(ssid_node.signal_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
            reap = true;
            continue;
        }
        if (si.ssi_signo == SIGHUP) {
            s_reload();
            continue;
        }
        const char *drain = getenv("SSID_DRAIN_ON_STOP");
        /* SIGTERM only: SIGINT (a restart, under the unit) never drains. */
        if (!s_drain_until && si.ssi_signo == SIGTERM && drain &&
            (!strcmp(drain, "yes") || !strcmp(drain, "1"))) {
            ssi_info("caught signal %u: draining before shutting down (SSID_DRAIN_ON_STOP), "
                     "for at most %d s",
                     si.ssi_signo, SSID_DRAIN_STOP_MS / 1000);
            s_drain_until = ssid_node_now() + SSID_DRAIN_STOP_MS;
            ssid_admin_drain_for_stop();
            continue;
        }
        ssi_info("caught signal %u, shutting down%s", si.ssi_signo,
                 s_drain_until ? " without waiting for the drain" : "");
        s_stopping = true;
        return -1;
    }
    if (reap)
        s_reap();
    return 0;
}

/* --- timers -------------------------------------------------------------- */

/* Sets a periodic timer's next turn: one-shot, in delay ms. */
static int s_again(size_t delay, zloop_timer_fn *fn)
{
    if (zloop_timer(ssid_node.loop, delay, 1, fn, NULL) >= 0)
        return 0;
    ssi_error("cannot set a timer");
    return -1;
}

static int s_on_beat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    ssid_load_beat();
    /* Relays wait for their home as long as it is up (and not forever). */
    ssid_relay_check(ssid_node_now());
    return s_again(SSID_HEARTBEAT_MS, s_on_beat);
}

static int s_on_gossip(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    ssid_load_gossip();
    /* Jitter keeps the nodes from gossiping in lockstep. */
    return s_again(SSID_GOSSIP_MS - 50 + randombytes_uniform(100), s_on_gossip);
}

static int s_on_watch(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    ssid_home_watch();
    ssid_state_save();
    ssid_ckpt_periodic();
    ssid_recover_watch();
    if (s_drain_until) {
        char what[160];
        int left = ssid_admin_drain_left(what, sizeof what);
        if (!left || ssid_node_now() >= s_drain_until) {
            if (left)
                ssi_warn("the drain did not end in %d s (%s): shutting down all the same",
                         SSID_DRAIN_STOP_MS / 1000, what);
            else
                ssi_info("drained (no guest here, no move in flight): shutting down");
            s_stopping = true;
            return -1;
        }
    }
    return s_again(SSID_HOME_WATCH_MS, s_on_watch);
}

static int s_on_balance(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    return s_again(ssid_balance_tick(), s_on_balance);
}

/* --- the loop ------------------------------------------------------------ */

int ssid_loop_run(void)
{
    zloop_t *loop = ssid_node.loop;
    zloop_set_nonstop(loop, true);
    zloop_set_max_timers(loop, 0); /* no limit (czmq's default, said here) */
    zloop_set_ticket_delay(loop, SSID_OFFER_MS);
    int rc = zloop_reader(loop, ssid_node.zap, s_on_zap, NULL);
    rc |= zloop_reader(loop, ssid_node.router, s_on_router, NULL);
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++)
        if (ssid_node.dealer[i])
            rc |= zloop_reader(loop, ssid_node.dealer[i], s_on_dealer, (void *)(intptr_t)i);
    rc |= ssid_node_watch(ssid_node.signal_fd, s_on_signal, NULL);
    rc |= ssid_client_start(s_client_message);
    ssid_state_load();
    if (rc != 0) {
        ssi_error("cannot set up the event loop");
        return -1;
    }
    /* zloop drops a reader after two errors in a row; ours stay. */
    zloop_reader_set_tolerant(loop, ssid_node.zap);
    zloop_reader_set_tolerant(loop, ssid_node.router);
    for (size_t i = 0; i < ssi_cluster_size(ssid_node.cluster); i++)
        if (ssid_node.dealer[i])
            zloop_reader_set_tolerant(loop, ssid_node.dealer[i]);
    /* The first heartbeat and watch now, the first gossip half a period on. */
    if (s_on_beat(loop, 0, NULL) < 0 || s_on_watch(loop, 0, NULL) < 0 ||
        s_again(SSID_GOSSIP_MS / 2, s_on_gossip) < 0 ||
        s_again(ssi_cluster_balance(ssid_node.cluster)->period_ms, s_on_balance) < 0)
        return -1;
    for (;;) {
        rc = zloop_start(loop);
        if (s_stopping)
            return 0;
        /* zloop returns 0 when zmq_poll fails, and -1 when a handler
		 * asked it to (a timer that could not be set again). */
        if (rc == 0 && zmq_errno() == EINTR)
            continue;
        if (rc == 0)
            ssi_error("poll: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
}
