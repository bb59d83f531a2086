/*
 * ssi_trap.c - the away body's trap core (see ssi_trap.h).
 *
 * Installed by the shim's restore hook when the body runs away (never at
 * home): PR_SET_NO_NEW_PRIVS, a SIGSYS handler, and a seccomp filter that
 * lets every call made from libssi.so's own text through and returns
 * SECCOMP_RET_TRAP for the listed calls made from anywhere else (the
 * program, libc's internals: stdio, opendir, dlopen). The handler decodes
 * the call from the signal frame, lets every proxy see it, keeps SIGSYS
 * ours (rt_sigaction, rt_sigprocmask), brings the process home for the
 * calls that make a process, a program or a pipe (s_come_home: they then
 * run natively at home), and gives the rest to the proxies in order; a proxy
 * either forwards it over the call link (one request, one answer; all
 * signals blocked, one call at a time: one thread at a time is in the
 * proxies, s_lock), or re-issues it here with the
 * program's own signal mask, so that a blocking read on a tunnel is
 * interrupted by signals exactly as at home (EINTR / SA_RESTART). The
 * result goes into RAX.
 *
 * Signal context, raw system calls, static buffers, no libc at all (libc's
 * system calls would trap into this handler).
 */
#include "ssi_trap.h"

#include "ssi_call.h"
#include "ssi_call_link.h"
#include "ssi_chan.h"
#include "ssi_fdpass.h"
#include "ssi_freeze.h"
#include "ssi_image.h" /* SSI_FREEZE_SIGNAL */
#include "ssi_signal.h"
#include "ssi_sys.h"
#include "ssi_systab.h"
#include "ssi_tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <ucontext.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif
#ifndef AUDIT_ARCH_X86_64
#define AUDIT_ARCH_X86_64 0xc000003eU
#endif
#ifndef AUDIT_ARCH_I386
#define AUDIT_ARCH_I386 0x40000003U
#endif
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000U
#endif
#define S_TRAP_DATA 0x55f5   /* SECCOMP_RET_DATA of our traps: si_errno */
#define S_REFUSE_DATA 0x55f6 /* of a refused call: logged once, ENOSYS */
#define S_REFUSE_ERR ENOSYS  /* what a refused call returns */
#define S_SAID_MAX 1024      /* refusals logged once per number below this */
#define S_MAX_FD 65536

static const ssi_trap_proxy_t *s_px;
static unsigned s_npx;
static int s_ctl_fd = -1; /* the agent's control socket (chosen at freeze) */
static int s_active;      /* the filter is installed */
static int s_link_up;     /* the call link works; else forwarded calls fail with EIO */
static int s_link_fd = -1;
static ssi_chan_t s_ch;
static uint8_t s_fwd[S_MAX_FD / 8];
static uint8_t s_msg[sizeof(ssi_call_req_t) + SSI_CALL_MSG_MAX];
static uint64_t s_prog_sigsys[4];         /* the program's own SIGSYS action, kept aside */
static uint8_t s_said[3][S_SAID_MAX / 8]; /* refusals logged: x86_64, i386, x32 */

static long s_refused(uint32_t arch, long nr);

/* libssi.so's extent: calls from there pass the filter. */
extern char __ehdr_start[] __attribute__((visibility("hidden")));
extern char __etext[] __attribute__((visibility("hidden")));

/* The core's own calls: SIGSYS must stay deliverable and ours; and the
 * calls that make a process or a program, which come home first. */
static const uint16_t s_own[] = {
    SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_clone, SYS_fork,  SYS_vfork, SYS_execve,
    SYS_execveat,     435 /* clone3 */,   SYS_pipe,  SYS_pipe2, /* made for a child, mostly: home first too */
};

void ssi_trap_set_proxies(const ssi_trap_proxy_t *proxies, unsigned n)
{
    s_px = proxies;
    s_npx = n;
}

/* ---- the forwarded-fd table and our descriptors --------------------------- */

int ssi_trap_fwd(long fd)
{
    return fd >= 0 && fd < S_MAX_FD && (s_fwd[fd >> 3] & (1u << (fd & 7)));
}

void ssi_trap_set_fwd(long fd, int on)
{
    if (fd < 0 || fd >= S_MAX_FD)
        return;
    if (on)
        s_fwd[fd >> 3] |= (uint8_t)(1u << (fd & 7));
    else
        s_fwd[fd >> 3] &= (uint8_t) ~(1u << (fd & 7));
}

int ssi_trap_own_fd(int fd)
{
    unsigned i;
    if (s_active && fd == s_link_fd)
        return 1;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].own_fd && s_px[i].own_fd(fd))
            return 1;
    return 0;
}

void ssi_trap_replaced(int fd)
{
    unsigned i;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].replaced)
            s_px[i].replaced(fd);
}

/* ---- the call link --------------------------------------------------------- */

int ssi_trap_link_up(void)
{
    return s_active && s_link_up;
}

/* The deputy is gone: forwarded calls fail with EIO from now on (the
 * agent lets the body end by itself for a short grace, then kills it). */
static long s_link_lost(void)
{
    if (s_link_up) {
        s_link_up = 0;
        ssi_sys_log("ssi-vfs: ", "lost the call link to the deputy; file calls fail with EIO", 0,
                    0);
    }
    return -EIO;
}

long ssi_trap_forward(unsigned op, const int64_t *a)
{
    ssi_call_req_t q;
    int64_t ret;
    long n;

    if (!ssi_call_find(op))
        return -ENOSYS;
    if (!s_link_up)
        return -EIO;
    n = ssi_call_pack_req(op, a, s_msg, sizeof(s_msg));
    if (n < 0)
        return n;
    ssi_sys_memcopy(&q, s_msg, sizeof(q));
    if (ssi_call_send(&s_ch, s_msg, (uint32_t)n) < 0)
        return s_link_lost();
    n = ssi_call_recv(&s_ch, s_msg, sizeof(s_msg), sizeof(ssi_call_rep_t));
    if (n < (long)sizeof(ssi_call_rep_t) ||
        ssi_call_unpack_rep(&q, a, s_msg, (uint32_t)n, &ret) < 0)
        return s_link_lost();
    return (long)ret;
}

/* ---- local re-issue ---------------------------------------------------------- */

long ssi_trap_local(long nr, const int64_t *a, const void *ucv)
{
    const ucontext_t *uc = ucv;
    uint64_t all = ~0ULL, mask;
    long r;
    ssi_sys_memcopy(&mask, &uc->uc_sigmask, 8);
    ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, 8);
    r = ssi_sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8);
    return r;
}

/* ---- the core's own calls ------------------------------------------------------ */


/* The program's rt_sigprocmask: applied to the frame's mask (the kernel
 * takes it back on sigreturn), never blocking SIGSYS. */
static long s_sigprocmask(const int64_t *a, ucontext_t *uc)
{
    uint64_t cur, set, sys = 1ULL << (SIGSYS - 1);
    ssi_sys_memcopy(&cur, &uc->uc_sigmask, 8);
    if (a[3] != 8)
        return -EINVAL;
    if (a[1]) {
        ssi_sys_memcopy(&set, (const void *)a[1], 8);
        switch (a[0]) {
        case SIG_BLOCK: set = cur | set; break;
        case SIG_UNBLOCK: set = cur & ~set; break;
        case SIG_SETMASK: break;
        default: return -EINVAL;
        }
    }
    if (a[2])
        ssi_sys_memcopy((void *)a[2], &cur, 8);
    if (a[1]) {
        /* The freeze signal too: a thread that blocked it could not be frozen. */
        set &= ~(sys | (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)) |
                 (1ULL << (SSI_FREEZE_SIGNAL - 1)));
        ssi_sys_memcopy(&uc->uc_sigmask, &set, 8);
    }
    return 0;
}

/* The program's rt_sigaction: SIGSYS stays ours (the program's action is
 * kept aside and reported back); other handlers never block SIGSYS. */
static long s_sigaction(const int64_t *a, const ucontext_t *uc)
{
    uint64_t act[4];
    int64_t b[6] = {a[0], a[1], a[2], a[3], 0, 0};
    if (a[0] == SIGSYS) {
        if (a[2])
            ssi_sys_memcopy((void *)a[2], s_prog_sigsys, sizeof(act));
        if (a[1])
            ssi_sys_memcopy(s_prog_sigsys, (const void *)a[1], sizeof(act));
        return 0;
    }
    if (a[1]) {
        ssi_sys_memcopy(act, (const void *)a[1], sizeof(act));
        act[3] &= ~(1ULL << (SIGSYS - 1));
        b[1] = (int64_t)act;
    }
    return ssi_trap_local(SYS_rt_sigaction, b, uc);
}

/* ---- the SIGSYS handler ---------------------------------------------------------- */

/* 1 when a proxy took the call (*ret its result). */
static int s_proxied(long nr, int64_t *a, void *uc, long *ret)
{
    unsigned i;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].call && s_px[i].call(nr, a, uc, ret))
            return 1;
    return 0;
}

long ssi_trap_call(long nr, int64_t *a, void *uc)
{
    long ret;
    if (s_proxied(nr, a, uc, &ret))
        return ret;
    return ssi_trap_local(nr, a, uc);
}

/* The call's result, or 1 in *local: no proxy took it, the caller
 * re-issues it here once it let the lock go. */
static long s_dispatch(long nr, int64_t *a, ucontext_t *uc, int *local)
{
    unsigned i;
    long ret;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].seen)
            s_px[i].seen(nr, a);
    switch (nr) {
    case SYS_rt_sigprocmask: return s_sigprocmask(a, uc);
    case SYS_rt_sigaction: return s_sigaction(a, uc);
    case 435: /* clone3: glibc falls back to clone, which comes home */ return -ENOSYS;
    }
    if (s_proxied(nr, a, uc, &ret))
        return ret;
    *local = 1;
    return 0;
}

/* ---- one thread in the proxies at a time ------------------------------------------- */

/* The proxies keep static buffers and the call link is one stream: a
 * trapped call runs to its end before another thread's starts. The lock is
 * the owner's tid (0: free), taken again by the same thread when a signal
 * handler of the program traps while the thread is in a re-issued call
 * (depth). A waiter lets the freeze signal in, so that a freeze can park
 * it while the owner is blocked in a re-issued call. */
static int s_owner, s_depth, s_waiters;

static void s_lock(void)
{
    int tid = (int)ssi_sys0(SYS_gettid), cur;
    if (__atomic_load_n(&s_owner, __ATOMIC_ACQUIRE) == tid) {
        s_depth++;
        return;
    }
    for (;;) {
        uint64_t open = ~(1ULL << (SSI_FREEZE_SIGNAL - 1)), old;
        cur = 0;
        if (__atomic_compare_exchange_n(&s_owner, &cur, tid, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            break;
        __atomic_add_fetch(&s_waiters, 1, __ATOMIC_ACQ_REL);
        ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&open, (long)&old, 8);
        ssi_sys6(SYS_futex, (long)&s_owner, FUTEX_WAIT_PRIVATE, cur, 0, 0, 0);
        ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
        __atomic_sub_fetch(&s_waiters, 1, __ATOMIC_ACQ_REL);
    }
    s_depth = 1;
}

static void s_unlock(void)
{
    if (--s_depth > 0)
        return;
    __atomic_store_n(&s_owner, 0, __ATOMIC_RELEASE);
    if (__atomic_load_n(&s_waiters, __ATOMIC_ACQUIRE))
        ssi_sys6(SYS_futex, (long)&s_owner, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

/* ---- fork, vfork, clone and execve away: home first ------------------------------ */

/* What the call is, for a message; NULL: not one that comes home. */
static const char *s_home_call(long nr)
{
    switch (nr) {
    case SYS_clone: return "clone/fork";
    case SYS_fork:
    case SYS_vfork: return "fork";
    case SYS_execve:
    case SYS_execveat: return "execve";
    case SYS_pipe:
    case SYS_pipe2: return "pipe";
    }
    return 0;
}

/* One line for the program's stderr: where fd 2 is a home file (a
 * placeholder here), written there through the call link; else here. */
static void s_say(const char *line)
{
    char buf[400];
    size_t n = ssi_sys_strlcpy(buf, line, sizeof(buf) - 1);
    buf[n++] = '\n';
    if (ssi_trap_fwd(2) && s_link_up) {
        int64_t a[6] = {2, (int64_t)buf, (int64_t)n, 0, 0, 0};
        s_lock();
        ssi_trap_forward(SYS_write, a);
        s_unlock();
        return;
    }
    ssi_sys3(SYS_write, 2, (long)buf, (long)n);
}

static long s_home_refused(const char *what, const char *why, long err)
{
    char line[360];
    size_t n = 0;
    n += ssi_sys_strlcpy(line + n, "ssi: ", sizeof(line) - n);
    n += ssi_sys_strlcpy(line + n, what, sizeof(line) - n);
    n += ssi_sys_strlcpy(
        line + n, " in a migrated process fails with ENOSYS: it cannot come home to run it (",
        sizeof(line) - n);
    n += ssi_sys_strlcpy(line + n, why, sizeof(line) - n);
    n += ssi_sys_strlcpy(line + n, ")", sizeof(line) - n);
    if (err && n + 32 < sizeof(line)) {
        n += ssi_sys_strlcpy(line + n, " (errno ", sizeof(line) - n);
        n += ssi_sys_utoa(line + n, (uint64_t)(err < 0 ? -err : err));
        ssi_sys_strlcpy(line + n, ")", sizeof(line) - n);
    }
    s_say(line);
    return -ENOSYS;
}

/* The program forks, spawns or execs away: the body asks its deputy to
 * bring it home (SSI_CALL_OP_HOME: the deputy asks its ssid, which does
 * what `ssictl migrate PID home` does; several threads asking share one
 * ask) and this thread waits here, the freeze signal deliverable, asking
 * how it goes every 10 ms. Restored at home (the restore hook ran
 * ssi_trap_home before any thread goes on), it returns with the call
 * rewound to its `syscall` instruction: the kernel runs it natively there,
 * with the registers the program gave, where no filter is installed (a
 * posix_spawn's clone on its own stack included). Refused: ENOSYS, and why. */
static void s_come_home(long nr, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    const uint8_t *ip = (const uint8_t *)g[REG_RIP];
    const char *what = s_home_call(nr);
    ssi_call_home_t st;
    int64_t a[6] = {1, 0, (int64_t)&st, 0, 0, 0};
    uint64_t open = ~(1ULL << (SSI_FREEZE_SIGNAL - 1)), old;
    struct timespec nap = {0, 10 * 1000 * 1000};
    long r;
    int home;

    if (ip[-2] != 0x0f || ip[-1] != 0x05) {
        g[REG_RAX] = s_home_refused(what, "not made by a syscall instruction", 0);
        return;
    }
    for (;;) {
        s_lock();
        home = !s_active;
        r = home ? 0 : ssi_trap_forward(SSI_CALL_OP_HOME, a);
        s_unlock();
        if (home) {
            g[REG_RIP] -= 2;
            g[REG_RAX] = nr;
            return;
        }
        if (r < 0) {
            g[REG_RAX] = s_home_refused(what, "the deputy could not be asked", r);
            return;
        }
        if (st.state != SSI_CALL_HOME_PENDING) {
            st.why[sizeof(st.why) - 1] = 0;
            g[REG_RAX] = s_home_refused(what, st.why[0] ? st.why : "refused", 0);
            return;
        }
        a[0] = 0;
        a[1] = st.epoch;
        ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&open, (long)&old, 8);
        ssi_sys2(SYS_nanosleep, (long)&nap, 0);
        ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
    }
}

long ssi_trap_local_free(long nr, const int64_t *a, const void *uc)
{
    long r;
    if (__atomic_load_n(&s_owner, __ATOMIC_ACQUIRE) != (int)ssi_sys0(SYS_gettid) || s_depth != 1)
        return ssi_trap_local(nr, a, uc);
    s_unlock();
    r = ssi_trap_local(nr, a, uc);
    s_lock();
    return r;
}

long ssi_trap_lock_wait(long nr, unsigned *ms, void *ucv)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    const uint8_t *ip = (const uint8_t *)g[REG_RIP];
    uint64_t prog, pend = 0, open = ~(1ULL << (SSI_FREEZE_SIGNAL - 1)), old, act[4];
    struct timespec nap = {0, (long)*ms * 1000 * 1000};
    int sig, held;

    ssi_sys_memcopy(&prog, &uc->uc_sigmask, 8);
    ssi_sys2(SYS_rt_sigpending, (long)&pend, 8);
    pend &= ~prog & ~((1ULL << (SIGSYS - 1)) | (1ULL << (SSI_FREEZE_SIGNAL - 1)));
    if (pend) {
        /* The lowest first, as the kernel delivers them. */
        for (sig = 1; !(pend & (1ULL << (sig - 1))); sig++)
            ;
        if (ssi_sys4(SYS_rt_sigaction, sig, 0, (long)act, 8) == 0 && act[0] > (uint64_t)SIG_IGN &&
            !(act[1] & SA_RESTART))
            return -EINTR;
        if (ip[-2] != 0x0f || ip[-1] != 0x05)
            return -EINTR;
        g[REG_RIP] -= 2;
        return nr; /* RAX: the call again, once the signal is taken */
    }
    held = __atomic_load_n(&s_owner, __ATOMIC_ACQUIRE) == (int)ssi_sys0(SYS_gettid) && s_depth == 1;
    if (held)
        s_unlock();
    ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&open, (long)&old, 8);
    ssi_sys2(SYS_nanosleep, (long)&nap, 0);
    ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
    if (held)
        s_lock();
    *ms = *ms * 2 > 50 ? 50 : *ms * 2;
    return 0;
}

static void s_on_sigsys(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    int64_t a[6];
    int local = 0;
    long r;
    (void)sig;
    if (si->si_code == SYS_SECCOMP && si->si_errno == S_REFUSE_DATA) {
        s_lock();
        g[REG_RAX] = s_refused(si->si_arch, si->si_syscall);
        s_unlock();
        return;
    }
    if (si->si_code != SYS_SECCOMP || si->si_errno != S_TRAP_DATA)
        return; /* not ours: a stray SIGSYS is dropped */
    a[0] = g[REG_RDI];
    a[1] = g[REG_RSI];
    a[2] = g[REG_RDX];
    a[3] = g[REG_R10];
    a[4] = g[REG_R8];
    a[5] = g[REG_R9];
    if (s_home_call(si->si_syscall)) {
        s_come_home(si->si_syscall, uc);
        return;
    }
    s_lock();
    r = s_dispatch(si->si_syscall, a, uc, &local);
    s_unlock();
    /* A call no proxy took (a read or write of a tunnel, a recvmsg on a
     * socket channel) runs here outside the lock: a thread blocked in it
     * (a home pipe with nothing to read yet) stalls no other thread's
     * calls. It uses no proxy's buffers, only its own arguments. */
    if (local)
        r = ssi_trap_local(si->si_syscall, a, uc);
    g[REG_RAX] = r;
}

/* ---- refused calls ---------------------------------------------------------------- */

/* A call the filter refuses (S_REFUSE_DATA): one line on stderr the first
 * time each number is refused in this process, then -ENOSYS. arch and nr
 * as the kernel saw them (si_arch, si_syscall). */
static long s_refused(uint32_t arch, long nr)
{
    static char line[160];
    const char *abi = "";
    unsigned k = 0;
    uint64_t num = (uint64_t)nr;
    size_t n = 0;
    if (arch == AUDIT_ARCH_X86_64 && (num & __X32_SYSCALL_BIT)) {
        k = 2;
        abi = " of the x32 ABI";
        num &= ~(uint64_t)__X32_SYSCALL_BIT;
    } else if (arch != AUDIT_ARCH_X86_64) {
        k = 1;
        abi = arch == AUDIT_ARCH_I386 ? " of the i386 ABI (int $0x80)" : " of a foreign ABI";
    }
    if (num >= S_SAID_MAX)
        num = S_SAID_MAX - 1; /* all unknown large numbers: one line */
    if (s_said[k][num >> 3] & (1u << (num & 7)))
        return -S_REFUSE_ERR;
    s_said[k][num >> 3] |= (uint8_t)(1u << (num & 7));
    n += ssi_sys_strlcpy(line + n, "ssi: system call ", sizeof(line) - n);
    n += ssi_sys_utoa(line + n, (uint64_t)nr & 0xffffffffu);
    if (k == 0 && (uint64_t)nr < SSI_SYSTAB_N && ssi_systab[nr].name) {
        n += ssi_sys_strlcpy(line + n, " (", sizeof(line) - n);
        n += ssi_sys_strlcpy(line + n, ssi_systab[nr].name, sizeof(line) - n);
        n += ssi_sys_strlcpy(line + n, ")", sizeof(line) - n);
    }
    n += ssi_sys_strlcpy(line + n, abi, sizeof(line) - n);
    ssi_sys_strlcpy(line + n, " is refused in a migrated process (ENOSYS)", sizeof(line) - n);
    s_say(line);
    return -S_REFUSE_ERR;
}

/* ---- what the filter does with each call --------------------------------------- */

static const ssi_trap_proxy_t *s_lister(long nr, unsigned *mask)
{
    const ssi_trap_proxy_t *first = 0;
    unsigned i, j;
    *mask = 0;
    for (i = 0; i < s_npx; i++)
        for (j = 0; j < s_px[i].ncalls; j++)
            if (s_px[i].calls[j] == nr) {
                *mask |= 1u << i;
                if (!first)
                    first = &s_px[i];
            }
    return first;
}

unsigned ssi_trap_class(long nr, unsigned *proxies)
{
    unsigned i, mask = 0;
    if (proxies)
        *proxies = 0;
    if (nr < 0)
        return SSI_TRAP_REFUSED;
    for (i = 0; i < sizeof(s_own) / sizeof(s_own[0]); i++)
        if (s_own[i] == nr)
            return SSI_TRAP_CORE;
    if (s_lister(nr, &mask)) {
        if (proxies)
            *proxies = mask;
        return nr == SYS_mmap ? SSI_TRAP_FILEMAP : SSI_TRAP_PROXY;
    }
    if (nr >= SSI_SYSTAB_N)
        return SSI_TRAP_REFUSED;
    if (ssi_systab[nr].flags & SSI_SYS_RUN)
        return SSI_TRAP_RUNS;
    if (ssi_systab[nr].flags & SSI_SYS_SELF)
        return SSI_TRAP_SELF;
    if (ssi_systab[nr].flags & SSI_SYS_WHO)
        return SSI_TRAP_WHO;
    return SSI_TRAP_REFUSED;
}

int ssi_trap_shim_may(long nr)
{
    unsigned c = ssi_trap_class(nr, 0);
    if (c == SSI_TRAP_PROXY || c == SSI_TRAP_FILEMAP)
        return 1; /* re-issued here (ssi_trap_local) */
    return nr >= 0 && nr < SSI_SYSTAB_N && (ssi_systab[nr].flags & SSI_SYS_SHIM);
}

const char *ssi_trap_sys_name(long nr)
{
    return nr >= 0 && nr < SSI_SYSTAB_N ? ssi_systab[nr].name : 0;
}

const char *ssi_trap_proxy_name(unsigned i)
{
    return i < s_npx ? s_px[i].name : 0;
}

/* ---- installing ------------------------------------------------------------------ */

#define S_MAX_INSNS 2048 /* of BPF_MAXINSNS 4096 */
/* Leaf actions of the decision trees. */
enum { S_ALLOW, S_TRAP, S_REFUSE, S_ERRNO, S_SELF, S_WHO };

static struct sock_filter s_f[S_MAX_INSNS];
static unsigned s_n;
static uint32_t s_run_start[SSI_SYSTAB_N + 1];
static uint8_t s_run_act[SSI_SYSTAB_N + 1];
static uint32_t s_pid;

static void s_emit(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    if (s_n < S_MAX_INSNS)
        s_f[s_n] = (struct sock_filter){code, jt, jf, k};
    s_n++;
}

#define LD(off) s_emit(BPF_LD | BPF_W | BPF_ABS, (off), 0, 0)
#define JMP(op, k, jt, jf) s_emit(BPF_JMP | (op) | BPF_K, (k), (jt), (jf))
#define RET(k) s_emit(BPF_RET | BPF_K, (k), 0, 0)
#define JA(k) s_emit(BPF_JMP | BPF_JA, (k), 0, 0)

static void s_leaf(unsigned act, uint32_t nr)
{
    switch (act) {
    case S_ALLOW: RET(SECCOMP_RET_ALLOW); break;
    case S_TRAP: RET(SECCOMP_RET_TRAP | S_TRAP_DATA); break;
    case S_ERRNO: RET(SECCOMP_RET_ERRNO | S_REFUSE_ERR); break;
    case S_SELF:
        /* Its first argument (a pid, an int) is 0 or our own pid: runs. */
        LD(offsetof(struct seccomp_data, args));
        JMP(BPF_JEQ, 0, 2, 0);
        JMP(BPF_JEQ, s_pid, 1, 0);
        RET(SECCOMP_RET_TRAP | S_REFUSE_DATA);
        RET(SECCOMP_RET_ALLOW);
        break;
    case S_WHO:
        /* (which, who): which is "one process" (PRIO_PROCESS 0 for
         * setpriority, IOPRIO_WHO_PROCESS 1 for ioprio_set), who is 0 or
         * our own pid: runs. */
        LD(offsetof(struct seccomp_data, args));
        JMP(BPF_JEQ, nr == 141 /* setpriority */ ? 0 : 1, 0, 3);
        LD(offsetof(struct seccomp_data, args) + 8);
        JMP(BPF_JEQ, 0, 2, 0);
        JMP(BPF_JEQ, s_pid, 1, 0);
        RET(SECCOMP_RET_TRAP | S_REFUSE_DATA);
        RET(SECCOMP_RET_ALLOW);
        break;
    default: RET(SECCOMP_RET_TRAP | S_REFUSE_DATA); break;
    }
}

/* A binary search over runs [lo, hi) of equal action on the call number
 * in A (forward jumps only; BPF_JA for the long ones). */
static void s_tree(unsigned lo, unsigned hi)
{
    unsigned mid, ja;
    if (hi - lo == 1) {
        s_leaf(s_run_act[lo], s_run_start[lo]);
        return;
    }
    mid = (lo + hi) / 2;
    JMP(BPF_JGE, s_run_start[mid], 0, 1);
    ja = s_n;
    JA(0);
    s_tree(lo, mid);
    if (ja < S_MAX_INSNS)
        s_f[ja].k = s_n - ja - 1;
    s_tree(mid, hi);
}

/* The tree of one side: the program's calls (shim 0) or libssi.so's. */
static void s_side(int shim)
{
    unsigned nr, nruns = 0, act, last = ~0u;
    for (nr = 0; nr <= SSI_SYSTAB_N; nr++) {
        if (nr == SSI_SYSTAB_N)
            act = shim ? S_ERRNO : S_REFUSE; /* every number above the table */
        else if (shim)
            act = ssi_trap_shim_may(nr) ? S_ALLOW : S_ERRNO;
        else
            switch (ssi_trap_class(nr, 0)) {
            case SSI_TRAP_RUNS:
            case SSI_TRAP_FILEMAP: act = S_ALLOW; break; /* mmap: tested before */
            case SSI_TRAP_SELF: act = S_SELF; break;
            case SSI_TRAP_WHO: act = S_WHO; break;
            case SSI_TRAP_CORE:
            case SSI_TRAP_PROXY: act = S_TRAP; break;
            default: act = S_REFUSE; break;
            }
        if (act != last || act == S_SELF || act == S_WHO) {
            s_run_start[nruns] = nr;
            s_run_act[nruns++] = (uint8_t)act;
            last = act;
        }
    }
    s_tree(0, nruns);
}

/* The filter:
 *  - another ABI than x86_64 (int $0x80), or an x32 call: refused;
 *  - from libssi.so's text (__ehdr_start .. __etext): the calls the shim
 *    makes and those it re-issues run, anything else fails with ENOSYS
 *    (no trap: SIGSYS is blocked in the handler);
 *  - from anywhere else: mmap of a file is trapped (anonymous runs), then
 *    each number as ssi_trap_class says: runs, trapped, runs if aimed at
 *    itself, or refused (trapped to s_refused). */
static int s_program_nnp = -1;

int ssi_trap_program_nnp(void)
{
    return s_program_nnp;
}

static long s_install_filter(void)
{
    struct sock_fprog prog;
    uint64_t lo = (uint64_t)__ehdr_start, hi = (uint64_t)__etext;
    uint32_t lo_h = (uint32_t)(lo >> 32), lo_l = (uint32_t)lo, hi_h = (uint32_t)(hi >> 32),
             hi_l = (uint32_t)hi;
    unsigned ours, mmap_trapped = ssi_trap_class(SYS_mmap, 0) == SSI_TRAP_FILEMAP;

    s_n = 0;
    s_pid = (uint32_t)ssi_sys0(SYS_getpid);
    LD(offsetof(struct seccomp_data, arch));                    /* 0 */
    JMP(BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0);                      /* 1 */
    RET(SECCOMP_RET_TRAP | S_REFUSE_DATA);                      /* 2 */
    LD(offsetof(struct seccomp_data, nr));                      /* 3 */
    JMP(BPF_JSET, __X32_SYSCALL_BIT, 0, 1);                     /* 4 */
    RET(SECCOMP_RET_TRAP | S_REFUSE_DATA);                      /* 5 */
    LD(offsetof(struct seccomp_data, instruction_pointer) + 4); /* 6 */
    JMP(BPF_JGT, lo_h, 3, 0);                                   /* 7: > lo_h: check hi */
    JMP(BPF_JEQ, lo_h, 0, 8);                                   /* 8: < lo_h: not ours (->17) */
    LD(offsetof(struct seccomp_data, instruction_pointer));     /* 9 */
    JMP(BPF_JGE, lo_l, 0, 6);                                   /* 10: < lo: not ours (->17) */
    LD(offsetof(struct seccomp_data, instruction_pointer) + 4); /* 11 */
    JMP(BPF_JGT, hi_h, 4, 0);                                   /* 12: > hi_h: not ours (->17) */
    JMP(BPF_JEQ, hi_h, 0, 2);                                   /* 13: < hi_h: ours (->16) */
    LD(offsetof(struct seccomp_data, instruction_pointer));     /* 14 */
    JMP(BPF_JGE, hi_l, 1, 0);                                   /* 15: >= hi: not ours (->17) */
    ours = s_n;
    JA(0);                                 /* 16: -> libssi.so's tree */
    LD(offsetof(struct seccomp_data, nr)); /* 17 */
    if (mmap_trapped) {
        /* mmap: only with a file (MAP_ANONYMOUS clear): anonymous
         * memory is nobody's business but this node's. */
        JMP(BPF_JEQ, SYS_mmap, 0, 5);
        LD(offsetof(struct seccomp_data, args) + 3 * 8);
        JMP(BPF_JSET, MAP_ANONYMOUS, 0, 1);
        RET(SECCOMP_RET_ALLOW);
        RET(SECCOMP_RET_TRAP | S_TRAP_DATA);
        LD(offsetof(struct seccomp_data, nr)); /* the other calls */
    }
    /* clone with CLONE_THREAD (pthread_create; clone3 says ENOSYS, so
     * glibc falls back to clone, whose flags the filter can see): a thread
     * of this body, with this filter, runs. Any other clone is trapped and
     * comes home to run there (s_come_home). */
    JMP(BPF_JEQ, SYS_clone, 0, 4);
    LD(offsetof(struct seccomp_data, args));
    JMP(BPF_JSET, CLONE_THREAD, 0, 1);
    RET(SECCOMP_RET_ALLOW);
    LD(offsetof(struct seccomp_data, nr));
    s_side(0);
    s_f[ours].k = s_n - ours - 1;
    LD(offsetof(struct seccomp_data, nr));
    s_side(1);
    if (s_n > S_MAX_INSNS)
        return -E2BIG;
    prog.len = (unsigned short)s_n;
    prog.filter = s_f;
    /* The program's own no_new_privs, for its image (ssi's is not its). */
    s_program_nnp = (int)ssi_sys5(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    if (ssi_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -EPERM;
    /* TSYNC: every thread of the process (the others are parked in the
     * freeze handler as this runs) gets the filter, and threads made later
     * inherit it. A positive result is a thread that could not take it. */
    long r = ssi_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, (long)&prog);
    return r > 0 ? -EBUSY : r;
}
#undef LD
#undef JMP
#undef RET
#undef JA

void ssi_trap_freeze(void)
{
    long fd;
    unsigned i;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].freeze)
            s_px[i].freeze();
    /* The agent puts its control socket at the lowest free number from
     * SSI_TUNNEL_CTL_FD_MIN up in the image's fd table: find the same one.
     * A number held by a descriptor the image leaves out counts as free,
     * as it does for the agent: ours (the call link, a proxy's socket) and
     * the freeze's (a live move's tracking socket and userfaultfd, open
     * now, at the lowest numbers free when the tracking began: above 900
     * in a process holding that many files; counted as taken, the body
     * looked for its control socket one number off and ran with no call
     * link while its deputy waited 30 s for it). */
    for (fd = SSI_TUNNEL_CTL_FD_MIN; fd < S_MAX_FD; fd++)
        if (ssi_sys2(SYS_fcntl, fd, F_GETFD) == -EBADF || ssi_trap_own_fd((int)fd) ||
            ssi_freeze_own_fd((int)fd))
            break;
    s_ctl_fd = (int)fd;
}

void ssi_trap_home(void)
{
    unsigned i;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].home)
            s_px[i].home();
    ssi_sys_memzero(s_fwd, sizeof(s_fwd));
    /* The program's own SIGSYS action again (away, ours stood in front). */
    if (s_active)
        ssi_sys4(SYS_rt_sigaction, SIGSYS, (long)s_prog_sigsys, 0, 8);
    /* Wipe the link's keys but close nothing: the body's link fd number
     * means nothing in the home process (the restore closed it there). */
    ssi_sys_memzero(&s_ch, sizeof(s_ch));
    s_link_up = 0;
    s_link_fd = -1;
    s_active = 0;
}

/* The forwarded fds' numbers that follow the control message: n int32,
 * read in pieces (no malloc here), each marked forwarded. 0 or -errno. */
static long s_take_fwds(uint32_t n)
{
    static int32_t piece[1024];
    ssi_sys_memzero(s_fwd, sizeof(s_fwd));
    while (n) {
        uint32_t k = n < 1024 ? n : 1024, i;
        long got =
            ssi_sys6(SYS_recvfrom, s_ctl_fd, (long)piece, k * sizeof(piece[0]), MSG_WAITALL, 0, 0);
        if (got != (long)(k * sizeof(piece[0])))
            return got < 0 ? got : -EPROTO;
        for (i = 0; i < k; i++)
            ssi_trap_set_fwd(piece[i], 1);
        n -= k;
    }
    return 0;
}

/* The control message from the agent: the call link's socket (returned)
 * and, in ctl, its key and the forwarded fds. -errno on failure. The
 * control socket then goes to the proxies, which may keep it. */
static long s_take_link(ssi_tunnel_ctl_t *ctl)
{
    int fd = -1;
    long rc = ssi_fdpass_recv(s_ctl_fd, ctl, sizeof(*ctl), MSG_WAITALL, &fd);
    long hi;
    unsigned i;
    /* Out of the program's way, like the shim's other descriptors, before
     * the proxies look at which numbers are taken: received at the lowest
     * free number, often the one the freeze's own socket held (fd 3 in a
     * small program), it was taken for a tunnel of the image, and a
     * socketpair made away at that number later had its calls sent home. */
    if (fd >= 0 &&
        (hi = ssi_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, SSI_TUNNEL_CTL_FD_MIN + 64)) >= 0) {
        ssi_sys1(SYS_close, fd);
        fd = (int)hi;
    }
    if (rc != (long)sizeof(*ctl) || ctl->magic != SSI_TUNNEL_CTL_MAGIC ||
        ctl->version != SSI_TUNNEL_CTL_VERSION || ctl->nfwd > SSI_TUNNEL_CTL_MAX_FWD)
        rc = -EPROTO;
    else
        rc = s_take_fwds(ctl->nfwd);
    for (i = 0; i < s_npx; i++)
        if (s_px[i].start)
            s_px[i].start(s_ctl_fd);
    s_ctl_fd = -1;
    if (rc < 0 || fd < 0) {
        if (fd >= 0)
            ssi_sys1(SYS_close, fd);
        return rc < 0 ? rc : -EPROTO;
    }
    return fd;
}

/* The program's handlers installed at home may block SIGSYS while they run
 * (dash's and many others' sa_mask is every signal): away, a trapped call
 * in one would get the process killed. s_sigaction keeps SIGSYS out of the
 * handlers set away; those the image brought are mended here, before the
 * filter. */
static void s_open_handlers(void)
{
    uint64_t act[4], sys = 1ULL << (SIGSYS - 1);
    int sig;
    for (sig = 1; sig <= 64; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSYS || sig == SSI_FREEZE_SIGNAL)
            continue;
        if (ssi_sys4(SYS_rt_sigaction, sig, 0, (long)act, 8) < 0)
            continue;
        if (act[0] > (uint64_t)SIG_IGN && (act[3] & sys)) {
            act[3] &= ~sys;
            ssi_sys4(SYS_rt_sigaction, sig, (long)act, 0, 8);
        }
    }
}

long ssi_trap_start(void)
{
    static ssi_tunnel_ctl_t ctl;
    struct timeval tv = {60, 0};
    long rc, fd;
    uint32_t i;

    if (s_ctl_fd < 0)
        return 0;
    /* No control socket: restored without an agent (checkpoint, engine
     * tests): nothing is forwarded. */
    if (ssi_sys5(SYS_setsockopt, s_ctl_fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, sizeof(tv)) < 0)
        return 0;
    fd = s_take_link(&ctl);
    if (fd < 0) {
        ssi_sys_memzero(&ctl, sizeof(ctl));
        return fd;
    }
    rc = ssi_chan_init(&s_ch, (int)fd, ctl.key, SSI_CHAN_RESPONDER,
                       ctl.timeout_ms ? (int)ctl.timeout_ms : 30000);
    ssi_sys_memzero(ctl.key, sizeof(ctl.key));
    if (rc < 0) {
        ssi_sys1(SYS_close, fd);
        return rc;
    }
    ssi_chan_set_timeout(&s_ch, 0);
    s_link_fd = (int)fd;
    s_link_up = 1;

    /* The handler: every signal blocked inside (forwarded calls run one at
     * a time); SIGSYS stays deliverable everywhere else. */
    ssi_sys_memzero(s_prog_sigsys, sizeof(s_prog_sigsys));
    rc = ssi_signal_action(SIGSYS, (void (*)(void))s_on_sigsys, SA_SIGINFO, ~0ULL, s_prog_sigsys);
    s_open_handlers();
    if (rc == 0)
        rc = s_install_filter();
    if (rc < 0) {
        ssi_chan_close(&s_ch);
        s_link_up = 0;
        s_link_fd = -1;
        return rc;
    }
    s_active = 1;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].linked)
            s_px[i].linked();
    return 1;
}
