/*
 * ssi_deputy.c - the home process turned deputy of its migrated body.
 *
 * Part of libssi.so. After the verdict 'D' the freeze handler connects to
 * the body agent (ssi_deputy_connect); once the agent has accepted, the
 * body runs elsewhere and this process never returns to the program: it
 * releases the program's memory, forwards every catchable signal to the
 * body, relays its real descriptors (the tunnels: stdin/stdout/stderr,
 * pipes, ttys, sockets) to and from the agent, and finally exits with the
 * body's exit status so that the parent's wait() sees the real thing.
 *
 * It keeps the home pid, parent, session and descriptors: that is the
 * point of a deputy. Signal context throughout (we are inside the freeze
 * handler): raw system calls, static buffers, no malloc, no stdio, no
 * libc calls at all (after the memory release libc's data may read as
 * zeroes). Protocol: ssi_tunnel.h, docs/ENGINE.md.
 *
 * The top of the home side: it drives the channel table (ssi_chans), the
 * call server (ssi_callsrv, whose executors the shim registers) and the
 * homecoming (ssi_homecoming); none of them calls back here.
 */
#include "ssi_deputy.h"

#include "ssi_callsrv.h"
#include "ssi_chans.h"
#include "ssi_homecoming.h"
#include "ssi_homeinput.h"
#include "ssi_image.h"
#include "ssi_kobj.h"
#include "ssi_msg.h"
#include "ssi_signal.h"
#include "ssi_sys.h"
#include "ssi_tunnel_link.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>

#define S_MAPS_BUF (256 * 1024)
/* <= PIPE_BUF: a write of this size to a pipe that polled writable does
 * not block, so one slow consumer cannot stall the others for long. */
#define S_WRITE_CHUNK 4096

static uint8_t s_frame[SSI_TUNNEL_DATA_MAX];
static uint8_t s_rd[SSI_TUNNEL_DATA_MAX];
static char s_maps[S_MAPS_BUF];
static int s_pipe[2] = {-1, -1};
static volatile uint64_t s_sigpend;
static int s_exit_how, s_exit_value;
static uint32_t s_conts_sent; /* SIGCONTs forwarded (job control) */

/* libssi.so's own extent: the deputy's code and static state live there
 * and must survive the memory release. */
extern char __ehdr_start[] __attribute__((visibility("hidden")));
extern char _end[] __attribute__((visibility("hidden")));

/* ---- small helpers ------------------------------------------------------ */

static long s_sigaction(int sig, void (*h)(int), uint64_t mask)
{
    /* No SA_RESTART on purpose: a signal must interrupt a blocking write
     * to a stalled home descriptor so that it is forwarded at once. */
    return ssi_signal_action(sig, (void (*)(void))h, 0, mask, 0);
}

static void s_sigmask(int how, uint64_t set)
{
    ssi_sys4(SYS_rt_sigprocmask, how, (long)&set, 0, 8);
}

/* Which signals the deputy forwards to the body: every catchable one but
 * the synchronous faults (a fault here is the deputy's own bug), SIGCHLD
 * (s_chld: only when the program would see it), SIGPIPE (ours: a
 * closed home reader is reported per channel) and the freeze signal. */
static int s_forwarded(int sig)
{
    switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
    case SIGCHLD:
    case SIGPIPE:
    case SSI_FREEZE_SIGNAL: return 0;
    default: return sig >= 1 && sig <= 64;
    }
}

static void s_on_signal(int sig)
{
    char b = 0;
    __atomic_fetch_or(&s_sigpend, 1ULL << (sig - 1), __ATOMIC_SEQ_CST);
    ssi_sys3(SYS_write, s_pipe[1], (long)&b, 1);
}

/* The children forked before the move are the deputy's (the body waits
 * for them through it: wait4/waitid are forwarded), so their SIGCHLD is
 * forwarded too, unless the program ignores it or asked SA_NOCLDWAIT: then
 * the kernel reaps them at home, as it would have, and nothing is sent.
 * SA_NOCLDSTOP is kept. */
static void s_chld(void)
{
    ssi_image_sigaction_t old;
    if (ssi_sys4(SYS_rt_sigaction, SIGCHLD, 0, (long)&old, 8) < 0 ||
        old.handler == 1 /* SIG_IGN */ || (old.flags & 2 /* SA_NOCLDWAIT */))
        return;
    ssi_signal_action(SIGCHLD, (void (*)(void))s_on_signal, old.flags & 1 /* SA_NOCLDSTOP */, ~0ULL,
                      0);
}

/* ssi_chan needs libsodium initialised, and sodium_init() is not for a
 * signal handler: do it when the program starts. */
__attribute__((constructor)) static void s_deputy_ctor(void)
{
    if (sodium_init() < 0)
        ssi_sys_log("ssi-deputy: ", "libsodium failed to initialise; migration will not connect", 0,
                    0);
}

static void s_send(unsigned type, unsigned chan, const void *p, uint32_t len)
{
    ssi_chans_send(type, chan, p, len);
}

/* ---- connect ------------------------------------------------------------- */

static long s_now_ms(void)
{
    struct timespec ts;
    ssi_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static long s_tcp_connect(const ssi_image_deputy_t *d)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    const void *sa;
    long salen, fd, rc, fl;
    int one = 1, idle = 10, intvl = 5, cnt = 3, err = 0;
    socklen_t errlen = sizeof(err);
    long deadline = s_now_ms() + (d->connect_timeout_ms ? d->connect_timeout_ms : 5000);

    if (d->family == AF_INET) {
        ssi_sys_memzero(&a4, sizeof(a4));
        a4.sin_family = AF_INET;
        a4.sin_port = (uint16_t)((d->port >> 8) | (d->port << 8));
        ssi_sys_memcopy(&a4.sin_addr, d->addr, 4);
        sa = &a4;
        salen = sizeof(a4);
    } else if (d->family == AF_INET6) {
        ssi_sys_memzero(&a6, sizeof(a6));
        a6.sin6_family = AF_INET6;
        a6.sin6_port = (uint16_t)((d->port >> 8) | (d->port << 8));
        ssi_sys_memcopy(&a6.sin6_addr, d->addr, 16);
        sa = &a6;
        salen = sizeof(a6);
    } else {
        return -EAFNOSUPPORT;
    }
    ssi_chans_pick_fd_base();
    fd = ssi_sys3(SYS_socket, d->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fd;
    fd = ssi_chans_high_fd(fd);
    ssi_tunnel_sockbuf((int)fd);
    rc = ssi_sys3(SYS_connect, fd, (long)sa, salen);
    while (rc == -EINPROGRESS || rc == -EINTR) {
        struct pollfd p = {.fd = (int)fd, .events = POLLOUT, .revents = 0};
        struct timespec ts;
        long left = deadline - s_now_ms();
        if (left <= 0) {
            rc = -ETIMEDOUT;
            break;
        }
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (left % 1000) * 1000000L;
        rc = ssi_sys5(SYS_ppoll, (long)&p, 1, (long)&ts, 0, 8);
        if (rc == 0 || rc == -EINTR) {
            rc = -EINPROGRESS;
            continue;
        }
        if (rc < 0)
            break;
        rc = ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&err, (long)&errlen);
        if (rc == 0)
            rc = -err;
    }
    if (rc < 0) {
        ssi_sys1(SYS_close, fd);
        return rc;
    }
    /* Blocking from now on (see ssi_tunnel.h on why that cannot deadlock). */
    fl = ssi_sys2(SYS_fcntl, fd, F_GETFL);
    ssi_sys3(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK);
    ssi_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_NODELAY, (long)&one, sizeof(one));
    /* A node that vanishes without a FIN is noticed in about 25 s. */
    ssi_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_KEEPALIVE, (long)&one, sizeof(one));
    ssi_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_KEEPIDLE, (long)&idle, sizeof(idle));
    ssi_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_KEEPINTVL, (long)&intvl, sizeof(intvl));
    ssi_sys5(SYS_setsockopt, fd, IPPROTO_TCP, TCP_KEEPCNT, (long)&cnt, sizeof(cnt));
    return fd;
}

long ssi_deputy_connect(const ssi_image_deputy_t *d, const ssi_image_recover_t *rec)
{
    ssi_tunnel_hello_t hello;
    ssi_tunnel_accept_t acc;
    ssi_tunnel_hdr_t h;
    long fd, rc;
    uint32_t i;

    if (d->magic != SSI_IMAGE_DEPUTY_MAGIC)
        return -EPROTO;
    fd = s_tcp_connect(d);
    /* Failures are not written into the program's stderr: the
     * requester hears 'C' and the destination says why. */
    if (fd < 0)
        return fd;
    /* The agent answers the handshake only once the body runs, so the
     * handshake may take as long as the restore. */
    rc = ssi_tunnel_link_init(ssi_chans_link(), (int)fd, d->key, 1,
                              d->accept_timeout_ms ? (int)d->accept_timeout_ms : 30000);
    if (rc < 0) {
        ssi_sys1(SYS_close, fd);
        return rc;
    }
    hello.magic = SSI_TUNNEL_MAGIC;
    hello.version = SSI_TUNNEL_VERSION;
    hello.home_pid = (int32_t)ssi_sys0(SYS_getpid);
    rc = ssi_tunnel_send(ssi_chans_link(), SSI_TUNNEL_HELLO, 0, &hello, sizeof(hello));
    if (rc == 0)
        rc = ssi_tunnel_recv_wait(ssi_chans_link(), &h, s_frame, sizeof(s_frame),
                                  d->accept_timeout_ms ? (int)d->accept_timeout_ms : 30000);
    if (rc == 1 && h.type == SSI_TUNNEL_REFUSE) {
        rc = -ECONNREFUSED;
    } else if (rc == 1) {
        ssi_sys_memcopy(&acc, s_frame, sizeof(acc) <= h.len ? sizeof(acc) : 0);
        if (h.type != SSI_TUNNEL_ACCEPT || h.len < sizeof(acc) ||
            acc.version != SSI_TUNNEL_VERSION || acc.nchans > SSI_TUNNEL_MAX_CHANS ||
            h.len != sizeof(acc) + acc.nchans * sizeof(ssi_tunnel_chan_t) ||
            acc.window != SSI_TUNNEL_WINDOW)
            rc = -EPROTO;
    }
    if (rc < 0) {
        ssi_tunnel_link_close(ssi_chans_link());
        return rc;
    }
    /* The vfs-proxy's call link: a second connection to the agent, which
     * hands it to the body; the handshake ends once the body runs it. */
    fd = s_tcp_connect(d);
    rc = fd < 0 ? fd
                : ssi_callsrv_attach((int)fd, d->key,
                                     d->accept_timeout_ms ? (int)d->accept_timeout_ms : 30000);
    if (rc < 0) {
        if (fd >= 0)
            ssi_sys1(SYS_close, fd);
        ssi_tunnel_link_close(ssi_chans_link());
        return rc;
    }
    ssi_chans_reset();
    for (i = 0; i < acc.nchans; i++) {
        ssi_tunnel_chan_t c;
        ssi_sys_memcopy(&c, s_frame + sizeof(acc) + i * sizeof(c), sizeof(c));
        ssi_chans_add_static(&c);
    }
    ssi_homecoming_set_recover(rec);
    return 0;
}

/* ---- becoming the deputy ------------------------------------------------- */

/* Gives back the program's private writable anonymous memory (heap, mmap
 * regions, the stack below us): the body has it now. MADV_DONTNEED rather
 * than munmap: anything that still touched it would read zeroes instead
 * of faulting. libssi.so's own pages (our code and state) stay. */
static void s_release_memory(void)
{
    uint64_t self_lo = (uint64_t)__ehdr_start, self_hi = (uint64_t)_end;
    uint64_t sp = (uint64_t)&self_lo, prev_end = 0;
    int prev_file = 0;
    long fd = ssi_sys4(SYS_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
    long n, used = 0;
    char *p;
    if (fd < 0)
        return;
    while ((n = ssi_sys3(SYS_read, fd, (long)(s_maps + used), (long)(sizeof(s_maps) - 1 - used))) >
           0)
        used += n;
    ssi_sys1(SYS_close, fd);
    s_maps[used] = 0;
    for (p = s_maps; *p;) {
        const char *e, *path;
        uint64_t start = ssi_sys_hex(p, &e), end = ssi_sys_hex(e + 1, &e);
        int wr = e[2] == 'w', priv = e[4] == 'p', anon;
        int fields = 0;
        /* Skip perms, offset, dev, inode to the path. */
        while (*e && *e != '\n' && fields < 4) {
            while (*e == ' ')
                e++;
            while (*e && *e != ' ' && *e != '\n')
                e++;
            fields++;
        }
        while (*e == ' ')
            e++;
        path = e;
        anon = *path == '\n' || *path == 0 ||
               (path[0] == '[' && (path[1] == 'h' || path[1] == 's' || path[1] == 'a'));
        /* "[heap]", "[stack]", "[anon:...]"; not "[vdso]", "[vvar]". */
        while (*e && *e != '\n')
            e++;
        p = (char *)(*e ? e + 1 : e);
        {
            /* An anonymous mapping right after a file mapping is that
             * library's .bss (libsodium's CPU features, libc's state):
             * keep it, the deputy still calls into libsodium. */
            int bss = anon && path[0] != '[' && prev_file && prev_end == start;
            prev_file = path[0] == '/';
            prev_end = end;
            if (!wr || !priv || !anon || bss || (start < self_hi && end > self_lo))
                continue;
        }
        if (sp >= start && sp < end) {
            /* Our own frames are at sp and above; below is free. */
            end = (sp & ~4095UL) - 4096;
            if (end <= start)
                continue;
        }
        ssi_sys3(SYS_madvise, (long)start, (long)(end - start), MADV_DONTNEED);
    }
}

static void s_send_winsz(ssi_chans_chan_t *c)
{
    struct winsize ws;
    ssi_tunnel_winsz_t w;
    if (!(c->flags & SSI_TUNNEL_CHAN_TTY) || ssi_sys3(SYS_ioctl, c->fd, TIOCGWINSZ, (long)&ws) < 0)
        return;
    w.row = ws.ws_row;
    w.col = ws.ws_col;
    w.xpixel = ws.ws_xpixel;
    w.ypixel = ws.ws_ypixel;
    s_send(SSI_TUNNEL_WINSZ, (unsigned)c->chan, &w, sizeof(w));
}

static void s_flush_signals(void)
{
    char buf[64];
    uint64_t m;
    int sig, i;
    while (ssi_sys3(SYS_read, s_pipe[0], (long)buf, sizeof(buf)) > 0)
        ;
    m = __atomic_exchange_n(&s_sigpend, 0, __ATOMIC_SEQ_CST);
    for (sig = 1; sig <= 64; sig++) {
        int32_t s = sig;
        if (!(m & (1ULL << (sig - 1))))
            continue;
        if (sig == SIGWINCH)
            for (i = 0; i < ssi_chans_count(); i++)
                s_send_winsz(ssi_chans_at(i));
        if (sig == SIGCONT)
            s_conts_sent++;
        s_send(SSI_TUNNEL_SIGNAL, 0, &s, sizeof(s));
    }
}

/* The body's side of c reached EOF and everything is written: pass the
 * EOF on to whoever reads the home descriptor. */
static void s_close_home(ssi_chans_chan_t *c)
{
    c->out_done = 1;
    if (c->flags & SSI_TUNNEL_CHAN_SOCKET)
        ssi_sys2(SYS_shutdown, c->fd, SHUT_WR);
    else if (c->dir == SSI_TUNNEL_DIR_OUT)
        ssi_sys1(SYS_close, c->fd);
    if (c->chan == 2 && c->fd != 2) {
        /* fd 2 was kept for our log lines: the reader waits for its EOF
         * too, unless the body has put a home file there since. */
        struct stat a;
        if (c->out_done && ssi_sys2(SYS_fstat, 2, (long)&a) == 0 && a.st_ino == c->home_ino &&
            a.st_dev == c->home_dev)
            ssi_sys1(SYS_close, 2);
    }
}

static void s_job_stopped(void);
static void s_write_home(ssi_chans_chan_t *c);
static int s_no_block; /* s_write_home without POLLOUT: only what cannot block */

static void s_frame_in(const ssi_tunnel_hdr_t *h)
{
    ssi_chans_chan_t *c = ssi_chans_find(h->chan);
    uint32_t v = 0;
    /* A run-time channel that ended here may still get a late credit or
     * CLOSE from the agent: nothing to do. */
    if (!c && h->chan >= SSI_TUNNEL_CHAN_DYN_MIN && h->type != SSI_TUNNEL_EXIT)
        return;
    switch (h->type) {
    case SSI_TUNNEL_DATA:
        if (!c || !(c->dir & SSI_TUNNEL_DIR_OUT) || c->out_eof)
            ssi_chans_lost(-EPROTO);
        if (c->out_done) {
            /* Home reader gone: drop, but keep the sender's window open. */
            s_send(SSI_TUNNEL_WINDOW_UPD, h->chan, &h->len, 4);
            return;
        }
        {
            uint32_t had = c->flow.queued;
            if (ssi_flow_received(&c->flow, h->len) < 0)
                ssi_chans_lost(-EPROTO); /* the agent ignored our window */
            if (!c->out) {
                long m = ssi_sys6(SYS_mmap, 0, c->flow.win, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m < 0 && m > -4096)
                    ssi_chans_lost(m);
                c->out = (uint8_t *)m;
            }
            if (c->out_off + had + h->len > c->flow.win) {
                ssi_sys_memcopy(c->out, c->out + c->out_off, had);
                c->out_off = 0;
            }
            ssi_sys_memcopy(c->out + c->out_off + had, s_frame, h->len);
        }
        /* A socket takes it without blocking (s_write_home): now, rather
         * than after one more poll. */
        if (c->flags & SSI_TUNNEL_CHAN_SOCKET) {
            s_no_block = 1;
            s_write_home(c);
            s_no_block = 0;
        }
        return;
    case SSI_TUNNEL_EOF:
        if (!c)
            ssi_chans_lost(-EPROTO);
        c->out_eof = 1;
        if (c->flow.queued == 0 && !c->out_done)
            s_close_home(c);
        return;
    case SSI_TUNNEL_CLOSE:
        /* The body closed its end: stop reading the home descriptor. */
        if (!c)
            ssi_chans_lost(-EPROTO);
        if (!c->in_done && c->dir == SSI_TUNNEL_DIR_IN)
            ssi_sys1(SYS_close, c->fd);
        c->in_done = 1;
        return;
    case SSI_TUNNEL_WINDOW_UPD:
        if (!c || h->len != 4)
            ssi_chans_lost(-EPROTO);
        ssi_sys_memcopy(&v, s_frame, 4);
        if (ssi_flow_credit(&c->flow, v) < 0)
            ssi_chans_lost(-EPROTO);
        return;
    case SSI_TUNNEL_EXIT: {
        ssi_tunnel_exit_t x;
        if (h->len != sizeof(x))
            ssi_chans_lost(-EPROTO);
        ssi_sys_memcopy(&x, s_frame, sizeof(x));
        s_exit_how = x.how == SSI_TUNNEL_SIGNALED ? SSI_TUNNEL_SIGNALED : SSI_TUNNEL_EXITED;
        s_exit_value = x.value;
        ssi_homecoming_arm(0); /* the program ended: nothing to recover */
        return;
    }
    case SSI_TUNNEL_HOME_REFUSE:
    case SSI_TUNNEL_HOME_IMAGE:
    case SSI_TUNNEL_HOME_INPUT:
    case SSI_TUNNEL_HOME_END:
    case SSI_TUNNEL_HOME_DONE: ssi_homecoming_frame(h, s_frame); return;
    case SSI_TUNNEL_STOPPED:
        if (h->len != sizeof(ssi_tunnel_stopped_t))
            ssi_chans_lost(-EPROTO);
        s_job_stopped();
        return;
    default: ssi_chans_lost(-EPROTO);
    }
}

/* Writes pending body output to the home descriptor. */
static void s_write_home(ssi_chans_chan_t *c)
{
    uint32_t k = c->flow.queued < S_WRITE_CHUNK ? c->flow.queued : S_WRITE_CHUNK, v;
    long n;
    /* A socket takes all it has room for without blocking (MSG_DONTWAIT,
     * whatever the file's flags): one write per wakeup instead of 4 KiB. */
    if (c->flags & SSI_TUNNEL_CHAN_SOCKET)
        n = ssi_sys6(SYS_sendto, c->fd, (long)(c->out + c->out_off), c->flow.queued,
                     MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0);
    else
        n = ssi_sys3(SYS_write, c->fd, (long)(c->out + c->out_off), k);
    if (n == -ENOTSOCK && s_no_block)
        return; /* not a socket after all: wait for POLLOUT */
    if (n == -ENOTSOCK)
        n = ssi_sys3(SYS_write, c->fd, (long)(c->out + c->out_off), k);
    if (n == -EINTR || n == -EAGAIN)
        return;
    if (n <= 0) {
        /* EPIPE and friends: the home reader is gone. Tell the agent,
         * which closes the body's end so that the body's next write gets
         * EPIPE/SIGPIPE, as it would have at home. */
        uint32_t drop = ssi_flow_drop(&c->flow);
        c->out_done = 1;
        if (n == -ECONNRESET && (c->flags & SSI_TUNNEL_CHAN_SOCKET) && !c->in_done) {
            /* The peer reset: this write took the error, so the read
             * side would only see EOF now. The agent ends both ways. */
            c->in_done = 1;
            s_send(SSI_TUNNEL_RESET, (unsigned)c->chan, 0, 0);
        } else
            s_send(SSI_TUNNEL_CLOSE, (unsigned)c->chan, 0, 0);
        if (drop)
            s_send(SSI_TUNNEL_WINDOW_UPD, (unsigned)c->chan, &drop, 4);
        return;
    }
    c->out_off += (uint32_t)n;
    /* Credit at half a window only (ssi_flow): a small request sends none
     * (the agent has plenty left), a stream gets it while the other half
     * is still in flight. */
    v = ssi_flow_written(&c->flow, (uint32_t)n);
    if (c->flow.queued == 0)
        c->out_off = 0;
    if (v)
        s_send(SSI_TUNNEL_WINDOW_UPD, (unsigned)c->chan, &v, 4);
    if (c->flow.queued == 0 && c->out_eof)
        s_close_home(c);
}

/* A connected seqpacket socket whose peer closed or shut down, once its
 * queue is read (its empty read is the end, not an empty message; an
 * empty message queued behind the peer's end is taken for it). */
static int s_seqpacket_ended(int fd)
{
    int type = 0;
    uint32_t l = sizeof(type);
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&l) < 0 ||
        type != SOCK_SEQPACKET)
        return 0;
    return ssi_sys3(SYS_poll, (long)&p, 1, 0) == 1 && (p.revents & POLLRDHUP);
}

/* The size of the next datagram of fd (peeked), or -errno; -EXDEV when it
 * carries descriptors (SCM_RIGHTS): they cannot go to another node, so it
 * stays at home, in the socket's queue, for the program once it is home
 * again (the copies the peek made here are closed). */
static long s_peek_dgram(int fd)
{
    static uint8_t cbuf[CMSG_SPACE(sizeof(int) * 64)];
    struct msghdr mh;
    struct cmsghdr *ch;
    long n, rights = 0;
    ssi_sys_memzero(&mh, sizeof(mh));
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    n = ssi_sys3(SYS_recvmsg, fd, (long)&mh,
                 MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 || mh.msg_controllen < sizeof(struct cmsghdr))
        return n;
    for (ch = CMSG_FIRSTHDR(&mh); ch && ch->cmsg_len >= sizeof(*ch);) {
        size_t next = CMSG_ALIGN(ch->cmsg_len);
        if (ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS) {
            int *fds = (int *)CMSG_DATA(ch);
            size_t k, nfd = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (k = 0; k < nfd; k++)
                ssi_sys1(SYS_close, fds[k]);
            rights = 1;
        }
        if ((uint8_t *)ch + next + sizeof(*ch) > cbuf + mh.msg_controllen)
            break;
        ch = (struct cmsghdr *)((uint8_t *)ch + next);
    }
    return rights || (mh.msg_flags & MSG_CTRUNC) ? -EXDEV : n;
}

/* Reads one datagram of home socket fd into frame (ssi_tunnel_dghdr_t +
 * payload, at most SSI_TUNNEL_DATA_MAX bytes) if it fits in credit: the
 * home end of a DGRAM channel. The frame's length, 0 at a seqpacket
 * socket's end, or -errno (-EAGAIN: none, or no credit). */
static long s_read_dgram(int fd, uint8_t *frame, uint32_t credit)
{
    ssi_tunnel_dghdr_t h;
    uint32_t alen = sizeof(h.addr);
    /* Its size first: a datagram goes whole or waits for credit. */
    long n = s_peek_dgram(fd);
    if (n < 0)
        return n;
    if (n == 0 && s_seqpacket_ended(fd))
        return 0;
    if (sizeof(h) + (n < (long)SSI_TUNNEL_DGRAM_MAX ? (uint64_t)n : SSI_TUNNEL_DGRAM_MAX) > credit)
        return -EAGAIN;
    ssi_sys_memzero(&h, sizeof(h));
    n = ssi_sys6(SYS_recvfrom, fd, (long)(frame + sizeof(h)), SSI_TUNNEL_DGRAM_MAX,
                 MSG_TRUNC | MSG_DONTWAIT, (long)h.addr, (long)&alen);
    if (n < 0)
        return n;
    h.len = (uint32_t)n;
    h.alen = (uint16_t)(alen < sizeof(h.addr) ? alen : sizeof(h.addr));
    ssi_sys_memcopy(frame, &h, sizeof(h));
    return (long)sizeof(h) + (n < (long)SSI_TUNNEL_DGRAM_MAX ? n : (long)SSI_TUNNEL_DGRAM_MAX);
}

/* Reads home input for the body, within the channel's window and the
 * link's budget (ssi_tunnel.h): the rest waits for credit. */
static void s_read_home(ssi_chans_chan_t *c)
{
    uint32_t k = ssi_flow_room(&c->flow, sizeof(s_rd), ssi_chans_inflight(),
                               ssi_tunnel_budget(ssi_chans_link()));
    long n;
    if (!k)
        return;
    if (c->flags & SSI_TUNNEL_CHAN_DGRAM) {
        /* One datagram per frame, with its source (netproxy). UDP has no
         * end: errors (ICMP's ECONNREFUSED, no credit yet) wait. */
        n = s_read_dgram(c->fd, s_rd, k);
        if (n == -EXDEV) /* held at home, and what follows it too (s_peek_dgram) */
            c->in_done = 1;
        else if (n == 0) { /* a seqpacket peer's end */
            c->in_done = 1;
            s_send(SSI_TUNNEL_EOF, (unsigned)c->chan, 0, 0);
        } else if (n > 0) {
            ssi_flow_sent(&c->flow, (uint32_t)n);
            s_send(SSI_TUNNEL_DATA, (unsigned)c->chan, s_rd, (uint32_t)n);
        }
        return;
    }
    n = ssi_sys3(SYS_read, c->fd, (long)s_rd, k);
    if (n == -EINTR || n == -EAGAIN)
        return;
    if (n <= 0) {
        c->in_done = 1;
        /* A reset peer must read as a reset in the body, not as EOF. */
        s_send(n == -ECONNRESET && (c->flags & SSI_TUNNEL_CHAN_SOCKET) ? SSI_TUNNEL_RESET
                                                                       : SSI_TUNNEL_EOF,
               (unsigned)c->chan, 0, 0);
        return;
    }
    /* The order of reads across a pipe's descriptors, should its bytes
     * go back home (ssi_homeinput.c). */
    if (!(c->flags & (SSI_TUNNEL_CHAN_SOCKET | SSI_TUNNEL_CHAN_TTY)))
        ssi_homeinput_note((unsigned)c->chan, (uint32_t)n);
    ssi_flow_sent(&c->flow, (uint32_t)n);
    s_send(SSI_TUNNEL_DATA, (unsigned)c->chan, s_rd, (uint32_t)n);
}

/* A listener polled readable: accept one connection at home and hand it
 * to the body as a new channel. accept does not block: poll said there
 * is one and only the deputy accepts on this socket. */
static void s_accept_home(ssi_chans_chan_t *l)
{
    uint8_t addr[128];
    uint32_t alen = sizeof(addr), tl = sizeof(int);
    long fd, h;
    int type = 0, seqpacket;
    if (ssi_chans_count() >= SSI_TUNNEL_MAX_CHANS)
        return;
    fd = ssi_sys4(SYS_accept4, l->fd, (long)addr, (long)&alen, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return; /* EAGAIN (gone meanwhile), ECONNABORTED, EMFILE: try again later */
    /* Blocking, like every other home descriptor the deputy relays. A
     * seqpacket connection is a datagram channel (its messages kept). */
    ssi_sys3(SYS_fcntl, fd, F_SETFL, 0);
    seqpacket = ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&type, (long)&tl) == 0 &&
                type == SOCK_SEQPACKET;
    h = ssi_chans_high_fd(fd);
    if (ssi_chans_new((int)h,
                      seqpacket ? SSI_TUNNEL_DIR_IN : SSI_TUNNEL_DIR_IN | SSI_TUNNEL_DIR_OUT,
                      SSI_TUNNEL_CHAN_SOCKET | (seqpacket ? SSI_TUNNEL_CHAN_DGRAM : 0),
                      (unsigned)l->chan, addr, alen) < 0)
        ssi_sys1(SYS_close, h);
}

/* The body stopped: stop too, with the same signal, so that the shell at
 * home sees the job stopped; SIGCONT then wakes us and is forwarded. A
 * stop older than a SIGCONT we forwarded since is stale. */
static void s_job_stopped(void)
{
    ssi_tunnel_stopped_t st;
    int sig;
    if (ssi_homecoming_active())
        return;
    ssi_sys_memcopy(&st, s_frame, sizeof(st));
    if (s_sigpend & (1ULL << (SIGCONT - 1)))
        s_flush_signals();
    if (st.conts < s_conts_sent)
        return;
    sig = st.sig == SIGTSTP || st.sig == SIGTTIN || st.sig == SIGTTOU ? st.sig : SIGSTOP;
    if (sig != SIGSTOP)
        s_sigaction(sig, SIG_DFL, 0);
    ssi_sys2(SYS_kill, ssi_sys0(SYS_getpid), sig);
    /* Continued (or the stop was discarded: orphaned process group). */
    if (sig != SIGSTOP)
        s_sigaction(sig, s_on_signal, ~0ULL);
}

/* ---- forwarded calls, counted for ssictl metrics ----------------------- */

static const char *s_ssid_path; /* ssid's local socket, or NULL: no reports */
static int s_ssid_fd = -1;      /* our own connection to it, made at the first report */
static uint64_t s_reported;     /* calls served that ssid was told of */
static long s_report_ms;        /* when it was last told */

void ssi_deputy_set_ssid_path(const char *path)
{
    s_ssid_path = path;
}

/* A connection of our own to ssid (never the one the process registered
 * with: the body's copy of that one is tunnelled through us, and a frame of
 * ours could land inside one of its frames). ssid knows us by our pid. */
static int s_ssid_connect(void)
{
    struct sockaddr_un sa;
    size_t n;
    long fd;
    ssi_sys_memzero(&sa, sizeof(sa));
    sa.sun_family = AF_UNIX;
    for (n = 0; s_ssid_path[n] && n < sizeof(sa.sun_path) - 1; n++)
        sa.sun_path[n] = s_ssid_path[n];
    fd = ssi_sys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (ssi_sys3(SYS_connect, fd, (long)&sa, sizeof(sa)) < 0) {
        ssi_sys1(SYS_close, fd);
        return -1;
    }
    return (int)ssi_chans_high_fd(fd);
}

/* Tells ssid how many calls the call server answered so far (CALLS), when
 * that changed and FORCE or a second passed since the last time. Returns
 * the ms until a report is due (-1: none is). Best effort: a full socket
 * or a gone ssid loses the report, never the body. */
static long s_report_calls(int force)
{
    uint64_t served = ssi_callsrv_served();
    long now = s_now_ms(), wait = s_report_ms + 1000 - now;
    static uint8_t frame[64];
    ssi_msg_writer_t w;
    long n, sent = 0;
    if (!s_ssid_path || served == s_reported)
        return -1;
    if (!force && wait > 0)
        return wait;
    if (s_ssid_fd < 0 && (s_ssid_fd = s_ssid_connect()) < 0) {
        s_ssid_path = NULL; /* no ssid to tell: no more reports */
        return -1;
    }
    ssi_msg_begin(&w, frame, sizeof(frame), SSI_MSG_CALLS);
    ssi_msg_put_u64(&w, SSI_TAG_CALLS, served);
    n = ssi_msg_end(&w);
    while (n > 0 && sent < n) {
        /* Whole or nothing: a frame cut short would garble the next. */
        long rc = ssi_sys6(SYS_sendto, s_ssid_fd, (long)(frame + sent), n - sent,
                           MSG_NOSIGNAL | (sent ? 0 : MSG_DONTWAIT), 0, 0);
        if (rc == -EINTR)
            continue;
        if (rc <= 0)
            break;
        sent += rc;
    }
    if (sent < n && sent > 0)
        s_ssid_path = NULL; /* the stream is out of step: no more reports */
    s_report_ms = now;
    s_reported = served;
    return -1;
}

/* ---- the body asked to come home (fork or exec away) ------------------- */

/* Asks ssid to bring the body home (HOME_ASK, as `ssictl migrate PID
 * home`), once the body asked us (ssi_homecoming_exec) and it is due. */
static void s_home_ask(void)
{
    static uint8_t frame[64];
    ssi_msg_writer_t w;
    long n, sent = 0;
    if (ssi_homecoming_self_due() != 0)
        return;
    if (!s_ssid_path || (s_ssid_fd < 0 && (s_ssid_fd = s_ssid_connect()) < 0)) {
        ssi_homecoming_self_asked("there is no ssid at home to bring it home");
        return;
    }
    ssi_msg_begin(&w, frame, sizeof(frame), SSI_MSG_HOME_ASK);
    ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)ssi_sys0(SYS_getpid));
    n = ssi_msg_end(&w);
    while (n > 0 && sent < n) {
        long rc =
            ssi_sys6(SYS_sendto, s_ssid_fd, (long)(frame + sent), n - sent, MSG_NOSIGNAL, 0, 0);
        if (rc == -EINTR)
            continue;
        if (rc <= 0)
            break;
        sent += rc;
    }
    ssi_homecoming_self_asked(n > 0 && sent == n ? NULL : "the deputy could not ask ssid at home");
}

/* ssid's answers on our connection (only HOME_ASK has one): an ERROR is
 * the reason the body does not come home. */
static void s_ssid_input(void)
{
    static uint8_t buf[4096];
    static size_t len;
    static ssi_msg_t m;
    long n =
        ssi_sys6(SYS_recvfrom, s_ssid_fd, (long)(buf + len), sizeof(buf) - len, MSG_DONTWAIT, 0, 0);
    if (n == -EAGAIN || n == -EINTR)
        return;
    if (n <= 0) {
        ssi_sys1(SYS_close, s_ssid_fd);
        s_ssid_fd = -1;
        len = 0;
        ssi_homecoming_self_answer(EIO, "ssid at home went away before it answered");
        return;
    }
    len += (size_t)n;
    for (;;) {
        long want = ssi_msg_frame_len(buf, len);
        uint64_t err = 0;
        char text[240];
        if (want == -EAGAIN || (want > 0 && (size_t)want > len && (size_t)want <= sizeof(buf)))
            return;
        if (want <= 0 || (size_t)want > sizeof(buf) || ssi_msg_parse(buf, (size_t)want, &m) < 0) {
            len = 0; /* out of step: drop it all */
            ssi_homecoming_self_answer(EPROTO, "a bad answer from ssid at home");
            return;
        }
        if (m.type == SSI_MSG_ERROR) {
            ssi_field_u64(ssi_msg_find(m.field, m.nfields, SSI_TAG_ERRNO), &err);
            if (ssi_field_str(ssi_msg_find(m.field, m.nfields, SSI_TAG_TEXT), text, sizeof(text)) <
                0)
                ssi_sys_strlcpy(text, "ssid at home refused", sizeof(text));
            ssi_homecoming_self_answer(err ? (int)err : EIO, text);
        } else {
            ssi_homecoming_self_answer(0, 0);
        }
        ssi_sys_memcopy(buf, buf + want, len - (size_t)want);
        len -= (size_t)want;
    }
}

__attribute__((noreturn)) static void s_finish(void)
{
    s_report_calls(1);
    ssi_homecoming_ended();
    ssi_tunnel_link_close(ssi_chans_link());
    if (s_exit_how == SSI_TUNNEL_SIGNALED)
        ssi_chans_die_by(s_exit_value);
    ssi_sys1(SYS_exit_group, s_exit_value & 0xff);
    __builtin_unreachable();
}

void ssi_deputy_run(void)
{
    struct itimerval zero;
    uint64_t all = ~0ULL;
    int sig, i;

    /* The body took the timers along; ours would only forward spurious
     * SIGALRMs. */
    ssi_sys_memzero(&zero, sizeof(zero));
    for (i = 0; i < 3; i++) {
        static const int timer_sig[3] = {SIGALRM, SIGVTALRM, SIGPROF};
        struct itimerval old;
        ssi_sys3(SYS_setitimer, i, (long)&zero, (long)&old);
        if (old.it_value.tv_sec || old.it_value.tv_usec) {
            /* A tick that fired after the image was taken belongs to the
             * body's copy of this timer: drop it, do not forward it. */
            uint64_t set = 1ULL << (timer_sig[i] - 1);
            struct timespec now = {0, 0};
            while (ssi_sys4(SYS_rt_sigtimedwait, (long)&set, 0, (long)&now, 8) > 0)
                ;
        }
    }
    ssi_kobj_deputy(); /* the POSIX timers, likewise */
    if (ssi_sys2(SYS_pipe2, (long)s_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        ssi_chans_lost(-EMFILE); /* cannot forward signals: give the body up */
    s_pipe[0] = (int)ssi_chans_high_fd(s_pipe[0]);
    s_pipe[1] = (int)ssi_chans_high_fd(s_pipe[1]);
    /* The tunnels' home descriptors move up too (chan keeps the number). */
    for (i = 0; i < ssi_chans_count(); i++) {
        ssi_chans_chan_t *c = ssi_chans_at(i);
        struct stat st;
        if (c->fd == 2 && ssi_sys2(SYS_fstat, 2, (long)&st) == 0) {
            c->home_dev = st.st_dev;
            c->home_ino = st.st_ino;
        }
        if (!(c->flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_SOCKET)) || c->chan <= 2)
            c->fd = (int)ssi_chans_high_fd(c->fd);
    }
    /* A socket above 2 stays at the body's number: getsockname and friends
     * name it there, and the body's close is forwarded (netproxy), which
     * moves it up then. The call server refuses numbers from the fd
     * base up (ssi_chans_fd_base). */
    /* Nobody may freeze the deputy: the freeze signal asks it to bring
     * its body home. A write to a closed home reader is an EPIPE we
     * report per channel. */
    ssi_homecoming_init(s_pipe[0], s_pipe[1]);
    s_sigaction(SIGPIPE, SIG_IGN, 0);
    for (sig = 1; sig <= 64; sig++)
        if (s_forwarded(sig))
            s_sigaction(sig, s_on_signal, all);
    s_chld();
    s_release_memory();
    /* We are inside the freeze handler: everything is blocked. Signals
     * that arrived since the freeze are delivered now and forwarded. */
    s_sigmask(SIG_SETMASK, 0);
    for (i = 0; i < ssi_chans_count(); i++)
        s_send_winsz(ssi_chans_at(i));

    for (;;) {
        struct pollfd p[4 + SSI_TUNNEL_MAX_CHANS];
        int idx[4 + SSI_TUNNEL_MAX_CHANS], n = 0, room, home, nch, ssid_i = -1;
        long rc;

        if (s_exit_how && ssi_chans_all_flushed())
            s_finish();
        if (ssi_homecoming_wanted() && !s_exit_how && ssi_homecoming_begin()) {
            /* Signals wait in the kernel from now on: forwarded if the
             * homecoming fails, the program's if it succeeds. Those
             * already caught go to the body first. During a checkpoint,
             * not ssid's probe (the freeze signal): a node that dies then
             * is noticed within seconds, not at the deadline. (A real
             * homecoming keeps it pending for the program: a chained
             * move's next freeze.) */
            s_sigmask(SIG_BLOCK,
                      ssi_homecoming_is_ckpt() ? ~(1ULL << (SSI_FREEZE_SIGNAL - 1)) : ~0ULL);
            s_flush_signals();
            s_report_calls(1);
            ssi_homecoming_ask();
        }
        if (!s_exit_how)
            s_home_ask();
        home = ssi_homecoming_active();
        if (home) {
            ssi_homecoming_step();
            home = ssi_homecoming_active();
        }
        ssi_chans_sweep();
        p[n].fd = ssi_tunnel_link_fd(ssi_chans_link());
        p[n++].events = s_exit_how ? 0 : POLLIN;
        p[n].fd = s_pipe[0];
        p[n++].events = POLLIN;
        p[n].fd = ssi_callsrv_fd();
        p[n++].events = s_exit_how ? 0 : POLLIN;
        room = ssi_chans_inflight() < ssi_tunnel_budget(ssi_chans_link());
        for (i = 0; i < ssi_chans_count(); i++) {
            ssi_chans_chan_t *c = ssi_chans_at(i);
            short ev = 0;
            if ((c->flags & SSI_TUNNEL_CHAN_LISTEN) && !c->dead && c->fd >= 0 && !s_exit_how &&
                !home && ssi_chans_count() < SSI_TUNNEL_MAX_CHANS)
                ev |= POLLIN;
            /* Coming home: the body must get no more home input. */
            if (!c->in_done && c->flow.credit > 0 && room && !s_exit_how && !home)
                ev |= POLLIN;
            if (c->flow.queued && !c->out_done)
                ev |= POLLOUT;
            if (!ev)
                continue;
            p[n].fd = c->fd;
            p[n].events = ev;
            idx[n++] = i;
        }
        nch = n;
        if (s_ssid_fd >= 0) {
            /* ssid's answer to HOME_ASK, or its end. */
            ssid_i = n;
            p[n].fd = s_ssid_fd;
            p[n++].events = POLLIN;
        }
        for (i = 0; i < n; i++)
            p[i].revents = 0;
        /* A request already read ahead (with the handshake) polls as
         * nothing: serve it first. */
        if (!s_exit_how && ssi_callsrv_pending())
            ssi_callsrv_serve();
        {
            /* Coming home has a deadline: wake up to check it; a count of
             * calls not yet reported is due within a second. */
            struct timespec tick = {1, 0};
            long due = s_report_calls(0), probe = s_exit_how ? -1 : ssi_homecoming_probe_step();
            long ask = ssi_homecoming_self_due();
            if (probe >= 0 && (due < 0 || probe < due))
                due = probe;
            if (ask >= 0 && (due < 0 || ask < due))
                due = ask;
            if (due >= 0 && !home) {
                tick.tv_sec = due / 1000;
                tick.tv_nsec = (due % 1000) * 1000000L;
            }
            rc = ssi_sys5(SYS_ppoll, (long)p, n, home || due >= 0 ? (long)&tick : 0, 0, 8);
        }
        if (s_sigpend)
            s_flush_signals();
        if (rc <= 0)
            continue;
        if (p[0].revents) {
            /* Whole frames only; ssi_chan may have read ahead. */
            /* EXIT is the last frame: what follows is the agent's end of
             * stream, not a lost body. */
            do {
                ssi_tunnel_hdr_t h;
                rc = ssi_tunnel_recv(ssi_chans_link(), &h, s_frame, sizeof(s_frame));
                if (rc < 0)
                    ssi_chans_lost(rc);
                s_frame_in(&h);
            } while (!s_exit_how && ssi_tunnel_pending(ssi_chans_link()));
        }
        if (p[2].revents && !s_exit_how) {
            /* Forwarded file calls. A blocking one (F_SETLKW, flock
             * without LOCK_NB) stalls the tunnels meanwhile. */
            /* A call link that ends is not the end of the body: its EXIT
             * (or the data link's loss) says that. */
            ssi_callsrv_serve();
        }
        if (ssid_i >= 0 && p[ssid_i].revents)
            s_ssid_input();
        for (i = 3; i < nch; i++) {
            ssi_chans_chan_t *c = ssi_chans_at(idx[i]);
            short r = p[i].revents;
            if (!r)
                continue;
            if (c->flags & SSI_TUNNEL_CHAN_LISTEN) {
                if (!c->dead && !s_exit_how)
                    s_accept_home(c);
                continue;
            }
            if ((r & (POLLOUT | POLLERR)) && c->flow.queued && !c->out_done)
                s_write_home(c);
            if ((r & (POLLIN | POLLHUP | POLLERR)) && !c->in_done && c->flow.credit > 0 &&
                (p[i].events & POLLIN) && !ssi_homecoming_active())
                s_read_home(c);
        }
    }
}
