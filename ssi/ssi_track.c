/*
 * ssi_track.c - the process's own side of a pre-copy (live) move: which
 * pages it wrote since the requester last harvested them.
 *
 * Part of libssi.so, called from the freeze handler (ssi_freeze.c) only:
 * raw system calls, static buffers. A userfaultfd in write-protect async
 * mode (UFFD_FEATURE_WP_ASYNC: the kernel resolves a write to a protected
 * page itself, no message, and marks the page written) is registered over
 * the ranges the handler chose and every page is write-protected. The
 * requester (ssi-freeze, helpers/ssi_precopy.c) then harvests written pages
 * from /proc/PID/pagemap with PAGEMAP_SCAN and PM_SCAN_WP_MATCHING, which
 * reports them and protects them again in one step, and reads them with
 * process_vm_readv. At the final freeze, ssi_track_clean() tells which
 * pages were not written since: the destination has them already.
 *
 * Closing the userfaultfd ends everything: the kernel unregisters the
 * ranges and drops the protection (ssi_track_stop).
 */
#include "ssi_track.h"

#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

/* Missing from Debian 12's headers (Linux 6.1 uapi). */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1ULL << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1ULL << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

static long s_uffd = -1;

long ssi_track_fd(void)
{
    return s_uffd;
}

void ssi_track_stop(void)
{
    if (s_uffd >= 0)
        ssi_sys1(SYS_close, s_uffd);
    s_uffd = -1;
}

void ssi_track_forget(void)
{
    /* A restored copy of the process: the descriptor was never in the
     * image, so there is nothing to close (the number may be another's). */
    s_uffd = -1;
}

long ssi_track_start(const ssi_image_range_t *r, uint32_t n)
{
    struct uffdio_api api;
    long fd, rc;
    uint32_t i;

    ssi_track_stop();
    /* UFFD_USER_MODE_ONLY: allowed to non-root users whatever
     * vm.unprivileged_userfaultfd says; we never handle kernel faults. */
    fd = ssi_sys1(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        fd = ssi_sys1(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fd;
    ssi_sys_memzero(&api, sizeof(api));
    api.api = UFFD_API;
    /* WP_UNPOPULATED: pages never touched are protected too, so that
     * PAGEMAP_SCAN says "write-protect allowed" for anonymous memory. */
    api.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
    rc = ssi_sys3(SYS_ioctl, fd, (long)UFFDIO_API, (long)&api);
    for (i = 0; rc == 0 && i < n; i++) {
        struct uffdio_register reg;
        struct uffdio_writeprotect wp;
        ssi_sys_memzero(&reg, sizeof(reg));
        reg.range.start = r[i].start;
        reg.range.len = r[i].end - r[i].start;
        reg.mode = UFFDIO_REGISTER_MODE_WP;
        rc = ssi_sys3(SYS_ioctl, fd, (long)UFFDIO_REGISTER, (long)&reg);
        if (rc < 0)
            break;
        ssi_sys_memzero(&wp, sizeof(wp));
        wp.range = reg.range;
        wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
        rc = ssi_sys3(SYS_ioctl, fd, (long)UFFDIO_WRITEPROTECT, (long)&wp);
    }
    if (rc < 0) {
        ssi_sys1(SYS_close, fd);
        return rc;
    }
    s_uffd = fd;
    return 0;
}

long ssi_track_clean(long pm, uint64_t start, uint64_t end, struct page_region *vec, uint32_t nvec,
                     uint64_t *walk_end)
{
    struct pm_scan_arg a;
    long n;
    ssi_sys_memzero(&a, sizeof(a));
    a.size = sizeof(a);
    a.start = start;
    a.end = end;
    a.vec = (uint64_t)vec;
    a.vec_len = nvec;
    /* Write-protect allowed (our registration is still there: not
     * unmapped, not moved) and not written since the last harvest. */
    a.category_mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN;
    a.category_inverted = PAGE_IS_WRITTEN;
    a.return_mask = PAGE_IS_WPALLOWED;
    n = ssi_sys3(SYS_ioctl, pm, PAGEMAP_SCAN, (long)&a);
    if (n < 0)
        return n;
    if (a.walk_end <= start || a.walk_end > end)
        return -EIO;
    *walk_end = a.walk_end;
    return n;
}
