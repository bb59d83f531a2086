/*
 * ssi_freeze_guard.h - guard regions (madvise MADV_GUARD_INSTALL, Linux
 * 6.13) at the freeze: their pages cannot be read (write() from one fails
 * with EFAULT, a load raises SIGSEGV), so the page dump leaves them out and
 * GUARD records name them; the restorer installs them again
 * (restore/ssi_restore_guard.c).
 *
 * Used by the freeze handler only (ssi_freeze.c). Signal context: raw
 * system calls, static buffers.
 */
#ifndef SSI_FREEZE_GUARD_H
#define SSI_FREEZE_GUARD_H

#include <stdint.h>

/* PAGE_IS_GUARD if PAGEMAP_SCAN on pm (/proc/self/pagemap) knows it (asked
 * once), else 0: the category bit a page dump excludes. */
uint64_t ssi_freeze_guard_bit(long pm);

/* Writes a GUARD record (through rec, the handler's record writer, to fd)
 * for each guard region in [start, end). 0 or -errno. */
typedef long (*ssi_freeze_guard_rec_fn)(long fd, uint32_t type, const void *body, uint32_t size,
                                        uint64_t data_len);
long ssi_freeze_guards(long fd, long pm, uint64_t start, uint64_t end, ssi_freeze_guard_rec_fn rec);

#endif
