/* ssid_relay: migrations asked here for a process of another node (see
 * ssid_relay.h). Runs in ssid. */
#include "ssid_relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* A migration this node asked another node (the process's home) to make. */
typedef struct relay {
    struct relay *next;
    uint64_t reqid;
    uint64_t client; /* the local client waiting for the answer */
    int home;
    int64_t deadline;
} relay_t;

static relay_t *s_relays;

static void s_free(relay_t *r)
{
    for (relay_t **pp = &s_relays; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    free(r);
}

void ssid_relay_ask(const ssid_asker_t *a, const char *home, uint64_t pid, const char *dest)
{
    char why[512];
    int h = ssi_cluster_index(ssid_node.cluster, home);
    if (!a->client) {
        ssid_mig_answer(a, EINVAL,
                        "a relayed request must be for a process of the node it was sent to");
        return;
    }
    if (h < 0) {
        snprintf(why, sizeof why, "unknown home node '%s' (see 'ssictl nodes')", home);
        ssid_mig_answer(a, ENOENT, why);
        return;
    }
    if (!ssi_gossip_is_up(ssid_node.gossip, h, ssid_node_now())) {
        snprintf(why, sizeof why, "home node %s is down; nothing was touched", home);
        ssid_mig_answer(a, EHOSTDOWN, why);
        return;
    }
    relay_t *r = calloc(1, sizeof *r);
    if (!r) {
        ssid_mig_answer(a, ENOMEM, "out of memory");
        return;
    }
    r->reqid = ssid_node_new_reqid();
    r->client = a->client;
    r->home = h;
    r->deadline = ssid_node_now() + SSID_RELAY_WAIT_MS;
    r->next = s_relays;
    s_relays = r;
    uint8_t out[512];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, out, sizeof out, SSI_MSG_MIGRATE);
    ssi_msg_put_u64(&w, SSI_TAG_REQID, r->reqid);
    ssi_msg_put_u64(&w, SSI_TAG_PID, pid);
    ssi_msg_put_str(&w, SSI_TAG_NODE, dest);
    ssi_msg_put_u64(&w, SSI_TAG_UID, a->uid);
    long n = ssi_msg_end(&w);
    if (n > 0)
        ssid_node_send(h, out, (size_t)n);
}

void ssid_relay_done(int from, const ssi_msg_t *m)
{
    uint64_t reqid = 0, err = 0;
    char text[1024] = "";
    if (ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_REQID), &reqid) < 0)
        return;
    ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_ERRNO), &err);
    ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
    for (relay_t *r = s_relays; r; r = r->next)
        if (r->reqid == reqid && r->home == from) {
            ssid_asker_t a = {.client = r->client, .peer = -1};
            ssid_mig_figs_t figs = {0};
            const ssi_field_t *f = m->field;
            size_t nf = m->nfields;
            bool have =
                ssi_field_str(ssi_msg_find(f, nf, SSI_TAG_MFROM), figs.from, sizeof figs.from) >=
                    0 &&
                ssi_field_str(ssi_msg_find(f, nf, SSI_TAG_MTO), figs.to, sizeof figs.to) >= 0;
            figs.have_bytes =
                ssi_field_u64(ssi_msg_find(f, nf, SSI_TAG_MBYTES), &figs.bytes) == 0 &&
                ssi_field_u64(ssi_msg_find(f, nf, SSI_TAG_MFREEZE), &figs.freeze_us) == 0;
            ssi_field_u64(ssi_msg_find(f, nf, SSI_TAG_MROUNDS), &figs.rounds);
            ssi_field_u64(ssi_msg_find(f, nf, SSI_TAG_MCONV), &figs.converged);
            ssid_mig_pass_on(&a, (int)err, text, have ? &figs : NULL);
            s_free(r);
            return;
        }
}

void ssid_relay_check(int64_t now)
{
    for (relay_t *r = s_relays, *next; r; r = next) {
        next = r->next;
        if (now >= r->deadline || !ssi_gossip_is_up(ssid_node.gossip, r->home, now)) {
            ssid_asker_t a = {.client = r->client, .peer = -1};
            /* Not ETIMEDOUT (a failure that kept the process where it
			 * was): whether the move happened is not known here. */
            ssid_mig_answer(&a, ENOLINK,
                            now >= r->deadline ? "the home node did not answer in time"
                                               : "the home node went down before it answered");
            s_free(r);
        }
    }
}
