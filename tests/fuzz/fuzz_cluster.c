/* fuzz_cluster: libFuzzer harness of the cluster file's parser
 * (ctl/ssi_cluster.c): any bytes as the file's text, then every lookup on
 * what it accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    char *text = malloc(size + 1);
    ssi_cluster_t *c;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* the loader reads a file into a string */
    c = ssi_cluster_parse(text, "fuzz", err, sizeof err);
    if (c) {
        size_t n = ssi_cluster_size(c);
        (void)ssi_cluster_name(c);
        for (size_t i = 0; i < n; i++) {
            const ssi_node_conf_t *nd = ssi_cluster_node(c, i);
            if (ssi_cluster_find(c, nd->name) == NULL || ssi_cluster_index(c, nd->name) < 0)
                abort(); /* a node it accepted must be found by its name */
            (void)ssi_cluster_find_key(c, nd->key_bin);
        }
        (void)ssi_cluster_node(c, n);
        ssi_cluster_destroy(&c);
        ssi_cluster_destroy(&c);
    }
    free(text);
    return 0;
}
