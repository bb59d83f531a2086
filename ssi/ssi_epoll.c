/*
 * ssi_epoll.c - epoll instances across a move (in libssi.so).
 *
 * An epoll instance is kernel state that no image carries. What it holds is
 * small and readable: /proc/self/fdinfo/N lists every registration (target
 * fd, events, user data). The freeze hook records that in static memory,
 * which travels in the image; the restore hook, wherever the process
 * resumes, makes a new instance at the same number with the same
 * registrations. The targets are at the same numbers there: tunnels,
 * listener pairs and home sockets keep their fd numbers (docs/ENGINE.md).
 * Readiness is evaluated afresh at registration, so a target that is ready
 * (data waiting, a connection queued) is reported by the next epoll_wait,
 * edge-triggered ones included.
 *
 * Runs in the freeze handler and the restore hook: raw system calls,
 * static buffers, no libc.
 */
#include "ssi_epoll.h"

#include "ssi_sys.h"

#include <fcntl.h>
#include <sys/epoll.h>

#define S_MAX_EPOLLS 16
#define S_MAX_REGS 4096 /* registrations, all instances together */

static struct {
    int fd;
    int cloexec;
    int first, n; /* its registrations: s_regs[first .. first+n) */
} s_eps[S_MAX_EPOLLS];
static struct {
    int tfd;
    uint32_t events;
    uint64_t data;
} s_regs[S_MAX_REGS];
static int s_neps, s_nregs, s_lost;
static char s_buf[65536];

static int s_eq(const char *a, const char *b, size_t k)
{
    size_t i;
    for (i = 0; i < k; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int s_is_epoll(long fd)
{
    char path[40], link[32];
    long n;
    ssi_sys_strlcpy(path, "/proc/self/fd/", sizeof(path));
    ssi_sys_utoa(path + ssi_sys_strlen(path), (uint64_t)fd);
    n = ssi_sys4(SYS_readlinkat, AT_FDCWD, (long)path, (long)link, sizeof(link) - 1);
    if (n <= 0)
        return 0;
    link[n] = 0;
    return n == 22 && s_eq(link, "anon_inode:[eventpoll]", 22);
}

/* Parses a hex number at *p, advancing it. */
static uint64_t s_hex(const char **p)
{
    uint64_t v = 0;
    const char *s = *p;
    for (;; s++) {
        char c = *s;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v * 16 + (uint64_t)d;
    }
    *p = s;
    return v;
}

static const char *s_after(const char *p, const char *end, const char *word)
{
    size_t k = ssi_sys_strlen(word);
    for (; p + k <= end; p++)
        if (s_eq(p, word, k))
            return p + k;
    return 0;
}

static void s_record(long fd)
{
    char path[48];
    const char *p, *end, *q;
    long dfd, n;
    if (s_neps >= S_MAX_EPOLLS) {
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
    end = s_buf + n;
    s_eps[s_neps].fd = (int)fd;
    s_eps[s_neps].cloexec = (ssi_sys2(SYS_fcntl, fd, F_GETFD) & FD_CLOEXEC) != 0;
    s_eps[s_neps].first = s_nregs;
    s_eps[s_neps].n = 0;
    /* "tfd:       5 events:       19 data:                5  pos:0 ino:... sdev:..." */
    for (p = s_buf; (p = s_after(p, end, "tfd:"));) {
        uint64_t tfd;
        while (*p == ' ')
            p++;
        tfd = 0;
        while (*p >= '0' && *p <= '9')
            tfd = tfd * 10 + (uint64_t)(*p++ - '0');
        if (!(q = s_after(p, end, "events:")))
            break;
        while (*q == ' ')
            q++;
        if (s_nregs >= S_MAX_REGS) {
            s_lost = 1;
            break;
        }
        s_regs[s_nregs].tfd = (int)tfd;
        s_regs[s_nregs].events = (uint32_t)s_hex(&q);
        if (!(q = s_after(q, end, "data:")))
            break;
        while (*q == ' ')
            q++;
        s_regs[s_nregs].data = s_hex(&q);
        s_nregs++;
        s_eps[s_neps].n++;
        p = q;
    }
    s_neps++;
}

void ssi_epoll_freeze(void)
{
    long fd;
    s_neps = s_nregs = s_lost = 0;
    /* The program's descriptors; the shim's own live far above. */
    for (fd = 0; fd < 1024; fd++)
        if (ssi_sys2(SYS_fcntl, fd, F_GETFD) >= 0 && s_is_epoll(fd))
            s_record(fd);
}

void ssi_epoll_restore(void)
{
    int i, j;
    if (s_lost)
        ssi_sys_log("ssi: ", "more epoll registrations than recorded; some were dropped", 0, 0);
    for (i = 0; i < s_neps; i++) {
        long e = ssi_sys1(SYS_epoll_create1, s_eps[i].cloexec ? EPOLL_CLOEXEC : 0);
        if (e < 0) {
            ssi_sys_log("ssi: ", "cannot make an epoll instance again", 0, e);
            continue;
        }
        for (j = 0; j < s_eps[i].n; j++) {
            struct epoll_event ev;
            long r;
            ev.events = s_regs[s_eps[i].first + j].events;
            ev.data.u64 = s_regs[s_eps[i].first + j].data;
            r = ssi_sys4(SYS_epoll_ctl, e, EPOLL_CTL_ADD, s_regs[s_eps[i].first + j].tfd,
                         (long)&ev);
            if (r < 0)
                ssi_sys_log("ssi: ", "an epoll registration could not be made again", 0, r);
        }
        if (e != s_eps[i].fd) {
            ssi_sys3(SYS_dup3, e, s_eps[i].fd, s_eps[i].cloexec ? O_CLOEXEC : 0);
            ssi_sys1(SYS_close, e);
        }
    }
}
