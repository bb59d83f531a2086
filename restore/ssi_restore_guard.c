/*
 * ssi_restore_guard.c - guard regions (madvise MADV_GUARD_INSTALL, Linux
 * 6.13) installed again once a VMA's pages are in: the image's GUARD
 * records (the freeze leaves their pages out: they cannot be read). Part
 * of ssi-restore, which has no libc.
 */
#include "ssi_restore.h"

#include "ssi_sys.h"

#include <sys/syscall.h>

#define S_MADV_GUARD_INSTALL 102 /* not in older headers */

void ssi_restore_guard(const ssi_image_pages_t *pg)
{
    /* A kernel without guard regions (EINVAL) cannot hold this memory as
     * it was: the restore fails rather than leave readable pages. */
    long rc = ssi_sys3(SYS_madvise, (long)pg->addr, (long)pg->len, S_MADV_GUARD_INSTALL);
    if (rc < 0)
        ssi_restore_die("madvise(MADV_GUARD_INSTALL) of a guard region", 0, rc);
}
