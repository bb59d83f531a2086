/*
 * ssi_vfs_deputy.c - the home side of the vfs-proxy: executes the away
 * body's file calls with this process's own descriptors and cwd.
 *
 * Part of libssi.so, run by the deputy loop (ssi_deputy.c) in signal
 * context: raw system calls, static buffers. The deputy IS the process's
 * home file table, so a forwarded fd N is simply the deputy's fd N, and
 * relative paths resolve against the deputy's own cwd (chdir is forwarded
 * too). Every request is checked against the call table: only the listed
 * calls run, every pointer argument is rebuilt from the request into our
 * buffers, and descriptors at or above the deputy's base (its own tunnels
 * and links) are refused with EBADF.
 */
#include "ssi_vfs.h"

#include "ssi_deputy.h"

#include "ssi_call_link.h"
#include "ssi_chan.h"
#include "ssi_net.h"
#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>

static ssi_chan_t s_ch;
static int s_up;
static int s_base = 1 << 30;
static uint8_t s_req[sizeof(ssi_call_req_t) + SSI_CALL_MSG_MAX];
static uint8_t s_rep[SSI_CALL_MSG_MAX];

long ssi_vfs_deputy_attach(int fd, const uint8_t *key, int timeout_ms)
{
    long rc = ssi_chan_init(&s_ch, fd, key, SSI_CHAN_INITIATOR, timeout_ms);
    if (rc < 0)
        return rc;
    rc = ssi_chan_set_timeout(&s_ch, 0);
    if (rc < 0) {
        ssi_chan_close(&s_ch);
        return rc;
    }
    s_up = 1;
    return 0;
}

int ssi_vfs_deputy_fd(void)
{
    return s_up ? s_ch.fd : -1;
}

int ssi_vfs_deputy_pending(void)
{
    return s_up && ssi_chan_pending(&s_ch) > 0;
}

void ssi_vfs_deputy_set_base(int base)
{
    s_base = base;
}

static int s_bad_fd(int64_t fd)
{
    return fd >= s_base || (fd < 0 && fd != AT_FDCWD);
}

/* Which fcntl commands may run at home with an integer argument. */
static int s_fcntl_ok(long cmd)
{
    switch (cmd) {
    case F_GETFD: case F_SETFD: case F_GETFL: case F_SETFL: case F_GETOWN: case F_SETOWN:
    case F_GETSIG: case F_SETSIG: case F_GETLEASE: case F_SETLEASE: case F_NOTIFY:
    case F_GETPIPE_SZ: case F_SETPIPE_SZ: case F_GET_SEALS: case F_ADD_SEALS:
        return 1;
    default:
        return 0;
    }
}

static long s_ioctl_size(long req)
{
    switch (req) {
    case FIONREAD: return sizeof(int);
    case TCGETS: return 36; /* the kernel's struct termios */
    case TIOCGWINSZ: return sizeof(struct winsize);
    case FIOCLEX: case FIONCLEX: return 0;
    default: return -1;
    }
}

/* open at home, then put it at the number the body chose. */
static long s_open(const int64_t *a, const char *path)
{
    long flags = a[2], target = a[4], fd;
    if (target < 0 || target >= s_base)
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

/* Executes one request; fills the reply. Returns the reply's length. */
static uint32_t s_execute(uint32_t n)
{
    ssi_call_req_t q;
    ssi_call_rep_t *r = (ssi_call_rep_t *)s_rep;
    const ssi_call_t *c;
    int64_t a[6];
    void *outp[6];
    uint32_t outcap[6], off = sizeof(q), rl = sizeof(*r), i;
    long ret;

    ssi_sys_memcopy(&q, s_req, sizeof(q));
    r->type = SSI_TUNNEL_RESULT;
    r->flags = 0;
    r->op = q.op;
    r->len = 0;
    c = ssi_call_find(q.op);
    if (!c || q.type != SSI_TUNNEL_CALL || q.len != n - sizeof(q)) {
        r->ret = -ENOSYS;
        return rl;
    }
    /* Rebuild the arguments: in-data points into the request, out-data
     * into the reply (each out argument: u32 length, then its bytes). */
    for (i = 0; i < 6; i++) {
        a[i] = i < c->nargs ? q.arg[i] : 0;
        outp[i] = 0;
        outcap[i] = 0;
    }
    for (i = 0; i < c->nargs; i++) {
        uint8_t k = c->kind[i];
        uint32_t len;
        if (k == SSI_CALL_A_FD)
            a[i] = (int32_t)a[i]; /* an int in a register: AT_FDCWD arrives zero-extended */
        if (k == SSI_CALL_A_FD && s_bad_fd(a[i])) {
            r->ret = -EBADF;
            return rl;
        }
        if (k == SSI_CALL_A_STR || k == SSI_CALL_A_IN || k == SSI_CALL_A_INFIX ||
            k == SSI_CALL_A_INOUT) {
            if (off + 4 > n)
                goto bad;
            ssi_sys_memcopy(&len, s_req + off, 4);
            off += 4;
            if (len == SSI_CALL_NULL) {
                a[i] = 0;
            } else {
                if (len > n - off)
                    goto bad;
                if (k == SSI_CALL_A_STR && (len == 0 || s_req[off + len - 1] != 0))
                    goto bad;
                if ((k == SSI_CALL_A_INFIX || k == SSI_CALL_A_INOUT) && len != c->aux[i])
                    goto bad;
                if (k == SSI_CALL_A_IN && (uint64_t)a[c->aux[i]] != len)
                    goto bad;
                a[i] = (int64_t)(s_req + off);
                off += len;
            }
        }
        if (k == SSI_CALL_A_OUT || k == SSI_CALL_A_OUTFIX ||
            (k == SSI_CALL_A_INOUT && a[i])) {
            uint64_t cap = k == SSI_CALL_A_OUT ? (uint64_t)a[c->aux[i]] : c->aux[i];
            if (cap > sizeof(s_rep) - rl - 4)
                goto bad;
            if (k == SSI_CALL_A_INOUT)
                ssi_sys_memcopy(s_rep + rl + 4, (const void *)a[i], cap);
            outp[i] = s_rep + rl + 4;
            outcap[i] = (uint32_t)cap;
            if (k != SSI_CALL_A_INOUT || a[i])
                a[i] = (int64_t)outp[i];
            rl += 4 + (uint32_t)cap;
        } else if (k == SSI_CALL_A_INOUT) {
            outcap[i] = SSI_CALL_NULL; /* NULL in, NULL out */
        }
    }
    if (off != n)
        goto bad;

    if (ssi_net_deputy_exec(q.op, a, &ret))
        goto done; /* sockets that become channels (netproxy) */
    switch (q.op) {
    case SSI_CALL_OP_OPEN:
        ret = s_open(a, (const char *)a[1]);
        break;
    case SSI_CALL_OP_LOCK:
        if (a[1] != F_GETLK && a[1] != F_SETLK && a[1] != F_SETLKW && a[1] != F_OFD_GETLK &&
            a[1] != F_OFD_SETLK && a[1] != F_OFD_SETLKW)
            ret = -EINVAL;
        else
            ret = ssi_sys3(SYS_fcntl, a[0], a[1], a[2]);
        break;
    case SSI_CALL_OP_IOCTL: {
        long sz = s_ioctl_size(a[1]);
        if (sz < 0)
            ret = -ENOTTY;
        else
            ret = ssi_sys3(SYS_ioctl, a[0], a[1], sz ? a[2] : 0);
        break;
    }
    case SSI_CALL_OP_TTY: {
        /* a[0] is the body's fd of a tunnelled terminal: the channel, whose
         * home descriptor the deputy keeps elsewhere. Only terminal
         * settings and window size (the body's s_tty_size list). */
        long fd = ssi_deputy_tty_fd((int)a[0]);
        switch (a[1]) {
        case TCGETS: case TCSETS: case TCSETSW: case TCSETSF:
        case SSI_TCGETS2: case SSI_TCSETS2: case SSI_TCSETSW2: case SSI_TCSETSF2:
        case TIOCGWINSZ: case TIOCSWINSZ:
            ret = fd < 0 ? -ENOTTY : ssi_sys3(SYS_ioctl, fd, a[1], a[2]);
            break;
        default:
            ret = -ENOTTY;
        }
        break;
    }
    case SYS_fcntl:
        ret = s_fcntl_ok(a[1]) ? ssi_sys3(SYS_fcntl, a[0], a[1], a[2]) : -EINVAL;
        break;
    case SYS_dup3:
        ret = s_bad_fd(a[1]) || a[1] < 0 ? -EBADF : ssi_sys3(SYS_dup3, a[0], a[1], a[2]);
        break;
    default:
        ret = ssi_sys6(q.op, a[0], a[1], a[2], a[3], a[4], a[5]);
        break;
    }
done:
    r->ret = ret;

    /* Compact the out-arguments: u32 length + the bytes that matter. */
    {
        uint32_t src = sizeof(*r), dst = sizeof(*r);
        for (i = 0; i < c->nargs; i++) {
            uint8_t k = c->kind[i];
            uint32_t len;
            if (!(k == SSI_CALL_A_OUT || k == SSI_CALL_A_OUTFIX || k == SSI_CALL_A_INOUT))
                continue;
            if (outcap[i] == SSI_CALL_NULL) {
                len = SSI_CALL_NULL;
                ssi_sys_memcopy(s_rep + dst, &len, 4);
                dst += 4;
                continue;
            }
            if (ret < 0)
                len = 0;
            else if (k == SSI_CALL_A_OUT)
                len = (uint64_t)ret < outcap[i] ? (uint32_t)ret : outcap[i];
            else
                len = outcap[i];
            ssi_sys_memcopy(s_rep + dst, &len, 4);
            if (dst != src)
                ssi_sys_memcopy(s_rep + dst + 4, s_rep + src + 4, len);
            src += 4 + outcap[i];
            dst += 4 + len;
        }
        rl = dst;
    }
    r->len = rl - sizeof(*r);
    return rl;
bad:
    r->ret = -EPROTO;
    r->len = 0;
    return sizeof(*r);
}

long ssi_vfs_deputy_serve(void)
{
    long n = 0;
    if (!s_up)
        return -EPIPE;
    do {
        uint32_t rl;
        n = ssi_call_recv(&s_ch, s_req, sizeof(s_req), sizeof(ssi_call_req_t));
        if (n < 0)
            break;
        if ((size_t)n < sizeof(ssi_call_req_t)) {
            n = -EPROTO;
            break;
        }
        rl = s_execute((uint32_t)n);
        n = ssi_call_send(&s_ch, s_rep, rl);
        if (n < 0)
            break;
    } while (ssi_chan_pending(&s_ch) > 0);
    if (n < 0) {
        /* The body is gone (or misbehaved): no more calls. */
        ssi_chan_close(&s_ch);
        s_up = 0;
        return n;
    }
    return 0;
}
