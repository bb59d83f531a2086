/*
 * ssi_vfs_exec.c - the home side of the vfs-proxy: the file calls of the
 * away body that need more than one plain system call at home.
 *
 * An executor of the deputy's call server (ssi/home/ssi_callsrv.h), which
 * has already checked the request against the call table, rebuilt every
 * pointer argument and refused the deputy's own descriptors; every call
 * not taken here runs there as itself. Calls only the channel table below
 * it (the fd base, the home descriptor of a tunnelled terminal).
 *
 * Part of libssi.so, run by the deputy in signal context: raw system
 * calls, static buffers.
 */
#include "ssi_vfs.h"

#include "ssi_chans.h"
#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>

/* Which fcntl commands may run at home with an integer argument. */
static int s_fcntl_ok(long cmd)
{
    switch (cmd) {
    case F_GETFD:
    case F_SETFD:
    case F_GETFL:
    case F_SETFL:
    case F_GETOWN:
    case F_SETOWN:
    case F_GETSIG:
    case F_SETSIG:
    case F_GETLEASE:
    case F_SETLEASE:
    case F_NOTIFY:
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
    case F_GET_SEALS:
    case F_ADD_SEALS: return 1;
    default: return 0;
    }
}

static long s_ioctl_size(long req)
{
    switch (req) {
    case FIONREAD: return sizeof(int);
    case TCGETS: return 36; /* the kernel's struct termios */
    case TIOCGWINSZ: return sizeof(struct winsize);
    case FIOCLEX:
    case FIONCLEX: return 0;
    default: return -1;
    }
}

/* open at home, then put it at the number the body chose. */
static long s_open(const int64_t *a, const char *path)
{
    long flags = a[2], target = a[4], fd;
    if (target < 0 || target >= ssi_chans_fd_base())
        return -EBADF;
    fd = ssi_sys4(SYS_openat, a[0], (long)path, flags | O_CLOEXEC, a[3]);
    if (fd < 0)
        return fd;
    if (fd != target) {
        long rc = ssi_sys3(SYS_dup3, fd, target, flags & O_CLOEXEC);
        ssi_sys1(SYS_close, fd);
        if (rc < 0)
            return rc;
    } else if (!(flags & O_CLOEXEC)) {
        ssi_sys3(SYS_fcntl, target, F_SETFD, 0);
    }
    return target;
}

int ssi_vfs_exec(unsigned op, const int64_t *a, long *ret)
{
    switch (op) {
    case SSI_CALL_OP_OPEN: *ret = s_open(a, (const char *)a[1]); return 1;
    case SSI_CALL_OP_LOCK:
        if (a[1] != F_GETLK && a[1] != F_SETLK && a[1] != F_SETLKW && a[1] != F_OFD_GETLK &&
            a[1] != F_OFD_SETLK && a[1] != F_OFD_SETLKW)
            *ret = -EINVAL;
        else
            *ret = ssi_sys3(SYS_fcntl, a[0], a[1], a[2]);
        return 1;
    case SSI_CALL_OP_IOCTL: {
        long sz = s_ioctl_size(a[1]);
        *ret = sz < 0 ? -ENOTTY : ssi_sys3(SYS_ioctl, a[0], a[1], sz ? a[2] : 0);
        return 1;
    }
    case SSI_CALL_OP_TTY: {
        /* a[0] is the body's fd of a tunnelled terminal: the channel, whose
         * home descriptor the deputy keeps elsewhere. Only terminal
         * settings and window size (the body's s_tty_size list). */
        long fd = ssi_chans_tty_fd((int)a[0]);
        switch (a[1]) {
        case TCGETS:
        case TCSETS:
        case TCSETSW:
        case TCSETSF:
        case SSI_TCGETS2:
        case SSI_TCSETS2:
        case SSI_TCSETSW2:
        case SSI_TCSETSF2:
        case TIOCGWINSZ:
        case TIOCSWINSZ: *ret = fd < 0 ? -ENOTTY : ssi_sys3(SYS_ioctl, fd, a[1], a[2]); break;
        default: *ret = -ENOTTY;
        }
        return 1;
    }
    case SYS_fcntl:
        *ret = s_fcntl_ok(a[1]) ? ssi_sys3(SYS_fcntl, a[0], a[1], a[2]) : -EINVAL;
        return 1;
    case SYS_dup3: *ret = a[1] < 0 ? -EBADF : ssi_sys3(SYS_dup3, a[0], a[1], a[2]); return 1;
    }
    return 0;
}
