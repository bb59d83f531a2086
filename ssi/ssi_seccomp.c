/*
 * ssi_seccomp.c - the program's own seccomp filters (issue #12). A body is
 * a fresh task made by the restorer, which holds no filter: without this, a
 * program that confined itself would run unconfined once moved. The kernel
 * shows a task's filters only to a root tracer (PTRACE_SECCOMP_GET_FILTER),
 * so, as for rseq (ssi_regs.c), the shim notes each filter the program
 * installs through libc (prctl(PR_SET_SECCOMP) or syscall(SYS_seccomp), the
 * ways libseccomp and programs do it) and the restore hook installs them
 * again, in order, right after the trap core's own filter:
 *
 *   - away: every filter. The kernel runs the newest filter first and takes
 *     the strictest answer of all, so a call the program forbade (ERRNO,
 *     KILL, TRAP of its own) is refused as at home, and a call it allows
 *     gets ours (runs, trapped and forwarded, or refused). A forwarded call
 *     runs at home in the deputy, which keeps the program's filters too.
 *   - home again: the deputy kept the filters it had (seccomp filters
 *     survive the exec of ssi-restore --in-place); only those the program
 *     installed while away are installed there.
 *   - a checkpoint restarted (a fresh ssi-ckpt process): every filter.
 *
 * Each is installed with SECCOMP_FILTER_FLAG_TSYNC (every thread of the
 * process gets it: a filter a program installed in one thread only is
 * given to all) and the LOG and SPEC_ALLOW flags it had; a user-notification
 * listener (NEW_LISTENER) cannot move: the filter comes back without it.
 * Not seen, so not carried: filters inherited across exec (a service
 * manager's), or installed by inline assembly.
 *
 * A filter that forbids a call ssi needs (s_needed) makes the process
 * unmovable: the shim checks each one before the kernel takes it
 * (ssi_seccomp_check_new) and tells ssid (PIN), and each freeze checks
 * them all again (ssi_seccomp_check).
 *
 * The notes (up to S_MAX filters, each a copy of its instructions in an
 * anonymous mapping) are ordinary memory of the process: the image carries
 * them. Restore side: raw system calls, no libc.
 */
#include "ssi_seccomp.h"

#include "ssi_sys.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <asm/unistd.h>
#include <sys/syscall.h>

#define S_MAX 64

typedef struct {
    struct sock_filter *insns;
    unsigned short len;
    unsigned flags;
    int home; /* in the home process's kernel (installed there) */
} s_filter_t;

static s_filter_t s_filters[S_MAX];
static int s_n;

void ssi_seccomp_note(unsigned flags, const void *fprog, int away)
{
    const struct sock_fprog *p = fprog;
    size_t bytes;
    long m;
    if (!p || !p->len || p->len > BPF_MAXINSNS)
        return;
    if (s_n == S_MAX) {
        ssi_sys_log("ssi: ", "more than 64 seccomp filters: the newest will not move", 0, 0);
        return;
    }
    bytes = (size_t)p->len * sizeof(struct sock_filter);
    m = ssi_sys6(SYS_mmap, 0, (long)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0);
    if (SSI_SYS_ERR(m))
        return;
    ssi_sys_memcopy((void *)m, p->filter, bytes);
    s_filters[s_n].insns = (struct sock_filter *)m;
    s_filters[s_n].len = p->len;
    s_filters[s_n].flags = flags & (SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    s_filters[s_n].home = !away;
    s_n++;
}

long ssi_seccomp_restore(int which)
{
    for (int i = 0; i < s_n; i++) {
        s_filter_t *f = &s_filters[i];
        struct sock_fprog prog = {.len = f->len, .filter = f->insns};
        long r;
        if (which == SSI_SECCOMP_HOME && f->home)
            continue;
        r = ssi_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | f->flags,
                     (long)&prog);
        if (r > 0) /* TSYNC: the id of a thread that could not take it */
            r = -ESRCH;
        if (r < 0) {
            ssi_sys_log("ssi: ", "the program's seccomp filter could not be installed again", 0, r);
            return r;
        }
        if (which != SSI_SECCOMP_AWAY)
            f->home = 1; /* this process is the home one now */
    }
    return 0;
}

int ssi_seccomp_count(void)
{
    return s_n;
}

/* ---- what a filter answers: a classic BPF interpreter ------------------- */

/* The filter's answer (SECCOMP_RET_*, with its data) to `d`. The kernel
 * checked the program when it was installed (forward jumps only, loads
 * inside seccomp_data), so this only guards against running off the end. */
static uint32_t s_run(const s_filter_t *f, const struct seccomp_data *d)
{
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0}, pc = 0;
    const unsigned char *data = (const unsigned char *)d;
    while (pc < f->len) {
        const struct sock_filter *i = &f->insns[pc++];
        uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;
        switch (BPF_CLASS(i->code)) {
        case BPF_LD:
            if (BPF_MODE(i->code) == BPF_ABS && i->k + 4 <= sizeof(*d))
                ssi_sys_memcopy(&a, data + i->k, 4);
            else if (BPF_MODE(i->code) == BPF_IMM)
                a = i->k;
            else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS)
                a = mem[i->k];
            else if (BPF_MODE(i->code) == BPF_LEN)
                a = sizeof(*d);
            else
                return SECCOMP_RET_KILL_PROCESS;
            break;
        case BPF_LDX:
            if (BPF_MODE(i->code) == BPF_IMM)
                x = i->k;
            else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS)
                x = mem[i->k];
            else if (BPF_MODE(i->code) == BPF_LEN)
                x = sizeof(*d);
            else
                return SECCOMP_RET_KILL_PROCESS;
            break;
        case BPF_ST:
        case BPF_STX:
            if (i->k >= BPF_MEMWORDS)
                return SECCOMP_RET_KILL_PROCESS;
            mem[i->k] = BPF_CLASS(i->code) == BPF_ST ? a : x;
            break;
        case BPF_ALU:
            switch (BPF_OP(i->code)) {
            case BPF_ADD: a += src; break;
            case BPF_SUB: a -= src; break;
            case BPF_MUL: a *= src; break;
            case BPF_DIV: a = src ? a / src : 0; break;
            case BPF_MOD: a = src ? a % src : 0; break;
            case BPF_OR: a |= src; break;
            case BPF_AND: a &= src; break;
            case BPF_XOR: a ^= src; break;
            case BPF_LSH: a = src < 32 ? a << src : 0; break;
            case BPF_RSH: a = src < 32 ? a >> src : 0; break;
            case BPF_NEG: a = -a; break;
            default: return SECCOMP_RET_KILL_PROCESS;
            }
            break;
        case BPF_JMP: {
            int t;
            switch (BPF_OP(i->code)) {
            case BPF_JA: pc += i->k; continue;
            case BPF_JEQ: t = a == src; break;
            case BPF_JGT: t = a > src; break;
            case BPF_JGE: t = a >= src; break;
            case BPF_JSET: t = (a & src) != 0; break;
            default: return SECCOMP_RET_KILL_PROCESS;
            }
            pc += t ? i->jt : i->jf;
            break;
        }
        case BPF_RET: return BPF_RVAL(i->code) == BPF_A ? a : i->k;
        case BPF_MISC:
            if (BPF_MISCOP(i->code) == BPF_TAX)
                x = a;
            else
                a = x;
            break;
        default: return SECCOMP_RET_KILL_PROCESS;
        }
    }
    return SECCOMP_RET_KILL_PROCESS;
}

/* The calls the freeze, the deputy at home and the body's trap make for the
 * program (the home side runs under the program's own filters, the body
 * under them once they are installed again): one the program forbids would
 * break the move half-way, or the forwarding after it. __NR_ names, not
 * SYS_: these are numbers a filter is asked about, not calls made here
 * (tests/syscall_table.sh reads SYS_ names as calls libssi makes away). */
static const struct {
    short nr;
    char name[16];
} s_needed[] = {
    {__NR_read, "read"},
    {__NR_write, "write"},
    {__NR_close, "close"},
    {__NR_openat, "openat"},
    {__NR_fstat, "fstat"},
    {__NR_newfstatat, "newfstatat"},
    {__NR_readlinkat, "readlinkat"},
    {__NR_getdents64, "getdents64"},
    {__NR_mmap, "mmap"},
    {__NR_munmap, "munmap"},
    {__NR_mprotect, "mprotect"},
    {__NR_madvise, "madvise"},
    {__NR_poll, "poll"},
    {__NR_ppoll, "ppoll"},
    {__NR_rt_sigaction, "rt_sigaction"},
    {__NR_rt_sigprocmask, "rt_sigprocmask"},
    {__NR_rt_sigreturn, "rt_sigreturn"},
    {__NR_rt_sigtimedwait, "rt_sigtimedwait"},
    {__NR_socket, "socket"},
    {__NR_connect, "connect"},
    {__NR_sendto, "sendto"},
    {__NR_recvfrom, "recvfrom"},
    {__NR_sendmsg, "sendmsg"},
    {__NR_recvmsg, "recvmsg"},
    {__NR_setsockopt, "setsockopt"},
    {__NR_getsockopt, "getsockopt"},
    {__NR_fcntl, "fcntl"},
    {__NR_prctl, "prctl"},
    {__NR_getpid, "getpid"},
    {__NR_gettid, "gettid"},
    {__NR_kill, "kill"},
    {__NR_futex, "futex"},
    {__NR_getrandom, "getrandom"},
    {__NR_execve, "execve"},
    {__NR_exit_group, "exit_group"},
};

/* 0, or -EPERM with `why` when filter f (the program's number idx, from
 * 1) forbids one of s_needed. */
static long s_check_one(const s_filter_t *f, int idx, char *why, size_t cap)
{
    struct seccomp_data d;
    ssi_sys_memzero(&d, sizeof(d));
    d.arch = AUDIT_ARCH_X86_64;
    d.instruction_pointer = (uint64_t)(uintptr_t)&ssi_seccomp_check; /* our text */
    for (unsigned c = 0; c < sizeof s_needed / sizeof *s_needed; c++) {
        uint32_t act;
        size_t n;
        d.nr = s_needed[c].nr;
        act = s_run(f, &d) & SECCOMP_RET_ACTION_FULL;
        if (act == SECCOMP_RET_ALLOW || act == SECCOMP_RET_LOG)
            continue;
        n = ssi_sys_strlcpy(why, "its seccomp filters: the program's own filter ", cap);
        if (n + 24 < cap)
            n += ssi_sys_utoa(why + n, (uint64_t)idx);
        n += ssi_sys_strlcpy(why + n, " forbids ", n < cap ? cap - n : 0);
        n += ssi_sys_strlcpy(why + n, s_needed[c].name, n < cap ? cap - n : 0);
        ssi_sys_strlcpy(why + n, ", which ssi needs to move it and run its calls",
                        n < cap ? cap - n : 0);
        return -EPERM;
    }
    return 0;
}

long ssi_seccomp_check(char *why, size_t cap)
{
    for (int i = 0; i < s_n; i++)
        if (s_check_one(&s_filters[i], i + 1, why, cap) < 0)
            return -EPERM;
    return 0;
}

long ssi_seccomp_check_new(const void *fprog, char *why, size_t cap)
{
    const struct sock_fprog *p = fprog;
    s_filter_t f;
    if (!p || !p->len || p->len > BPF_MAXINSNS || !p->filter)
        return 0; /* the kernel refuses it */
    f.insns = p->filter;
    f.len = p->len;
    return s_check_one(&f, s_n + 1, why, cap);
}
