/*
 * ssi_net_body.c - the away body's side of the netproxy.
 *
 * A proxy of the trap core (ssi/away/ssi_trap.h): the core traps the calls
 * of ssi_net_body_calls[] and hands each one here before the file proxy
 * (a socket's close, read or ioctl is ours, a file's is not). Forwarding
 * and the forwarded-fd table are the core's. Per descriptor the body
 * knows what its number stands for:
 *   HOME    a stream socket created away, not connected yet: a local
 *           placeholder (an unconnected AF_UNIX socket) whose real socket
 *           is the deputy's fd of the same number; every call is forwarded;
 *   TUNNEL  a connected stream socket: the body's end of a socketpair the
 *           agent relays; I/O is native, control calls are forwarded to
 *           the home socket, still at the same number in the deputy;
 *   LISTEN  a listening socket: the body's end of a SOCK_SEQPACKET pair
 *           on which accepted connections arrive (SCM_RIGHTS);
 *   DGRAM   a datagram socket created away: a placeholder like HOME, and
 *           every call (sendto, recvfrom, sendmsg, recvmsg, sendmmsg) is
 *           forwarded, one datagram per call;
 *   UDP     a datagram socket created away, once its home socket is a
 *           DGRAM channel: the body's end of a SOCK_SEQPACKET pair on
 *           which each datagram arrives with its source (ssi_tunnel_dghdr_t
 *           first); recvfrom/recvmsg/read/readv are trapped and unpack
 *           it (locally: poll/select/epoll, O_NONBLOCK, SO_RCVTIMEO and
 *           MSG_PEEK act on the pair); sends are forwarded as for DGRAM;
 *   STD     fds 0-2 that were connected stream sockets at freeze (inetd
 *           style): static tunnels whose home socket the deputy keeps
 *           elsewhere; only control calls are forwarded (the deputy finds
 *           the socket by channel).
 * A control call on a descriptor the body does not know (a dup of one of
 * these) is forwarded for the one it duplicates, found by inode.
 * Signal context, raw system calls, static buffers, no libc.
 */
#include "ssi_net.h"

#include "ssi_fdpass.h"
#include "ssi_sys.h"
#include "ssi_trap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>

#define S_MAX_FD 65536
#define S_FRZ_SCAN 1024

/* S_DGRAM: a datagram socket created away, at home; every call forwarded. */
enum { S_NONE = 0, S_HOME, S_TUNNEL, S_LISTEN, S_DGRAM, S_STD, S_UDP };

static uint8_t s_kind[S_MAX_FD];
static uint8_t s_frz_listen[S_FRZ_SCAN / 8]; /* listening at freeze (home) */
static uint8_t s_frz_dgram[S_FRZ_SCAN / 8];  /* datagram sockets at freeze */
static uint8_t s_frz_stream[S_FRZ_SCAN / 8]; /* other stream sockets: tunnels */
static uint8_t s_frz_std;                    /* bits 0-2: fds 0-2 stream sockets */
static long s_hi = -1;                       /* highest fd with a kind */
static int s_ctl = -1;

/* The calls this proxy needs trapped (read/write and friends: a UDP
 * channel's datagrams are unpacked; close/ioctl: a home socket's). */
const uint16_t ssi_net_body_calls[] = {
    SYS_socket,      SYS_connect,     SYS_accept,     SYS_accept4,    SYS_bind,   SYS_listen,
    SYS_getsockname, SYS_getpeername, SYS_setsockopt, SYS_getsockopt, SYS_sendto, SYS_recvfrom,
    SYS_sendmsg,     SYS_recvmsg,     SYS_sendmmsg,   SYS_close,      SYS_ioctl,  SYS_read,
    SYS_readv,       SYS_write,       SYS_writev,
};
const unsigned ssi_net_body_ncalls = sizeof(ssi_net_body_calls) / sizeof(ssi_net_body_calls[0]);

static int s_get(long fd)
{
    return fd >= 0 && fd < S_MAX_FD ? s_kind[fd] : S_NONE;
}

static void s_set(long fd, int k)
{
    if (fd >= 0 && fd < S_MAX_FD)
        s_kind[fd] = (uint8_t)k;
    if (k != S_NONE && fd > s_hi)
        s_hi = fd;
}

/* The descriptor of ours that fd duplicates (same socket inode), or -1. */
static long s_alias(long fd)
{
    struct stat a, b;
    long i;
    if (ssi_sys2(SYS_fstat, fd, (long)&a) < 0 || !S_ISSOCK(a.st_mode))
        return -1;
    for (i = 0; i <= s_hi && i < S_MAX_FD; i++)
        if (i != fd && s_kind[i] != S_NONE && ssi_sys2(SYS_fstat, i, (long)&b) == 0 &&
            b.st_ino == a.st_ino && b.st_dev == a.st_dev)
            return i;
    return -1;
}

void ssi_net_body_freeze(void)
{
    long fd;
    ssi_sys_memzero(s_frz_listen, sizeof(s_frz_listen));
    ssi_sys_memzero(s_frz_dgram, sizeof(s_frz_dgram));
    ssi_sys_memzero(s_frz_stream, sizeof(s_frz_stream));
    s_frz_std = 0;
    for (fd = 0; fd < 3; fd++) {
        int type = 0, acc = 0;
        uint32_t l = sizeof(type), la = sizeof(acc);
        if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&l) == 0 &&
            type == SOCK_STREAM &&
            ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_ACCEPTCONN, (long)&acc, (long)&la) == 0 &&
            !acc)
            s_frz_std |= (uint8_t)(1u << fd);
    }
    /* The agent's rules (image FD pos bits, fds 0-2 always stream
     * tunnels at their own place): the same descriptors, seen from here. */
    for (fd = 3; fd < S_FRZ_SCAN; fd++) {
        int type = 0, acc = 0;
        uint32_t l = sizeof(type);
        uint8_t bit = (uint8_t)(1u << (fd & 7));
        if (fd == s_ctl ||
            ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&l) < 0)
            continue; /* not a socket */
        l = sizeof(acc);
        if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_ACCEPTCONN, (long)&acc, (long)&l) == 0 &&
            acc)
            s_frz_listen[fd >> 3] |= bit; /* a stream or seqpacket listener */
        else if (type == SOCK_DGRAM || type == SOCK_SEQPACKET)
            s_frz_dgram[fd >> 3] |= bit;
        else if (type == SOCK_STREAM)
            /* Connected: a tunnel whose home socket the deputy keeps at
             * fd, so that control calls name it there. */
            s_frz_stream[fd >> 3] |= bit;
    }
}

void ssi_net_body_start(int ctl_fd)
{
    struct timeval tv = {30, 0};
    long fd, hi;
    ssi_sys_memzero(s_kind, sizeof(s_kind));
    s_hi = -1;
    for (fd = 0; fd < 3; fd++)
        if (s_frz_std & (1u << fd))
            s_set(fd, S_STD);
    for (fd = 0; fd < S_FRZ_SCAN; fd++)
        if (ssi_sys2(SYS_fcntl, fd, F_GETFD) < 0)
            continue; /* not restored: a descriptor of the freeze's own */
        else if (s_frz_listen[fd >> 3] & (1u << (fd & 7)))
            s_set(fd, S_LISTEN);
        else if (s_frz_dgram[fd >> 3] & (1u << (fd & 7)))
            s_set(fd, S_DGRAM); /* a placeholder the agent made; the deputy's fd is real */
        else if (s_frz_stream[fd >> 3] & (1u << (fd & 7)))
            s_set(fd, S_TUNNEL);
    s_ctl = -1;
    if (ctl_fd < 0)
        return;
    hi = ssi_sys3(SYS_fcntl, ctl_fd, F_DUPFD_CLOEXEC, 900 + 96);
    if (hi >= 0) {
        ssi_sys1(SYS_close, ctl_fd);
        ctl_fd = (int)hi;
    }
    /* The agent sends a new channel's end right after the deputy's
     * NEWCHAN; if it never comes the call fails instead of hanging. */
    ssi_sys5(SYS_setsockopt, ctl_fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, sizeof(tv));
    s_ctl = ctl_fd;
}

static long s_take_chan(long fd, int kind);

void ssi_net_body_linked(void)
{
    long fd;
    for (fd = 3; fd <= s_hi && fd < S_FRZ_SCAN; fd++) {
        int64_t q[6] = {fd, 0, 0, 0, 0, 0};
        if (s_get(fd) == S_DGRAM && ssi_trap_forward(SSI_CALL_OP_DGRAM, q) == 0)
            s_take_chan(fd, S_UDP);
    }
}

void ssi_net_body_home(void)
{
    if (s_ctl >= 0)
        ssi_sys1(SYS_close, s_ctl);
    s_ctl = -1;
    ssi_sys_memzero(s_kind, sizeof(s_kind));
}

int ssi_net_body_own_fd(int fd)
{
    return fd >= 0 && fd == s_ctl;
}

void ssi_net_body_replaced(int fd)
{
    int64_t q[6] = {fd, 0, 0, 0, 0, 0};
    if (s_ctl < 0 || s_get(fd) == S_NONE)
        return;
    if (s_get(fd) == S_STD) {
        s_set(fd, S_NONE); /* a static tunnel: the agent sees it close */
        return;
    }
    ssi_trap_forward(SYS_close, q);
    ssi_trap_set_fwd(fd, 0);
    s_set(fd, S_NONE);
}

/* Receives one channel end (ssi_tunnel_pass_t + SCM_RIGHTS) from sock. */
static long s_recv_end(long sock, ssi_tunnel_pass_t *m, long flags, const void *uc)
{
    ssi_fdpass_t fp;
    int64_t a[6];
    long rc;
    int fd;
    ssi_fdpass_init(&fp, m, sizeof(*m));
    a[0] = sock;
    a[1] = (int64_t)&fp.mh;
    a[2] = flags;
    a[3] = a[4] = a[5] = 0;
    /* With the program's mask when the program waits (accept): signals
     * interrupt it as at home; and outside the trap core's lock (the
     * message lands in this frame): a thread blocked in accept does not
     * stall the others' calls. */
    rc = uc ? ssi_trap_local_free(SYS_recvmsg, a, uc)
            : ssi_sys3(SYS_recvmsg, sock, (long)&fp.mh, flags);
    if (rc < 0)
        return rc;
    fd = ssi_fdpass_take(&fp);
    if (rc != (long)sizeof(*m) || m->magic != SSI_TUNNEL_PASS_MAGIC || fd < 0) {
        if (fd >= 0)
            ssi_sys1(SYS_close, fd);
        return rc == 0 ? -ECONNABORTED : -EPROTO;
    }
    return fd;
}

static long s_name_or_opt(long nr, const int64_t *a);

/* The home socket at fd became a channel: put its end over the
 * placeholder, with the placeholder's descriptor flag, the home socket's
 * O_NONBLOCK and the timeouts the program set. */
static long s_take_chan(long fd, int kind)
{
    ssi_tunnel_pass_t m;
    int64_t q[6] = {fd, F_GETFL, 0, 0, 0, 0};
    long nfd = s_recv_end(s_ctl, &m, MSG_CMSG_CLOEXEC, 0), fl, fdfl, rc;
    static const int tmo[2] = {SO_RCVTIMEO, SO_SNDTIMEO};
    int i;
    if (nfd < 0)
        return nfd == -EAGAIN ? -ETIMEDOUT : nfd;
    fl = ssi_trap_forward(SYS_fcntl, q);
    fdfl = ssi_sys2(SYS_fcntl, fd, F_GETFD);
    for (i = 0; i < 2 && (kind == S_TUNNEL || kind == S_UDP); i++) {
        struct timeval tv;
        uint32_t l = sizeof(tv);
        /* A datagram socket open at freeze set them at home. */
        int64_t g[6] = {fd, SOL_SOCKET, tmo[i], (int64_t)&tv, (int64_t)&l, 0};
        if ((kind == S_UDP
                 ? s_name_or_opt(SYS_getsockopt, g)
                 : ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, tmo[i], (long)&tv, (long)&l)) == 0 &&
            (tv.tv_sec || tv.tv_usec))
            ssi_sys5(SYS_setsockopt, nfd, SOL_SOCKET, tmo[i], (long)&tv, sizeof(tv));
    }
    rc = ssi_sys3(SYS_dup3, nfd, fd, fdfl > 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
    ssi_sys1(SYS_close, nfd);
    if (rc < 0)
        return rc;
    if (fl > 0 && (fl & O_NONBLOCK))
        ssi_sys3(SYS_fcntl, fd, F_SETFL, O_NONBLOCK);
    ssi_trap_set_fwd((int)fd, 0);
    s_set(fd, kind);
    return 0;
}

static long s_socket(const int64_t *a, int kind)
{
    long type = a[1], m, r;
    int64_t q[6];
    m = ssi_sys3(SYS_socket, AF_UNIX, SOCK_STREAM | (type & (SOCK_CLOEXEC | SOCK_NONBLOCK)), 0);
    if (m < 0)
        return m;
    if (m >= S_MAX_FD) {
        ssi_sys1(SYS_close, m);
        return -EMFILE;
    }
    q[0] = a[0];
    q[1] = type;
    q[2] = a[2];
    q[3] = m;
    q[4] = q[5] = 0;
    r = ssi_trap_forward(SSI_CALL_OP_SOCKET, q);
    if (r < 0) {
        ssi_sys1(SYS_close, m);
        return r;
    }
    ssi_trap_set_fwd((int)m, 1);
    s_set(m, kind);
    if (kind == S_DGRAM) {
        /* Datagrams for it come down a tunnel, so that waiting for them
         * (poll, epoll, a blocking recv) happens here. If that cannot be
         * set up, every call stays forwarded. */
        q[0] = m;
        q[1] = q[2] = q[3] = 0;
        if (ssi_trap_forward(SSI_CALL_OP_DGRAM, q) == 0)
            s_take_chan(m, S_UDP);
    }
    return m;
}

/* accept/accept4 on a listener: the next connection the agent passed. */
static long s_accept(const int64_t *a, long flags, const void *uc)
{
    ssi_tunnel_pass_t m;
    long fd = s_recv_end(a[0], &m, flags & SOCK_CLOEXEC ? MSG_CMSG_CLOEXEC : 0, uc);
    int64_t q[6];
    int type = 0;
    uint32_t tl = sizeof(type);
    if (fd < 0)
        return fd;
    if (fd >= S_MAX_FD) {
        ssi_sys1(SYS_close, fd);
        return -EMFILE;
    }
    if (flags & SOCK_NONBLOCK)
        ssi_sys3(SYS_fcntl, fd, F_SETFL, O_NONBLOCK);
    /* The home socket follows to the same number, so that control calls
     * (getpeername, setsockopt) name it there. */
    q[0] = m.chan;
    q[1] = fd;
    q[2] = q[3] = q[4] = q[5] = 0;
    /* A seqpacket listener's connection comes as a datagram channel. */
    if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&tl) < 0)
        type = SOCK_STREAM;
    s_set(fd, ssi_trap_forward(SSI_CALL_OP_ATTACH, q) < 0 ? S_NONE
              : type == SOCK_SEQPACKET                    ? S_UDP
                                                          : S_TUNNEL);
    if (a[1] && a[2]) {
        uint32_t cap, n = m.alen < sizeof(m.addr) ? m.alen : sizeof(m.addr);
        ssi_sys_memcopy(&cap, (const void *)a[2], 4);
        ssi_sys_memcopy((void *)a[1], m.addr, n < cap ? n : cap);
        ssi_sys_memcopy((void *)a[2], &n, 4);
    }
    return fd;
}

/* getsockname/getpeername/getsockopt: home's answer, copied into the
 * program's buffer within its length (as the kernel does). */
static long s_name_or_opt(long nr, const int64_t *a)
{
    static uint8_t buf[256];
    uint32_t cap, len;
    int64_t q[6];
    int vi = nr == SYS_getsockopt ? 3 : 1, li = vi + 1;
    long r;
    if (!a[li])
        return -EFAULT;
    ssi_sys_memcopy(&cap, (const void *)a[li], 4);
    len = nr == SYS_getsockopt ? 256 : 128;
    ssi_sys_memcopy(q, a, sizeof(q));
    q[vi] = (int64_t)buf;
    q[li] = (int64_t)&len;
    r = ssi_trap_forward((unsigned)nr, q);
    if (r < 0)
        return r;
    if (a[vi])
        ssi_sys_memcopy((void *)a[vi], buf, len < cap ? len : cap);
    ssi_sys_memcopy((void *)a[li], &len, 4);
    return r;
}

/* One datagram at home. The data goes through s_dgbuf (datagrams fit
 * one call-link message: SSI_CALL_IO_MAX; larger ones are cut, as a
 * receive buffer that is too small cuts them). */
static uint8_t s_dgbuf[SSI_CALL_IO_MAX];

static long s_sendto(long fd, const void *buf, uint64_t len, long flags, const void *addr,
                     long alen)
{
    int64_t q[6] = {fd, (int64_t)buf, (int64_t)len, flags, (int64_t)addr, addr ? alen : 0};
    if (len > SSI_CALL_IO_MAX)
        return -EMSGSIZE;
    return ssi_trap_forward(SYS_sendto, q);
}

/* recvfrom at home; the address comes back within *alen (as the kernel
 * does) when addr is given. */
static long s_recvfrom(long fd, void *buf, uint64_t len, long flags, void *addr, uint32_t *alen)
{
    static uint8_t sa[128];
    uint32_t sl = sizeof(sa), cap = 0;
    int64_t q[6] = {fd,    (int64_t)buf, (int64_t)(len < SSI_CALL_IO_MAX ? len : SSI_CALL_IO_MAX),
                    flags, (int64_t)sa,  (int64_t)&sl};
    long r = ssi_trap_forward(SYS_recvfrom, q);
    if (r < 0 || !addr || !alen)
        return r;
    ssi_sys_memcopy(&cap, alen, 4);
    ssi_sys_memcopy(addr, sa, sl < cap ? sl : cap);
    ssi_sys_memcopy(alen, &sl, 4);
    return r;
}

static long s_sendmsg(long fd, const struct msghdr *m, long flags)
{
    uint64_t n = 0, i;
    if (m->msg_controllen)
        return -EOPNOTSUPP; /* ancillary data is not forwarded */
    for (i = 0; i < m->msg_iovlen; i++) {
        if (m->msg_iov[i].iov_len > sizeof(s_dgbuf) - n)
            return -EMSGSIZE;
        ssi_sys_memcopy(s_dgbuf + n, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
        n += m->msg_iov[i].iov_len;
    }
    return s_sendto(fd, s_dgbuf, n, flags, m->msg_name, m->msg_namelen);
}

/* One datagram from a UDP channel's pair, into iov: the head lands in
 * h, the payload in the program's buffers, in one recvmsg (so MSG_PEEK
 * and blocking act as on a socket). Returns what recvmsg would. */

/* A receive that began away and was still waiting when the process came
 * home (the homecoming restarts it inside this handler, on what is the
 * home socket now): r bytes of one message landed in h and then in iov.
 * Puts them in iov in order, as a plain recvmsg would have. */
static long s_udp_raw(const ssi_tunnel_dghdr_t *h, uint64_t r, const struct iovec *iov,
                      uint64_t niov, uint64_t cap, long flags, uint32_t *nlen, int *mflags)
{
    uint64_t head = r < sizeof(*h) ? r : sizeof(*h), rest = r - head, i, off = 0;
    if (rest > cap)
        rest = cap;
    if (rest > sizeof(s_dgbuf) - head)
        rest = sizeof(s_dgbuf) - head;
    ssi_sys_memcopy(s_dgbuf, h, head);
    for (i = 0; i < niov && off < rest; i++) {
        uint64_t k = iov[i].iov_len < rest - off ? iov[i].iov_len : rest - off;
        ssi_sys_memcopy(s_dgbuf + head + off, iov[i].iov_base, k);
        off += k;
    }
    for (i = 0, off = 0; i < niov && off < head + rest && off < cap; i++) {
        uint64_t k = head + rest - off;
        if (k > iov[i].iov_len)
            k = iov[i].iov_len;
        ssi_sys_memcopy(iov[i].iov_base, s_dgbuf + off, k);
        off += k;
    }
    if (nlen)
        *nlen = 0; /* the source is not known here any more */
    if (mflags)
        *mflags = r > cap ? MSG_TRUNC : 0;
    return flags & MSG_TRUNC ? (long)r : (long)off;
}

static long s_udp_recv(long fd, const struct iovec *iov, uint64_t niov, long flags, void *name,
                       uint32_t *nlen, int *mflags, const void *uc)
{
    /* In this frame, not static: the wait runs outside the trap core's
     * lock, and other threads may receive meanwhile. */
    ssi_tunnel_dghdr_t h;
    struct iovec iov1[1 + 64];
    struct msghdr mh;
    int64_t q[6];
    uint64_t i, cap = 0, got;
    long r;
    if (niov > 64)
        return -EMSGSIZE;
    iov1[0].iov_base = &h;
    iov1[0].iov_len = sizeof(h);
    for (i = 0; i < niov; i++) {
        iov1[i + 1] = iov[i];
        cap += iov[i].iov_len;
    }
    ssi_sys_memzero(&mh, sizeof(mh));
    mh.msg_iov = iov1;
    mh.msg_iovlen = niov + 1;
    q[0] = fd;
    q[1] = (int64_t)&mh;
    q[2] = (flags & (MSG_PEEK | MSG_DONTWAIT)) | MSG_TRUNC;
    q[3] = q[4] = q[5] = 0;
    r = uc ? ssi_trap_local_free(SYS_recvmsg, q, uc) : ssi_sys3(SYS_recvmsg, fd, (long)&mh, q[2]);
    if (r <= 0)
        return r;  /* 0: the deputy ended the channel */
    if (s_ctl < 0) /* came home while it waited: fd is the home socket */
        return s_udp_raw(&h, (uint64_t)r, iov, niov, cap, flags, nlen, mflags);
    if ((uint64_t)r < sizeof(h))
        return -EPROTO;
    got = (uint64_t)r - sizeof(h); /* carried; h.len is the datagram at home */
    if (got > cap)
        got = cap;
    if (name && nlen) {
        uint32_t c = *nlen;
        ssi_sys_memcopy(name, h.addr, h.alen < c ? h.alen : c);
        *nlen = h.alen;
    }
    if (mflags)
        *mflags = h.len > cap || h.len > (uint64_t)r - sizeof(h) ? MSG_TRUNC : 0;
    return flags & MSG_TRUNC ? (long)h.len : (long)got;
}

static long s_udp(long nr, const int64_t *a, const void *uc)
{
    struct iovec one;
    switch (nr) {
    case SYS_read:
        one.iov_base = (void *)a[1];
        one.iov_len = (uint64_t)a[2];
        return s_udp_recv(a[0], &one, 1, 0, 0, 0, 0, uc);
    case SYS_readv:
        return s_udp_recv(a[0], (const struct iovec *)a[1], (uint64_t)a[2], 0, 0, 0, 0, uc);
    case SYS_recvfrom:
        one.iov_base = (void *)a[1];
        one.iov_len = (uint64_t)a[2];
        return s_udp_recv(a[0], &one, 1, a[3], (void *)a[4], (uint32_t *)a[5], 0, uc);
    case SYS_recvmsg: {
        struct msghdr *m = (struct msghdr *)a[1];
        uint32_t nl = m->msg_namelen;
        int fl = 0;
        long r = s_udp_recv(a[0], m->msg_iov, m->msg_iovlen, a[2], m->msg_name,
                            m->msg_name ? &nl : 0, &fl, uc);
        if (r >= 0) {
            m->msg_namelen = m->msg_name ? nl : 0;
            m->msg_controllen = 0;
            m->msg_flags = fl;
        }
        return r;
    }
    case SYS_write: return s_sendto(a[0], (const void *)a[1], (uint64_t)a[2], 0, 0, 0);
    case SYS_writev: {
        struct msghdr m;
        ssi_sys_memzero(&m, sizeof(m));
        m.msg_iov = (struct iovec *)a[1];
        m.msg_iovlen = (uint64_t)a[2];
        return s_sendmsg(a[0], &m, 0);
    }
    case SYS_ioctl: {
        /* FIONREAD: the next datagram's size, without our head. */
        int v = 0;
        long r = ssi_sys3(SYS_ioctl, a[0], FIONREAD, (long)&v);
        if (r < 0)
            return r;
        v = v > (int)sizeof(ssi_tunnel_dghdr_t) ? v - (int)sizeof(ssi_tunnel_dghdr_t) : 0;
        if (!a[2])
            return -EFAULT;
        ssi_sys_memcopy((void *)a[2], &v, sizeof(v));
        return 0;
    }
    }
    return -ENOSYS;
}

static long s_dgram(long nr, const int64_t *a)
{
    switch (nr) {
    case SYS_sendto:
        return s_sendto(a[0], (const void *)a[1], (uint64_t)a[2], a[3], (const void *)a[4], a[5]);
    case SYS_recvfrom:
        return s_recvfrom(a[0], (void *)a[1], (uint64_t)a[2], a[3], (void *)a[4], (uint32_t *)a[5]);
    case SYS_sendmsg: return s_sendmsg(a[0], (const struct msghdr *)a[1], a[2]);
    case SYS_sendmmsg: {
        struct mmsghdr *v = (struct mmsghdr *)a[1];
        long i, r = 0;
        for (i = 0; i < a[2]; i++) {
            r = s_sendmsg(a[0], &v[i].msg_hdr, a[3]);
            if (r < 0)
                break;
            v[i].msg_len = (unsigned)r;
        }
        return i ? i : r;
    }
    case SYS_recvmsg: {
        struct msghdr *m = (struct msghdr *)a[1];
        uint64_t cap = 0, i, off = 0;
        uint32_t nl = m->msg_namelen;
        long r;
        for (i = 0; i < m->msg_iovlen; i++)
            cap += m->msg_iov[i].iov_len;
        r = s_recvfrom(a[0], s_dgbuf, cap < sizeof(s_dgbuf) ? cap : sizeof(s_dgbuf),
                       a[2] | MSG_TRUNC, m->msg_name, m->msg_name ? &nl : 0);
        if (r < 0)
            return r;
        m->msg_namelen = m->msg_name ? nl : 0;
        m->msg_controllen = 0;
        m->msg_flags = (uint64_t)r > cap ? MSG_TRUNC : 0;
        for (i = 0; i < m->msg_iovlen && off < (uint64_t)r && off < cap; i++) {
            uint64_t k = m->msg_iov[i].iov_len;
            if (k > (uint64_t)r - off)
                k = (uint64_t)r - off;
            ssi_sys_memcopy(m->msg_iov[i].iov_base, s_dgbuf + off, k);
            off += k;
        }
        return a[2] & MSG_TRUNC ? r : (long)off;
    }
    }
    return -ENOSYS;
}

int ssi_net_body_call(long nr, int64_t *a, void *uc, long *ret)
{
    int k;
    if (s_ctl < 0)
        return 0;
    switch (nr) {
    case SYS_socket: {
        long base = a[1] & 0xf;
        a[0] = (int32_t)a[0];
        if ((a[0] != AF_INET && a[0] != AF_INET6 && a[0] != AF_UNIX) ||
            (base != SOCK_STREAM && base != SOCK_DGRAM))
            return 0; /* raw, netlink, packet, seqpacket: local to this node */
        *ret = s_socket(a, base == SOCK_STREAM ? S_HOME : S_DGRAM);
        return 1;
    }
    case SYS_close:
    case SYS_ioctl:
    case SYS_connect:
    case SYS_bind:
    case SYS_listen:
    case SYS_accept:
    case SYS_accept4:
    case SYS_getsockname:
    case SYS_getpeername:
    case SYS_setsockopt:
    case SYS_getsockopt:
    case SYS_sendto:
    case SYS_recvfrom:
    case SYS_sendmsg:
    case SYS_recvmsg:
    case SYS_sendmmsg:
    case SYS_read:
    case SYS_readv:
    case SYS_write:
    case SYS_writev: a[0] = (int32_t)a[0]; break;
    default: return 0;
    }
    if (nr == SYS_read || nr == SYS_readv || nr == SYS_write || nr == SYS_writev) {
        /* Only a UDP channel's pair needs its datagrams unpacked. */
        if (s_get(a[0]) != S_UDP)
            return 0;
        *ret = s_udp(nr, a, uc);
        return 1;
    }
    k = s_get(a[0]);
    if (k == S_NONE || k == S_STD) {
        /* Only control calls, for fds 0-2 and for dups of our sockets. */
        int64_t q[6];
        long al = k == S_STD ? a[0] : -1;
        if (nr != SYS_getsockname && nr != SYS_getpeername && nr != SYS_getsockopt &&
            nr != SYS_setsockopt) {
            if (k == S_STD && nr == SYS_close)
                s_set(a[0], S_NONE);
            return 0;
        }
        if (al < 0 && (al = s_alias(a[0])) < 0)
            return 0;
        ssi_sys_memcopy(q, a, sizeof(q));
        q[0] = al;
        if (nr != SYS_setsockopt) {
            *ret = s_name_or_opt(nr, q);
            return 1;
        }
        *ret = ssi_trap_forward(SYS_setsockopt, q);
        if (*ret == 0 && a[1] == SOL_SOCKET && (a[2] == SO_RCVTIMEO || a[2] == SO_SNDTIMEO))
            ssi_sys5(SYS_setsockopt, a[0], a[1], a[2], a[3], a[4]);
        return 1;
    }
    switch (nr) {
    case SYS_ioctl:
        /* FIONBIO (Python's settimeout) on a home socket: its O_NONBLOCK
         * lives at home. Tunnels and listeners are local descriptors. */
        if (k == S_UDP && a[1] == FIONREAD) {
            *ret = s_udp(nr, a, uc);
            return 1;
        }
        if ((k != S_HOME && k != S_DGRAM) || a[1] != FIONBIO)
            return 0;
        {
            int on = 0;
            int64_t q[6] = {a[0], F_GETFL, 0, 0, 0, 0};
            long fl = ssi_trap_forward(SYS_fcntl, q);
            if (!a[2])
                *ret = -EFAULT;
            else if (fl < 0)
                *ret = fl;
            else {
                ssi_sys_memcopy(&on, (const void *)a[2], sizeof(on));
                q[1] = F_SETFL;
                q[2] = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
                *ret = ssi_trap_forward(SYS_fcntl, q);
            }
        }
        return 1;
    case SYS_close: {
        int64_t q[6] = {a[0], 0, 0, 0, 0, 0};
        long r = ssi_trap_forward(SYS_close, q);
        ssi_trap_set_fwd((int)a[0], 0);
        s_set(a[0], S_NONE);
        *ret = ssi_sys1(SYS_close, a[0]);
        if (*ret == 0 && (k == S_HOME || k == S_DGRAM) && r < 0 && r != -EIO)
            *ret = r;
        return 1;
    }
    case SYS_sendto:
    case SYS_recvfrom:
    case SYS_sendmsg:
    case SYS_recvmsg:
    case SYS_sendmmsg:
        if (k == S_UDP && (nr == SYS_recvfrom || nr == SYS_recvmsg)) {
            *ret = s_udp(nr, a, uc);
            return 1;
        }
        if (k != S_HOME && k != S_DGRAM && k != S_UDP)
            return 0; /* tunnels and listeners: local */
        *ret = s_dgram(nr, a);
        return 1;
    case SYS_connect:
        if (k == S_DGRAM || k == S_UDP)
            *ret = ssi_trap_forward(SYS_connect, a);
        else if (k != S_HOME)
            *ret = k == S_TUNNEL ? -EISCONN : -EINVAL;
        else if ((*ret = ssi_trap_forward(SYS_connect, a)) == 0)
            *ret = s_take_chan(a[0], S_TUNNEL);
        return 1;
    case SYS_bind:
        *ret = k == S_HOME || k == S_DGRAM || k == S_UDP ? ssi_trap_forward(SYS_bind, a) : -EINVAL;
        return 1;
    case SYS_listen:
        if (k == S_TUNNEL)
            *ret = -EINVAL;
        else if ((*ret = ssi_trap_forward(SYS_listen, a)) == 0 && k == S_HOME)
            *ret = s_take_chan(a[0], S_LISTEN);
        return 1;
    case SYS_accept:
    case SYS_accept4:
        if (k != S_LISTEN)
            *ret = -EINVAL;
        else
            *ret = s_accept(a, nr == SYS_accept4 ? a[3] : 0, uc);
        return 1;
    case SYS_getsockname:
    case SYS_getpeername:
    case SYS_getsockopt: *ret = s_name_or_opt(nr, a); return 1;
    case SYS_setsockopt:
        *ret = ssi_trap_forward(SYS_setsockopt, a);
        /* Timeouts act where the body blocks: on its own end too. */
        if (*ret == 0 && a[1] == SOL_SOCKET && (a[2] == SO_RCVTIMEO || a[2] == SO_SNDTIMEO))
            ssi_sys5(SYS_setsockopt, a[0], a[1], a[2], a[3], a[4]);
        return 1;
    }
    return 0;
}
