/*
 * ssi_callsrv.c - the deputy's call server (see ssi_callsrv.h).
 *
 * The deputy IS the process's home file table, so a forwarded fd N is
 * simply the deputy's fd N, and relative paths resolve against the
 * deputy's own cwd (chdir is forwarded too). Only the calls of the call
 * table run; descriptors at or above the deputy's base are refused with
 * EBADF. Part of libssi.so, signal context, raw system calls.
 */
#include "ssi_callsrv.h"

#include "ssi_call.h"
#include "ssi_call_link.h"
#include "ssi_chan.h"
#include "ssi_chans.h"
#include "ssi_sys.h"

#include <errno.h>
#include <fcntl.h>

static const ssi_callsrv_exec_t *s_ex;
static unsigned s_nex;
static ssi_chan_t s_ch;
static int s_up;
static uint8_t s_req[sizeof(ssi_call_req_t) + SSI_CALL_MSG_MAX];
static uint8_t s_rep[SSI_CALL_MSG_MAX];
static uint64_t s_served; /* requests answered, for ssictl metrics */

void ssi_callsrv_set_execs(const ssi_callsrv_exec_t *execs, unsigned n)
{
    s_ex = execs;
    s_nex = n;
}

long ssi_callsrv_attach(int fd, const uint8_t *key, int timeout_ms)
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

int ssi_callsrv_fd(void)
{
    return s_up ? s_ch.fd : -1;
}

uint64_t ssi_callsrv_served(void)
{
    return s_served;
}

int ssi_callsrv_pending(void)
{
    return s_up && ssi_chan_pending(&s_ch) > 0;
}

/* A descriptor the body may name: below the deputy's own (or AT_FDCWD). */
static int s_bad_fd(int64_t fd)
{
    return fd >= ssi_chans_fd_base() || (fd < 0 && fd != AT_FDCWD);
}

/* Executes one request of n bytes; packs the answer in s_rep. Returns the
 * answer's length. */
static uint32_t s_execute(uint32_t n)
{
    ssi_call_args_t u;
    ssi_call_req_t q;
    unsigned i;
    long ret;
    int rc;

    ssi_sys_memcopy(&q, s_req, sizeof(q));
    rc = ssi_call_unpack_req(s_req, n, s_rep, sizeof(s_rep), &u);
    if (rc < 0)
        return ssi_call_pack_err(q.op, rc, s_rep); /* ENOSYS: not a call we run; EPROTO */
    for (i = 0; i < u.call->nargs; i++)
        if (u.call->kind[i] == SSI_CALL_A_FD && s_bad_fd(u.a[i]))
            return ssi_call_pack_err(q.op, -EBADF, s_rep);
    for (i = 0; i < s_nex; i++)
        if (s_ex[i].exec(u.op, u.a, &ret))
            return ssi_call_pack_rep(&u, ret, s_rep);
    /* No executor needed: the plain system call (every op of the table
     * below SSI_CALL_OP_OPEN is one). */
    ret = u.op < SSI_CALL_OP_OPEN ? ssi_sys6(u.op, u.a[0], u.a[1], u.a[2], u.a[3], u.a[4], u.a[5])
                                  : -ENOSYS;
    return ssi_call_pack_rep(&u, ret, s_rep);
}

long ssi_callsrv_serve(void)
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
        s_served++;
    } while (ssi_chan_pending(&s_ch) > 0);
    if (n < 0) {
        /* The body is gone (or misbehaved): no more calls. */
        ssi_chan_close(&s_ch);
        s_up = 0;
        return n;
    }
    return 0;
}
