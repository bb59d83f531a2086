/*
 * ssi_tunnel_link.c - the data link's transport; see ssi_tunnel_link.h.
 *
 * Built twice: into libssi.so (the deputy, signal context: raw system
 * calls only) and into ssi-agent. Every frame is one ssi_chan record, so
 * this file is all the deputy and the agent know about the network.
 */
#include "ssi_tunnel_link.h"

#include "ssi_sys.h"

#include <errno.h>
#include <sys/socket.h>

void ssi_tunnel_sockbuf(int fd)
{
    int v = SSI_TUNNEL_SOCKBUF;
    ssi_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDBUF, (long)&v, sizeof(v));
    ssi_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUF, (long)&v, sizeof(v));
}

/* The kernel reports twice the payload it was asked for (the rest is its
 * bookkeeping) and may have capped the request (net.core.wmem_max): half
 * of the payload part leaves room for control frames and record headers. */
static uint32_t s_budget(int fd)
{
    int v = 0;
    uint32_t len = sizeof(v), b;
    if (ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDBUF, (long)&v, (long)&len) < 0 || v <= 0)
        v = 0;
    b = (uint32_t)v / 4;
    if (b > SSI_TUNNEL_BUDGET_MAX)
        b = SSI_TUNNEL_BUDGET_MAX;
    /* Never below one window: a channel must be able to use all of it
     * (a small buffer then merely blocks for a while, as before). */
    if (b < SSI_TUNNEL_WINDOW)
        b = SSI_TUNNEL_WINDOW;
    return b;
}

uint32_t ssi_tunnel_budget(const ssi_tunnel_link_t *l)
{
    return l->budget;
}

long ssi_tunnel_link_init(ssi_tunnel_link_t *l, int fd, const uint8_t *key, int initiator,
                          int timeout_ms)
{
    long rc;
    l->up = 0;
    rc = ssi_chan_init(&l->ch, fd, key, initiator ? SSI_CHAN_INITIATOR : SSI_CHAN_RESPONDER,
                       timeout_ms);
    if (rc < 0)
        return rc;
    l->up = 1;
    l->budget = s_budget(fd);
    rc = ssi_chan_set_timeout(&l->ch, 0);
    if (rc < 0) {
        ssi_chan_close(&l->ch);
        l->up = 0;
    }
    return rc;
}

int ssi_tunnel_link_fd(const ssi_tunnel_link_t *l)
{
    return l->up ? l->ch.fd : -1;
}

long ssi_tunnel_send(ssi_tunnel_link_t *l, unsigned type, unsigned chan, const void *p,
                     uint32_t len)
{
    ssi_tunnel_hdr_t h = {.type = (uint8_t)type, .flags = 0, .chan = (uint16_t)chan, .len = len};
    if (!l->up)
        return -EPIPE;
    if (len > SSI_TUNNEL_DATA_MAX)
        return -EMSGSIZE;
    ssi_sys_memcopy(l->tbuf, &h, sizeof(h));
    if (len)
        ssi_sys_memcopy(l->tbuf + sizeof(h), p, len);
    return ssi_chan_send(&l->ch, l->tbuf, sizeof(h) + len);
}

long ssi_tunnel_recv(ssi_tunnel_link_t *l, ssi_tunnel_hdr_t *h, void *buf, uint32_t cap)
{
    long n;
    if (!l->up)
        return -EPIPE;
    n = ssi_chan_recv(&l->ch, l->rbuf, sizeof(l->rbuf));
    if (n == 0)
        return -EPIPE;
    if (n == -EMSGSIZE) /* a record longer than any frame: malformed */
        return -EPROTO;
    if (n < 0)
        return n;
    if ((size_t)n < sizeof(*h))
        return -EPROTO;
    ssi_sys_memcopy(h, l->rbuf, sizeof(*h));
    if (h->len != (uint64_t)n - sizeof(*h) || h->len > cap || h->type == 0 ||
        h->type > SSI_TUNNEL_TYPE_LAST)
        return -EPROTO;
    ssi_sys_memcopy(buf, l->rbuf + sizeof(*h), h->len);
    return 1;
}

long ssi_tunnel_recv_wait(ssi_tunnel_link_t *l, ssi_tunnel_hdr_t *h, void *buf, uint32_t cap,
                          int timeout_ms)
{
    long rc;
    if (!l->up)
        return -EPIPE;
    rc = ssi_chan_set_timeout(&l->ch, timeout_ms);
    if (rc == 0)
        rc = ssi_tunnel_recv(l, h, buf, cap);
    if (rc == 1)
        ssi_chan_set_timeout(&l->ch, 0);
    return rc;
}

int ssi_tunnel_pending(const ssi_tunnel_link_t *l)
{
    return l->up && ssi_chan_pending(&l->ch) > 0;
}

void ssi_tunnel_shutdown(ssi_tunnel_link_t *l)
{
    if (l->up)
        ssi_chan_shutdown(&l->ch);
}

void ssi_tunnel_link_close(ssi_tunnel_link_t *l)
{
    if (l->up)
        ssi_chan_close(&l->ch);
    l->up = 0;
}
