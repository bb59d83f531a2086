/* ssi-xfer: carries a byte stream (a frozen process's image) from one node
 * to another over an ssi_chan connection, keyed per migration. ssid runs it
 * on both ends: "send" between ssi-freeze and the network, "recv" between the
 * network and ssi-agent, so that the engine's programs only see pipes.
 *
 *   ssi-xfer send --to ADDR:PORT --key-fd N [--timeout MS]   stdin -> peer
 *   ssi-xfer recv --listen-fd N --key-fd N [--timeout MS]    peer -> stdout
 *
 * The key (32 bytes) is read from fd N, never from the command line. The
 * sender ends with a shutdown and waits for the receiver's acknowledgement,
 * so exit status 0 on both ends means every byte reached the receiver's
 * stdout. Exit 1 with a one-line reason on stderr otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_chan.h"
#include "ssi_helper.h"
#include "ssi_io.h"

static ssi_chan_t s_chan;
static uint8_t s_buf[SSI_CHAN_MAX_RECORD];

static int s_usage(void)
{
    fprintf(stderr, "usage: ssi-xfer send --to ADDR:PORT --key-fd N [--timeout MS]\n"
                    "       ssi-xfer recv --listen-fd N --key-fd N [--timeout MS]\n");
    return 2;
}

/* Pipes between ssi-xfer and the engine's programs default to 64 KiB: each
 * side then wakes the other every 64 KiB (a cross-vCPU wakeup costs up to
 * 100 us here) and the sender's records shrink to 64 KiB. Ask for 1 MiB (the
 * default pipe-max-size); not a pipe, or refused: keep what there is. */
static void s_grow_pipe(int fd)
{
    (void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

/* One blocking read from stdin, then more while data is already there, up
 * to cap: a record's fixed costs (a sendmsg, a tag, a wakeup of the peer)
 * are paid per 256 KiB when the producer is ahead. Never waits for more
 * than the first read: ssi-freeze keeps the pipe open after the image's
 * END until the body runs, which needs that END. Returns the byte count,
 * 0 at the end of the stream, or -1. */
static ssize_t s_read_some(uint8_t *buf, size_t cap)
{
    size_t have = 0;
    while (have < cap) {
        if (have > 0) {
            struct pollfd p = {.fd = 0, .events = POLLIN};
            if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
                break;
        }
        ssize_t n = read(0, buf + have, cap - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return have ? (ssize_t)have : -1;
        if (n == 0)
            break;
        have += (size_t)n;
    }
    return (ssize_t)have;
}

static int s_send(const char *to, uint8_t *key, int timeout)
{
    char host[256];
    const char *colon = strrchr(to, ':');
    if (!colon || colon == to || (size_t)(colon - to) >= sizeof host) {
        fprintf(stderr, "ssi-xfer: bad address '%s' (expected ADDR:PORT)\n", to);
        return 1;
    }
    memcpy(host, to, (size_t)(colon - to));
    host[colon - to] = 0;
    int fd = ssi_chan_connect(host, (uint16_t)atoi(colon + 1), timeout);
    if (fd < 0) {
        fprintf(stderr, "ssi-xfer: cannot connect to %s: %s\n", to, strerror(-fd));
        return 1;
    }
    int rc = ssi_chan_init(&s_chan, fd, key, SSI_CHAN_INITIATOR, timeout);
    sodium_memzero(key, SSI_CHAN_KEY_BYTES);
    if (rc < 0) {
        close(fd);
        fprintf(stderr, "ssi-xfer: handshake with %s failed: %s\n", to, strerror(-rc));
        return 1;
    }
    s_grow_pipe(0);
    for (;;) {
        ssize_t n = s_read_some(s_buf, sizeof s_buf);
        if (n < 0) {
            fprintf(stderr, "ssi-xfer: reading the stream: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        rc = ssi_chan_send(&s_chan, s_buf, (size_t)n);
        if (rc < 0) {
            fprintf(stderr, "ssi-xfer: sending to %s: %s\n", to, strerror(-rc));
            return 1;
        }
    }
    rc = ssi_chan_shutdown(&s_chan);
    ssize_t n = rc < 0 ? rc : ssi_chan_recv(&s_chan, s_buf, sizeof s_buf);
    if (n != 2 || memcmp(s_buf, "ok", 2) != 0) {
        fprintf(stderr, "ssi-xfer: %s did not acknowledge the stream: %s\n", to,
                n < 0 ? strerror((int)-n) : "no answer");
        return 1;
    }
    ssi_chan_close(&s_chan);
    return 0;
}

static int s_recv(int listen_fd, uint8_t *key, int timeout)
{
    int fd = ssi_chan_accept(listen_fd, timeout);
    close(listen_fd);
    if (fd < 0) {
        fprintf(stderr, "ssi-xfer: no sender connected: %s\n", strerror(-fd));
        return 1;
    }
    int rc = ssi_chan_init(&s_chan, fd, key, SSI_CHAN_RESPONDER, timeout);
    sodium_memzero(key, SSI_CHAN_KEY_BYTES);
    if (rc < 0) {
        close(fd);
        fprintf(stderr, "ssi-xfer: handshake failed: %s\n", strerror(-rc));
        return 1;
    }
    s_grow_pipe(1);
    for (;;) {
        ssize_t n = ssi_chan_recv(&s_chan, s_buf, sizeof s_buf);
        if (n < 0) {
            fprintf(stderr, "ssi-xfer: receiving: %s\n", strerror((int)-n));
            return 1;
        }
        if (n == 0)
            break;
        rc = ssi_io_write_full(1, s_buf, (size_t)n);
        if (rc < 0) {
            fprintf(stderr, "ssi-xfer: writing the stream: %s\n", strerror(-rc));
            return 1;
        }
    }
    /* Everything is in our stdout's pipe: say so, and the sender is done. */
    rc = ssi_chan_send(&s_chan, "ok", 2);
    ssi_chan_close(&s_chan);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *to = NULL;
    int key_fd = -1, listen_fd = -1, timeout = 30000;
    if (ssi_helper_about(argc, argv, "ssi-xfer", "carries a frozen process's image between nodes"))
        return 0;
    if (argc < 2)
        return s_usage();
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc)
            return s_usage();
        if (strcmp(argv[i], "--to") == 0)
            to = argv[++i];
        else if (strcmp(argv[i], "--key-fd") == 0)
            key_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--listen-fd") == 0)
            listen_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout = atoi(argv[++i]);
        else
            return s_usage();
    }
    signal(SIGPIPE, SIG_IGN);
    uint8_t key[SSI_CHAN_KEY_BYTES];
    int krc = key_fd < 0 ? -EBADF : ssi_io_read_full(key_fd, key, SSI_CHAN_KEY_BYTES);
    if (key_fd >= 0)
        close(key_fd);
    if (sodium_init() < 0 || krc < 0) {
        fprintf(stderr, "ssi-xfer: cannot read the 32-byte key from fd %d\n", key_fd);
        return 1;
    }
    if (strcmp(argv[1], "send") == 0 && to)
        return s_send(to, key, timeout);
    if (strcmp(argv[1], "recv") == 0 && listen_fd >= 0)
        return s_recv(listen_fd, key, timeout);
    return s_usage();
}
