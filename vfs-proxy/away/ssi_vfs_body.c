/*
 * ssi_vfs_body.c - the away body's side of the vfs-proxy: catch file
 * system calls where they enter the kernel and send them home.
 *
 * Installed by the shim's restore hook when the body runs away (never at
 * home): PR_SET_NO_NEW_PRIVS, a SIGSYS handler, and a seccomp filter that
 * lets every call made from libssi.so's own text through and returns
 * SECCOMP_RET_TRAP for the calls of the forwarded classes made from
 * anywhere else (the program, libc's internals: stdio, opendir, dlopen).
 * The handler decodes the call from the signal frame and either
 *   - forwards it over the call link (one request, one answer; all signals
 *     blocked, one call at a time), or
 *   - re-issues it locally from here (the filter lets it through), with
 *     the program's own signal mask, so a blocking read on a tunnel is
 *     interrupted by signals exactly as at home (EINTR / SA_RESTART),
 * and writes the result into RAX.
 *
 * Which fd is forwarded: a home file at fd N in the body is a placeholder
 * (/dev/null, same access mode) at N whose real file is the deputy's fd N.
 * The body picks the number of a new file (the kernel's lowest free slot,
 * reserved by opening the placeholder first) and the deputy dup3s there.
 *
 * Signal context, raw system calls, static buffers, no libc at all (libc's
 * syscalls would trap into this handler).
 */
#include "ssi_vfs.h"

#include "ssi_call_link.h"
#include "ssi_chan.h"
#include "ssi_net.h"
#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>
#include <ucontext.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif
#ifndef SECCOMP_RET_DATA
#define SECCOMP_RET_DATA 0x0000ffffU
#endif
#ifndef AUDIT_ARCH_X86_64
#define AUDIT_ARCH_X86_64 0xc000003eU
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#define S_TRAP_DATA 0x55f5 /* SECCOMP_RET_DATA of our traps: si_errno */
#define S_MAX_FD 65536
#define S_SA_RESTORER 0x04000000

static int s_ctl_fd = -1;    /* the agent's control socket (chosen at freeze) */
static int s_active;         /* the filter is installed; forward */
static int s_link_up;        /* the call link works; else forwarded calls fail with EIO */
static int s_link_fd = -1;
static ssi_chan_t s_ch;
static uint8_t s_fwd[S_MAX_FD / 8];
static uint8_t s_msg[sizeof(ssi_call_req_t) + SSI_CALL_MSG_MAX];
static uint8_t s_copy[64 * 1024];
static uint64_t s_prog_sigsys[4]; /* the program's own SIGSYS action, kept aside */
static long s_pid;

/* libssi.so's extent: calls from there pass the filter. */
extern char __ehdr_start[] __attribute__((visibility("hidden")));
extern char __etext[] __attribute__((visibility("hidden")));
void ssi_deputy_sigreturn(void) __attribute__((visibility("hidden")));

/* Calls the filter traps (besides mmap of a file, checked apart). */
static const uint16_t s_trapped[] = {
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
    SYS_getppid, SYS_uname, SYS_kill,
    /* Read-ahead gives home its file offsets back first. */
    SYS_exit_group,
    /* Sockets (netproxy, ssi_net_body.c). */
    SYS_socket, SYS_connect, SYS_accept, SYS_accept4, SYS_bind, SYS_listen, SYS_getsockname,
    SYS_getpeername, SYS_setsockopt, SYS_getsockopt, SYS_sendto, SYS_recvfrom, SYS_sendmsg,
    SYS_recvmsg, SYS_sendmmsg,
    /* Beyond this issue: refused cleanly rather than run behind the link. */
    SYS_clone, SYS_fork, SYS_vfork, SYS_execve, SYS_execveat, 435 /* clone3 */,
    /* SIGSYS must stay deliverable and ours. */
    SYS_rt_sigaction, SYS_rt_sigprocmask,
};

/* ---- small helpers ------------------------------------------------------ */

static int s_isfwd(long fd)
{
    return fd >= 0 && fd < S_MAX_FD && (s_fwd[fd >> 3] & (1u << (fd & 7)));
}

static void s_setfwd(long fd, int on)
{
    if (fd < 0 || fd >= S_MAX_FD)
        return;
    if (on)
        s_fwd[fd >> 3] |= (uint8_t)(1u << (fd & 7));
    else
        s_fwd[fd >> 3] &= (uint8_t)~(1u << (fd & 7));
}

int ssi_vfs_forwarded(int fd)
{
    return s_active && s_isfwd(fd);
}

int ssi_vfs_hidden_fd(int fd)
{
    return (s_active && fd == s_link_fd) || ssi_net_hidden_fd(fd);
}

static int s_prefix(const char *p, const char *pre)
{
    while (*pre)
        if (*p++ != *pre++)
            return 0;
    return *p == 0 || *p == '/';
}

static int s_streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Paths that answer for this node or for the body itself: the local
 * class of DESIGN.md. */
static int s_local_path(const char *p)
{
    char me[32];
    size_t n;
    if (!p || p[0] != '/')
        return 0;
    if (s_streq(p, "/dev/null") || s_streq(p, "/dev/zero") || s_streq(p, "/dev/urandom") ||
        s_streq(p, "/dev/random") || s_streq(p, "/dev/full"))
        return 1;
    if (s_prefix(p, "/proc/self") || s_prefix(p, "/proc/thread-self"))
        return 1;
    n = ssi_sys_strlcpy(me, "/proc/", sizeof(me));
    ssi_sys_utoa(me + n, (uint64_t)s_pid);
    return s_prefix(p, me);
}

/* ---- the call link ------------------------------------------------------ */

/* The deputy is gone: forwarded calls fail with EIO from now on (the
 * agent lets the body end by itself for a short grace, then kills it). */
static long s_link_lost(void)
{
    if (s_link_up) {
        s_link_up = 0;
        ssi_sys_log("ssi-vfs: ", "lost the call link to the deputy; file calls fail with EIO", 0, 0);
    }
    return -EIO;
}

/* The largest out-buffer of op that one answer carries. */
static uint64_t s_out_max(unsigned op)
{
    return op == SYS_read || op == SYS_pread64 ? SSI_CALL_RW_MAX : SSI_CALL_IO_MAX;
}

/* Forwards one call described by c with arguments a. Out-arguments are
 * copied back to the program's pointers. Returns the home result. */
static long s_forward(unsigned op, const int64_t *a)
{
    const ssi_call_t *c = ssi_call_find(op);
    ssi_call_req_t q;
    ssi_call_rep_t r;
    uint32_t off = sizeof(q), i;
    long n;

    if (!c)
        return -ENOSYS;
    if (!s_link_up)
        return -EIO;
    q.type = SSI_TUNNEL_CALL;
    q.flags = 0;
    q.op = (uint16_t)op;
    for (i = 0; i < 6; i++)
        q.arg[i] = i < c->nargs ? a[i] : 0;
    /* An out-buffer larger than one message gets what fits (getdents and
     * friends return less; reads are cut into pieces before this). */
    for (i = 0; i < c->nargs; i++)
        if (c->kind[i] == SSI_CALL_A_OUT && (uint64_t)q.arg[c->aux[i]] > s_out_max(op))
            q.arg[c->aux[i]] = s_out_max(op);
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        const void *src = (const void *)a[i];
        uint64_t len;
        if (k != SSI_CALL_A_STR && k != SSI_CALL_A_IN && k != SSI_CALL_A_INFIX &&
            k != SSI_CALL_A_INOUT)
            continue;
        if (!src) {
            uint32_t nul = SSI_CALL_NULL;
            ssi_sys_memcopy(s_msg + off, &nul, 4);
            off += 4;
            continue;
        }
        if (k == SSI_CALL_A_STR) {
            len = ssi_sys_strlen(src) + 1;
            if (len > SSI_CALL_PATH_MAX)
                return -ENAMETOOLONG;
        } else if (k == SSI_CALL_A_IN) {
            len = (uint64_t)a[c->aux[i]];
        } else {
            len = c->aux[i];
        }
        if (len > sizeof(s_msg) - off - 4)
            return -EINVAL;
        {
            uint32_t l32 = (uint32_t)len;
            ssi_sys_memcopy(s_msg + off, &l32, 4);
        }
        ssi_sys_memcopy(s_msg + off + 4, src, len);
        off += 4 + (uint32_t)len;
    }
    q.len = off - sizeof(q);
    ssi_sys_memcopy(s_msg, &q, sizeof(q));
    if (ssi_call_send(&s_ch, s_msg, off) < 0)
        return s_link_lost();
    n = ssi_call_recv(&s_ch, s_msg, sizeof(s_msg), sizeof(r));
    if (n < (long)sizeof(r))
        return s_link_lost();
    ssi_sys_memcopy(&r, s_msg, sizeof(r));
    if (r.type != SSI_TUNNEL_RESULT || r.op != op || r.len != n - sizeof(r))
        return s_link_lost();
    if (r.ret < 0 && r.len == 0)
        return r.ret; /* refused before the call: no out-arguments */
    off = sizeof(r);
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        uint32_t len;
        if (k != SSI_CALL_A_OUT && k != SSI_CALL_A_OUTFIX && k != SSI_CALL_A_INOUT)
            continue;
        if (off + 4 > (uint32_t)n)
            return s_link_lost();
        ssi_sys_memcopy(&len, s_msg + off, 4);
        off += 4;
        if (len == SSI_CALL_NULL)
            continue;
        if (len > (uint32_t)n - off)
            return s_link_lost();
        {
            uint64_t cap = k == SSI_CALL_A_OUT ? (uint64_t)q.arg[c->aux[i]] : c->aux[i];
            if (len > cap)
                return s_link_lost();
        }
        if (a[i] && len)
            ssi_sys_memcopy((void *)a[i], s_msg + off, len);
        off += len;
    }
    return r.ret;
}

/* Forwards with the program's pointers replaced: a convenience. */
static long s_fwd6(unsigned op, int64_t a0, int64_t a1, int64_t a2, int64_t a3, int64_t a4)
{
    int64_t a[6] = {a0, a1, a2, a3, a4, 0};
    return s_forward(op, a);
}

/* ---- local re-issue ----------------------------------------------------- */
static long s_local(long nr, const int64_t *a, const ucontext_t *uc);

/* For the netproxy (ssi_net.h). */
long ssi_vfs_forward(unsigned op, const int64_t *a)
{
    return s_forward(op, a);
}

long ssi_vfs_local(long nr, const int64_t *a, const void *uc)
{
    return s_local(nr, a, uc);
}

void ssi_vfs_set_forwarded(int fd, int on)
{
    s_setfwd(fd, on);
}

int ssi_vfs_is_forwarded(int fd)
{
    return s_isfwd(fd);
}


/* Runs the call here, from libssi.so's text (the filter lets it pass),
 * with the program's signal mask so that a blocking call is interrupted
 * as it would be at home. */
static long s_local(long nr, const int64_t *a, const ucontext_t *uc)
{
    uint64_t all = ~0ULL, mask;
    long r;
    ssi_sys_memcopy(&mask, &uc->uc_sigmask, 8);
    ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, 8);
    r = ssi_sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8);
    return r;
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
static long s_ra_fd = -1;   /* streaming from this fd (a home regular file) */
static long s_ra_prev = -1; /* the last whole small read was on this fd */
static long s_ra_other = -1; /* found not to be a regular file (a FIFO at home) */
static uint32_t s_ra_pos, s_ra_len;

static void s_ra_drop(void)
{
    uint32_t ahead = s_ra_len - s_ra_pos;
    if (s_ra_fd >= 0 && ahead && s_link_up)
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
    case SYS_write: case SYS_writev: case SYS_sendto: case SYS_recvfrom: case SYS_sendmsg:
    case SYS_recvmsg:
        return !s_isfwd(a[0]) && a[0] != s_ra_fd && a[0] != s_ra_prev;
    default:
        return 0;
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
        uint64_t k = count - (uint64_t)total < sizeof(s_copy) ? count - (uint64_t)total : sizeof(s_copy);
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

static long s_close(long fd)
{
    long r;
    int64_t na[6] = {fd, 0, 0, 0, 0, 0};
    if (fd == s_link_fd || ssi_net_hidden_fd((int)fd))
        return -EBADF; /* ours, invisible to the program */
    if (ssi_net_body_call(SYS_close, na, 0, &r))
        return r; /* a socket (netproxy) */
    if (!s_isfwd(fd))
        return ssi_sys1(SYS_close, fd);
    r = s_fwd6(SYS_close, fd, 0, 0, 0, 0);
    ssi_sys1(SYS_close, fd);
    s_setfwd(fd, 0);
    return r == -EIO && !s_link_up ? 0 : r;
}

/* A local descriptor now sits at `fd` (dup2 onto it, ...): if fd was a
 * home file, close it at home too. */
static void s_replaced(long fd)
{
    ssi_net_replaced((int)fd); /* a home socket there (netproxy) */
    if (s_isfwd(fd)) {
        s_fwd6(SYS_close, fd, 0, 0, 0, 0);
        s_setfwd(fd, 0);
    }
}

/* dup2/dup3(old, new, flags), either side. */
static long s_dup3(long old, long new, long flags, int is_dup2)
{
    long r;
    if (new == s_link_fd || old == s_link_fd)
        return -EBADF;
    if (old == new)
        return is_dup2 ? (ssi_sys2(SYS_fcntl, old, F_GETFD) < 0 ? -EBADF : new) : -EINVAL;
    if (!s_isfwd(old)) {
        r = ssi_sys3(SYS_dup3, old, new, flags);
        if (r >= 0)
            s_replaced(new);
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

static long s_fcntl(const int64_t *a, const ucontext_t *uc)
{
    long fd = a[0], cmd = a[1];
    if (fd == s_link_fd)
        return -EBADF;
    if (!s_isfwd(fd))
        return s_local(SYS_fcntl, a, uc);
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
    case F_GETLK: case F_SETLK: case F_SETLKW:
    case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
        return s_fwd6(SSI_CALL_OP_LOCK, fd, cmd, a[2], 0, 0);
    default:
        return s_fwd6(SYS_fcntl, fd, cmd, a[2], 0, 0);
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
    case TCGETS: case TCSETS: case TCSETSW: case TCSETSF: return S_KTERMIOS;
    case SSI_TCGETS2: case SSI_TCSETS2: case SSI_TCSETSW2: case SSI_TCSETSF2: return S_KTERMIOS2;
    case TIOCGWINSZ: case TIOCSWINSZ: return sizeof(struct winsize);
    default: return -1;
    }
}

long ssi_vfs_getppid(void)
{
    int64_t a[6] = {0};
    if (!s_active || !s_link_up)
        return -ENOSYS;
    return s_forward(SYS_getppid, a);
}

long ssi_vfs_tty_ioctl(int fd, unsigned long req, void *arg)
{
    static uint8_t buf[64];
    long size = s_tty_size(req), r;
    if (!s_active || !s_link_up || fd < 0 || fd >= S_TTY_FDS || !s_tty[fd] || size < 0 || !arg)
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
    case FIOCLEX: case FIONCLEX: size = 0; break;
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
        ssi_sys_log("ssi-vfs: ", "a writable MAP_SHARED mapping of a home file is not supported away (ENODEV)",
                    0, 0);
        return -ENODEV;
    }
    r = ssi_sys6(SYS_mmap, a[0], (long)len, PROT_READ | PROT_WRITE,
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
    return s_local(SYS_rt_sigaction, b, uc);
}

/* Descriptor arguments are C ints: the register holds them zero-extended
 * (AT_FDCWD is 0xffffff9c there). */
static void s_fd_args(long nr, int64_t *a)
{
    const ssi_call_t *c;
    unsigned i;
    switch (nr) {
    case SYS_open: case SYS_creat: case SYS_clone: case SYS_fork: case SYS_vfork:
    case SYS_execve: case SYS_rt_sigprocmask: case SYS_rt_sigaction: case 436: case 435:
        return;
    case SYS_mmap:
        a[4] = (int32_t)a[4];
        return;
    case SYS_openat: case 437: case SYS_close: case SYS_dup: case SYS_readv: case SYS_writev:
    case SYS_preadv: case SYS_pwritev: case SYS_preadv2: case SYS_pwritev2: case SYS_ioctl:
        a[0] = (int32_t)a[0];
        return;
    case SYS_dup2: case SYS_dup3: case SYS_sendfile:
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

static long s_dispatch(long nr, int64_t *a, ucontext_t *uc)
{
    const ssi_call_t *c;
    int side;
    long net;
    s_fd_args(nr, a);
    if ((s_ra_fd >= 0 || s_ra_prev >= 0 || s_ra_other >= 0) && !s_ra_keeps(nr, a))
        s_ra_drop();
    if (ssi_net_body_call(nr, a, uc, &net))
        return net; /* sockets (netproxy) */
    switch (nr) {
    case SYS_read:
        return s_isfwd(a[0]) ? s_ra_read(a[0], (char *)a[1], (uint64_t)a[2]) : s_local(nr, a, uc);
    case SYS_write:
        return s_isfwd(a[0]) ? s_fwd_write(a[0], (const char *)a[1], (uint64_t)a[2], 0, 0)
                             : s_local(nr, a, uc);
    case SYS_pread64:
        return s_isfwd(a[0]) ? s_fwd_read(a[0], (char *)a[1], (uint64_t)a[2], a[3], 1) : s_local(nr, a, uc);
    case SYS_pwrite64:
        return s_isfwd(a[0]) ? s_fwd_write(a[0], (const char *)a[1], (uint64_t)a[2], a[3], 1)
                             : s_local(nr, a, uc);
    case SYS_readv:
    case SYS_writev:
        return s_isfwd(a[0]) ? s_fwd_rw_vec(a[0], (const struct iovec *)a[1], a[2], 0, 0, nr == SYS_writev)
                             : s_local(nr, a, uc);
    case SYS_preadv:
    case SYS_pwritev:
    case SYS_preadv2:
    case SYS_pwritev2: {
        int wr = nr == SYS_pwritev || nr == SYS_pwritev2;
        int pos = !((nr == SYS_preadv2 || nr == SYS_pwritev2) && a[3] == -1);
        return s_isfwd(a[0]) ? s_fwd_rw_vec(a[0], (const struct iovec *)a[1], a[2], a[3], pos, wr)
                             : s_local(nr, a, uc);
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
    case SYS_close:
        return s_close(a[0]);
    case 436: { /* close_range(first, last, flags) */
        uint64_t fd, last = (uint64_t)a[1];
        if (a[0] < 0 || (uint64_t)a[0] > last)
            return -EINVAL;
        if (last >= S_MAX_FD)
            last = S_MAX_FD - 1;
        for (fd = (uint64_t)a[0]; fd <= last; fd++) {
            if ((long)fd == s_link_fd)
                continue;
            if (a[2] & CLOSE_RANGE_CLOEXEC) {
                if (s_isfwd((long)fd))
                    s_fwd6(SYS_fcntl, (long)fd, F_SETFD, FD_CLOEXEC, 0, 0);
                ssi_sys3(SYS_fcntl, (long)fd, F_SETFD, FD_CLOEXEC);
            } else {
                s_close((long)fd);
            }
        }
        return 0;
    }
    case SYS_dup:
        if (a[0] == s_link_fd)
            return -EBADF;
        if (!s_isfwd(a[0]))
            return s_local(nr, a, uc);
        return s_dup_from(a[0], ssi_sys1(SYS_dup, a[0]), 0);
    case SYS_dup2:
        return s_dup3(a[0], a[1], 0, 1);
    case SYS_dup3:
        return s_dup3(a[0], a[1], a[2], 0);
    case SYS_fcntl:
        return s_fcntl(a, uc);
    case SYS_ioctl:
        return s_ioctl(a, uc);
    case SYS_mmap:
        return s_mmap(a, uc);
    case SYS_sendfile:
        if (!s_isfwd(a[0]) && !s_isfwd(a[1]))
            return s_local(nr, a, uc);
        return s_sendfile(a, uc);
    case SYS_splice:
        if (!s_isfwd(a[0]) && !s_isfwd(a[2]))
            return s_local(nr, a, uc);
        return -EINVAL; /* as for a file that cannot splice: callers fall back */
    case SYS_clone:
        return s_refuse("clone/fork");
    case 435: /* clone3: glibc falls back to clone, which says why */
        return -ENOSYS;
    case SYS_fork:
    case SYS_vfork:
        return s_refuse("fork");
    case SYS_execve:
    case SYS_execveat:
        return s_refuse("execve");
    case SYS_rt_sigprocmask:
        return s_sigprocmask(a, uc);
    case SYS_rt_sigaction:
        return s_sigaction(a, uc);
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
    return side ? s_forward((unsigned)nr, a) : s_local(nr, a, uc);
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

/* ---- installing --------------------------------------------------------- */

static long s_install_filter(void)
{
    static struct sock_filter f[32 + sizeof(s_trapped) / sizeof(s_trapped[0])];
    struct sock_fprog prog;
    uint64_t lo = (uint64_t)__ehdr_start, hi = (uint64_t)__etext;
    uint32_t lo_h = (uint32_t)(lo >> 32), lo_l = (uint32_t)lo, hi_h = (uint32_t)(hi >> 32),
             hi_l = (uint32_t)hi;
    unsigned n = 0, i, ntrap = sizeof(s_trapped) / sizeof(s_trapped[0]);
    unsigned allow, trap;
#define LD(off) f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define JMP(op, k, jt, jf) f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | (op) | BPF_K, (k), (jt), (jf))
#define RET(k) f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (k))
    /* Layout (jump offsets are relative to the next instruction):
     *  0 ld arch;  1 jeq X86_64 ? 2 : ALLOW(+..)
     *  IP range [lo, hi): calls from libssi.so's text are allowed. */
    LD(offsetof(struct seccomp_data, arch));
    JMP(BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0);
    RET(SECCOMP_RET_ALLOW);
    LD(offsetof(struct seccomp_data, instruction_pointer) + 4);   /* 3 */
    JMP(BPF_JGT, lo_h, 3, 0);                                        /* 4: > lo_h: check hi */
    JMP(BPF_JEQ, lo_h, 0, 8);                                        /* 5: < lo_h: not ours (->14) */
    LD(offsetof(struct seccomp_data, instruction_pointer));          /* 6 */
    JMP(BPF_JGE, lo_l, 0, 6);                                        /* 7: < lo: not ours (->14) */
    LD(offsetof(struct seccomp_data, instruction_pointer) + 4);   /* 8 */
    JMP(BPF_JGT, hi_h, 4, 0);                                        /* 9: > hi_h: not ours (->14) */
    JMP(BPF_JEQ, hi_h, 0, 2);                                        /* 10: < hi_h: ours (->13) */
    LD(offsetof(struct seccomp_data, instruction_pointer));          /* 11 */
    JMP(BPF_JGE, hi_l, 1, 0);                                        /* 12: >= hi: not ours (->14) */
    RET(SECCOMP_RET_ALLOW);                                          /* 13 */
    LD(offsetof(struct seccomp_data, nr));                           /* 14 */
    /* mmap: only with a file (MAP_ANONYMOUS clear) */
    JMP(BPF_JEQ, SYS_mmap, 0, 4);                                    /* 15: -> 20 */
    LD(offsetof(struct seccomp_data, args) + 3 * 8);                 /* 16 */
    JMP(BPF_JSET, MAP_ANONYMOUS, 0, 1);                              /* 17 */
    RET(SECCOMP_RET_ALLOW);                                          /* 18 */
    RET(SECCOMP_RET_TRAP | S_TRAP_DATA);                             /* 19 */
    /* 20..: the trapped list; each match jumps to the final TRAP. */
    for (i = 0; i < ntrap; i++)
        JMP(BPF_JEQ, s_trapped[i], (uint8_t)(ntrap - i), 0);
    allow = n;
    RET(SECCOMP_RET_ALLOW);
    trap = n;
    RET(SECCOMP_RET_TRAP | S_TRAP_DATA);
    (void)allow;
    (void)trap;
#undef LD
#undef JMP
#undef RET
    prog.len = (unsigned short)n;
    prog.filter = f;
    if (ssi_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -EPERM;
    return ssi_sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog);
}

void ssi_vfs_freeze_hook(void)
{
    static uint8_t t[S_KTERMIOS2];
    long fd;
    s_ra_drop(); /* home's offsets as the program left them */
    ssi_net_freeze_hook(); /* which sockets listen (netproxy) */
    /* At home (the next move's terminals); in a body coming home there are
     * none, and nothing is trapped at home. */
    for (fd = 0; fd < S_TTY_FDS; fd++)
        s_tty[fd] = ssi_sys3(SYS_ioctl, fd, SSI_TCGETS2, (long)t) == 0;
    /* The agent puts its control socket at the lowest free number from
     * SSI_TUNNEL_CTL_FD_MIN up in the image's fd table: find the same one. */
    for (fd = SSI_TUNNEL_CTL_FD_MIN; fd < SSI_TUNNEL_CTL_FD_MIN + 4096; fd++)
        if (ssi_sys2(SYS_fcntl, fd, F_GETFD) == -EBADF && fd != s_link_fd)
            break;
    s_ctl_fd = (int)fd;
}

void ssi_vfs_home(void)
{
    ssi_net_home();
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

long ssi_vfs_body_start(void)
{
    static ssi_tunnel_ctl_t ctl;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {&ctl, sizeof(ctl)};
    struct msghdr mh;
    struct timeval tv = {60, 0};
    uint64_t act[4];
    long rc, fd = -1, hi;
    uint32_t i;

    if (s_ctl_fd < 0)
        return 0;
    /* No control socket: restored without an agent (checkpoint, engine
     * tests): nothing is forwarded. */
    if (ssi_sys5(SYS_setsockopt, s_ctl_fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, sizeof(tv)) < 0)
        return 0;
    ssi_sys_memzero(&mh, sizeof(mh));
    ssi_sys_memzero(&cm, sizeof(cm));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.buf;
    mh.msg_controllen = sizeof(cm.buf);
    rc = ssi_sys3(SYS_recvmsg, s_ctl_fd, (long)&mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    /* The control socket stays: the netproxy's new channels come there. */
    ssi_net_body_start(s_ctl_fd);
    s_ctl_fd = -1;
    if (rc != (long)sizeof(ctl) || ctl.magic != SSI_TUNNEL_CTL_MAGIC ||
        ctl.version != SSI_TUNNEL_CTL_VERSION || ctl.nfwd > SSI_TUNNEL_CTL_MAX_FWD)
        rc = -EPROTO;
    if (mh.msg_controllen >= CMSG_LEN(sizeof(int)) && cm.h.cmsg_level == SOL_SOCKET &&
        cm.h.cmsg_type == SCM_RIGHTS) {
        int got;
        ssi_sys_memcopy(&got, CMSG_DATA(&cm.h), sizeof(int));
        fd = got;
    }
    if (rc < 0 || fd < 0) {
        if (fd >= 0)
            ssi_sys1(SYS_close, fd);
        ssi_sys_memzero(&ctl, sizeof(ctl));
        return rc < 0 ? rc : -EPROTO;
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
    ssi_sys_memzero(s_fwd, sizeof(s_fwd));
    for (i = 0; i < ctl.nfwd; i++)
        s_setfwd(ctl.fwd[i], 1);
    s_pid = ssi_sys0(SYS_getpid);

    /* The handler: every signal blocked inside (forwarded calls run one at
     * a time); SIGSYS stays deliverable everywhere else. */
    act[0] = (uint64_t)s_on_sigsys;
    act[1] = SA_SIGINFO | S_SA_RESTORER;
    act[2] = (uint64_t)ssi_deputy_sigreturn;
    act[3] = ~0ULL;
    ssi_sys_memzero(s_prog_sigsys, sizeof(s_prog_sigsys));
    rc = ssi_sys4(SYS_rt_sigaction, SIGSYS, (long)act, (long)s_prog_sigsys, 8);
    if (rc == 0)
        rc = s_install_filter();
    if (rc < 0) {
        ssi_chan_close(&s_ch);
        s_link_up = 0;
        s_link_fd = -1;
        return rc;
    }
    s_active = 1;
    ssi_net_body_linked();
    return 1;
}
