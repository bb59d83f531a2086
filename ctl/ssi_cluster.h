/* ssi_cluster: the cluster file, which names every node, its endpoint and
 * its CURVE public key. The format is a subset of czmq's ZPL:
 *
 *     # comment
 *     cluster = lab
 *     spool = /var/lib/ssi/ckpt     (optional: checkpoints' default directory)
 *     checkpoint_every = 600        (optional: default checkpoint period, s)
 *     sandbox = off                 (optional: bodies without their sandbox; default on)
 *     node = n1
 *         endpoint = tcp://198.18.0.1:7410
 *         key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
 *         speed = 1.5
 *     balance = on
 *         period = 1000
 *
 * Every error names the file and line. Nothing here logs. */
#ifndef SSI_CLUSTER_H
#define SSI_CLUSTER_H

#include <stddef.h>

#define SSI_NAME_MAX 63 /* node name */
#define SSI_ENDPOINT_MAX 255
#define SSI_KEY_Z85 40      /* CURVE public key, Z85 */
#define SSI_CLUSTER_MAX 256 /* nodes */
#define SSI_SPOOL_MAX 255   /* spool = DIR: where checkpoints go by default */
#define SSI_SPOOL_DEFAULT "/var/lib/ssi/ckpt"
#define SSI_CKPT_EVERY_MAX 31536000 /* checkpoint_every: at most a year */

typedef struct {
    char name[SSI_NAME_MAX + 1];
    char endpoint[SSI_ENDPOINT_MAX + 1];
    char key[SSI_KEY_Z85 + 1];
    unsigned char key_bin[32];
    double speed; /* relative CPU speed (speed = F; default 1) */
} ssi_node_conf_t;

/* The load balancer's knobs: a 'balance = on|off' block of the cluster
 * file, its settings 4 spaces under it; every one has a default. */
typedef struct {
    int on;                /* balance = on|off: default on */
    unsigned period_ms;    /* period = MS: one decision per period (500) */
    double margin;         /* margin = F: CPU share gained, relative (0.25) */
    unsigned residence_ms; /* residence = MS: minimum time on a node after a move (3000) */
    double near;           /* near = F: targets within F of the best (0.1) */
    double bandwidth;      /* bandwidth = MB/s: until a move is measured (50) */
    double io_limit;       /* io_limit = N: forwarded calls/s above which a
	                          process belongs at home (200) */
    double call_ms;        /* call_ms = F: time one forwarded call costs (0.2) */
    double mem_min;        /* mem_min = MiB: free memory a node keeps; below it, guests
	                          leave and offers are refused (64) */
    int consolidate;       /* consolidate = on|off: pack work onto the fewest nodes (off) */
    int place;             /* place = on|off: a new process may start elsewhere before main (on) */
    unsigned moves;        /* moves = K: balancer moves out of one node per period, at most (4) */
    unsigned empty_after_ms; /* empty_after = MS: a node empty this long runs ... (60000) */
    char empty_command[256]; /* empty_command = CMD: ... this, with SSI_NODE set ("") */
} ssi_balance_conf_t;

typedef struct ssi_cluster_t ssi_cluster_t;

/* Parse text (origin names it in errors). NULL on error, with the reason in
 * err. The result is the caller's. */
ssi_cluster_t *ssi_cluster_parse(const char *text, const char *origin, char *err, size_t errlen);
ssi_cluster_t *ssi_cluster_load(const char *path, char *err, size_t errlen);
void ssi_cluster_destroy(ssi_cluster_t **self_p);

const char *ssi_cluster_name(const ssi_cluster_t *self);
/* The directory of checkpoints by default ('spool = DIR'; else
 * SSI_SPOOL_DEFAULT). */
const char *ssi_cluster_spool(const ssi_cluster_t *self);
/* Seconds between periodic checkpoints of a process that did not ask for
 * its own period ('checkpoint_every = S'), or 0: none. */
unsigned ssi_cluster_checkpoint_every(const ssi_cluster_t *self);
/* 1 unless the file says 'sandbox = off': a body this node receives runs
 * without its sandbox (ssi-agent --no-sandbox). */
int ssi_cluster_sandbox(const ssi_cluster_t *self);
size_t ssi_cluster_size(const ssi_cluster_t *self);
const ssi_node_conf_t *ssi_cluster_node(const ssi_cluster_t *self, size_t i);
const ssi_node_conf_t *ssi_cluster_find(const ssi_cluster_t *self, const char *name);
/* The node whose public key is key (32 bytes), or NULL: the allowlist. */
const ssi_node_conf_t *ssi_cluster_find_key(const ssi_cluster_t *self, const unsigned char *key);
/* The balancer's knobs (defaults where the file says nothing). */
const ssi_balance_conf_t *ssi_cluster_balance(const ssi_cluster_t *self);

/* Index of a node, or -1. */
int ssi_cluster_index(const ssi_cluster_t *self, const char *name);

/* What ssi_cluster_update did to each index. */
enum { SSI_CLUSTER_SAME = 0, SSI_CLUSTER_ADDED, SSI_CLUSTER_CHANGED, SSI_CLUSTER_REMOVED };

/* Makes self what fresh says (a cluster file read again) without moving
 * any node to another index: a node still there keeps its index (its
 * endpoint or key may change), a node gone stays as a removed entry (no
 * endpoint, no key: no index lookup, no allowlist finds it), a new node is
 * appended (or takes back its removed entry). what[i] says what happened
 * to index i. 0, or -ENOSPC (more than SSI_CLUSTER_MAX entries) with err. */
int ssi_cluster_update(ssi_cluster_t *self, const ssi_cluster_t *fresh,
                       unsigned char what[SSI_CLUSTER_MAX], char *err, size_t errlen);

/* Is index i a removed entry? */
int ssi_cluster_removed(const ssi_cluster_t *self, size_t i);

/* Is name usable as a node name ([A-Za-z0-9._-], 1..63, not "home")? */
int ssi_cluster_valid_name(const char *name);

#endif
