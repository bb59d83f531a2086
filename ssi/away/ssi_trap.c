/*
 * ssi_trap.c - the away body's trap core (see ssi_trap.h).
 *
 * Installed by the shim's restore hook when the body runs away (never at
 * home): PR_SET_NO_NEW_PRIVS, a SIGSYS handler, and a seccomp filter that
 * lets every call made from libssi.so's own text through and returns
 * SECCOMP_RET_TRAP for the listed calls made from anywhere else (the
 * program, libc's internals: stdio, opendir, dlopen). The handler decodes
 * the call from the signal frame, lets every proxy see it, keeps SIGSYS
 * ours (rt_sigaction, rt_sigprocmask), refuses what a migrated process
 * cannot do yet, and gives the rest to the proxies in order; a proxy
 * either forwards it over the call link (one request, one answer; all
 * signals blocked, one call at a time), or re-issues it here with the
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
#include "ssi_signal.h"
#include "ssi_sys.h"
#include "ssi_tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
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
#define S_TRAP_DATA 0x55f5 /* SECCOMP_RET_DATA of our traps: si_errno */
#define S_MAX_FD 65536
#define S_MAX_TRAPPED 250 /* a BPF jump reaches 255 instructions ahead */

static const ssi_trap_proxy_t *s_px;
static unsigned s_npx;
static int s_ctl_fd = -1; /* the agent's control socket (chosen at freeze) */
static int s_active;      /* the filter is installed */
static int s_link_up;     /* the call link works; else forwarded calls fail with EIO */
static int s_link_fd = -1;
static ssi_chan_t s_ch;
static uint8_t s_fwd[S_MAX_FD / 8];
static uint8_t s_msg[sizeof(ssi_call_req_t) + SSI_CALL_MSG_MAX];
static uint64_t s_prog_sigsys[4]; /* the program's own SIGSYS action, kept aside */

/* libssi.so's extent: calls from there pass the filter. */
extern char __ehdr_start[] __attribute__((visibility("hidden")));
extern char __etext[] __attribute__((visibility("hidden")));

/* The core's own calls: SIGSYS must stay deliverable and ours; and what
 * is beyond a migrated process for now, refused cleanly rather than run
 * behind the link. */
static const uint16_t s_own[] = {
    SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_clone,    SYS_fork,
    SYS_vfork,        SYS_execve,         SYS_execveat, 435 /* clone3 */,
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

static long s_refuse(const char *what)
{
    ssi_sys_log("ssi-vfs: ", what, " is not supported in a migrated process yet (ENOSYS)", 0);
    return -ENOSYS;
}

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
        set &= ~(sys | (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
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

long ssi_trap_call(long nr, int64_t *a, void *uc)
{
    unsigned i;
    long ret;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].call && s_px[i].call(nr, a, uc, &ret))
            return ret;
    return ssi_trap_local(nr, a, uc);
}

static long s_dispatch(long nr, int64_t *a, ucontext_t *uc)
{
    unsigned i;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].seen)
            s_px[i].seen(nr, a);
    switch (nr) {
    case SYS_rt_sigprocmask: return s_sigprocmask(a, uc);
    case SYS_rt_sigaction: return s_sigaction(a, uc);
    case SYS_clone: return s_refuse("clone/fork");
    case 435: /* clone3: glibc falls back to clone, which says why */ return -ENOSYS;
    case SYS_fork:
    case SYS_vfork: return s_refuse("fork");
    case SYS_execve:
    case SYS_execveat: return s_refuse("execve");
    }
    return ssi_trap_call(nr, a, uc);
}

static void s_on_sigsys(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    int64_t a[6];
    (void)sig;
    if (si->si_code != SYS_SECCOMP || si->si_errno != S_TRAP_DATA)
        return; /* not ours: a stray SIGSYS is dropped */
    a[0] = g[REG_RDI];
    a[1] = g[REG_RSI];
    a[2] = g[REG_RDX];
    a[3] = g[REG_R10];
    a[4] = g[REG_R8];
    a[5] = g[REG_R9];
    g[REG_RAX] = s_dispatch(si->si_syscall, a, uc);
}

/* ---- installing ------------------------------------------------------------------ */

/* Adds nr to list (n entries, no duplicates). mmap is apart: *mmap = 1. */
static long s_add_call(uint16_t *list, unsigned *n, uint16_t nr, int *mmap)
{
    unsigned i;
    if (nr == SYS_mmap) {
        *mmap = 1;
        return 0;
    }
    for (i = 0; i < *n; i++)
        if (list[i] == nr)
            return 0;
    if (*n >= S_MAX_TRAPPED)
        return -E2BIG;
    list[(*n)++] = nr;
    return 0;
}

static long s_install_filter(void)
{
    static struct sock_filter f[32 + S_MAX_TRAPPED];
    static uint16_t trapped[S_MAX_TRAPPED];
    struct sock_fprog prog;
    uint64_t lo = (uint64_t)__ehdr_start, hi = (uint64_t)__etext;
    uint32_t lo_h = (uint32_t)(lo >> 32), lo_l = (uint32_t)lo, hi_h = (uint32_t)(hi >> 32),
             hi_l = (uint32_t)hi;
    unsigned n = 0, i, j, ntrap = 0;
    int mmap = 0;
    long rc = 0;

    /* The calls: ours, then every proxy's, once each. */
    for (i = 0; rc == 0 && i < sizeof(s_own) / sizeof(s_own[0]); i++)
        rc = s_add_call(trapped, &ntrap, s_own[i], &mmap);
    for (i = 0; rc == 0 && i < s_npx; i++)
        for (j = 0; rc == 0 && j < s_px[i].ncalls; j++)
            rc = s_add_call(trapped, &ntrap, s_px[i].calls[j], &mmap);
    if (rc < 0)
        return rc;
#define LD(off) f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define JMP(op, k, jt, jf) \
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | (op) | BPF_K, (k), (jt), (jf))
#define RET(k) f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (k))
    /* Layout (jump offsets are relative to the next instruction):
     *  0 ld arch;  1 jeq X86_64 ? 2 : ALLOW(+..)
     *  IP range [lo, hi): calls from libssi.so's text are allowed. */
    LD(offsetof(struct seccomp_data, arch));
    JMP(BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0);
    RET(SECCOMP_RET_ALLOW);
    LD(offsetof(struct seccomp_data, instruction_pointer) + 4); /* 3 */
    JMP(BPF_JGT, lo_h, 3, 0);                                   /* 4: > lo_h: check hi */
    JMP(BPF_JEQ, lo_h, 0, 8);                                   /* 5: < lo_h: not ours (->14) */
    LD(offsetof(struct seccomp_data, instruction_pointer));     /* 6 */
    JMP(BPF_JGE, lo_l, 0, 6);                                   /* 7: < lo: not ours (->14) */
    LD(offsetof(struct seccomp_data, instruction_pointer) + 4); /* 8 */
    JMP(BPF_JGT, hi_h, 4, 0);                                   /* 9: > hi_h: not ours (->14) */
    JMP(BPF_JEQ, hi_h, 0, 2);                                   /* 10: < hi_h: ours (->13) */
    LD(offsetof(struct seccomp_data, instruction_pointer));     /* 11 */
    JMP(BPF_JGE, hi_l, 1, 0);                                   /* 12: >= hi: not ours (->14) */
    RET(SECCOMP_RET_ALLOW);                                     /* 13 */
    LD(offsetof(struct seccomp_data, nr));                      /* 14 */
    if (mmap) {
        /* mmap: only with a file (MAP_ANONYMOUS clear): anonymous
         * memory is nobody's business but this node's. */
        JMP(BPF_JEQ, SYS_mmap, 0, 4); /* -> the list */
        LD(offsetof(struct seccomp_data, args) + 3 * 8);
        JMP(BPF_JSET, MAP_ANONYMOUS, 0, 1);
        RET(SECCOMP_RET_ALLOW);
        RET(SECCOMP_RET_TRAP | S_TRAP_DATA);
    }
    /* The trapped list; each match jumps to the final TRAP. */
    for (i = 0; i < ntrap; i++)
        JMP(BPF_JEQ, trapped[i], (uint8_t)(ntrap - i), 0);
    RET(SECCOMP_RET_ALLOW);
    RET(SECCOMP_RET_TRAP | S_TRAP_DATA);
#undef LD
#undef JMP
#undef RET
    prog.len = (unsigned short)n;
    prog.filter = f;
    if (ssi_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -EPERM;
    return ssi_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog);
}

void ssi_trap_freeze(void)
{
    long fd;
    unsigned i;
    for (i = 0; i < s_npx; i++)
        if (s_px[i].freeze)
            s_px[i].freeze();
    /* The agent puts its control socket at the lowest free number from
     * SSI_TUNNEL_CTL_FD_MIN up in the image's fd table: find the same one. */
    for (fd = SSI_TUNNEL_CTL_FD_MIN; fd < S_MAX_FD; fd++)
        if (ssi_sys2(SYS_fcntl, fd, F_GETFD) == -EBADF && fd != s_link_fd)
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
    unsigned i;
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

long ssi_trap_start(void)
{
    static ssi_tunnel_ctl_t ctl;
    struct timeval tv = {60, 0};
    long rc, fd, hi;
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
    /* Out of the program's way, like the shim's other descriptors. */
    hi = ssi_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, SSI_TUNNEL_CTL_FD_MIN + 64);
    if (hi >= 0) {
        ssi_sys1(SYS_close, fd);
        fd = hi;
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
