/* ssi_io: whole reads and writes on blocking descriptors, for the helper
 * programs (ssi-agent, ssi-freeze, ssi-xfer). Ordinary libc code, not for
 * the shim's signal context (which has its own raw-syscall writer). */
#ifndef SSI_IO_H
#define SSI_IO_H

#include <stddef.h>

/* Read exactly n bytes: 0, -EPIPE at end of file first, or -errno. */
int ssi_io_read_full(int fd, void *buf, size_t n);
/* Write all n bytes: 0 or -errno (-EIO if the kernel takes none). */
int ssi_io_write_full(int fd, const void *buf, size_t n);

#endif
