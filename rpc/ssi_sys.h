/*
 * ssi_sys.h - raw x86_64 system calls for code that must not touch libc.
 *
 * Used by the freeze handler in libssi.so (signal context: no errno, no
 * locks, no cancellation points) and by the libc-free restorer
 * ssi-restore. Every call returns the kernel's value: >= 0 or -errno.
 * Header-only so that both users inline it; no malloc, no stdio.
 */
#ifndef SSI_SYS_H
#define SSI_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static inline long ssi_sys0(long n)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
    return r;
}

static inline long ssi_sys1(long n, long a)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
    return r;
}

static inline long ssi_sys2(long n, long a, long b)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return r;
}

static inline long ssi_sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static inline long ssi_sys4(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

static inline long ssi_sys5(long n, long a, long b, long c, long d, long e)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return r;
}

static inline long ssi_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}

#define SSI_SYS_ERR(r) ((unsigned long)(r) > (unsigned long)-4096L)

/* The freeze handler's saved context: enough to longjmp back into it.
 * Unlike glibc's jmp_buf nothing is mangled with the TCB pointer guard, so
 * the restorer can jump here before (and independently of) libc. */
typedef struct {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
} ssi_sys_jmp_t;

static inline size_t ssi_sys_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* s begins with p. */
static inline int ssi_sys_starts(const char *s, const char *p)
{
    while (*p)
        if (*s++ != *p++)
            return 0;
    return 1;
}

static inline int ssi_sys_streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Copies at most cap-1 bytes and always terminates; returns length. */
static inline size_t ssi_sys_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    while (src[n] && n + 1 < cap) {
        dst[n] = src[n];
        n++;
    }
    dst[n] = 0;
    return n;
}

/* The CPU's own string instructions: no libc, fast for any size (a byte
 * loop cost the deputy more than decryption on 128 KiB frames), and asm
 * volatile, so a zeroing of a key is never optimised away. memcopy goes
 * forward: it may move bytes down within one buffer (dst < src). x86-64
 * only, as is the rest of the engine. */
static inline void ssi_sys_memzero(void *p, size_t n)
{
    __asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(0) : "memory");
}

static inline void ssi_sys_memcopy(void *dst, const void *src, size_t n)
{
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

/* Writes a decimal number; returns the length. buf needs 21 bytes. */
static inline size_t ssi_sys_utoa(char *buf, uint64_t v)
{
    char tmp[21];
    size_t n = 0, i;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
    return n;
}

/* Parses hex digits; *end gets the first non-hex character. */
static inline uint64_t ssi_sys_hex(const char *s, const char **end)
{
    uint64_t v = 0;
    for (;; s++) {
        char c = *s;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uint64_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v = v * 16 + (uint64_t)(c - 'A' + 10);
        else
            break;
    }
    *end = s;
    return v;
}

static inline uint64_t ssi_sys_dec(const char *s, const char **end)
{
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    *end = s;
    return v;
}

/* 64-bit FNV-1a, used to fingerprint the vDSO text. */
static inline uint64_t ssi_sys_fnv1a(const void *p, size_t n)
{
    const unsigned char *c = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    while (n--) {
        h ^= *c++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Puts a dequeued signal back with its siginfo: process-directed (shared)
 * or to thread tid. Used on thaw (shim) and on restore (restorer). */
static inline void ssi_sys_requeue(long pid, long tid, int shared, int signo, const void *info)
{
    if (shared)
        ssi_sys3(SYS_rt_sigqueueinfo, pid, signo, (long)info);
    else
        ssi_sys4(SYS_rt_tgsigqueueinfo, pid, tid, signo, (long)info);
}

/* A walk over a directory's entries whose names are numbers (/proc,
 * /proc/PID/fd, /proc/self/task): fd is the open directory, buf (>= 1 KiB)
 * scratch for getdents64; n and off start at 0. */
typedef struct {
    long fd;
    char *buf;
    long size;
    long n, off;
} ssi_sys_dirwalk_t;

/* The next numbered entry's name, or NULL at the end or on an error. */
static inline const char *ssi_sys_dirwalk_next(ssi_sys_dirwalk_t *w)
{
    for (;;) {
        if (w->off >= w->n) {
            w->n = ssi_sys3(SYS_getdents64, w->fd, (long)w->buf, w->size);
            w->off = 0;
            if (w->n <= 0)
                return NULL;
        }
        struct {
            uint64_t ino;
            int64_t off;
            unsigned short reclen;
            unsigned char type;
            char name[];
        } *d = (void *)(w->buf + w->off);
        w->off += d->reclen;
        if (d->name[0] >= '0' && d->name[0] <= '9')
            return d->name;
    }
}

/* Writes all of p to fd (EINTR retried), by write(2), or on a socket by
 * sendto(2) with MSG_NOSIGNAL: a SIGPIPE raised in signal context would
 * stay pending (all signals blocked) and kill the thawed program. 0, or
 * -errno (-EIO for a write of nothing). Chunks of at most 1 GiB. */
static inline long ssi_sys_out_all(long fd, const void *p, size_t n, int socket)
{
    const char *b = p;
    while (n) {
        long k = (long)(n > (1UL << 30) ? (1UL << 30) : n);
        long w = socket ? ssi_sys6(SYS_sendto, fd, (long)b, k, MSG_NOSIGNAL, 0, 0)
                        : ssi_sys3(SYS_write, fd, (long)b, k);
        if (w == -EINTR)
            continue;
        if (w <= 0)
            return w ? w : -EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline long ssi_sys_write_all(long fd, const void *p, size_t n)
{
    return ssi_sys_out_all(fd, p, n, 0);
}

static inline long ssi_sys_send_all(long fd, const void *p, size_t n)
{
    return ssi_sys_out_all(fd, p, n, 1);
}

/* The open descriptors of this process, from /proc/self/fd (the listing's
 * own fd left out): up to cap numbers into fds, buf (>= 1 KiB) as scratch
 * for getdents64. Returns how many there are (more than cap: only cap were
 * stored, which a caller must refuse rather than lose some), or -errno if
 * /proc cannot be read. */
static inline long ssi_sys_list_fds(int *fds, long cap, char *buf, long bufsz)
{
    ssi_sys_dirwalk_t w = {.buf = buf, .size = bufsz};
    const char *name, *e;
    long count = 0;
    w.fd = ssi_sys4(SYS_openat, AT_FDCWD, (long)"/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                    0);
    if (w.fd < 0)
        return w.fd;
    while ((name = ssi_sys_dirwalk_next(&w))) {
        long fd = (long)ssi_sys_dec(name, &e);
        if (fd == w.fd)
            continue;
        if (count < cap)
            fds[count] = (int)fd;
        count++;
    }
    ssi_sys1(SYS_close, w.fd);
    return count;
}

/* One line on stderr with one write(2): PREFIX A [B] [" (errno E)"]. The
 * logger of code in signal context (freeze handler, deputy, shim). */
static inline void ssi_sys_log(const char *prefix, const char *a, const char *b, long err)
{
    char buf[320];
    size_t n = 0;
    n += ssi_sys_strlcpy(buf + n, prefix, sizeof(buf) - n);
    n += ssi_sys_strlcpy(buf + n, a, sizeof(buf) - n);
    if (b)
        n += ssi_sys_strlcpy(buf + n, b, sizeof(buf) - n);
    if (err && n + 32 < sizeof(buf)) {
        n += ssi_sys_strlcpy(buf + n, " (errno ", sizeof(buf) - n);
        n += ssi_sys_utoa(buf + n, (uint64_t)(err < 0 ? -err : err));
        n += ssi_sys_strlcpy(buf + n, ")", sizeof(buf) - n);
    }
    n += ssi_sys_strlcpy(buf + n, "\n", sizeof(buf) - n);
    ssi_sys3(SYS_write, 2, (long)buf, (long)n);
}

/* capget of the calling thread, version 3 (64 bits per set, as two words):
 * 0 or -errno. (capset, the restorer's alone, is in restore/: libssi.so's
 * away text may not name it, tests/syscall_table.sh.) */
typedef struct {
    uint32_t effective, permitted, inheritable;
} ssi_sys_capdata_t;

typedef struct {
    uint32_t version;
    int pid;
} ssi_sys_caphdr_t;
#define SSI_SYS_CAP_V3 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */

static inline long ssi_sys_capget(ssi_sys_capdata_t data[2])
{
    ssi_sys_caphdr_t hdr = {SSI_SYS_CAP_V3, 0};
    return ssi_sys2(SYS_capget, (long)&hdr, (long)data);
}

#endif
