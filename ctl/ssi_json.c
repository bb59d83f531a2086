/* ssi_json: the JSON writer of the tools; the escaping rules are in
 * ssi_json.h. */
#include "ssi_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ssi_json_t {
    char *buf;
    size_t len, cap;
    int err;
    int depth;
    char kind[SSI_JSON_MAX_DEPTH];    /* '[' or '{' of each open level */
    size_t count[SSI_JSON_MAX_DEPTH]; /* values (or members) written in it */
    int key_due;                      /* a key was written, its value is due */
    int top_done;                     /* the one top-level value is written */
};

ssi_json_t *ssi_json_new(void)
{
    ssi_json_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->cap = 256;
    j->buf = malloc(j->cap);
    if (!j->buf) {
        free(j);
        return NULL;
    }
    j->buf[0] = 0;
    return j;
}

void ssi_json_destroy(ssi_json_t **pj)
{
    if (!pj || !*pj)
        return;
    free((*pj)->buf);
    free(*pj);
    *pj = NULL;
}

static void s_fail(ssi_json_t *j, int err)
{
    if (!j->err)
        j->err = err;
}

/* Appends n bytes, keeping the text NUL-terminated. */
static void s_put(ssi_json_t *j, const void *p, size_t n)
{
    if (j->err)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap;
        while (j->len + n + 1 > cap)
            cap *= 2;
        char *b = realloc(j->buf, cap);
        if (!b) {
            s_fail(j, -ENOMEM);
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, p, n);
    j->len += n;
    j->buf[j->len] = 0;
}

static void s_putc(ssi_json_t *j, char c)
{
    s_put(j, &c, 1);
}

/* Length of the well-formed UTF-8 sequence at p (2 to 4), or 0 if the
 * bytes there are not one (RFC 3629, table 3-7 of the Unicode standard). */
static size_t s_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len, i;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4;
    else
        return 0; /* ASCII, a continuation byte, C0, C1, F5..FF */
    if (p[0] == 0xe0)
        lo = 0xa0; /* shorter forms are overlong */
    else if (p[0] == 0xed)
        hi = 0x9f; /* D800..DFFF are surrogates */
    else if (p[0] == 0xf0)
        lo = 0x90; /* overlong */
    else if (p[0] == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (n < len)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

/* Writes s[0, n) as a JSON string, quotes included. */
static void s_string(ssi_json_t *j, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run;
    s_putc(j, '"');
    while (i < n) {
        unsigned char c = s[i];
        /* Copy plain ASCII in runs. */
        for (run = 0; i + run < n; run++) {
            c = s[i + run];
            if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
                break;
        }
        if (run) {
            s_put(j, s + i, run);
            i += run;
            continue;
        }
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            s_put(j, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            s_put(j, e, 6);
            i++;
        } else {
            size_t len = s_utf8_len(s + i, n - i);
            if (len) {
                s_put(j, s + i, len);
                i += len;
            } else {
                s_put(j, "\\ufffd", 6);
                i++;
            }
        }
    }
    s_putc(j, '"');
}

/* Before a value: the comma in an array, the key in an object. */
static int s_value(ssi_json_t *j)
{
    if (j->err)
        return -1;
    if (j->depth == 0) {
        if (j->top_done) {
            s_fail(j, -EINVAL);
            return -1;
        }
        j->top_done = 1;
        return 0;
    }
    if (j->kind[j->depth - 1] == '{') {
        if (!j->key_due) {
            s_fail(j, -EINVAL);
            return -1;
        }
        j->key_due = 0;
        return 0;
    }
    if (j->count[j->depth - 1]++)
        s_putc(j, ',');
    return 0;
}

static void s_open(ssi_json_t *j, char kind)
{
    if (s_value(j) < 0)
        return;
    if (j->depth == SSI_JSON_MAX_DEPTH) {
        s_fail(j, -EINVAL);
        return;
    }
    j->kind[j->depth] = kind;
    j->count[j->depth] = 0;
    j->depth++;
    s_putc(j, kind);
}

static void s_close(ssi_json_t *j, char kind)
{
    if (j->err)
        return;
    if (j->depth == 0 || j->kind[j->depth - 1] != kind || j->key_due) {
        s_fail(j, -EINVAL);
        return;
    }
    j->depth--;
    s_putc(j, kind == '[' ? ']' : '}');
}

void ssi_json_array_begin(ssi_json_t *j)
{
    s_open(j, '[');
}

void ssi_json_array_end(ssi_json_t *j)
{
    s_close(j, '[');
}

void ssi_json_object_begin(ssi_json_t *j)
{
    s_open(j, '{');
}

void ssi_json_object_end(ssi_json_t *j)
{
    s_close(j, '{');
}

void ssi_json_key(ssi_json_t *j, const char *key)
{
    if (j->err)
        return;
    if (j->depth == 0 || j->kind[j->depth - 1] != '{' || j->key_due) {
        s_fail(j, -EINVAL);
        return;
    }
    if (j->count[j->depth - 1]++)
        s_putc(j, ',');
    s_string(j, (const unsigned char *)key, strlen(key));
    s_putc(j, ':');
    j->key_due = 1;
}

void ssi_json_strn(ssi_json_t *j, const void *s, size_t n)
{
    if (s_value(j) == 0)
        s_string(j, s, n);
}

void ssi_json_str(ssi_json_t *j, const char *s)
{
    ssi_json_strn(j, s, strlen(s));
}

void ssi_json_u64(ssi_json_t *j, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    if (s_value(j) == 0)
        s_put(j, b, (size_t)n);
}

void ssi_json_fixed(ssi_json_t *j, double v, int decimals)
{
    char b[352]; /* DBL_MAX in full, with up to 17 decimals */
    int n;
    if (s_value(j) < 0)
        return;
    if (!isfinite(v)) {
        s_put(j, "null", 4);
        return;
    }
    if (decimals < 0 || decimals > 17)
        decimals = 17;
    n = snprintf(b, sizeof b, "%.*f", decimals, v);
    if (n < 0 || (size_t)n >= sizeof b) {
        s_fail(j, -EINVAL);
        return;
    }
    s_put(j, b, (size_t)n);
}

void ssi_json_envelope_begin(ssi_json_t *j, uint64_t format)
{
    ssi_json_object_begin(j);
    ssi_json_key(j, "format");
    ssi_json_u64(j, format);
    ssi_json_key(j, "data");
}

void ssi_json_envelope_end(ssi_json_t *j, const char *const *missing, size_t n)
{
    ssi_json_key(j, "missing");
    ssi_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        ssi_json_str(j, missing[i]);
    ssi_json_array_end(j);
    ssi_json_object_end(j);
}

int ssi_json_error(const ssi_json_t *j)
{
    return j->err;
}

const char *ssi_json_text(const ssi_json_t *j, size_t *len)
{
    if (j->err)
        return NULL;
    if (len)
        *len = j->len;
    return j->buf;
}
