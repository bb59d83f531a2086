/*
 * ssi_pagemap.h - the PAGEMAP_SCAN ioctl of /proc/PID/pagemap (Linux 6.7),
 * missing from Debian 12's headers: its argument, its result and the
 * category bits, as in the kernel's uapi (include/uapi/linux/fs.h). Used by
 * the freeze handler (page selection, clean pages of a live move) and by
 * the pre-copy requester (harvesting written pages).
 */
#ifndef SSI_PAGEMAP_H
#define SSI_PAGEMAP_H

#include <stdint.h>
#include <linux/ioctl.h>

#ifndef PAGEMAP_SCAN
struct page_region {
    uint64_t start, end, categories;
};
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1ULL << 0)   /* write-protect the pages reported */
#define PM_SCAN_CHECK_WPASYNC (1ULL << 1) /* fail unless uffd-wp async is set up */
#define PAGE_IS_WPALLOWED (1ULL << 0)
#define PAGE_IS_WRITTEN (1ULL << 1)
#define PAGE_IS_FILE (1ULL << 2)
#define PAGE_IS_PRESENT (1ULL << 3)
#define PAGE_IS_SWAPPED (1ULL << 4)
#define PAGE_IS_PFNZERO (1ULL << 5)
#endif
/* A guard region's page (MADV_GUARD_INSTALL, Linux 6.14); older kernels
 * refuse the bit with EINVAL: probe it. Shown as swapped. */
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD (1ULL << 8)
#endif

#endif
