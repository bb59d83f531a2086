/* ssid_node: the node daemon's shared state and its few common services
 * (see ssid_node.h). Runs in ssid only. */
#include "ssid_node.h"

#define SSI_LOG_PREFIX "node"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "ssi_log.h"

ssid_node_t ssid_node = {.proto = SSI_MSG_VERSION};
/* --test-protocol (ssid.c, for tests only): frames to and from peers carry
 * ssid_node.proto in their header instead of SSI_MSG_VERSION, so that a
 * test can run a node that speaks "another protocol" without building
 * another ssi. Nothing else of the frame changes. */
static uint8_t s_stamped[SSID_FRAME_MAX];  /* what we send */
static uint8_t s_received[SSID_FRAME_MAX]; /* what we parse */

/* The frame to put on the wire to a peer. */
static const void *s_stamp(const void *buf, size_t len)
{
    if (ssid_node.proto == SSI_MSG_VERSION || len < SSI_MSG_HEADER || len > sizeof s_stamped)
        return buf;
    memcpy(s_stamped, buf, len);
    s_stamped[2] = (uint8_t)ssid_node.proto;
    return s_stamped;
}

const uint8_t *ssid_node_received(const uint8_t *buf, size_t len)
{
    if (ssid_node.proto == SSI_MSG_VERSION || len < SSI_MSG_HEADER || len > sizeof s_received)
        return buf;
    memcpy(s_received, buf, len);
    s_received[2] = SSI_MSG_VERSION;
    return s_received;
}

static uint64_t s_last_reqid;
static int64_t s_started;

int64_t ssid_node_now(void)
{
    return zclock_mono();
}

/* When this ssid started (its first look at the clock, at start-up). */
__attribute__((constructor)) static void s_start_clock(void)
{
    s_started = zclock_mono();
}

int64_t ssid_node_uptime(void)
{
    return zclock_mono() - s_started;
}

void ssid_node_send(int peer, const void *buf, size_t len)
{
    zsock_t *d = ssid_node.dealer[peer];
    if (!d)
        return;
    /* Non-blocking: a peer that is down simply misses the message. */
    zmq_send(zsock_resolve(d), s_stamp(buf, len), len, ZMQ_DONTWAIT);
}

void ssid_node_reply(zsock_t *router, zframe_t *identity, const void *buf, size_t len)
{
    zframe_t *id = zframe_dup(identity);
    zframe_send(&id, router, ZFRAME_MORE);
    zmq_send(zsock_resolve(router), s_stamp(buf, len), len, ZMQ_DONTWAIT);
}

zsock_t *ssid_node_dealer_open(int idx)
{
    const ssi_node_conf_t *n = ssi_cluster_node(ssid_node.cluster, (size_t)idx);
    zsock_t *d = zsock_new(ZMQ_DEALER);
    if (!d)
        return NULL;
    zcert_apply(ssid_node.cert, d);
    zsock_set_curve_serverkey(d, n->key);
    zsock_set_linger(d, 0);
    zsock_set_immediate(d, 1);
    zsock_set_sndhwm(d, 64);
    zsock_set_reconnect_ivl(d, 200);
    zsock_set_reconnect_ivl_max(d, 500);
    /* ZMTP heartbeats: a connection that went silent (a cut link) is
     * dropped and redialled within seconds, instead of waiting out TCP's
     * retransmission backoff, which can hold messages for tens of seconds
     * after the link is back. */
    zsock_set_heartbeat_ivl(d, 1000);
    zsock_set_heartbeat_timeout(d, 3000);
    /* A dial made while the peer was cut off (paused, links down) must not
     * sit in TCP's SYN backoff (1, 3, 7, 15 s...) once the peer is back:
     * it is given up after half a second and made afresh (every half
     * second at most, while the peer stays away). */
    zsock_set_connect_timeout(d, 500);
    if (zsock_connect(d, "%s", n->endpoint) < 0) {
        ssi_error("cannot connect to %s at %s: %s", n->name, n->endpoint,
                  zmq_strerror(zmq_errno()));
        zsock_destroy(&d);
        return NULL;
    }
    return d;
}

const char *ssid_node_peer_name(int idx)
{
    return ssi_cluster_node(ssid_node.cluster, (size_t)idx)->name;
}

int ssid_node_watch(int fd, zloop_fn *handler, void *arg)
{
    zmq_pollitem_t item = {NULL, fd, ZMQ_POLLIN, 0};
    if (zloop_poller(ssid_node.loop, &item, handler, arg) < 0)
        return -ENOMEM;
    /* zloop drops a poller after two POLLERRs in a row, and a hang-up is
	 * one: ours are read to their end and closed by their owner. */
    zloop_poller_set_tolerant(ssid_node.loop, &item);
    return 0;
}

void ssid_node_unwatch(int fd)
{
    zmq_pollitem_t item = {NULL, fd, ZMQ_POLLIN, 0};
    zloop_poller_end(ssid_node.loop, &item);
}

uint64_t ssid_node_new_reqid(void)
{
    /* From a random start: a restarted ssid must not reuse the ids of its
     * previous life, which peers may still hold (a body's record). */
    if (s_last_reqid == 0) {
        randombytes_buf(&s_last_reqid, sizeof s_last_reqid);
        s_last_reqid = (s_last_reqid >> 2) | 1;
    }
    return ++s_last_reqid;
}
