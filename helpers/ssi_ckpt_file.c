/*
 * ssi_ckpt_file.c - sealing and verifying checkpoint files (see
 * ssi_ckpt_file.h). The hash is libsodium's crypto_generichash (BLAKE2b)
 * over the image, then the header with its hash zeroed.
 */
#include "ssi_ckpt_file.h"

#include "ssi_image.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CHUNK (1u << 20)

/* The hash of the image at [sizeof(h), sizeof(h) + h->image_len) of fd
 * and of h's hash view, into out. */
static int s_hash(int fd, const ssi_ckpt_hdr_t *h, uint8_t out[SSI_CKPT_HASH_LEN], char *why,
                  size_t cap)
{
    crypto_generichash_state st;
    ssi_ckpt_hdr_t view;
    uint64_t off = sizeof(*h), left = h->image_len;
    uint8_t *buf;
    if (sodium_init() < 0) {
        snprintf(why, cap, "libsodium does not start");
        return -EIO;
    }
    buf = malloc(S_CHUNK);
    if (!buf) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    crypto_generichash_init(&st, NULL, 0, SSI_CKPT_HASH_LEN);
    while (left > 0) {
        size_t want = left < S_CHUNK ? (size_t)left : S_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EPIPE;
            snprintf(why, cap, "cannot read the checkpoint at byte %llu: %s",
                     (unsigned long long)off, n < 0 ? strerror(e) : "it ended early");
            free(buf);
            return n < 0 ? -EIO : -EPIPE;
        }
        crypto_generichash_update(&st, buf, (size_t)n);
        off += (uint64_t)n;
        left -= (uint64_t)n;
    }
    free(buf);
    ssi_ckpt_hash_view(h, &view);
    crypto_generichash_update(&st, (const uint8_t *)&view, sizeof(view));
    crypto_generichash_final(&st, out, SSI_CKPT_HASH_LEN);
    return 0;
}

int ssi_ckpt_file_seal(int fd, ssi_ckpt_hdr_t *h, char *why, size_t cap)
{
    struct stat st;
    int rc;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < sizeof(*h) + sizeof(ssi_image_hdr_t)) {
        snprintf(why, cap, "the checkpoint file holds no image");
        return -EINVAL;
    }
    h->image_len = (uint64_t)st.st_size - sizeof(*h);
    memset(h->hash, 0, sizeof(h->hash));
    rc = s_hash(fd, h, h->hash, why, cap);
    if (rc < 0)
        return rc;
    if (pwrite(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) || fsync(fd) < 0) {
        snprintf(why, cap, "cannot write the checkpoint header: %s", strerror(errno));
        return -EIO;
    }
    return 0;
}

int ssi_ckpt_file_verify(int fd, ssi_ckpt_hdr_t *h, char *why, size_t cap)
{
    struct stat st;
    ssi_image_hdr_t ih;
    ssi_image_check_t c;
    uint8_t hash[SSI_CKPT_HASH_LEN];
    ssize_t n;
    int rc;
    if (fstat(fd, &st) < 0) {
        snprintf(why, cap, "cannot stat the checkpoint: %s", strerror(errno));
        return -EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, cap, "not an ssi checkpoint: not a regular file");
        return -EPROTO;
    }
    memset(h, 0, sizeof(*h));
    n = pread(fd, h, sizeof(*h), 0);
    if (n < 0) {
        snprintf(why, cap, "cannot read the checkpoint: %s", strerror(errno));
        return -EIO;
    }
    rc = ssi_ckpt_check_hdr(h, (uint64_t)st.st_size, why, cap);
    if (rc < 0)
        return rc;
    rc = s_hash(fd, h, hash, why, cap);
    if (rc < 0)
        return rc;
    if (sodium_memcmp(hash, h->hash, sizeof(hash)) != 0) {
        snprintf(why, cap,
                 "corrupt checkpoint: its BLAKE2b hash does not match its contents (the file "
                 "changed after it was written)");
        return -EBADMSG;
    }
    if (pread(fd, &ih, sizeof(ih), sizeof(*h)) != (ssize_t)sizeof(ih)) {
        snprintf(why, cap, "cannot read the image in the checkpoint");
        return -EIO;
    }
    ssi_image_check_init(&c);
    rc = ssi_image_check_hdr(&c, &ih);
    if (rc < 0) {
        snprintf(why, cap, "the image in the checkpoint: %s", c.why);
        return rc;
    }
    if (ih.pid != h->pid) {
        snprintf(why, cap, "corrupt checkpoint: its header says pid %d, its image pid %d", h->pid,
                 ih.pid);
        return -EBADMSG;
    }
    return 0;
}
