/*
 * ssi_ckpt_file.h - checkpoint files on disk (format: wire/ssi_ckpt.h):
 * sealing one whose image was just written, and verifying one before it
 * is used. Ordinary libc code with libsodium (helpers, tests).
 */
#ifndef SSI_CKPT_FILE_H
#define SSI_CKPT_FILE_H

#include "ssi_ckpt.h"

#include <stddef.h>

/* fd holds room for the header at offset 0 and the image after it (what
 * a freeze wrote): fills h->image_len and h->hash, writes h at offset 0
 * and fsyncs. 0 or -errno with a sentence in why. */
int ssi_ckpt_file_seal(int fd, ssi_ckpt_hdr_t *h, char *why, size_t cap);

/* Reads and checks the whole file open on fd: the header
 * (ssi_ckpt_check_hdr), the hash of image and header, and the image's own
 * header (ssi_image_check_hdr). Fills h. 0 or -errno (those of
 * ssi_ckpt_check_hdr, -EBADMSG for a hash that does not match, the image
 * checker's for its header, -EIO for a read error) with a sentence in
 * why. */
int ssi_ckpt_file_verify(int fd, ssi_ckpt_hdr_t *h, char *why, size_t cap);

#endif
