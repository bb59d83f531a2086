/* ssi_tunnel_link: tunnel frames over one keyed ssi_chan connection, as
 * the deputy (initiator) and ssi-agent (responder) use it.
 *
 * Two links over a socketpair. Malformed frames are sent as raw ssi_chan
 * records on the sender's channel (well encrypted, badly framed); altered
 * ones are taken off the wire, changed and put back, as in check_chan.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_ssi.h"
#include "ssi_tunnel_link.h"

static ssi_tunnel_link_t A, B; /* too large for the stack */
static uint8_t key1[SSI_TUNNEL_KEY_LEN], key2[SSI_TUNNEL_KEY_LEN];
static uint8_t out[SSI_TUNNEL_DATA_MAX + 1], in[SSI_TUNNEL_DATA_MAX];

static void s_setup(void)
{
    ck_assert_int_ge(sodium_init(), 0);
    for (int i = 0; i < SSI_TUNNEL_KEY_LEN; i++) {
        key1[i] = (uint8_t)(7 * i);
        key2[i] = (uint8_t)(7 * i + 1);
    }
}

typedef struct {
    int fd;
    const uint8_t *key;
    long rc;
} s_init_t;

static void *s_agent_thread(void *arg)
{
    s_init_t *a = arg;
    a->rc = ssi_tunnel_link_init(&B, a->fd, a->key, 0, 2000);
    return NULL;
}

/* A (deputy, initiator) and B (agent, responder) over a socketpair with
 * keys ka and kb; the handshakes' results in *ra, *rb. */
static void s_link_pair(const uint8_t *ka, const uint8_t *kb, long *ra, long *rb, int sv[2])
{
    pthread_t t;
    int big = 4 << 20;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    /* A maximal frame must fit the socket buffer: no reader thread. */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    s_init_t b = {sv[1], kb, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, s_agent_thread, &b), 0);
    *ra = ssi_tunnel_link_init(&A, sv[0], ka, 1, 2000);
    pthread_join(t, NULL);
    *rb = b.rc;
}

static void s_up(void)
{
    long ra, rb;
    int sv[2];
    s_link_pair(key1, key1, &ra, &rb, sv);
    ck_assert_int_eq(ra, 0);
    ck_assert_int_eq(rb, 0);
    ck_assert_int_eq(ssi_tunnel_link_fd(&A), sv[0]);
    ck_assert_int_eq(ssi_tunnel_link_fd(&B), sv[1]);
}

static void s_down(void)
{
    ssi_tunnel_link_close(&A);
    ssi_tunnel_link_close(&B);
}

static void s_fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* One frame of n bytes from `from` to `to`, checked header and payload. */
static void s_round_trip(ssi_tunnel_link_t *from, ssi_tunnel_link_t *to, uint32_t n)
{
    ssi_tunnel_hdr_t h;
    unsigned chan = n % 65536;
    s_fill(out, n, n);
    ck_assert_int_eq(ssi_tunnel_send(from, SSI_TUNNEL_DATA, chan, out, n), 0);
    ck_assert_int_eq(ssi_tunnel_recv(to, &h, in, sizeof in), 1);
    ck_assert_uint_eq(h.type, SSI_TUNNEL_DATA);
    ck_assert_uint_eq(h.chan, chan);
    ck_assert_uint_eq(h.len, n);
    ck_assert_uint_eq(h.flags, 0);
    ck_assert_msg(memcmp(in, out, n) == 0, "payload of %u bytes differs", n);
    ck_assert_int_eq(ssi_tunnel_pending(to), 0);
}

/* Every size from 0 to 4 KiB, then a stride through the rest with the
 * sizes around each power of two, and the largest frame: both ways. */
START_TEST(test_tunnel_frames_of_every_size_round_trip)
{
    s_up();
    for (uint32_t n = 0; n <= 4096; n++)
        s_round_trip(&A, &B, n);
    for (uint32_t n = 4097; n < SSI_TUNNEL_DATA_MAX; n += 1021)
        s_round_trip(&B, &A, n);
    for (uint32_t p = 8192; p <= SSI_TUNNEL_DATA_MAX; p *= 2) {
        s_round_trip(&A, &B, p - 1);
        s_round_trip(&B, &A, p);
        if (p < SSI_TUNNEL_DATA_MAX)
            s_round_trip(&A, &B, p + 1);
    }
    s_round_trip(&A, &B, SSI_TUNNEL_DATA_MAX);
    s_round_trip(&B, &A, SSI_TUNNEL_DATA_MAX);
    s_down();
}
END_TEST

/* Several frames sent before any is read come out whole and in order,
 * the buffered ones without another poll. */
START_TEST(test_tunnel_frames_keep_order)
{
    ssi_tunnel_hdr_t h;
    uint32_t v = 4096;
    s_up();
    ck_assert_int_eq(ssi_tunnel_send(&A, SSI_TUNNEL_WINDOW_UPD, 7, &v, 4), 0);
    ck_assert_int_eq(ssi_tunnel_send(&A, SSI_TUNNEL_EOF, 8, NULL, 0), 0);
    ck_assert_int_eq(ssi_tunnel_send(&A, SSI_TUNNEL_SIGNAL, 0, &v, 4), 0);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), 1);
    ck_assert_uint_eq(h.type, SSI_TUNNEL_WINDOW_UPD);
    ck_assert_uint_eq(h.chan, 7);
    ck_assert_int_ne(ssi_tunnel_pending(&B), 0);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), 1);
    ck_assert_uint_eq(h.type, SSI_TUNNEL_EOF);
    ck_assert_uint_eq(h.len, 0);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), 1);
    ck_assert_uint_eq(h.type, SSI_TUNNEL_SIGNAL);
    ck_assert_int_eq(ssi_tunnel_pending(&B), 0);
    s_down();
}
END_TEST

/* A frame larger than SSI_TUNNEL_DATA_MAX is not sent. */
START_TEST(test_tunnel_oversized_frame_not_sent)
{
    s_up();
    ck_assert_int_eq(ssi_tunnel_send(&A, SSI_TUNNEL_DATA, 1, out, SSI_TUNNEL_DATA_MAX + 1),
                     -EMSGSIZE);
    s_round_trip(&A, &B, 10); /* the link is still good */
    s_down();
}
END_TEST

/* Sends a raw record on A's channel: a frame as a broken peer would. */
static void s_raw(const void *p, size_t n)
{
    ck_assert_int_eq(ssi_chan_send(&A.ch, p, n), 0);
}

static void s_raw_frame(uint8_t type, uint16_t chan, uint32_t len, uint32_t body)
{
    ssi_tunnel_hdr_t h = {.type = type, .flags = 0, .chan = chan, .len = len};
    memcpy(out, &h, sizeof h);
    memset(out + sizeof h, 'x', body);
    s_raw(out, sizeof h + body);
}

/* Each way a frame can be malformed gives -EPROTO, the caller's buffer
 * untouched past its capacity. */
START_TEST(test_tunnel_malformed_frame_refused)
{
    ssi_tunnel_hdr_t h;
    static const struct {
        uint8_t type;
        uint32_t len, body;
        const char *what;
    } bad[] = {
        {SSI_TUNNEL_DATA, 10, 9, "length longer than its payload"},
        {SSI_TUNNEL_DATA, 10, 11, "length shorter than its payload"},
        {SSI_TUNNEL_DATA, 0xffffffffu, 16, "forged huge length"},
        {0, 0, 0, "type 0"},
        {SSI_TUNNEL_TYPE_LAST + 1, 0, 0,
         "type past the protocol's and the issues' ranges (40..84)"},
        {255, 4, 4, "type 255"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_up();
        s_raw_frame(bad[i].type, 3, bad[i].len, bad[i].body);
        ck_assert_msg(ssi_tunnel_recv(&B, &h, in, sizeof in) == -EPROTO, "%s", bad[i].what);
        s_down();
    }
    /* Shorter than a header. */
    s_up();
    s_raw("\x04\x00\x01", 3);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), -EPROTO);
    s_down();
    /* A good frame larger than the caller's buffer. */
    s_up();
    memset(in, 0, 200);
    s_raw_frame(SSI_TUNNEL_DATA, 3, 101, 101);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, 100), -EPROTO);
    for (int i = 0; i < 200; i++)
        ck_assert_uint_eq(in[i], 0);
    s_down();
}
END_TEST

/* A record longer than any frame (the peer's ssi_chan allows up to
 * 256 KiB) is a malformed frame too. */
START_TEST(test_tunnel_oversized_frame_refused)
{
    ssi_tunnel_hdr_t h;
    static uint8_t big[sizeof(ssi_tunnel_hdr_t) + SSI_TUNNEL_DATA_MAX + 1];
    ssi_tunnel_hdr_t fh = {.type = SSI_TUNNEL_DATA, .chan = 1, .len = SSI_TUNNEL_DATA_MAX + 1};
    s_up();
    memcpy(big, &fh, sizeof fh);
    s_raw(big, sizeof big);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), -EPROTO);
    s_down();
}
END_TEST

/* Every byte of a frame on the wire (record header, ciphertext, tag) is
 * protected: a changed one is refused (-EBADMSG), and the link stays
 * refused. */
START_TEST(test_tunnel_altered_frame_refused)
{
    ssi_tunnel_hdr_t h;
    const uint32_t n = 40;
    const size_t wire = SSI_CHAN_HEADER + sizeof h + n + SSI_CHAN_TAG;
    uint8_t raw[SSI_CHAN_HEADER + sizeof(ssi_tunnel_hdr_t) + 40 + SSI_CHAN_TAG];
    ck_assert_uint_eq(sizeof raw, wire);
    for (int pos = -1; pos < (int)wire; pos++) {
        s_up();
        s_fill(out, n, 9);
        ck_assert_int_eq(ssi_tunnel_pending(&B), 0);
        ck_assert_int_eq(ssi_tunnel_send(&A, SSI_TUNNEL_DATA, 5, out, n), 0);
        /* Off the wire to B, changed, and back through A's socket. */
        ck_assert_int_eq(recv(ssi_tunnel_link_fd(&B), raw, wire, MSG_WAITALL), (ssize_t)wire);
        if (pos >= 0)
            raw[pos] ^= (uint8_t)(1u << (pos % 8));
        ck_assert_int_eq(send(ssi_tunnel_link_fd(&A), raw, wire, MSG_NOSIGNAL), (ssize_t)wire);
        shutdown(ssi_tunnel_link_fd(&A), SHUT_WR); /* a longer length must not wait forever */
        long r = ssi_tunnel_recv(&B, &h, in, sizeof in);
        if (pos < 0) { /* the harness itself passes an intact frame */
            ck_assert_int_eq(r, 1);
            ck_assert_mem_eq(in, out, n);
        } else {
            /* A record length changed past any frame is refused
			 * as malformed before its tag is even read. */
            long want = pos < 4 && r == -EPROTO ? -EPROTO : -EBADMSG;
            ck_assert_msg(r == want, "changed byte %d: got %ld", pos, r);
            ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), want);
        }
        s_down();
    }
}
END_TEST

/* Ends with different keys refuse each other at the handshake; the
 * caller keeps its socket. */
START_TEST(test_tunnel_wrong_key_refused)
{
    long ra, rb;
    int sv[2];
    ssi_tunnel_hdr_t h;
    s_link_pair(key1, key2, &ra, &rb, sv);
    ck_assert_int_eq(ra, -EKEYREJECTED);
    ck_assert_int_eq(rb, -EKEYREJECTED);
    ck_assert_int_eq(ssi_tunnel_link_fd(&A), -1);
    ck_assert_int_eq(ssi_tunnel_send(&A, SSI_TUNNEL_EOF, 0, NULL, 0), -EPIPE);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), -EPIPE);
    ck_assert_int_eq(fcntl(sv[0], F_GETFD) >= 0, 1);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* The peer's authenticated end gives -EPIPE, and again; a link closed
 * here sends nothing; a peer that just vanishes is an error too. */
START_TEST(test_tunnel_peer_close_epipe)
{
    ssi_tunnel_hdr_t h;
    s_up();
    s_round_trip(&A, &B, 3);
    ssi_tunnel_shutdown(&A);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), -EPIPE);
    ck_assert_int_eq(ssi_tunnel_recv(&B, &h, in, sizeof in), -EPIPE);
    /* The other direction still carries frames (the agent's last words). */
    s_round_trip(&B, &A, 5);
    ssi_tunnel_link_close(&A);
    ssi_tunnel_link_close(&A); /* safe twice */
    ck_assert_int_eq(ssi_tunnel_link_fd(&A), -1);
    ck_assert_int_eq(ssi_tunnel_send(&A, SSI_TUNNEL_EOF, 0, NULL, 0), -EPIPE);
    ck_assert_int_eq(ssi_tunnel_recv(&A, &h, in, sizeof in), -EPIPE);
    ck_assert_int_lt(ssi_tunnel_send(&B, SSI_TUNNEL_EOF, 0, NULL, 0), 0);
    s_down();
    /* Without an end of stream: the peer is gone all the same. */
    s_up();
    close(ssi_tunnel_link_fd(&A));
    ck_assert_int_lt(ssi_tunnel_recv(&B, &h, in, sizeof in), 0);
    A.up = 0;
    s_down();
}
END_TEST

/* A silent peer: recv_wait gives up at its timeout, and the link still
 * works afterwards with no timeout. */
START_TEST(test_tunnel_recv_wait_times_out)
{
    ssi_tunnel_hdr_t h;
    s_up();
    ck_assert_int_eq(ssi_tunnel_recv_wait(&B, &h, in, sizeof in, 50), -ETIMEDOUT);
    s_down();
    s_up();
    s_fill(out, 10, 1);
    ck_assert_int_eq(ssi_tunnel_send(&A, SSI_TUNNEL_HELLO, 0, out, 10), 0);
    ck_assert_int_eq(ssi_tunnel_recv_wait(&B, &h, in, sizeof in, 1000), 1);
    ck_assert_uint_eq(h.type, SSI_TUNNEL_HELLO);
    s_down();
}
END_TEST

/* The budget is at least one window and at most SSI_TUNNEL_BUDGET_MAX. */
START_TEST(test_tunnel_budget_bounds)
{
    s_up();
    ck_assert_uint_ge(ssi_tunnel_budget(&A), SSI_TUNNEL_WINDOW);
    ck_assert_uint_le(ssi_tunnel_budget(&A), SSI_TUNNEL_BUDGET_MAX);
    s_down();
}
END_TEST

Suite *suite_tunnel(void)
{
    Suite *s = suite_create("tunnel");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, s_setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_tunnel_frames_of_every_size_round_trip);
    tcase_add_test(tc, test_tunnel_frames_keep_order);
    tcase_add_test(tc, test_tunnel_oversized_frame_not_sent);
    tcase_add_test(tc, test_tunnel_malformed_frame_refused);
    tcase_add_test(tc, test_tunnel_oversized_frame_refused);
    tcase_add_test(tc, test_tunnel_altered_frame_refused);
    tcase_add_test(tc, test_tunnel_wrong_key_refused);
    tcase_add_test(tc, test_tunnel_peer_close_epipe);
    tcase_add_test(tc, test_tunnel_recv_wait_times_out);
    tcase_add_test(tc, test_tunnel_budget_bounds);
    suite_add_tcase(s, tc);
    return s;
}
