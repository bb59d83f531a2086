/*
 * ssi_ckpt.c - the checks of a checkpoint file's header (format in
 * ssi_ckpt.h), each refusal with a sentence. Pure: no system calls, no
 * allocation.
 */
#include "ssi_ckpt.h"

#include "ssi_image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 4, 5))) static int s_refuse(int err, char *why, size_t cap,
                                                          const char *fmt, ...)
{
    va_list ap;
    if (why && cap) {
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return -err;
}

static int s_terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

int ssi_ckpt_check_hdr(const ssi_ckpt_hdr_t *h, uint64_t file_size, char *why, size_t cap)
{
    if (file_size < sizeof(h->magic))
        return s_refuse(EPROTO, why, cap,
                        "not an ssi checkpoint: the file has %llu bytes, too few for a header",
                        (unsigned long long)file_size);
    if (h->magic == SSI_IMAGE_MAGIC)
        return s_refuse(EPROTO, why, cap,
                        "not an ssi checkpoint: a bare migration image without a checkpoint "
                        "header (made by ssi-freeze, not by ssictl checkpoint)");
    if (h->magic != SSI_CKPT_MAGIC)
        return s_refuse(
            EPROTO, why, cap,
            "not an ssi checkpoint (it does not start with \"SSI-CKP\"; first bytes %016llx)",
            (unsigned long long)h->magic);
    if (file_size < 16)
        return s_refuse(EPIPE, why, cap,
                        "checkpoint truncated: %llu bytes, not even its header (%llu)",
                        (unsigned long long)file_size, (unsigned long long)sizeof(*h));
    if (h->version != SSI_CKPT_VERSION)
        return s_refuse(EPROTONOSUPPORT, why, cap,
                        "checkpoint format version %llu (this build reads %llu)",
                        (unsigned long long)h->version, (unsigned long long)SSI_CKPT_VERSION);
    if (h->hdr_size != sizeof(*h))
        return s_refuse(EPROTONOSUPPORT, why, cap,
                        "checkpoint header of %llu bytes (this build's is %llu)",
                        (unsigned long long)h->hdr_size, (unsigned long long)sizeof(*h));
    if (file_size < sizeof(*h))
        return s_refuse(EPIPE, why, cap,
                        "checkpoint truncated: %llu bytes, not even its header (%llu)",
                        (unsigned long long)file_size, (unsigned long long)sizeof(*h));
    if (h->image_version != SSI_IMAGE_VERSION)
        return s_refuse(EPROTONOSUPPORT, why, cap,
                        "the checkpoint holds an image of version %llu (this build reads %llu)",
                        (unsigned long long)h->image_version,
                        (unsigned long long)SSI_IMAGE_VERSION);
    if (!s_terminated(h->node, sizeof(h->node)) || !s_terminated(h->cmd, sizeof(h->cmd)))
        return s_refuse(EBADMSG, why, cap,
                        "corrupt checkpoint header: its node or command is not a string");
    if (h->pid <= 0 || h->flags != 0)
        return s_refuse(EBADMSG, why, cap, "corrupt checkpoint header: pid %lld, flags %llu",
                        (long long)h->pid, (unsigned long long)h->flags);
    if (h->image_len < sizeof(ssi_image_hdr_t) || h->image_len > SSI_CKPT_IMAGE_MAX)
        return s_refuse(EBADMSG, why, cap, "corrupt checkpoint header: an image of %llu bytes",
                        (unsigned long long)h->image_len);
    if (file_size - sizeof(*h) < h->image_len)
        return s_refuse(
            EPIPE, why, cap, "checkpoint truncated: it has %llu bytes of its %llu-byte image",
            (unsigned long long)(file_size - sizeof(*h)), (unsigned long long)h->image_len);
    if (file_size - sizeof(*h) > h->image_len)
        return s_refuse(EBADMSG, why, cap,
                        "corrupt checkpoint: %llu bytes after its %llu-byte image",
                        (unsigned long long)(file_size - sizeof(*h) - h->image_len),
                        (unsigned long long)h->image_len);
    return 0;
}

void ssi_ckpt_hash_view(const ssi_ckpt_hdr_t *h, ssi_ckpt_hdr_t *out)
{
    memcpy(out, h, sizeof(*out));
    memset(out->hash, 0, sizeof(out->hash));
}

void ssi_ckpt_hdr_init(ssi_ckpt_hdr_t *h, const char *node, int32_t pid, uint32_t uid,
                       const char *cmd, uint64_t created)
{
    memset(h, 0, sizeof(*h));
    h->magic = SSI_CKPT_MAGIC;
    h->version = SSI_CKPT_VERSION;
    h->hdr_size = sizeof(*h);
    h->image_version = SSI_IMAGE_VERSION;
    h->pid = pid;
    h->uid = uid;
    h->created = created;
    snprintf(h->node, sizeof(h->node), "%s", node ? node : "");
    snprintf(h->cmd, sizeof(h->cmd), "%s", cmd ? cmd : "");
}
