/*
 * ssi_vfs_body.c - the away body's side of the vfs-proxy: file system
 * calls (and the process's identity: getppid, uname, kill) run at home.
 *
 * A proxy of the trap core (ssi/away/ssi_trap.h), which the shim gives
 * the handlers below: the core traps the calls listed in
 * ssi_vfs_body_calls[] and hands each to the proxies in order (the
 * netproxy first, this one last). Here a call either goes home over the
 * core's call link (ssi_trap_forward) or is re-issued locally with the
 * program's signal mask (ssi_trap_local).
 *
 * Which fd is forwarded: a home file at fd N in the body is a placeholder
 * (/dev/null, same access mode) at N whose real file is the deputy's fd N
 * (the core's forwarded-fd table says which). The body picks the number
 * of a new file (the kernel's lowest free slot, reserved by opening the
 * placeholder first) and the deputy dup3s there.
 *
 * Signal context, raw system calls, static buffers, no libc at all (libc's
 * syscalls would trap into the handler).
 */
#include "ssi_vfs.h"

#include "ssi_sys.h"
#include "ssi_trap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>
#include <ucontext.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#define S_MAX_FD 65536

static uint8_t s_copy[64 * 1024]; /* sendfile between sides */
static long s_pid;                /* /proc/<pid> is local */

/* The calls this proxy needs trapped. */
/* clang-format off */
const uint16_t ssi_vfs_body_calls[] = {
    SYS_read, SYS_write, SYS_open, SYS_close, SYS_stat, SYS_fstat, SYS_lstat, SYS_lseek,
    SYS_ioctl, SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev, SYS_access, SYS_dup, SYS_dup2,
    SYS_sendfile, SYS_fcntl, SYS_flock, SYS_fsync, SYS_fdatasync, SYS_truncate, SYS_ftruncate,
    SYS_getdents, SYS_getcwd, SYS_chdir, SYS_fchdir, SYS_rename, SYS_mkdir, SYS_rmdir, SYS_creat,
    SYS_link, SYS_unlink, SYS_symlink, SYS_readlink, SYS_chmod, SYS_fchmod, SYS_chown,
    SYS_fchown, SYS_lchown, SYS_utime, SYS_mknod, SYS_statfs, SYS_fstatfs, SYS_readahead,
    SYS_setxattr, SYS_lsetxattr, SYS_fsetxattr, SYS_getxattr, SYS_lgetxattr, SYS_fgetxattr,
    SYS_listxattr, SYS_llistxattr, SYS_flistxattr, SYS_removexattr, SYS_lremovexattr,
    SYS_fremovexattr, SYS_getdents64, SYS_fadvise64, SYS_utimes, SYS_openat, SYS_mkdirat,
    SYS_mknodat, SYS_fchownat, SYS_futimesat, SYS_newfstatat, SYS_unlinkat, SYS_renameat,
    SYS_linkat, SYS_symlinkat, SYS_readlinkat, SYS_fchmodat, SYS_faccessat, SYS_splice,
    SYS_sync_file_range, SYS_utimensat, SYS_fallocate, SYS_dup3, SYS_preadv, SYS_pwritev,
    SYS_renameat2, SYS_copy_file_range, SYS_preadv2, SYS_pwritev2, SYS_statx,
    436 /* close_range */, 437 /* openat2 */, 439 /* faccessat2 */, 452 /* fchmodat2 */,
    SYS_mmap, /* of a file only: the core traps no anonymous mapping */
    SYS_getppid, SYS_uname, SYS_kill, SYS_wait4, SYS_waitid,
    /* Read-ahead gives home its file offsets back first. */
    SYS_exit_group,
};
/* clang-format on */
const unsigned ssi_vfs_body_ncalls = sizeof(ssi_vfs_body_calls) / sizeof(ssi_vfs_body_calls[0]);

/* ---- small helpers ------------------------------------------------------ */

/* The core's forwarded-fd table. */
static int s_isfwd(long fd)
{
    return ssi_trap_fwd(fd);
}

static void s_setfwd(long fd, int on)
{
    ssi_trap_set_fwd(fd, on);
}

static int s_prefix(const char *p, const char *pre)
{
    while (*pre)
        if (*p++ != *pre++)
            return 0;
    return *p == 0 || *p == '/';
}

/* "fd/N" exactly, N a forwarded descriptor: its link (readlink) and its
 * reopening are the home file's, which the deputy holds at N. */
static int s_fwd_fd_link(const char *rest)
{
    long fd = 0;
    if (rest[0] != '/' || rest[1] != 'f' || rest[2] != 'd' || rest[3] != '/' || !rest[4])
        return 0;
    for (rest += 4; *rest; rest++) {
        if (*rest < '0' || *rest > '9' || fd > 1000000)
            return 0;
        fd = fd * 10 + (*rest - '0');
    }
    return s_isfwd(fd);
}

/* What follows /proc/self (or /proc/thread-self, /proc/PID) in a path
 * that must be home's although /proc/self is local: the links into the
 * file system ("root", "cwd", "exe", also under "task/TID"), whose
 * targets the kernel would resolve in this node's tree, a way out of the
 * home view; the directories that hold them (so that no local directory fd
 * reaches them by openat); a path through a link in "fd/" ("fd/N/..."); and
 * any "." or ".." component, which could lead back to them. The deputy is
 * the same pid at home, with home's root, the cwd the body's chdir calls
 * set, and the program's binary. */
static int s_home_proc(const char *rest)
{
    static const char *const links[] = {"/root", "/cwd", "/exe"};
    const char *c;
    for (c = rest; *c; c++)
        if (c[0] == '/' && c[1] == '.' &&
            (c[2] == 0 || c[2] == '/' || (c[2] == '.' && (c[3] == 0 || c[3] == '/'))))
            return 1;
    if (!rest[0] || ssi_sys_streq(rest, "/"))
        return 1;
    if (s_prefix(rest, "/fd")) {
        c = rest + 3;
        if (*c++ != '/')
            return 0;
        while (*c >= '0' && *c <= '9')
            c++;
        return *c == '/' && c[1];
    }
    if (s_prefix(rest, "/task")) {
        rest += 5;
        if (!rest[0] || ssi_sys_streq(rest, "/"))
            return 1;
        if (*rest++ != '/' || *rest < '0' || *rest > '9')
            return 0;
        while (*rest >= '0' && *rest <= '9')
            rest++;
        if (!rest[0] || ssi_sys_streq(rest, "/"))
            return 1;
    }
    for (unsigned i = 0; i < sizeof links / sizeof *links; i++)
        if (s_prefix(rest, links[i]))
            return 1;
    return 0;
}

/* Paths that answer for this node or for the body itself: the local
 * class of DESIGN.md. /proc/self/fd/N of a forwarded descriptor, and what
 * s_home_proc names, are home's (the deputy's /proc/self is the same
 * pid's). */
static int s_local_path(const char *p)
{
    char me[32];
    size_t n;
    if (!p || p[0] != '/')
        return 0;
    if (s_prefix(p, "/proc/self") && (s_fwd_fd_link(p + 10) || s_home_proc(p + 10)))
        return 0;
    if (s_prefix(p, "/proc/thread-self") && (s_fwd_fd_link(p + 17) || s_home_proc(p + 17)))
        return 0;
    if (ssi_sys_streq(p, "/dev/null") || ssi_sys_streq(p, "/dev/zero") ||
        ssi_sys_streq(p, "/dev/urandom") || ssi_sys_streq(p, "/dev/random") ||
        ssi_sys_streq(p, "/dev/full"))
        return 1;
    if (s_prefix(p, "/proc/self") || s_prefix(p, "/proc/thread-self"))
        return 1;
    n = ssi_sys_strlcpy(me, "/proc/", sizeof(me));
    n += ssi_sys_utoa(me + n, (uint64_t)s_pid);
    if (s_prefix(p, me) && (s_fwd_fd_link(p + n) || s_home_proc(p + n)))
        return 0;
    return s_prefix(p, me);
}

/* ---- forwarding and local re-issue (the core's) ---------------------- */

/* Forwards with the program's pointers replaced: a convenience. */
static long s_fwd6(unsigned op, int64_t a0, int64_t a1, int64_t a2, int64_t a3, int64_t a4)
{
    int64_t a[6] = {a0, a1, a2, a3, a4, 0};
    return ssi_trap_forward(op, a);
}

static long s_local(long nr, const int64_t *a, const ucontext_t *uc)
{
    return ssi_trap_local(nr, a, uc);
}

/* A local call whose result goes back as it is: outside the core's lock
 * (a read of a tunnel may block for long). */
static long s_free(long nr, const int64_t *a, const ucontext_t *uc)
{
    return ssi_trap_local_free(nr, a, uc);
}

/* ---- reads and writes ---------------------------------------------------- */

/* read/pread/write/pwrite on a forwarded fd, cut into SSI_CALL_RW_MAX
 * pieces; stops at a short piece, and reports what was done before an
 * error (as the kernel does for a partial transfer). */
static long s_fwd_rw(long fd, char *buf, uint64_t len, int64_t off, int positional, int wr)
{
    long nr = wr ? (positional ? SYS_pwrite64 : SYS_write) : (positional ? SYS_pread64 : SYS_read);
    uint64_t done = 0;
    if (len == 0 && wr) /* a 0-byte write still reports a bad fd or a closed pipe */
        return s_fwd6((unsigned)nr, fd, (int64_t)buf, 0, off, 0);
    while (done < len) {
        uint64_t k = len - done < SSI_CALL_RW_MAX ? len - done : SSI_CALL_RW_MAX;
        long n = s_fwd6((unsigned)nr, fd, (int64_t)(buf + done), (int64_t)k,
                        positional ? off + (int64_t)done : 0, 0);
        if (n < 0)
            return done ? (long)done : n;
        done += (uint64_t)n;
        if ((uint64_t)n < k)
            break;
    }
    return (long)done;
}

static long s_fwd_read(long fd, char *buf, uint64_t len, int64_t off, int positional)
{
    return s_fwd_rw(fd, buf, len, off, positional, 0);
}

static long s_fwd_write(long fd, const char *buf, uint64_t len, int64_t off, int positional)
{
    return s_fwd_rw(fd, (char *)buf, len, off, positional, 1);
}

/* ---- read-ahead ----------------------------------------------------------- */

/* Small sequential reads of one home regular file (stdio's 4 KiB, cat's
 * 128 KiB) would each cost a round trip. After two whole small reads in a
 * row of the same fd, a read asks home for S_RA_SIZE bytes and the next
 * reads are answered from here. The home offset then runs ahead of the
 * program's by what is cached: any other trapped call that could look at
 * it or at the file (anything forwarded, anything on that fd, exit, a
 * freeze) first puts it back with one lseek (s_ra_drop), so home's file
 * description (shared with a parent shell, a dup) is right whenever
 * anybody can see it. The cost: bytes another process writes at home into
 * the cached range after they were read ahead are not seen (as NFS). */
#define S_RA_SMALL (128 * 1024) /* reads up to this size may start one */
#define S_RA_SIZE (1024 * 1024) /* asked for at once: one SSI_CALL_RW_MAX */

static uint8_t s_ra_buf[S_RA_SIZE];
static long s_ra_fd = -1;    /* streaming from this fd (a home regular file) */
static long s_ra_prev = -1;  /* the last whole small read was on this fd */
static long s_ra_other = -1; /* found not to be a regular file (a FIFO at home) */
static uint32_t s_ra_pos, s_ra_len;

static void s_ra_drop(void)
{
    uint32_t ahead = s_ra_len - s_ra_pos;
    if (s_ra_fd >= 0 && ahead && ssi_trap_link_up())
        s_fwd6(SYS_lseek, s_ra_fd, -(int64_t)ahead, SEEK_CUR, 0, 0);
    s_ra_fd = s_ra_prev = s_ra_other = -1;
    s_ra_pos = s_ra_len = 0;
}

/* Whether a trapped call leaves the stream alone: a read of the streamed
 * fd, or I/O on a descriptor of this node (a pipe, a tunnel: cat's writes
 * to its stdout). */
static int s_ra_keeps(long nr, const int64_t *a)
{
    switch (nr) {
    case SYS_read:
    case SYS_readv:
        if (a[0] == s_ra_fd || a[0] == s_ra_prev || a[0] == s_ra_other)
            return nr == SYS_read;
        return !s_isfwd(a[0]);
    case SYS_write:
    case SYS_writev:
    case SYS_sendto:
    case SYS_recvfrom:
    case SYS_sendmsg:
    case SYS_recvmsg: return !s_isfwd(a[0]) && a[0] != s_ra_fd && a[0] != s_ra_prev;
    default: return 0;
    }
}

static long s_ra_read(long fd, char *buf, uint64_t len)
{
    uint64_t done = 0;
    if (fd != s_ra_fd) {
        long n;
        struct stat st;
        if (fd == s_ra_other)
            return s_fwd_read(fd, buf, len, 0, 0);
        if (len > S_RA_SMALL || fd != s_ra_prev) {
            s_ra_drop();
            n = s_fwd_read(fd, buf, len, 0, 0);
            if (len <= S_RA_SMALL && len && n == (long)len)
                s_ra_prev = fd; /* a whole small read: maybe a stream */
            return n;
        }
        /* The second in a row: a stream if the file is a regular one
         * (never read ahead from a pipe or a terminal at home). */
        s_ra_prev = -1;
        if (s_fwd6(SYS_fstat, fd, (int64_t)&st, 0, 0, 0) < 0 || !S_ISREG(st.st_mode)) {
            s_ra_other = fd;
            return s_fwd_read(fd, buf, len, 0, 0);
        }
        s_ra_fd = fd;
        s_ra_pos = s_ra_len = 0;
    }
    if (len > S_RA_SMALL) {
        s_ra_drop();
        return s_fwd_read(fd, buf, len, 0, 0);
    }
    while (done < len) {
        uint32_t k;
        if (s_ra_pos == s_ra_len) {
            long n = s_fwd6(SYS_read, fd, (int64_t)s_ra_buf, S_RA_SIZE, 0, 0);
            s_ra_pos = s_ra_len = 0;
            if (n <= 0)
                return done ? (long)done : n;
            s_ra_len = (uint32_t)n;
        }
        k = s_ra_len - s_ra_pos;
        if (k > len - done)
            k = (uint32_t)(len - done);
        ssi_sys_memcopy(buf + done, s_ra_buf + s_ra_pos, k);
        s_ra_pos += k;
        done += k;
    }
    return (long)done;
}

/* readv/writev and the p- and pv- variants on a forwarded fd: one piece
 * per iovec (the home file sees the same bytes at the same offsets). */
static long s_fwd_rw_vec(long fd, const struct iovec *iov, long cnt, int64_t off, int positional,
                         int wr)
{
    long total = 0, i;
    if (cnt < 0 || cnt > 1024)
        return -EINVAL;
    for (i = 0; i < cnt; i++) {
        long n;
        if (iov[i].iov_len == 0)
            continue;
        n = wr ? s_fwd_write(fd, iov[i].iov_base, iov[i].iov_len, off + total, positional)
               : s_fwd_read(fd, iov[i].iov_base, iov[i].iov_len, off + total, positional);
        if (n < 0)
            return total ? total : n;
        total += n;
        if ((uint64_t)n < iov[i].iov_len)
            break;
    }
    return total;
}

/* One read or write on either side (sendfile's emulation). */
static long s_any_io(long fd, char *buf, uint64_t len, int64_t *off, int wr, const ucontext_t *uc)
{
    long n;
    if (s_isfwd(fd)) {
        n = wr ? s_fwd_write(fd, buf, len, off ? *off : 0, off != 0)
               : s_fwd_read(fd, buf, len, off ? *off : 0, off != 0);
    } else {
        int64_t a[6] = {fd, (int64_t)buf, (int64_t)len, off ? *off : 0, 0, 0};
        n = s_local(off ? (wr ? SYS_pwrite64 : SYS_pread64) : (wr ? SYS_write : SYS_read), a, uc);
    }
    if (n > 0 && off)
        *off += n;
    return n;
}

static long s_sendfile(const int64_t *a, const ucontext_t *uc)
{
    long out = a[0], in = a[1], total = 0;
    int64_t *offp = (int64_t *)a[2], off = offp ? *offp : 0;
    uint64_t count = (uint64_t)a[3];
    while ((uint64_t)total < count) {
        uint64_t k =
            count - (uint64_t)total < sizeof(s_copy) ? count - (uint64_t)total : sizeof(s_copy);
        long n = s_any_io(in, (char *)s_copy, k, offp ? &off : 0, 0, uc), w = 0;
        if (n <= 0) {
            if (n < 0 && !total)
                total = n;
            break;
        }
        while (w < n) {
            long m = s_any_io(out, (char *)s_copy + w, (uint64_t)(n - w), 0, 1, uc);
            if (m <= 0) {
                /* What was read but not written is lost to the stream, as
                 * with a failing sendfile. */
                if (offp)
                    *offp = off - (n - w);
                return total + w ? total + w : (m < 0 ? m : -EIO);
            }
            w += m;
        }
        total += n;
        if ((uint64_t)n < k)
            break;
    }
    if (offp && total > 0)
        *offp = off;
    return total;
}

/* ---- descriptors ------------------------------------------------------- */

/* Opens a home file: reserve the number with a placeholder, then let the
 * deputy open and move it there. */
static long s_open_home(long dirfd, const char *path, long flags, long mode)
{
    long acc = flags & O_PATH ? O_PATH : flags & O_ACCMODE;
    long m, r;
    if (acc == 3)
        acc = O_RDWR;
    m = ssi_sys4(SYS_openat, AT_FDCWD, (long)"/dev/null", acc | (flags & O_CLOEXEC), 0);
    if (m < 0)
        return m;
    if (m >= S_MAX_FD) {
        ssi_sys1(SYS_close, m);
        return -EMFILE;
    }
    r = s_fwd6(SSI_CALL_OP_OPEN, dirfd, (int64_t)path, flags, mode, m);
    if (r < 0) {
        ssi_sys1(SYS_close, m);
        return r;
    }
    s_setfwd(m, 1);
    return m;
}

/* close of a descriptor no proxy before this one took (the netproxy's
 * sockets went there first). */
static long s_close(long fd)
{
    long r;
    if (ssi_trap_own_fd((int)fd))
        return -EBADF; /* ours, invisible to the program */
    if (!s_isfwd(fd))
        return ssi_sys1(SYS_close, fd);
    r = s_fwd6(SYS_close, fd, 0, 0, 0, 0);
    ssi_sys1(SYS_close, fd);
    s_setfwd(fd, 0);
    return r == -EIO && !ssi_trap_link_up() ? 0 : r;
}

/* A local descriptor now sits at `fd` (dup2 onto it, ...): if fd was a
 * home file, close it at home too. Every proxy hears of it (the core). */
void ssi_vfs_body_replaced(int fd)
{
    if (s_isfwd(fd)) {
        s_fwd6(SYS_close, fd, 0, 0, 0, 0);
        s_setfwd(fd, 0);
    }
}

/* dup2/dup3(old, new, flags), either side. */
static long s_dup3(long old, long new, long flags, int is_dup2)
{
    long r;
    if (ssi_trap_own_fd((int)new) || ssi_trap_own_fd((int)old))
        return -EBADF;
    if (old == new)
        return is_dup2 ? (ssi_sys2(SYS_fcntl, old, F_GETFD) < 0 ? -EBADF : new) : -EINVAL;
    if (!s_isfwd(old)) {
        r = ssi_sys3(SYS_dup3, old, new, flags);
        if (r >= 0)
            ssi_trap_replaced((int)new);
        return r;
    }
    if (new < 0 || new >= S_MAX_FD)
        return -EBADF;
    r = s_fwd6(SYS_dup3, old, new, flags & O_CLOEXEC, 0, 0);
    if (r < 0)
        return r;
    r = ssi_sys3(SYS_dup3, old, new, flags);
    if (r < 0) {
        s_fwd6(SYS_close, new, 0, 0, 0, 0);
        return r;
    }
    s_setfwd(new, 1);
    return new;
}

/* dup / F_DUPFD: the body picks the number, the deputy follows. */
static long s_dup_from(long old, long local_result, long cloexec)
{
    long r;
    if (local_result < 0)
        return local_result;
    if (local_result >= S_MAX_FD) {
        ssi_sys1(SYS_close, local_result);
        return -EMFILE;
    }
    r = s_fwd6(SYS_dup3, old, local_result, cloexec ? O_CLOEXEC : 0, 0, 0);
    if (r < 0) {
        ssi_sys1(SYS_close, local_result);
        return r;
    }
    s_setfwd(local_result, 1);
    return local_result;
}

/* A lock wait on a home file (fcntl F_SETLKW or F_OFD_SETLKW, flock
 * without LOCK_NB) made as its non-blocking form, again and again, waiting
 * between tries here outside the core's lock (ssi_trap_lock_wait): a
 * blocking one would hold the call link, so every other thread's calls,
 * and the deputy's loop, until the lock is free. */
static long s_lock_wait(long nr, const int64_t *a, const ucontext_t *uc)
{
    unsigned ms = 1;
    long r;
    for (;;) {
        if (nr == SYS_flock)
            r = s_fwd6(SYS_flock, a[0], a[1] | LOCK_NB, 0, 0, 0);
        else
            r = s_fwd6(SSI_CALL_OP_LOCK, a[0], a[1] == F_SETLKW ? F_SETLK : F_OFD_SETLK, a[2], 0,
                       0);
        if (r != -EAGAIN && r != -EACCES)
            return r;
        r = ssi_trap_lock_wait(nr, &ms, (void *)uc);
        if (r != 0)
            return r;
    }
}

static long s_fcntl(const int64_t *a, const ucontext_t *uc)
{
    long fd = a[0], cmd = a[1];
    if (ssi_trap_own_fd((int)fd))
        return -EBADF;
    if (!s_isfwd(fd))
        return cmd == F_SETLKW || cmd == F_OFD_SETLKW ? s_free(SYS_fcntl, a, uc)
                                                      : s_local(SYS_fcntl, a, uc);
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        return s_dup_from(fd, ssi_sys3(SYS_fcntl, fd, cmd, a[2]), cmd == F_DUPFD_CLOEXEC);
    case F_SETFD: {
        long r = s_fwd6(SYS_fcntl, fd, cmd, a[2], 0, 0);
        if (r >= 0)
            ssi_sys3(SYS_fcntl, fd, cmd, a[2]);
        return r;
    }
    case F_SETLKW:
    case F_OFD_SETLKW: return s_lock_wait(SYS_fcntl, a, uc);
    case F_GETLK:
    case F_SETLK:
    case F_OFD_GETLK:
    case F_OFD_SETLK: return s_fwd6(SSI_CALL_OP_LOCK, fd, cmd, a[2], 0, 0);
    default: return s_fwd6(SYS_fcntl, fd, cmd, a[2], 0, 0);
    }
}

/* Terminals of the home node. Away a home terminal is a tunnel (a
 * socketpair): the kernel here would say "not a tty", stdio would choose
 * full buffering and tcsetattr would change nothing. The freeze hook
 * records which low fds were terminals at home; their terminal requests
 * are done on the home terminal by the deputy, so that isatty, tcgetattr,
 * raw mode and the window size (also after a resize at home) are home's. */
#define S_TTY_FDS 64
#define S_KTERMIOS 36  /* the kernel's struct termios (glibc's is 60) */
#define S_KTERMIOS2 44 /* struct termios2 */
static uint8_t s_tty[S_TTY_FDS];

static long s_tty_size(unsigned long req)
{
    switch (req) {
    case TCGETS:
    case TCSETS:
    case TCSETSW:
    case TCSETSF: return S_KTERMIOS;
    case SSI_TCGETS2:
    case SSI_TCSETS2:
    case SSI_TCSETSW2:
    case SSI_TCSETSF2: return S_KTERMIOS2;
    case TIOCGWINSZ:
    case TIOCSWINSZ: return sizeof(struct winsize);
    default: return -1;
    }
}

long ssi_vfs_getppid(void)
{
    int64_t a[6] = {0};
    if (!ssi_trap_link_up())
        return -ENOSYS;
    return ssi_trap_forward(SYS_getppid, a);
}

long ssi_vfs_tty_ioctl(int fd, unsigned long req, void *arg)
{
    static uint8_t buf[64];
    long size = s_tty_size(req), r;
    if (!ssi_trap_link_up() || fd < 0 || fd >= S_TTY_FDS || !s_tty[fd] || size < 0 || !arg)
        return -ENOSYS;
    ssi_sys_memzero(buf, sizeof(buf));
    ssi_sys_memcopy(buf, arg, (size_t)size);
    r = s_fwd6(SSI_CALL_OP_TTY, fd, (int64_t)req, (int64_t)buf, 0, 0);
    if (r >= 0)
        ssi_sys_memcopy(arg, buf, (size_t)size);
    return r;
}

static long s_ioctl(const int64_t *a, const ucontext_t *uc)
{
    static uint8_t out[64];
    long fd = a[0], req = a[1], size, r;
    if (!s_isfwd(fd)) {
        r = ssi_vfs_tty_ioctl((int)fd, (unsigned long)req, (void *)a[2]);
        return r != -ENOSYS ? r : s_local(SYS_ioctl, a, uc);
    }
    switch (req) {
    case FIONREAD: size = sizeof(int); break;
    case TCGETS: size = S_KTERMIOS; break;
    case TIOCGWINSZ: size = sizeof(struct winsize); break;
    case FIOCLEX:
    case FIONCLEX: size = 0; break;
    default: return -ENOTTY; /* what a regular file says */
    }
    r = s_fwd6(SSI_CALL_OP_IOCTL, fd, req, (int64_t)out, 0, 0);
    if (r >= 0 && size && a[2])
        ssi_sys_memcopy((void *)a[2], out, (size_t)size);
    return r;
}

/* mmap of a home file: MAP_PRIVATE becomes anonymous memory filled with
 * the file's bytes (what dlopen of a home library needs); a writable
 * MAP_SHARED cannot be kept coherent with home and is refused. */
static long s_mmap(const int64_t *a, const ucontext_t *uc)
{
    long fd = a[4], prot = a[2], flags = a[3], r, n;
    uint64_t len = (uint64_t)a[1];
    if (!s_isfwd(fd))
        return s_local(SYS_mmap, a, uc);
    if ((flags & MAP_TYPE) != MAP_PRIVATE && (prot & PROT_WRITE)) {
        ssi_sys_log("ssi-vfs: ",
                    "a writable MAP_SHARED mapping of a home file is not supported away (ENODEV)",
                    0, 0);
        return -ENODEV;
    }
    r = ssi_sys6(
        SYS_mmap, a[0], (long)len, PROT_READ | PROT_WRITE,
        (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_NORESERVE | MAP_32BIT | MAP_LOCKED)) |
            MAP_PRIVATE | MAP_ANONYMOUS,
        -1, 0);
    if (SSI_SYS_ERR(r))
        return r;
    n = s_fwd_read(fd, (char *)r, len, a[5], 1);
    if (n < 0) {
        ssi_sys2(SYS_munmap, r, (long)len);
        return n == -EISDIR ? -ENODEV : n;
    }
    if (prot != (PROT_READ | PROT_WRITE))
        ssi_sys3(SYS_mprotect, r, (long)len, prot);
    return r;
}

/* ---- the SIGSYS handler ------------------------------------------------- */

/* Where a table call runs: 1 at home, 0 here, -EXDEV split. */
static int s_side(const ssi_call_t *c, const int64_t *a)
{
    int s1 = 1, s2 = -1;
    if (c->path != SSI_CALL_NO || c->fd != SSI_CALL_NO) {
        const char *p = c->path != SSI_CALL_NO ? (const char *)a[c->path] : 0;
        if (p && p[0] == '/')
            s1 = !s_local_path(p);
        else if (c->fd != SSI_CALL_NO && a[c->fd] != AT_FDCWD)
            s1 = s_isfwd(a[c->fd]);
        else if (c->path == SSI_CALL_NO || !p)
            s1 = 0;
    }
    if (c->path2 != SSI_CALL_NO || c->fd2 != SSI_CALL_NO) {
        const char *p = c->path2 != SSI_CALL_NO ? (const char *)a[c->path2] : 0;
        if (p && p[0] == '/')
            s2 = !s_local_path(p);
        else if (c->fd2 != SSI_CALL_NO && a[c->fd2] != AT_FDCWD)
            s2 = s_isfwd(a[c->fd2]);
        else
            s2 = 1;
    }
    if (s2 >= 0 && s2 != s1)
        return -EXDEV;
    return s1;
}

/* Descriptor arguments are C ints: the register holds them zero-extended
 * (AT_FDCWD is 0xffffff9c there). */
static void s_fd_args(long nr, int64_t *a)
{
    const ssi_call_t *c;
    unsigned i;
    switch (nr) {
    case SYS_open:
    case SYS_creat:
    case 436: return;
    case SYS_mmap: a[4] = (int32_t)a[4]; return;
    case SYS_openat:
    case 437:
    case SYS_close:
    case SYS_dup:
    case SYS_readv:
    case SYS_writev:
    case SYS_preadv:
    case SYS_pwritev:
    case SYS_preadv2:
    case SYS_pwritev2:
    case SYS_ioctl: a[0] = (int32_t)a[0]; return;
    case SYS_dup2:
    case SYS_dup3:
    case SYS_sendfile:
        a[0] = (int32_t)a[0];
        a[1] = (int32_t)a[1];
        return;
    case SYS_splice:
        a[0] = (int32_t)a[0];
        a[2] = (int32_t)a[2];
        return;
    }
    c = ssi_call_find((unsigned)nr);
    if (c)
        for (i = 0; i < c->nargs; i++)
            if (c->kind[i] == SSI_CALL_A_FD)
                a[i] = (int32_t)a[i];
}

/* wait4 and waitid: the process's children were forked before the move
 * (fork away is refused), so they are the deputy's at home: each try goes
 * home with WNOHANG, and a wait that may block tries again every 10 ms,
 * asleep here with the program's signal mask (a handler runs meanwhile, and
 * the wait goes on, as with SA_RESTART). */
#define S_WNOHANG 1
static long s_wait(long nr, const int64_t *a, ucontext_t *uc)
{
    static uint8_t si[128];
    int opt = nr == SYS_wait4 ? 2 : 3;
    int64_t b[6];
    for (;;) {
        int32_t pid = 0;
        long r;
        ssi_sys_memcopy(b, a, sizeof(b));
        b[opt] |= S_WNOHANG;
        if (nr == SYS_waitid) {
            /* Our own siginfo: si_pid 0 says no child was ready, even
             * when the program passed NULL. */
            ssi_sys_memzero(si, sizeof(si));
            b[2] = (int64_t)si;
        }
        r = ssi_trap_forward((unsigned)nr, b);
        if (nr == SYS_waitid && r == 0) {
            ssi_sys_memcopy(&pid, si + 16, 4); /* si_pid */
            if (a[2])
                ssi_sys_memcopy((void *)a[2], si, sizeof(si));
        }
        if (r < 0 || (a[opt] & S_WNOHANG) || (nr == SYS_wait4 ? r != 0 : pid != 0))
            return r;
        int64_t ts[2] = {0, 10 * 1000 * 1000}, s[6] = {(int64_t)ts, 0, 0, 0, 0, 0};
        ssi_trap_local(SYS_nanosleep, s, uc);
    }
}

static long s_dispatch(long nr, int64_t *a, ucontext_t *uc)
{
    const ssi_call_t *c;
    int side;
    s_fd_args(nr, a);
    switch (nr) {
    case SYS_read:
        return s_isfwd(a[0]) ? s_ra_read(a[0], (char *)a[1], (uint64_t)a[2]) : s_free(nr, a, uc);
    case SYS_write:
        return s_isfwd(a[0]) ? s_fwd_write(a[0], (const char *)a[1], (uint64_t)a[2], 0, 0)
                             : s_free(nr, a, uc);
    case SYS_pread64:
        return s_isfwd(a[0]) ? s_fwd_read(a[0], (char *)a[1], (uint64_t)a[2], a[3], 1)
                             : s_free(nr, a, uc);
    case SYS_pwrite64:
        return s_isfwd(a[0]) ? s_fwd_write(a[0], (const char *)a[1], (uint64_t)a[2], a[3], 1)
                             : s_free(nr, a, uc);
    case SYS_readv:
    case SYS_writev:
        return s_isfwd(a[0])
                   ? s_fwd_rw_vec(a[0], (const struct iovec *)a[1], a[2], 0, 0, nr == SYS_writev)
                   : s_free(nr, a, uc);
    case SYS_preadv:
    case SYS_pwritev:
    case SYS_preadv2:
    case SYS_pwritev2: {
        int wr = nr == SYS_pwritev || nr == SYS_pwritev2;
        int pos = !((nr == SYS_preadv2 || nr == SYS_pwritev2) && a[3] == -1);
        return s_isfwd(a[0]) ? s_fwd_rw_vec(a[0], (const struct iovec *)a[1], a[2], a[3], pos, wr)
                             : s_free(nr, a, uc);
    }
    case SYS_open:
    case SYS_creat:
    case SYS_openat:
    case 437: { /* openat2 */
        long dirfd = nr == SYS_openat || nr == 437 ? a[0] : AT_FDCWD;
        const char *path = (const char *)(nr == SYS_openat || nr == 437 ? a[1] : a[0]);
        long flags = nr == SYS_creat ? O_CREAT | O_WRONLY | O_TRUNC : nr == SYS_open ? a[1] : a[2];
        long mode = nr == SYS_creat ? a[1] : nr == SYS_open ? a[2] : a[3];
        if (nr == 437) {
            const uint64_t *how = (const uint64_t *)a[2];
            if (!how || a[3] < 24)
                return -EINVAL;
            flags = (long)how[0];
            mode = (long)how[1];
            if (how[2]) /* RESOLVE_*: not forwarded; glibc does not use it */
                return s_local(nr, a, uc);
        }
        if (!path)
            return -EFAULT;
        if ((path[0] == '/' && s_local_path(path)) ||
            (path[0] != '/' && dirfd != AT_FDCWD && !s_isfwd(dirfd))) {
            int64_t b[6] = {dirfd, (int64_t)path, flags, mode, 0, 0};
            return s_local(SYS_openat, b, uc);
        }
        return s_open_home(dirfd, path, flags, mode);
    }
    case SYS_close: return s_close(a[0]);
    case 436: { /* close_range(first, last, flags) */
        uint64_t fd, last = (uint64_t)a[1];
        if (a[0] < 0 || (uint64_t)a[0] > last)
            return -EINVAL;
        if (last >= S_MAX_FD)
            last = S_MAX_FD - 1;
        for (fd = (uint64_t)a[0]; fd <= last; fd++) {
            int64_t q[6] = {(int64_t)fd, 0, 0, 0, 0, 0};
            if (ssi_trap_own_fd((int)fd))
                continue;
            if (a[2] & CLOSE_RANGE_CLOEXEC) {
                if (s_isfwd((long)fd))
                    s_fwd6(SYS_fcntl, (long)fd, F_SETFD, FD_CLOEXEC, 0, 0);
                ssi_sys3(SYS_fcntl, (long)fd, F_SETFD, FD_CLOEXEC);
            } else {
                /* Every proxy's close (a socket is the netproxy's). */
                ssi_trap_call(SYS_close, q, uc);
            }
        }
        return 0;
    }
    case SYS_dup:
        if (ssi_trap_own_fd((int)a[0]))
            return -EBADF;
        if (!s_isfwd(a[0]))
            return s_local(nr, a, uc);
        return s_dup_from(a[0], ssi_sys1(SYS_dup, a[0]), 0);
    case SYS_dup2: return s_dup3(a[0], a[1], 0, 1);
    case SYS_dup3: return s_dup3(a[0], a[1], a[2], 0);
    case SYS_fcntl: return s_fcntl(a, uc);
    case SYS_ioctl: return s_ioctl(a, uc);
    case SYS_mmap: return s_mmap(a, uc);
    case SYS_sendfile:
        if (!s_isfwd(a[0]) && !s_isfwd(a[1]))
            return s_local(nr, a, uc);
        return s_sendfile(a, uc);
    case SYS_splice:
        if (!s_isfwd(a[0]) && !s_isfwd(a[2]))
            return s_local(nr, a, uc);
        return -EINVAL; /* as for a file that cannot splice: callers fall back */
    case SYS_wait4:
    case SYS_waitid: return s_wait(nr, a, uc);
    case SYS_flock:
        if (s_isfwd(a[0]) && !ssi_trap_own_fd((int)a[0]) && !(a[1] & LOCK_NB) &&
            (a[1] & (LOCK_SH | LOCK_EX)))
            return s_lock_wait(nr, a, uc);
        break;
    case SYS_kill:
        /* To itself: here, at once (its pid is the home pid). Any other
         * pid, group (0, -pgid) or -1 means home's processes. */
        if (a[0] == ssi_sys0(SYS_getpid))
            return s_local(nr, a, uc);
        break;
    }
    c = ssi_call_find((unsigned)nr);
    if (!c)
        return s_local(nr, a, uc);
    side = s_side(c, a);
    if (side < 0)
        return side;
    return side ? ssi_trap_forward((unsigned)nr, a) : s_local(nr, a, uc);
}

int ssi_vfs_body_call(long nr, int64_t *a, void *uc, long *ret)
{
    *ret = s_dispatch(nr, a, uc);
    return 1; /* the last proxy: every call that comes here is ours */
}

/* Every trapped call: the read-ahead is given back unless the call leaves
 * the stream alone. */
void ssi_vfs_body_seen(long nr, const int64_t *a)
{
    int64_t b[6];
    if (s_ra_fd < 0 && s_ra_prev < 0 && s_ra_other < 0)
        return;
    ssi_sys_memcopy(b, a, sizeof(b));
    s_fd_args(nr, b);
    if (!s_ra_keeps(nr, b))
        s_ra_drop();
}

void ssi_vfs_body_freeze(void)
{
    static uint8_t t[S_KTERMIOS2];
    long fd;
    s_ra_drop(); /* home's offsets as the program left them */
    /* At home (the next move's terminals); in a body coming home there are
     * none, and nothing is trapped at home. */
    for (fd = 0; fd < S_TTY_FDS; fd++)
        s_tty[fd] = ssi_sys3(SYS_ioctl, fd, SSI_TCGETS2, (long)t) == 0;
}

void ssi_vfs_body_start(int ctl_fd)
{
    (void)ctl_fd; /* the netproxy's */
    s_pid = ssi_sys0(SYS_getpid);
}
