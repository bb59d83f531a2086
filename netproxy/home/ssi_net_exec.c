/*
 * ssi_net_exec.c - the home side of the netproxy: socket calls of the
 * away body that need more than the plain system call.
 *
 * An executor of the deputy's call server (ssi/home/ssi_callsrv.h), ahead
 * of the vfs-proxy's. The home socket of the body's fd N is the deputy's
 * fd N, as for files; a socket that gets connected or starts listening
 * becomes a channel of the data link (ssi_chans_new) and stays at N, so
 * that getsockname, setsockopt and friends keep naming it there. Calls
 * only the channel table below it.
 *
 * Runs in the deputy (libssi.so, signal context, raw system calls).
 */
#include "ssi_net.h"

#include "ssi_chans.h"
#include "ssi_sys.h"
#include "ssi_tunnel_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

/* A stream socket of a family whose connections the tunnels carry. */
static int s_stream(long fd)
{
    int v = 0;
    uint32_t l = sizeof(v);
    if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&v, (long)&l) < 0 ||
        v != SOCK_STREAM)
        return 0;
    l = sizeof(v);
    if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, (long)&v, (long)&l) < 0)
        return 0;
    return v == AF_INET || v == AF_INET6 || v == AF_UNIX;
}

/* connect at home; a non-blocking one is waited for here (the body's
 * connect then completes at once, which POSIX allows). The deputy's
 * tunnels stall meanwhile: see docs/ARCHITECTURE.md. */
static long s_connect(const int64_t *a)
{
    long fd = a[0], rc = ssi_sys3(SYS_connect, fd, a[1], a[2]);
    while (rc == -EINPROGRESS || rc == -EINTR || rc == -EALREADY) {
        struct pollfd p = {.fd = (int)fd, .events = POLLOUT, .revents = 0};
        int err = 0;
        uint32_t el = sizeof(err);
        rc = ssi_sys5(SYS_ppoll, (long)&p, 1, 0, 0, 8);
        if (rc == -EINTR || rc == 0) {
            rc = -EINPROGRESS;
            continue;
        }
        if (rc < 0)
            return rc;
        rc = ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&err, (long)&el);
        if (rc == 0)
            rc = -err;
    }
    if (rc < 0 || !s_stream(fd))
        return rc;
    /* Connected: from now on a tunnel. The body waits for its end on the
     * control socket. */
    rc = ssi_chans_new((int)fd, SSI_TUNNEL_DIR_IN | SSI_TUNNEL_DIR_OUT, SSI_TUNNEL_CHAN_SOCKET,
                       SSI_TUNNEL_NOPARENT, 0, 0);
    return rc < 0 ? rc : 0;
}

static long s_listen(const int64_t *a)
{
    long fd = a[0], rc = ssi_sys2(SYS_listen, fd, a[1]);
    if (rc < 0 || !s_stream(fd))
        return rc;
    if (ssi_chans_has_fd((int)fd))
        return rc; /* listen() again: a new backlog, the same listener */
    rc = ssi_chans_new((int)fd, 0, SSI_TUNNEL_CHAN_SOCKET | SSI_TUNNEL_CHAN_LISTEN,
                       SSI_TUNNEL_NOPARENT, 0, 0);
    return rc < 0 ? rc : 0;
}

int ssi_net_exec(unsigned op, const int64_t *a, long *ret)
{
    switch (op) {
    case SSI_CALL_OP_SOCKET: {
        long fd, target = a[3];
        fd = ssi_sys3(SYS_socket, a[0], a[1] | SOCK_CLOEXEC, a[2]);
        if (fd >= 0 && fd != target) {
            long rc = ssi_sys3(SYS_dup3, fd, target, a[1] & SOCK_CLOEXEC ? O_CLOEXEC : 0);
            ssi_sys1(SYS_close, fd);
            fd = rc < 0 ? rc : target;
        } else if (fd >= 0 && !(a[1] & SOCK_CLOEXEC)) {
            ssi_sys3(SYS_fcntl, fd, F_SETFD, 0);
        }
        *ret = fd;
        return 1;
    }
    case SYS_connect: *ret = s_connect(a); return 1;
    case SYS_listen: *ret = s_listen(a); return 1;
    case SYS_close:
        if (!ssi_chans_release_fd((int)a[0]))
            return 0;
        *ret = 0;
        return 1;
    case SYS_getsockname:
    case SYS_getpeername:
    case SYS_getsockopt:
    case SYS_setsockopt:
        /* fds 0-2: the home socket of that static channel lives above
         * the body's range here; not a socket channel: not a socket. */
        if (a[0] < 0 || a[0] > 2)
            return 0;
        {
            long fd = ssi_chans_std_fd((unsigned)a[0]);
            *ret = fd < 0 ? -ENOTSOCK : ssi_sys5(op, fd, a[1], a[2], a[3], a[4]);
        }
        return 1;
    case SSI_CALL_OP_DGRAM: {
        /* A seqpacket socket that is not connected has nothing to relay
         * (its reads fail with ENOTCONN): its calls stay forwarded. */
        int type = 0;
        uint32_t l = sizeof(type);
        uint8_t peer[128];
        uint32_t pl = sizeof(peer);
        if (ssi_sys5(SYS_getsockopt, a[0], SOL_SOCKET, SO_TYPE, (long)&type, (long)&l) == 0 &&
            type == SOCK_SEQPACKET && ssi_sys3(SYS_getpeername, a[0], (long)peer, (long)&pl) < 0) {
            *ret = -ENOTCONN;
            return 1;
        }
        *ret = ssi_chans_new((int)a[0], SSI_TUNNEL_DIR_IN,
                             SSI_TUNNEL_CHAN_SOCKET | SSI_TUNNEL_CHAN_DGRAM, SSI_TUNNEL_NOPARENT, 0,
                             0);
        if (*ret > 0)
            *ret = 0;
        return 1;
    }
    case SSI_CALL_OP_ATTACH: *ret = ssi_chans_attach((unsigned)a[0], (int)a[1]); return 1;
    }
    return 0;
}
