/*
 * ssi_freeze_guard.c - guard regions at the freeze (ssi_freeze_guard.h).
 */
#include "ssi_freeze_guard.h"

#include "ssi_image.h"
#include "ssi_pagemap.h"
#include "ssi_sys.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#define S_VEC 64

static struct page_region s_vec[S_VEC];
static int s_known = -1; /* PAGEMAP_SCAN knows PAGE_IS_GUARD: 1, 0, or not asked yet */

uint64_t ssi_freeze_guard_bit(long pm)
{
    if (s_known < 0) {
        /* An empty range: only the arguments are checked (EINVAL for a
         * category this kernel does not know). */
        struct pm_scan_arg a;
        ssi_sys_memzero(&a, sizeof(a));
        a.size = sizeof(a);
        a.category_anyof_mask = a.return_mask = PAGE_IS_GUARD;
        s_known = ssi_sys3(SYS_ioctl, pm, PAGEMAP_SCAN, (long)&a) >= 0;
    }
    return s_known ? PAGE_IS_GUARD : 0;
}

long ssi_freeze_guards(long fd, long pm, uint64_t start, uint64_t end, ssi_freeze_guard_rec_fn rec)
{
    struct pm_scan_arg a;
    uint64_t cur = start;
    while (ssi_freeze_guard_bit(pm) && cur < end) {
        long i, n, rc;
        ssi_sys_memzero(&a, sizeof(a));
        a.size = sizeof(a);
        a.start = cur;
        a.end = end;
        a.vec = (uint64_t)s_vec;
        a.vec_len = S_VEC;
        a.category_mask = a.return_mask = PAGE_IS_GUARD;
        n = ssi_sys3(SYS_ioctl, pm, PAGEMAP_SCAN, (long)&a);
        if (n < 0)
            return n;
        for (i = 0; i < n; i++) {
            ssi_image_pages_t pg = {.addr = s_vec[i].start, .len = s_vec[i].end - s_vec[i].start};
            if ((rc = rec(fd, SSI_IMAGE_REC_GUARD, &pg, sizeof(pg), 0)) < 0)
                return rc;
        }
        if (a.walk_end <= cur)
            return -EIO;
        cur = a.walk_end;
    }
    return 0;
}
