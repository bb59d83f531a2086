/* ssi_shim: the part of libssi.so that every ssi process runs at start. Its
 * constructor registers the process with the local ssid over a Unix socket
 * that stays open for the life of the process (ssid sees the process end when
 * the socket closes). At home nothing else is interposed: no per-call cost.
 *
 * It is also the one place that wires libssi.so's layers together, which
 * otherwise never call upwards: the proxies' handlers into the trap core
 * (away), the executors into the deputy's call server (home), the trap
 * core's and the deputy's entry points into the freeze module's hooks.
 *
 * Runs inside arbitrary programs: raw system calls, fixed buffers, no malloc,
 * no stdio; a failure leaves the program running, just unregistered. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <asm/termbits.h>

#include "ssi_callsrv.h"
#include "ssi_deputy.h"
#include "ssi_epoll.h"
#include "ssi_kobj.h"
#include "ssi_freeze.h"
#include "ssi_msg.h"
#include "ssi_net.h"
#include "ssi_regs.h"
#include "ssi_seccomp.h"
#include "ssi_sys.h"
#include "ssi_homecoming.h"
#include "ssi_trap.h"
#include "ssi_vfs.h"

#define SSI_SHIM_DEFAULT_SOCKET "/run/ssi/ssid.sock"

/* Away: the proxies of the trap core, in the order they see a call (set
 * in s_wire: the lists' sizes are the proxies' own constants). */
static ssi_trap_proxy_t s_proxies[2];

/* At home: the executors of the deputy's call server, in order. */
static const ssi_callsrv_exec_t s_execs[] = {
    {.name = "netproxy", .exec = ssi_net_exec},
    {.name = "vfs-proxy", .exec = ssi_vfs_exec},
    {.name = "homecoming", .exec = ssi_homecoming_exec},
};

static int s_fd = -1;         /* our connection to ssid, in a high slot */
static uint64_t s_ckpt_every; /* ssirun --checkpoint-every: seconds, this process only */
static volatile int s_away;   /* this process is a body restored elsewhere */
static volatile pid_t s_home_ppid;
static char s_path[108];
static char s_pin[240]; /* why this process cannot move (a seccomp filter of its own), or "" */

/* Raw, from libssi.so's own text: away, the vfs-proxy's seccomp filter
 * lets these through, and they are safe inside the freeze handler (where
 * a trapped call would find SIGSYS blocked). */
static long s_sys(long nr, long a, long b, long c)
{
    long r = ssi_sys3(nr, a, b, c);
    if (SSI_SYS_ERR(r)) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

/* Move fd to a high slot, out of the way of programs that expect the lowest
 * free descriptor numbers. */
static int s_hide_fd(int fd)
{
    /* High, but not at the very top of RLIMIT_NOFILE: a restorer needs
	 * free slots above every fd of the process to shuffle them into place. */
    struct rlimit rl;
    long hi = 1000;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur < 1064)
        hi = rl.rlim_cur > 128 ? (long)rl.rlim_cur - 64 : 32;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, hi);
    if (nfd < 0)
        return fd;
    close(fd);
    return nfd;
}

/* The command line, NULs turned into spaces. */
static size_t s_cmdline(char *buf, size_t cap)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return 0;
    while (n > 0 && buf[n - 1] == 0)
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    buf[n] = 0;
    return (size_t)n;
}

/* SSI_STAY=1 (ssirun --stay): the balancer leaves this process, and its
 * children, where they are. Read once by the constructor. */
static int s_stay;

/* Reads one whole frame from fd into buf: its length, or -1. */
static long s_recv_frame(int fd, uint8_t *buf, size_t cap)
{
    size_t have = 0;
    long want = SSI_MSG_HEADER;
    while ((long)have < want) {
        ssize_t r = recv(fd, buf + have, (size_t)want - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
        if (have == SSI_MSG_HEADER) {
            want = ssi_msg_frame_len(buf, have);
            if (want < SSI_MSG_HEADER || want > (long)cap)
                return -1;
        }
    }
    return (long)have;
}

/* Tells ssid why this process cannot move ("" takes it back): PIN on our
 * registration connection, which ssid does not answer. At home only. */
static void s_send_pin(const char *why)
{
    uint8_t frame[400];
    ssi_msg_writer_t w;
    long n;
    if (s_fd < 0 || s_away)
        return;
    ssi_msg_begin(&w, frame, sizeof frame, SSI_MSG_PIN);
    ssi_msg_put_str(&w, SSI_TAG_TEXT, why);
    n = ssi_msg_end(&w);
    if (n > 0)
        send(s_fd, frame, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Before the program installs seccomp filter fprog: one that forbids a
 * call a move needs (the freeze's socket and connect among them) makes
 * this process unmovable, and ssid is told now, while the calls that tell
 * it are still allowed: a move is then refused up front with the reason
 * instead of timing out on a freeze that cannot hear its request. 1 when
 * told (why holds the reason). */
static int s_pin_before(const void *fprog, char *why, size_t cap)
{
    /* The kernel has not checked the program's pointers yet: read them
     * through process_vm_readv, which fails with EFAULT where a plain read
     * would crash the program (the kernel then refuses it with EFAULT). One
     * thread at a time (the copy is static); another skips the check, and
     * the freeze checks every filter anyway. */
    static struct sock_filter insns[BPF_MAXINSNS];
    static int busy;
    struct sock_fprog hdr, copy;
    struct iovec l = {&hdr, sizeof hdr}, r = {(void *)fprog, sizeof hdr};
    int told = 0;
    if (s_away || s_pin[0] || __atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
        return 0;
    if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)sizeof hdr && hdr.len &&
        hdr.len <= BPF_MAXINSNS) {
        l = (struct iovec){insns, hdr.len * sizeof *insns};
        r = (struct iovec){hdr.filter, hdr.len * sizeof *insns};
        copy = (struct sock_fprog){.len = hdr.len, .filter = insns};
        if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)l.iov_len &&
            ssi_seccomp_check_new(&copy, why, cap) < 0) {
            s_send_pin(why);
            told = 1;
        }
    }
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
    return told;
}

/* After the kernel's answer: kept, or taken back if it refused the filter. */
static void s_pin_after(int told, const char *why, int installed)
{
    if (told && installed)
        ssi_sys_strlcpy(s_pin, why, sizeof s_pin);
    else if (told)
        s_send_pin("");
}

/* Registers with ssid. With ask_place (a new program, balancing allowed),
 * ssid may answer with a node to run on: copied into place (else ""). */
static void s_register(int ask_place, char *place, size_t cap)
{
    if (place)
        place[0] = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, s_path, sizeof sa.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return;
    }
    fd = s_hide_fd(fd);
    char cmd[1024];
    uint8_t frame[1200];
    ssi_msg_writer_t w;
    s_cmdline(cmd, sizeof cmd);
    ssi_msg_begin(&w, frame, sizeof frame, SSI_MSG_REGISTER);
    ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)s_sys(SYS_getpid, 0, 0, 0));
    ssi_msg_put_u64(&w, SSI_TAG_PPID, (uint64_t)s_sys(SYS_getppid, 0, 0, 0));
    ssi_msg_put_str(&w, SSI_TAG_CMD, cmd);
    if (s_stay)
        ssi_msg_put_u64(&w, SSI_TAG_STAY, 1);
    if (s_ckpt_every)
        ssi_msg_put_u64(&w, SSI_TAG_CKPT_EVERY, s_ckpt_every);
    if (ask_place && !s_stay)
        ssi_msg_put_u64(&w, SSI_TAG_PLACE_ASK, 1);
    long n = ssi_msg_end(&w);
    /* Wait for ssid's answer, so that the process is listed by the time it
	 * runs its first instruction; never wait long. */
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (n < 0 || send(fd, frame, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return;
    }
    long got = s_recv_frame(fd, frame, sizeof frame);
    if (got < SSI_MSG_HEADER) {
        close(fd);
        return;
    }
    s_fd = fd;
    if (s_pin[0]) /* a fork's child, a restarted checkpoint: same filters */
        s_send_pin(s_pin);
    static ssi_msg_t m;
    if (place && ssi_msg_parse(frame, (size_t)got, &m) == 0 && m.type == SSI_MSG_OK &&
        ssi_field_str(ssi_msg_find(m.field, m.nfields, SSI_TAG_PLACE), place, cap) < 0)
        place[0] = 0;
}

/* Away, the kernel's parent is the body agent (pid 1 of the body's PID
 * namespace); the program must keep seeing its parent at home. At home this
 * is the plain system call, remembered for when the process moves.
 * Known gap: a parent that dies at home while the body is away is not seen;
 * forwarding the call to the deputy will fix that. */
pid_t getppid(void)
{
    if (s_away) {
        /* The deputy's parent is the process's: it may have died and
		 * left the process to a reaper since the move. */
        long p = ssi_vfs_getppid();
        return p > 0 ? (pid_t)p : s_home_ppid;
    }
    pid_t p = (pid_t)s_sys(SYS_getppid, 0, 0, 0);
    s_home_ppid = p;
    return p;
}

/* The freeze signal is never blocked (DMTCP does the same with its own):
 * a thread that blocks every signal, as xz's workers do, could not be
 * stopped by a freeze. The rest of the mask is the program's. libc's
 * syscall(): away, the trap core sees it (it keeps SIGSYS open too). */
static int s_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    sigset_t s;
    if (set && how != SIG_UNBLOCK) {
        s = *set;
        sigdelset(&s, SSI_FREEZE_SIGNAL);
        set = &s;
    }
    return (int)syscall(SYS_rt_sigprocmask, how, set, old, 8);
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    return s_sigmask(how, set, old) < 0 ? errno : 0;
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    return s_sigmask(how, set, old);
}

/* Terminals. Away, a terminal of the home node is a tunnel (a socketpair)
 * whose far end the deputy relays: the kernel would say "not a tty". The
 * freeze hook records, for each low fd that is a terminal, its settings and
 * window size; away, isatty() answers from that record and terminal
 * requests go to the home terminal through the vfs-proxy (which also
 * catches libc's own calls, such as stdio's isatty check and tcsetattr);
 * the record answers only if the deputy cannot be asked. */
#define SSI_TTY_FDS 64
static struct {
    unsigned char is_tty[SSI_TTY_FDS];
    struct termios2 tio[SSI_TTY_FDS];
    struct winsize ws[SSI_TTY_FDS];
} s_tty;

static void s_on_freeze(void)
{
    /* The program may be between setting errno and reading it (sort checks
	 * errno after strcoll): what we do here must not change it. */
    int saved_errno = errno;
    ssi_trap_freeze();
    ssi_kobj_freeze();
    ssi_regs_freeze();
    ssi_epoll_freeze();
    for (int fd = 0; fd < SSI_TTY_FDS; fd++) {
        s_tty.is_tty[fd] = s_sys(SYS_ioctl, fd, TCGETS2, (long)&s_tty.tio[fd]) == 0;
        if (s_tty.is_tty[fd] && s_sys(SYS_ioctl, fd, TIOCGWINSZ, (long)&s_tty.ws[fd]) != 0)
            memset(&s_tty.ws[fd], 0, sizeof s_tty.ws[fd]);
    }
    errno = saved_errno;
}

static int s_away_tty(int fd)
{
    return s_away && fd >= 0 && fd < SSI_TTY_FDS && s_tty.is_tty[fd];
}

int isatty(int fd)
{
    struct termios2 t;
    if (s_away_tty(fd))
        return 1;
    if (syscall(SYS_ioctl, fd, TCGETS2, &t) == 0)
        return 1;
    if (errno != EBADF)
        errno = ENOTTY;
    return 0;
}

/* libc's syscall(), through which programs register an rseq area (ssirun
 * turns glibc's own registration off): the call is libc's, from libc's
 * text (away, the trap sees it as the program's), and a registration that
 * succeeded is noted, to be made again after a move (ssi_regs.c). */
typedef long (*s_syscall_fn)(long, ...);
static s_syscall_fn s_real_syscall;

static void s_find_syscall(void)
{
    if (!s_real_syscall)
        s_real_syscall = (s_syscall_fn)dlsym(RTLD_NEXT, "syscall");
}

long syscall(long nr, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    s_find_syscall();
    if (!s_real_syscall) {
        errno = ENOSYS;
        return -1;
    }
    char why[240];
    int told = nr == SYS_seccomp && a[0] == SECCOMP_SET_MODE_FILTER &&
               s_pin_before((const void *)a[2], why, sizeof why);
    long r = s_real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    s_pin_after(told, why, r >= 0);
    if (nr == SYS_rseq && r == 0)
        ssi_regs_note_rseq((uint64_t)a[0], (uint32_t)a[1], (int)a[2], (uint32_t)a[3]);
    if (nr == SYS_seccomp && a[0] == SECCOMP_SET_MODE_FILTER && r >= 0)
        ssi_seccomp_note((unsigned)a[1], (const void *)a[2], s_away);
    return r;
}

/* libc's prctl(), the other way to install a seccomp filter: noted like
 * one made with syscall() (ssi_seccomp.c). */
typedef int (*s_prctl_fn)(int, ...);
static s_prctl_fn s_real_prctl;

int prctl(int option, ...)
{
    va_list ap;
    unsigned long a[4];
    va_start(ap, option);
    for (int i = 0; i < 4; i++)
        a[i] = va_arg(ap, unsigned long);
    va_end(ap);
    if (!s_real_prctl)
        s_real_prctl = (s_prctl_fn)dlsym(RTLD_NEXT, "prctl");
    if (!s_real_prctl) {
        errno = ENOSYS;
        return -1;
    }
    char why[240];
    int told = option == PR_SET_SECCOMP && a[0] == SECCOMP_MODE_FILTER &&
               s_pin_before((const void *)a[1], why, sizeof why);
    int r = s_real_prctl(option, a[0], a[1], a[2], a[3]);
    s_pin_after(told, why, r == 0);
    if (option == PR_SET_SECCOMP && a[0] == SECCOMP_MODE_FILTER && r == 0)
        ssi_seccomp_note(0, (const void *)a[1], s_away);
    return r;
}

/* At home a plain system call; away, terminal queries of a home terminal
 * are answered from the record. glibc declares ioctl with an unsigned long
 * request. */
int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (s_away_tty(fd) && arg) {
        /* The home terminal itself, through the deputy (settings, raw
		 * mode, the window size now); the record only if that cannot be. */
        long r = ssi_vfs_tty_ioctl(fd, req, arg);
        if (r != -ENOSYS) {
            if (r >= 0)
                return (int)r;
            errno = (int)-r;
            return -1;
        }
        switch (req) {
        case TIOCGWINSZ: memcpy(arg, &s_tty.ws[fd], sizeof s_tty.ws[fd]); return 0;
        case TCGETS: memcpy(arg, &s_tty.tio[fd], sizeof(struct termios)); return 0;
        case TCGETS2: memcpy(arg, &s_tty.tio[fd], sizeof s_tty.tio[fd]); return 0;
        }
    }
    return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* Runs in the restored process, in signal context, before the program
 * resumes: in a body on another node, or at home again when the body came
 * back into its deputy (then the program's calls are plain system calls
 * again; its ssid socket is the real one, which the deputy kept). */
static void s_on_restore(void)
{
    if (ssi_freeze_restarted()) {
        /* Restarted from a checkpoint (ssi-ckpt restart). From a body
         * away: nothing is forwarded or trapped any more, as after a
         * homecoming. Whatever our ssid socket is now (a dead end, or the
         * live one of a deputy that recovered its lost body in place), we
         * register again on a new one: ssid lists the process at home and
         * drops the record it had for this pid. */
        if (s_away) {
            s_away = 0;
            ssi_trap_home();
            ssi_kobj_restore();
        }
        if (s_fd >= 0)
            ssi_sys1(SYS_close, s_fd);
        s_fd = -1;
        s_register(0, NULL, 0);
        ssi_seccomp_restore(SSI_SECCOMP_RESTART);
        ssi_epoll_restore();
        return;
    }
    if (ssi_freeze_restored_home() && !s_away) {
        /* Restarted from a checkpoint (ssi-ckpt restart; a body coming
         * home has s_away set): our ssid socket came back as a
         * placeholder whose peer is gone. Register again, so that ssid
         * lists the process and can move it. */
        char b;
        long r =
            s_fd < 0 ? 0 : ssi_sys6(SYS_recvfrom, s_fd, (long)&b, 1, MSG_PEEK | MSG_DONTWAIT, 0, 0);
        if (r == 0 || r == -ECONNRESET || r == -ENOTCONN || r == -EBADF || r == -ENOTSOCK) {
            if (s_fd >= 0 && r != -EBADF)
                ssi_sys1(SYS_close, s_fd);
            s_fd = -1;
            s_register(0, NULL, 0);
        }
        ssi_seccomp_restore(SSI_SECCOMP_RESTART);
        ssi_regs_restore();
        ssi_epoll_restore();
        return;
    }
    if (ssi_freeze_restored_home()) {
        /* The deputy's descriptors are the real ones again: nothing is
		 * forwarded, nothing is trapped (this process never had the
		 * body's seccomp filter). */
        s_away = 0;
        ssi_trap_home();
        ssi_seccomp_restore(SSI_SECCOMP_HOME);
        ssi_regs_restore();
        ssi_kobj_restore(); /* before the epoll instances that may watch them */
        ssi_epoll_restore();
        return;
    }
    s_away = 1;
    /* The trap core takes the call link from the agent, starts the
	 * proxies and starts trapping. Without its deputy the body must not
	 * run a single instruction of the program (the agent kills it
	 * anyway). */
    long rc = ssi_trap_start();
    /* 0 is "no control socket": a restore without an agent (engine
     * tests). An agent always makes one; not finding it means the body
     * would run with no link while its deputy waits (the many-fds bug). */
    if (rc == 0 && ssi_freeze_by_agent())
        rc = -ENOTCONN;
    if (rc < 0) {
        ssi_sys_log("ssi-vfs: ", "no call link to the deputy; the body stops", 0, rc);
        ssi_sys2(SYS_kill, ssi_sys0(SYS_getpid), SIGKILL);
    }
    ssi_freeze_set_program_nnp(ssi_trap_program_nnp());
    /* The program's own filters, after ours. One the kernel refuses would
     * leave the program less confined than at home: it must not run. */
    if (ssi_seccomp_restore(SSI_SECCOMP_AWAY) < 0)
        ssi_sys2(SYS_kill, ssi_sys0(SYS_getpid), SIGKILL);
    ssi_regs_restore();
    ssi_kobj_restore();
    ssi_epoll_restore();
}

/* A forked child is a process of its own: it registers itself, and drops
 * the parent's registration it inherited. */
static void s_atfork_child(void)
{
    s_ckpt_every = 0; /* the parent's checkpoints are not the child's */
    ssi_freeze_atfork_child();
    if (s_fd >= 0) {
        close(s_fd);
        s_fd = -1;
    }
    s_register(0, NULL, 0);
}

static void s_say(const char *a, const char *b, const char *c)
{
    const char *parts[] = {a, b, c, "\n"};
    for (size_t i = 0; i < 4; i++)
        if (parts[i])
            s_sys(SYS_write, 2, (long)parts[i], (long)strlen(parts[i]));
}

/* ssirun --node NODE: move before main runs. We ask our own ssid, over the
 * socket we registered with, and wait: the freeze comes while we wait; the
 * body resumes in the same wait, on NODE, and gets ssid's answer through
 * the deputy. If the move fails we stop before main, as nothing has run:
 * the user asked for NODE, not for this node. A placement (soft: ssid's
 * balancer chose NODE) that fails runs the program at home instead. */
/* In the body, after a move before main: ssid's answer to our MIGRATE
 * reaches us through the deputy; read it, so that no byte the program never
 * asked for waits on our socket (a homecoming refuses to leave input
 * behind). At most 5 s; whatever has come by then is taken. */
static void s_drain_answer(uint8_t *frame, size_t cap, size_t have)
{
    long want = have >= SSI_MSG_HEADER ? ssi_msg_frame_len(frame, have) : SSI_MSG_HEADER;
    for (int tries = 0; tries < 500 && want > 0 && (long)have < want && want <= (long)cap;
         tries++) {
        ssize_t r = recv(s_fd, frame + have, (size_t)want - have, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return;
        if (r < 0) {
            struct timespec ts = {.tv_nsec = 10000000};
            nanosleep(&ts, NULL);
            continue;
        }
        have += (size_t)r;
        if (have == SSI_MSG_HEADER)
            want = ssi_msg_frame_len(frame, have);
    }
}

static void s_migrate_self(const char *node, int soft)
{
    uint8_t frame[1200];
    ssi_msg_writer_t w;
    const char *why = NULL;
    if (s_fd < 0) {
        why = ": not registered with ssid";
        goto fail;
    }
    ssi_freeze_init(); /* its constructor may not have run yet */
    ssi_msg_begin(&w, frame, sizeof frame, SSI_MSG_MIGRATE);
    ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)s_sys(SYS_getpid, 0, 0, 0));
    ssi_msg_put_str(&w, SSI_TAG_NODE, node);
    long n = ssi_msg_end(&w);
    /* Short receive timeouts: the answer may never come to this copy of
	 * the process. Once restored on NODE (s_away), we are done; at home we
	 * wait for ssid's verdict, at most 10 minutes. */
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(s_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (n < 0 || send(s_fd, frame, (size_t)n, MSG_NOSIGNAL) != n) {
        why = ": ssid does not listen";
        goto fail;
    }
    size_t have = 0;
    long want = SSI_MSG_HEADER;
    for (int tries = 0; (long)have < want; tries++) {
        if (s_away) {
            s_drain_answer(frame, sizeof frame, have);
            return;
        }
        ssize_t r = recv(s_fd, frame + have, (size_t)want - have, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN) && tries < 6000)
            continue;
        if (r <= 0) {
            if (s_away) {
                s_drain_answer(frame, sizeof frame, have);
                return;
            }
            why = ": no answer from ssid";
            goto fail;
        }
        have += (size_t)r;
        if (have == SSI_MSG_HEADER) {
            want = ssi_msg_frame_len(frame, have);
            if (want < 0 || want > (long)sizeof frame) {
                why = ": bad answer from ssid";
                goto fail;
            }
        }
    }
    static ssi_msg_t m;
    if (ssi_msg_parse(frame, have, &m) == 0 && m.type == SSI_MSG_OK)
        return;
    if (soft)
        return; /* ssid logged why; the program runs here */
    char text[1024] = "refused";
    if (ssi_msg_parse(frame, have, &m) == 0)
        ssi_field_str(ssi_msg_find(m.field, m.nfields, SSI_TAG_TEXT), text, sizeof text);
    s_say("ssirun: cannot start on ", node, ":");
    s_say("ssirun: ", text, NULL);
    s_sys(SYS_exit_group, 125, 0, 0);
    return;
fail:
    /* A placement that cannot be done runs the program here, silently. */
    if (soft)
        return;
    s_say("ssirun: cannot move to ", node, why);
    s_sys(SYS_exit_group, 125, 0, 0);
}


/* The deputy reports its forwarded calls to our ssid (if we registered). */
static void s_become_deputy(void)
{
    if (s_fd >= 0)
        ssi_deputy_set_ssid_path(s_path);
    ssi_deputy_run();
}

/* Wires the layers: proxies into the trap core, executors into the call
 * server, the trap core and the deputy into the freeze module. */
static void s_wire(void)
{
    /* The netproxy first: a socket's close, read or ioctl is its; the
	 * vfs-proxy last, which takes every call that reaches it. */
    s_proxies[0] = (ssi_trap_proxy_t){.name = "netproxy",
                                      .calls = ssi_net_body_calls,
                                      .ncalls = ssi_net_body_ncalls,
                                      .call = ssi_net_body_call,
                                      .freeze = ssi_net_body_freeze,
                                      .start = ssi_net_body_start,
                                      .linked = ssi_net_body_linked,
                                      .home = ssi_net_body_home,
                                      .own_fd = ssi_net_body_own_fd,
                                      .replaced = ssi_net_body_replaced};
    s_proxies[1] = (ssi_trap_proxy_t){.name = "vfs-proxy",
                                      .calls = ssi_vfs_body_calls,
                                      .ncalls = ssi_vfs_body_ncalls,
                                      .seen = ssi_vfs_body_seen,
                                      .call = ssi_vfs_body_call,
                                      .freeze = ssi_vfs_body_freeze,
                                      .start = ssi_vfs_body_start,
                                      .replaced = ssi_vfs_body_replaced};
    ssi_trap_set_proxies(s_proxies, sizeof s_proxies / sizeof s_proxies[0]);
    ssi_callsrv_set_execs(s_execs, sizeof s_execs / sizeof s_execs[0]);
    ssi_freeze_set_fd_hook(ssi_trap_own_fd);
    ssi_freeze_set_deputy_hook(ssi_deputy_connect, s_become_deputy);
    ssi_freeze_set_restore_hook(s_on_restore);
    ssi_freeze_set_freeze_hook(s_on_freeze);
}

__attribute__((constructor)) static void s_shim_init(void)
{
    const char *p = getenv("SSI_SOCKET");
    if (!p || !*p || strlen(p) >= sizeof s_path)
        p = SSI_SHIM_DEFAULT_SOCKET;
    strcpy(s_path, p);
    s_home_ppid = (pid_t)s_sys(SYS_getppid, 0, 0, 0);
    s_find_syscall(); /* now: dlsym is not for the freeze or a body */
    s_wire();
    const char *stay = getenv("SSI_STAY");
    s_stay = stay && strcmp(stay, "1") == 0;
    const char *every = getenv("SSI_CHECKPOINT_EVERY");
    if (every && *every) {
        s_ckpt_every = strtoull(every, NULL, 10);
        unsetenv("SSI_CHECKPOINT_EVERY");
    }
    /* Only this process moves: its children start where they are. A
	 * user's --node wins over the balancer's placement. */
    const char *to = getenv("SSI_MIGRATE_TO");
    char node[64];
    if (to && *to) {
        size_t len = strnlen(to, sizeof node - 1);
        memcpy(node, to, len);
        node[len] = 0;
        unsetenv("SSI_MIGRATE_TO");
        s_register(0, NULL, 0);
        pthread_atfork(NULL, NULL, s_atfork_child);
        s_migrate_self(node, 0);
        return;
    }
    /* Placement before main (the program ssirun starts, not what it
	 * starts in turn): ssid's balancer may answer with a better node; the
	 * process has no state to speak of yet. */
    const char *place = getenv("SSI_PLACE");
    int ask = place && strcmp(place, "1") == 0;
    if (place)
        unsetenv("SSI_PLACE");
    s_register(ask, node, sizeof node);
    pthread_atfork(NULL, NULL, s_atfork_child);
    if (node[0])
        s_migrate_self(node, 1);
}
