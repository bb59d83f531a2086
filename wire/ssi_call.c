/*
 * ssi_call.c - the call table: for each forwarded call, what its
 * arguments are, so that one marshalling routine on each side serves them
 * all. Adding a call that fits these kinds is one line here (and one
 * number in the trapping proxy's list of calls). Pure: no system calls.
 */
#include "ssi_call.h"

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
    /* Sockets (netproxy): the body passes its own buffers for the
     * address/option out-arguments (128-byte sockaddr, 256-byte option). */
    {SSI_CALL_OP_SOCKET, 4, {I, I, I, F}, {0}, N, 3, N, N},
    {SSI_CALL_OP_ATTACH, 2, {I, F}, {0}, N, 1, N, N},
    {SSI_CALL_OP_DGRAM, 1, {F}, {0}, N, 0, N, N},
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

const ssi_call_t *ssi_call_find(unsigned op)
{
    unsigned i;
    for (i = 0; i < sizeof(s_calls) / sizeof(s_calls[0]); i++)
        if (s_calls[i].op == op)
            return &s_calls[i];
    return 0;
}
