/*
 * ssi_call.c - the call table: for each forwarded call, what its
 * arguments are, so that one marshalling routine on each side serves them
 * all; and those routines. Adding a call that fits these kinds is one line
 * here (and one number in the trapping proxy's list of calls).
 *
 * Pure: no system calls, no allocation; only memcpy/memmove (no system
 * calls either). Linked into libssi.so (the body's trap, the deputy's call
 * server) and into the unit tests.
 */
#include "ssi_call.h"

#include "ssi_tunnel.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>

#define I SSI_CALL_A_INT
#define F SSI_CALL_A_FD
#define S SSI_CALL_A_STR
#define IN SSI_CALL_A_IN
#define OUT SSI_CALL_A_OUT
#define OF SSI_CALL_A_OUTFIX
#define IF SSI_CALL_A_INFIX
#define IO SSI_CALL_A_INOUT
#define N SSI_CALL_NO

/* op, nargs, kinds, aux (length arg index or struct size), path, fd,
 * path2, fd2. struct stat 144, statfs 120, statx 256, timeval[2] and
 * timespec[2] 32, utimbuf 16, struct flock 32, loff_t 8. */
static const ssi_call_t s_calls[] = {
    {SYS_read, 3, {F, OUT, I}, {0, 2, 0}, N, 0, N, N},
    {SYS_write, 3, {F, IN, I}, {0, 2, 0}, N, 0, N, N},
    {SYS_stat, 2, {S, OF}, {0, 144}, 0, N, N, N},
    {SYS_fstat, 2, {F, OF}, {0, 144}, N, 0, N, N},
    {SYS_lstat, 2, {S, OF}, {0, 144}, 0, N, N, N},
    {SYS_lseek, 3, {F, I, I}, {0}, N, 0, N, N},
    {SYS_pread64, 4, {F, OUT, I, I}, {0, 2}, N, 0, N, N},
    {SYS_pwrite64, 4, {F, IN, I, I}, {0, 2}, N, 0, N, N},
    {SYS_access, 2, {S, I}, {0}, 0, N, N, N},
    {SYS_flock, 2, {F, I}, {0}, N, 0, N, N},
    {SYS_fsync, 1, {F}, {0}, N, 0, N, N},
    {SYS_fdatasync, 1, {F}, {0}, N, 0, N, N},
    {SYS_truncate, 2, {S, I}, {0}, 0, N, N, N},
    {SYS_ftruncate, 2, {F, I}, {0}, N, 0, N, N},
    {SYS_getdents, 3, {F, OUT, I}, {0, 2}, N, 0, N, N},
    {SYS_getcwd, 2, {OUT, I}, {1}, N, N, N, N},
    {SYS_chdir, 1, {S}, {0}, 0, N, N, N},
    {SYS_fchdir, 1, {F}, {0}, N, 0, N, N},
    {SYS_rename, 2, {S, S}, {0}, 0, N, 1, N},
    {SYS_mkdir, 2, {S, I}, {0}, 0, N, N, N},
    {SYS_rmdir, 1, {S}, {0}, 0, N, N, N},
    {SYS_link, 2, {S, S}, {0}, 0, N, 1, N},
    {SYS_unlink, 1, {S}, {0}, 0, N, N, N},
    {SYS_symlink, 2, {S, S}, {0}, 1, N, N, N},
    {SYS_readlink, 3, {S, OUT, I}, {0, 2}, 0, N, N, N},
    {SYS_chmod, 2, {S, I}, {0}, 0, N, N, N},
    {SYS_fchmod, 2, {F, I}, {0}, N, 0, N, N},
    {SYS_chown, 3, {S, I, I}, {0}, 0, N, N, N},
    {SYS_fchown, 3, {F, I, I}, {0}, N, 0, N, N},
    {SYS_lchown, 3, {S, I, I}, {0}, 0, N, N, N},
    {SYS_utime, 2, {S, IF}, {0, 16}, 0, N, N, N},
    {SYS_mknod, 3, {S, I, I}, {0}, 0, N, N, N},
    {SYS_statfs, 2, {S, OF}, {0, 120}, 0, N, N, N},
    {SYS_fstatfs, 2, {F, OF}, {0, 120}, N, 0, N, N},
    {SYS_readahead, 3, {F, I, I}, {0}, N, 0, N, N},
    {SYS_setxattr, 5, {S, S, IN, I, I}, {0, 0, 3}, 0, N, N, N},
    {SYS_lsetxattr, 5, {S, S, IN, I, I}, {0, 0, 3}, 0, N, N, N},
    {SYS_fsetxattr, 5, {F, S, IN, I, I}, {0, 0, 3}, N, 0, N, N},
    {SYS_getxattr, 4, {S, S, OUT, I}, {0, 0, 3}, 0, N, N, N},
    {SYS_lgetxattr, 4, {S, S, OUT, I}, {0, 0, 3}, 0, N, N, N},
    {SYS_fgetxattr, 4, {F, S, OUT, I}, {0, 0, 3}, N, 0, N, N},
    {SYS_listxattr, 3, {S, OUT, I}, {0, 2}, 0, N, N, N},
    {SYS_llistxattr, 3, {S, OUT, I}, {0, 2}, 0, N, N, N},
    {SYS_flistxattr, 3, {F, OUT, I}, {0, 2}, N, 0, N, N},
    {SYS_removexattr, 2, {S, S}, {0}, 0, N, N, N},
    {SYS_lremovexattr, 2, {S, S}, {0}, 0, N, N, N},
    {SYS_fremovexattr, 2, {F, S}, {0}, N, 0, N, N},
    {SYS_getdents64, 3, {F, OUT, I}, {0, 2}, N, 0, N, N},
    {SYS_fadvise64, 4, {F, I, I, I}, {0}, N, 0, N, N},
    {SYS_utimes, 2, {S, IF}, {0, 32}, 0, N, N, N},
    {SYS_mkdirat, 3, {F, S, I}, {0}, 1, 0, N, N},
    {SYS_mknodat, 4, {F, S, I, I}, {0}, 1, 0, N, N},
    {SYS_fchownat, 5, {F, S, I, I, I}, {0}, 1, 0, N, N},
    {SYS_futimesat, 3, {F, S, IF}, {0, 0, 32}, 1, 0, N, N},
    {SYS_newfstatat, 4, {F, S, OF, I}, {0, 0, 144}, 1, 0, N, N},
    {SYS_unlinkat, 3, {F, S, I}, {0}, 1, 0, N, N},
    {SYS_renameat, 4, {F, S, F, S}, {0}, 1, 0, 3, 2},
    {SYS_linkat, 5, {F, S, F, S, I}, {0}, 1, 0, 3, 2},
    {SYS_symlinkat, 3, {S, F, S}, {0}, 2, 1, N, N},
    {SYS_readlinkat, 4, {F, S, OUT, I}, {0, 0, 3}, 1, 0, N, N},
    {SYS_fchmodat, 3, {F, S, I}, {0}, 1, 0, N, N},
    {SYS_faccessat, 3, {F, S, I}, {0}, 1, 0, N, N},
    {SYS_sync_file_range, 4, {F, I, I, I}, {0}, N, 0, N, N},
    {SYS_utimensat, 4, {F, S, IF, I}, {0, 0, 32}, 1, 0, N, N},
    {SYS_fallocate, 4, {F, I, I, I}, {0}, N, 0, N, N},
    {SYS_renameat2, 5, {F, S, F, S, I}, {0}, 1, 0, 3, 2},
    {SYS_copy_file_range, 6, {F, IO, F, IO, I, I}, {0, 8, 0, 8}, N, 0, N, 2},
    {SYS_statx, 5, {F, S, I, I, OF}, {0, 0, 0, 0, 256}, 1, 0, N, N},
    {439 /* faccessat2 */, 4, {F, S, I, I}, {0}, 1, 0, N, N},
    {452 /* fchmodat2 */, 4, {F, S, I, I}, {0}, 1, 0, N, N},
    /* By hand on the body side (placement, flags), generic at home. */
    {SYS_close, 1, {F}, {0}, N, 0, N, N},
    {SYS_dup3, 3, {F, F, I}, {0}, N, 0, N, N},
    {SYS_fcntl, 3, {F, I, I}, {0}, N, 0, N, N},
    {SSI_CALL_OP_OPEN, 5, {F, S, I, I, F}, {0}, 1, 0, N, N},
    {SSI_CALL_OP_LOCK, 3, {F, I, IO}, {0, 0, 32}, N, 0, N, N},
    {SSI_CALL_OP_IOCTL, 3, {F, I, OF}, {0, 0, 64}, N, 0, N, N},
    {SSI_CALL_OP_TTY, 3, {I, I, IO}, {0, 0, 64}, N, N, N, N},
    /* The process's identity is home's: its parent (who may have died
     * since), its host name, and the processes its signals reach. */
    {SYS_getppid, 0, {0}, {0}, N, N, N, N},
    {SYS_uname, 1, {OF}, {390 /* struct utsname */}, N, N, N, N},
    {SYS_kill, 2, {I, I}, {0}, N, N, N, N},
    /* Children forked before the move are the deputy's at home: waited for
     * there, always with WNOHANG (the body polls: ssi_vfs_body.c). */
    {SYS_wait4, 4, {I, IO, I, IO}, {0, 4, 0, 144 /* struct rusage */}, N, N, N, N},
    {SYS_waitid, 5, {I, I, IO, I, IO}, {0, 0, 128 /* siginfo_t */, 0, 144}, N, N, N, N},
    /* Sockets (netproxy): the body passes its own buffers for the
     * address/option out-arguments (128-byte sockaddr, 256-byte option). */
    {SSI_CALL_OP_SOCKET, 4, {I, I, I, F}, {0}, N, 3, N, N},
    {SSI_CALL_OP_ATTACH, 2, {I, F}, {0}, N, 1, N, N},
    {SSI_CALL_OP_DGRAM, 1, {F}, {0}, N, 0, N, N},
    /* fork and exec away come home first (ssi_trap.c, ssi_homecoming.c). */
    {SSI_CALL_OP_HOME, 3, {I, I, OF}, {0, 0, sizeof(ssi_call_home_t)}, N, N, N, N},
    {SYS_connect, 3, {F, IN, I}, {0, 2}, N, 0, N, N},
    {SYS_bind, 3, {F, IN, I}, {0, 2}, N, 0, N, N},
    {SYS_listen, 2, {F, I}, {0}, N, 0, N, N},
    {SYS_getsockname, 3, {F, OF, IO}, {0, 128, 4}, N, 0, N, N},
    {SYS_getpeername, 3, {F, OF, IO}, {0, 128, 4}, N, 0, N, N},
    {SYS_setsockopt, 5, {F, I, I, IN, I}, {0, 0, 0, 4}, N, 0, N, N},
    {SYS_getsockopt, 5, {F, I, I, OF, IO}, {0, 0, 0, 256, 4}, N, 0, N, N},
    {SYS_shutdown, 2, {F, I}, {0}, N, 0, N, N},
    {SYS_sendto, 6, {F, IN, I, I, IN, I}, {0, 2, 0, 0, 5}, N, 0, N, N},
    {SYS_recvfrom, 6, {F, OUT, I, I, OF, IO}, {0, 2, 0, 0, 128, 4}, N, 0, N, N},
};

#define S_NCALLS (sizeof(s_calls) / sizeof(s_calls[0]))

const ssi_call_t *ssi_call_find(unsigned op)
{
    unsigned i;
    for (i = 0; i < S_NCALLS; i++)
        if (s_calls[i].op == op)
            return &s_calls[i];
    return 0;
}

const ssi_call_t *ssi_call_nth(unsigned i)
{
    return i < S_NCALLS ? &s_calls[i] : 0;
}

uint32_t ssi_call_out_max(unsigned op)
{
    return op == SYS_read || op == SYS_pread64 ? SSI_CALL_RW_MAX : SSI_CALL_IO_MAX;
}

static int s_is_in(uint8_t k)
{
    return k == SSI_CALL_A_STR || k == SSI_CALL_A_IN || k == SSI_CALL_A_INFIX ||
           k == SSI_CALL_A_INOUT;
}

static int s_is_out(uint8_t k)
{
    return k == SSI_CALL_A_OUT || k == SSI_CALL_A_OUTFIX || k == SSI_CALL_A_INOUT;
}

/* The length of string s with its NUL, or 0 when there is no NUL within
 * max bytes (it is not read beyond). */
static uint64_t s_strsize(const char *s, uint64_t max)
{
    uint64_t n;
    for (n = 0; n < max; n++)
        if (!s[n])
            return n + 1;
    return 0;
}

static void s_put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t s_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

long ssi_call_pack_req(unsigned op, const int64_t *a, uint8_t *msg, uint32_t cap)
{
    const ssi_call_t *c = ssi_call_find(op);
    ssi_call_req_t q;
    uint32_t off = sizeof(q), i;

    if (!c)
        return -ENOSYS;
    if (cap < sizeof(q))
        return -EINVAL;
    q.type = SSI_TUNNEL_CALL;
    q.flags = 0;
    q.op = (uint16_t)op;
    for (i = 0; i < 6; i++)
        q.arg[i] = i < c->nargs ? a[i] : 0;
    /* An out-buffer larger than one answer gets what fits (getdents and
     * friends return less; reads are cut into pieces before this). */
    for (i = 0; i < c->nargs; i++)
        if (c->kind[i] == SSI_CALL_A_OUT && (uint64_t)q.arg[c->aux[i]] > ssi_call_out_max(op))
            q.arg[c->aux[i]] = ssi_call_out_max(op);
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        const void *src = (const void *)a[i];
        uint64_t len;
        if (!s_is_in(k))
            continue;
        if (cap - off < 4)
            return -EINVAL;
        if (!src) {
            s_put32(msg + off, SSI_CALL_NULL);
            off += 4;
            continue;
        }
        if (k == SSI_CALL_A_STR) {
            len = s_strsize(src, SSI_CALL_PATH_MAX);
            if (!len)
                return -ENAMETOOLONG;
        } else if (k == SSI_CALL_A_IN) {
            len = (uint64_t)a[c->aux[i]];
        } else {
            len = c->aux[i];
        }
        if (len > cap - off - 4)
            return -EINVAL;
        s_put32(msg + off, (uint32_t)len);
        memcpy(msg + off + 4, src, len);
        off += 4 + (uint32_t)len;
    }
    q.len = off - sizeof(q);
    memcpy(msg, &q, sizeof(q));
    return off;
}

int ssi_call_unpack_req(const uint8_t *msg, uint32_t n, uint8_t *rep, uint32_t cap,
                        ssi_call_args_t *u)
{
    const ssi_call_t *c;
    ssi_call_req_t q;
    uint32_t off = sizeof(q), rl = sizeof(ssi_call_rep_t), i;

    if (n < sizeof(q) || cap < sizeof(ssi_call_rep_t))
        return -EPROTO;
    memcpy(&q, msg, sizeof(q));
    c = ssi_call_find(q.op);
    if (!c || q.type != SSI_TUNNEL_CALL || q.len != n - sizeof(q))
        return -ENOSYS;
    u->call = c;
    u->op = q.op;
    for (i = 0; i < 6; i++) {
        u->a[i] = i < c->nargs ? q.arg[i] : 0;
        u->outcap[i] = 0;
    }
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        if (k == SSI_CALL_A_FD)
            u->a[i] = (int32_t)u->a[i]; /* an int in a register: AT_FDCWD arrives zero-extended */
        if (s_is_in(k)) {
            uint32_t len;
            if (n - off < 4)
                return -EPROTO;
            len = s_get32(msg + off);
            off += 4;
            if (len == SSI_CALL_NULL) {
                u->a[i] = 0;
            } else {
                if (len > n - off)
                    return -EPROTO;
                if (k == SSI_CALL_A_STR && (len == 0 || msg[off + len - 1] != 0))
                    return -EPROTO;
                if ((k == SSI_CALL_A_INFIX || k == SSI_CALL_A_INOUT) && len != c->aux[i])
                    return -EPROTO;
                if (k == SSI_CALL_A_IN && (uint64_t)u->a[c->aux[i]] != len)
                    return -EPROTO;
                u->a[i] = (int64_t)(msg + off);
                off += len;
            }
        }
        if (k == SSI_CALL_A_OUT || k == SSI_CALL_A_OUTFIX || (k == SSI_CALL_A_INOUT && u->a[i])) {
            uint64_t room = k == SSI_CALL_A_OUT ? (uint64_t)u->a[c->aux[i]] : c->aux[i];
            if (room > cap || (uint64_t)rl + 4 + room > cap)
                return -EPROTO;
            if (k == SSI_CALL_A_INOUT)
                memcpy(rep + rl + 4, (const void *)u->a[i], room);
            u->a[i] = (int64_t)(rep + rl + 4);
            u->outcap[i] = (uint32_t)room;
            rl += 4 + (uint32_t)room;
        } else if (k == SSI_CALL_A_INOUT) {
            u->outcap[i] = SSI_CALL_NULL; /* NULL in, NULL out */
        }
    }
    if (off != n)
        return -EPROTO;
    return 0;
}

uint32_t ssi_call_pack_rep(const ssi_call_args_t *u, int64_t ret, uint8_t *rep)
{
    const ssi_call_t *c = u->call;
    ssi_call_rep_t r;
    uint32_t src = sizeof(r), dst = sizeof(r), i;

    /* Compact the out-arguments: u32 length + the bytes that matter. The
     * room unpack reserved is at src; dst <= src, hence memmove. */
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        uint32_t len;
        if (!s_is_out(k))
            continue;
        if (u->outcap[i] == SSI_CALL_NULL) {
            s_put32(rep + dst, SSI_CALL_NULL);
            dst += 4;
            continue;
        }
        if (ret < 0)
            len = 0;
        else if (k == SSI_CALL_A_OUT)
            len = (uint64_t)ret < u->outcap[i] ? (uint32_t)ret : u->outcap[i];
        else
            len = u->outcap[i];
        s_put32(rep + dst, len);
        if (dst != src)
            memmove(rep + dst + 4, rep + src + 4, len);
        src += 4 + u->outcap[i];
        dst += 4 + len;
    }
    r.type = SSI_TUNNEL_RESULT;
    r.flags = 0;
    r.op = u->op;
    r.len = dst - sizeof(r);
    r.ret = ret;
    memcpy(rep, &r, sizeof(r));
    return dst;
}

uint32_t ssi_call_pack_err(unsigned op, int64_t ret, uint8_t *rep)
{
    ssi_call_rep_t r;
    r.type = SSI_TUNNEL_RESULT;
    r.flags = 0;
    r.op = (uint16_t)op;
    r.len = 0;
    r.ret = ret;
    memcpy(rep, &r, sizeof(r));
    return sizeof(r);
}

int ssi_call_unpack_rep(const ssi_call_req_t *q, const int64_t *a, const uint8_t *rep, uint32_t n,
                        int64_t *ret)
{
    const ssi_call_t *c = ssi_call_find(q->op);
    ssi_call_rep_t r;
    uint32_t off = sizeof(r), i;

    if (!c || n < sizeof(r))
        return -EPROTO;
    memcpy(&r, rep, sizeof(r));
    if (r.type != SSI_TUNNEL_RESULT || r.op != q->op || r.len != n - sizeof(r))
        return -EPROTO;
    *ret = r.ret;
    if (r.ret < 0 && r.len == 0)
        return 0; /* refused before the call: no out-arguments */
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        uint32_t len;
        uint64_t room;
        if (!s_is_out(k))
            continue;
        if (n - off < 4)
            return -EPROTO;
        len = s_get32(rep + off);
        off += 4;
        if (len == SSI_CALL_NULL)
            continue;
        room = k == SSI_CALL_A_OUT ? (uint64_t)q->arg[c->aux[i]] : c->aux[i];
        if (len > n - off || len > room)
            return -EPROTO;
        if (a[i] && len)
            memcpy((void *)a[i], rep + off, len);
        off += len;
    }
    if (off != n)
        return -EPROTO;
    return 0;
}
