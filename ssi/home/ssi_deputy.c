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
 */
#include "ssi_deputy.h"

#include "ssi_freeze.h"
#include "ssi_sys.h"
#include "ssi_tunnel_link.h"
#include "ssi_net.h"
#include "ssi_vfs.h"

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
#include <termios.h>
#include <time.h>

#define S_MAPS_BUF (256 * 1024)
/* <= PIPE_BUF: a write of this size to a pipe that polled writable does
 * not block, so one slow consumer cannot stall the others for long. */
#define S_WRITE_CHUNK 4096

/* One tunnel as the deputy sees it: the home descriptor `fd`. */
typedef struct {
    int chan;            /* the channel id: the fd number in the body (and here at freeze) */
    uint64_t home_dev, home_ino; /* of fd 2, kept open at its number for log lines */
    int fd;              /* the home descriptor, moved to a high slot (s_fd_base) */
    uint8_t dir, flags;  /* SSI_TUNNEL_DIR_*, SSI_TUNNEL_CHAN_* */
    uint32_t win;        /* ssi_tunnel_window(flags) */
    int in_done;         /* home -> body: EOF sent, or the body closed */
    uint32_t credit;     /* bytes we may still send on this channel */
    uint32_t out_off, out_len; /* body -> home bytes waiting in out[] */
    uint32_t unacked;    /* written at home, credit not yet returned */
    int out_eof;         /* the body's side reached EOF: close after flushing */
    int out_done;        /* home side closed (EOF done or EPIPE) */
    int dynamic;         /* added at run time (netproxy): removed once done */
    int dead;            /* to be removed at the top of the loop */
    /* win bytes, mapped at the first DATA: after s_release_memory, which
     * would take it, and only for channels that carry data. */
    uint8_t *out;
} s_chan_t;

static ssi_tunnel_link_t s_link;
static s_chan_t s_chans[SSI_TUNNEL_MAX_CHANS];
static int s_nchans;
static uint8_t s_frame[SSI_TUNNEL_DATA_MAX];
static uint8_t s_rd[SSI_TUNNEL_DATA_MAX];
static char s_maps[S_MAPS_BUF];
static int s_pipe[2] = {-1, -1};
static volatile uint64_t s_sigpend;
static int s_exit_how, s_exit_value;
static uint32_t s_conts_sent; /* SIGCONTs forwarded (job control) */
/* The deputy's own descriptors (links, self-pipe, the tunnels' home fds)
 * live at or above this: every lower number is the body's, whose home
 * files (vfs-proxy) the deputy opens at the numbers the body picks. */
static int s_fd_base;

/* libssi.so's own extent: the deputy's code and static state live there
 * and must survive the memory release. */
extern char __ehdr_start[] __attribute__((visibility("hidden")));
extern char _end[] __attribute__((visibility("hidden")));

/* The signal trampoline for handlers we install with raw rt_sigaction. */
void ssi_deputy_sigreturn(void) __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".globl ssi_deputy_sigreturn\n"
        ".hidden ssi_deputy_sigreturn\n"
        ".type ssi_deputy_sigreturn,@function\n"
        "ssi_deputy_sigreturn:\n"
        "  mov $15, %eax\n" /* rt_sigreturn */
        "  syscall\n"
        "  hlt\n"
        ".size ssi_deputy_sigreturn, .-ssi_deputy_sigreturn\n");

#define S_SA_RESTORER 0x04000000

/* ---- small helpers ------------------------------------------------------ */

static long s_sigaction(int sig, void (*h)(int), uint64_t mask)
{
    ssi_image_sigaction_t sa = {.handler = (uint64_t)h, .flags = S_SA_RESTORER,
                                .restorer = (uint64_t)ssi_deputy_sigreturn, .mask = mask};
    /* No SA_RESTART on purpose: a signal must interrupt a blocking write
     * to a stalled home descriptor so that it is forwarded at once. */
    return ssi_sys4(SYS_rt_sigaction, sig, (long)&sa, 0, 8);
}

static void s_sigmask(int how, uint64_t set)
{
    ssi_sys4(SYS_rt_sigprocmask, how, (long)&set, 0, 8);
}

/* Which signals the deputy forwards to the body: every catchable one but
 * the synchronous faults (a fault here is the deputy's own bug), SIGCHLD
 * (about home children the body cannot wait for yet), SIGPIPE (ours: a
 * closed home reader is reported per channel) and the freeze signal. */
static int s_forwarded(int sig)
{
    switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL:
    case SIGTRAP: case SIGSYS: case SIGCHLD: case SIGPIPE: case SSI_FREEZE_SIGNAL:
        return 0;
    default:
        return sig >= 1 && sig <= 64;
    }
}

static void s_on_signal(int sig)
{
    char b = 0;
    __atomic_fetch_or(&s_sigpend, 1ULL << (sig - 1), __ATOMIC_SEQ_CST);
    ssi_sys3(SYS_write, s_pipe[1], (long)&b, 1);
}

/* Leaves as if killed by sig (the parent's wait sees WIFSIGNALED). */
__attribute__((noreturn)) static void s_die_by(int sig)
{
    uint64_t zero[2] = {0, 0};
    long pid = ssi_sys0(SYS_getpid);
    if (sig < 1 || sig > 64 || sig == SIGSTOP)
        sig = SIGKILL;
    /* The body already dumped core where it ran, if at all. */
    ssi_sys4(SYS_prlimit64, 0, RLIMIT_CORE, (long)zero, 0);
    if (sig != SIGKILL)
        s_sigaction(sig, SIG_DFL, 0);
    s_sigmask(SIG_UNBLOCK, 1ULL << (sig - 1));
    ssi_sys2(SYS_kill, pid, sig);
    /* Signals whose default is to ignore cannot kill; nor could they have
     * killed the body. Keep the shell's convention. */
    ssi_sys1(SYS_exit_group, 128 + sig);
    __builtin_unreachable();
}

/* The body is unreachable: it is gone, or will be killed by its agent. */
__attribute__((noreturn)) static void s_lost(long err)
{
    ssi_sys_log("ssi-deputy: ", "lost the connection to the body's agent; the body is gone, exiting as killed by "
          "SIGKILL",
          0, err);
    s_die_by(SIGKILL);
}

static s_chan_t *s_chan(unsigned id)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].chan == (int)id)
            return &s_chans[i];
    return 0;
}

/* ssi_chan needs libsodium initialised, and sodium_init() is not for a
 * signal handler: do it when the program starts. */
__attribute__((constructor)) static void s_deputy_ctor(void)
{
    if (sodium_init() < 0)
        ssi_sys_log("ssi-deputy: ", "libsodium failed to initialise; migration will not connect", 0, 0);
}

static void s_send(unsigned type, unsigned chan, const void *p, uint32_t len)
{
    long rc = ssi_tunnel_send(&s_link, type, chan, p, len);
    if (rc < 0)
        s_lost(rc);
}

/* ---- connect ------------------------------------------------------------- */

/* Where the deputy keeps its own descriptors: near the top of the body's
 * RLIMIT_NOFILE (the same as ours), so that files the body opens can take
 * every lower number here too. Not above it: raising our limit would change
 * the process if the move fails and it thaws at home. */
static void s_pick_fd_base(void)
{
    struct rlimit rl;
    long soft;
    if (s_fd_base)
        return;
    if (ssi_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&rl) < 0 || rl.rlim_cur > (1 << 20))
        rl.rlim_cur = 1024;
    soft = (long)rl.rlim_cur;
    s_fd_base = soft > 1280 ? (int)soft - 256 : (soft > 128 ? (int)soft - 64 : (int)soft / 2);
}

/* Moves fd to the deputy's range (closes the old number, but fd 2: the
 * deputy's own last words go to the home stderr). */
static long s_high_fd(long fd)
{
    long h;
    if (fd < 0 || fd >= s_fd_base)
        return fd;
    h = ssi_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, s_fd_base);
    if (h < 0)
        return fd;
    if (fd != 2)
        ssi_sys1(SYS_close, fd);
    return h;
}

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
    s_pick_fd_base();
    fd = ssi_sys3(SYS_socket, d->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fd;
    fd = s_high_fd(fd);
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

long ssi_deputy_connect(const ssi_image_deputy_t *d)
{
    ssi_tunnel_hello_t hello;
    ssi_tunnel_accept_t acc;
    ssi_tunnel_hdr_t h;
    long fd, rc;
    uint32_t i;

    if (d->magic != SSI_IMAGE_DEPUTY_MAGIC)
        return -EPROTO;
    fd = s_tcp_connect(d);
    if (fd < 0) {
        ssi_sys_log("ssi-deputy: ", "cannot reach the body's agent; continuing at home", 0, fd);
        return fd;
    }
    /* The agent answers the handshake only once the body runs, so the
     * handshake may take as long as the restore. */
    rc = ssi_tunnel_link_init(&s_link, (int)fd, d->key, 1,
                              d->accept_timeout_ms ? (int)d->accept_timeout_ms : 30000);
    if (rc < 0) {
        ssi_sys_log("ssi-deputy: ", rc == -EKEYREJECTED ? "the body's agent has another key; continuing at home"
                                  : "no handshake with the body's agent; continuing at home",
              0, rc);
        ssi_sys1(SYS_close, fd);
        return rc;
    }
    hello.magic = SSI_TUNNEL_MAGIC;
    hello.version = SSI_TUNNEL_VERSION;
    hello.home_pid = (int32_t)ssi_sys0(SYS_getpid);
    rc = ssi_tunnel_send(&s_link, SSI_TUNNEL_HELLO, 0, &hello, sizeof(hello));
    if (rc == 0)
        rc = ssi_tunnel_recv_wait(&s_link, &h, s_frame, sizeof(s_frame),
                                  d->accept_timeout_ms ? (int)d->accept_timeout_ms : 30000);
    if (rc == 1 && h.type == SSI_TUNNEL_REFUSE) {
        s_frame[h.len < sizeof(s_frame) ? h.len : sizeof(s_frame) - 1] = 0;
        ssi_sys_log("ssi-deputy: ", "the body's agent refused: ", (const char *)s_frame, 0);
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
        if (rc != -ECONNREFUSED)
            ssi_sys_log("ssi-deputy: ", "no answer from the body's agent; continuing at home", 0, rc);
        ssi_tunnel_link_close(&s_link);
        return rc;
    }
    /* The vfs-proxy's call link: a second connection to the agent, which
     * hands it to the body; the handshake ends once the body runs it. */
    fd = s_tcp_connect(d);
    rc = fd < 0 ? fd
                : ssi_vfs_deputy_attach((int)fd, d->key,
                                        d->accept_timeout_ms ? (int)d->accept_timeout_ms : 30000);
    if (rc < 0) {
        if (fd >= 0)
            ssi_sys1(SYS_close, fd);
        ssi_sys_log("ssi-deputy: ", "no call link with the body; continuing at home", 0, rc);
        ssi_tunnel_link_close(&s_link);
        return rc;
    }
    s_nchans = 0;
    for (i = 0; i < acc.nchans; i++) {
        ssi_tunnel_chan_t c;
        s_chan_t *ch = &s_chans[s_nchans++];
        ssi_sys_memcopy(&c, s_frame + sizeof(acc) + i * sizeof(c), sizeof(c));
        ch->chan = c.chan;
        ch->fd = c.chan;
        ch->dir = c.dir;
        ch->flags = c.flags;
        ch->in_done = !(c.dir & SSI_TUNNEL_DIR_IN);
        ch->win = ssi_tunnel_window(c.flags);
        ch->credit = ch->win;
        ch->out = 0;
        ch->out_off = ch->out_len = ch->unacked = 0;
        ch->out_eof = ch->out_done = 0;
        ch->dynamic = ch->dead = 0;
        if (c.flags & SSI_TUNNEL_CHAN_LISTEN)
            ch->in_done = ch->out_done = 1;
    }
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
    while ((n = ssi_sys3(SYS_read, fd, (long)(s_maps + used), (long)(sizeof(s_maps) - 1 - used))) > 0)
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
        anon = *path == '\n' || *path == 0 || (path[0] == '[' && (path[1] == 'h' || path[1] == 's' ||
                                                                   path[1] == 'a'));
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

long ssi_deputy_tty_fd(int chan)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].chan == chan && (s_chans[i].flags & SSI_TUNNEL_CHAN_TTY))
            return s_chans[i].fd;
    return -EBADF;
}

static void s_send_winsz(s_chan_t *c)
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
            for (i = 0; i < s_nchans; i++)
                s_send_winsz(&s_chans[i]);
        if (sig == SIGCONT)
            s_conts_sent++;
        s_send(SSI_TUNNEL_SIGNAL, 0, &s, sizeof(s));
    }
}

/* The body's side of c reached EOF and everything is written: pass the
 * EOF on to whoever reads the home descriptor. */
static void s_close_home(s_chan_t *c)
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

static void s_home_frame(const ssi_tunnel_hdr_t *h);
static void s_job_stopped(void);
static void s_write_home(s_chan_t *c);
static int s_no_block; /* s_write_home without POLLOUT: only what cannot block */

static void s_frame_in(const ssi_tunnel_hdr_t *h)
{
    s_chan_t *c = s_chan(h->chan);
    uint32_t v = 0;
    /* A run-time channel that ended here may still get a late credit or
     * CLOSE from the agent: nothing to do. */
    if (!c && h->chan >= SSI_TUNNEL_CHAN_DYN_MIN && h->type != SSI_TUNNEL_EXIT)
        return;
    switch (h->type) {
    case SSI_TUNNEL_DATA:
        if (!c || !(c->dir & SSI_TUNNEL_DIR_OUT) || c->out_eof)
            s_lost(-EPROTO);
        if (c->out_done) {
            /* Home reader gone: drop, but keep the sender's window open. */
            s_send(SSI_TUNNEL_WINDOW_UPD, h->chan, &h->len, 4);
            return;
        }
        if (c->out_len + c->unacked + h->len > c->win)
            s_lost(-EPROTO); /* the agent ignored our window */
        if (!c->out) {
            long m = ssi_sys6(SYS_mmap, 0, c->win, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m < 0 && m > -4096)
                s_lost(m);
            c->out = (uint8_t *)m;
        }
        if (c->out_off + c->out_len + h->len > c->win) {
            ssi_sys_memcopy(c->out, c->out + c->out_off, c->out_len);
            c->out_off = 0;
        }
        ssi_sys_memcopy(c->out + c->out_off + c->out_len, s_frame, h->len);
        c->out_len += h->len;
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
            s_lost(-EPROTO);
        c->out_eof = 1;
        if (c->out_len == 0 && !c->out_done)
            s_close_home(c);
        return;
    case SSI_TUNNEL_CLOSE:
        /* The body closed its end: stop reading the home descriptor. */
        if (!c)
            s_lost(-EPROTO);
        if (!c->in_done && c->dir == SSI_TUNNEL_DIR_IN)
            ssi_sys1(SYS_close, c->fd);
        c->in_done = 1;
        return;
    case SSI_TUNNEL_WINDOW_UPD:
        if (!c || h->len != 4)
            s_lost(-EPROTO);
        ssi_sys_memcopy(&v, s_frame, 4);
        if (v > c->win - c->credit)
            s_lost(-EPROTO);
        c->credit += v;
        return;
    case SSI_TUNNEL_EXIT: {
        ssi_tunnel_exit_t x;
        if (h->len != sizeof(x))
            s_lost(-EPROTO);
        ssi_sys_memcopy(&x, s_frame, sizeof(x));
        s_exit_how = x.how == SSI_TUNNEL_SIGNALED ? SSI_TUNNEL_SIGNALED : SSI_TUNNEL_EXITED;
        s_exit_value = x.value;
        return;
    }
    case SSI_TUNNEL_HOME_REFUSE:
    case SSI_TUNNEL_HOME_IMAGE:
    case SSI_TUNNEL_HOME_END:
    case SSI_TUNNEL_HOME_DONE:
        s_home_frame(h);
        return;
    case SSI_TUNNEL_STOPPED:
        if (h->len != sizeof(ssi_tunnel_stopped_t))
            s_lost(-EPROTO);
        s_job_stopped();
        return;
    default:
        s_lost(-EPROTO);
    }
}

/* Writes pending body output to the home descriptor. */
static void s_write_home(s_chan_t *c)
{
    uint32_t k = c->out_len < S_WRITE_CHUNK ? c->out_len : S_WRITE_CHUNK;
    long n;
    /* A socket takes all it has room for without blocking (MSG_DONTWAIT,
     * whatever the file's flags): one write per wakeup instead of 4 KiB. */
    if (c->flags & SSI_TUNNEL_CHAN_SOCKET)
        n = ssi_sys6(SYS_sendto, c->fd, (long)(c->out + c->out_off), c->out_len,
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
        uint32_t drop = c->out_len + c->unacked;
        c->out_len = c->unacked = 0;
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
    c->out_len -= (uint32_t)n;
    c->unacked += (uint32_t)n;
    if (c->out_len == 0)
        c->out_off = 0;
    /* Credit at half a window only: a small request sends none (the
     * agent has plenty left), a stream gets it while the other half is
     * still in flight. */
    if (c->unacked >= c->win / 2) {
        s_send(SSI_TUNNEL_WINDOW_UPD, (unsigned)c->chan, &c->unacked, 4);
        c->unacked = 0;
    }
    if (c->out_len == 0 && c->out_eof)
        s_close_home(c);
}

/* Reads home input for the body, within the channel's window. */
static uint32_t s_inflight(void)
{
    uint32_t t = 0;
    int i;
    for (i = 0; i < s_nchans; i++)
        t += s_chans[i].win - s_chans[i].credit;
    return t;
}

static void s_read_home(s_chan_t *c)
{
    uint32_t k = c->credit < sizeof(s_rd) ? c->credit : (uint32_t)sizeof(s_rd);
    uint32_t used = s_inflight(), b = ssi_tunnel_budget(&s_link);
    long n;
    /* The link's budget (ssi_tunnel.h): the rest waits for credit. */
    if (used >= b)
        return;
    if (k > b - used)
        k = b - used;
    if (c->flags & SSI_TUNNEL_CHAN_DGRAM) {
        /* One datagram per frame, with its source (netproxy). UDP has no
         * end: errors (ICMP's ECONNREFUSED, no credit yet) wait. */
        n = ssi_net_dgram_read(c->fd, s_rd, k);
        if (n > 0) {
            c->credit -= (uint32_t)n;
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
    c->credit -= (uint32_t)n;
    s_send(SSI_TUNNEL_DATA, (unsigned)c->chan, s_rd, (uint32_t)n);
}

/* ---- channels added at run time (netproxy) ------------------------------ */

static unsigned s_next_chan = SSI_TUNNEL_CHAN_DYN_MIN;

static s_chan_t *s_chan_by_fd(int fd)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].fd == fd && !s_chans[i].dead)
            return &s_chans[i];
    return 0;
}

/* Adds a channel for home socket fd and tells the agent (NEWCHAN). */
static long s_chan_new(int fd, unsigned dir, unsigned flags, unsigned parent, const void *addr,
                       uint32_t alen)
{
    ssi_tunnel_newchan_t m;
    s_chan_t *c;
    unsigned id, tries;
    if (s_nchans >= SSI_TUNNEL_MAX_CHANS)
        return -EMFILE;
    for (tries = 0;; tries++) {
        id = s_next_chan++;
        if (s_next_chan > 65535)
            s_next_chan = SSI_TUNNEL_CHAN_DYN_MIN;
        if (!s_chan(id))
            break;
        if (tries > 65536)
            return -EMFILE;
    }
    c = &s_chans[s_nchans++];
    c->chan = (int)id;
    c->fd = fd;
    c->dir = (uint8_t)dir;
    c->flags = (uint8_t)flags;
    c->in_done = (flags & SSI_TUNNEL_CHAN_LISTEN) || !(dir & SSI_TUNNEL_DIR_IN);
    c->win = ssi_tunnel_window(flags);
    c->credit = c->win;
    c->out = 0;
    c->out_off = c->out_len = c->unacked = 0;
    c->out_eof = 0;
    c->out_done = (flags & SSI_TUNNEL_CHAN_LISTEN) || !(dir & SSI_TUNNEL_DIR_OUT);
    c->dynamic = 1;
    c->dead = 0;
    ssi_sys_memzero(&m, sizeof(m));
    m.chan = (uint16_t)id;
    m.dir = (uint8_t)dir;
    m.flags = (uint8_t)flags;
    m.parent = (uint16_t)parent;
    if (addr && alen) {
        m.alen = (uint16_t)(alen < sizeof(m.addr) ? alen : sizeof(m.addr));
        ssi_sys_memcopy(m.addr, addr, m.alen);
    }
    s_send(SSI_TUNNEL_NEWCHAN, id, &m, sizeof(m));
    return (long)id;
}

int ssi_deputy_chan_has_fd(int fd)
{
    return s_chan_by_fd(fd) != 0;
}

int ssi_deputy_chan_std_fd(unsigned chan)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].chan == (int)chan && !s_chans[i].dynamic && !s_chans[i].dead &&
            (s_chans[i].flags & SSI_TUNNEL_CHAN_SOCKET))
            return s_chans[i].fd;
    return -1;
}

long ssi_deputy_chan_add(int fd, unsigned dir, unsigned flags)
{
    return s_chan_new(fd, dir, flags, SSI_TUNNEL_NOPARENT, 0, 0);
}

int ssi_deputy_chan_release_fd(int fd)
{
    s_chan_t *c = s_chan_by_fd(fd);
    if (!c)
        return 0;
    if (c->flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_DGRAM)) {
        /* Nobody accepts (receives) any more: close at home, end the
         * channel. */
        ssi_sys1(SYS_close, fd);
        c->fd = -1;
        c->dead = 1;
        s_send(SSI_TUNNEL_CLOSE, (unsigned)c->chan, 0, 0);
        return 1;
    }
    /* The connection lives on until both directions are done (the body
     * may hold a dup); the number is the body's again. */
    {
        long h = ssi_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, s_fd_base);
        if (h >= 0) {
            ssi_sys1(SYS_close, fd);
            c->fd = (int)h;
        }
    }
    return 1;
}

long ssi_deputy_chan_attach(unsigned chan, int fd)
{
    s_chan_t *c = s_chan(chan);
    long rc;
    if (!c || !c->dynamic || (c->flags & SSI_TUNNEL_CHAN_LISTEN) || fd < 0 || fd >= s_fd_base)
        return -EBADF;
    if (c->fd == fd)
        return 0;
    rc = ssi_sys3(SYS_dup3, c->fd, fd, O_CLOEXEC);
    if (rc < 0)
        return rc;
    ssi_sys1(SYS_close, c->fd);
    c->fd = fd;
    return 0;
}

/* A listener polled readable: accept one connection at home and hand it
 * to the body as a new channel. accept does not block: poll said there
 * is one and only the deputy accepts on this socket. */
static void s_accept_home(s_chan_t *l)
{
    uint8_t addr[128];
    uint32_t alen = sizeof(addr);
    long fd, h;
    if (s_nchans >= SSI_TUNNEL_MAX_CHANS)
        return;
    fd = ssi_sys4(SYS_accept4, l->fd, (long)addr, (long)&alen, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return; /* EAGAIN (gone meanwhile), ECONNABORTED, EMFILE: try again later */
    /* Blocking, like every other home descriptor the deputy relays. */
    ssi_sys3(SYS_fcntl, fd, F_SETFL, 0);
    h = s_high_fd(fd);
    if (s_chan_new((int)h, SSI_TUNNEL_DIR_IN | SSI_TUNNEL_DIR_OUT, SSI_TUNNEL_CHAN_SOCKET,
                   (unsigned)l->chan, addr, alen) < 0)
        ssi_sys1(SYS_close, h);
}

/* Removes the run-time channels that are done both ways (and the dead). */
static void s_sweep(void)
{
    int i;
    for (i = 0; i < s_nchans;) {
        s_chan_t *c = &s_chans[i];
        if (c->dynamic && !(c->flags & SSI_TUNNEL_CHAN_LISTEN) && c->in_done && c->out_done)
            c->dead = 1;
        if (!c->dead) {
            i++;
            continue;
        }
        if (c->fd >= 0 && !(c->flags & SSI_TUNNEL_CHAN_LISTEN))
            ssi_sys1(SYS_close, c->fd);
        if (c->out)
            ssi_sys2(SYS_munmap, (long)c->out, c->win);
        if (i != s_nchans - 1)
            ssi_sys_memcopy(c, &s_chans[s_nchans - 1], sizeof(*c)); /* the last one moves here */
        s_nchans--;
    }
}

static int s_all_flushed(void)
{
    int i;
    for (i = 0; i < s_nchans; i++)
        if (s_chans[i].out_len && !s_chans[i].out_done)
            return 0;
    return 1;
}

/* ---- coming home ----------------------------------------------------------
 *
 * ssid (ssi-freeze --home) sigqueues the freeze signal with a token; we
 * connect to the token's socket like a freeze does and read the request.
 * Then: stop reading home input, forward the signals already caught and
 * block the others (they wait in the kernel: forwarded if the homecoming
 * fails, delivered to the program at home if it succeeds), HOME_REQ to
 * the agent. It sends the body's last output (written out here as usual),
 * the image (kept in a memfd) and HOME_END. Once all output is written we
 * dry-run the restorer over the memfd (ssi-restore --check in a child that
 * inherits our descriptors) and commit ('X') or give up ('C'). After
 * HOME_DONE (the body is gone) this process execs ssi-restore --in-place:
 * it becomes the program again, at home, with its pid, parent and
 * descriptors. Nothing that can fail comes after the commit but the exec
 * of a restorer that the dry run just ran. docs/ENGINE.md, "Coming home". */

#define S_SA_SIGINFO 4
#define S_HOME_TIMEOUT_MS 120000

static volatile int s_home_token = -1;
static int s_home_state; /* 0 idle; 1 asked; 2 image complete; 3 committed */
static long s_home_req_fd = -1, s_home_mem = -1, s_home_err;
static long s_home_deadline;
static ssi_image_home_t s_home_req;
static char s_home_why[400];

static void s_on_home_signal(int sig, siginfo_t *si, void *uc)
{
    char b = 0;
    (void)sig;
    (void)uc;
    if (si->si_code != SI_QUEUE || si->si_value.sival_int < 0)
        return;
    if (si->si_uid != 0 && si->si_uid != (uid_t)ssi_sys0(SYS_getuid))
        return;
    if (s_home_token < 0)
        s_home_token = si->si_value.sival_int;
    ssi_sys3(SYS_write, s_pipe[1], (long)&b, 1);
}

static void s_home_handler(void)
{
    ssi_image_sigaction_t sa = {.handler = (uint64_t)s_on_home_signal,
                                .flags = S_SA_RESTORER | S_SA_SIGINFO,
                                .restorer = (uint64_t)ssi_deputy_sigreturn, .mask = ~0ULL};
    ssi_sys4(SYS_rt_sigaction, SSI_FREEZE_SIGNAL, (long)&sa, 0, 8);
}

/* One byte and, for 'C', a u16 length and the reason, to the requester. */
static void s_home_answer(char code, const char *why)
{
    char buf[3 + sizeof(s_home_why)];
    size_t n = why ? ssi_sys_strlen(why) : 0;
    if (s_home_req_fd < 0)
        return;
    if (n > sizeof(s_home_why) - 1)
        n = sizeof(s_home_why) - 1;
    buf[0] = code;
    buf[1] = (char)(n & 0xff);
    buf[2] = (char)(n >> 8);
    ssi_sys_memcopy(buf + 3, why ? why : "", n);
    ssi_sys6(SYS_sendto, s_home_req_fd, (long)buf, (long)(code == SSI_IMAGE_HOME_OK ? 1 : 3 + n),
             MSG_NOSIGNAL, 0, 0);
}

/* The homecoming did not happen: the body runs on where it was. */
static void s_home_fail(const char *why)
{
    s_home_answer(SSI_IMAGE_VERDICT_CONTINUE, why);
    if (s_home_req_fd >= 0)
        ssi_sys1(SYS_close, s_home_req_fd);
    if (s_home_mem >= 0)
        ssi_sys1(SYS_close, s_home_mem);
    s_home_req_fd = s_home_mem = -1;
    s_home_state = 0;
    s_home_token = -1;
    /* The signals that waited are forwarded now. */
    s_sigmask(SIG_SETMASK, 0);
}

static void s_home_verdict(char v)
{
    s_send(SSI_TUNNEL_HOME_VERDICT, 0, &v, 1);
}

static void s_home_begin(void)
{
    long fd = ssi_freeze_connect(s_home_token), n = 0;
    char *p = (char *)&s_home_req;
    if (fd < 0) {
        s_home_token = -1;
        return;
    }
    while (n < (long)sizeof(s_home_req)) {
        long r = ssi_sys3(SYS_read, fd, (long)(p + n), (long)(sizeof(s_home_req) - (size_t)n));
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        n += r;
    }
    /* Our own descriptors live above s_fd_base: every lower number is the
     * body's to open a home file at (vfs-proxy), which would replace them. */
    s_home_req_fd = fd = s_high_fd(fd);
    s_home_req.restore[sizeof(s_home_req.restore) - 1] = 0;
    if (n != (long)sizeof(s_home_req) || s_home_req.magic != SSI_IMAGE_HOME_MAGIC ||
        s_home_req.version != SSI_IMAGE_VERSION || s_home_req.restore[0] != '/') {
        s_home_fail("bad homecoming request");
        return;
    }
    {
        /* Every live socket connection must have its home socket at the
         * body's number (netproxy attaches it there): one the deputy
         * accepted that the program has not accept()ed yet would be lost,
         * one the program reaches only through a dup would be misplaced. */
        int i;
        for (i = 0; i < s_nchans; i++) {
            s_chan_t *c = &s_chans[i];
            if (c->dynamic && !c->dead && !(c->flags & SSI_TUNNEL_CHAN_LISTEN) &&
                !(c->in_done && c->out_done) && c->fd >= s_fd_base) {
                s_home_fail("a connection accepted at home is not taken by the program yet (or "
                            "lives only in a dup); try again later");
                return;
            }
        }
    }
    s_home_mem = s_high_fd(ssi_sys2(SYS_memfd_create, (long)"ssi-home-image", MFD_CLOEXEC));
    if (s_home_mem < 0) {
        s_home_mem = -1;
        s_home_fail("the deputy cannot make a memfd for the image");
        return;
    }
    s_home_err = 0;
    s_sigmask(SIG_BLOCK, ~0ULL);
    s_flush_signals();
    {
        ssi_tunnel_home_req_t r = {.flags = 0, .pad = 0};
        s_send(SSI_TUNNEL_HOME_REQ, 0, &r, sizeof(r));
    }
    s_home_state = 1;
    s_home_deadline = s_now_ms() + S_HOME_TIMEOUT_MS;
}

static int s_home_own_fd(long fd, const long *extra, int nextra)
{
    int i;
    if (fd == ssi_tunnel_link_fd(&s_link) || fd == s_pipe[0] || fd == s_pipe[1] ||
        fd == s_home_req_fd || fd == s_home_mem || fd == ssi_vfs_deputy_fd())
        return 1;
    /* A tunnel's high slot: its channel number holds it now. (Not "every
     * fd above s_fd_base": the body may have its own up there, such as
     * the shim's ssid socket.) */
    for (i = 0; i < s_nchans; i++)
        if (!s_chans[i].dynamic && fd == s_chans[i].fd && s_chans[i].fd != s_chans[i].chan)
            return 1;
    for (i = 0; i < nextra; i++)
        if (fd == extra[i])
            return 1;
    return 0;
}

/* Before an exec of ssi-restore: every tunnel at its channel number and
 * every descriptor of the program inheritable (the restorer sets
 * FD_CLOEXEC again from the image); ours stay close-on-exec. Also lifts
 * the soft RLIMIT_NOFILE to the hard one: the restorer keeps the image at
 * fd 900+ (the image's own limit comes back at the end). */
static void s_home_exec_fds(const long *extra, int nextra)
{
    static char buf[4096];
    static int fds[4096];
    uint64_t rl[2];
    long n;
    int i;
    for (i = 0; i < s_nchans; i++) {
        /* The tunnel's home fd lives in a high slot (the numbers below
         * s_fd_base are the body's): put it back at its channel number.
         * The high copy stays close-on-exec and goes with the exec. */
        long chan = s_chans[i].chan;
        s_chan_t *c = &s_chans[i];
        if (c->out_done && c->dir == SSI_TUNNEL_DIR_OUT && !(c->flags & SSI_TUNNEL_CHAN_SOCKET))
            continue; /* closed at the body's EOF: stays closed */
        /* Only into a free number: if the body closed this channel and
         * reused its number (a home file, a socket the netproxy attached
         * there), the number is that one's now. */
        if (c->fd != chan && ssi_sys2(SYS_fcntl, chan, F_GETFD) == -EBADF)
            ssi_sys3(SYS_dup3, c->fd, chan, 0);
    }
    if (ssi_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)rl) == 0 && rl[0] < rl[1]) {
        rl[0] = rl[1];
        ssi_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, (long)rl, 0);
    }
    n = ssi_sys_list_fds(fds, sizeof(fds) / sizeof(fds[0]), buf, sizeof(buf));
    for (i = 0; i < n; i++)
        if (!s_home_own_fd(fds[i], extra, nextra))
            ssi_sys3(SYS_fcntl, fds[i], F_SETFD, 0);
}

/* The dry run: ssi-restore --check over the memfd, in a child that has our
 * descriptors. Returns 0, or -1 with the reason in s_home_why. */
static long s_home_check(void)
{
    static char msg[400];
    int sp[2];
    long pid, n = 0, r;
    int st = 0;
    if (ssi_sys2(SYS_pipe2, (long)sp, O_CLOEXEC) < 0) {
        ssi_sys_strlcpy(s_home_why, "the deputy cannot make a pipe", sizeof(s_home_why));
        return -1;
    }
    /* Up with our other descriptors: the low numbers it got are channel
     * numbers that s_home_exec_fds fills in the child. */
    sp[0] = (int)s_high_fd(sp[0]);
    sp[1] = (int)s_high_fd(sp[1]);
    /* No exit signal: SIGCHLD may still have the program's handler. */
    pid = ssi_sys5(SYS_clone, 0, 0, 0, 0, 0);
    if (pid == 0) {
        char a_st[24], a_fd[24];
        const char *argv[] = {"ssi-restore", "--check", "--status-fd", a_st, "--fd", a_fd, 0};
        const char *envp[] = {0};
        long extra[2] = {sp[0], sp[1]}, mfd, sfd;
        s_home_exec_fds(extra, 2);
        mfd = ssi_sys3(SYS_fcntl, s_home_mem, F_DUPFD, 900);
        sfd = ssi_sys3(SYS_fcntl, sp[1], F_DUPFD, 900);
        if (mfd < 0 || sfd < 0)
            ssi_sys1(SYS_exit_group, 126);
        ssi_sys3(SYS_lseek, mfd, 0, 0);
        ssi_sys_utoa(a_st, (uint64_t)sfd);
        ssi_sys_utoa(a_fd, (uint64_t)mfd);
        ssi_sys3(SYS_execve, (long)s_home_req.restore, (long)argv, (long)envp);
        ssi_sys1(SYS_exit_group, 127);
    }
    ssi_sys1(SYS_close, sp[1]);
    if (pid < 0) {
        ssi_sys1(SYS_close, sp[0]);
        ssi_sys_strlcpy(s_home_why, "the deputy cannot start ssi-restore --check", sizeof(s_home_why));
        return -1;
    }
    for (;;) {
        struct pollfd p = {.fd = sp[0], .events = POLLIN, .revents = 0};
        struct timespec ts = {30, 0};
        r = ssi_sys5(SYS_ppoll, (long)&p, 1, (long)&ts, 0, 8);
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        r = ssi_sys3(SYS_read, sp[0], (long)(msg + n), (long)(sizeof(msg) - 1 - (size_t)n));
        if (r == -EINTR)
            continue;
        if (r <= 0 || (n += r) >= (long)sizeof(msg) - 1)
            break;
    }
    msg[n] = 0;
    ssi_sys1(SYS_close, sp[0]);
    ssi_sys2(SYS_kill, pid, SIGKILL); /* a check that hung */
    while (ssi_sys4(SYS_wait4, pid, (long)&st, 0x40000000 /* __WALL */, 0) == -EINTR)
        ;
    if (n >= 1 && msg[0] == 'O' && (st & 0x7f) == 0 && ((st >> 8) & 0xff) == 0)
        return 0;
    while (n > 1 && msg[n - 1] == '\n')
        msg[--n] = 0;
    ssi_sys_strlcpy(s_home_why, "the restore at home would fail: ", sizeof(s_home_why));
    ssi_sys_strlcpy(s_home_why + ssi_sys_strlen(s_home_why),
                    n > 1 ? msg + 1 : "ssi-restore --check did not run",
                    sizeof(s_home_why) - ssi_sys_strlen(s_home_why));
    return -1;
}

/* Committed and the body is gone: become the program again. */
__attribute__((noreturn)) static void s_home_exec(void)
{
    char a_fd[24];
    const char *argv[] = {"ssi-restore", "--in-place", "--fd", a_fd, 0};
    const char *envp[] = {0};
    long rc;
    s_home_answer(SSI_IMAGE_HOME_OK, 0);
    s_home_exec_fds(0, 0);
    ssi_sys3(SYS_fcntl, s_home_mem, F_SETFD, 0);
    ssi_sys3(SYS_lseek, s_home_mem, 0, 0);
    ssi_sys_utoa(a_fd, (uint64_t)s_home_mem);
    rc = ssi_sys3(SYS_execve, (long)s_home_req.restore, (long)argv, (long)envp);
    ssi_sys_log("ssi-deputy: ", "cannot exec ssi-restore after the body ended; the process is lost: ",
                s_home_req.restore, rc);
    s_die_by(SIGKILL);
}

/* The deputy's loop calls this while a homecoming is under way. */
static void s_home_step(void)
{
    /* Once committed, the agent answers DONE or REFUSE, or the link
     * breaks: no timeout of ours. */
    if (s_home_state < 3 && s_now_ms() > s_home_deadline) {
        s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
        s_home_fail("the homecoming took too long; the body runs on where it was");
        return;
    }
    if (s_home_state != 2 || !s_all_flushed())
        return;
    if (s_home_err) {
        s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
        s_home_fail("the deputy could not keep the image (memfd write failed)");
        return;
    }
    if (s_home_check() < 0) {
        s_home_verdict(SSI_IMAGE_VERDICT_CONTINUE);
        s_home_fail(s_home_why);
        return;
    }
    s_home_verdict(SSI_IMAGE_VERDICT_EXIT);
    s_home_state = 3;
}

/* HOME_* frames from the agent. Outside a homecoming they are stale
 * (we gave up first) and ignored. */
static void s_home_frame(const ssi_tunnel_hdr_t *h)
{
    if (!s_home_state)
        return;
    switch (h->type) {
    case SSI_TUNNEL_HOME_REFUSE: {
        uint32_t n = h->len < sizeof(s_home_why) - 1 ? h->len : (uint32_t)sizeof(s_home_why) - 1;
        ssi_sys_memcopy(s_home_why, s_frame, n);
        s_home_why[n] = 0;
        s_home_fail(s_home_why);
        return;
    }
    case SSI_TUNNEL_HOME_IMAGE: {
        uint32_t off = 0;
        while (off < h->len && !s_home_err) {
            long w = ssi_sys3(SYS_write, s_home_mem, (long)(s_frame + off), h->len - off);
            if (w == -EINTR)
                continue;
            if (w <= 0)
                s_home_err = w ? w : -EIO;
            else
                off += (uint32_t)w;
        }
        return;
    }
    case SSI_TUNNEL_HOME_END:
        if (s_home_state == 1)
            s_home_state = 2;
        return;
    case SSI_TUNNEL_HOME_DONE:
        if (s_home_state == 3)
            s_home_exec();
        s_lost(-EPROTO);
    default:
        return;
    }
}

/* The body stopped: stop too, with the same signal, so that the shell at
 * home sees the job stopped; SIGCONT then wakes us and is forwarded. A
 * stop older than a SIGCONT we forwarded since is stale. */
static void s_job_stopped(void)
{
    ssi_tunnel_stopped_t st;
    int sig;
    if (s_home_state)
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

__attribute__((noreturn)) static void s_finish(void)
{
    if (s_home_state)
        s_home_answer(SSI_IMAGE_VERDICT_CONTINUE, "the program ended before it came home");
    ssi_tunnel_link_close(&s_link);
    if (s_exit_how == SSI_TUNNEL_SIGNALED)
        s_die_by(s_exit_value);
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
    if (ssi_sys2(SYS_pipe2, (long)s_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        s_lost(-EMFILE); /* cannot forward signals: give the body up */
    s_pipe[0] = (int)s_high_fd(s_pipe[0]);
    s_pipe[1] = (int)s_high_fd(s_pipe[1]);
    /* The tunnels' home descriptors move up too (chan keeps the number). */
    for (i = 0; i < s_nchans; i++) {
        struct stat st;
        if (s_chans[i].fd == 2 && ssi_sys2(SYS_fstat, 2, (long)&st) == 0) {
            s_chans[i].home_dev = st.st_dev;
            s_chans[i].home_ino = st.st_ino;
        }
        if (!(s_chans[i].flags & (SSI_TUNNEL_CHAN_LISTEN | SSI_TUNNEL_CHAN_SOCKET)) ||
            s_chans[i].chan <= 2)
            s_chans[i].fd = (int)s_high_fd(s_chans[i].fd);
    }
    /* A socket above 2 stays at the body's number: getsockname and friends
     * name it there, and the body's close is forwarded (netproxy), which
     * moves it up then. */
    ssi_vfs_deputy_set_base(s_fd_base);
    /* Nobody may freeze the deputy: the freeze signal asks it to bring
     * its body home. A write to a closed home reader is an EPIPE we
     * report per channel. */
    s_home_handler();
    s_sigaction(SIGPIPE, SIG_IGN, 0);
    for (sig = 1; sig <= 64; sig++)
        if (s_forwarded(sig))
            s_sigaction(sig, s_on_signal, all);
    s_release_memory();
    /* We are inside the freeze handler: everything is blocked. Signals
     * that arrived since the freeze are delivered now and forwarded. */
    s_sigmask(SIG_SETMASK, 0);
    for (i = 0; i < s_nchans; i++)
        s_send_winsz(&s_chans[i]);

    for (;;) {
        struct pollfd p[3 + SSI_TUNNEL_MAX_CHANS];
        int idx[3 + SSI_TUNNEL_MAX_CHANS], n = 0, room;
        long rc;

        if (s_exit_how && s_all_flushed())
            s_finish();
        if (s_home_token >= 0 && !s_home_state && !s_exit_how)
            s_home_begin();
        if (s_home_state)
            s_home_step();
        s_sweep();
        p[n].fd = ssi_tunnel_link_fd(&s_link);
        p[n++].events = s_exit_how ? 0 : POLLIN;
        p[n].fd = s_pipe[0];
        p[n++].events = POLLIN;
        p[n].fd = ssi_vfs_deputy_fd();
        p[n++].events = s_exit_how ? 0 : POLLIN;
        room = s_inflight() < ssi_tunnel_budget(&s_link);
        for (i = 0; i < s_nchans; i++) {
            s_chan_t *c = &s_chans[i];
            short ev = 0;
            if ((c->flags & SSI_TUNNEL_CHAN_LISTEN) && !c->dead && c->fd >= 0 && !s_exit_how &&
                !s_home_state && s_nchans < SSI_TUNNEL_MAX_CHANS)
                ev |= POLLIN;
            /* Coming home: the body must get no more home input. */
            if (!c->in_done && c->credit > 0 && room && !s_exit_how && !s_home_state)
                ev |= POLLIN;
            if (c->out_len && !c->out_done)
                ev |= POLLOUT;
            if (!ev)
                continue;
            p[n].fd = c->fd;
            p[n].events = ev;
            idx[n++] = i;
        }
        for (i = 0; i < n; i++)
            p[i].revents = 0;
        /* A request already read ahead (with the handshake) polls as
         * nothing: serve it first. */
        if (!s_exit_how && ssi_vfs_deputy_pending())
            ssi_vfs_deputy_serve();
        {
            /* Coming home has a deadline: wake up to check it. */
            struct timespec tick = {1, 0};
            rc = ssi_sys5(SYS_ppoll, (long)p, n, s_home_state ? (long)&tick : 0, 0, 8);
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
                rc = ssi_tunnel_recv(&s_link, &h, s_frame, sizeof(s_frame));
                if (rc < 0)
                    s_lost(rc);
                s_frame_in(&h);
            } while (!s_exit_how && ssi_tunnel_pending(&s_link));
        }
        if (p[2].revents && !s_exit_how) {
            /* Forwarded file calls. A blocking one (F_SETLKW, flock
             * without LOCK_NB) stalls the tunnels meanwhile. */
            /* A call link that ends is not the end of the body: its EXIT
             * (or the data link's loss) says that. */
            ssi_vfs_deputy_serve();
        }
        for (i = 3; i < n; i++) {
            s_chan_t *c = &s_chans[idx[i]];
            short r = p[i].revents;
            if (!r)
                continue;
            if (c->flags & SSI_TUNNEL_CHAN_LISTEN) {
                if (!c->dead && !s_exit_how)
                    s_accept_home(c);
                continue;
            }
            if ((r & (POLLOUT | POLLERR)) && c->out_len && !c->out_done)
                s_write_home(c);
            if ((r & (POLLIN | POLLHUP | POLLERR)) && !c->in_done && c->credit > 0 &&
                (p[i].events & POLLIN) && !s_home_state)
                s_read_home(c);
        }
    }
}
