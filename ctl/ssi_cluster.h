/* ssi_cluster: the cluster file, which names every node, its endpoint and
 * its CURVE public key. The format is a subset of czmq's ZPL:
 *
 *     # comment
 *     cluster = lab
 *     spool = /var/lib/ssi/ckpt     (optional: checkpoints' default directory)
 *     node = n1
 *         endpoint = tcp://198.18.0.1:7410
 *         key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
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

typedef struct {
    char name[SSI_NAME_MAX + 1];
    char endpoint[SSI_ENDPOINT_MAX + 1];
    char key[SSI_KEY_Z85 + 1];
    unsigned char key_bin[32];
} ssi_node_conf_t;

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
size_t ssi_cluster_size(const ssi_cluster_t *self);
const ssi_node_conf_t *ssi_cluster_node(const ssi_cluster_t *self, size_t i);
const ssi_node_conf_t *ssi_cluster_find(const ssi_cluster_t *self, const char *name);
/* The node whose public key is key (32 bytes), or NULL: the allowlist. */
const ssi_node_conf_t *ssi_cluster_find_key(const ssi_cluster_t *self, const unsigned char *key);
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
