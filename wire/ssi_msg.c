/* ssi_msg: encoder and bounds-checked decoder of control frames. Everything a
 * peer sends goes through ssi_msg_parse before anything trusts it. */
#include "ssi_msg.h"

#include <errno.h>
#include <string.h>

static void s_put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t s_get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

void ssi_msg_begin(ssi_msg_writer_t *w, void *buf, size_t cap, int type)
{
    w->buf = buf;
    w->cap = cap;
    w->len = SSI_MSG_HEADER;
    w->err = 0;
    if (cap < SSI_MSG_HEADER || type < 1 || type > SSI_MSG_TYPE_MAX) {
        w->err = -EINVAL;
        return;
    }
    w->buf[0] = 'S';
    w->buf[1] = 'I';
    w->buf[2] = SSI_MSG_VERSION;
    w->buf[3] = (uint8_t)type;
}

/* Reserve a field header and n value bytes; NULL once an error is set. */
static uint8_t *s_field(ssi_msg_writer_t *w, int tag, size_t n)
{
    if (w->err)
        return NULL;
    if (n > SSI_MSG_MAX_FIELD || tag < 1 || tag > 255) {
        w->err = n > SSI_MSG_MAX_FIELD ? -EMSGSIZE : -EINVAL;
        return NULL;
    }
    if (w->len + 3 + n > w->cap || w->len + 3 + n > SSI_MSG_HEADER + SSI_MSG_MAX_BODY) {
        w->err = -EMSGSIZE;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    p[0] = (uint8_t)tag;
    s_put_be(p + 1, n, 2);
    w->len += 3 + n;
    return p + 3;
}

void ssi_msg_put_u64(ssi_msg_writer_t *w, int tag, uint64_t v)
{
    uint8_t *p = s_field(w, tag, 8);
    if (p)
        s_put_be(p, v, 8);
}

void ssi_msg_put_bytes(ssi_msg_writer_t *w, int tag, const void *src, size_t n)
{
    uint8_t *p = s_field(w, tag, n);
    if (p && n)
        memcpy(p, src, n);
}

void ssi_msg_put_str(ssi_msg_writer_t *w, int tag, const char *s)
{
    ssi_msg_put_bytes(w, tag, s, strlen(s));
}

void ssi_msg_put_str_cut(ssi_msg_writer_t *w, int tag, const char *s)
{
    size_t n = strnlen(s, SSI_MSG_MAX_FIELD);
    ssi_msg_put_bytes(w, tag, s, n);
}

size_t ssi_msg_open(ssi_msg_writer_t *w, int tag)
{
    size_t mark = w->len;
    /* Reserve the header now; the length is patched by ssi_msg_close. */
    if (s_field(w, tag, 0) == NULL)
        return 0;
    return mark;
}

void ssi_msg_close(ssi_msg_writer_t *w, size_t mark)
{
    if (w->err)
        return;
    size_t n = w->len - mark - 3;
    if (n > SSI_MSG_MAX_FIELD) {
        w->err = -EMSGSIZE;
        return;
    }
    s_put_be(w->buf + mark + 1, n, 2);
}

long ssi_msg_end(ssi_msg_writer_t *w)
{
    if (w->err)
        return w->err;
    s_put_be(w->buf + 4, w->len - SSI_MSG_HEADER, 4);
    return (long)w->len;
}

long ssi_msg_frame_len(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    if (len < SSI_MSG_HEADER)
        return -EAGAIN;
    if (p[0] != 'S' || p[1] != 'I' || p[2] != SSI_MSG_VERSION)
        return -EPROTO;
    uint64_t body = s_get_be(p + 4, 4);
    if (body > SSI_MSG_MAX_BODY)
        return -EMSGSIZE;
    return (long)(SSI_MSG_HEADER + body);
}

int ssi_msg_version(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    if (len < SSI_MSG_HEADER)
        return -EAGAIN;
    if (p[0] != 'S' || p[1] != 'I')
        return -EPROTO;
    return p[2];
}

long ssi_msg_fields(const uint8_t *p, size_t len, ssi_field_t *out, size_t cap)
{
    size_t off = 0, n = 0;
    while (off < len) {
        if (len - off < 3)
            return -EBADMSG;
        size_t flen = (size_t)s_get_be(p + off + 1, 2);
        if (p[off] == 0)
            return -EBADMSG;
        if (flen > SSI_MSG_MAX_FIELD)
            return -EMSGSIZE;
        if (len - off - 3 < flen)
            return -EBADMSG;
        if (n == cap)
            return -E2BIG;
        out[n].tag = p[off];
        out[n].len = (uint16_t)flen;
        out[n].val = p + off + 3;
        n++;
        off += 3 + flen;
    }
    return (long)n;
}

int ssi_msg_parse(const void *buf, size_t len, ssi_msg_t *m)
{
    const uint8_t *p = buf;
    long total = ssi_msg_frame_len(buf, len);
    if (total == -EAGAIN)
        return -EBADMSG;
    if (total < 0)
        return (int)total;
    if ((size_t)total != len)
        return -EBADMSG;
    if (p[3] < 1 || p[3] > SSI_MSG_TYPE_MAX)
        return -ENOMSG;
    m->type = p[3];
    long n = ssi_msg_fields(p + SSI_MSG_HEADER, len - SSI_MSG_HEADER, m->field, SSI_MSG_MAX_FIELDS);
    if (n < 0)
        return (int)n;
    m->nfields = (size_t)n;
    return 0;
}

const ssi_field_t *ssi_msg_find(const ssi_field_t *f, size_t n, int tag)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].tag == tag)
            return &f[i];
    return NULL;
}

int ssi_field_u64(const ssi_field_t *f, uint64_t *out)
{
    if (f == NULL)
        return -ENOENT;
    if (f->len != 8)
        return -EBADMSG;
    *out = s_get_be(f->val, 8);
    return 0;
}

int ssi_field_str(const ssi_field_t *f, char *dst, size_t cap)
{
    if (f == NULL)
        return -ENOENT;
    if ((size_t)f->len + 1 > cap)
        return -EMSGSIZE;
    if (memchr(f->val, 0, f->len))
        return -EBADMSG;
    memcpy(dst, f->val, f->len);
    dst[f->len] = 0;
    return 0;
}

const char *ssi_msg_type_name(int type)
{
    /* One name per line, so that new messages add lines. */
    /* clang-format off */
    static const char *const names[SSI_MSG_TYPE_MAX + 1] = {
        [SSI_MSG_ERROR] = "ERROR",
        [SSI_MSG_OK] = "OK",
        [SSI_MSG_HEARTBEAT] = "HEARTBEAT",
        [SSI_MSG_GOSSIP] = "GOSSIP",
        [SSI_MSG_REGISTER] = "REGISTER",
        [SSI_MSG_NODES] = "NODES",
        [SSI_MSG_NODES_REP] = "NODES_REP",
        [SSI_MSG_PS] = "PS",
        [SSI_MSG_PS_REP] = "PS_REP",
        [SSI_MSG_MIGRATE] = "MIGRATE",
        [SSI_MSG_MIG_OFFER] = "MIG_OFFER",
        [SSI_MSG_MIG_READY] = "MIG_READY",
        [SSI_MSG_MIG_FAIL] = "MIG_FAIL",
        [SSI_MSG_MIG_BODY] = "MIG_BODY",
        [SSI_MSG_MIG_DONE] = "MIG_DONE",
        [SSI_MSG_BODY_SIGNAL] = "BODY_SIGNAL",
        [SSI_MSG_ADMIN] = "ADMIN",
        [SSI_MSG_ADMIN_DONE] = "ADMIN_DONE",
        [SSI_MSG_EVENT] = "EVENT",
        [SSI_MSG_EVENTS] = "EVENTS",
        [SSI_MSG_EVENTS_REP] = "EVENTS_REP",
        [SSI_MSG_CHECKPOINT] = "CHECKPOINT",
        [SSI_MSG_RECOVERED] = "RECOVERED",
        [SSI_MSG_RECOVERED_ACK] = "RECOVERED_ACK",
        [SSI_MSG_CALLS] = "CALLS",
        [SSI_MSG_MOVE_ASK] = "MOVE_ASK",
        [SSI_MSG_MOVE_ANSWER] = "MOVE_ANSWER",
        [SSI_MSG_GUEST_LOAD] = "GUEST_LOAD",
        [SSI_MSG_HOME_ASK] = "HOME_ASK",
        [SSI_MSG_PIN] = "PIN",
    };
    /* clang-format on */
    if (type < 1 || type > SSI_MSG_TYPE_MAX || !names[type])
        return "unknown";
    return names[type];
}

int ssi_msg_valid_name(const char *name)
{
    size_t n = strnlen(name, 64);
    if (n == 0 || n > 63 || strcmp(name, "home") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

const char *ssi_outcome_name(int outcome)
{
    static const char *const names[SSI_OUTCOME_MAX + 1] = {
        [SSI_OUTCOME_OK] = "ok",         [SSI_OUTCOME_REFUSED] = "refused",
        [SSI_OUTCOME_NODE] = "node",     [SSI_OUTCOME_PERM] = "permission",
        [SSI_OUTCOME_FAILED] = "failed", [SSI_OUTCOME_NOPROC] = "noproc",
        [SSI_OUTCOME_OTHER] = "other",
    };
    return outcome < 0 || outcome > SSI_OUTCOME_MAX ? "other" : names[outcome];
}
