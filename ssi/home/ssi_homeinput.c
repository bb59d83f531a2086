/*
 * ssi_homeinput.c - home input read ahead of the body, given back to its
 * home pipe at the homecoming (see ssi_homeinput.h).
 *
 * Why only pipes and FIFOs: a pipe can be written again from this side
 * (its write end, opened anew through /proc/self/fd), so the bytes go
 * back into the same kernel object, in front of what it still holds, and
 * the program at home reads them as if nobody had touched them. A socket
 * or a terminal cannot take bytes back (they would have to come from the
 * peer): those still wait for the body to read them (the agent's grace).
 *
 * Several descriptors of one pipe (dups, reopens) that all read ahead
 * split its bytes between their channels: a ring of the deputy's last
 * reads (channel, length) gives their order back; bytes older than the
 * ring are refused, named. A writer in another process could write
 * between our reading what the pipe holds and writing it back: refused,
 * named.
 */
#include "ssi_homeinput.h"

#include "ssi_chans.h"
#include "ssi_sys.h"
#include "ssi_tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#define S_MAX 64          /* channels with bytes to give back */
#define S_LOG 8192        /* the deputy's last reads of pipes */
#define S_MAX_PIECES 4096 /* pieces of one pipe's bytes, in the order read */

typedef struct {
    unsigned chan;
    uint64_t bytes;     /* kept in the memfd */
    uint64_t dev, ino;  /* the home pipe (check) */
    int lead;           /* the entry of the first channel of the same pipe */
    int ok;             /* checked: goes back */
    int sock;           /* a Unix stream socket whose peer is gone (else a pipe) */
    int wfd, rfd;       /* the lead's: its write end and a non-blocking read end of our own */
    int pfirst, pcount; /* the lead's: its pipe's pieces */
} s_in_t;

/* Bytes [off, off+len) of entry in's kept bytes. */
typedef struct {
    int in;
    uint64_t off, len;
} s_piece_t;

static struct {
    uint32_t chan, n;
} s_log[S_LOG];
static uint64_t s_nlog;
static s_piece_t s_pieces[S_MAX_PIECES];
static int s_npieces;

void ssi_homeinput_note(unsigned chan, uint32_t n)
{
    s_log[s_nlog % S_LOG].chan = chan;
    s_log[s_nlog % S_LOG].n = n;
    s_nlog++;
}

typedef struct {
    uint32_t chan, len;
} s_rec_t;

static s_in_t s_in[S_MAX];
static int s_nin;
static long s_mem = -1; /* records: s_rec_t, then len bytes */
static long s_mem_len;

static void s_close(int *fd)
{
    if (*fd >= 0)
        ssi_sys1(SYS_close, *fd);
    *fd = -1;
}

void ssi_homeinput_reset(void)
{
    int i;
    for (i = 0; i < s_nin; i++) {
        s_close(&s_in[i].wfd);
        s_close(&s_in[i].rfd);
    }
    s_nin = 0;
    s_npieces = 0;
    if (s_mem >= 0)
        ssi_sys1(SYS_close, s_mem);
    s_mem = -1;
    s_mem_len = 0;
}

long ssi_homeinput_add(unsigned chan, const void *p, uint32_t n)
{
    s_rec_t h = {.chan = chan, .len = n};
    s_in_t *e = 0;
    long rc;
    int i;
    if (!n)
        return 0;
    for (i = 0; i < s_nin && !e; i++)
        if (s_in[i].chan == chan)
            e = &s_in[i];
    if (!e) {
        if (s_nin == S_MAX)
            return -E2BIG;
        e = &s_in[s_nin++];
        ssi_sys_memzero(e, sizeof(*e));
        e->chan = chan;
        e->wfd = e->rfd = -1;
    }
    if (s_mem < 0) {
        s_mem = ssi_sys2(SYS_memfd_create, (long)"ssi-home-input", MFD_CLOEXEC);
        if (s_mem < 0) {
            rc = s_mem;
            s_mem = -1;
            return rc;
        }
        s_mem = ssi_chans_high_fd(s_mem);
    }
    rc = ssi_sys_write_all(s_mem, &h, sizeof(h));
    if (rc == 0)
        rc = ssi_sys_write_all(s_mem, p, n);
    if (rc < 0)
        return rc;
    s_mem_len += (long)(sizeof(h) + n);
    e->bytes += n;
    return 0;
}

/* ---- reasons, formatted without stdio ---------------------------------------- */

static void s_add(char *why, size_t cap, const char *s)
{
    size_t n = ssi_sys_strlen(why);
    if (n + 1 < cap)
        ssi_sys_strlcpy(why + n, s, cap - n);
}

static void s_addu(char *why, size_t cap, uint64_t v)
{
    char b[24];
    ssi_sys_utoa(b, v);
    s_add(why, cap, b);
}

/* "; " between obstacles, "fd N: " before each. */
static void s_obstacle(char *why, size_t cap, int *n, unsigned chan)
{
    if ((*n)++)
        s_add(why, cap, "; ");
    s_add(why, cap, "fd ");
    s_addu(why, cap, chan);
    s_add(why, cap, " ");
}

/* ---- the check ---------------------------------------------------------------- */

/* A process other than this one that holds the pipe (dev, ino): its pid,
 * or 0. Processes whose descriptors we may not read (another user's) are
 * not looked at: they could only hold it if given it. */
static long s_other_holder(uint64_t dev, uint64_t ino)
{
    static char buf[4096], fbuf[4096];
    ssi_sys_dirwalk_t w = {.buf = buf, .size = sizeof(buf)};
    const char *name, *end;
    long self = ssi_sys0(SYS_getpid), found = 0;
    w.fd = ssi_sys4(SYS_openat, AT_FDCWD, (long)"/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (w.fd < 0)
        return 0;
    while (!found && (name = ssi_sys_dirwalk_next(&w))) {
        long pid = (long)ssi_sys_dec(name, &end);
        char path[48];
        if (pid == self)
            continue;
        ssi_sys_strlcpy(path, "/proc/", sizeof(path));
        ssi_sys_strlcpy(path + 6, name, sizeof(path) - 6);
        s_add(path, sizeof(path), "/fd");
        ssi_sys_dirwalk_t fw = {.buf = fbuf, .size = sizeof(fbuf)};
        fw.fd = ssi_sys4(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fw.fd < 0)
            continue;
        const char *fname;
        while (!found && (fname = ssi_sys_dirwalk_next(&fw))) {
            struct stat st;
            if (ssi_sys4(SYS_newfstatat, fw.fd, (long)fname, (long)&st, 0) == 0 &&
                (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino)
                found = pid;
        }
        ssi_sys1(SYS_close, fw.fd);
    }
    ssi_sys1(SYS_close, w.fd);
    return found;
}

/* Opens home fd fd's pipe anew (through /proc/self/fd) with flags, in the
 * deputy's range. */
static int s_reopen(int fd, int flags)
{
    char path[40];
    long r;
    ssi_sys_strlcpy(path, "/proc/self/fd/", sizeof(path));
    ssi_sys_utoa(path + 14, (uint64_t)fd);
    r = ssi_sys4(SYS_openat, AT_FDCWD, (long)path, flags | O_NONBLOCK | O_CLOEXEC, 0);
    return r < 0 ? (int)r : (int)ssi_chans_high_fd(r);
}

/* The inode of the peer of Unix socket ino (sock_diag), 0 when it has
 * none (closed), or -errno. */
static long s_unix_peer(uint64_t ino)
{
    struct {
        struct nlmsghdr h;
        struct unix_diag_req r;
    } q;
    static uint8_t buf[1024];
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    long fd = ssi_sys3(SYS_socket, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), n;
    long peer = -ENOENT;
    if (fd < 0)
        return fd;
    ssi_sys_memzero(&q, sizeof(q));
    q.h.nlmsg_len = sizeof(q);
    q.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    q.h.nlmsg_flags = NLM_F_REQUEST;
    q.r.sdiag_family = AF_UNIX;
    q.r.udiag_states = ~0u;
    q.r.udiag_ino = (uint32_t)ino;
    q.r.udiag_show = UDIAG_SHOW_PEER;
    q.r.udiag_cookie[0] = q.r.udiag_cookie[1] = ~0u;
    n = ssi_sys6(SYS_sendto, fd, (long)&q, sizeof(q), 0, 0, 0);
    if (n == (long)sizeof(q))
        n = ssi_sys6(SYS_recvfrom, fd, (long)buf, sizeof(buf), 0, 0, 0);
    ssi_sys1(SYS_close, fd);
    if (n < (long)(sizeof(*h) + sizeof(struct unix_diag_msg)) ||
        h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len > (uint32_t)n)
        return n < 0 ? n : -ENOENT;
    {
        uint32_t off = (uint32_t)(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct unix_diag_msg)));
        peer = 0;
        while (off + 4 <= h->nlmsg_len) {
            uint16_t alen, atype;
            ssi_sys_memcopy(&alen, buf + off, 2);
            ssi_sys_memcopy(&atype, buf + off + 2, 2);
            if (alen < 4 || off + alen > h->nlmsg_len)
                break;
            if (atype == UNIX_DIAG_PEER && alen >= 8) {
                uint32_t p;
                ssi_sys_memcopy(&p, buf + off + 4, 4);
                peer = p;
            }
            off += (alen + 3u) & ~3u;
        }
    }
    return peer;
}

/* Home socket fd can be replaced by a fresh pair holding its bytes: a
 * Unix stream socket, unnamed (a socketpair's), whose peer is gone. */
static int s_sock_replaceable(int fd, uint64_t ino)
{
    int dom = 0, type = 0;
    uint32_t l1 = sizeof(dom), l2 = sizeof(type), al = 128;
    uint8_t addr[128];
    return ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, (long)&dom, (long)&l1) == 0 &&
           dom == AF_UNIX &&
           ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&l2) == 0 &&
           type == SOCK_STREAM && ssi_sys3(SYS_getsockname, fd, (long)addr, (long)&al) == 0 &&
           al <= 2 && s_unix_peer(ino) == 0;
}

/* The order of lead's pipe's bytes: from the ring of reads, newest
 * first, each channel's kept bytes being the last it read. 0, or -1 when
 * the ring (or the table of pieces) does not reach back far enough. */
static int s_plan(int lead)
{
    static uint64_t rem[S_MAX];
    uint64_t k, left = 0;
    int i, first = s_npieces;
    for (i = lead; i < s_nin; i++) {
        rem[i] = s_in[i].lead == lead && s_in[i].ok ? s_in[i].bytes : 0;
        left += rem[i];
    }
    if (s_in[lead].pcount == 0 && left == s_in[lead].bytes) {
        /* One descriptor: its bytes in the order it read them. */
        if (s_npieces == S_MAX_PIECES)
            return -1;
        s_pieces[s_npieces++] = (s_piece_t){.in = lead, .off = 0, .len = left};
        s_in[lead].pfirst = first;
        s_in[lead].pcount = 1;
        return 0;
    }
    for (k = s_nlog; k > 0 && k + S_LOG > s_nlog && left; k--) {
        uint32_t chan = s_log[(k - 1) % S_LOG].chan, n = s_log[(k - 1) % S_LOG].n;
        uint64_t take;
        for (i = lead; i < s_nin && !(rem[i] && s_in[i].chan == chan); i++)
            ;
        if (i == s_nin)
            continue;
        take = n < rem[i] ? n : rem[i];
        rem[i] -= take;
        left -= take;
        if (s_npieces == S_MAX_PIECES)
            return -1;
        s_pieces[s_npieces++] = (s_piece_t){.in = i, .off = rem[i], .len = take};
    }
    if (left)
        return -1;
    for (i = 0; i < (s_npieces - first) / 2; i++) {
        s_piece_t t = s_pieces[first + i];
        s_pieces[first + i] = s_pieces[s_npieces - 1 - i];
        s_pieces[s_npieces - 1 - i] = t;
    }
    s_in[lead].pfirst = first;
    s_in[lead].pcount = s_npieces - first;
    return 0;
}

int ssi_homeinput_check(char *why, size_t cap)
{
    int i, j, nobst = 0;
    why[0] = 0;
    s_npieces = 0;
    for (i = 0; i < s_nin; i++) {
        s_in_t *e = &s_in[i];
        ssi_chans_chan_t *c = ssi_chans_find(e->chan);
        struct stat st;
        e->ok = 0;
        e->lead = i;
        e->pcount = 0;
        e->sock = 0;
        if (!c || c->fd < 0 || (c->flags & SSI_TUNNEL_CHAN_TTY) ||
            ssi_sys2(SYS_fstat, c->fd, (long)&st) < 0 ||
            !(S_ISFIFO(st.st_mode) ||
              (e->sock = S_ISSOCK(st.st_mode) && s_sock_replaceable(c->fd, st.st_ino)))) {
            s_obstacle(why, cap, &nobst, e->chan);
            s_add(why, cap, "has ");
            s_addu(why, cap, e->bytes);
            s_add(why, cap,
                  " bytes of input already taken from home that the program has not read "
                  "yet, and only a pipe or a Unix stream socket whose peer is gone can take "
                  "them back; try again later");
            continue;
        }
        e->dev = (uint64_t)st.st_dev;
        e->ino = (uint64_t)st.st_ino;
        e->ok = 1;
        for (j = 0; j < i; j++)
            if (s_in[j].ok && s_in[j].ino == e->ino && s_in[j].dev == e->dev) {
                e->lead = s_in[j].lead;
                break;
            }
    }
    for (i = 0; i < s_nin; i++) {
        s_in_t *e = &s_in[i];
        ssi_chans_chan_t *c = ssi_chans_find(e->chan);
        int held = 0;
        long size, pid;
        uint64_t all = 0;
        if (!e->ok || e->lead != i)
            continue;
        for (j = i; j < s_nin; j++)
            if (s_in[j].ok && s_in[j].lead == i)
                all += s_in[j].bytes;
        if (s_plan(i) < 0) {
            s_obstacle(why, cap, &nobst, e->chan);
            s_add(why, cap,
                  "and other descriptors of its home pipe read it ahead of the program too "
                  "long ago to tell the order of its bytes; try again later");
            continue;
        }
        pid = s_other_holder(e->dev, e->ino);
        if (pid > 0) {
            s_obstacle(why, cap, &nobst, e->chan);
            s_add(why, cap, "has ");
            s_addu(why, cap, all);
            s_add(why, cap, " bytes read ahead from a home pipe that process ");
            s_addu(why, cap, (uint64_t)pid);
            s_add(why, cap, " holds too (its writes could come between); try again later");
            continue;
        }
        if (e->sock) {
            /* A fresh pair: its bytes written from [1], which is then
             * closed; [0] takes the socket's place (s_replace). */
            int sp[2] = {-1, -1}, want, got = 0;
            uint32_t gl = sizeof(got);
            if (ssi_sys3(SYS_ioctl, c->fd, FIONREAD, (long)&held) < 0 ||
                ssi_sys4(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                         (long)sp) < 0) {
                s_obstacle(why, cap, &nobst, e->chan);
                s_add(why, cap, "has input read ahead, and no socket pair can be made for it");
                continue;
            }
            e->rfd = (int)ssi_chans_high_fd(sp[0]);
            e->wfd = (int)ssi_chans_high_fd(sp[1]);
            want = (int)(2 * (all + (uint64_t)held) + 65536);
            if (ssi_sys5(SYS_setsockopt, e->wfd, SOL_SOCKET, SO_SNDBUFFORCE, (long)&want,
                         sizeof(want)) < 0)
                ssi_sys5(SYS_setsockopt, e->wfd, SOL_SOCKET, SO_SNDBUF, (long)&want, sizeof(want));
            if (ssi_sys5(SYS_getsockopt, e->wfd, SOL_SOCKET, SO_SNDBUF, (long)&got, (long)&gl) <
                    0 ||
                (uint64_t)got < 2 * (all + (uint64_t)held)) {
                s_obstacle(why, cap, &nobst, e->chan);
                s_add(why, cap, "has ");
                s_addu(why, cap, all + (uint64_t)held);
                s_add(why, cap, " bytes for its Unix socket, more than a new one can hold");
            }
            continue;
        }
        e->wfd = s_reopen(c->fd, O_WRONLY);
        e->rfd = s_reopen(c->fd, O_RDONLY);
        if (e->wfd < 0 || e->rfd < 0 || ssi_sys3(SYS_ioctl, e->rfd, FIONREAD, (long)&held) < 0) {
            s_obstacle(why, cap, &nobst, e->chan);
            s_add(why, cap, "has input read ahead, and its home pipe cannot be opened again");
            continue;
        }
        size = ssi_sys2(SYS_fcntl, e->wfd, F_GETPIPE_SZ);
        if (size >= 0 && (uint64_t)held + all > (uint64_t)size)
            size = ssi_sys3(SYS_fcntl, e->wfd, F_SETPIPE_SZ, (long)((uint64_t)held + all));
        if (size < 0) {
            s_obstacle(why, cap, &nobst, e->chan);
            s_add(why, cap, "has ");
            s_addu(why, cap, all);
            s_add(why, cap, " bytes read ahead, and its home pipe (holding ");
            s_addu(why, cap, (uint64_t)held);
            s_add(why, cap, ") cannot grow to take them back; try again later");
        }
    }
    return nobst ? -1 : 0;
}

/* ---- giving back ----------------------------------------------------------- */

/* Writes n bytes to the pipe's write end (room was made): the bytes that
 * could not be written. */
static uint64_t s_put(int fd, const uint8_t *p, uint64_t n)
{
    while (n) {
        long w = ssi_sys3(SYS_write, fd, (long)p, (long)(n > (1u << 20) ? (1u << 20) : n));
        if (w == -EINTR)
            continue;
        if (w == -EAGAIN) {
            /* Someone read meanwhile, or wrote: wait a little for room. */
            struct pollfd q = {.fd = fd, .events = POLLOUT, .revents = 0};
            struct timespec ts = {1, 0};
            if (ssi_sys5(SYS_ppoll, (long)&q, 1, (long)&ts, 0, 8) == 1)
                continue;
        }
        if (w <= 0)
            return n;
        p += w;
        n -= (uint64_t)w;
    }
    return 0;
}

/* An anonymous mapping of n bytes (rounded up to pages), or NULL. */
static uint8_t *s_map(uint64_t n)
{
    long p = ssi_sys6(SYS_mmap, 0, (long)((n + 4095) & ~4095ULL), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return (unsigned long)p > -4096UL ? 0 : (uint8_t *)p;
}

static void s_unmap(uint8_t *p, uint64_t n)
{
    if (p)
        ssi_sys2(SYS_munmap, (long)p, (long)((n + 4095) & ~4095ULL));
}

/* Entry i's kept bytes, from the memfd, into buf. 0, or -1. */
static int s_gather(int i, uint8_t *buf)
{
    long off = 0;
    uint64_t got = 0;
    while (off < s_mem_len) {
        s_rec_t h;
        if (ssi_sys4(SYS_pread64, s_mem, (long)&h, sizeof(h), off) != (long)sizeof(h))
            return -1;
        off += (long)sizeof(h);
        if (h.chan == s_in[i].chan) {
            if (got + h.len > s_in[i].bytes ||
                ssi_sys4(SYS_pread64, s_mem, (long)(buf + got), h.len, off) != (long)h.len)
                return -1;
            got += h.len;
        }
        off += h.len;
    }
    return got == s_in[i].bytes ? 0 : -1;
}

/* The home fd of channel chan, or -1. */
static int s_home_fd(unsigned chan)
{
    ssi_chans_chan_t *c = ssi_chans_find(chan);
    return c ? c->fd : -1;
}

/* Every descriptor of this process on (dev, ino) becomes a copy of fd,
 * each keeping its close-on-exec flag. */
static void s_replace(uint64_t dev, uint64_t ino, int fd)
{
    static char buf[4096];
    static int fds[4096];
    long n = ssi_sys_list_fds(fds, 4096, buf, sizeof(buf)), i;
    for (i = 0; i < n && i < 4096; i++) {
        struct stat st;
        long fl;
        if (fds[i] == fd || ssi_sys2(SYS_fstat, fds[i], (long)&st) < 0 ||
            (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
            continue;
        fl = ssi_sys2(SYS_fcntl, fds[i], F_GETFD);
        ssi_sys3(SYS_dup3, fd, fds[i], fl > 0 && (fl & FD_CLOEXEC) ? O_CLOEXEC : 0);
    }
}

uint64_t ssi_homeinput_put(void)
{
    static uint8_t *bufs[S_MAX];
    uint64_t lost = 0;
    int i, j;
    for (i = 0; i < s_nin; i++) {
        s_in_t *e = &s_in[i];
        uint8_t *held = 0;
        long got = 0;
        int n = 0, src;
        if (!e->ok || e->lead != i)
            continue;
        if (e->wfd < 0) {
            lost += e->bytes;
            continue;
        }
        /* What the pipe (socket) still holds goes after what was read
         * ahead. */
        src = e->sock ? s_home_fd(e->chan) : e->rfd;
        if (src >= 0 && ssi_sys3(SYS_ioctl, src, FIONREAD, (long)&n) == 0 && n > 0 &&
            (held = s_map((uint64_t)n)) != 0) {
            while (got < n) {
                long r = e->sock ? ssi_sys6(SYS_recvfrom, src, (long)(held + got), n - got,
                                            MSG_DONTWAIT, 0, 0)
                                 : ssi_sys3(SYS_read, src, (long)(held + got), n - got);
                if (r == -EINTR)
                    continue;
                if (r <= 0)
                    break;
                got += r;
            }
        }
        for (j = i; j < s_nin; j++) {
            bufs[j] = 0;
            if (s_in[j].ok && s_in[j].lead == i && (bufs[j] = s_map(s_in[j].bytes)) != 0 &&
                s_gather(j, bufs[j]) < 0) {
                s_unmap(bufs[j], s_in[j].bytes);
                bufs[j] = 0;
            }
        }
        for (j = e->pfirst; j < e->pfirst + e->pcount; j++) {
            const s_piece_t *pc = &s_pieces[j];
            lost += bufs[pc->in] ? s_put(e->wfd, bufs[pc->in] + pc->off, pc->len) : pc->len;
        }
        for (j = i; j < s_nin; j++)
            s_unmap(bufs[j], s_in[j].bytes);
        if (held) {
            lost += s_put(e->wfd, held, (uint64_t)got);
            s_unmap(held, (uint64_t)n);
        }
        s_close(&e->wfd);
        if (e->sock)
            s_replace(e->dev, e->ino, e->rfd);
        s_close(&e->rfd);
    }
    if (lost)
        ssi_sys_log("ssi-deputy: ", "input read ahead could not all go back to its home pipe", 0,
                    -EAGAIN);
    ssi_homeinput_reset();
    return lost;
}
