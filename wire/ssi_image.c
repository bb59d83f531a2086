/*
 * ssi_image.c - the checks every reader of a migration image makes (the
 * format is in ssi_image.h): the header, each record, END's counts, and
 * where a stream that ended early was cut, each refusal with a sentence a
 * user can read.
 *
 * Pure and freestanding: no libc call, no pointer table (the static-pie
 * restorer links it and may have no relocations), no allocation. Used by
 * ssi-restore (restore/) and by the freeze requester (helpers/).
 */
#include "ssi_image.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

/* Index of a known type in c->seen, or -1. */
static int s_kind(uint32_t type)
{
    switch (type) {
    case SSI_IMAGE_REC_THREAD: return 0;
    case SSI_IMAGE_REC_PROC: return 1;
    case SSI_IMAGE_REC_SIG: return 2;
    case SSI_IMAGE_REC_FD: return 3;
    case SSI_IMAGE_REC_VMA: return 4;
    case SSI_IMAGE_REC_PAGES: return 5;
    case SSI_IMAGE_REC_CREDS: return 6;
    case SSI_IMAGE_REC_END: return 7;
    case SSI_IMAGE_REC_CLEAN: return 8;
    case SSI_IMAGE_REC_CAPS: return 9;
    case SSI_IMAGE_REC_GUARD: return 10;
    default: return -1;
    }
}

const char *ssi_image_rec_name(uint32_t type)
{
    switch (type) {
    case SSI_IMAGE_REC_THREAD: return "THREAD";
    case SSI_IMAGE_REC_PROC: return "PROC";
    case SSI_IMAGE_REC_SIG: return "SIG";
    case SSI_IMAGE_REC_FD: return "FD";
    case SSI_IMAGE_REC_VMA: return "VMA";
    case SSI_IMAGE_REC_PAGES: return "PAGES";
    case SSI_IMAGE_REC_CREDS: return "CREDS";
    case SSI_IMAGE_REC_END: return "END";
    case SSI_IMAGE_REC_CLEAN: return "CLEAN";
    case SSI_IMAGE_REC_CAPS: return "CAPS";
    case SSI_IMAGE_REC_GUARD: return "GUARD";
    default: return NULL;
    }
}

/* Size of a known type's struct. */
static uint32_t s_size(uint32_t type)
{
    switch (type) {
    case SSI_IMAGE_REC_THREAD: return sizeof(ssi_image_thread_t);
    case SSI_IMAGE_REC_PROC: return sizeof(ssi_image_proc_t);
    case SSI_IMAGE_REC_SIG: return sizeof(ssi_image_sig_t);
    case SSI_IMAGE_REC_FD: return sizeof(ssi_image_fd_t);
    case SSI_IMAGE_REC_VMA: return sizeof(ssi_image_vma_t);
    case SSI_IMAGE_REC_PAGES: return sizeof(ssi_image_pages_t);
    case SSI_IMAGE_REC_CREDS: return sizeof(ssi_image_creds_t);
    case SSI_IMAGE_REC_CLEAN: return sizeof(ssi_image_pages_t);
    case SSI_IMAGE_REC_CAPS: return sizeof(ssi_image_caps_t);
    case SSI_IMAGE_REC_GUARD: return sizeof(ssi_image_pages_t);
    default: return sizeof(ssi_image_end_t);
    }
}

/* ---- the reason ---------------------------------------------------------- */

static void s_put(char *w, size_t *n, const char *s)
{
    while (*s && *n + 1 < sizeof(((ssi_image_check_t *)0)->why))
        w[(*n)++] = *s++;
    w[*n] = 0;
}

static void s_putu(char *w, size_t *n, uint64_t v, int hex)
{
    char b[24];
    int i = 23;
    b[i] = 0;
    do {
        b[--i] = "0123456789abcdef"[v % (hex ? 16 : 10)];
        v /= hex ? 16 : 10;
    } while (v);
    if (hex)
        s_put(w, n, "0x");
    s_put(w, n, b + i);
}

/* The current record as a user would name it: "VMA record 3", or
 * "record 9 (type 99)" for a type this build does not know. */
static void s_putrec(const ssi_image_check_t *c, char *w, size_t *n)
{
    const char *name = ssi_image_rec_name(c->rec.type);
    if (name) {
        s_put(w, n, name);
        s_put(w, n, " record ");
        s_putu(w, n, c->index, 0);
    } else {
        s_put(w, n, "record ");
        s_putu(w, n, c->nrecords, 0);
        s_put(w, n, " (type ");
        s_putu(w, n, c->rec.type, 0);
        s_put(w, n, ")");
    }
}

/* Writes the reason into c->why and returns err. fmt knows %s (a string),
 * %u and %x (uint64_t) and %r (the current record's name). */
static int s_say(ssi_image_check_t *c, int err, const char *fmt, ...)
{
    va_list ap;
    size_t n = 0;
    char one[2] = {0, 0};
    c->why[0] = 0;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%' || !fmt[1]) {
            one[0] = *fmt;
            s_put(c->why, &n, one);
            continue;
        }
        switch (*++fmt) {
        case 's': s_put(c->why, &n, va_arg(ap, const char *)); break;
        case 'u': s_putu(c->why, &n, va_arg(ap, uint64_t), 0); break;
        case 'x': s_putu(c->why, &n, va_arg(ap, uint64_t), 1); break;
        case 'r': s_putrec(c, c->why, &n); break;
        default:
            one[0] = *fmt;
            s_put(c->why, &n, one);
            break;
        }
    }
    va_end(ap);
    return err;
}

/* ---- the checks ---------------------------------------------------------- */

void ssi_image_check_init(ssi_image_check_t *c)
{
    unsigned char *p = (unsigned char *)c;
    size_t i;
    for (i = 0; i < sizeof(*c); i++)
        p[i] = 0;
    c->at = SSI_IMAGE_AT_HDR;
}

int ssi_image_check_hdr(ssi_image_check_t *c, const ssi_image_hdr_t *h)
{
    if (c->at != SSI_IMAGE_AT_HDR)
        return s_say(c, -EINVAL, "image header checked twice");
    if (h->magic != SSI_IMAGE_MAGIC)
        return s_say(c, -EPROTO, "not an ssi image (bad magic)");
    if (h->version != SSI_IMAGE_VERSION)
        return s_say(c, -EPROTONOSUPPORT, "unknown image version %u (this build reads %u)",
                     (uint64_t)h->version, (uint64_t)SSI_IMAGE_VERSION);
    if (h->hdr_size != sizeof(*h))
        return s_say(c, -EPROTONOSUPPORT, "image header of %u bytes (this build's has %u)",
                     (uint64_t)h->hdr_size, (uint64_t)sizeof(*h));
    if (h->arch != SSI_IMAGE_ARCH_X86_64)
        return s_say(c, -ENOEXEC, "image is for machine %u, this build restores x86-64 (%u)",
                     (uint64_t)h->arch, (uint64_t)SSI_IMAGE_ARCH_X86_64);
    if (h->page_size != SSI_IMAGE_PAGE_SIZE)
        return s_say(c, -ENOEXEC, "image has pages of %u bytes, this build %u",
                     (uint64_t)h->page_size, (uint64_t)SSI_IMAGE_PAGE_SIZE);
    if (h->nthreads < 1 || h->nthreads > SSI_IMAGE_MAX_THREADS)
        return s_say(c, -EBADMSG, "image header counts %u threads (1 to %u)", (uint64_t)h->nthreads,
                     (uint64_t)SSI_IMAGE_MAX_THREADS);
    if (h->nvmas < 1 || h->nvmas > SSI_IMAGE_MAX_VMAS)
        return s_say(c, -EBADMSG, "image header counts %u VMAs (1 to %u)", (uint64_t)h->nvmas,
                     (uint64_t)SSI_IMAGE_MAX_VMAS);
    if (h->nfds > SSI_IMAGE_MAX_FDS)
        return s_say(c, -EBADMSG, "image header counts %u descriptors (at most %u)",
                     (uint64_t)h->nfds, (uint64_t)SSI_IMAGE_MAX_FDS);
    c->nthreads = h->nthreads;
    c->nvmas = h->nvmas;
    c->nfds = h->nfds;
    c->at = SSI_IMAGE_AT_REC;
    return 0;
}

/* How many records of a type the header allows; 0: any number. */
static uint32_t s_most(const ssi_image_check_t *c, uint32_t type)
{
    switch (type) {
    case SSI_IMAGE_REC_THREAD: return c->nthreads;
    case SSI_IMAGE_REC_PROC: return 1;
    case SSI_IMAGE_REC_CREDS: return 1;
    case SSI_IMAGE_REC_CAPS: return 1;
    case SSI_IMAGE_REC_VMA: return c->nvmas;
    case SSI_IMAGE_REC_FD: return c->nfds;
    default: return 0;
    }
}

int ssi_image_check_rec(ssi_image_check_t *c, const ssi_image_rec_t *r)
{
    int k = s_kind(r->type);
    if (c->at == SSI_IMAGE_AT_DONE)
        return s_say(c, -EBADMSG, "a record after the image's END");
    if (c->at != SSI_IMAGE_AT_REC)
        return s_say(c, -EINVAL, "image record header out of turn");
    c->rec = *r;
    c->data_got = 0;
    c->at = SSI_IMAGE_AT_BODY;
    if (r->type != SSI_IMAGE_REC_END)
        c->nrecords++;
    if (k < 0) {
        c->index = 0;
        if (r->type == 0)
            return s_say(c, -EBADMSG, "record %u of the image has type 0", c->nrecords);
        if (r->type & SSI_IMAGE_REC_MUST)
            return s_say(c, -EBADMSG, "%r is of a kind this build does not know and may not skip");
        if (r->size > SSI_IMAGE_REC_MAX)
            return s_say(c, -EBADMSG, "%r has %u bytes (at most %u)", (uint64_t)r->size,
                         (uint64_t)SSI_IMAGE_REC_MAX);
        if (r->data_len > SSI_IMAGE_SKIP_MAX)
            return s_say(c, -EBADMSG, "%r carries %u data bytes (at most %u)", r->data_len,
                         (uint64_t)SSI_IMAGE_SKIP_MAX);
        return 0;
    }
    c->index = ++c->seen[k];
    if (r->size != s_size(r->type))
        return s_say(c, -EBADMSG, "%r has %u bytes, this build's has %u", (uint64_t)r->size,
                     (uint64_t)s_size(r->type));
    if (s_most(c, r->type) && c->index > s_most(c, r->type))
        return s_say(c, -EBADMSG, "%r: more %s records than the header's %u",
                     ssi_image_rec_name(r->type), (uint64_t)s_most(c, r->type));
    if (r->type == SSI_IMAGE_REC_THREAD) {
        if (r->data_len > SSI_IMAGE_XSAVE_MAX)
            return s_say(c, -EBADMSG, "%r carries %u XSAVE bytes (at most %u)", r->data_len,
                         (uint64_t)SSI_IMAGE_XSAVE_MAX);
    } else if (r->type == SSI_IMAGE_REC_PAGES) {
        if (r->data_len > SSI_IMAGE_ADDR_LIMIT)
            return s_say(c, -EBADMSG, "%r carries %u bytes, more than an address space",
                         r->data_len);
        c->page_bytes += r->data_len;
    } else if (r->data_len) {
        return s_say(c, -EBADMSG, "%r carries %u data bytes; it has none", r->data_len);
    }
    return 0;
}

/* END: its own counts against what came, then what must have come. */
static int s_check_end(ssi_image_check_t *c, const ssi_image_end_t *e)
{
    static const uint32_t types[] = {SSI_IMAGE_REC_THREAD, SSI_IMAGE_REC_PROC, SSI_IMAGE_REC_VMA,
                                     SSI_IMAGE_REC_FD};
    unsigned i;
    if (e->nrecords != c->nrecords)
        return s_say(c, -EBADMSG, "END counts %u records, the image has %u", e->nrecords,
                     c->nrecords);
    if (e->page_bytes != c->page_bytes)
        return s_say(c, -EBADMSG, "END counts %u page bytes, the image has %u", e->page_bytes,
                     c->page_bytes);
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        uint32_t t = types[i], want = s_most(c, t), got = c->seen[s_kind(t)];
        if (got != want)
            return s_say(c, -EBADMSG, "image incomplete: %u %s records, %u expected", (uint64_t)got,
                         ssi_image_rec_name(t), (uint64_t)want);
    }
    return 0;
}

int ssi_image_check_body(ssi_image_check_t *c, const void *body)
{
    const uint64_t page = SSI_IMAGE_PAGE_SIZE;
    int rc = 0;
    if (c->at != SSI_IMAGE_AT_BODY)
        return s_say(c, -EINVAL, "image record body out of turn");
    switch (c->rec.type) {
    case SSI_IMAGE_REC_THREAD: {
        const ssi_image_thread_t *t = body;
        if (t->xsave_size != c->rec.data_len)
            rc = s_say(c, -EBADMSG, "%r says %u XSAVE bytes but carries %u",
                       (uint64_t)t->xsave_size, c->rec.data_len);
        break;
    }
    case SSI_IMAGE_REC_PROC: {
        const ssi_image_proc_t *p = body;
        if (p->auxv_size > sizeof(p->auxv))
            rc = s_say(c, -EBADMSG, "%r has %u bytes of auxv (at most %u)", (uint64_t)p->auxv_size,
                       (uint64_t)sizeof(p->auxv));
        break;
    }
    case SSI_IMAGE_REC_CREDS: {
        const ssi_image_creds_t *cr = body;
        if (cr->ngroups > SSI_IMAGE_NGROUPS)
            rc = s_say(c, -EBADMSG, "%r has %u groups (at most %u)", (uint64_t)cr->ngroups,
                       (uint64_t)SSI_IMAGE_NGROUPS);
        break;
    }
    case SSI_IMAGE_REC_CAPS: {
        const ssi_image_caps_t *k = body;
        if (k->last_cap > 63)
            rc = s_say(c, -EBADMSG, "%r knows capabilities up to %u (at most 63)",
                       (uint64_t)k->last_cap);
        break;
    }
    case SSI_IMAGE_REC_SIG: {
        const ssi_image_sig_t *s = body;
        if (s->signo < 1 || s->signo > SSI_IMAGE_NSIG)
            rc = s_say(c, -EBADMSG, "%r holds signal %u (1 to %u)", (uint64_t)(int64_t)s->signo,
                       (uint64_t)SSI_IMAGE_NSIG);
        break;
    }
    case SSI_IMAGE_REC_FD: {
        const ssi_image_fd_t *f = body;
        if (f->fd < 0)
            rc = s_say(c, -EBADMSG, "%r has a negative descriptor number");
        break;
    }
    case SSI_IMAGE_REC_VMA: {
        const ssi_image_vma_t *v = body;
        if (v->start >= v->end || (v->start | v->end) & (page - 1) || v->end > SSI_IMAGE_ADDR_LIMIT)
            rc = s_say(c, -EBADMSG, "%r (%x-%x) is empty or not page aligned", v->start, v->end);
        else if (v->start < c->vma_end)
            rc = s_say(c, -EBADMSG, "%r (%x-%x) overlaps or precedes the VMA before it", v->start,
                       v->end);
        else
            c->vma_end = v->end;
        break;
    }
    case SSI_IMAGE_REC_PAGES: {
        const ssi_image_pages_t *pg = body;
        if (pg->len != c->rec.data_len)
            rc = s_say(c, -EBADMSG, "%r says %u bytes but carries %u", pg->len, c->rec.data_len);
        else if ((pg->addr | pg->len) & (page - 1) || pg->addr > SSI_IMAGE_ADDR_LIMIT ||
                 pg->len > SSI_IMAGE_ADDR_LIMIT - pg->addr)
            rc = s_say(c, -EBADMSG, "%r (%x, %u bytes) is not page aligned or past user memory",
                       pg->addr, pg->len);
        break;
    }
    case SSI_IMAGE_REC_CLEAN:
    case SSI_IMAGE_REC_GUARD: {
        const ssi_image_pages_t *pg = body;
        if (!pg->len || (pg->addr | pg->len) & (page - 1) || pg->addr > SSI_IMAGE_ADDR_LIMIT ||
            pg->len > SSI_IMAGE_ADDR_LIMIT - pg->addr)
            rc = s_say(c, -EBADMSG,
                       "%r (%x, %u bytes) is empty, not page aligned or past user memory", pg->addr,
                       pg->len);
        break;
    }
    case SSI_IMAGE_REC_END:
        rc = s_check_end(c, body);
        if (rc == 0)
            c->at = SSI_IMAGE_AT_DONE;
        return rc;
    default: /* a type this build skips */ break;
    }
    if (rc == 0)
        c->at = c->rec.data_len ? SSI_IMAGE_AT_DATA : SSI_IMAGE_AT_REC;
    return rc;
}

int ssi_image_check_data(ssi_image_check_t *c, uint64_t n)
{
    if (c->at != SSI_IMAGE_AT_DATA || n > c->rec.data_len - c->data_got)
        return s_say(c, -EINVAL, "image record data out of turn");
    c->data_got += n;
    if (c->data_got == c->rec.data_len)
        c->at = SSI_IMAGE_AT_REC;
    return 0;
}

int ssi_image_check_truncated(ssi_image_check_t *c, uint64_t got)
{
    switch (c->at) {
    case SSI_IMAGE_AT_HDR:
        if (!got)
            return s_say(c, -EPIPE, "image truncated: the stream is empty");
        return s_say(c, -EPIPE, "image truncated in its header (%u of %u bytes)", got,
                     (uint64_t)sizeof(ssi_image_hdr_t));
    case SSI_IMAGE_AT_DATA:
        return s_say(c, -EPIPE, "image truncated in the data of %r (%u of %u bytes)",
                     c->data_got + got, c->rec.data_len);
    case SSI_IMAGE_AT_REC:
        if (got)
            return s_say(c, -EPIPE, "image truncated in the header of record %u", c->nrecords + 1);
        if (!c->nrecords)
            return s_say(c, -EPIPE, "image truncated after its header: no records");
        return s_say(c, -EPIPE, "image truncated after record %u: no END record", c->nrecords);
    case SSI_IMAGE_AT_BODY: return s_say(c, -EPIPE, "image truncated in %r");
    default: return s_say(c, -EPIPE, "image stream read past its END record");
    }
}
