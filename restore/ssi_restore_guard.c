/*
 * ssi_restore_guard.c - madvise at the restore: guard regions
 * (MADV_GUARD_INSTALL, Linux 6.13) installed again once a VMA's pages are
 * in: the image's GUARD records (the freeze leaves their pages out: they
 * cannot be read); and each VMA's advice (SSI_IMAGE_VMA_MADV_*) given
 * again once it is mapped. Part of ssi-restore, which has no libc.
 */
#include "ssi_restore.h"

#include "ssi_sys.h"

#include <sys/mman.h>
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

void ssi_restore_madv(const ssi_image_vma_t *v)
{
    static const struct {
        uint32_t bit;
        int advice, must;
    } map[] = {
        /* What a fork does with the memory: the program relies on it. */
        {SSI_IMAGE_VMA_MADV_DONTFORK, MADV_DONTFORK, 1},
        {SSI_IMAGE_VMA_MADV_WIPEONFORK, MADV_WIPEONFORK, 1},
        /* Advice: a kernel that does not take it (no THP, no KSM) runs
         * the program the same. */
        {SSI_IMAGE_VMA_MADV_DONTDUMP, MADV_DONTDUMP, 0},
        {SSI_IMAGE_VMA_MADV_HUGEPAGE, MADV_HUGEPAGE, 0},
        {SSI_IMAGE_VMA_MADV_NOHUGEPAGE, MADV_NOHUGEPAGE, 0},
        {SSI_IMAGE_VMA_MADV_MERGEABLE, MADV_MERGEABLE, 0},
        {SSI_IMAGE_VMA_MADV_SEQUENTIAL, MADV_SEQUENTIAL, 0},
        {SSI_IMAGE_VMA_MADV_RANDOM, MADV_RANDOM, 0},
    };
    size_t i;
    /* Locked memory stays locked (its pages are faulted in now, or as
     * they are touched with MLOCK_ONFAULT, 1): a program's guarantee. */
    if (v->flags & SSI_IMAGE_VMA_LOCKED) {
        long rc = ssi_sys3(SYS_mlock2, (long)v->start, (long)(v->end - v->start),
                           (v->flags & SSI_IMAGE_VMA_LOCKONFAULT) ? 1 : 0);
        if (rc < 0)
            ssi_restore_die("mlock of a VMA as the image says", v->path, rc);
    }
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        long rc;
        if (!(v->flags & map[i].bit))
            continue;
        rc = ssi_sys3(SYS_madvise, (long)v->start, (long)(v->end - v->start), map[i].advice);
        if (rc < 0 && map[i].must)
            ssi_restore_die("madvise of a VMA as the image says", v->path, rc);
    }
}
