/*
 * ssi_agent_pre.c - the pages of a pre-copy (live) move's rounds, held by
 * the agent until the final image says which of them are still right.
 *
 * A live move's stream starts with a preamble (SSI_IMAGE_PRE_MAGIC, then
 * PRE_PAGES and PRE_ZERO records, then PRE_END; helpers/ssi_precopy.c
 * writes it while the process runs). Every page is kept by address: a
 * later round's copy replaces an earlier one, PRE_ZERO forgets it (the
 * process zeroed it since). The final image then carries CLEAN ranges
 * (not written since the rounds harvested them) instead of their pages;
 * the agent turns each into PAGES records of what it holds in the range
 * as it feeds the restorer, so ssi-restore reads an ordinary image. A page
 * of a CLEAN range that it does not hold was zero (never sent, or zeroed):
 * its absence is the mark of a zero page, as in any image.
 *
 * The store: an open-addressing table from page number to a slot in slabs
 * of 1024 pages. Ordinary libc code.
 */
#include "ssi_agent_int.h"

#include "ssi_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#define S_PAGE 4096UL
#define S_SLAB 1024u
#define S_NONE UINT32_MAX
#define S_IOV 1024

static uint64_t *s_keys; /* page number + 1; 0: empty */
static uint32_t *s_vals; /* slot, or S_NONE: zeroed since */
static uint64_t s_cap, s_used;
static uint8_t **s_slabs;
static uint32_t s_nslots, s_nslabs;
static int s_have;
static ssi_image_pre_end_t s_end;
static int s_vmsplice_ok = 1;

static uint64_t s_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

/* The table entry of page number pn (key pn + 1): found or empty. */
static uint64_t s_find(uint64_t key)
{
    uint64_t i = s_hash(key) & (s_cap - 1);
    while (s_keys[i] && s_keys[i] != key)
        i = (i + 1) & (s_cap - 1);
    return i;
}

static int s_grow(void)
{
    uint64_t ocap = s_cap, i;
    uint64_t *okeys = s_keys;
    uint32_t *ovals = s_vals;
    s_cap = ocap ? ocap * 2 : 1 << 16;
    s_keys = calloc(s_cap, sizeof(*s_keys));
    s_vals = calloc(s_cap, sizeof(*s_vals));
    if (!s_keys || !s_vals)
        return -ENOMEM;
    for (i = 0; i < ocap; i++)
        if (okeys[i]) {
            uint64_t j = s_find(okeys[i]);
            s_keys[j] = okeys[i];
            s_vals[j] = ovals[i];
        }
    free(okeys);
    free(ovals);
    return 0;
}

static uint8_t *s_slot(uint32_t slot)
{
    return s_slabs[slot / S_SLAB] + (uint64_t)(slot % S_SLAB) * S_PAGE;
}

/* Where page addr's copy goes (a new slot, or its old one). */
static uint8_t *s_put(uint64_t addr)
{
    uint64_t key = addr / S_PAGE + 1, i;
    if ((s_used + 1) * 2 > s_cap && s_grow() < 0)
        return NULL;
    i = s_find(key);
    if (!s_keys[i]) {
        s_keys[i] = key;
        s_vals[i] = S_NONE;
        s_used++;
    }
    if (s_vals[i] == S_NONE) {
        if (s_nslots == s_nslabs * S_SLAB) {
            uint8_t **n = realloc(s_slabs, (s_nslabs + 1) * sizeof(*n));
            if (!n)
                return NULL;
            s_slabs = n;
            /* Populated at once: faulting 4 KiB at a time inside read()
             * made the agent slower than the link. */
            void *m = mmap(NULL, S_SLAB * S_PAGE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
            if (m == MAP_FAILED)
                return NULL;
            s_slabs[s_nslabs] = m;
            s_nslabs++;
        }
        s_vals[i] = s_nslots++;
    }
    return s_slot(s_vals[i]);
}

/* The copy of page addr, or NULL. */
static const uint8_t *s_get(uint64_t addr)
{
    uint64_t i;
    if (!s_cap)
        return NULL;
    i = s_find(addr / S_PAGE + 1);
    return s_keys[i] && s_vals[i] != S_NONE ? s_slot(s_vals[i]) : NULL;
}

/* A page zeroed since: its slot is not reused (rare), the copy dropped. */
static void s_forget(uint64_t addr)
{
    uint64_t i;
    if (!s_cap)
        return;
    i = s_find(addr / S_PAGE + 1);
    if (s_keys[i])
        s_vals[i] = S_NONE;
}

/* Reads every byte the n iovecs describe (they are changed). */
static int s_readv_full(int in, struct iovec *v, int n)
{
    while (n) {
        ssize_t r = readv(in, v, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EPIPE;
        while (n && (size_t)r >= v->iov_len) {
            r -= (ssize_t)v->iov_len;
            v++;
            n--;
        }
        if (n && r) {
            v->iov_base = (char *)v->iov_base + r;
            v->iov_len -= (size_t)r;
        }
    }
    return 0;
}

int ssi_agent_pre_read(int in)
{
    s_have = 1;
    for (;;) {
        ssi_image_rec_t r;
        ssi_image_pages_t pg;
        uint64_t a;
        if (ssi_io_read_full(in, &r, sizeof(r)) < 0)
            return -EPIPE;
        if (r.type == SSI_IMAGE_REC_PRE_END) {
            if (r.size != sizeof(s_end) || r.data_len)
                return -EBADMSG;
            return ssi_io_read_full(in, &s_end, sizeof(s_end)) < 0 ? -EPIPE : 0;
        }
        if ((r.type != SSI_IMAGE_REC_PRE_PAGES && r.type != SSI_IMAGE_REC_PRE_ZERO) ||
            r.size != sizeof(pg))
            return -EBADMSG;
        if (ssi_io_read_full(in, &pg, sizeof(pg)) < 0)
            return -EPIPE;
        if ((pg.addr | pg.len) & (S_PAGE - 1) || pg.addr >= SSI_IMAGE_ADDR_LIMIT ||
            pg.len > SSI_IMAGE_ADDR_LIMIT - pg.addr ||
            r.data_len != (r.type == SSI_IMAGE_REC_PRE_PAGES ? pg.len : 0))
            return -EBADMSG;
        if (r.type == SSI_IMAGE_REC_PRE_ZERO) {
            for (a = pg.addr; a < pg.addr + pg.len; a += S_PAGE)
                s_forget(a);
            continue;
        }
        /* One readv per S_IOV pages, straight into their slots. */
        for (a = pg.addr; a < pg.addr + pg.len;) {
            static struct iovec iov[S_IOV];
            int n = 0, rc;
            for (; a < pg.addr + pg.len && n < S_IOV; a += S_PAGE, n++) {
                uint8_t *p = s_put(a);
                if (!p)
                    return -ENOMEM;
                iov[n] = (struct iovec){.iov_base = p, .iov_len = S_PAGE};
            }
            rc = s_readv_full(in, iov, n);
            if (rc < 0)
                return rc;
        }
    }
}

int ssi_agent_pre_have(void)
{
    return s_have;
}

uint64_t ssi_agent_pre_rounds(void)
{
    return s_end.rounds;
}

/* Writes one PAGES record of the n pages from addr, whose copies are in
 * pages[]. The record's header is copied into the pipe (it lives on our
 * stack); the pages go by vmsplice: the pipe refers to our copies instead
 * of copying them, and they stay untouched until the restorer has read
 * them (the store is freed once it exited). Plain writev where out is not
 * a pipe. Either may stop short: go on from where it stopped. */
static int s_emit(int out, uint64_t addr, const uint8_t **pages, int n)
{
    struct {
        ssi_image_rec_t r;
        ssi_image_pages_t pg;
    } h = {{.type = SSI_IMAGE_REC_PAGES, .size = sizeof(ssi_image_pages_t)}, {addr, 0}};
    struct iovec iov[S_IOV], *v = iov;
    int i, cnt = n;
    size_t total = (size_t)n * S_PAGE, done = 0;
    h.pg.len = h.r.data_len = total;
    if (ssi_io_write_full(out, &h, sizeof(h)) < 0)
        return -EIO;
    for (i = 0; i < n; i++)
        iov[i] = (struct iovec){.iov_base = (void *)pages[i], .iov_len = S_PAGE};
    while (done < total) {
        ssize_t w = s_vmsplice_ok ? vmsplice(out, v, (unsigned long)cnt, 0) : writev(out, v, cnt);
        if (w < 0 && errno == EINVAL && s_vmsplice_ok) {
            s_vmsplice_ok = 0;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        done += (size_t)w;
        while (cnt && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            cnt--;
        }
        if (cnt && w) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int ssi_agent_pre_clean(int out, uint64_t addr, uint64_t len, int64_t *nrec, uint64_t *bytes)
{
    static const uint8_t *pages[S_IOV];
    uint64_t a, run = 0;
    int n = 0, rc;
    if (!s_have)
        return -EBADMSG;
    for (a = addr; a <= addr + len; a += S_PAGE) {
        const uint8_t *p = a < addr + len ? s_get(a) : NULL;
        if (p && n < S_IOV) {
            if (!n)
                run = a;
            pages[n++] = p;
            continue;
        }
        if (n) {
            rc = s_emit(out, run, pages, n);
            if (rc < 0)
                return rc;
            (*nrec)++;
            *bytes += (uint64_t)n * S_PAGE;
            n = 0;
        }
        if (p) {
            run = a;
            pages[n++] = p;
        }
    }
    return 0;
}

void ssi_agent_pre_free(void)
{
    uint32_t i;
    for (i = 0; i < s_nslabs; i++)
        munmap(s_slabs[i], S_SLAB * S_PAGE);
    free(s_slabs);
    free(s_keys);
    free(s_vals);
    s_slabs = NULL;
    s_keys = NULL;
    s_vals = NULL;
    s_cap = s_used = 0;
    s_nslots = s_nslabs = 0;
}
