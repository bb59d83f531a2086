/* ssi_gossip: node table, freshness merge and the gossip window. */
#include "ssi_gossip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ssi_gossip_t {
    const ssi_cluster_t *cluster;
    int self;
    int n;
    ssi_gossip_entry_t e[SSI_CLUSTER_MAX];
    /* Versions: kept beside the entries, which gossip overwrites. */
    char version[SSI_CLUSTER_MAX][SSI_GOSSIP_VERSION_MAX];
    int alien_proto[SSI_CLUSTER_MAX];     /* another protocol heard, 0 none */
    int64_t alien_heard[SSI_CLUSTER_MAX]; /* when last (ms) */
};

ssi_gossip_t *ssi_gossip_new(const ssi_cluster_t *cluster, const char *self_name)
{
    int idx = ssi_cluster_index(cluster, self_name);
    if (idx < 0)
        return NULL;
    ssi_gossip_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cluster = cluster;
    self->self = idx;
    self->n = (int)ssi_cluster_size(cluster);
    return self;
}

void ssi_gossip_destroy(ssi_gossip_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

int ssi_gossip_self(const ssi_gossip_t *self)
{
    return self->self;
}

const ssi_gossip_entry_t *ssi_gossip_entry(const ssi_gossip_t *self, int idx)
{
    return idx >= 0 && idx < self->n ? &self->e[idx] : NULL;
}

void ssi_gossip_set_own(ssi_gossip_t *self, const ssi_gossip_entry_t *own, int64_t now)
{
    ssi_gossip_entry_t *e = &self->e[self->self];
    *e = *own;
    e->known = true;
    e->stamp = now;
    e->heard = now;
}

void ssi_gossip_heard(ssi_gossip_t *self, int idx, int64_t now)
{
    if (idx >= 0 && idx < self->n) {
        self->e[idx].heard = now;
        self->alien_proto[idx] = 0;
    }
}

void ssi_gossip_set_version(ssi_gossip_t *self, int idx, const char *version)
{
    if (idx >= 0 && idx < self->n)
        snprintf(self->version[idx], sizeof self->version[idx], "%s", version);
}

const char *ssi_gossip_version(const ssi_gossip_t *self, int idx)
{
    return idx >= 0 && idx < self->n ? self->version[idx] : "";
}

int ssi_gossip_alien(ssi_gossip_t *self, int idx, int proto, int64_t now)
{
    if (idx < 0 || idx >= self->n || idx == self->self || proto <= 0)
        return 0;
    int was = ssi_gossip_alien_proto(self, idx, now);
    self->alien_proto[idx] = proto;
    self->alien_heard[idx] = now;
    /* What it said in our protocol no longer holds: not up, version unknown. */
    self->e[idx].heard = 0;
    self->version[idx][0] = 0;
    return was != proto;
}

int ssi_gossip_alien_proto(const ssi_gossip_t *self, int idx, int64_t now)
{
    if (idx < 0 || idx >= self->n || self->alien_proto[idx] == 0)
        return 0;
    return now - self->alien_heard[idx] <= SSI_GOSSIP_DOWN_MS ? self->alien_proto[idx] : 0;
}

const char *ssi_gossip_state(const ssi_gossip_t *self, int idx, int64_t now, char *buf, size_t cap)
{
    int alien = ssi_gossip_alien_proto(self, idx, now);
    if (alien)
        snprintf(buf, cap, "incompatible (protocol %d)", alien);
    else
        snprintf(buf, cap, "%s", ssi_gossip_is_up(self, idx, now) ? "up" : "down");
    return buf;
}

bool ssi_gossip_is_up(const ssi_gossip_t *self, int idx, int64_t now)
{
    if (idx == self->self)
        return true;
    if (idx < 0 || idx >= self->n || self->e[idx].heard == 0)
        return false;
    return now - self->e[idx].heard <= SSI_GOSSIP_DOWN_MS;
}

int ssi_gossip_merge(ssi_gossip_t *self, int idx, const ssi_gossip_entry_t *in, uint64_t age_ms,
                     int64_t now)
{
    if (idx < 0 || idx >= self->n || idx == self->self || age_ms > SSI_GOSSIP_MAX_AGE)
        return 0;
    ssi_gossip_entry_t *e = &self->e[idx];
    int64_t stamp = now - (int64_t)age_ms;
    if (e->known && e->stamp >= stamp)
        return 0;
    int64_t heard = e->heard;
    *e = *in;
    e->known = true;
    e->stamp = stamp;
    e->heard = heard; /* hearsay is not a heartbeat */
    return 1;
}

/* With proto > 0 (a table for a local tool): STATE, VERSION, PROTO too. */
static void s_put_entry(const ssi_gossip_t *self, ssi_msg_writer_t *w, int idx, int64_t now,
                        int proto)
{
    const ssi_gossip_entry_t *e = &self->e[idx];
    size_t mark = ssi_msg_open(w, SSI_TAG_LOAD);
    ssi_msg_put_str(w, SSI_TAG_NODE, ssi_cluster_node(self->cluster, (size_t)idx)->name);
    if (proto > 0) {
        char state[64];
        int alien = ssi_gossip_alien_proto(self, idx, now);
        ssi_msg_put_str(w, SSI_TAG_STATE, ssi_gossip_state(self, idx, now, state, sizeof state));
        if (self->version[idx][0])
            ssi_msg_put_str(w, SSI_TAG_VERSION, self->version[idx]);
        if (alien || ssi_gossip_is_up(self, idx, now))
            ssi_msg_put_u64(w, SSI_TAG_PROTO, (uint64_t)(alien ? alien : proto));
    }
    if (e->known) {
        ssi_msg_put_u64(w, SSI_TAG_LOADM, e->loadm);
        ssi_msg_put_u64(w, SSI_TAG_NCPU, e->ncpu);
        ssi_msg_put_u64(w, SSI_TAG_CPUM, e->cpum);
        ssi_msg_put_u64(w, SSI_TAG_FREEKB, e->freekb);
        ssi_msg_put_u64(w, SSI_TAG_NPROCS, e->nprocs);
        ssi_msg_put_u64(w, SSI_TAG_AGEMS, now > e->stamp ? (uint64_t)(now - e->stamp) : 0);
        if (e->blocked)
            ssi_msg_put_u64(w, SSI_TAG_BLOCKED, e->blocked);
        if (e->emptyms)
            ssi_msg_put_u64(w, SSI_TAG_EMPTYMS, e->emptyms);
    }
    ssi_msg_close(w, mark);
}

void ssi_gossip_encode_table(const ssi_gossip_t *self, ssi_msg_writer_t *w, int64_t now, int proto)
{
    for (int i = 0; i < self->n; i++)
        if (!ssi_cluster_removed(self->cluster, (size_t)i))
            s_put_entry(self, w, i, now, proto > 0 ? proto : SSI_MSG_VERSION);
}

void ssi_gossip_encode(const ssi_gossip_t *self, ssi_msg_writer_t *w, int64_t now, bool all)
{
    if (all) {
        ssi_gossip_encode_table(self, w, now, SSI_MSG_VERSION);
        return;
    }
    s_put_entry(self, w, self->self, now, 0);
    /* The freshest others: a selection of at most WINDOW-1 by stamp. */
    bool used[SSI_CLUSTER_MAX] = {false};
    used[self->self] = true;
    for (int k = 1; k < SSI_GOSSIP_WINDOW; k++) {
        int best = -1;
        for (int i = 0; i < self->n; i++)
            if (!used[i] && self->e[i].known &&
                (best < 0 || self->e[i].stamp > self->e[best].stamp))
                best = i;
        if (best < 0)
            break;
        used[best] = true;
        s_put_entry(self, w, best, now, 0);
    }
}

int ssi_gossip_apply(ssi_gossip_t *self, const ssi_msg_t *m, int64_t now)
{
    int taken = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->field[i].tag != SSI_TAG_LOAD)
            continue;
        ssi_field_t f[16];
        long n = ssi_msg_fields(m->field[i].val, m->field[i].len, f, 16);
        if (n < 0)
            return (int)n;
        char name[SSI_NAME_MAX + 1];
        if (ssi_field_str(ssi_msg_find(f, (size_t)n, SSI_TAG_NODE), name, sizeof name) < 0)
            return -EBADMSG;
        ssi_gossip_entry_t e = {0};
        uint64_t age;
        if (ssi_field_u64(ssi_msg_find(f, (size_t)n, SSI_TAG_AGEMS), &age) < 0)
            continue; /* no information about that node */
        if (ssi_field_u64(ssi_msg_find(f, (size_t)n, SSI_TAG_LOADM), &e.loadm) < 0 ||
            ssi_field_u64(ssi_msg_find(f, (size_t)n, SSI_TAG_NCPU), &e.ncpu) < 0 ||
            ssi_field_u64(ssi_msg_find(f, (size_t)n, SSI_TAG_CPUM), &e.cpum) < 0 ||
            ssi_field_u64(ssi_msg_find(f, (size_t)n, SSI_TAG_FREEKB), &e.freekb) < 0 ||
            ssi_field_u64(ssi_msg_find(f, (size_t)n, SSI_TAG_NPROCS), &e.nprocs) < 0)
            return -EBADMSG;
        /* Optional: absent from nodes that predate it, and when 0. */
        ssi_field_u64(ssi_msg_find(f, (size_t)n, SSI_TAG_BLOCKED), &e.blocked);
        ssi_field_u64(ssi_msg_find(f, (size_t)n, SSI_TAG_EMPTYMS), &e.emptyms);
        taken += ssi_gossip_merge(self, ssi_cluster_index(self->cluster, name), &e, age, now);
    }
    return taken;
}

void ssi_gossip_resize(ssi_gossip_t *self)
{
    self->n = (int)ssi_cluster_size(self->cluster);
}

void ssi_gossip_forget(ssi_gossip_t *self, int idx)
{
    if (idx >= 0 && idx < self->n && idx != self->self) {
        memset(&self->e[idx], 0, sizeof self->e[idx]);
        self->version[idx][0] = 0;
        self->alien_proto[idx] = 0;
        self->alien_heard[idx] = 0;
    }
}

int ssi_gossip_pick(const ssi_gossip_t *self, uint32_t r, int64_t now)
{
    int up[SSI_CLUSTER_MAX], n = 0;
    for (int i = 0; i < self->n; i++)
        if (i != self->self && ssi_gossip_is_up(self, i, now))
            up[n++] = i;
    return n ? up[r % (uint32_t)n] : -1;
}
