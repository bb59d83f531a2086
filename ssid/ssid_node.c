/* ssid_node: the node daemon's shared state and its few common services
 * (see ssid_node.h). Runs in ssid only. */
#include "ssid_node.h"

#include <errno.h>
#include <string.h>

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

int64_t ssid_node_now(void)
{
    return zclock_mono();
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
    return ++s_last_reqid;
}
