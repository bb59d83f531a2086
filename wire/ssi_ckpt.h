/*
 * ssi_ckpt.h - a checkpoint file: one migration image (ssi_image.h) kept on
 * disk at the process's home, behind a header that says what it is and
 * lets a reader refuse a file that is truncated, corrupt or not ours.
 *
 *   ssi_ckpt_hdr_t   magic "SSI-CKP\n", format version, sizes, the home
 *                    node, pid, uid and command, and a BLAKE2b-256 hash
 *   image            image_len bytes: the image stream exactly as a
 *                    freeze wrote it (SSI_IMAGE_MAGIC first)
 *
 * The hash (libsodium's crypto_generichash, 32 bytes, no key) covers the
 * image bytes, then the header with its hash field zeroed
 * (ssi_ckpt_hash_view), so a flipped bit anywhere in the file, header
 * included, is seen. Nothing may follow the image.
 *
 * This module is pure (no system calls, no allocation, no libsodium): the
 * header's own checks, each refusal with a sentence. Reading, hashing and
 * writing files is helpers/ssi_ckpt_file.c.
 */
#ifndef SSI_CKPT_H
#define SSI_CKPT_H

#include <stddef.h>
#include <stdint.h>

#define SSI_CKPT_MAGIC 0x0a504b432d495353ULL /* "SSI-CKP\n" */
#define SSI_CKPT_VERSION 1
#define SSI_CKPT_HASH_LEN 32
#define SSI_CKPT_NODE_MAX 64
#define SSI_CKPT_CMD_MAX 256
/* An image larger than this is refused as a header that lies. */
#define SSI_CKPT_IMAGE_MAX (1ULL << 46)

typedef struct {
    uint64_t magic;               /* SSI_CKPT_MAGIC */
    uint32_t version;             /* SSI_CKPT_VERSION */
    uint32_t hdr_size;            /* sizeof(ssi_ckpt_hdr_t) */
    uint64_t image_len;           /* bytes of image after the header */
    uint64_t created;             /* seconds since the epoch */
    int32_t pid;                  /* the process's pid at home */
    uint32_t uid;                 /* its owner */
    uint32_t image_version;       /* SSI_IMAGE_VERSION of the image inside */
    uint32_t flags;               /* 0 */
    double freeze_ms;             /* how long the process was frozen */
    char node[SSI_CKPT_NODE_MAX]; /* the home node, NUL-terminated */
    char cmd[SSI_CKPT_CMD_MAX];   /* the command line, NUL-terminated (may be cut) */
    uint8_t hash[SSI_CKPT_HASH_LEN];
} ssi_ckpt_hdr_t;

_Static_assert(sizeof(ssi_ckpt_hdr_t) % 8 == 0, "ckpt hdr padding");

/* Checks h, read from the start of a file of file_size bytes: magic (an
 * image without a checkpoint header, or anything else, is not a
 * checkpoint), version and header size, the image version this build
 * reads, NUL-terminated strings, a pid, and that the file holds exactly
 * the header and image_len bytes. Returns 0 or -errno with a sentence in
 * why (cap bytes):
 *   -EPROTO           not an ssi checkpoint
 *   -EPROTONOSUPPORT  another checkpoint format or image version
 *   -EBADMSG          a field that is wrong, or bytes after the image
 *   -EPIPE            the file is shorter than its header says (truncated)
 * The hash is the caller's (it needs libsodium). */
int ssi_ckpt_check_hdr(const ssi_ckpt_hdr_t *h, uint64_t file_size, char *why, size_t cap);

/* The bytes the hash covers after the image: h with the hash zeroed. */
void ssi_ckpt_hash_view(const ssi_ckpt_hdr_t *h, ssi_ckpt_hdr_t *out);

/* Fills a fresh header (hash and image_len zero; strings cut to fit). */
void ssi_ckpt_hdr_init(ssi_ckpt_hdr_t *h, const char *node, int32_t pid, uint32_t uid,
                       const char *cmd, uint64_t created);

#endif
