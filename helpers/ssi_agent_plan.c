/*
 * ssi_agent_plan.c - what ssi-agent makes of each descriptor in the body's
 * image: one tunnel (a socketpair, relayed to the deputy) per standard
 * stream, pipe, FIFO, terminal or socket; a /dev/null placeholder for a
 * home file, directory or datagram socket (vfs-proxy and netproxy forward
 * their calls); the same device reopened here for null, zero, random,
 * urandom; a placeholder for an epoll instance. Anything else is refused
 * before the body is restored. Calls only the base (ssi_agent_int.h).
 */
#include "ssi_agent_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

/* Every fd number in the image (one bit each), to find the control
 * socket's number. */
static uint8_t s_image_fds[SSI_IMAGE_FD_LIMIT / 8];

static int s_is_tty(uint64_t rdev)
{
    unsigned ma = major(rdev);
    return ma == 4 || ma == 5 || (ma >= 136 && ma <= 143);
}

static const char *s_local_device(uint64_t rdev)
{
    if (major(rdev) != 1)
        return NULL;
    switch (minor(rdev)) {
    case 3: return "/dev/null";
    case 5: return "/dev/zero";
    case 8: return "/dev/random";
    case 9: return "/dev/urandom";
    default: return NULL;
    }
}

/* Plans path, opened with fl_flags, at number f->fd: 0, or -1 when the
 * table (of max entries) is full. */
static int s_add_dev(ssi_agent_dev_t *tab, int *n, int max, const ssi_image_fd_t *f,
                     uint32_t fl_flags, const char *path)
{
    ssi_agent_dev_t *d;
    if (*n >= max)
        return -1;
    d = &tab[(*n)++];
    d->fd = f->fd;
    d->fd_flags = f->fd_flags;
    d->fl_flags = fl_flags;
    snprintf(d->path, sizeof(d->path), "%s", path);
    return 0;
}

/* Plans a home file's placeholder at number f->fd (the table grows). */
static void s_add_fwd(const ssi_image_fd_t *f)
{
    if (ssi_agent.nfwds == ssi_agent.cap_fwds) {
        int cap = ssi_agent.cap_fwds ? ssi_agent.cap_fwds * 2 : 256;
        ssi_agent_dev_t *t = realloc(ssi_agent.fwds, (size_t)cap * sizeof(*t));
        if (!t)
            ssi_agent_fail("out of memory for %d forwarded descriptors", ssi_agent.nfwds + 1);
        ssi_agent.fwds = t;
        ssi_agent.cap_fwds = cap;
    }
    s_add_dev(ssi_agent.fwds, &ssi_agent.nfwds, ssi_agent.cap_fwds, f, f->fl_flags, "/dev/null");
}

void ssi_agent_plan_fd(const ssi_image_fd_t *f)
{
    unsigned acc = f->fl_flags & O_ACCMODE;
    uint8_t dir = acc == O_RDONLY   ? SSI_TUNNEL_DIR_IN
                  : acc == O_WRONLY ? SSI_TUNNEL_DIR_OUT
                                    : SSI_TUNNEL_DIR_IN | SSI_TUNNEL_DIR_OUT;
    uint8_t flags = 0;
    const char *dev = NULL;
    ssi_agent_chan_t *c;

    if (f->fd < 0 || f->fd >= SSI_IMAGE_FD_LIMIT)
        ssi_agent_fail("fd %d: a moved process's descriptors must be below %d", f->fd,
                       SSI_IMAGE_FD_LIMIT);
    s_image_fds[f->fd / 8] |= (uint8_t)(1u << (f->fd % 8));
    if (f->kind == SSI_IMAGE_FD_FILE || f->kind == SSI_IMAGE_FD_DIR ||
        (f->kind == SSI_IMAGE_FD_SOCKET && (f->pos & SSI_IMAGE_FD_SOCK_DGRAM) &&
         !(f->pos & SSI_IMAGE_FD_SOCK_LISTENING) && f->fd > 2)) {
        /* (A datagram socket too: it stays at home and the netproxy
         * forwards its calls, one datagram each.) */
        /* A home file or directory, standard streams included (so that
         * lseek, fstat and append mode stay the home file's): forwarded
         * by the vfs-proxy. */
        s_add_fwd(f);
        return;
    }
    if (f->kind == SSI_IMAGE_FD_ANON && f->fd > 2 &&
        (!strcmp(f->path, "anon_inode:[eventpoll]") || !strcmp(f->path, "anon_inode:[eventfd]") ||
         !strcmp(f->path, "anon_inode:[timerfd]") || !strcmp(f->path, "anon_inode:[signalfd]"))) {
        /* An epoll instance, an eventfd, a timerfd or a signalfd: the
         * body's restore hook makes it again at this number (ssi_epoll.c,
         * ssi_kobj.c); until then a placeholder keeps the number. */
        if (s_add_dev(ssi_agent.devs, &ssi_agent.ndevs, SSI_AGENT_MAX_DEVS, f, O_RDONLY,
                      "/dev/null") < 0)
            ssi_agent_fail("too many device descriptors");
        return;
    }
    if (f->kind == SSI_IMAGE_FD_CHR && s_is_tty(f->rdev))
        flags |= SSI_TUNNEL_CHAN_TTY;
    if (f->kind == SSI_IMAGE_FD_SOCKET)
        flags |= SSI_TUNNEL_CHAN_SOCKET;
    if (f->kind == SSI_IMAGE_FD_SOCKET && (f->pos & SSI_IMAGE_FD_SOCK_LISTENING) && f->fd > 2) {
        /* Stays listening at home; connections come over a seqpacket
         * pair (netproxy). */
        flags |= SSI_TUNNEL_CHAN_LISTEN;
        dir = 0;
    }
    if (f->kind == SSI_IMAGE_FD_CHR)
        dev = s_local_device(f->rdev);
    if (f->fd <= 2) {
        /* The standard streams are always tunnelled, whatever they are
         * at home (a file, /dev/null, a tty): the deputy reads or writes
         * them there. One direction each, so that a tty opened O_RDWR on
         * 0, 1 and 2 is read once. */
        dir = f->fd == 0 ? SSI_TUNNEL_DIR_IN : SSI_TUNNEL_DIR_OUT;
    } else if (dev) {
        if (s_add_dev(ssi_agent.devs, &ssi_agent.ndevs, SSI_AGENT_MAX_DEVS, f, f->fl_flags, dev) <
            0)
            ssi_agent_fail("too many device descriptors");
        return;
    } else if (f->kind == SSI_IMAGE_FD_CHR && !(flags & SSI_TUNNEL_CHAN_TTY)) {
        ssi_agent_fail("fd %d (%s): a device other than null, zero, random, urandom or a terminal",
                       f->fd, f->path);
    } else if (!(f->kind == SSI_IMAGE_FD_FIFO || f->kind == SSI_IMAGE_FD_SOCKET ||
                 (flags & SSI_TUNNEL_CHAN_TTY))) {
        ssi_agent_fail("fd %d (%s): this kind of descriptor cannot move yet", f->fd, f->path);
    }
    if (ssi_agent.nchans >= SSI_TUNNEL_MAX_CHANS || f->fd > 65535)
        ssi_agent_fail("too many tunnelled descriptors (max %d)", SSI_TUNNEL_MAX_CHANS);
    c = ssi_agent_chan_add(f->fd, dir, flags);
    c->fd_flags = f->fd_flags;
    c->fl_flags = f->fl_flags;
    c->rd_done = !(dir & SSI_TUNNEL_DIR_OUT);
    c->wr_done = !(dir & SSI_TUNNEL_DIR_IN);
    if (flags & SSI_TUNNEL_CHAN_LISTEN)
        c->rd_done = c->wr_done = 1;
}

int ssi_agent_plan_ctl_num(void)
{
    int num;
    for (num = SSI_TUNNEL_CTL_FD_MIN; num < SSI_IMAGE_FD_LIMIT; num++)
        if (!(s_image_fds[num / 8] & (1u << (num % 8))))
            return num;
    return SSI_IMAGE_FD_LIMIT; /* every number taken: the body's trap finds none either */
}
