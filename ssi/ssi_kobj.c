/*
 * ssi_kobj.c - eventfd, timerfd and signalfd descriptors across a move (in
 * libssi.so).
 *
 * Like an epoll instance (ssi_epoll.c), each is kernel state that no image
 * carries but whose state is small and readable: /proc/self/fdinfo/N
 * shows an eventfd's counter and semaphore mode, a timerfd's clock,
 * settime flags and ticks not yet read, a signalfd's mask; timerfd_gettime
 * gives a timer's time left. The freeze hook records it in static memory,
 * which travels in the image; the restore hook, wherever the process
 * resumes and before the program runs again, makes each object again at
 * its number (the agent kept the number with a placeholder): eventfd2 +
 * write of the counter, timerfd_create + timerfd_settime with the time
 * left less the time spent frozen (CLOCK_REALTIME, which the nodes share;
 * a timer that fell due meanwhile fires at once, its missed periods
 * counted as ticks) + TFD_IOC_SET_TICKS, signalfd4 with the mask. As CRIU
 * (criu/eventfd.c, timerfd.c, signalfd.c) does, from the same sources.
 *
 * POSIX timers (timer_create) likewise: /proc/self/timers gives each
 * timer's id, signal, value and clock, timer_gettime its time left; the
 * restore hook makes each again with the same id
 * (PR_TIMER_CREATE_RESTORE_IDS) and the time left less the time frozen,
 * and the deputy at home deletes its own copies, which would only send
 * spurious signals to be forwarded.
 *
 * Runs in the freeze handler and the restore hook: raw system calls,
 * static buffers, no libc.
 */
#include "ssi_kobj.h"

#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>

#define S_MAX_KOBJS 64
#define S_EFD_SEMAPHORE 1                /* EFD_SEMAPHORE */
#define S_TFD_TIMER_ABSTIME 1            /* TFD_TIMER_ABSTIME */
#define S_TFD_IOC_SET_TICKS 0x40085400UL /* _IOW('T', 0, __u64) */

enum { S_EVENTFD = 1, S_TIMERFD, S_SIGNALFD };

static struct {
    int kind;
    int fd;
    int cloexec;
    uint32_t fl_flags;     /* O_NONBLOCK */
    uint64_t count;        /* eventfd: counter; timerfd: ticks not yet read */
    uint32_t semaphore;    /* eventfd */
    int32_t clockid;       /* timerfd */
    uint32_t settime;      /* timerfd: settime flags */
    struct timespec value; /* timerfd: time left (0: disarmed) */
    struct timespec interval;
    uint64_t sigmask; /* signalfd */
} s_objs[S_MAX_KOBJS];
static int s_nobjs, s_lost;

#define S_MAX_TIMERS 64
#define S_PR_TIMER_CREATE_RESTORE_IDS 77
#define S_SIGEV_THREAD_ID 4

/* POSIX timers (kernel ids). */
static struct {
    int32_t id;
    int32_t signo;
    uint64_t value; /* sigev_value */
    int32_t notify; /* SIGEV_SIGNAL or SIGEV_NONE, | SIGEV_THREAD_ID */
    int32_t clockid;
    struct timespec left;
    struct timespec interval;
} s_timers[S_MAX_TIMERS];
static int s_ntimers;
static char s_tbuf[8192];
static uint64_t s_frozen_ns;
static char s_buf[1024];

static int s_eq(const char *a, const char *b, size_t k)
{
    size_t i;
    for (i = 0; i < k; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int s_is(const char *link, long n, const char *want)
{
    return (size_t)n == ssi_sys_strlen(want) && s_eq(link, want, (size_t)n);
}

/* The kind of anon_inode fd is, or 0. */
static int s_kind(long fd)
{
    char path[40], link[32];
    long n;
    ssi_sys_strlcpy(path, "/proc/self/fd/", sizeof(path));
    ssi_sys_utoa(path + ssi_sys_strlen(path), (uint64_t)fd);
    n = ssi_sys4(SYS_readlinkat, AT_FDCWD, (long)path, (long)link, sizeof(link) - 1);
    if (n <= 0)
        return 0;
    link[n] = 0;
    if (s_is(link, n, "anon_inode:[eventfd]"))
        return S_EVENTFD;
    if (s_is(link, n, "anon_inode:[timerfd]"))
        return S_TIMERFD;
    if (s_is(link, n, "anon_inode:[signalfd]"))
        return S_SIGNALFD;
    return 0;
}

/* The value after "key" at the start of a line of s_buf, in base 16, 10
 * or 8; 0 if absent. */
static uint64_t s_field(const char *key, int base)
{
    size_t k = ssi_sys_strlen(key);
    const char *p = s_buf;
    while (*p) {
        if (s_eq(p, key, k)) {
            uint64_t v = 0;
            p += k;
            while (*p == ' ' || *p == '\t')
                p++;
            for (;; p++) {
                char c = *p;
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
                if (d >= base)
                    break;
                v = v * (uint64_t)base + (uint64_t)d;
            }
            return v;
        }
        while (*p && *p != '\n')
            p++;
        if (*p)
            p++;
    }
    return 0;
}

static uint64_t s_realtime_ns(void)
{
    struct timespec ts = {0, 0};
    ssi_sys2(SYS_clock_gettime, CLOCK_REALTIME, (long)&ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t s_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000ULL + (uint64_t)t->tv_nsec;
}

static struct timespec s_ts(uint64_t ns)
{
    struct timespec t = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    return t;
}

static void s_record(long fd, int kind)
{
    char path[48];
    long dfd, n;
    struct {
        struct timespec interval, value;
    } its;
    if (s_nobjs >= S_MAX_KOBJS) {
        s_lost = 1;
        return;
    }
    ssi_sys_strlcpy(path, "/proc/self/fdinfo/", sizeof(path));
    ssi_sys_utoa(path + ssi_sys_strlen(path), (uint64_t)fd);
    dfd = ssi_sys4(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
    if (dfd < 0)
        return;
    n = ssi_sys3(SYS_read, dfd, (long)s_buf, sizeof(s_buf) - 1);
    ssi_sys1(SYS_close, dfd);
    if (n <= 0)
        return;
    s_buf[n] = 0;
    ssi_sys_memzero(&s_objs[s_nobjs], sizeof(s_objs[0]));
    s_objs[s_nobjs].kind = kind;
    s_objs[s_nobjs].fd = (int)fd;
    s_objs[s_nobjs].cloexec = (ssi_sys2(SYS_fcntl, fd, F_GETFD) & FD_CLOEXEC) != 0;
    s_objs[s_nobjs].fl_flags = (uint32_t)ssi_sys2(SYS_fcntl, fd, F_GETFL) & O_NONBLOCK;
    switch (kind) {
    case S_EVENTFD:
        s_objs[s_nobjs].count = s_field("eventfd-count:", 16);
        s_objs[s_nobjs].semaphore = (uint32_t)s_field("eventfd-semaphore:", 10);
        break;
    case S_TIMERFD:
        s_objs[s_nobjs].clockid = (int32_t)s_field("clockid:", 10);
        s_objs[s_nobjs].count = s_field("ticks:", 10);
        s_objs[s_nobjs].settime = (uint32_t)s_field("settime flags:", 8);
        /* Time left, relative, whatever the settime flags were. */
        if (ssi_sys2(SYS_timerfd_gettime, fd, (long)&its) < 0)
            return;
        s_objs[s_nobjs].value = its.value;
        s_objs[s_nobjs].interval = its.interval;
        break;
    case S_SIGNALFD: s_objs[s_nobjs].sigmask = s_field("sigmask:", 16); break;
    }
    s_nobjs++;
}

/* The number after the first `key` at or after p (hex if base 16, an
 * optional "0x" skipped); *next past it. */
static uint64_t s_num_after(const char *p, const char *key, int base, const char **next)
{
    size_t k = ssi_sys_strlen(key);
    uint64_t v = 0;
    while (*p && !s_eq(p, key, k))
        p++;
    if (!*p) {
        *next = p;
        return 0;
    }
    p += k;
    while (*p == ' ')
        p++;
    if (base == 16 && p[0] == '0' && p[1] == 'x')
        p += 2;
    for (;; p++) {
        char c = *p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
        if (d >= base)
            break;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *next = p;
    return v;
}

/* "ID: 0\nsignal: 10/000000000000dead\nnotify: signal/pid.12\nClockID: 1\n" */
static void s_record_timers(void)
{
    long dfd = ssi_sys4(SYS_openat, AT_FDCWD, (long)"/proc/self/timers", O_RDONLY | O_CLOEXEC, 0);
    long n = 0, r;
    const char *p, *q;
    s_ntimers = 0;
    if (dfd < 0)
        return;
    while ((size_t)n < sizeof(s_tbuf) - 1 &&
           (r = ssi_sys3(SYS_read, dfd, (long)(s_tbuf + n), (long)(sizeof(s_tbuf) - 1 - n))) > 0)
        n += r;
    ssi_sys1(SYS_close, dfd);
    s_tbuf[n] = 0;
    for (p = s_tbuf; (q = p, *p);) {
        struct {
            struct timespec interval, value;
        } its;
        const char *id_at = q;
        while (*id_at && !s_eq(id_at, "ID:", 3))
            id_at++;
        if (!*id_at)
            break;
        if (s_ntimers >= S_MAX_TIMERS) {
            s_lost = 1;
            break;
        }
        s_timers[s_ntimers].id = (int32_t)s_num_after(id_at, "ID:", 10, &p);
        s_timers[s_ntimers].signo = (int32_t)s_num_after(p, "signal:", 10, &p);
        s_timers[s_ntimers].value = s_num_after(p, "/", 16, &p);
        q = p;
        while (*q == '\n' || *q == ' ')
            q++;
        s_timers[s_ntimers].notify = s_eq(q, "notify: none", 12) ? SIGEV_NONE : SIGEV_SIGNAL;
        while (*q && *q != '\n' && *q != '.')
            q++;
        if (q - p > 4 && s_eq(q - 3, "tid", 3))
            s_timers[s_ntimers].notify |= S_SIGEV_THREAD_ID;
        s_timers[s_ntimers].clockid = (int32_t)s_num_after(p, "ClockID:", 10, &p);
        if (ssi_sys2(SYS_timer_gettime, s_timers[s_ntimers].id, (long)&its) < 0)
            continue;
        s_timers[s_ntimers].left = its.value;
        s_timers[s_ntimers].interval = its.interval;
        s_ntimers++;
    }
}

void ssi_kobj_freeze(void)
{
    long fd;
    int kind;
    s_nobjs = s_lost = 0;
    s_record_timers();
    s_frozen_ns = s_realtime_ns();
    /* The program's descriptors; the shim's own live far above. */
    for (fd = 0; fd < 1024; fd++)
        if (ssi_sys2(SYS_fcntl, fd, F_GETFD) >= 0 && (kind = s_kind(fd)))
            s_record(fd, kind);
}

/* A timer again, its time left less the time spent frozen. */
static long s_timerfd(int i, uint64_t frozen, long flags)
{
    struct {
        struct timespec interval, value;
    } its;
    long t = ssi_sys2(SYS_timerfd_create, s_objs[i].clockid, flags);
    uint64_t left = s_ns(&s_objs[i].value), period = s_ns(&s_objs[i].interval);
    uint64_t ticks = s_objs[i].count;
    if (t < 0)
        return t;
    its.interval = s_objs[i].interval;
    if (left) {
        if (left > frozen) {
            left -= frozen;
        } else {
            /* It fell due while frozen: it fires now, and the periods
             * missed meanwhile are ticks, as the kernel would count them. */
            if (period)
                ticks += (frozen - left) / period;
            left = 1;
        }
    }
    its.value = s_ts(left);
    if (left && ssi_sys4(SYS_timerfd_settime, t, 0, (long)&its, 0) < 0) {
        ssi_sys1(SYS_close, t);
        return -EINVAL;
    }
    if (ticks && ssi_sys3(SYS_ioctl, t, (long)S_TFD_IOC_SET_TICKS, (long)&ticks) < 0)
        ssi_sys_log("ssi: ", "a timerfd's unread expirations could not be restored", 0, 0);
    return t;
}

/* The POSIX timers again, with their ids. A timer that fell due while
 * frozen fires at once (its overruns meanwhile are not counted). */
static void s_restore_timers(uint64_t frozen)
{
    int i;
    if (!s_ntimers)
        return;
    if (ssi_sys5(SYS_prctl, S_PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0) < 0) {
        ssi_sys_log("ssi: ", "this kernel cannot give POSIX timers their ids again", 0, 0);
        return;
    }
    for (i = 0; i < s_ntimers; i++) {
        struct {
            uint64_t value;
            int32_t signo, notify, tid, pad[11];
        } sev;
        struct {
            struct timespec interval, value;
        } its;
        int32_t id = s_timers[i].id;
        uint64_t left = s_ns(&s_timers[i].left);
        long r;
        ssi_sys_memzero(&sev, sizeof(sev));
        sev.value = s_timers[i].value;
        sev.signo = s_timers[i].signo;
        sev.notify = s_timers[i].notify;
        sev.tid = (int32_t)ssi_sys0(SYS_gettid); /* one thread: the same tid */
        r = ssi_sys3(SYS_timer_create, s_timers[i].clockid, (long)&sev, (long)&id);
        if (r < 0 || id != s_timers[i].id) {
            ssi_sys_log("ssi: ", "a POSIX timer could not be made again with its id", 0, r);
            continue;
        }
        if (left)
            left = left > frozen ? left - frozen : 1;
        its.value = s_ts(left);
        its.interval = s_timers[i].interval;
        if (left)
            ssi_sys4(SYS_timer_settime, id, 0, (long)&its, 0);
    }
    ssi_sys5(SYS_prctl, S_PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
}

void ssi_kobj_deputy(void)
{
    int i;
    for (i = 0; i < s_ntimers; i++) {
        uint64_t set = 1ULL << (s_timers[i].signo - 1);
        struct timespec now = {0, 0};
        ssi_sys1(SYS_timer_delete, s_timers[i].id);
        /* A signal it sent after the image was taken belongs to the
         * body's copy of the timer: dropped, not forwarded. */
        if (s_timers[i].signo > 0 && s_timers[i].signo <= 64 &&
            (s_timers[i].notify & ~S_SIGEV_THREAD_ID) == SIGEV_SIGNAL)
            while (ssi_sys4(SYS_rt_sigtimedwait, (long)&set, 0, (long)&now, 8) > 0)
                ;
    }
}

void ssi_kobj_restore(void)
{
    int i;
    uint64_t now = s_realtime_ns();
    uint64_t frozen = now > s_frozen_ns ? now - s_frozen_ns : 0;
    s_restore_timers(frozen);
    if (s_lost)
        ssi_sys_log("ssi: ", "more eventfd/timerfd/signalfd descriptors than recorded", 0, 0);
    for (i = 0; i < s_nobjs; i++) {
        long o = -EINVAL, flags = (long)s_objs[i].fl_flags | O_CLOEXEC;
        switch (s_objs[i].kind) {
        case S_EVENTFD:
            o = ssi_sys2(SYS_eventfd2, 0, flags | (s_objs[i].semaphore ? S_EFD_SEMAPHORE : 0));
            if (o >= 0 && s_objs[i].count) {
                uint64_t c = s_objs[i].count;
                /* From 0 a write of up to 2^64-2 never blocks. */
                ssi_sys3(SYS_write, o, (long)&c, sizeof(c));
            }
            break;
        case S_TIMERFD: o = s_timerfd(i, frozen, flags); break;
        case S_SIGNALFD: {
            uint64_t mask = s_objs[i].sigmask;
            o = ssi_sys4(SYS_signalfd4, -1, (long)&mask, 8, flags);
            break;
        }
        }
        if (o < 0) {
            ssi_sys_log("ssi: ", "cannot make an eventfd, timerfd or signalfd again", 0, o);
            continue;
        }
        if (o != s_objs[i].fd) {
            ssi_sys3(SYS_dup3, o, s_objs[i].fd, s_objs[i].cloexec ? O_CLOEXEC : 0);
            ssi_sys1(SYS_close, o);
        } else if (!s_objs[i].cloexec) {
            ssi_sys3(SYS_fcntl, o, F_SETFD, 0);
        }
    }
}
