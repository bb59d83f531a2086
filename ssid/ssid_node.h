/* ssid_node: the node daemon's shared state (who this node is, its sockets,
 * its event loop) and what every part of ssid uses: the clock, sending to a
 * peer, a node's name, request ids. The bottom layer of ssid: it calls no
 * other part of it. Runs in ssid only. */
#ifndef SSID_NODE_H
#define SSID_NODE_H

#include <czmq.h>
#include <stdint.h>

#include "ssi_cluster.h"
#include "ssi_gossip.h"
#include "ssi_msg.h"

/* The largest control frame: replies that list processes are built in
 * buffers of this size. */
#define SSID_FRAME_MAX (SSI_MSG_HEADER + SSI_MSG_MAX_BODY)

typedef struct {
    const char *name; /* this node's name in the cluster file */
    ssi_cluster_t *cluster;
    int self; /* our index in the cluster */
    zcert_t *cert;
    ssi_gossip_t *gossip;             /* the node table: liveness and load */
    zsock_t *router;                  /* CURVE server: everything peers send us */
    zsock_t *zap;                     /* our ZAP handler: the allowlist */
    zsock_t *dealer[SSI_CLUSTER_MAX]; /* our link to each peer, CURVE client */
    zloop_t *loop;                    /* the one event loop (ssid_loop.c) */
    int listen_fd;                    /* the local socket for tools and shims */
    int signal_fd;                    /* TERM, INT, HUP and CHLD */
    char bindir[4096];                /* where its helpers live (ssi_paths.h) */
    int proto;                        /* the protocol version spoken with peers */
    bool blocked;                     /* ssictl block: no new guests */
    bool draining;                    /* ssictl drain: blocked, and our own processes away */
    int64_t empty_since;              /* runs no ssi process since (ssid_node_now), or 0 */
    const char *cluster_path;         /* the cluster file, read again on SIGHUP */
} ssid_node_t;

extern ssid_node_t ssid_node;

/* Monotonic milliseconds. */
int64_t ssid_node_now(void);

/* Sends one frame to a peer without blocking: a peer that is down (or whose
 * queue is full) simply misses it. */
void ssid_node_send(int peer, const void *buf, size_t len);

/* The same on the ROUTER, to the peer whose identity frame is identity
 * (a reply to a request that came in there). */
void ssid_node_reply(zsock_t *router, zframe_t *identity, const void *buf, size_t len);

/* A frame from a peer, as the parser of this build reads it: the frame
 * itself, or under --test-protocol a copy with SSI_MSG_VERSION in its
 * header (borrowed, valid until the next call). */
const uint8_t *ssid_node_received(const uint8_t *buf, size_t len);

/* The name of node idx of the cluster file (borrowed). */
const char *ssid_node_peer_name(int idx);

/* Watches fd for input on ssid_node.loop: handler(loop, item, arg) runs
 * when it is readable or hung up. Returns 0 or -ENOMEM. */
int ssid_node_watch(int fd, zloop_fn *handler, void *arg);

/* Stops watching fd; call it before closing fd. */
void ssid_node_unwatch(int fd);

/* A DEALER to peer idx (CURVE client of its key, at its endpoint), or
 * NULL (logged). */
zsock_t *ssid_node_dealer_open(int idx);

/* Milliseconds since this ssid started. */
int64_t ssid_node_uptime(void);

/* A fresh request id, unique for this ssid's life (and unlike those of its
 * previous lives: the first is random). */
uint64_t ssid_node_new_reqid(void);

#endif
