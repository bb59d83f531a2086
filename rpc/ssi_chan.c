/* ssi_chan: the secured byte channel (see ssi_chan.h for the wire format).
 *
 * Runs inside user processes: only raw system calls from ssi_sys.h (which
 * return -errno and never touch errno), memcpy/memmove/inet_pton (pure
 * functions) and libsodium primitives that allocate nothing.
 *
 * Timeouts are the kernel's SO_RCVTIMEO/SO_SNDTIMEO on a blocking socket:
 * the common path is then one sendmsg and one recv per small record, with no
 * poll in between, which is what a round trip costs over raw TCP. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>

#include "ssi_chan.h"
#include "ssi_sys.h"

enum { S_HELLO = 1, S_MSG = 2, S_BULK = 3, S_BULK_END = 4, S_CLOSE = 5 };

#define S_MAGIC "SSICHAN1"
#define S_ID (int)sizeof(((ssi_chan_t *)0)->conn_id) /* 24: also the hello nonce */
#define S_HELLO_PLAIN 16                             /* magic, version, role, flags, zeros */
#define S_HELLO_LEN (S_ID + S_HELLO_PLAIN)
#define S_FLAG_AES 1

/* ---- small helpers ------------------------------------------------- */

static void s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void s_header(uint8_t h[SSI_CHAN_HEADER], uint32_t len, int type)
{
    s_put32(h, len);
    h[4] = (uint8_t)type;
    h[5] = h[6] = h[7] = 0;
}

/* The nonce of record number seq: big-endian in bytes 4..11, zero elsewhere.
 * AES-GCM uses the first 12 bytes, XChaCha20 all 24. */
static void s_nonce(uint8_t n[24], uint64_t seq)
{
    memset(n, 0, 24);
    for (int i = 0; i < 8; i++)
        n[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

/* A sticky error: every later call returns it. */
static int s_fail(ssi_chan_t *ch, int err)
{
    if (ch->err == 0)
        ch->err = err;
    return err;
}

/* out = BLAKE2b-256 keyed with the secret over label || a || b. */
static void s_derive(uint8_t out[32], const uint8_t *secret, const char *label, const uint8_t *a,
                     const uint8_t *b)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, secret, SSI_CHAN_KEY_BYTES, 32);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
    if (a)
        crypto_generichash_update(&st, a, S_ID);
    if (b)
        crypto_generichash_update(&st, b, S_ID);
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(&st, sizeof st);
}

static long s_now_ms(void)
{
    struct timespec ts;
    if (ssi_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts) < 0)
        return 0;
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline_ms (0: no deadline). */
static int s_poll(int fd, short events, long deadline_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        long wait = -1;
        if (deadline_ms) {
            wait = deadline_ms - s_now_ms();
            if (wait <= 0)
                return -ETIMEDOUT;
        }
        long r = ssi_sys3(SYS_poll, (long)&p, 1, wait);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return (int)r;
        if (r == 0)
            return -ETIMEDOUT;
        return 0;
    }
}

static int s_setopt(int fd, int level, int name, const void *val, int len)
{
    return (int)ssi_sys5(SYS_setsockopt, fd, level, name, (long)val, len);
}

/* ---- sealing ------------------------------------------------------- */

static void s_seal(ssi_chan_t *ch, const uint8_t hdr[SSI_CHAN_HEADER], uint8_t *dst,
                   const uint8_t *src, size_t len, uint8_t tag[SSI_CHAN_TAG])
{
    uint8_t n[24];
    s_nonce(n, ch->tx_seq);
    if (ch->aead == SSI_CHAN_AES256GCM)
        crypto_aead_aes256gcm_encrypt_detached_afternm(dst, tag, NULL, src, len, hdr,
                                                       SSI_CHAN_HEADER, NULL, n, &ch->tx_aes);
    else
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(dst, tag, NULL, src, len, hdr,
                                                            SSI_CHAN_HEADER, NULL, n, ch->tx_key);
}

/* Opens buf in place; -EBADMSG unless it is the next record of the peer. */
static int s_open(ssi_chan_t *ch, const uint8_t hdr[SSI_CHAN_HEADER], uint8_t *buf, size_t len,
                  const uint8_t tag[SSI_CHAN_TAG])
{
    uint8_t n[24];
    int r;
    s_nonce(n, ch->rx_seq);
    if (ch->aead == SSI_CHAN_AES256GCM)
        r = crypto_aead_aes256gcm_decrypt_detached_afternm(buf, NULL, buf, len, tag, hdr,
                                                           SSI_CHAN_HEADER, n, &ch->rx_aes);
    else
        r = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(buf, NULL, buf, len, tag, hdr,
                                                                SSI_CHAN_HEADER, n, ch->rx_key);
    return r == 0 ? 0 : -EBADMSG;
}

/* ---- socket I/O ---------------------------------------------------- */

/* Sends every byte of iov (modified). Any failure is sticky: the peer may
 * have part of a record. */
static int s_send_all(ssi_chan_t *ch, struct iovec *iov, int iovcnt)
{
    while (iovcnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        long r = ssi_sys3(SYS_sendmsg, ch->fd, (long)&m, MSG_NOSIGNAL);
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN)
            return s_fail(ch, -ETIMEDOUT);
        if (r < 0)
            return s_fail(ch, (int)r);
        size_t n = (size_t)r;
        while (iovcnt > 0 && n >= iov->iov_len) {
            n -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= n;
        }
    }
    return 0;
}

/* One read from the socket; 0 is the end of the stream. */
static long s_recv_once(ssi_chan_t *ch, struct iovec *iov, int iovcnt)
{
    for (;;) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        long r = ssi_sys3(SYS_recvmsg, ch->fd, (long)&m, 0);
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN)
            return -ETIMEDOUT;
        return r;
    }
}

/* Makes at least SSI_CHAN_HEADER bytes available in rbuf. Nothing is
 * consumed until then, so a timeout here leaves the channel usable; the end
 * of the stream is -ECONNRESET between records and -EBADMSG inside one. */
static int s_need_header(ssi_chan_t *ch)
{
    while (ch->rlen - ch->rpos < SSI_CHAN_HEADER) {
        if (ch->rpos > 0) {
            memmove(ch->rbuf, ch->rbuf + ch->rpos, ch->rlen - ch->rpos);
            ch->rlen -= ch->rpos;
            ch->rpos = 0;
        }
        struct iovec v = {ch->rbuf + ch->rlen, SSI_CHAN_RBUF - ch->rlen};
        long r = s_recv_once(ch, &v, 1);
        if (r == 0)
            return s_fail(ch, ch->rlen ? -EBADMSG : -ECONNRESET);
        if (r == -ETIMEDOUT)
            return -ETIMEDOUT;
        if (r < 0)
            return s_fail(ch, (int)r);
        ch->rlen += (size_t)r;
    }
    return 0;
}

/* Reads exactly n bytes of the current record into dst: first what rbuf
 * holds, then large reads straight into dst with rbuf catching whatever
 * follows (the tag, the next header), so that a record costs one system
 * call. Every failure is sticky: the record has begun. */
static int s_fill(ssi_chan_t *ch, uint8_t *dst, size_t n)
{
    size_t got = ch->rlen - ch->rpos;
    if (got > n)
        got = n;
    memcpy(dst, ch->rbuf + ch->rpos, got);
    ch->rpos += got;
    while (got < n) {
        ch->rpos = ch->rlen = 0;
        struct iovec v[2] = {{dst + got, n - got}, {ch->rbuf, SSI_CHAN_RBUF}};
        int direct = n - got >= SSI_CHAN_RBUF / 2;
        long r = direct ? s_recv_once(ch, v, 2) : s_recv_once(ch, v + 1, 1);
        if (r == 0)
            return s_fail(ch, -EBADMSG); /* truncated record */
        if (r < 0)
            return s_fail(ch, (int)r);
        size_t k = (size_t)r;
        if (direct) {
            if (k > n - got) {
                ch->rlen = k - (n - got);
                k = n - got;
            }
        } else {
            ch->rlen = k;
            if (k > n - got)
                k = n - got;
            memcpy(dst + got, ch->rbuf, k);
            ch->rpos = k;
        }
        got += k;
    }
    return 0;
}

/* ---- records ------------------------------------------------------- */

/* Seals and sends one record of len bytes from src; in place if inplace. */
static int s_send_record(ssi_chan_t *ch, int type, const void *src, size_t len, int inplace)
{
    if (ch->err)
        return ch->err;
    if (ch->fd < 0)
        return -EBADF;
    if (ch->tx_done)
        return -EPIPE;
    if (len > SSI_CHAN_MAX_RECORD)
        return -EMSGSIZE;
    if (ch->tx_seq >= SSI_CHAN_SEQ_LIMIT)
        return s_fail(ch, -EOVERFLOW);
    struct iovec v[3];
    int iovcnt;
    if (inplace) {
        uint8_t hdr[SSI_CHAN_HEADER], tag[SSI_CHAN_TAG];
        s_header(hdr, (uint32_t)len, type);
        s_seal(ch, hdr, (uint8_t *)src, src, len, tag);
        v[0] = (struct iovec){hdr, SSI_CHAN_HEADER};
        v[1] = (struct iovec){(void *)src, len};
        v[2] = (struct iovec){tag, SSI_CHAN_TAG};
        iovcnt = 3;
        ch->tx_seq++;
        return s_send_all(ch, v, iovcnt);
    }
    uint8_t *t = ch->tbuf;
    s_header(t, (uint32_t)len, type);
    s_seal(ch, t, t + SSI_CHAN_HEADER, src, len, t + SSI_CHAN_HEADER + len);
    v[0] = (struct iovec){t, SSI_CHAN_HEADER + len + SSI_CHAN_TAG};
    ch->tx_seq++;
    return s_send_all(ch, v, 1);
}

/* Receives and opens the next record into buf (at most cap bytes); returns
 * its length and stores its type. */
static long s_recv_record(ssi_chan_t *ch, uint8_t *buf, size_t cap, int *type)
{
    if (ch->err)
        return ch->err;
    if (ch->fd < 0)
        return -EBADF;
    if (ch->rx_seq >= SSI_CHAN_SEQ_LIMIT)
        return s_fail(ch, -EOVERFLOW);
    int r = s_need_header(ch);
    if (r < 0)
        return r;
    uint8_t hdr[SSI_CHAN_HEADER], tag[SSI_CHAN_TAG];
    memcpy(hdr, ch->rbuf + ch->rpos, SSI_CHAN_HEADER);
    ch->rpos += SSI_CHAN_HEADER;
    size_t len = s_get32(hdr);
    /* Not yet authenticated, but no honest peer sends these. */
    if (len > SSI_CHAN_MAX_RECORD || hdr[5] || hdr[6] || hdr[7])
        return s_fail(ch, -EBADMSG);
    if (len > cap)
        return s_fail(ch, -EMSGSIZE);
    if ((r = s_fill(ch, buf, len)) < 0 || (r = s_fill(ch, tag, SSI_CHAN_TAG)) < 0)
        return r;
    if (s_open(ch, hdr, buf, len, tag) < 0)
        return s_fail(ch, -EBADMSG);
    ch->rx_seq++;
    *type = hdr[4];
    return (long)len;
}

/* ---- handshake ----------------------------------------------------- */

static const char *s_hello_label(int role)
{
    return role == SSI_CHAN_INITIATOR ? "ssi-chan/1 hello i2r" : "ssi-chan/1 hello r2i";
}

static int s_set_timeouts(int fd, int timeout_ms)
{
    struct timeval tv = {0, 0};
    if (timeout_ms > 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
    }
    int r = s_setopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (r == 0)
        r = s_setopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return r;
}

/* Sends our hello and checks the peer's; then derives the traffic keys. */
static int s_handshake(ssi_chan_t *ch, const uint8_t *secret)
{
    uint8_t hk[32], plain[S_HELLO_PLAIN];
    uint8_t *t = ch->tbuf;
    int r;

    /* Ours: header | id (clear, the nonce) | sealed payload | tag. */
    memcpy(plain, S_MAGIC, 8);
    plain[8] = 0;
    plain[9] = SSI_CHAN_VERSION;
    plain[10] = (uint8_t)ch->role;
    plain[11] = crypto_aead_aes256gcm_is_available() ? S_FLAG_AES : 0;
    memset(plain + 12, 0, 4);
    s_header(t, S_HELLO_LEN, S_HELLO);
    memcpy(t + SSI_CHAN_HEADER, ch->conn_id, S_ID);
    s_derive(hk, secret, s_hello_label(ch->role), NULL, NULL);
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
        t + SSI_CHAN_HEADER + S_ID, t + SSI_CHAN_HEADER + S_HELLO_LEN, NULL, plain, S_HELLO_PLAIN,
        t, SSI_CHAN_HEADER, NULL, ch->conn_id, hk);
    struct iovec v = {t, SSI_CHAN_HEADER + S_HELLO_LEN + SSI_CHAN_TAG};
    if ((r = s_send_all(ch, &v, 1)) < 0)
        goto out;

    /* Theirs. */
    if ((r = s_need_header(ch)) < 0)
        goto out;
    uint8_t hdr[SSI_CHAN_HEADER], body[S_HELLO_LEN + SSI_CHAN_TAG];
    memcpy(hdr, ch->rbuf + ch->rpos, SSI_CHAN_HEADER);
    ch->rpos += SSI_CHAN_HEADER;
    if (hdr[4] != S_HELLO || s_get32(hdr) != S_HELLO_LEN || hdr[5] || hdr[6] || hdr[7]) {
        r = -EPROTO;
        goto out;
    }
    if ((r = s_fill(ch, body, sizeof body)) < 0)
        goto out;
    memcpy(ch->peer_conn_id, body, S_ID);
    s_derive(hk, secret, s_hello_label(SSI_CHAN_INITIATOR + SSI_CHAN_RESPONDER - ch->role), NULL,
             NULL);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
            plain, NULL, body + S_ID, S_HELLO_PLAIN, body + S_HELLO_LEN, hdr, SSI_CHAN_HEADER,
            ch->peer_conn_id, hk) != 0) {
        r = -EKEYREJECTED; /* another secret, or both ends took one role */
        goto out;
    }
    if (memcmp(plain, S_MAGIC, 8) != 0 || plain[8] != 0 || plain[9] != SSI_CHAN_VERSION ||
        plain[10] == ch->role) {
        r = -EPROTO;
        goto out;
    }
    int aes = crypto_aead_aes256gcm_is_available() && (plain[11] & S_FLAG_AES);
    ch->aead = aes ? SSI_CHAN_AES256GCM : SSI_CHAN_XCHACHA20;

    const uint8_t *id_i = ch->role == SSI_CHAN_INITIATOR ? ch->conn_id : ch->peer_conn_id;
    const uint8_t *id_r = ch->role == SSI_CHAN_INITIATOR ? ch->peer_conn_id : ch->conn_id;
    uint8_t *k_i2r = ch->role == SSI_CHAN_INITIATOR ? ch->tx_key : ch->rx_key;
    uint8_t *k_r2i = ch->role == SSI_CHAN_INITIATOR ? ch->rx_key : ch->tx_key;
    s_derive(k_i2r, secret, "ssi-chan/1 data i2r", id_i, id_r);
    s_derive(k_r2i, secret, "ssi-chan/1 data r2i", id_i, id_r);
    if (aes) {
        crypto_aead_aes256gcm_beforenm(&ch->tx_aes, ch->tx_key);
        crypto_aead_aes256gcm_beforenm(&ch->rx_aes, ch->rx_key);
    }
    r = 0;
out:
    sodium_memzero(hk, sizeof hk);
    sodium_memzero(plain, sizeof plain);
    return r;
}

/* ---- public API ---------------------------------------------------- */

int ssi_chan_init(ssi_chan_t *ch, int fd, const uint8_t key[SSI_CHAN_KEY_BYTES], int role,
                  int timeout_ms)
{
    /* Not the buffers: a memset would touch 260 KiB for nothing. */
    sodium_memzero(ch, offsetof(ssi_chan_t, rbuf));
    ch->fd = -1;
    if (fd < 0 || (role != SSI_CHAN_INITIATOR && role != SSI_CHAN_RESPONDER))
        return -EINVAL;
    long fl = ssi_sys3(SYS_fcntl, fd, F_GETFL, 0);
    if (fl < 0)
        return (int)fl;
    if ((fl & O_NONBLOCK) && (fl = ssi_sys3(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK)) < 0)
        return (int)fl;
    int r = s_set_timeouts(fd, timeout_ms);
    if (r < 0)
        return r;
    ch->fd = fd;
    ch->role = role;
    ch->timeout = timeout_ms;
    for (size_t got = 0; got < S_ID;) {
        long n = ssi_sys3(SYS_getrandom, (long)(ch->conn_id + got), S_ID - got, 0);
        if (n == -EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? (int)n : -EIO;
            goto fail;
        }
        got += (size_t)n;
    }
    if ((r = s_handshake(ch, key)) < 0)
        goto fail;
    return 0;
fail:
    sodium_memzero(ch, offsetof(ssi_chan_t, rbuf));
    ch->fd = -1;
    ch->err = -EBADF;
    return r;
}

int ssi_chan_set_timeout(ssi_chan_t *ch, int timeout_ms)
{
    if (ch->fd < 0)
        return -EBADF;
    int r = s_set_timeouts(ch->fd, timeout_ms);
    if (r == 0)
        ch->timeout = timeout_ms;
    return r;
}

int ssi_chan_send(ssi_chan_t *ch, const void *buf, size_t len)
{
    if (len == 0)
        return -EINVAL;
    return s_send_record(ch, S_MSG, buf, len, 0);
}

ssize_t ssi_chan_recv(ssi_chan_t *ch, void *buf, size_t cap)
{
    if (ch->eof && !ch->err)
        return 0;
    int type = 0;
    long n = s_recv_record(ch, buf, cap, &type);
    if (n < 0)
        return n;
    if (type == S_CLOSE && n == 0) {
        ch->eof = 1;
        return 0;
    }
    if (type != S_MSG || n == 0)
        return s_fail(ch, -EPROTO);
    return n;
}

static int s_write(ssi_chan_t *ch, const uint8_t *p, size_t len, int inplace)
{
    while (len > 0) {
        size_t n = len < SSI_CHAN_MAX_RECORD ? len : SSI_CHAN_MAX_RECORD;
        int r = s_send_record(ch, n == len ? S_BULK_END : S_BULK, p, n, inplace);
        if (r < 0)
            return r;
        p += n;
        len -= n;
    }
    return ch->err;
}

int ssi_chan_write(ssi_chan_t *ch, const void *buf, size_t len)
{
    return s_write(ch, buf, len, 0);
}

int ssi_chan_write_inplace(ssi_chan_t *ch, void *buf, size_t len)
{
    return s_write(ch, buf, len, 1);
}

int ssi_chan_read(ssi_chan_t *ch, void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t off = 0;
    if (ch->err)
        return ch->err;
    while (off < len) {
        int type = 0;
        long n = s_recv_record(ch, p + off, len - off, &type);
        if (n == -EMSGSIZE) /* the sender's bulk is longer: say so */
            return ch->err = -EPROTO;
        if (n < 0)
            return (int)n;
        off += (size_t)n;
        if (n == 0 || !(type == S_BULK_END ? off == len : type == S_BULK && off < len))
            return s_fail(ch, -EPROTO);
    }
    return 0;
}

size_t ssi_chan_pending(const ssi_chan_t *ch)
{
    return ch->rlen - ch->rpos;
}

int ssi_chan_shutdown(ssi_chan_t *ch)
{
    int r = s_send_record(ch, S_CLOSE, ch->tbuf + SSI_CHAN_HEADER, 0, 0);
    if (r < 0)
        return r;
    ch->tx_done = 1;
    ssi_sys2(SYS_shutdown, ch->fd, SHUT_WR);
    return 0;
}

void ssi_chan_close(ssi_chan_t *ch)
{
    int fd = ch->fd;
    sodium_memzero(ch, offsetof(ssi_chan_t, rbuf));
    ch->fd = -1;
    ch->err = -EBADF;
    if (fd >= 0)
        ssi_sys1(SYS_close, fd);
}

/* ---- TCP helpers --------------------------------------------------- */

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
} s_addr_t;

static int s_parse(const char *addr, uint16_t port, s_addr_t *a, int *len)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, addr, &a->in4.sin_addr) == 1) {
        a->in4.sin_family = AF_INET;
        a->in4.sin_port = htons(port);
        *len = sizeof a->in4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, addr, &a->in6.sin6_addr) == 1) {
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = htons(port);
        *len = sizeof a->in6;
        return AF_INET6;
    }
    return -EINVAL;
}

/* Options every channel socket gets; buffers must be set before connect or
 * listen to count in the window scale. */
static void s_tune(int fd)
{
    int one = 1, buf = SSI_CHAN_SOCKBUF;
    s_setopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s_setopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    s_setopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
}

int ssi_chan_listen(const char *addr, uint16_t port, uint16_t *port_out)
{
    s_addr_t a;
    int alen, one = 1;
    int af = s_parse(addr, port, &a, &alen);
    if (af < 0)
        return af;
    long fd = ssi_sys3(SYS_socket, af, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return (int)fd;
    s_setopt((int)fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    s_tune((int)fd);
    long r = ssi_sys3(SYS_bind, fd, (long)&a.sa, alen);
    if (r == 0)
        r = ssi_sys2(SYS_listen, fd, 64);
    if (r == 0 && port_out) {
        socklen_t sl = sizeof a;
        r = ssi_sys3(SYS_getsockname, fd, (long)&a.sa, (long)&sl);
        *port_out = ntohs(af == AF_INET ? a.in4.sin_port : a.in6.sin6_port);
    }
    if (r < 0) {
        ssi_sys1(SYS_close, fd);
        return (int)r;
    }
    return (int)fd;
}

int ssi_chan_accept(int listen_fd, int timeout_ms)
{
    long deadline = timeout_ms > 0 ? s_now_ms() + timeout_ms : 0;
    for (;;) {
        int r = s_poll(listen_fd, POLLIN, deadline);
        if (r < 0)
            return r;
        long fd = ssi_sys4(SYS_accept4, listen_fd, 0, 0, SOCK_CLOEXEC);
        if (fd == -EAGAIN || fd == -EINTR || fd == -ECONNABORTED)
            continue;
        if (fd < 0)
            return (int)fd;
        int one = 1;
        s_setopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return (int)fd;
    }
}

int ssi_chan_connect(const char *addr, uint16_t port, int timeout_ms)
{
    s_addr_t a;
    int alen;
    int af = s_parse(addr, port, &a, &alen);
    if (af < 0)
        return af;
    long fd = ssi_sys3(SYS_socket, af, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return (int)fd;
    s_tune((int)fd);
    long r = ssi_sys3(SYS_connect, fd, (long)&a.sa, alen);
    if (r == -EINPROGRESS) {
        r = s_poll((int)fd, POLLOUT, timeout_ms > 0 ? s_now_ms() + timeout_ms : 0);
        if (r == 0) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            r = ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&soerr, (long)&sl);
            if (r == 0)
                r = -soerr;
        }
    }
    if (r == 0)
        r = ssi_sys3(SYS_fcntl, fd, F_SETFL, 0); /* blocking again */
    if (r < 0) {
        ssi_sys1(SYS_close, fd);
        return (int)r;
    }
    return (int)fd;
}
