/* ssi_gossip: the node table of one ssid, MOSIX style. Each node measures
 * its own load and, every 500 ms, sends it with a window of the freshest
 * entries it knows to one random peer; receivers keep, per node, the entry
 * measured most recently. Liveness comes from heartbeats, not from gossip.
 * Pure logic: no sockets, no clock (callers pass "now" in ms), no logging. */
#ifndef SSI_GOSSIP_H
#define SSI_GOSSIP_H

#include <stdbool.h>
#include <stdint.h>

#include "ssi_cluster.h"
#include "ssi_msg.h"

#define SSI_GOSSIP_WINDOW 8       /* entries per gossip message */
#define SSI_GOSSIP_DOWN_MS 1800   /* no heartbeat for this long: down */
#define SSI_GOSSIP_MAX_AGE 600000 /* older claims are ignored */
#define SSI_GOSSIP_VERSION_MAX 32 /* bytes of a node's version string, NUL included */

typedef struct {
    bool known;       /* any load information at all */
    uint64_t loadm;   /* smoothed run-queue length x 1000 */
    uint64_t ncpu;    /* CPUs */
    uint64_t cpum;    /* CPU share x 1000 (a quota of half a CPU: 500) */
    uint64_t freekb;  /* free memory, KiB */
    uint64_t nprocs;  /* ssi processes on the node */
    uint64_t blocked; /* 0; 1 it takes no guests (ssictl block); 2 it drains */
    uint64_t emptyms; /* it runs no ssi process, for this long (ms); 0 it does */
    int64_t stamp;    /* when it was measured, in the local clock (ms) */
    int64_t heard;    /* last heartbeat or message from it (ms), 0 never */
} ssi_gossip_entry_t;

typedef struct ssi_gossip_t ssi_gossip_t;

/* A table for the nodes of cluster, seen from node self; NULL if self is
 * not in the cluster. The cluster must outlive the table. */
ssi_gossip_t *ssi_gossip_new(const ssi_cluster_t *cluster, const char *self);
void ssi_gossip_destroy(ssi_gossip_t **self_p);

int ssi_gossip_self(const ssi_gossip_t *self);
const ssi_gossip_entry_t *ssi_gossip_entry(const ssi_gossip_t *self, int idx);
/* Record our own measurement. */
void ssi_gossip_set_own(ssi_gossip_t *self, const ssi_gossip_entry_t *own, int64_t now);
/* A message from node idx arrived. */
void ssi_gossip_heard(ssi_gossip_t *self, int idx, int64_t now);
bool ssi_gossip_is_up(const ssi_gossip_t *self, int idx, int64_t now);
/* Merge a claim about node idx measured age_ms ago: 1 if it was fresher
 * than ours and taken, 0 if not. Claims about ourselves are ignored. */
int ssi_gossip_merge(ssi_gossip_t *self, int idx, const ssi_gossip_entry_t *e, uint64_t age_ms,
                     int64_t now);
/* Write our own entry and the freshest others (up to SSI_GOSSIP_WINDOW in
 * all) as LOAD records. With all, write every node, with its STATE, its
 * VERSION when known and its PROTO (ours for a node that is up, the other
 * one for an incompatible node) for a local tool; with proto our protocol
 * version. */
void ssi_gossip_encode(const ssi_gossip_t *self, ssi_msg_writer_t *w, int64_t now, bool all);
/* The same as encode(all) with the protocol this node speaks. */
void ssi_gossip_encode_table(const ssi_gossip_t *self, ssi_msg_writer_t *w, int64_t now, int proto);
/* Merge every LOAD record of a message: how many were taken, or -errno for
 * a malformed record. Records about unknown nodes are skipped. */
int ssi_gossip_apply(ssi_gossip_t *self, const ssi_msg_t *m, int64_t now);
/* Versions (issue #16). A node's ssi version, as its heartbeat says (ours
 * as ssid sets it); a longer string is cut. "" until known. */
void ssi_gossip_set_version(ssi_gossip_t *self, int idx, const char *version);
const char *ssi_gossip_version(const ssi_gossip_t *self, int idx);
/* A frame of protocol proto, which is not ours, came from node idx: it is
 * incompatible until SSI_GOSSIP_DOWN_MS pass without another such frame or
 * a frame of our protocol comes (ssi_gossip_heard). Returns 1 if it was
 * not incompatible with that protocol before (the caller logs it once). */
int ssi_gossip_alien(ssi_gossip_t *self, int idx, int proto, int64_t now);
/* The protocol node idx speaks if it is incompatible now, else 0. */
int ssi_gossip_alien_proto(const ssi_gossip_t *self, int idx, int64_t now);
/* "up", "down" or "incompatible (protocol N)" into buf; returns buf. */
const char *ssi_gossip_state(const ssi_gossip_t *self, int idx, int64_t now, char *buf, size_t cap);

/* The cluster grew (ssi_cluster_update appended nodes): cover them. */
void ssi_gossip_resize(ssi_gossip_t *self);
/* Forget all about node idx (removed from, or changed in, the cluster). */
void ssi_gossip_forget(ssi_gossip_t *self, int idx);
/* Pick a random up peer (not self) with r a random number: idx or -1. */
int ssi_gossip_pick(const ssi_gossip_t *self, uint32_t r, int64_t now);

#endif
