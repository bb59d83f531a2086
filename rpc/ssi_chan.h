/* ssi_chan: the secured byte channel of the bulk plane (an image between two
 * ssids) and of the data plane (a body and its deputy): one TCP connection,
 * encrypted and authenticated with a libsodium AEAD, keyed by a 32-byte
 * secret that the two ssids agreed on over the control plane.
 *
 * Safe inside user processes, in signal handlers and with other threads
 * frozen: raw system calls only (ssi_sys.h), no malloc, no stdio, no locks,
 * no errno, no logging. Every function returns >= 0 or -errno.
 * The process must have called sodium_init() once before (the shim and ssid
 * do at start): it picks the fastest AES code for the CPU.
 *
 * Wire format. Every record is an 8-byte header, the ciphertext and a 16-byte
 * tag. The header is the plaintext length (big-endian u32, at most
 * SSI_CHAN_MAX_RECORD), a type byte and three zero bytes; it is the AEAD's
 * additional data. The nonce is not sent: it is the record's number in its
 * direction (a 64-bit counter from 0), so a replayed, reordered, dropped or
 * altered record fails authentication (-EBADMSG).
 *
 * Handshake (ssi_chan_init). Each side sends a HELLO record, sealed with
 * XChaCha20-Poly1305 under a key derived from the secret and the sender's
 * role: magic "SSICHAN1", version, role, whether it has AES-GCM, and a random
 * 24-byte connection id. Both hellos travel at once, so the handshake costs
 * one round trip. A peer with another secret (or the same role) fails here
 * with -EKEYREJECTED. The traffic keys, one per direction, are BLAKE2b of the
 * secret keyed with a direction label and both connection ids, so even a
 * secret mistakenly reused for a second connection never repeats a key and
 * nonce. Records are sealed with AES-256-GCM when both ends have it, else
 * XChaCha20-Poly1305.
 *
 * Errors. -EBADMSG (forged, replayed, reordered, truncated record),
 * -EKEYREJECTED (wrong secret), -EPROTO (not a peer of this version, or the
 * two sides disagree on message/bulk boundaries), -ETIMEDOUT, -ECONNRESET,
 * -EPIPE (dead peer) and a timeout or error inside a record are sticky: the
 * channel refuses all further use with the same error. A timeout while
 * waiting for a record that has not begun to arrive is not sticky.
 *
 * Threads: one thread may send while another receives; two concurrent
 * senders (or receivers) must serialize themselves. */
#ifndef SSI_CHAN_H
#define SSI_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#define SSI_CHAN_VERSION 1
#define SSI_CHAN_KEY_BYTES 32
#define SSI_CHAN_HEADER 8
#define SSI_CHAN_TAG 16
#define SSI_CHAN_MAX_RECORD (256u * 1024) /* plaintext bytes in one record */
#define SSI_CHAN_SEQ_LIMIT (1ull << 63)   /* records per direction, ever */
#define SSI_CHAN_RBUF 4096                /* read-ahead for small records */
#define SSI_CHAN_SOCKBUF (4 << 20)        /* SO_SNDBUF / SO_RCVBUF asked for */

enum ssi_chan_role { SSI_CHAN_INITIATOR = 1, SSI_CHAN_RESPONDER = 2 };
enum ssi_chan_aead { SSI_CHAN_AES256GCM = 1, SSI_CHAN_XCHACHA20 = 2 };

/* Public so that callers can place it without malloc: in static storage or
 * an mmap'd region, never on a small (signal) stack: it is about 262 KiB,
 * mostly the send buffer, whose pages are touched only by large records.
 * Touch no field except through the functions below (tests excepted). */
typedef struct {
    int fd;                   /* owned by the channel from ssi_chan_init on */
    int role;                 /* enum ssi_chan_role */
    int aead;                 /* enum ssi_chan_aead, chosen at the handshake */
    int err;                  /* sticky error (< 0), or 0 */
    int eof;                  /* peer sent CLOSE */
    int tx_done;              /* we sent CLOSE */
    int timeout;              /* ms of peer inactivity before -ETIMEDOUT; <= 0: none */
    uint64_t tx_seq;          /* next record number sent */
    uint64_t rx_seq;          /* next record number expected */
    uint8_t conn_id[24];      /* ours; also our hello's nonce */
    uint8_t peer_conn_id[24]; /* theirs */
    uint8_t tx_key[SSI_CHAN_KEY_BYTES];
    uint8_t rx_key[SSI_CHAN_KEY_BYTES];
    crypto_aead_aes256gcm_state tx_aes; /* expanded keys, when aead is AES */
    crypto_aead_aes256gcm_state rx_aes;
    size_t rpos, rlen; /* unread bytes in rbuf: rbuf[rpos .. rlen) */
    uint8_t rbuf[SSI_CHAN_RBUF];
    uint8_t tbuf[SSI_CHAN_HEADER + SSI_CHAN_MAX_RECORD + SSI_CHAN_TAG];
} ssi_chan_t;

/* Takes the connected stream socket fd, makes it blocking with the given
 * inactivity timeout, and runs the handshake. 0 on success, the channel then
 * owns fd; on failure ch is wiped and the caller still owns (and closes) fd. */
int ssi_chan_init(ssi_chan_t *ch, int fd, const uint8_t key[SSI_CHAN_KEY_BYTES], int role,
                  int timeout_ms);

/* Changes the inactivity timeout (ms; <= 0: wait forever). */
int ssi_chan_set_timeout(ssi_chan_t *ch, int timeout_ms);

/* Message style. Sends buf as one record (1 .. SSI_CHAN_MAX_RECORD bytes;
 * -EMSGSIZE over the maximum, -EINVAL if empty). Returns 0. */
int ssi_chan_send(ssi_chan_t *ch, const void *buf, size_t len);

/* Receives one record sent by ssi_chan_send into buf: returns its length,
 * 0 when the peer has closed the channel with ssi_chan_shutdown, -EMSGSIZE
 * (sticky) if the record is larger than cap. On error the contents of buf
 * are unspecified. */
ssize_t ssi_chan_recv(ssi_chan_t *ch, void *buf, size_t cap);

/* Stream style (bulk). Sends len bytes as a sequence of maximal records;
 * the peer must take them with one ssi_chan_read of the same length.
 * Returns 0. */
int ssi_chan_write(ssi_chan_t *ch, const void *buf, size_t len);

/* Same, but encrypts buf in place, saving a copy: afterwards buf holds
 * ciphertext. For senders that own a scratch buffer (ssid's image pages). */
int ssi_chan_write_inplace(ssi_chan_t *ch, void *buf, size_t len);

/* Receives exactly len bytes sent by one ssi_chan_write of that length,
 * decrypting in place in buf. Returns 0; -EPROTO (sticky) if the sender's
 * length differs; 0-length reads return 0 at once. */
int ssi_chan_read(ssi_chan_t *ch, void *buf, size_t len);

/* Bytes already read from the socket but not yet returned: a caller that
 * polls the fd must call recv without waiting while this is non-zero. */
size_t ssi_chan_pending(const ssi_chan_t *ch);

/* Sends an authenticated end-of-stream (the peer's recv returns 0, while a
 * connection that merely drops gives -ECONNRESET) and stops sending. */
int ssi_chan_shutdown(ssi_chan_t *ch);

/* Wipes the keys and closes the fd. Safe twice and on a failed init. */
void ssi_chan_close(ssi_chan_t *ch);

/* TCP helpers: SOCK_CLOEXEC, TCP_NODELAY, SSI_CHAN_SOCKBUF buffers.
 * addr is a numeric IPv4 or IPv6 address. */

/* A listening socket on addr:port (port 0: an ephemeral port); returns the
 * fd and stores the bound port in *port_out if not NULL. */
int ssi_chan_listen(const char *addr, uint16_t port, uint16_t *port_out);

/* Accepts one connection within timeout_ms (<= 0: wait forever). */
int ssi_chan_accept(int listen_fd, int timeout_ms);

/* Connects to addr:port within timeout_ms (<= 0: the kernel's own limit). */
int ssi_chan_connect(const char *addr, uint16_t port, int timeout_ms);

#endif
