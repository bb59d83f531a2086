/*
 * ssi_agent.c - `ssi-agent`: runs a migrated body on its new node and
 * connects it to its deputy at home.
 *
 *   ssi-agent --listen ADDR:PORT --key-fd N (--image-fd N | --image FILE)
 *             [--status-fd N] [--restore PATH] [--accept-timeout SEC] [-v]
 *
 * Must be pid 1 of a fresh PID namespace (ssid: clone(CLONE_NEWPID);
 * tests: unshare --pid --fork --mount-proc). Everything comes in as fds or
 * arguments; the 32-byte data key is read raw from --key-fd, never argv.
 *
 * Order of operations (docs/ENGINE.md, "Deputy and body agent"):
 *   1. listen on ADDR:PORT          status: "listening ADDR PORT"
 *   2. read the image up to its fd table; plan one tunnel (a socketpair)
 *      per stdin/stdout/stderr, pipe, FIFO, tty or socket; reopen
 *      /dev/null-like devices; refuse anything else
 *   3. start ssi-restore (as our child, "child of pid 1" mode) with each
 *      tunnel's body end at the body's fd number, feed it the image; the
 *      body becomes our child with its original pid
 *                                   status: "running PID"
 *   4. accept the deputy (HELLO -> ACCEPT with the channel list)
 *                                   status: "connected"
 *   5. relay channels, deliver signals, wait for the body; send EXIT
 *                                   status: "exited CODE" | "killed SIG"
 * Any failure: status "failed: REASON", the body (if any) is killed, exit
 * status 1. A deputy that does not come within --accept-timeout kills the
 * body. A link that breaks gives the body a short grace (its forwarded
 * calls fail with EIO, it may end by itself), then kills it: it never
 * outlives its deputy by more than S_DEPUTY_GRACE_MS, and the status line
 * says how it ended.
 */
#include "ssi_image.h"
#include "ssi_io.h"
#include "ssi_tunnel_link.h"


#include <arpa/inet.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* One tunnel as the agent sees it: `fd` is our end of the socketpair. */
typedef struct {
    int chan; /* the body's fd number */
    int fd;
    int body_fd; /* the other end, until the restorer has it */
    uint64_t body_ino; /* its inode: tells our tunnel from a socket made away */
    uint8_t dir, flags;
    uint32_t win; /* ssi_tunnel_window(flags) */
    uint32_t fd_flags, fl_flags; /* from the image */
    /* body -> home */
    int rd_done;
    uint32_t credit;
    /* home -> body */
    uint8_t *buf;
    uint32_t off, len, unacked;
    int in_eof, wr_done;
    int in_reset; /* RESET: end the body's side with ECONNRESET, not EOF */
    int dynamic; /* added at run time (NEWCHAN): removed once done */
    int dead;
} s_chan_t;

/* A device reopened locally at the same fd number. */
typedef struct {
    int fd;
    uint32_t fd_flags, fl_flags;
    char path[32];
} s_dev_t;

static int s_verbose;
static int s_status_fd = -1;
static s_chan_t s_chans[SSI_TUNNEL_MAX_CHANS];
static int s_nchans;
static s_dev_t s_devs[16];
static int s_ndevs;
/* Home files (vfs-proxy): a /dev/null placeholder at the same number with
 * the same access mode; the deputy's fd of that number is the real one. */
static s_dev_t s_fwds[SSI_TUNNEL_CTL_MAX_FWD];
/* The body's end of the control socket and of the call link (inodes): the
 * homecoming check knows them as ours. */
static unsigned long long s_ctl_ino, s_call_ino;
static int s_nfwds;
/* Every fd number in the image, to find the control socket's number. */
static int s_image_fds[1024];
static int s_nimage_fds;
static int s_ctl[2] = {-1, -1}; /* [0] ours, [1] the body's, at s_ctl_num */
static int s_ctl_num = -1;
static ssi_image_hdr_t s_hdr;
static pid_t s_body = -1;
static int s_body_done, s_body_status;
static ssi_tunnel_link_t s_link;
static uint8_t s_frame[SSI_TUNNEL_DATA_MAX];
static volatile sig_atomic_t s_stop;
static ssi_tunnel_winsz_t s_winsz[SSI_TUNNEL_MAX_CHANS];

static void s_log(const char *fmt, ...)
{
    va_list ap;
    if (!s_verbose)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "ssi-agent: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* One line on the status fd: what ssid (or a test) waits for. */
static void s_status(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (s_status_fd >= 0 && write(s_status_fd, line, (size_t)n) < 0)
        s_status_fd = -1;
    if (s_verbose || strncmp(line, "failed", 6) == 0)
        fprintf(stderr, "ssi-agent: %.*s", n, line);
}

static void s_kill_body(void)
{
    if (s_body > 0 && !s_body_done) {
        kill(s_body, SIGKILL);
        while (waitpid(s_body, &s_body_status, __WALL) < 0 && errno == EINTR)
            ;
        s_body_done = 1;
    }
}

__attribute__((noreturn)) static void s_fail(const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    s_kill_body();
    s_status("failed: %s", why);
    exit(1);
}

static long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- listening ------------------------------------------------------------ */

static int s_listen(const char *spec)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    struct sockaddr_storage ss;
    socklen_t sl;
    size_t n;
    int fd, one = 1;
    char shown[INET6_ADDRSTRLEN];

    if (!colon)
        s_fail("bad --listen %s (want ADDR:PORT)", spec);
    n = (size_t)(colon - spec);
    if (spec[0] == '[' && n >= 2 && spec[n - 1] == ']') {
        spec++;
        n -= 2;
    }
    if (n >= sizeof(host))
        s_fail("bad --listen address");
    memcpy(host, spec, n);
    host[n] = 0;
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(colon + 1));
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(colon + 1));
        sl = sizeof(struct sockaddr_in6);
    } else {
        s_fail("bad --listen address %s", host);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        s_fail("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ssi_tunnel_sockbuf(fd); /* the deputy's connection inherits them */
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4) < 0)
        s_fail("listen on %s: %s", spec, strerror(errno));
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, shown, sizeof(shown));
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, shown, sizeof(shown));
    s_status("listening %s %u", shown,
             ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                           : ((struct sockaddr_in6 *)&ss)->sin6_port));
    return fd;
}

/* ---- the image's fd table --------------------------------------------------- */

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

/* Decides what becomes of one descriptor of the body. */
static void s_plan_fd(const ssi_image_fd_t *f)
{
    unsigned acc = f->fl_flags & O_ACCMODE;
    uint8_t dir = acc == O_RDONLY ? SSI_TUNNEL_DIR_IN
                : acc == O_WRONLY ? SSI_TUNNEL_DIR_OUT
                                  : SSI_TUNNEL_DIR_IN | SSI_TUNNEL_DIR_OUT;
    uint8_t flags = 0;
    const char *dev = NULL;
    s_chan_t *c;

    if (s_nimage_fds < (int)(sizeof(s_image_fds) / sizeof(s_image_fds[0])))
        s_image_fds[s_nimage_fds++] = f->fd;
    if (f->kind == SSI_IMAGE_FD_FILE || f->kind == SSI_IMAGE_FD_DIR ||
        (f->kind == SSI_IMAGE_FD_SOCKET && (f->pos & SSI_IMAGE_FD_SOCK_DGRAM) && f->fd > 2)) {
        /* (A datagram socket too: it stays at home and the netproxy
         * forwards its calls, one datagram each.) */
        /* A home file or directory, standard streams included (so that
         * lseek, fstat and append mode stay the home file's): forwarded
         * by the vfs-proxy. */
        s_dev_t *d;
        if (s_nfwds >= SSI_TUNNEL_CTL_MAX_FWD)
            s_fail("too many open files (max %d)", SSI_TUNNEL_CTL_MAX_FWD);
        d = &s_fwds[s_nfwds++];
        d->fd = f->fd;
        d->fd_flags = f->fd_flags;
        d->fl_flags = f->fl_flags;
        snprintf(d->path, sizeof(d->path), "/dev/null");
        return;
    }
    if (f->kind == SSI_IMAGE_FD_ANON && !strcmp(f->path, "anon_inode:[eventpoll]") && f->fd > 2) {
        /* An epoll instance: the body's restore hook makes it again at this
         * number (ssi_epoll.c); until then a placeholder keeps the number. */
        s_dev_t *d;
        if (s_ndevs >= (int)(sizeof(s_devs) / sizeof(s_devs[0])))
            s_fail("too many device descriptors");
        d = &s_devs[s_ndevs++];
        d->fd = f->fd;
        d->fd_flags = f->fd_flags;
        d->fl_flags = O_RDONLY;
        snprintf(d->path, sizeof(d->path), "/dev/null");
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
        s_dev_t *d;
        if (s_ndevs >= (int)(sizeof(s_devs) / sizeof(s_devs[0])))
            s_fail("too many device descriptors");
        d = &s_devs[s_ndevs++];
        d->fd = f->fd;
        d->fd_flags = f->fd_flags;
        d->fl_flags = f->fl_flags;
        snprintf(d->path, sizeof(d->path), "%s", dev);
        return;
    } else if (f->kind == SSI_IMAGE_FD_CHR && !(flags & SSI_TUNNEL_CHAN_TTY)) {
        s_fail("fd %d (%s): a device other than null, zero, random, urandom or a terminal",
               f->fd, f->path);
    } else if (!(f->kind == SSI_IMAGE_FD_FIFO || f->kind == SSI_IMAGE_FD_SOCKET ||
                 (flags & SSI_TUNNEL_CHAN_TTY))) {
        s_fail("fd %d (%s): this kind of descriptor cannot move yet", f->fd, f->path);
    }
    if (s_nchans >= SSI_TUNNEL_MAX_CHANS || f->fd > 65535)
        s_fail("too many tunnelled descriptors (max %d)", SSI_TUNNEL_MAX_CHANS);
    c = &s_chans[s_nchans++];
    memset(c, 0, sizeof(*c));
    c->chan = f->fd;
    c->dir = dir;
    c->flags = flags;
    c->fd_flags = f->fd_flags;
    c->fl_flags = f->fl_flags;
    c->rd_done = !(dir & SSI_TUNNEL_DIR_OUT);
    c->win = ssi_tunnel_window(flags);
    c->credit = c->win;
    c->wr_done = !(dir & SSI_TUNNEL_DIR_IN);
    if (flags & SSI_TUNNEL_CHAN_LISTEN)
        c->rd_done = c->wr_done = 1;
    c->buf = malloc(c->win);
    if (!c->buf)
        s_fail("out of memory");
}

/* Reads the image up to (and including) the first record after the fd
 * table; returns the bytes in a malloc'd buffer, the last record header
 * at its end in *last. */
static uint8_t *s_read_prefix(int in, size_t *plen, ssi_image_rec_t *last)
{
    size_t cap = 1 << 16, len = 0;
    uint8_t *p = malloc(cap);
    if (!p)
        s_fail("out of memory");
    if (ssi_io_read_full(in, &s_hdr, sizeof(s_hdr)) < 0)
        s_fail("cannot read the image header");
    if (s_hdr.magic != SSI_IMAGE_MAGIC || s_hdr.version != SSI_IMAGE_VERSION ||
        s_hdr.hdr_size != sizeof(s_hdr))
        s_fail("not an ssi image of version %d", SSI_IMAGE_VERSION);
    memcpy(p, &s_hdr, sizeof(s_hdr));
    len = sizeof(s_hdr);
    for (;;) {
        ssi_image_rec_t r;
        size_t need;
        if (ssi_io_read_full(in, &r, sizeof(r)) < 0)
            s_fail("truncated image");
        need = len + sizeof(r) + r.size + (r.type == SSI_IMAGE_REC_THREAD ? r.data_len : 0);
        if (r.size > (1u << 20) || (r.data_len > (1u << 20) && r.type == SSI_IMAGE_REC_THREAD))
            s_fail("bad image record");
        while (need > cap) {
            cap *= 2;
            p = realloc(p, cap);
            if (!p)
                s_fail("out of memory");
        }
        memcpy(p + len, &r, sizeof(r));
        len += sizeof(r);
        if (r.type == SSI_IMAGE_REC_VMA || r.type == SSI_IMAGE_REC_PAGES ||
            r.type == SSI_IMAGE_REC_END) {
            *last = r;
            *plen = len;
            return p;
        }
        if (ssi_io_read_full(in, p + len, r.size) < 0)
            s_fail("truncated image");
        if (r.type == SSI_IMAGE_REC_FD && r.size >= sizeof(ssi_image_fd_t))
            s_plan_fd((const ssi_image_fd_t *)(p + len));
        len += r.size;
        if (r.data_len) {
            if (r.type != SSI_IMAGE_REC_THREAD)
                s_fail("unexpected record data before the address space");
            if (ssi_io_read_full(in, p + len, r.data_len) < 0)
                s_fail("truncated image");
            len += r.data_len;
        }
    }
}

/* Copies n bytes of the image from in to out: spliced pipe to pipe (no copy,
 * no user buffer), read/write when either end is not a pipe. */
static int s_pass(int in, int out, uint64_t n)
{
    static char buf[1 << 16];
    while (n) {
        size_t k = n < (1u << 20) ? (size_t)n : (1u << 20);
        ssize_t m = splice(in, NULL, out, NULL, k, SPLICE_F_MOVE);
        if (m < 0 && errno == EINTR)
            continue;
        if (m > 0) {
            n -= (uint64_t)m;
            continue;
        }
        if (m == 0)
            return -EPIPE;
        if (errno != EINVAL)
            return -EIO;
        k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        if (ssi_io_read_full(in, buf, k) < 0)
            return -EPIPE;
        if (ssi_io_write_full(out, buf, k) < 0)
            return -EIO;
        n -= k;
    }
    return 0;
}

/* Feeds the rest of the image, record by record, up to END. */
static int s_feed(int in, int out, const uint8_t *prefix, size_t plen, ssi_image_rec_t r)
{
    int rc = ssi_io_write_full(out, prefix, plen);
    while (rc == 0) {
        rc = s_pass(in, out, r.size + r.data_len);
        if (rc < 0 || r.type == SSI_IMAGE_REC_END)
            break;
        if (ssi_io_read_full(in, &r, sizeof(r)) < 0)
            return -EPIPE;
        rc = ssi_io_write_full(out, &r, sizeof(r));
    }
    return rc;
}

/* ---- starting the restorer ------------------------------------------------- */

/* The child: puts each tunnel's body end and each device at its fd number
 * and execs ssi-restore on the image pipe. Never returns. */
__attribute__((noreturn)) static void s_exec_restorer(const char *restore, int img_rd, int verbose)
{
    int maxfd = 2, base, i, tmp[SSI_TUNNEL_MAX_CHANS], img, ctl;
    char fdarg[16];
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].chan > maxfd)
            maxfd = s_chans[i].chan;
    for (i = 0; i < s_ndevs; i++)
        if (s_devs[i].fd > maxfd)
            maxfd = s_devs[i].fd;
    for (i = 0; i < s_nfwds; i++)
        if (s_fwds[i].fd > maxfd)
            maxfd = s_fwds[i].fd;
    if (s_ctl_num > maxfd)
        maxfd = s_ctl_num;
    base = maxfd + 16;
    /* Out of the way first, so that no target number is still in use. */
    for (i = 0; i < s_nchans; i++)
        tmp[i] = fcntl(s_chans[i].body_fd, F_DUPFD_CLOEXEC, base);
    img = fcntl(img_rd, F_DUPFD_CLOEXEC, base);
    ctl = fcntl(s_ctl[1], F_DUPFD_CLOEXEC, base);
    /* Nothing of ours may leak into the body. */
    syscall(SYS_close_range, 0U, ~0U, CLOSE_RANGE_CLOEXEC);
    for (i = 0; i < s_nchans; i++) {
        s_chan_t *c = &s_chans[i];
        /* Inheritable: ssi-restore sets FD_CLOEXEC again from the image
         * (a close-on-exec descriptor would not survive its exec). */
        if (tmp[i] < 0 || dup3(tmp[i], c->chan, 0) < 0)
            _exit(126);
        fcntl(c->chan, F_SETFL, c->fl_flags & O_NONBLOCK);
    }
    for (i = 0; i < s_ndevs; i++) {
        s_dev_t *d = &s_devs[i];
        int fd = open(d->path, (int)(d->fl_flags & (O_ACCMODE | O_NONBLOCK | O_APPEND)) | O_CLOEXEC);
        if (fd < 0 || dup3(fd, d->fd, 0) < 0)
            _exit(126);
    }
    for (i = 0; i < s_nfwds; i++) {
        s_dev_t *d = &s_fwds[i];
        int acc = (d->fl_flags & O_PATH) ? O_PATH : (int)(d->fl_flags & O_ACCMODE);
        int fd = open("/dev/null", acc | O_CLOEXEC);
        if (fd < 0 || dup3(fd, d->fd, 0) < 0)
            _exit(126);
    }
    if (ctl < 0 || dup3(ctl, s_ctl_num, 0) < 0)
        _exit(126);
    /* ssi-restore moves the image fd to 900+ and closes it before the
     * jump; it only has to be inheritable. */
    fcntl(img, F_SETFD, 0);
    snprintf(fdarg, sizeof(fdarg), "%d", img);
    /* --home-cwd: the body's cwd is its deputy's (forwarded); a cwd that
     * does not exist on this node is no reason to refuse. */
    if (verbose)
        execl(restore, "ssi-restore", "-v", "--home-cwd", "--fd", fdarg, (char *)NULL);
    else
        execl(restore, "ssi-restore", "--home-cwd", "--fd", fdarg, (char *)NULL);
    _exit(127);
}

static uint64_t s_ino(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Restores the body from the image on `in`; returns when it runs. */
static void s_start_body(int in, const char *restore)
{
    ssi_image_rec_t last;
    size_t plen;
    uint8_t *prefix = s_read_prefix(in, &plen, &last);
    struct clone_args ca;
    pid_t other;
    int pipefd[2], i, st, rc;
    long pid;

    for (i = 0; i < s_nchans; i++) {
        int sp[2];
        int type = s_chans[i].flags & SSI_TUNNEL_CHAN_LISTEN ? SOCK_SEQPACKET : SOCK_STREAM;
        if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sp) < 0)
            s_fail("socketpair: %s", strerror(errno));
        s_chans[i].fd = sp[0];
        s_chans[i].body_fd = sp[1];
        s_chans[i].body_ino = s_ino(sp[1]);
        fcntl(sp[0], F_SETFL, O_NONBLOCK);
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        s_fail("pipe: %s", strerror(errno));
    fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
    /* The vfs-proxy's control socket, at the number the body's shim
     * computed at freeze: the lowest one from SSI_TUNNEL_CTL_FD_MIN up that
     * the image does not use. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s_ctl) < 0)
        s_fail("socketpair: %s", strerror(errno));
    s_ctl_ino = s_ino(s_ctl[1]);
    for (s_ctl_num = SSI_TUNNEL_CTL_FD_MIN;; s_ctl_num++) {
        int j, used = 0;
        for (j = 0; j < s_nimage_fds; j++)
            used |= s_image_fds[j] == s_ctl_num;
        if (!used)
            break;
    }
    /* The restorer must not take the body's pid: we are pid 1 and the
     * body is usually pid 2, which a plain fork would get. */
    other = s_hdr.pid == 2 ? 3 : 2;
    memset(&ca, 0, sizeof(ca));
    ca.exit_signal = SIGCHLD;
    ca.set_tid = (uint64_t)(uintptr_t)&other;
    ca.set_tid_size = 1;
    pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid < 0)
        s_fail("cannot start ssi-restore: %s", strerror(errno));
    if (pid == 0)
        s_exec_restorer(restore, pipefd[0], s_verbose);
    close(pipefd[0]);
    close(s_ctl[1]);
    s_ctl[1] = -1;
    for (i = 0; i < s_nchans; i++) {
        close(s_chans[i].body_fd);
        s_chans[i].body_fd = -1;
    }
    rc = s_feed(in, pipefd[1], prefix, plen, last);
    free(prefix);
    close(pipefd[1]);
    while (waitpid((pid_t)pid, &st, __WALL) < 0 && errno == EINTR)
        ;
    if (rc < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        /* ssi-restore wrote its reason to its stderr: the body's stderr
         * tunnel, which nobody reads yet. */
        char why[300] = "";
        for (i = 0; i < s_nchans; i++) {
            if (s_chans[i].chan == 2) {
                ssize_t n = read(s_chans[i].fd, why, sizeof(why) - 1);
                why[n > 0 ? n : 0] = 0;
                while (n > 0 && (why[n - 1] == '\n'))
                    why[--n] = 0;
            }
        }
        if (rc < 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            s_fail("image stream broke while restoring");
        s_fail("restore failed (ssi-restore status %d)%s%s",
               WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), why[0] ? ": " : "", why);
    }
    s_body = s_hdr.pid;
    if (kill(s_body, 0) < 0)
        s_fail("the restored body %d is not there", (int)s_body);
    s_status("running %d", (int)s_body);
}

/* ---- the deputy ------------------------------------------------------------ */

static int s_link_lost; /* the deputy is gone: s_deputy_lost runs */
__attribute__((noreturn)) static void s_deputy_lost(int pidfd, long err);

static void s_send(unsigned type, unsigned chan, const void *p, uint32_t len)
{
    long rc;
    if (s_link_lost)
        return;
    rc = ssi_tunnel_send(&s_link, type, chan, p, len);
    if (rc < 0)
        s_deputy_lost(-1, rc);
}

/* The deputy's second connection is the vfs-proxy's call link: it goes to
 * the body, with the key and the list of forwarded fds, over the control
 * socket; the body runs the handshake itself (no agent in that path). */
static void s_pass_call_link(int lfd, long deadline, const uint8_t *key)
{
    static ssi_tunnel_ctl_t ctl;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {&ctl, sizeof(ctl)};
    struct msghdr mh;
    int fd = -1, one = 1, i;
    ssize_t n;

    while (fd < 0) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        long left = deadline - s_now_ms();
        if (left < 10000)
            left = 10000; /* the deputy connects right after ACCEPT */
        if (s_stop)
            s_fail("stopped before the deputy's call link came");
        if (poll(&p, 1, (int)left) <= 0)
            s_fail("the deputy did not open its call link; body killed");
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    memset(&ctl, 0, sizeof(ctl));
    ctl.magic = SSI_TUNNEL_CTL_MAGIC;
    ctl.version = SSI_TUNNEL_CTL_VERSION;
    memcpy(ctl.key, key, sizeof(ctl.key));
    ctl.timeout_ms = 10000;
    ctl.nfwd = (uint32_t)s_nfwds;
    for (i = 0; i < s_nfwds; i++)
        ctl.fwd[i] = s_fwds[i].fd;
    memset(&mh, 0, sizeof(mh));
    memset(&cm, 0, sizeof(cm));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.buf;
    mh.msg_controllen = sizeof(cm.buf);
    cm.h.cmsg_level = SOL_SOCKET;
    cm.h.cmsg_type = SCM_RIGHTS;
    cm.h.cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(&cm.h), &fd, sizeof(int));
    s_call_ino = s_ino(fd);
    n = sendmsg(s_ctl[0], &mh, MSG_NOSIGNAL);
    memset(ctl.key, 0, sizeof(ctl.key));
    close(fd);
    /* s_ctl[0] stays: the netproxy's new channels go to the body there. */
    if (n != (ssize_t)sizeof(ctl))
        s_fail("cannot pass the call link to the body: %s", n < 0 ? strerror(errno) : "short write");
    s_log("call link passed to the body (%d forwarded fds)", s_nfwds);
}

static void s_accept_deputy(int lfd, int timeout_s, const uint8_t *key)
{
    long deadline = s_now_ms() + timeout_s * 1000L;
    int fd = -1, one = 1, idle = 10, intvl = 5, cnt = 3;
    ssi_tunnel_hdr_t h;
    ssi_tunnel_hello_t hello;
    ssi_tunnel_accept_t acc;
    uint8_t msg[sizeof(acc) + SSI_TUNNEL_MAX_CHANS * sizeof(ssi_tunnel_chan_t)];
    int i;
    long rc;

    while (fd < 0) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        long left = deadline - s_now_ms();
        if (left <= 0 || s_stop)
            s_fail(s_stop ? "stopped before the deputy came"
                          : "no deputy connected within %d s; body killed",
                   timeout_s);
        if (poll(&p, 1, (int)(left > 200 ? 200 : left)) <= 0)
            continue;
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    rc = ssi_tunnel_link_init(&s_link, fd, key, 0, 10000);
    if (rc < 0) {
        close(fd);
        s_fail(rc == -EKEYREJECTED ? "the deputy has another key; body killed"
                                   : "no handshake with the deputy (%s); body killed",
               strerror((int)-rc));
    }
    rc = ssi_tunnel_recv_wait(&s_link, &h, s_frame, sizeof(s_frame), 10000);
    if (rc == 1 && h.type == SSI_TUNNEL_HELLO && h.len == sizeof(hello))
        memcpy(&hello, s_frame, sizeof(hello));
    else
        s_fail("bad HELLO from the deputy");
    if (hello.magic != SSI_TUNNEL_MAGIC || hello.version != SSI_TUNNEL_VERSION) {
        static const char why[] = "tunnel protocol version mismatch";
        ssi_tunnel_send(&s_link, SSI_TUNNEL_REFUSE, 0, why, sizeof(why) - 1);
        s_fail("%s", why);
    }
    acc.version = SSI_TUNNEL_VERSION;
    acc.body_pid = (int32_t)s_body;
    acc.nchans = (uint32_t)s_nchans;
    acc.window = SSI_TUNNEL_WINDOW;
    memcpy(msg, &acc, sizeof(acc));
    for (i = 0; i < s_nchans; i++) {
        ssi_tunnel_chan_t c = {.chan = (uint16_t)s_chans[i].chan, .dir = s_chans[i].dir,
                               .flags = s_chans[i].flags, .pad = 0};
        memcpy(msg + sizeof(acc) + i * sizeof(c), &c, sizeof(c));
    }
    s_send(SSI_TUNNEL_ACCEPT, 0, msg, (uint32_t)(sizeof(acc) + s_nchans * sizeof(ssi_tunnel_chan_t)));
    s_pass_call_link(lfd, deadline, key);
    s_status("connected %d", hello.home_pid);
    /* ssid may have asked for SIGKILL when it dies (so that a migration
     * cut short by a dying ssid stops); a running body must outlive a
     * restart of ssid. */
    prctl(PR_SET_PDEATHSIG, 0);
}

/* ---- relay ----------------------------------------------------------------- */

static s_chan_t *s_chan(unsigned id)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].chan == (int)id)
            return &s_chans[i];
    return NULL;
}

static void s_job_stopped(int sig);

static void s_reap(void)
{
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG | __WALL | WUNTRACED | WCONTINUED)) > 0) {
        if (p == s_body && WIFSTOPPED(st)) {
            s_job_stopped(WSTOPSIG(st));
            continue;
        }
        if (WIFSTOPPED(st) || WIFCONTINUED(st))
            continue;
        if (p == s_body) {
            s_body_done = 1;
            s_body_status = st;
            s_log("body exited, status 0x%x", st);
        }
    }
}

/* NEWCHAN: a socket of the body became a channel at home (connected,
 * listening, or accepted on a listener): make its socketpair and pass
 * the body's end, over the control socket or the listener's pair. */
static void s_new_chan(const ssi_tunnel_hdr_t *h)
{
    ssi_tunnel_newchan_t m;
    ssi_tunnel_pass_t msg;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {&msg, sizeof(msg)};
    struct msghdr mh;
    s_chan_t *c, *parent = NULL;
    int sp[2], via;
    ssize_t n;

    if (h->len != sizeof(m))
        s_fail("protocol error: NEWCHAN");
    memcpy(&m, s_frame, sizeof(m));
    if (m.chan != h->chan || m.chan < SSI_TUNNEL_CHAN_DYN_MIN || s_chan(m.chan))
        s_fail("protocol error: NEWCHAN for channel %u", h->chan);
    if (m.parent != SSI_TUNNEL_NOPARENT) {
        parent = s_chan(m.parent);
        if (!parent || !(parent->flags & SSI_TUNNEL_CHAN_LISTEN))
            s_fail("protocol error: NEWCHAN on channel %u, not a listener", m.parent);
    }
    if (s_nchans >= SSI_TUNNEL_MAX_CHANS)
        s_fail("protocol error: too many channels");
    if (socketpair(AF_UNIX, (m.flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_DGRAM) ? SOCK_SEQPACKET
                                                                                      : SOCK_STREAM) |
                                SOCK_CLOEXEC, 0, sp) < 0)
        s_fail("socketpair: %s", strerror(errno));
    c = &s_chans[s_nchans++];
    memset(c, 0, sizeof(*c));
    c->chan = m.chan;
    c->fd = sp[0];
    c->body_fd = -1;
    c->dir = m.dir;
    c->flags = m.flags;
    c->rd_done = !(m.dir & SSI_TUNNEL_DIR_OUT) || (m.flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_DGRAM));
    c->wr_done = !(m.dir & SSI_TUNNEL_DIR_IN) || (m.flags & SSI_TUNNEL_CHAN_LISTEN);
    c->win = ssi_tunnel_window(m.flags);
    c->credit = c->win;
    c->dynamic = 1;
    c->buf = malloc(c->win);
    if (!c->buf)
        s_fail("out of memory");
    fcntl(sp[0], F_SETFL, O_NONBLOCK);
    memset(&msg, 0, sizeof(msg));
    msg.magic = SSI_TUNNEL_PASS_MAGIC;
    msg.chan = m.chan;
    msg.alen = m.alen <= sizeof(msg.addr) ? m.alen : sizeof(msg.addr);
    memcpy(msg.addr, m.addr, msg.alen);
    memset(&mh, 0, sizeof(mh));
    memset(&cm, 0, sizeof(cm));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.buf;
    mh.msg_controllen = sizeof(cm.buf);
    cm.h.cmsg_level = SOL_SOCKET;
    cm.h.cmsg_type = SCM_RIGHTS;
    cm.h.cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(&cm.h), &sp[1], sizeof(int));
    via = parent ? parent->fd : s_ctl[0];
    /* A listener whose queue is full (the body does not accept) drops the
     * connection, like a full backlog; the body waits on the control
     * socket for its own connect/listen, so that one never fills. */
    c->body_ino = s_ino(sp[1]); /* coming home: the body's fd is ours */
    n = sendmsg(via, &mh, MSG_NOSIGNAL | (parent ? MSG_DONTWAIT : 0));
    close(sp[1]);
    if (n != (ssize_t)sizeof(msg)) {
        s_log("channel %u: cannot pass it to the body (%s); closed", m.chan,
              n < 0 ? strerror(errno) : "short");
        c->rd_done = c->wr_done = 1;
        s_send(SSI_TUNNEL_CLOSE, m.chan, NULL, 0);
        s_send(SSI_TUNNEL_EOF, m.chan, NULL, 0);
        return;
    }
    s_log("channel %u added (%s%s)", m.chan, m.flags & SSI_TUNNEL_CHAN_LISTEN ? "listener" : "socket",
          parent ? ", accepted" : "");
}

/* Removes run-time channels that are done both ways. */
static void s_sweep(void)
{
    int i;
    for (i = 0; i < s_nchans;) {
        s_chan_t *c = &s_chans[i];
        if (!c->dead && !(c->dynamic && c->rd_done && c->wr_done &&
                          !(c->flags & SSI_TUNNEL_CHAN_LISTEN))) {
            i++;
            continue;
        }
        if (c->fd >= 0)
            close(c->fd);
        free(c->buf);
        s_chans[i] = s_chans[--s_nchans];
    }
}

static int s_job_signal(int sig);
static void s_reset_body(s_chan_t *c);
static int s_home_wanted, s_home_verdict;
static void s_write_body(s_chan_t *c);

static void s_frame_in(const ssi_tunnel_hdr_t *h)
{
    s_chan_t *c = s_chan(h->chan);
    uint32_t v;
    int32_t sig;
    if (h->type == SSI_TUNNEL_NEWCHAN) {
        s_new_chan(h);
        return;
    }
    /* Late frames for a run-time channel that ended here. */
    if (!c && h->chan >= SSI_TUNNEL_CHAN_DYN_MIN && h->type != SSI_TUNNEL_SIGNAL)
        return;
    if (c && (c->flags & SSI_TUNNEL_CHAN_DGRAM)) {
        /* One datagram per frame, written as one message; a body that
         * does not read loses what its queue cannot hold, as with UDP. */
        if (h->type == SSI_TUNNEL_DATA) {
            if (!c->wr_done && !s_body_done)
                send(c->fd, s_frame, h->len, MSG_DONTWAIT | MSG_NOSIGNAL);
            v = h->len;
            s_send(SSI_TUNNEL_WINDOW_UPD, h->chan, &v, 4);
        } else if (h->type == SSI_TUNNEL_CLOSE)
            c->dead = 1;
        else
            s_fail("protocol error: frame %u on datagram channel %u", h->type, h->chan);
        return;
    }
    if (c && (c->flags & SSI_TUNNEL_CHAN_LISTEN)) {
        /* The body closed its listener: the deputy closed it at home. */
        if (h->type == SSI_TUNNEL_CLOSE && c->dynamic)
            c->dead = 1;
        else if (h->type != SSI_TUNNEL_CLOSE)
            s_fail("protocol error: frame %u on listener channel %u", h->type, h->chan);
        return;
    }
    switch (h->type) {
    case SSI_TUNNEL_DATA:
        if (!c || !(c->dir & SSI_TUNNEL_DIR_IN) || c->in_eof)
            s_fail("protocol error: DATA on channel %u", h->chan);
        if (c->wr_done || s_body_done) {
            v = h->len; /* the body is gone or closed it: drop */
            s_send(SSI_TUNNEL_WINDOW_UPD, h->chan, &v, 4);
            return;
        }
        if (c->len + c->unacked + h->len > c->win)
            s_fail("protocol error: window overrun on channel %u", h->chan);
        if (c->off + c->len + h->len > c->win) {
            memmove(c->buf, c->buf + c->off, c->len);
            c->off = 0;
        }
        memcpy(c->buf + c->off + c->len, s_frame, h->len);
        c->len += h->len;
        /* Our end is non-blocking: hand it over now rather than after
         * one more poll. */
        s_write_body(c);
        return;
    case SSI_TUNNEL_EOF:
        if (!c)
            s_fail("protocol error: EOF on channel %u", h->chan);
        c->in_eof = 1;
        if (c->len == 0 && !c->wr_done) {
            shutdown(c->fd, SHUT_WR);
            c->wr_done = 1;
        }
        return;
    case SSI_TUNNEL_RESET:
        if (!c || !(c->flags & SSI_TUNNEL_CHAN_SOCKET))
            s_fail("protocol error: RESET on channel %u", h->chan);
        c->in_eof = 1;
        c->in_reset = 1;
        if (c->len == 0 && !c->wr_done)
            s_reset_body(c);
        return;
    case SSI_TUNNEL_CLOSE:
        /* Nobody reads this at home any more: the body's next write must
         * fail with EPIPE (and raise SIGPIPE), as it would have there. */
        if (!c)
            s_fail("protocol error: CLOSE on channel %u", h->chan);
        shutdown(c->fd, SHUT_RD);
        if (!c->rd_done) {
            c->rd_done = 1;
            s_send(SSI_TUNNEL_EOF, h->chan, NULL, 0);
        }
        return;
    case SSI_TUNNEL_WINDOW_UPD:
        if (!c || h->len != 4)
            s_fail("protocol error: WINDOW");
        memcpy(&v, s_frame, 4);
        if (v > c->win - c->credit)
            s_fail("protocol error: window credit overflow on channel %u", h->chan);
        c->credit += v;
        return;
    case SSI_TUNNEL_SIGNAL:
        if (h->len != 4)
            s_fail("protocol error: SIGNAL");
        memcpy(&sig, s_frame, 4);
        if (sig >= 1 && sig <= 64 && !s_body_done) {
            s_log("signal %d for the body", sig);
            kill(s_body, s_job_signal(sig));
        }
        return;
    case SSI_TUNNEL_HOME_REQ:
        s_home_wanted = 1;
        return;
    case SSI_TUNNEL_HOME_VERDICT:
        /* Only while a homecoming waits for it; a late one is stale. */
        if (h->len == 1)
            s_home_verdict = s_frame[0];
        return;
    case SSI_TUNNEL_WINSZ:
        /* Kept for the body's shim to answer TIOCGWINSZ (not wired yet). */
        if (c && h->len == sizeof(ssi_tunnel_winsz_t))
            memcpy(&s_winsz[c - s_chans], s_frame, sizeof(ssi_tunnel_winsz_t));
        return;
    default:
        s_fail("protocol error: frame type %u from the deputy", h->type);
    }
}

/* DATA bytes sent on every channel and not yet credited back. */
static uint32_t s_inflight(void)
{
    uint32_t t = 0;
    int i;
    for (i = 0; i < s_nchans; i++)
        t += s_chans[i].win - s_chans[i].credit;
    return t;
}

/* How much of c may be read and sent now: its credit, one frame, and what
 * the link's budget has left (0: wait for credit). */
static uint32_t s_read_cap(const s_chan_t *c)
{
    uint32_t k = c->credit < sizeof(s_frame) ? c->credit : (uint32_t)sizeof(s_frame);
    uint32_t used = s_inflight(), b = ssi_tunnel_budget(&s_link);
    if (used >= b)
        return 0;
    return k < b - used ? k : b - used;
}

static void s_read_body(s_chan_t *c)
{
    uint32_t k = s_read_cap(c);
    ssize_t n;
    if (k == 0)
        return;
    n = read(c->fd, s_frame, k);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        /* Once the body is dead, an empty queue is the end: anything it
         * wrote was already queued when it died. */
        if (errno == EAGAIN && s_body_done) {
            c->rd_done = 1;
            s_send(SSI_TUNNEL_EOF, (unsigned)c->chan, NULL, 0);
        }
        return;
    }
    if (n <= 0) {
        c->rd_done = 1;
        s_send(SSI_TUNNEL_EOF, (unsigned)c->chan, NULL, 0);
        return;
    }
    c->credit -= (uint32_t)n;
    s_send(SSI_TUNNEL_DATA, (unsigned)c->chan, s_frame, (uint32_t)n);
}

static void s_write_body(s_chan_t *c)
{
    ssize_t n = write(c->fd, c->buf + c->off, c->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        /* The body closed its end (EPIPE): stop the home side reading. */
        uint32_t drop = c->len + c->unacked;
        c->len = c->unacked = 0;
        c->wr_done = 1;
        s_send(SSI_TUNNEL_CLOSE, (unsigned)c->chan, NULL, 0);
        if (drop)
            s_send(SSI_TUNNEL_WINDOW_UPD, (unsigned)c->chan, &drop, 4);
        return;
    }
    c->off += (uint32_t)n;
    c->len -= (uint32_t)n;
    c->unacked += (uint32_t)n;
    if (c->len == 0)
        c->off = 0;
    /* Credit at half a window only: a small request sends none (the
     * sender has plenty left), a stream gets it while the other half is
     * still in flight. */
    if (c->unacked >= c->win / 2) {
        s_send(SSI_TUNNEL_WINDOW_UPD, (unsigned)c->chan, &c->unacked, 4);
        c->unacked = 0;
    }
    if (c->len == 0 && c->in_eof && !c->wr_done && c->in_reset)
        s_reset_body(c);
    else if (c->len == 0 && c->in_eof && !c->wr_done) {
        shutdown(c->fd, SHUT_WR);
        c->wr_done = 1;
    }
}

static int s_drained(void)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (!s_chans[i].rd_done)
            return 0;
    return 1;
}

static void s_home_run(int pidfd);

/* Relays until the body has exited and its output is delivered; then
 * sends EXIT and returns. */
/* The last frame is sent: end the stream and let the deputy read it all
 * before the connection goes (a close with unread data from it would
 * reset the connection); it closes first, or 5 s pass. */
static void s_link_finish(void)
{
    int lf = ssi_tunnel_link_fd(&s_link);
    struct pollfd p = {.fd = lf, .events = POLLIN};
    char b[4096];
    long end = s_now_ms() + 5000;
    ssi_tunnel_shutdown(&s_link);
    while (s_now_ms() < end && poll(&p, 1, 200) >= 0)
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && read(lf, b, sizeof(b)) <= 0)
            break;
    ssi_tunnel_link_close(&s_link);
}

/* The deputy is gone (its link broke; the body's call link broke with it,
 * so the body's forwarded calls fail with EIO at once). The body gets
 * S_DEPUTY_GRACE_MS to end by itself, as a program that handles the
 * error would; then it is killed. The status line (ssid logs it) says
 * how it ended, so what the program saw is observable. */
#define S_DEPUTY_GRACE_MS 2000
__attribute__((noreturn)) static void s_deputy_lost(int pidfd, long err)
{
    long end = s_now_ms() + S_DEPUTY_GRACE_MS;
    int killed = 0;
    char how[64];
    s_link_lost = 1;
    if (s_body <= 0)
        s_fail("deputy connection lost (%s)", strerror((int)-err));
    while (!s_body_done) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        long left = end - s_now_ms();
        s_reap();
        if (s_body_done)
            break;
        if (left <= 0 || s_stop) {
            s_kill_body();
            killed = 1;
            break;
        }
        poll(&p, pidfd >= 0 ? 1 : 0, left < 100 ? (int)left : 100);
    }
    if (killed)
        snprintf(how, sizeof(how), "killed after a %d ms grace", S_DEPUTY_GRACE_MS);
    else if (WIFSIGNALED(s_body_status))
        snprintf(how, sizeof(how), "ended by signal %d", WTERMSIG(s_body_status));
    else
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(s_body_status));
    s_status("failed: deputy connection lost (%s); the body %s", strerror((int)-err), how);
    exit(1);
}

static void s_relay(void)
{
    int pidfd = (int)syscall(SYS_pidfd_open, s_body, 0);
    for (;;) {
        struct pollfd p[2 + SSI_TUNNEL_MAX_CHANS];
        int idx[2 + SSI_TUNNEL_MAX_CHANS], n = 0, i, r, room, drain = 0;

        if (s_stop)
            s_fail("stopped by a signal; body killed");
        s_reap();
        s_sweep();
        if (s_body_done && s_drained())
            break;
        if (s_home_wanted) {
            s_home_wanted = 0;
            s_home_run(pidfd);
            continue;
        }
        p[n].fd = ssi_tunnel_link_fd(&s_link);
        p[n++].events = POLLIN;
        p[n].fd = pidfd;
        p[n++].events = pidfd >= 0 && !s_body_done ? POLLIN : 0;
        room = s_inflight() < ssi_tunnel_budget(&s_link);
        for (i = 0; i < s_nchans; i++) {
            s_chan_t *c = &s_chans[i];
            short ev = 0;
            if (!c->rd_done && c->credit > 0 && room)
                ev |= POLLIN;
            if (c->len && !c->wr_done && !s_body_done)
                ev |= POLLOUT;
            /* After the body's death, drain what it left even if the
             * queue never signals again (read sees EAGAIN = done). */
            if (s_body_done && !c->rd_done && c->credit > 0 && room)
                drain = 1;
            if (!ev && !(s_body_done && !c->rd_done && c->credit > 0))
                continue;
            p[n].fd = c->fd;
            p[n].events = ev ? ev : POLLIN;
            idx[n++] = i;
        }
        /* Once the body is gone, what it left is read without waiting;
         * what waits for credit waits on the link, not in a busy loop. */
        r = poll(p, (nfds_t)n, drain ? 0 : 200);
        if (r < 0 && errno != EINTR)
            s_fail("poll: %s", strerror(errno));
        if (r < 0)
            continue;
        if (p[0].revents) {
            do {
                ssi_tunnel_hdr_t h;
                long rc = ssi_tunnel_recv(&s_link, &h, s_frame, sizeof(s_frame));
                if (rc < 0)
                    s_deputy_lost(pidfd, rc);
                s_frame_in(&h);
            } while (ssi_tunnel_pending(&s_link));
        }
        for (i = 2; i < n; i++) {
            s_chan_t *c = &s_chans[idx[i]];
            short rv = p[i].revents;
            if ((rv & (POLLOUT | POLLERR | POLLHUP)) && c->len && !c->wr_done && !s_body_done)
                s_write_body(c);
            if (!c->rd_done && c->credit > 0 && (rv || s_body_done))
                s_read_body(c);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
}

/* ---- job control ------------------------------------------------------------ */

/* The body's pid as /proc knows it. Our /proc is the node's, not our PID
 * namespace's (ssid does not mount one for us): /proc/N with the body's
 * own pid would be another process. A pidfd's fdinfo says. */
static pid_t s_body_proc_pid(void)
{
    static pid_t cached;
    char path[64], line[128];
    FILE *f;
    int pfd;
    if (cached > 0)
        return cached;
    pfd = (int)syscall(SYS_pidfd_open, s_body, 0);
    if (pfd < 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pfd);
    f = fopen(path, "re");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "Pid:", 4))
            cached = (pid_t)atoi(line + 4);
    if (f)
        fclose(f);
    close(pfd);
    return cached > 0 ? cached : -1;
}

static uint32_t s_conts; /* SIGCONTs delivered from the deputy */

/* Whether the body catches or ignores sig (/proc/PID/status SigCgt, SigIgn). */
static int s_body_handles(int sig)
{
    char path[64], line[256];
    int handled = 0;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)s_body_proc_pid());
    f = fopen(path, "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "SigCgt:", 7) || !strncmp(line, "SigIgn:", 7))
            handled |= (strtoull(line + 7, NULL, 16) >> (sig - 1)) & 1;
    fclose(f);
    return handled;
}

/* The signal that does at the body what sig did at home. A terminal stop
 * signal whose default action the body keeps must stop it: the kernel
 * discards TSTP/TTIN/TTOU in an orphaned process group, and the body's
 * group here (under the agent, pid 1) may well be one. */
static int s_job_signal(int sig)
{
    if (sig == SIGCONT)
        s_conts++;
    if ((sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) && !s_body_handles(sig))
        return SIGSTOP;
    return sig;
}

/* The body stopped (a stop signal relayed from home, SIGSTOP sent to it
 * on the home ssid's behalf, or its own raise): the deputy stops too, so
 * that a shell at home sees the job stopped. */
static void s_job_stopped(int sig)
{
    ssi_tunnel_stopped_t st = {.sig = sig, .conts = s_conts};
    s_log("body stopped by signal %d", sig);
    s_send(SSI_TUNNEL_STOPPED, 0, &st, sizeof(st));
}

/* ---- coming home -------------------------------------------------------------
 *
 * The deputy asks (HOME_REQ, after it stopped reading home input). We check
 * what could not exist at home, freeze the body with the freeze protocol
 * (we are its parent and pid 1 of its namespace), send what it wrote before
 * the freeze, then its image, and wait for the deputy's verdict: 'X' ends
 * the body (and us: not reported as the program's exit), 'C' thaws it and
 * the relay goes on. docs/ENGINE.md, "Coming home". */

static void s_home_refuse(const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    s_status("home refused: %s", why);
    s_send(SSI_TUNNEL_HOME_REFUSE, 0, why, (uint32_t)strlen(why));
}

/* A value of the body's initial environment (its shim read SSI_FREEZE_DIR
 * and SSI_FREEZE_TIMEOUT from there at startup, at home). */
static int s_body_env(const char *key, char *out, size_t cap)
{
    static char env[65536];
    char path[64];
    size_t kl = strlen(key), n;
    const char *p;
    int fd;
    ssize_t r;
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)s_body_proc_pid());
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    r = read(fd, env, sizeof(env) - 1);
    close(fd);
    if (r <= 0)
        return -1;
    env[r] = 0;
    for (p = env; p < env + r; p += strlen(p) + 1) {
        if (!strncmp(p, key, kl) && p[kl] == '=' && p[kl + 1]) {
            n = strlen(p + kl + 1);
            if (n >= cap)
                return -1;
            memcpy(out, p + kl + 1, n + 1);
            return 0;
        }
    }
    return -1;
}

/* What cannot come home: children made here, descriptors opened here. */
static int s_home_check_body(char *why, size_t cap)
{
    char path[80], link[300];
    struct dirent *e;
    DIR *d;
    FILE *f;
    int kid = 0;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)s_body_proc_pid(),
             (int)s_body_proc_pid());
    f = fopen(path, "re");
    if (f) {
        kid = fscanf(f, "%d", &kid) == 1 ? kid : 0;
        fclose(f);
    }
    if (kid > 0) {
        snprintf(why, cap, "it has child processes where it runs; they cannot follow it home");
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)s_body_proc_pid());
    d = opendir(path);
    if (!d) {
        snprintf(why, cap, "cannot list its descriptors: %s", strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        char lp[128];
        unsigned long long ino;
        ssize_t n;
        int fd;
        s_chan_t *c;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        fd = atoi(e->d_name);
        snprintf(lp, sizeof(lp), "%s/%d", path, fd);
        n = readlink(lp, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = 0;
        /* One of our tunnels (at its own number, or a socket channel the
         * netproxy added, whose home socket the deputy keeps at the body's
         * number): the deputy has the real thing. */
        c = NULL;
        if (sscanf(link, "socket:[%llu]", &ino) == 1) {
            int k;
            for (k = 0; k < s_nchans && !c; k++)
                if (s_chans[k].body_ino && s_chans[k].body_ino == ino)
                    c = &s_chans[k];
        }
        if (c)
            continue;
        /* The vfs-proxy's own sockets: not in the image, not brought home. */
        if (sscanf(link, "socket:[%llu]", &ino) == 1 &&
            (ino == (unsigned long long)s_ctl_ino || ino == (unsigned long long)s_call_ino))
            continue;
        if (!strcmp(link, "anon_inode:[eventpoll]")) /* made again at home (ssi_epoll.c) */
            continue;
        if (!strcmp(link, "/dev/null") || !strcmp(link, "/dev/zero") ||
            !strcmp(link, "/dev/random") || !strcmp(link, "/dev/urandom"))
            continue;
        snprintf(why, cap, "fd %d (%s) was opened on this node and cannot be brought home", fd,
                 link);
        closedir(d);
        return -1;
    }
    closedir(d);
    return 0;
}

/* Bytes of one IN channel that home has given away and the body has not
 * read: in our buffer and unread in the body's end of the socketpair. */
/* The body's fd of channel c: its number for the channels of ACCEPT; for
 * one the netproxy added, the fd whose socket is the channel's (found by
 * inode in the body's fd table). -1 if none. */
static int s_body_fd_of(const s_chan_t *c)
{
    char path[64], link[64], want[64];
    struct dirent *e;
    DIR *d;
    int fd = -1;
    if (!c->dynamic)
        return (int)c->chan;
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)s_body_proc_pid());
    snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)c->body_ino);
    d = opendir(path);
    if (!d)
        return -1;
    while (fd < 0 && (e = readdir(d))) {
        char lp[320];
        ssize_t n;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(lp, sizeof(lp), "%s/%s", path, e->d_name);
        n = readlink(lp, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = 0;
        if (!strcmp(link, want))
            fd = atoi(e->d_name);
    }
    closedir(d);
    return fd;
}

/* The home peer of c reset the connection and everything it sent before
 * is written: the body's next read must fail with ECONNRESET, as at home.
 * Linux gives an AF_UNIX stream socket exactly that (sk_err) when its
 * peer is closed with unread data in the peer's receive queue. So: make
 * sure our end holds one unread byte - sent from the body's end, which we
 * borrow with pidfd_getfd (found by inode, as for the homecoming) - then
 * close our end. The body then reads what was queued, then ECONNRESET
 * once, then EOF; its writes fail with EPIPE (SIGPIPE unless
 * MSG_NOSIGNAL), as after a reset at home. Nothing in the body changes:
 * its read/recv stay native. If the body's end cannot be borrowed (it
 * closed it) the body sees EOF instead. */
static void s_reset_body(s_chan_t *c)
{
    int queued = 0;
    if (ioctl(c->fd, FIONREAD, &queued) < 0 || queued <= 0) {
        int pfd = (int)syscall(SYS_pidfd_open, s_body, 0);
        int bfd = pfd >= 0 ? s_body_fd_of(c) : -1;
        int fd = bfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pfd, bfd, 0) : -1;
        if (fd >= 0 && s_ino(fd) == c->body_ino &&
            send(fd, "R", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
            s_log("channel %u: cannot mark the reset (%s): the body reads EOF", (unsigned)c->chan,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        if (pfd >= 0)
            close(pfd);
    }
    s_log("channel %u: the home peer reset the connection", (unsigned)c->chan);
    close(c->fd);
    c->fd = -1;
    c->wr_done = 1;
    c->len = 0;
    if (!c->rd_done) {
        c->rd_done = 1;
        s_send(SSI_TUNNEL_EOF, (unsigned)c->chan, NULL, 0);
    }
}


static uint32_t s_home_unread(const s_chan_t *c, int pidfd)
{
    int bfd = s_body_fd_of(c);
    int n = 0, fd = pidfd >= 0 && bfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, bfd, 0) : -1;
    if (fd >= 0) {
        if (s_ino(fd) != c->body_ino || ioctl(fd, FIONREAD, &n) < 0)
            n = 0;
        close(fd);
    }
    return c->len + (uint32_t)n;
}

/* Home input that the deputy already read cannot be pushed back into a
 * home pipe or terminal: wait a little for the body to read it, else
 * refuse. Nothing new comes (the deputy stopped reading). */
/* While the body is given time to read its input, its output keeps
 * flowing home (with the deputy's credit): a relay that must write before
 * it reads again would otherwise never read it. */
static void s_home_pump_out(int ms)
{
    struct pollfd p[1 + SSI_TUNNEL_MAX_CHANS];
    int idx[1 + SSI_TUNNEL_MAX_CHANS], n = 0, i;
    p[n].fd = ssi_tunnel_link_fd(&s_link);
    p[n++].events = POLLIN;
    for (i = 0; i < s_nchans; i++) {
        s_chan_t *c = &s_chans[i];
        if (c->rd_done || s_read_cap(c) == 0)
            continue;
        p[n].fd = c->fd;
        p[n].events = POLLIN;
        idx[n++] = i;
    }
    if (poll(p, (nfds_t)n, ssi_tunnel_pending(&s_link) ? 0 : ms) <= 0 && !ssi_tunnel_pending(&s_link))
        return;
    if (p[0].revents || ssi_tunnel_pending(&s_link)) {
        do {
            ssi_tunnel_hdr_t h;
            long rc = ssi_tunnel_recv(&s_link, &h, s_frame, sizeof(s_frame));
            if (rc < 0)
                s_fail("deputy connection lost (%s); body killed", strerror((int)-rc));
            s_frame_in(&h);
        } while (ssi_tunnel_pending(&s_link));
    }
    for (i = 1; i < n; i++)
        if (p[i].revents && !s_chans[idx[i]].rd_done && s_chans[idx[i]].credit > 0)
            s_read_body(&s_chans[idx[i]]);
}

static int s_home_input_taken(int pidfd, char *why, size_t cap)
{
    long end = s_now_ms() + 2000;
    for (;;) {
        int i, busy = 0;
        for (i = 0; i < s_nchans; i++) {
            s_chan_t *c = &s_chans[i];
            uint32_t n;
            if (!(c->dir & SSI_TUNNEL_DIR_IN) || c->wr_done)
                continue;
            if (c->len)
                s_write_body(c);
            n = s_home_unread(c, pidfd);
            if (n) {
                busy = 1;
                snprintf(why, cap, "fd %d has %u bytes of input already taken from home that "
                                   "the program has not read yet; try again later",
                         c->chan, n);
            }
        }
        if (!busy)
            return 0;
        if (s_now_ms() > end)
            return -1;
        s_home_pump_out(20);
    }
}

/* Freezes the body: returns the connected freeze socket and the time by
 * which its verdict must be written (its own timeout, less a margin). */
static int s_home_freeze(long *deadline, char *why, size_t cap)
{
    struct sockaddr_un sa;
    char dir[96], tmo[16];
    int lfd, cfd, token, timeout_s = 30;
    long t0;
    struct pollfd p;
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};

    if (s_body_env("SSI_FREEZE_DIR", dir, sizeof(dir)) < 0)
        snprintf(dir, sizeof(dir), "%s", "/run/ssi/freeze");
    if (s_body_env("SSI_FREEZE_TIMEOUT", tmo, sizeof(tmo)) == 0 && atoi(tmo) > 0)
        timeout_s = atoi(tmo);
    {
        char d2[sizeof(dir)];
        size_t i;
        snprintf(d2, sizeof(d2), "%s", dir);
        for (i = 1; d2[i]; i++)
            if (d2[i] == '/') {
                d2[i] = 0;
                mkdir(d2, 0711);
                d2[i] = '/';
            }
        mkdir(d2, 0711);
    }
    randombytes_buf(&token, sizeof(token));
    token &= 0x7fffffff;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d.sock", dir, token) >=
        sizeof(sa.sun_path)) {
        snprintf(why, cap, "freeze socket path too long");
        return -1;
    }
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
        snprintf(why, cap, "cannot listen on %s: %s", sa.sun_path, strerror(errno));
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    {
        /* The body runs as its user: the socket is that user's alone (the
         * directory lets it through, lists nothing). */
        char proc[32];
        struct stat pst;
        snprintf(proc, sizeof(proc), "/proc/%d", (int)s_body_proc_pid());
        if (stat(proc, &pst) < 0 || chmod(sa.sun_path, 0600) < 0 ||
            chown(sa.sun_path, pst.st_uid, (gid_t)-1) < 0) {
            snprintf(why, cap, "cannot hand the freeze socket to the body: %s", strerror(errno));
            unlink(sa.sun_path);
            close(lfd);
            return -1;
        }
    }
    t0 = s_now_ms();
    cfd = -1;
    if (sigqueue(s_body, SSI_FREEZE_SIGNAL, (union sigval){.sival_int = token}) == 0) {
        p.fd = lfd;
        p.events = POLLIN;
        if (poll(&p, 1, 10000) == 1)
            cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    unlink(sa.sun_path);
    close(lfd);
    if (cfd >= 0) {
        /* Only the body itself may answer (pids as this namespace sees them). */
        struct ucred cr;
        socklen_t crl = sizeof(cr);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0 || cr.pid != s_body) {
            close(cfd);
            snprintf(why, cap, "another process than the body answered the freeze");
            return -1;
        }
    }
    if (cfd < 0) {
        snprintf(why, cap, "the body did not freeze (%s)", strerror(errno ? errno : ETIMEDOUT));
        return -1;
    }
    setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    *deadline = t0 + timeout_s * 1000L - 3000;
    return cfd;
}

/* Pumps link frames (credit, signals) for up to ms milliseconds. */
static void s_home_pump(int ms)
{
    struct pollfd p = {.fd = ssi_tunnel_link_fd(&s_link), .events = POLLIN};
    if (!ssi_tunnel_pending(&s_link) && poll(&p, 1, ms) <= 0)
        return;
    do {
        ssi_tunnel_hdr_t h;
        long rc = ssi_tunnel_recv(&s_link, &h, s_frame, sizeof(s_frame));
        if (rc < 0)
            s_fail("deputy connection lost (%s) while coming home; body killed",
                   strerror((int)-rc));
        s_frame_in(&h);
    } while (ssi_tunnel_pending(&s_link));
}

/* Sends everything the frozen body wrote, within the deputy's windows. */
static int s_home_drain(long deadline, char *why, size_t cap)
{
    for (;;) {
        int i, busy = -1;
        for (i = 0; i < s_nchans; i++) {
            s_chan_t *c = &s_chans[i];
            while (!c->rd_done && c->credit > 0) {
                uint32_t k = s_read_cap(c);
                ssize_t n = k ? read(c->fd, s_frame, k) : (errno = EAGAIN, -1);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0)
                    break; /* EAGAIN: all of it is out */
                if (n == 0) {
                    c->rd_done = 1;
                    s_send(SSI_TUNNEL_EOF, (unsigned)c->chan, NULL, 0);
                    break;
                }
                c->credit -= (uint32_t)n;
                s_send(SSI_TUNNEL_DATA, (unsigned)c->chan, s_frame, (uint32_t)n);
            }
            if (!c->rd_done && s_read_cap(c) == 0)
                busy = c->chan;
        }
        if (busy < 0)
            return 0;
        if (s_now_ms() > deadline) {
            snprintf(why, cap, "its output on fd %d is not being read at home", busy);
            return -1;
        }
        s_home_pump(100);
    }
}

/* Sends the image as HOME_IMAGE frames of up to SSI_TUNNEL_DATA_MAX. */
static uint8_t s_home_buf[SSI_TUNNEL_DATA_MAX];
static uint32_t s_home_len;

static void s_home_put(const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        size_t k = sizeof(s_home_buf) - s_home_len;
        if (k > n)
            k = n;
        memcpy(s_home_buf + s_home_len, b, k);
        s_home_len += (uint32_t)k;
        b += k;
        n -= k;
        if (s_home_len == sizeof(s_home_buf)) {
            s_send(SSI_TUNNEL_HOME_IMAGE, 0, s_home_buf, s_home_len);
            s_home_len = 0;
        }
    }
}

static int s_home_stream(int cfd, char *why, size_t cap)
{
    ssi_image_req_t req = {.magic = SSI_IMAGE_REQ_MAGIC, .version = SSI_IMAGE_VERSION, .flags = 0};
    ssi_image_hdr_t h;
    ssi_image_rec_t r;
    static uint8_t buf[1 << 16];

    s_home_len = 0;
    if (ssi_io_write_full(cfd, &req, sizeof(req)) < 0 || ssi_io_read_full(cfd, &h, sizeof(h)) < 0 ||
        h.magic != SSI_IMAGE_MAGIC || h.version != SSI_IMAGE_VERSION) {
        snprintf(why, cap, "the body's freeze failed before its image");
        return -1;
    }
    s_home_put(&h, sizeof(h));
    do {
        uint64_t left;
        if (ssi_io_read_full(cfd, &r, sizeof(r)) < 0 || r.size > (1u << 20)) {
            snprintf(why, cap, "the body's image stream broke");
            return -1;
        }
        s_home_put(&r, sizeof(r));
        for (left = r.size + r.data_len; left;) {
            size_t k = left < sizeof(buf) ? (size_t)left : sizeof(buf);
            if (ssi_io_read_full(cfd, buf, k) < 0) {
                snprintf(why, cap, "the body's image stream broke");
                return -1;
            }
            s_home_put(buf, k);
            left -= k;
        }
    } while (r.type != SSI_IMAGE_REC_END);
    if (s_home_len)
        s_send(SSI_TUNNEL_HOME_IMAGE, 0, s_home_buf, s_home_len);
    s_send(SSI_TUNNEL_HOME_END, 0, NULL, 0);
    return 0;
}

/* Ends the body after a committed homecoming, tells the deputy, exits. */
__attribute__((noreturn)) static void s_home_commit(int cfd)
{
    char x = SSI_IMAGE_VERDICT_EXIT;
    long end = s_now_ms() + 3000;
    int st;
    if (write(cfd, &x, 1) != 1)
        s_log("the body did not take the exit verdict: killing it");
    close(cfd);
    /* The body exits at once (exit_group(0) in its freeze handler); it
     * must be gone before the deputy restores it at home. */
    for (;;) {
        pid_t p = waitpid(s_body, &st, WNOHANG | __WALL);
        if (p == s_body)
            break;
        if (s_now_ms() > end) {
            kill(s_body, SIGKILL);
            waitpid(s_body, &st, __WALL);
            break;
        }
        usleep(5000);
    }
    s_body_done = 1;
    s_send(SSI_TUNNEL_HOME_DONE, 0, NULL, 0);
    s_status("home");
    s_link_finish();
    exit(0);
}

static void s_home_run(int pidfd)
{
    char why[400];
    long deadline;
    int cfd;
    char c = SSI_IMAGE_VERDICT_CONTINUE;

    s_reap();
    if (s_body_done)
        return; /* it is ending: EXIT follows, the deputy exits with it */
    s_status("coming home");
    if (s_home_check_body(why, sizeof(why)) < 0 || s_home_input_taken(pidfd, why, sizeof(why)) < 0) {
        s_home_refuse("%s", why);
        return;
    }
    cfd = s_home_freeze(&deadline, why, sizeof(why));
    if (cfd < 0) {
        s_home_refuse("%s", why);
        return;
    }
    s_home_verdict = 0;
    if (s_home_drain(deadline, why, sizeof(why)) == 0 && s_home_stream(cfd, why, sizeof(why)) == 0) {
        while (!s_home_verdict && s_now_ms() < deadline)
            s_home_pump(100);
        if (s_home_verdict == SSI_IMAGE_VERDICT_EXIT)
            s_home_commit(cfd);
        if (s_home_verdict == 0)
            snprintf(why, sizeof(why), "no verdict from home in time (is the link to home down?)");
        else
            why[0] = 0; /* the deputy said why */
    }
    /* Thaw: the body goes on here, the relay too. */
    if (write(cfd, &c, 1) != 1)
        s_log("the body thawed by itself");
    close(cfd);
    s_home_verdict = 0;
    if (why[0])
        s_home_refuse("%s", why);
    else
        s_status("home refused by the deputy");
}

static void s_on_stop(int sig)
{
    (void)sig;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"listen", required_argument, NULL, 'l'},     {"key-fd", required_argument, NULL, 'k'},
        {"image-fd", required_argument, NULL, 'i'},   {"image", required_argument, NULL, 'I'},
        {"status-fd", required_argument, NULL, 's'},  {"restore", required_argument, NULL, 'r'},
        {"accept-timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0}};
    const char *listen_spec = NULL, *image = NULL;
    char restore[4096];
    int key_fd = -1, img_fd = -1, timeout_s = 30, c, lfd;
    uint8_t key[SSI_TUNNEL_KEY_LEN];
    struct sigaction sa;
    ssi_tunnel_exit_t x;

    restore[0] = 0;
    /* The body's fds may sit near its own RLIMIT_NOFILE (the shim keeps
     * its ssid socket there), and the restorer needs slots above them
     * before the body's rlimits come back: take the hard limit. */
    {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    while ((c = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
        switch (c) {
        case 'l': listen_spec = optarg; break;
        case 'k': key_fd = atoi(optarg); break;
        case 'i': img_fd = atoi(optarg); break;
        case 'I': image = optarg; break;
        case 's': s_status_fd = atoi(optarg); break;
        case 'r': snprintf(restore, sizeof(restore), "%s", optarg); break;
        case 't': timeout_s = atoi(optarg); break;
        case 'v': s_verbose = 1; break;
        default: goto usage;
        }
    }
    if (optind != argc || !listen_spec || key_fd < 0 || (img_fd < 0) == !image)
        goto usage;
    if (s_status_fd >= 0)
        fcntl(s_status_fd, F_SETFD, FD_CLOEXEC);
    if (getpid() != 1)
        s_fail("must run as pid 1 of a fresh PID namespace (unshare --pid --fork)");
    if (!restore[0]) {
        /* ssi-restore next to us. */
        ssize_t n = readlink("/proc/self/exe", restore, sizeof(restore) - 16);
        char *slash;
        if (n < 0)
            s_fail("cannot find ssi-restore (use --restore)");
        restore[n] = 0;
        slash = strrchr(restore, '/');
        strcpy(slash ? slash + 1 : restore, "ssi-restore");
    }
    if (sodium_init() < 0)
        s_fail("libsodium failed to initialise");
    if (ssi_io_read_full(key_fd, key, sizeof(key)) < 0)
        s_fail("cannot read the 32-byte data key from fd %d", key_fd);
    close(key_fd);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* As pid 1 only signals with a handler reach us (and SIGKILL). */
    sa.sa_handler = s_on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    lfd = s_listen(listen_spec);
    if (image) {
        img_fd = open(image, O_RDONLY | O_CLOEXEC);
        if (img_fd < 0)
            s_fail("cannot open %s: %s", image, strerror(errno));
    } else {
        fcntl(img_fd, F_SETFD, FD_CLOEXEC);
    }
    s_start_body(img_fd, restore);
    close(img_fd);
    s_accept_deputy(lfd, timeout_s, key);
    memset(key, 0, sizeof(key));
    close(lfd);
    s_relay();
    if (WIFSIGNALED(s_body_status)) {
        x.how = SSI_TUNNEL_SIGNALED;
        x.value = WTERMSIG(s_body_status);
        s_status("killed %d", x.value);
    } else {
        x.how = SSI_TUNNEL_EXITED;
        x.value = WEXITSTATUS(s_body_status);
        s_status("exited %d", x.value);
    }
    s_send(SSI_TUNNEL_EXIT, 0, &x, sizeof(x));
    s_link_finish();
    return 0;
usage:
    fprintf(stderr, "usage: ssi-agent --listen ADDR:PORT --key-fd N (--image-fd N | --image FILE)\n"
                    "                 [--status-fd N] [--restore PATH] [--accept-timeout SEC] "
                    "[-v]\n");
    return 2;
}
