/* ssi_io: loops over read(2) and write(2) until done, retrying EINTR. */
#include "ssi_io.h"

#include <errno.h>
#include <unistd.h>

int ssi_io_read_full(int fd, void *buf, size_t n)
{
    char *c = buf;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EPIPE;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

int ssi_io_write_full(int fd, const void *buf, size_t n)
{
    const char *c = buf;
    while (n) {
        ssize_t r = write(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}
