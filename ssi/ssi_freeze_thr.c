/*
 * ssi_freeze_thr.c - the other threads of a freeze (see ssi_freeze_thr.h).
 *
 * Part of libssi.so, run inside the freeze handler: raw system calls,
 * static buffers, futexes. Words shared between the threads are read and
 * written with __atomic builtins.
 *
 * The park request is the freeze signal queued to one thread with
 * rt_tgsigqueueinfo and si_code S_PARK_CODE, from our own pid, with the
 * freeze's epoch as value: a request left over from an earlier freeze (a
 * thread that had not taken it yet when that freeze ended) is ignored.
 */
#include "ssi_freeze_thr.h"

#include "ssi_freeze_proc.h"
#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <time.h>
#include <ucontext.h>

#define S_MAX SSI_FREEZE_THR_MAX
#define S_XSAVE 16384
#define S_MAX_SIGS 256
#define S_PARK_CODE (-60) /* si_code of a park request: negative, as only a queuer sets it */
#define S_TICK_NS 10000000L

enum { S_IDLE = 0, S_PARK = 1 }; /* s_phase; then SSI_FREEZE_THR_THAW or _EXIT */
enum { S_SIGNALED = 0, S_PARKED = 1, S_GONE = 2 };

static int s_phase;
static int s_epoch;
static int s_parked;       /* parked and not yet let go */
static int s_back;         /* checked in after a restore */
static int s_n;            /* slots used */
static int s_overflow;     /* a thread had more pending signals than s_sigs holds */
static int s_tids[S_MAX];  /* in our pid namespace */
static int s_ptids[S_MAX]; /* in the /proc mount's */
static int s_state[S_MAX];
static ssi_image_thread_t s_rec[S_MAX];
static unsigned char s_xsave[S_MAX][S_XSAVE] __attribute__((aligned(64)));
static ssi_freeze_proc_sleep_t s_sleep[S_MAX];
static void *s_uc[S_MAX];
static ssi_sys_jmp_t s_jmp[S_MAX];
static ssi_image_sig_t s_sigs[S_MAX_SIGS];
static int s_nsigs;
static int s_order[S_MAX]; /* slots of the parked threads, for ssi_freeze_thr_get */
static int s_norder;

__asm__(".text\n"
        ".globl ssi_freeze_jmp_save\n"
        ".hidden ssi_freeze_jmp_save\n"
        ".type ssi_freeze_jmp_save,@function\n"
        "ssi_freeze_jmp_save:\n"
        "  mov %rbx, 0(%rdi)\n"
        "  mov %rbp, 8(%rdi)\n"
        "  mov %r12, 16(%rdi)\n"
        "  mov %r13, 24(%rdi)\n"
        "  mov %r14, 32(%rdi)\n"
        "  mov %r15, 40(%rdi)\n"
        "  lea 8(%rsp), %rdx\n"
        "  mov %rdx, 48(%rdi)\n"
        "  mov (%rsp), %rdx\n"
        "  mov %rdx, 56(%rdi)\n"
        "  xor %eax, %eax\n"
        "  ret\n"
        ".size ssi_freeze_jmp_save, .-ssi_freeze_jmp_save\n");

static int s_load(int *w)
{
    return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

static void s_store(int *w, int v)
{
    __atomic_store_n(w, v, __ATOMIC_RELEASE);
}

static void s_wake(int *w)
{
    ssi_sys6(SYS_futex, (long)w, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0, 0, 0);
}

/* Waits while *w == val, at most ns (0: no limit). */
static void s_wait(int *w, int val, long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    ssi_sys6(SYS_futex, (long)w, FUTEX_WAIT_PRIVATE, val, ns ? (long)&ts : 0, 0, 0);
}

static uint64_t s_now_ms(void)
{
    struct timespec ts = {0, 0};
    ssi_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int s_slot_of(int tid)
{
    int i, n = s_load(&s_n);
    for (i = 0; i < n; i++)
        if (s_load(&s_tids[i]) == tid)
            return i;
    return -1;
}

/* Takes this thread's own pending signals into s_sigs. */
static void s_take_signals(int tid)
{
    ssi_image_sig_t tmp[4];
    int n, at;
    while ((n = ssi_freeze_proc_take_private(tmp, 4, tid)) > 0) {
        at = __atomic_fetch_add(&s_nsigs, n, __ATOMIC_ACQ_REL);
        if (at + n > S_MAX_SIGS) {
            /* Put back where they were; the leader refuses the freeze. */
            ssi_freeze_proc_requeue(tmp, n);
            s_store(&s_overflow, 1);
            return;
        }
        ssi_sys_memcopy(&s_sigs[at], tmp, (size_t)n * sizeof(tmp[0]));
    }
}

int ssi_freeze_thr_park(const siginfo_t *si, void *uc)
{
    int i, phase, tid;
    if (si->si_code != S_PARK_CODE)
        return 0;
    if (si->si_pid != ssi_sys0(SYS_getpid) || s_load(&s_phase) != S_PARK ||
        si->si_value.sival_int != s_load(&s_epoch))
        return 1;
    tid = (int)ssi_sys0(SYS_gettid);
    i = s_slot_of(tid);
    if (i < 0)
        return 1;
    s_uc[i] = uc;
    ssi_freeze_proc_sleep_note(&s_sleep[i], uc);
    ssi_freeze_proc_thread(&s_rec[i], s_xsave[i], S_XSAVE, uc);
    s_take_signals(tid);
    if (ssi_freeze_jmp_save(&s_jmp[i]) == 0) {
        ssi_sys_memcopy(s_rec[i].resume, &s_jmp[i], sizeof(s_jmp[i]));
        s_store(&s_state[i], S_PARKED);
        __atomic_add_fetch(&s_parked, 1, __ATOMIC_ACQ_REL);
        s_wake(&s_parked);
    } else {
        /* Restored: this thread runs its own code again, out of the
         * restorer's hole. No local is trusted across the jump. */
        __atomic_add_fetch(&s_back, 1, __ATOMIC_ACQ_REL);
        s_wake(&s_back);
    }
    while ((phase = s_load(&s_phase)) == S_PARK)
        s_wait(&s_phase, S_PARK, 0);
    i = s_slot_of((int)ssi_sys0(SYS_gettid));
    if (phase == SSI_FREEZE_THR_EXIT) {
        /* The process becomes the deputy and drops the program's memory:
         * the kernel must not write into it as the thread ends. */
        ssi_sys2(SYS_set_robust_list, 0, 24);
        ssi_sys1(SYS_set_tid_address, 0);
        __atomic_sub_fetch(&s_parked, 1, __ATOMIC_ACQ_REL);
        s_wake(&s_parked);
        for (;;)
            ssi_sys1(SYS_exit, 0);
    }
    if (i >= 0)
        ssi_freeze_proc_sleep_restart(&s_sleep[i], s_uc[i]);
    __atomic_sub_fetch(&s_parked, 1, __ATOMIC_ACQ_REL);
    s_wake(&s_parked);
    return 1;
}

/* A thread's status file (name: its number in the /proc mount's namespace, which need not be
 * ours: a body's agent does not mount one) into buf. */
static long s_status(long ptid, char *buf, size_t cap)
{
    char path[64];
    size_t n = ssi_sys_strlcpy(path, "/proc/self/task/", sizeof(path));
    n += ssi_sys_utoa(path + n, (uint64_t)ptid);
    ssi_sys_strlcpy(path + n, "/status", sizeof(path) - n);
    return ssi_freeze_proc_read(path, buf, cap);
}

/* The value of a "Key:\t..." line of a status file; for NSpid, its last number (the tid in
 * the innermost namespace, the process's own). 0 if absent. */
static uint64_t s_field(const char *buf, const char *key, int hex, int last)
{
    const char *p, *e;
    size_t kl = ssi_sys_strlen(key);
    for (p = buf; *p;) {
        int match = 1;
        for (size_t k = 0; k < kl; k++)
            if (p[k] != key[k]) {
                match = 0;
                break;
            }
        if (match) {
            uint64_t v = 0;
            p += kl;
            do {
                while (*p == '\t' || *p == ' ')
                    p++;
                v = hex ? ssi_sys_hex(p, &e) : ssi_sys_dec(p, &e);
                p = e;
            } while (last && (*p == '\t' || *p == ' '));
            return v;
        }
        while (*p && *p != '\n')
            p++;
        if (*p)
            p++;
    }
    return 0;
}

/* Lists /proc/self/task; every thread not yet in the table (nor self) gets a slot and the park
 * request. How many were added, or -errno. */
static long s_add_new(long pid, long self)
{
    static char buf[4096], st[2048];
    ssi_sys_dirwalk_t w = {.buf = buf, .size = sizeof(buf)};
    const char *name, *e;
    long added = 0;
    w.fd = ssi_sys4(SYS_openat, AT_FDCWD, (long)"/proc/self/task",
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (w.fd < 0)
        return w.fd;
    while ((name = ssi_sys_dirwalk_next(&w))) {
        long ptid = (long)ssi_sys_dec(name, &e), tid;
        if (s_status(ptid, st, sizeof(st)) < 0)
            continue; /* it ended */
        tid = (long)s_field(st, "NSpid:", 0, 1);
        if (tid <= 0 || tid == self || s_slot_of((int)tid) >= 0)
            continue;
        if (s_n >= S_MAX) {
            ssi_sys1(SYS_close, w.fd);
            return -E2BIG;
        }
        int i = s_n;
        siginfo_t si;
        s_ptids[i] = (int)ptid;
        s_store(&s_tids[i], (int)tid);
        s_store(&s_state[i], S_SIGNALED);
        s_store(&s_n, i + 1);
        ssi_sys_memzero(&si, sizeof(si));
        si.si_signo = SSI_FREEZE_SIGNAL;
        si.si_code = S_PARK_CODE;
        si.si_pid = (pid_t)pid;
        si.si_uid = (uid_t)ssi_sys0(SYS_getuid);
        si.si_value.sival_int = s_load(&s_epoch);
        if (ssi_sys4(SYS_rt_tgsigqueueinfo, pid, tid, SSI_FREEZE_SIGNAL, (long)&si) < 0)
            s_store(&s_state[i], S_GONE); /* it ended meanwhile */
        added++;
    }
    ssi_sys1(SYS_close, w.fd);
    return w.n < 0 ? w.n : added;
}

static int s_all_parked(void)
{
    int i;
    for (i = 0; i < s_n; i++)
        if (s_load(&s_state[i]) == S_SIGNALED)
            return 0;
    return 1;
}

/* 1 when the thread (slot i) blocks the freeze signal and has it pending (our park request,
 * which it would never take). A thread inside any handler blocks every signal for a moment:
 * the caller asks only after a while. */
static int s_blocks(int i)
{
    char buf[2048];
    uint64_t bit = 1ULL << (SSI_FREEZE_SIGNAL - 1);
    if (s_status(s_ptids[i], buf, sizeof(buf)) < 0)
        return 0;
    return (s_field(buf, "SigBlk:", 1, 0) & bit) && (s_field(buf, "SigPnd:", 1, 0) & bit);
}

/* After a tick without progress: threads that ended are gone, one that blocks our signal is
 * an error. */
static long s_check_laggards(long pid, int late)
{
    int i;
    for (i = 0; i < s_n; i++) {
        long tid = s_load(&s_tids[i]);
        if (s_load(&s_state[i]) != S_SIGNALED)
            continue;
        if (ssi_sys3(SYS_tgkill, pid, tid, 0) == -ESRCH)
            s_store(&s_state[i], S_GONE);
        else if (late && s_blocks(i))
            return -EDEADLK;
    }
    return 0;
}

long ssi_freeze_thr_stop(int timeout_ms)
{
    long pid = ssi_sys0(SYS_getpid), self = ssi_sys0(SYS_gettid), rc;
    uint64_t start = s_now_ms(), deadline = start + (uint64_t)timeout_ms;
    int i;
    s_store(&s_n, 0);
    s_store(&s_parked, 0);
    s_store(&s_back, 0);
    s_store(&s_nsigs, 0);
    s_store(&s_overflow, 0);
    s_norder = 0;
    __atomic_add_fetch(&s_epoch, 1, __ATOMIC_ACQ_REL);
    s_store(&s_phase, S_PARK);
    for (;;) {
        /* Only once all are parked can no new thread appear: list again then. */
        if (s_all_parked()) {
            rc = s_add_new(pid, self);
            if (rc < 0)
                return rc;
            if (rc == 0)
                break;
        }
        int p = s_load(&s_parked);
        if (!s_all_parked())
            s_wait(&s_parked, p, S_TICK_NS);
        if (!s_all_parked() && (rc = s_check_laggards(pid, s_now_ms() > start + 1000)) < 0)
            return rc;
        if (s_now_ms() > deadline)
            return -ETIMEDOUT;
    }
    if (s_load(&s_overflow))
        return -E2BIG;
    for (i = 0; i < s_n; i++)
        if (s_load(&s_state[i]) == S_PARKED)
            s_order[s_norder++] = i;
    return s_norder;
}

const ssi_image_thread_t *ssi_freeze_thr_get(int k, const void **xsave)
{
    int i = s_order[k];
    *xsave = s_xsave[i];
    return &s_rec[i];
}

const ssi_image_sig_t *ssi_freeze_thr_sigs(int *n)
{
    int k = s_load(&s_nsigs);
    *n = k > S_MAX_SIGS ? S_MAX_SIGS : k;
    return s_sigs;
}

void ssi_freeze_thr_restored(void)
{
    uint64_t deadline = s_now_ms() + 10000;
    int b;
    while ((b = s_load(&s_back)) < s_norder && s_now_ms() < deadline)
        s_wait(&s_back, b, S_TICK_NS);
}

static void s_unblock(ucontext_t *uc, uint64_t bit)
{
    uint64_t m;
    ssi_sys_memcopy(&m, &uc->uc_sigmask, 8);
    m &= ~bit;
    ssi_sys_memcopy(&uc->uc_sigmask, &m, 8);
}

void ssi_freeze_thr_unblock(int sig, void *leader_uc)
{
    uint64_t bit = 1ULL << (sig - 1);
    int k;
    s_unblock(leader_uc, bit);
    for (k = 0; k < s_norder; k++)
        if (s_uc[s_order[k]])
            s_unblock(s_uc[s_order[k]], bit);
}

void ssi_freeze_thr_release(int how)
{
    long pid = ssi_sys0(SYS_getpid);
    uint64_t deadline = s_now_ms() + 10000;
    int p, i;
    s_store(&s_phase, how);
    s_wake(&s_phase);
    while ((p = s_load(&s_parked)) > 0 && s_now_ms() < deadline)
        s_wait(&s_parked, p, S_TICK_NS);
    if (how == SSI_FREEZE_THR_EXIT) {
        struct timespec ms = {0, 1000000};
        for (i = 0; i < s_n; i++)
            while (s_load(&s_state[i]) == S_PARKED &&
                   ssi_sys3(SYS_tgkill, pid, s_load(&s_tids[i]), 0) != -ESRCH &&
                   s_now_ms() < deadline)
                ssi_sys2(SYS_nanosleep, (long)&ms, 0);
    }
    s_store(&s_n, 0);
    s_store(&s_nsigs, 0);
    s_norder = 0;
    s_store(&s_phase, S_IDLE);
}
