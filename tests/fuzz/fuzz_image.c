/* fuzz_image: libFuzzer harness of the image stream's checks
 * (wire/ssi_image.c), read as ssi-freeze and the restorer read a stream
 * from a socket: the header, then each record header, its struct and its
 * data (in pieces whose sizes the input's first byte chooses), until END,
 * a refusal or the end of the bytes (a cut stream). Every refusal must
 * leave a sentence for the user. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssi_image.h"

static uint8_t s_body[SSI_IMAGE_REC_MAX] __attribute__((aligned(16)));

static void s_refused(const ssi_image_check_t *c, int rc)
{
    if (rc >= 0 || c->why[0] == '\0' || memchr(c->why, '\0', sizeof c->why) == NULL)
        abort(); /* a refusal without its reason */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ssi_image_check_t c;
    ssi_image_hdr_t h;
    ssi_image_rec_t r;
    size_t off = 1, piece;
    int rc;
    if (size < 1)
        return 0;
    piece = (size_t)data[0] * 13 + 1; /* how much data one read returns */
    ssi_image_check_init(&c);
    if (size - off < sizeof h) {
        s_refused(&c, ssi_image_check_truncated(&c, size - off));
        return 0;
    }
    memcpy(&h, data + off, sizeof h);
    off += sizeof h;
    rc = ssi_image_check_hdr(&c, &h);
    if (rc < 0) {
        s_refused(&c, rc);
        return 0;
    }
    for (;;) {
        if (size - off < sizeof r) {
            s_refused(&c, ssi_image_check_truncated(&c, size - off));
            return 0;
        }
        memcpy(&r, data + off, sizeof r);
        off += sizeof r;
        rc = ssi_image_check_rec(&c, &r);
        if (rc < 0) {
            s_refused(&c, rc);
            return 0;
        }
        /* The checker promised a struct that fits a reader's buffer. */
        if (r.size > sizeof s_body)
            abort();
        if (size - off < r.size) {
            s_refused(&c, ssi_image_check_truncated(&c, size - off));
            return 0;
        }
        memcpy(s_body, data + off, r.size);
        off += r.size;
        rc = ssi_image_check_body(&c, r.size ? s_body : NULL);
        if (rc < 0) {
            s_refused(&c, rc);
            return 0;
        }
        if (c.at == SSI_IMAGE_AT_DONE)
            return 0;
        while (c.at == SSI_IMAGE_AT_DATA) {
            uint64_t left = c.rec.data_len - c.data_got;
            size_t k = left < piece ? (size_t)left : piece;
            if (size - off < k) {
                s_refused(&c, ssi_image_check_truncated(&c, size - off));
                return 0;
            }
            off += k;
            rc = ssi_image_check_data(&c, k);
            if (rc < 0)
                abort(); /* exactly what was owed, never refused */
        }
    }
}
