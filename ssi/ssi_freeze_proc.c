/*
 * ssi_freeze_proc.c - the process state of an image (see
 * ssi_freeze_proc.h). Part of libssi.so, run inside the freeze handler:
 * raw system calls only.
 */
#include "ssi_freeze_proc.h"

#include "ssi_sys.h"

#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>

static long s_open(const char *path, int flags)
{
    return ssi_sys4(SYS_openat, AT_FDCWD, (long)path, flags | O_CLOEXEC, 0);
}

static void s_close(long fd)
{
    if (fd >= 0)
        ssi_sys1(SYS_close, fd);
}

/* Reads a whole /proc file into buf (NUL-terminated); returns length. */
long ssi_freeze_proc_read(const char *path, char *buf, size_t cap)
{
    long fd = s_open(path, O_RDONLY), n, used = 0;
    if (fd < 0)
        return fd;
    while ((size_t)used + 1 < cap) {
        n = ssi_sys3(SYS_read, fd, (long)(buf + used), (long)(cap - 1 - used));
        if (n == -EINTR)
            continue;
        if (n < 0) {
            s_close(fd);
            return n;
        }
        if (n == 0)
            break;
        used += n;
    }
    s_close(fd);
    buf[used] = 0;
    if ((size_t)used + 1 >= cap)
        return -E2BIG;
    return used;
}

/* ---- madvise advice: /proc/self/smaps, read a line at a time ------------ */

static long s_sm_fd = -1;
static char s_sm_buf[16384];
static long s_sm_len, s_sm_pos;
static int s_sm_have; /* s_sm_start's VmFlags read, not asked for yet */
static uint64_t s_sm_start;
static uint32_t s_sm_bits;

void ssi_freeze_proc_madv_begin(void)
{
    s_close(s_sm_fd);
    s_sm_fd = s_open("/proc/self/smaps", O_RDONLY);
    s_sm_len = s_sm_pos = 0;
    s_sm_have = 0;
}

void ssi_freeze_proc_madv_end(void)
{
    s_close(s_sm_fd);
    s_sm_fd = -1;
}

/* The next line (NUL-terminated), or NULL at the end. */
static char *s_sm_line(void)
{
    for (;;) {
        long i, n;
        for (i = s_sm_pos; i < s_sm_len; i++)
            if (s_sm_buf[i] == '\n') {
                char *l = s_sm_buf + s_sm_pos;
                s_sm_buf[i] = 0;
                s_sm_pos = i + 1;
                return l;
            }
        if (s_sm_fd < 0)
            return 0;
        ssi_sys_memcopy(s_sm_buf, s_sm_buf + s_sm_pos, (size_t)(s_sm_len - s_sm_pos));
        s_sm_len -= s_sm_pos;
        s_sm_pos = 0;
        if (s_sm_len == (long)sizeof(s_sm_buf))
            s_sm_len = 0; /* a line longer than the buffer: no field of ours */
        do
            n = ssi_sys3(SYS_read, s_sm_fd, (long)(s_sm_buf + s_sm_len),
                         (long)sizeof(s_sm_buf) - s_sm_len);
        while (n == -EINTR);
        if (n <= 0)
            ssi_freeze_proc_madv_end();
        else
            s_sm_len += n;
    }
}

static uint32_t s_vmflags(const char *p)
{
    static const struct {
        char a, b;
        uint32_t bit;
    } map[] = {{'d', 'c', SSI_IMAGE_VMA_MADV_DONTFORK},   {'w', 'f', SSI_IMAGE_VMA_MADV_WIPEONFORK},
               {'d', 'd', SSI_IMAGE_VMA_MADV_DONTDUMP},   {'h', 'g', SSI_IMAGE_VMA_MADV_HUGEPAGE},
               {'n', 'h', SSI_IMAGE_VMA_MADV_NOHUGEPAGE}, {'m', 'g', SSI_IMAGE_VMA_MADV_MERGEABLE},
               {'s', 'r', SSI_IMAGE_VMA_MADV_SEQUENTIAL}, {'r', 'r', SSI_IMAGE_VMA_MADV_RANDOM},
               {'l', 'o', SSI_IMAGE_VMA_LOCKED},          {'l', 'f', SSI_IMAGE_VMA_LOCKONFAULT},
               {'n', 'r', SSI_IMAGE_VMA_NORESERVE},       {'d', 'p', SSI_IMAGE_VMA_DROPPABLE}};
    uint32_t bits = 0;
    size_t i;
    for (; *p; p++) {
        if (p[0] == ' ' || !p[1] || (p[2] && p[2] != ' '))
            continue;
        for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (p[0] == map[i].a && p[1] == map[i].b)
                bits |= map[i].bit;
        p++;
    }
    return bits;
}

uint32_t ssi_freeze_proc_madv(uint64_t start)
{
    for (;;) {
        char *l;
        if (s_sm_have) {
            if (s_sm_start > start)
                return 0;
            s_sm_have = 0;
            if (s_sm_start == start)
                return s_sm_bits;
        }
        l = s_sm_line();
        if (!l)
            return 0;
        if ((l[0] >= '0' && l[0] <= '9') || (l[0] >= 'a' && l[0] <= 'f')) {
            const char *e;
            s_sm_start = ssi_sys_hex(l, &e);
        } else if (ssi_sys_starts(l, "VmFlags:")) {
            s_sm_bits = s_vmflags(l + 8);
            s_sm_have = 1;
        }
    }
}

/* /proc/self/stat fields after the comm: field k (1-based) is index k-3. */
static long s_capture_stat(ssi_image_proc_t *pr)
{
    static char buf[2048];
    const char *p, *e;
    uint64_t f[64];
    int i;
    long n = ssi_freeze_proc_read("/proc/self/stat", buf, sizeof(buf));
    if (n < 0)
        return n;
    p = buf + n;
    while (p > buf && *p != ')')
        p--;
    if (*p != ')')
        return -EINVAL;
    p += 2; /* ") " */
    for (i = 3; i <= 52 && *p; i++) {
        if (*p == '-') /* negative fields (priority, nice) */
            p++;
        if (i == 3) { /* state: a letter */
            f[i - 3] = 0;
            p++;
        } else {
            f[i - 3] = ssi_sys_dec(p, &e);
            p = e;
        }
        if (*p == ' ')
            p++;
    }
    if (i <= 51)
        return -EINVAL;
    pr->start_code = f[26 - 3];
    pr->end_code = f[27 - 3];
    pr->start_stack = f[28 - 3];
    pr->start_data = f[45 - 3];
    pr->end_data = f[46 - 3];
    pr->start_brk = f[47 - 3];
    pr->arg_start = f[48 - 3];
    pr->arg_end = f[49 - 3];
    pr->env_start = f[50 - 3];
    pr->env_end = f[51 - 3];
    return 0;
}

static long s_capture_creds(ssi_image_creds_t *c)
{
    long n;
    ssi_sys_memzero(c, sizeof(*c));
    ssi_sys3(SYS_getresuid, (long)&c->ruid, (long)&c->euid, (long)&c->suid);
    ssi_sys3(SYS_getresgid, (long)&c->rgid, (long)&c->egid, (long)&c->sgid);
    n = ssi_sys2(SYS_getgroups, SSI_IMAGE_NGROUPS, (long)c->groups);
    if (n < 0)
        return n == -EINVAL ? -E2BIG : n; /* more groups than an image holds */
    c->ngroups = (uint32_t)n;
    c->dumpable = (uint32_t)ssi_sys1(SYS_prctl, PR_GET_DUMPABLE);
    return 0;
}

long ssi_freeze_proc_capture_caps(ssi_image_caps_t *k)
{
    ssi_sys_capdata_t data[2];
    long r;
    uint32_t cap;
    ssi_sys_memzero(k, sizeof(*k));
    r = ssi_sys_capget(data);
    if (r < 0)
        return r;
    for (int i = 0; i < 2; i++) {
        k->effective[i] = data[i].effective;
        k->permitted[i] = data[i].permitted;
        k->inheritable[i] = data[i].inheritable;
    }
    /* The bounding set up to the last capability this kernel knows (EINVAL
     * beyond it). */
    for (cap = 0; cap < 64; cap++) {
        r = ssi_sys2(SYS_prctl, PR_CAPBSET_READ, cap);
        if (r < 0)
            break;
        if (r == 1)
            k->bounding |= 1ULL << cap;
        if (ssi_sys5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
            k->ambient |= 1ULL << cap;
    }
    if (cap == 0)
        return r;
    k->last_cap = cap - 1;
    r = ssi_sys1(SYS_prctl, PR_GET_SECUREBITS);
    if (r < 0)
        return r;
    k->securebits = (uint32_t)r;
    r = ssi_sys5(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    if (r < 0)
        return r;
    k->no_new_privs = (uint32_t)r;
    return 0;
}

long ssi_freeze_proc_capture(ssi_image_proc_t *pr, ssi_image_creds_t *creds)
{
    long rc, fd, n;
    int i;
    ssi_sys_memzero(pr, sizeof(*pr));
    rc = s_capture_stat(pr);
    if (rc < 0)
        return rc;
    pr->brk = (uint64_t)ssi_sys1(SYS_brk, 0);
    fd = s_open("/proc/self/auxv", O_RDONLY);
    if (fd < 0)
        return fd;
    n = ssi_sys3(SYS_read, fd, (long)pr->auxv, sizeof(pr->auxv));
    s_close(fd);
    if (n < 0)
        return n;
    pr->auxv_size = (uint32_t)n;
    rc = ssi_sys1(SYS_umask, 0);
    ssi_sys1(SYS_umask, rc);
    pr->umask = (uint32_t)rc;
    pr->personality = (uint32_t)ssi_sys1(SYS_personality, 0xffffffffL);
    pr->pgid = (int32_t)ssi_sys1(SYS_getpgid, 0);
    pr->sid = (int32_t)ssi_sys1(SYS_getsid, 0);
    for (i = 1; i <= SSI_IMAGE_NSIG; i++) {
        if (i == SIGKILL || i == SIGSTOP)
            continue;
        rc = ssi_sys4(SYS_rt_sigaction, i, 0, (long)&pr->sigaction[i - 1], 8);
        if (rc < 0)
            return rc;
    }
    for (i = 0; i < SSI_IMAGE_NRLIMIT; i++) {
        rc = ssi_sys4(SYS_prlimit64, 0, i, 0, (long)pr->rlimit[i]);
        if (rc < 0)
            return rc;
    }
    for (i = 0; i < 3; i++) {
        struct itimerval it;
        rc = ssi_sys2(SYS_getitimer, i, (long)&it);
        if (rc < 0)
            return rc;
        pr->itimer[i].interval_sec = (uint64_t)it.it_interval.tv_sec;
        pr->itimer[i].interval_usec = (uint64_t)it.it_interval.tv_usec;
        pr->itimer[i].value_sec = (uint64_t)it.it_value.tv_sec;
        pr->itimer[i].value_usec = (uint64_t)it.it_value.tv_usec;
    }
    rc = ssi_sys2(SYS_getcwd, (long)pr->cwd, sizeof(pr->cwd));
    if (rc == -ENOENT)
        pr->cwd[0] = 0; /* a deleted cwd: no path; away, the deputy's cwd (that directory) is the
                         * one that counts, and a restore elsewhere refuses "" clearly */
    else if (rc < 0)
        return rc;
    rc = ssi_sys4(SYS_readlinkat, AT_FDCWD, (long)"/proc/self/exe", (long)pr->exe,
                  sizeof(pr->exe) - 1);
    if (rc < 0)
        return rc;
    pr->exe[rc] = 0;
    return s_capture_creds(creds);
}

/* "SigPnd/ShdPnd:\t0000000000000000" from /proc/self/status. */
static uint64_t s_status_mask(const char *buf, const char *key)
{
    const char *p = buf, *e;
    size_t kl = ssi_sys_strlen(key);
    while (*p) {
        if (ssi_sys_starts(p, key))
            return ssi_sys_hex(p + kl, &e);
        while (*p && *p != '\n')
            p++;
        if (*p)
            p++;
    }
    return 0;
}

/* Dequeued so that they can be re-queued in the restored process - or
 * back here if the migration fails. */
int ssi_freeze_proc_take_signals(ssi_image_sig_t *sigs, int max, int tid)
{
    int nsigs = 0;
    static char buf[4096];
    uint64_t shared = 0, set;
    struct timespec zero = {0, 0};
    if (ssi_freeze_proc_read("/proc/self/status", buf, sizeof(buf)) >= 0)
        shared = s_status_mask(buf, "ShdPnd:\t");
    set = ~0ULL & ~(1ULL << (SSI_FREEZE_SIGNAL - 1)) & ~(1ULL << (SIGKILL - 1)) &
          ~(1ULL << (SIGSTOP - 1));
    while (nsigs < max) {
        ssi_image_sig_t *s = &sigs[nsigs];
        long r;
        ssi_sys_memzero(s, sizeof(*s));
        r = ssi_sys4(SYS_rt_sigtimedwait, (long)&set, (long)s->info, (long)&zero, 8);
        if (r <= 0)
            break;
        s->signo = (int32_t)r;
        s->shared = (shared >> (r - 1)) & 1;
        s->tid = tid;
        nsigs++;
    }
    return nsigs;
}

void ssi_freeze_proc_requeue(const ssi_image_sig_t *sigs, int n)
{
    long pid = ssi_sys0(SYS_getpid), tid = ssi_sys0(SYS_gettid);
    int i;
    for (i = 0; i < n; i++)
        ssi_sys_requeue(pid, sigs[i].tid > 0 ? sigs[i].tid : tid, sigs[i].shared, sigs[i].signo,
                        sigs[i].info);
}

int ssi_freeze_proc_take_private(ssi_image_sig_t *sigs, int max, int tid)
{
    char buf[4096]; /* several threads park at once: not static */
    int nsigs = 0;
    struct timespec zero = {0, 0};
    uint64_t allowed = ~0ULL & ~(1ULL << (SSI_FREEZE_SIGNAL - 1)) & ~(1ULL << (SIGKILL - 1)) &
                       ~(1ULL << (SIGSTOP - 1));
    /* One at a time, looking again each time: a set of the signals pending on this thread
     * would, once one of them is taken, also take a process-directed one of the same number. */
    while (nsigs < max) {
        ssi_image_sig_t *s = &sigs[nsigs];
        uint64_t set;
        long r;
        if (ssi_freeze_proc_read("/proc/thread-self/status", buf, sizeof(buf)) < 0)
            break;
        set = s_status_mask(buf, "SigPnd:\t") & allowed;
        if (!set)
            break;
        set &= -set; /* the lowest */
        ssi_sys_memzero(s, sizeof(*s));
        r = ssi_sys4(SYS_rt_sigtimedwait, (long)&set, (long)s->info, (long)&zero, 8);
        if (r <= 0)
            break;
        s->signo = (int32_t)r;
        s->shared = 0;
        s->tid = tid;
        nsigs++;
    }
    return nsigs;
}

/* The copy of what the frame carries is for diagnostics and a later
 * frame-building restorer. */
void ssi_freeze_proc_thread(ssi_image_thread_t *t, void *xsave, uint32_t cap, const void *ucv)
{
    const ucontext_t *uc = ucv;
    stack_t ss;
    uint64_t v = 0;
    size_t len = 0;
    ssi_sys_memzero(t, sizeof(*t));
    t->tid = (int32_t)ssi_sys0(SYS_gettid);
    ssi_sys2(SYS_arch_prctl, ARCH_GET_FS, (long)&v);
    t->fs_base = v;
    v = 0;
    ssi_sys2(SYS_arch_prctl, ARCH_GET_GS, (long)&v);
    t->gs_base = v;
    ssi_sys_memcopy(&t->sigmask, &uc->uc_sigmask, 8);
    if (ssi_sys2(SYS_sigaltstack, 0, (long)&ss) == 0) {
        t->ss_sp = (uint64_t)ss.ss_sp;
        t->ss_size = ss.ss_size;
        t->ss_flags = ss.ss_flags;
    }
    v = 0;
    ssi_sys3(SYS_get_robust_list, 0, (long)&v, (long)&len);
    t->robust_list = v;
    t->robust_len = len;
    v = 0;
    ssi_sys2(SYS_prctl, PR_GET_TID_ADDRESS, (long)&v);
    t->clear_child_tid = v;
    ssi_sys2(SYS_prctl, PR_GET_NAME, (long)t->name);
    ssi_sys_memcopy(t->gregs, uc->uc_mcontext.gregs, sizeof(t->gregs));
    t->xsave_size = 0;
    if (uc->uc_mcontext.fpregs) {
        const struct _fpx_sw_bytes *sw = (const void *)((const char *)uc->uc_mcontext.fpregs + 464);
        uint32_t sz = 512;
        if (sw->magic1 == 0x46505853U /* FP_XSTATE_MAGIC1 */)
            sz = sw->xstate_size;
        if (sz <= cap) {
            ssi_sys_memcopy(xsave, uc->uc_mcontext.fpregs, sz);
            t->xsave_size = sz;
        }
    }
}

/* ---- sleeps the freeze interrupted ----------------------------------------- */

enum { S_SLEEP_NONE, S_SLEEP_NANO, S_SLEEP_CLOCK };

static uint64_t s_realtime_ns(void)
{
    struct timespec ts = {0, 0};
    /* CLOCK_REALTIME: the nodes' clocks agree, their monotonic ones don't. */
    ssi_sys2(SYS_clock_gettime, CLOCK_REALTIME, (long)&ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void ssi_freeze_proc_sleep_note(ssi_freeze_proc_sleep_t *s, const void *ucv)
{
    const ucontext_t *uc = ucv;
    const unsigned char *p;
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    s->kind = S_SLEEP_NONE;
    s->frozen_ns = s_realtime_ns();
    if (uc->uc_mcontext.gregs[REG_RAX] != -EINTR || (rip & 4095) < 7)
        return;
    /* The call is known by the instruction that chose it, just before
     * the syscall (glibc: "mov $NR,%eax; syscall"): the frame keeps no
     * orig_rax. Same page as rip, so readable. */
    p = (const unsigned char *)rip - 7;
    if (p[0] != 0xb8 || p[2] || p[3] || p[4] || p[5] != 0x0f || p[6] != 0x05)
        return;
    if (p[1] == SYS_nanosleep)
        s->kind = S_SLEEP_NANO;
    else if (p[1] == SYS_clock_nanosleep)
        s->kind = S_SLEEP_CLOCK;
}

void ssi_freeze_proc_sleep_restart(ssi_freeze_proc_sleep_t *s, void *ucv)
{
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    struct timespec *rem;
    int kind = s->kind;
    s->kind = S_SLEEP_NONE;
    if (kind == S_SLEEP_NONE)
        return;
    if (kind == S_SLEEP_CLOCK && (g[REG_RSI] & TIMER_ABSTIME)) {
        /* Absolute: the same call again ends when it would have. */
        g[REG_RAX] = SYS_clock_nanosleep;
        g[REG_RIP] -= 2;
        return;
    }
    rem = (struct timespec *)(kind == S_SLEEP_NANO ? g[REG_RSI] : g[REG_R10]);
    if (!rem)
        return;
    /* The time spent frozen counts, as across SIGSTOP and SIGCONT. */
    uint64_t now = s_realtime_ns(), left;
    uint64_t frozen = now > s->frozen_ns ? now - s->frozen_ns : 0;
    left = (uint64_t)rem->tv_sec * 1000000000ULL + (uint64_t)rem->tv_nsec;
    left = left > frozen ? left - frozen : 0;
    rem->tv_sec = (time_t)(left / 1000000000ULL);
    rem->tv_nsec = (long)(left % 1000000000ULL);
    if (kind == S_SLEEP_NANO) {
        g[REG_RDI] = (greg_t)rem; /* req = rem: the kernel reads it before writing rem */
        g[REG_RAX] = SYS_nanosleep;
    } else {
        g[REG_RDX] = (greg_t)rem;
        g[REG_RAX] = SYS_clock_nanosleep;
    }
    g[REG_RIP] -= 2;
}

/* ---- descriptors --------------------------------------------------------- */

void ssi_freeze_proc_fill_fd(ssi_image_fd_t *r, int fd)
{
    static char buf[1024];
    char path[64];
    struct stat st;
    size_t n;
    long rc;
    const char *p, *e;
    ssi_sys_memzero(r, sizeof(*r));
    r->fd = fd;
    rc = ssi_sys2(SYS_fcntl, fd, F_GETFD);
    r->fd_flags = rc < 0 ? 0 : (uint32_t)rc;
    if (ssi_sys2(SYS_fstat, fd, (long)&st) == 0) {
        r->mode = st.st_mode;
        r->ino = st.st_ino;
        r->dev = st.st_dev;
        r->rdev = st.st_rdev;
        r->kind = ssi_image_fd_kind(st.st_mode);
    }
    n = ssi_sys_strlcpy(path, "/proc/self/fd/", sizeof(path));
    ssi_sys_utoa(path + n, (uint64_t)fd);
    rc = ssi_sys4(SYS_readlinkat, AT_FDCWD, (long)path, (long)r->path, sizeof(r->path) - 1);
    if (rc > 0) {
        r->path[rc] = 0;
        if (ssi_sys_starts(r->path, "anon_inode:"))
            r->kind = SSI_IMAGE_FD_ANON;
    }
    n = ssi_sys_strlcpy(path, "/proc/self/fdinfo/", sizeof(path));
    ssi_sys_utoa(path + n, (uint64_t)fd);
    if (ssi_freeze_proc_read(path, buf, sizeof(buf)) > 0) {
        for (p = buf; *p;) {
            if (ssi_sys_starts(p, "pos:\t"))
                r->pos = ssi_sys_dec(p + 5, &e);
            else if (ssi_sys_starts(p, "flags:\t")) {
                uint64_t v = 0;
                for (e = p + 7; *e >= '0' && *e <= '7'; e++)
                    v = v * 8 + (uint64_t)(*e - '0');
                r->fl_flags = (uint32_t)v;
            } else if (ssi_sys_starts(p, "mnt_id:\t"))
                r->mnt_id = (int32_t)ssi_sys_dec(p + 8, &e);
            while (*p && *p != '\n')
                p++;
            if (*p)
                p++;
        }
    }
    if (r->kind == SSI_IMAGE_FD_SOCKET) {
        int on = 0;
        uint32_t ol = sizeof(on);
        r->pos = 0;
        if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_ACCEPTCONN, (long)&on, (long)&ol) == 0 &&
            on)
            r->pos |= SSI_IMAGE_FD_SOCK_LISTENING;
        ol = sizeof(on);
        if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&on, (long)&ol) == 0 &&
            (on == SOCK_DGRAM || on == SOCK_SEQPACKET)) /* kept at home, one message a frame */
            r->pos |= SSI_IMAGE_FD_SOCK_DGRAM;
    }
}
