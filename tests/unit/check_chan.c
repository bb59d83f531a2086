/* ssi_chan: round trips, bulk, and every way a peer or the network can lie.
 *
 * Tampering tests sit in the middle of a socketpair: after A sends, the test
 * steals the record's raw bytes from B's end, alters them and writes them
 * back through A's end, so that B reads exactly what the test chose. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_ssi.h"
#include "ssi_chan.h"

static ssi_chan_t A, B; /* too large for the stack */

static uint8_t key1[SSI_CHAN_KEY_BYTES], key2[SSI_CHAN_KEY_BYTES];

static void s_setup(void)
{
    ck_assert_int_ge(sodium_init(), 0);
    for (int i = 0; i < SSI_CHAN_KEY_BYTES; i++) {
        key1[i] = (uint8_t)i;
        key2[i] = (uint8_t)(i + 1);
    }
}

typedef struct {
    ssi_chan_t *ch;
    int fd;
    const uint8_t *key;
    int role;
    int timeout;
    int rc;
} s_init_t;

static void *s_init_thread(void *arg)
{
    s_init_t *a = arg;
    a->rc = ssi_chan_init(a->ch, a->fd, a->key, a->role, a->timeout);
    return NULL;
}

/* Handshakes A (initiator, on fa) and B (responder, on fb) concurrently. */
static void s_handshake(int fa, int fb, const uint8_t *ka, const uint8_t *kb, int *ra, int *rb)
{
    pthread_t t;
    s_init_t b = {&B, fb, kb, SSI_CHAN_RESPONDER, 2000, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, s_init_thread, &b), 0);
    *ra = ssi_chan_init(&A, fa, ka, SSI_CHAN_INITIATOR, 2000);
    pthread_join(t, NULL);
    *rb = b.rc;
}

/* A connected pair over a Unix socketpair. */
static void s_pair(void)
{
    int sv[2], ra, rb;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    s_handshake(sv[0], sv[1], key1, key1, &ra, &rb);
    ck_assert_int_eq(ra, 0);
    ck_assert_int_eq(rb, 0);
}

/* A connected pair over loopback TCP. */
static void s_pair_tcp(void)
{
    uint16_t port = 0;
    int l = ssi_chan_listen("127.0.0.1", 0, &port);
    ck_assert_int_ge(l, 0);
    ck_assert_uint_ne(port, 0);
    int c = ssi_chan_connect("127.0.0.1", port, 2000);
    ck_assert_int_ge(c, 0);
    int s = ssi_chan_accept(l, 2000);
    ck_assert_int_ge(s, 0);
    close(l);
    int ra, rb;
    s_handshake(c, s, key1, key1, &ra, &rb);
    ck_assert_int_eq(ra, 0);
    ck_assert_int_eq(rb, 0);
}

static void s_unpair(void)
{
    ssi_chan_close(&A);
    ssi_chan_close(&B);
}

/* Takes the next n raw bytes waiting for B. */
static void s_steal(uint8_t *raw, size_t n)
{
    ck_assert_int_eq(ssi_chan_pending(&B), 0);
    ck_assert_int_eq(recv(B.fd, raw, n, MSG_WAITALL), (ssize_t)n);
}

/* Delivers raw bytes to B as if A had sent them. */
static void s_inject(const uint8_t *raw, size_t n)
{
    ck_assert_int_eq(send(A.fd, raw, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void s_fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static long s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_round_trips(void)
{
    static uint8_t out[SSI_CHAN_MAX_RECORD], in[SSI_CHAN_MAX_RECORD];
    size_t sizes[] = {1, 64, 4095, 4096, 70000, SSI_CHAN_MAX_RECORD};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        s_fill_pattern(out, n, (uint32_t)i);
        /* Small records fit the socket buffer; the largest needs a reader. */
        ck_assert_int_eq(ssi_chan_send(&A, out, n), 0);
        ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), (ssize_t)n);
        ck_assert_mem_eq(in, out, n);
        s_fill_pattern(out, n, (uint32_t)i + 100);
        ck_assert_int_eq(ssi_chan_send(&B, out, n), 0);
        ck_assert_int_eq(ssi_chan_recv(&A, in, sizeof in), (ssize_t)n);
        ck_assert_mem_eq(in, out, n);
    }
}

START_TEST(test_chan_round_trip_socketpair)
{
    s_pair();
    /* A Unix socketpair buffers less than a maximal record: enlarge it. */
    int big = 4 << 20;
    setsockopt(A.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(B.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    s_round_trips();
    ck_assert_int_eq(A.tx_seq, 6);
    ck_assert_int_eq(B.rx_seq, 6);
    s_unpair();
}
END_TEST

START_TEST(test_chan_round_trip_tcp)
{
    s_pair_tcp();
    ck_assert_int_eq(A.aead, crypto_aead_aes256gcm_is_available() ? SSI_CHAN_AES256GCM
                                                                  : SSI_CHAN_XCHACHA20);
    s_round_trips();
    s_unpair();
}
END_TEST

/* The fallback AEAD, forced after the handshake. */
START_TEST(test_chan_round_trip_xchacha)
{
    s_pair();
    A.aead = B.aead = SSI_CHAN_XCHACHA20;
    uint8_t in[100];
    ck_assert_int_eq(ssi_chan_send(&A, "hello", 5), 0);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), 5);
    ck_assert_mem_eq(in, "hello", 5);
    ck_assert_int_eq(ssi_chan_send(&B, "world!", 6), 0);
    ck_assert_int_eq(ssi_chan_recv(&A, in, sizeof in), 6);
    ck_assert_mem_eq(in, "world!", 6);
    s_unpair();
}
END_TEST

typedef struct {
    uint8_t *buf;
    size_t len;
    int inplace;
    int rc;
} s_bulk_t;

static void *s_bulk_sender(void *arg)
{
    s_bulk_t *b = arg;
    b->rc = b->inplace ? ssi_chan_write_inplace(&A, b->buf, b->len)
                       : ssi_chan_write(&A, b->buf, b->len);
    return NULL;
}

static void s_bulk(size_t len, int inplace)
{
    uint8_t *src = malloc(len), *dst = malloc(len);
    ck_assert_ptr_nonnull(src);
    ck_assert_ptr_nonnull(dst);
    s_fill_pattern(src, len, 7);
    uint8_t want[32], got[32];
    crypto_generichash(want, sizeof want, src, len, NULL, 0);
    s_bulk_t b = {src, len, inplace, -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, s_bulk_sender, &b), 0);
    int r = ssi_chan_read(&B, dst, len);
    pthread_join(t, NULL);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(b.rc, 0);
    crypto_generichash(got, sizeof got, dst, len, NULL, 0);
    ck_assert_mem_eq(got, want, sizeof want);
    if (inplace) /* the source now holds ciphertext */
        ck_assert_int_ne(memcmp(src, dst, 4096), 0);
    free(src);
    free(dst);
}

START_TEST(test_chan_bulk_64mib_tcp)
{
    s_pair_tcp();
    s_bulk(64u << 20, 0);
    s_bulk((8u << 20) + 12345, 1); /* not a multiple of the record size */
    /* Message traffic still flows after bulk. */
    uint8_t in[8];
    ck_assert_int_eq(ssi_chan_send(&B, "ack", 3), 0);
    ck_assert_int_eq(ssi_chan_recv(&A, in, sizeof in), 3);
    ck_assert_uint_eq(A.tx_seq, B.rx_seq);
    s_unpair();
}
END_TEST

START_TEST(test_chan_bulk_length_mismatch_refused)
{
    s_pair_tcp();
    static uint8_t buf[300 * 1024];
    s_bulk_t b = {buf, sizeof buf, 0, -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, s_bulk_sender, &b), 0);
    ck_assert_int_eq(ssi_chan_read(&B, buf, 200 * 1024), -EPROTO);
    ck_assert_int_eq(ssi_chan_read(&B, buf, 100 * 1024), -EPROTO);
    pthread_join(t, NULL);
    /* A message where bulk was expected, and bulk where a message was. */
    s_unpair();
    s_pair_tcp();
    ck_assert_int_eq(ssi_chan_send(&A, "x", 1), 0);
    ck_assert_int_eq(ssi_chan_read(&B, buf, 1), -EPROTO);
    s_unpair();
    s_pair_tcp();
    ck_assert_int_eq(ssi_chan_write(&A, "x", 1), 0);
    ck_assert_int_eq(ssi_chan_recv(&B, buf, sizeof buf), -EPROTO);
    s_unpair();
}
END_TEST

START_TEST(test_chan_wrong_key_rejected)
{
    int sv[2], ra, rb;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    long t0 = s_ms();
    s_handshake(sv[0], sv[1], key1, key2, &ra, &rb);
    ck_assert_int_eq(ra, -EKEYREJECTED);
    ck_assert_int_eq(rb, -EKEYREJECTED);
    ck_assert_int_lt(s_ms() - t0, 500); /* at once, not at a timeout */
    /* A failed channel refuses use; the fds are still the caller's. */
    ck_assert_int_eq(ssi_chan_send(&A, "x", 1), -EBADF);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_chan_same_role_rejected)
{
    int sv[2], ra;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pthread_t t;
    s_init_t b = {&B, sv[1], key1, SSI_CHAN_INITIATOR, 2000, 0};
    ck_assert_int_eq(pthread_create(&t, NULL, s_init_thread, &b), 0);
    ra = ssi_chan_init(&A, sv[0], key1, SSI_CHAN_INITIATOR, 2000);
    pthread_join(t, NULL);
    ck_assert_int_eq(ra, -EKEYREJECTED);
    ck_assert_int_eq(b.rc, -EKEYREJECTED);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_chan_not_a_peer_rejected)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n........................................";
    ck_assert_int_eq(write(sv[1], junk, sizeof junk), sizeof junk);
    ck_assert_int_eq(ssi_chan_init(&A, sv[0], key1, SSI_CHAN_INITIATOR, 2000), -EPROTO);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

#define S_PAYLOAD 100
#define S_RECORD (SSI_CHAN_HEADER + S_PAYLOAD + SSI_CHAN_TAG)

/* Every byte of a record, header, ciphertext and tag, is protected. */
START_TEST(test_chan_flipped_byte_rejected)
{
    uint8_t msg[S_PAYLOAD], raw[S_RECORD], in[SSI_CHAN_MAX_RECORD];
    s_fill_pattern(msg, sizeof msg, 3);
    for (int pos = -1; pos < S_RECORD; pos++) {
        s_pair();
        ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
        s_steal(raw, sizeof raw);
        if (pos >= 0)
            raw[pos] ^= (uint8_t)(1u << (pos % 8));
        s_inject(raw, sizeof raw);
        shutdown(A.fd, SHUT_WR); /* a longer length must not wait forever */
        ssize_t r = ssi_chan_recv(&B, in, sizeof in);
        if (pos < 0) { /* the harness itself delivers intact records */
            ck_assert_int_eq(r, S_PAYLOAD);
            ck_assert_mem_eq(in, msg, sizeof msg);
        } else {
            ck_assert_msg(r == -EBADMSG, "flipped byte %d: got %zd", pos, r);
            /* Sticky, in both directions. */
            ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -EBADMSG);
            ck_assert_int_eq(ssi_chan_send(&B, msg, 1), -EBADMSG);
        }
        s_unpair();
    }
}
END_TEST

START_TEST(test_chan_replayed_record_rejected)
{
    uint8_t raw[S_RECORD], in[S_PAYLOAD], msg[S_PAYLOAD] = "once";
    s_pair();
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    s_steal(raw, sizeof raw);
    s_inject(raw, sizeof raw);
    s_inject(raw, sizeof raw);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), S_PAYLOAD);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -EBADMSG);
    s_unpair();
}
END_TEST

START_TEST(test_chan_reordered_records_rejected)
{
    uint8_t raw1[S_RECORD], raw2[S_RECORD], in[S_PAYLOAD], msg[S_PAYLOAD] = "first";
    s_pair();
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    s_steal(raw1, sizeof raw1);
    msg[0] = 'F';
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    s_steal(raw2, sizeof raw2);
    s_inject(raw2, sizeof raw2);
    s_inject(raw1, sizeof raw1);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -EBADMSG);
    s_unpair();
    /* A dropped record: the next one does not authenticate either. */
    s_pair();
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    s_steal(raw1, sizeof raw1);
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -EBADMSG);
    s_unpair();
}
END_TEST

START_TEST(test_chan_truncated_stream_errors)
{
    uint8_t raw[S_RECORD], in[S_PAYLOAD], msg[S_PAYLOAD] = "cut";
    /* Inside a record (at every length, header included): -EBADMSG. */
    for (size_t cut = 1; cut < S_RECORD; cut += 7) {
        s_pair();
        ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
        s_steal(raw, sizeof raw);
        s_inject(raw, cut);
        shutdown(A.fd, SHUT_WR);
        ck_assert_msg(ssi_chan_recv(&B, in, sizeof in) == -EBADMSG, "cut at %zu", cut);
        s_unpair();
    }
    /* Between records without an authenticated close: -ECONNRESET. */
    s_pair();
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    shutdown(A.fd, SHUT_WR);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), S_PAYLOAD);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -ECONNRESET);
    s_unpair();
    /* An authenticated close: 0, and again 0; sending after it is refused,
	 * while the other direction still works. */
    s_pair();
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    ck_assert_int_eq(ssi_chan_shutdown(&A), 0);
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), -EPIPE);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), S_PAYLOAD);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), 0);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), 0);
    ck_assert_int_eq(ssi_chan_send(&B, msg, sizeof msg), 0);
    ck_assert_int_eq(ssi_chan_recv(&A, in, sizeof in), S_PAYLOAD);
    s_unpair();
    /* A bulk whose sender vanishes midway, in its second record. */
    s_pair();
    int big = 4 << 20;
    setsockopt(A.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    static uint8_t bulk[300 * 1024], wire[sizeof bulk + 2 * (SSI_CHAN_HEADER + SSI_CHAN_TAG)];
    ck_assert_int_eq(ssi_chan_write(&A, bulk, sizeof bulk), 0);
    s_steal(wire, sizeof wire);
    s_inject(wire, SSI_CHAN_HEADER + SSI_CHAN_MAX_RECORD + SSI_CHAN_TAG + 1000);
    ssi_chan_close(&A);
    ck_assert_int_eq(ssi_chan_read(&B, bulk, sizeof bulk), -EBADMSG);
    ssi_chan_close(&B);
}
END_TEST

START_TEST(test_chan_silent_peer_times_out)
{
    uint8_t raw[S_RECORD], in[S_PAYLOAD], msg[S_PAYLOAD] = "late";
    s_pair();
    ck_assert_int_eq(ssi_chan_set_timeout(&B, 300), 0);
    /* Nothing arrives: -ETIMEDOUT near the timeout, and not sticky. */
    long t0 = s_ms();
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -ETIMEDOUT);
    long dt = s_ms() - t0;
    ck_assert_int_ge(dt, 250);
    ck_assert_int_lt(dt, 1500);
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), S_PAYLOAD);
    /* Half a record, then silence: -ETIMEDOUT, sticky. */
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    s_steal(raw, sizeof raw);
    s_inject(raw, S_RECORD / 2);
    t0 = s_ms();
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -ETIMEDOUT);
    ck_assert_int_lt(s_ms() - t0, 1500);
    s_inject(raw + S_RECORD / 2, S_RECORD - S_RECORD / 2);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -ETIMEDOUT);
    s_unpair();
    /* A peer that never answers the handshake. */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t0 = s_ms();
    ck_assert_int_eq(ssi_chan_init(&A, sv[0], key1, SSI_CHAN_INITIATOR, 300), -ETIMEDOUT);
    ck_assert_int_lt(s_ms() - t0, 1500);
    close(sv[0]);
    close(sv[1]);
    /* A peer that stops reading: the sender times out too. */
    s_pair();
    ck_assert_int_eq(ssi_chan_set_timeout(&A, 300), 0);
    static uint8_t big[16 << 20];
    t0 = s_ms();
    ck_assert_int_eq(ssi_chan_write(&A, big, sizeof big), -ETIMEDOUT);
    ck_assert_int_lt(s_ms() - t0, 1500);
    s_unpair();
}
END_TEST

START_TEST(test_chan_oversize_record_refused)
{
    static uint8_t buf[SSI_CHAN_MAX_RECORD + 1];
    uint8_t raw[S_RECORD];
    s_pair_tcp();
    /* Refused at the sender, which stays usable. */
    ck_assert_int_eq(ssi_chan_send(&A, buf, sizeof buf), -EMSGSIZE);
    ck_assert_int_eq(ssi_chan_send(&A, buf, 0), -EINVAL);
    ck_assert_int_eq(ssi_chan_send(&A, buf, 10), 0);
    ck_assert_int_eq(ssi_chan_recv(&B, buf, sizeof buf), 10);
    /* A record larger than the receiver's buffer. */
    ck_assert_int_eq(ssi_chan_send(&A, buf, 10), 0);
    ck_assert_int_eq(ssi_chan_recv(&B, buf, 9), -EMSGSIZE);
    s_unpair();
    /* A header announcing more than the maximum is refused at once, before
	 * the receiver waits for that many bytes. */
    s_pair();
    ck_assert_int_eq(ssi_chan_send(&A, buf, S_PAYLOAD), 0);
    s_steal(raw, sizeof raw);
    raw[0] = 0x00, raw[1] = 0x04, raw[2] = 0x00, raw[3] = 0x01; /* max + 1 */
    s_inject(raw, sizeof raw);
    ck_assert_int_eq(ssi_chan_recv(&B, buf, sizeof buf), -EBADMSG);
    s_unpair();
}
END_TEST

/* Each direction has its own key and counter: both ends may send before
 * either receives, and the same plaintext at the same counter gives
 * different ciphertexts in the two directions. */
START_TEST(test_chan_directions_independent)
{
    uint8_t msg[S_PAYLOAD], ra[S_RECORD], rb[S_RECORD], in[S_PAYLOAD];
    memset(msg, 'X', sizeof msg);
    s_pair();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
        ck_assert_int_eq(ssi_chan_send(&B, msg, sizeof msg), 0);
    }
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), S_PAYLOAD);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ssi_chan_recv(&A, in, sizeof in), S_PAYLOAD);
    ck_assert_uint_eq(A.tx_seq, 4);
    ck_assert_uint_eq(A.rx_seq, 3);
    ck_assert_uint_eq(B.tx_seq, 3);
    ck_assert_uint_eq(B.rx_seq, 4);
    s_unpair();

    s_pair();
    ck_assert_int_eq(ssi_chan_send(&A, msg, sizeof msg), 0);
    ck_assert_int_eq(ssi_chan_send(&B, msg, sizeof msg), 0);
    ck_assert_int_eq(recv(B.fd, ra, sizeof ra, MSG_WAITALL), sizeof ra);
    ck_assert_int_eq(recv(A.fd, rb, sizeof rb, MSG_WAITALL), sizeof rb);
    ck_assert_mem_eq(ra, rb, SSI_CHAN_HEADER); /* same header */
    ck_assert_int_ne(memcmp(ra + SSI_CHAN_HEADER, rb + SSI_CHAN_HEADER, S_PAYLOAD), 0);
    ck_assert_int_ne(memcmp(A.tx_key, A.rx_key, SSI_CHAN_KEY_BYTES), 0);
    s_unpair();

    /* Two connections under one secret never share traffic keys. */
    s_pair();
    uint8_t k1[SSI_CHAN_KEY_BYTES];
    memcpy(k1, A.tx_key, sizeof k1);
    s_unpair();
    s_pair();
    ck_assert_int_ne(memcmp(k1, A.tx_key, sizeof k1), 0);
    s_unpair();
}
END_TEST

START_TEST(test_chan_refuses_past_seq_limit)
{
    uint8_t in[8];
    s_pair();
    A.tx_seq = B.rx_seq = SSI_CHAN_SEQ_LIMIT - 1;
    ck_assert_int_eq(ssi_chan_send(&A, "last", 4), 0);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), 4);
    ck_assert_int_eq(ssi_chan_send(&A, "over", 4), -EOVERFLOW);
    ck_assert_uint_eq(A.tx_seq, SSI_CHAN_SEQ_LIMIT);
    ck_assert_int_eq(ssi_chan_recv(&B, in, sizeof in), -EOVERFLOW);
    s_unpair();
}
END_TEST

START_TEST(test_chan_listen_ephemeral_and_connect_timeout)
{
    uint16_t port = 0;
    int l = ssi_chan_listen("127.0.0.1", 0, &port);
    ck_assert_int_ge(l, 0);
    ck_assert_uint_gt(port, 0);
    ck_assert_int_eq(ssi_chan_accept(l, 200), -ETIMEDOUT);
    close(l);
    ck_assert_int_eq(ssi_chan_connect("127.0.0.1", port, 1000), -ECONNREFUSED);
    ck_assert_int_eq(ssi_chan_listen("not-an-address", 0, NULL), -EINVAL);
    l = ssi_chan_listen("::1", 0, &port);
    if (l >= 0) { /* IPv6 loopback may be disabled */
        int c = ssi_chan_connect("::1", port, 1000);
        ck_assert_int_ge(c, 0);
        close(c);
        close(l);
    }
}
END_TEST

Suite *suite_chan(void)
{
    Suite *s = suite_create("chan");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, s_setup, NULL);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_chan_round_trip_socketpair);
    tcase_add_test(tc, test_chan_round_trip_tcp);
    tcase_add_test(tc, test_chan_round_trip_xchacha);
    tcase_add_test(tc, test_chan_wrong_key_rejected);
    tcase_add_test(tc, test_chan_same_role_rejected);
    tcase_add_test(tc, test_chan_not_a_peer_rejected);
    tcase_add_test(tc, test_chan_flipped_byte_rejected);
    tcase_add_test(tc, test_chan_replayed_record_rejected);
    tcase_add_test(tc, test_chan_reordered_records_rejected);
    tcase_add_test(tc, test_chan_truncated_stream_errors);
    tcase_add_test(tc, test_chan_silent_peer_times_out);
    tcase_add_test(tc, test_chan_oversize_record_refused);
    tcase_add_test(tc, test_chan_directions_independent);
    tcase_add_test(tc, test_chan_refuses_past_seq_limit);
    tcase_add_test(tc, test_chan_listen_ephemeral_and_connect_timeout);
    tcase_add_test(tc, test_chan_bulk_length_mismatch_refused);
    suite_add_tcase(s, tc);
    TCase *bulk = tcase_create("bulk");
    tcase_add_checked_fixture(bulk, s_setup, NULL);
    tcase_set_timeout(bulk, 60);
    tcase_add_test(bulk, test_chan_bulk_64mib_tcp);
    suite_add_tcase(s, bulk);
    return s;
}
