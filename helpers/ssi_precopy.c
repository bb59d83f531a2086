/*
 * ssi_precopy.c - the rounds of a pre-copy (live) move, on the requesting
 * side: the process runs on while its memory is copied, and the pages it
 * writes meanwhile are copied again, round after round.
 *
 * The process registered its private anonymous writable memory with a
 * userfaultfd in write-protect async mode and protected every page
 * (ssi/ssi_track.c); it told us the ranges. Round 0 copies every page that
 * is present or swapped. Each later round asks /proc/PID/pagemap, with
 * PAGEMAP_SCAN and PM_SCAN_WP_MATCHING, for the pages written since the
 * last round; the kernel reports them and protects them again in the same
 * step, so a write that races with the copy marks the page again and the
 * next round (or the final freeze) sends it again. Pages are read with
 * process_vm_readv after they were reported.
 *
 * The pages go out first in the image stream, as a preamble
 * (SSI_IMAGE_PRE_MAGIC, PRE_PAGES and PRE_ZERO records, PRE_END); the
 * destination's agent keeps them by address (helpers/ssi_agent_pre.c).
 */
#include "ssi_precopy.h"

#include "ssi_io.h"
#include "ssi_pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define S_PAGE 4096UL
#define S_CHUNK (1UL << 20)
#define S_VEC 4096

typedef struct {
    pid_t pid;
    int out;
    int pm;
    int round;
    uint8_t *buf;
    struct page_region *vec;
    ssi_precopy_stats_t *st;
    uint64_t round_bytes; /* written pages found this round */
} s_ctx_t;

static void s_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!err || !len)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static int s_rec(s_ctx_t *c, uint32_t type, uint64_t addr, uint64_t len, const void *data)
{
    ssi_image_rec_t r = {.type = type, .size = sizeof(ssi_image_pages_t)};
    ssi_image_pages_t pg = {.addr = addr, .len = len};
    int rc;
    r.data_len = data ? len : 0;
    rc = ssi_io_write_full(c->out, &r, sizeof(r));
    if (rc == 0)
        rc = ssi_io_write_full(c->out, &pg, sizeof(pg));
    if (rc == 0 && data)
        rc = ssi_io_write_full(c->out, data, len);
    c->st->bytes += sizeof(r) + sizeof(pg) + r.data_len;
    if (data)
        c->st->page_bytes += len;
    return rc;
}

static int s_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (unsigned i = 0; i < S_PAGE / 8; i++)
        if (w[i])
            return 0;
    return 1;
}

/* Sends [addr, addr+len) as read now: runs of pages with data, and, after
 * round 0, runs of zero pages as PRE_ZERO (the destination may hold an
 * older copy). 1: a page could not be read (the range went away, or lost
 * read permission): the caller must not call the rest clean. */
static int s_send(s_ctx_t *c, uint64_t addr, uint64_t len)
{
    while (len) {
        uint64_t n = len < S_CHUNK ? len : S_CHUNK, i, run = 0;
        struct iovec l = {.iov_base = c->buf, .iov_len = n};
        struct iovec r = {.iov_base = (void *)addr, .iov_len = n};
        ssize_t got = process_vm_readv(c->pid, &l, 1, &r, 1, 0);
        int rc, zero_run = -1;
        if (got != (ssize_t)n)
            return 1;
        for (i = 0; i <= n / S_PAGE; i++) {
            int z = i < n / S_PAGE ? s_zero(c->buf + i * S_PAGE) : -1;
            if (z == zero_run)
                continue;
            if (zero_run == 0)
                rc = s_rec(c, SSI_IMAGE_REC_PRE_PAGES, addr + run * S_PAGE, (i - run) * S_PAGE,
                           c->buf + run * S_PAGE);
            else if (zero_run == 1 && c->round > 0)
                rc =
                    s_rec(c, SSI_IMAGE_REC_PRE_ZERO, addr + run * S_PAGE, (i - run) * S_PAGE, NULL);
            else
                rc = 0;
            if (rc < 0)
                return rc;
            zero_run = z;
            run = i;
        }
        addr += n;
        len -= n;
    }
    return 0;
}

/* One range in one round (c->round_bytes counts what it found): round 0
 * every present or swapped page (the
 * process protected them all before it answered), later rounds the pages
 * written since, protected again as they are reported. 1: the range is
 * gone or changed (it is not harvested any more: what is written there is
 * no longer clean and goes with the final image); -errno: the stream
 * broke. */
static int s_range(s_ctx_t *c, ssi_image_range_t *rg)
{
    uint64_t cur = rg->start;
    while (cur < rg->end) {
        struct pm_scan_arg a;
        long n, i;
        memset(&a, 0, sizeof(a));
        a.size = sizeof(a);
        a.start = cur;
        a.end = rg->end;
        a.vec = (uint64_t)(uintptr_t)c->vec;
        a.vec_len = S_VEC;
        if (c->round == 0) {
            a.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
            a.category_inverted = a.category_mask = PAGE_IS_PFNZERO;
            a.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
        } else {
            a.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
            a.category_mask = a.return_mask = PAGE_IS_WRITTEN;
        }
        n = ioctl(c->pm, PAGEMAP_SCAN, &a);
        if (n < 0 || a.walk_end <= cur)
            return 1;
        for (i = 0; i < n; i++) {
            uint64_t s = c->vec[i].start, e = c->vec[i].end;
            int rc;
            while (i + 1 < n && c->vec[i + 1].start == e)
                e = c->vec[++i].end;
            c->round_bytes += e - s;
            rc = s_send(c, s, e - s);
            if (rc != 0)
                return rc;
        }
        cur = a.walk_end;
    }
    return 0;
}

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int ssi_precopy_run(pid_t pid, ssi_image_range_t *r, uint32_t n, int out_fd,
                    const ssi_precopy_opts_t *o, ssi_precopy_stats_t *st, char *err, size_t errlen)
{
    char path[64];
    uint64_t magic = SSI_IMAGE_PRE_MAGIC, prev = ~0ULL, first = 0;
    int max_rounds = o->max_rounds > 0 ? o->max_rounds : SSI_PRECOPY_MAX_ROUNDS, rc = 0;
    s_ctx_t c;
    uint32_t i, live = n;

    memset(st, 0, sizeof(*st));
    memset(&c, 0, sizeof(c));
    c.pid = pid;
    c.out = out_fd;
    c.st = st;
    snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
    c.pm = open(path, O_RDONLY | O_CLOEXEC);
    c.buf = malloc(S_CHUNK);
    c.vec = calloc(S_VEC, sizeof(*c.vec));
    if (c.pm < 0 || !c.buf || !c.vec) {
        rc = c.pm < 0 ? -errno : -ENOMEM;
        s_err(err, errlen, "pre-copy: %s: %s", path, strerror(-rc));
        goto out;
    }
    rc = ssi_io_write_full(out_fd, &magic, sizeof(magic));
    st->bytes = sizeof(magic);
    for (c.round = 0; rc == 0 && c.round < max_rounds && live; c.round++) {
        double t = s_now_ms();
        c.round_bytes = 0;
        for (i = 0; rc == 0 && i < n; i++) {
            if (r[i].start == r[i].end)
                continue; /* dropped */
            rc = s_range(&c, &r[i]);
            if (rc == 1) {
                /* Not readable as a whole: its pages read in this round may
                 * be partial. Nothing of this move may be called clean. */
                st->tainted = 1;
                rc = 0;
                r[i].start = r[i].end;
                live--;
            }
        }
        if (rc < 0) {
            s_err(err, errlen, "pre-copy: writing round %d: %s", c.round, strerror(-rc));
            break;
        }
        st->rounds = (uint32_t)c.round + 1;
        st->round_ms_last = s_now_ms() - t;
        if (st->tainted)
            break;
        if (c.round == 0) {
            first = c.round_bytes;
            continue;
        }
        st->last_dirty = c.round_bytes;
        if (c.round_bytes <= o->small_bytes) {
            st->converged = 1;
            break;
        }
        /* It wrote three quarters of its memory again during one round:
         * more rounds would only send it again. */
        if (c.round_bytes * 4 >= first * 3)
            break;
        /* Not shrinking: the process writes as fast as the rounds carry. */
        if (c.round >= 2 && c.round_bytes >= prev)
            break;
        prev = c.round_bytes;
    }
    if (rc == 0) {
        ssi_image_rec_t e = {.type = SSI_IMAGE_REC_PRE_END, .size = sizeof(ssi_image_pre_end_t)};
        ssi_image_pre_end_t pe = {.rounds = st->rounds, .page_bytes = st->page_bytes};
        rc = ssi_io_write_full(out_fd, &e, sizeof(e));
        if (rc == 0)
            rc = ssi_io_write_full(out_fd, &pe, sizeof(pe));
        st->bytes += sizeof(e) + sizeof(pe);
        if (rc < 0)
            s_err(err, errlen, "pre-copy: writing its end: %s", strerror(-rc));
    }
out:
    if (c.pm >= 0)
        close(c.pm);
    free(c.buf);
    free(c.vec);
    return rc;
}
