/* fuzz_pair.h - for the harnesses of the links: two ssi_chan ends
 * connected over a socketpair with a fixed key, the handshake done by two
 * threads. Header-only, shared by fuzz_tunnel.c and fuzz_call.c. */
#ifndef FUZZ_PAIR_H
#define FUZZ_PAIR_H

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssi_chan.h"

typedef struct {
    ssi_chan_t *ch;
    int fd, role, rc;
} fuzz_end_t;

static const uint8_t fuzz_key[SSI_CHAN_KEY_BYTES] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

static void *fuzz_init_end(void *p)
{
    fuzz_end_t *e = p;
    e->rc = ssi_chan_init(e->ch, e->fd, fuzz_key, e->role, 2000);
    return NULL;
}

/* Connects a (initiator) and b (responder); aborts if the handshake fails:
 * the harness could not test anything. */
static void fuzz_pair(ssi_chan_t *a, ssi_chan_t *b)
{
    int sv[2], big = 4 << 20;
    pthread_t t;
    fuzz_end_t ea, eb;
    if (sodium_init() < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    ea = (fuzz_end_t){a, sv[0], SSI_CHAN_INITIATOR, -1};
    eb = (fuzz_end_t){b, sv[1], SSI_CHAN_RESPONDER, -1};
    if (pthread_create(&t, NULL, fuzz_init_end, &ea) != 0)
        abort();
    fuzz_init_end(&eb);
    pthread_join(t, NULL);
    if (ea.rc < 0 || eb.rc < 0)
        abort();
}

/* Writes n raw bytes on fd (no encryption: what an attacker on the TCP
 * path sends), as many as the socket takes, then ends the stream. */
static void fuzz_raw(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k <= 0)
            break;
        p += k;
        n -= (size_t)k;
    }
    shutdown(fd, SHUT_WR);
}

#endif
