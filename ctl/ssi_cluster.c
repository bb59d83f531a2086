/* ssi_cluster: parser of the cluster file (a strict ZPL subset). */
#include "ssi_cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ssi_msg.h"

struct ssi_cluster_t {
    char name[SSI_NAME_MAX + 1];
    char spool[SSI_SPOOL_MAX + 1]; /* checkpoints' directory; "" = the default */
    unsigned ckpt_every;           /* checkpoint_every = S; 0 = none */
    int sandbox_off;               /* sandbox = off (the default is on) */
    size_t n;
    ssi_balance_conf_t balance;
    ssi_node_conf_t node[SSI_CLUSTER_MAX];
};

/* Index of name, a removed entry included, or -1. */
static int ssi_cluster_index_any(const ssi_cluster_t *self, const char *name)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->node[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void s_err(char *err, size_t errlen, const char *origin, int line, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (err && errlen) {
        if (line > 0)
            snprintf(err, errlen, "%s:%d: %s", origin, line, text);
        else
            snprintf(err, errlen, "%s: %s", origin, text);
    }
}

int ssi_cluster_valid_name(const char *name)
{
    return ssi_msg_valid_name(name);
}

/* tcp://HOST:PORT with a port in 1..65535. */
static int s_valid_endpoint(const char *ep)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    const char *colon = strrchr(ep + 6, ':');
    if (colon == NULL || colon == ep + 6)
        return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return *end == 0 && colon[1] && port > 0 && port < 65536;
}

/* A number in [lo, hi], the whole of text: 0, else -1. */
static int s_number(const char *text, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* One setting under 'balance = ...': 0, or -1 with the reason in err. */
static int s_balance_setting(ssi_balance_conf_t *b, const char *name, const char *value, char *err,
                             size_t errlen, const char *origin, int line)
{
    static const struct {
        const char *name;
        double lo, hi;
        const char *unit;
    } knobs[] = {
        {"period", 100, 600000, "milliseconds"},
        {"margin", 0, 10, "a fraction (0.25: 25%)"},
        {"residence", 0, 3600000, "milliseconds"},
        {"near", 0, 1, "a fraction from 0 to 1"},
        {"bandwidth", 0.01, 1e6, "MB/s"},
        {"io_limit", 0, 1e7, "calls per second"},
        {"call_ms", 0, 1000, "milliseconds"},
        {"mem_min", 0, 1e7, "MiB"},
        {"empty_after", 0, 86400000, "milliseconds"},
        {"moves", 1, 64, "moves per node per period"},
    };
    if (strcmp(name, "consolidate") == 0 || strcmp(name, "place") == 0) {
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            s_err(err, errlen, origin, line, "'%s' is 'on' or 'off', not '%s'", name, value);
            return -1;
        }
        *(name[0] == 'c' ? &b->consolidate : &b->place) = strcmp(value, "on") == 0;
        return 0;
    }
    if (strcmp(name, "empty_command") == 0) {
        if (strlen(value) >= sizeof b->empty_command) {
            s_err(err, errlen, origin, line, "empty_command longer than %zu bytes",
                  sizeof b->empty_command - 1);
            return -1;
        }
        strcpy(b->empty_command, value);
        return 0;
    }
    for (size_t i = 0; i < sizeof knobs / sizeof *knobs; i++) {
        if (strcmp(name, knobs[i].name) != 0)
            continue;
        double v;
        if (s_number(value, knobs[i].lo, knobs[i].hi, &v) < 0) {
            s_err(err, errlen, origin, line, "bad balance %s '%s' (expected %s, %g to %g)", name,
                  value, knobs[i].unit, knobs[i].lo, knobs[i].hi);
            return -1;
        }
        switch (i) {
        case 0: b->period_ms = (unsigned)v; break;
        case 1: b->margin = v; break;
        case 2: b->residence_ms = (unsigned)v; break;
        case 3: b->near = v; break;
        case 4: b->bandwidth = v; break;
        case 5: b->io_limit = v; break;
        case 6: b->call_ms = v; break;
        case 7: b->mem_min = v; break;
        case 8: b->empty_after_ms = (unsigned)v; break;
        default: b->moves = (unsigned)v; break;
        }
        return 0;
    }
    s_err(err, errlen, origin, line,
          "unknown balance setting '%s' (expected period, margin, residence, near, bandwidth, "
          "io_limit, call_ms, mem_min, consolidate, empty_after, empty_command, place or moves)",
          name);
    return -1;
}

/* Split "name = value" (value optional, maybe quoted) in place. */
static int s_split(char *s, char **name, char **value)
{
    char *eq = strchr(s, '=');
    char *v = NULL;
    if (eq) {
        *eq = 0;
        v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
    }
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = 0;
    *name = s;
    if (v) {
        char *ve = v + strlen(v);
        if (*v == '"' || *v == '\'') {
            char q = *v++;
            char *close = strchr(v, q);
            if (close == NULL)
                return -1;
            *close = 0;
            /* Only a comment may follow a quoted value. */
            char *rest = close + 1;
            while (*rest == ' ' || *rest == '\t')
                rest++;
            if (*rest && *rest != '#')
                return -1;
        } else {
            char *hash = strchr(v, '#');
            if (hash)
                ve = hash;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *ve = 0;
        }
    }
    *value = v;
    return 0;
}

ssi_cluster_t *ssi_cluster_parse(const char *text, const char *origin, char *err, size_t errlen)
{
    ssi_cluster_t *self = calloc(1, sizeof *self);
    char *copy = strdup(text);
    if (!self || !copy) {
        s_err(err, errlen, origin, 0, "out of memory");
        goto fail;
    }
    self->balance = (ssi_balance_conf_t){.on = 1,
                                         .period_ms = 500,
                                         .margin = 0.25,
                                         .residence_ms = 3000,
                                         .near = 0.1,
                                         .bandwidth = 50,
                                         .io_limit = 200,
                                         .call_ms = 0.2,
                                         .mem_min = 64,
                                         .empty_after_ms = 60000,
                                         .place = 1,
                                         .moves = 4};
    ssi_node_conf_t *cur = NULL;
    int in_balance = 0, seen_balance = 0;
    int line = 0;
    for (char *l = copy, *next; l; l = next) {
        /* One line at a time, so that empty lines still count. */
        next = strchr(l, '\n');
        if (next)
            *next++ = 0;
        line++;
        size_t len = strlen(l);
        if (len && l[len - 1] == '\r')
            l[--len] = 0;
        int indent = 0;
        while (l[indent] == ' ')
            indent++;
        if (l[indent] == '\t') {
            s_err(err, errlen, origin, line, "tab in indentation (use 4 spaces)");
            goto fail;
        }
        char *body = l + indent;
        if (*body == 0 || *body == '#')
            continue;
        char *name, *value;
        if (s_split(body, &name, &value) < 0) {
            s_err(err, errlen, origin, line, "unterminated or malformed quoted value");
            goto fail;
        }
        if (indent == 0) {
            cur = NULL;
            in_balance = 0;
            if (strcmp(name, "balance") == 0) {
                if (seen_balance) {
                    s_err(err, errlen, origin, line, "'balance' given twice");
                    goto fail;
                }
                if (!value || (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)) {
                    s_err(err, errlen, origin, line, "'balance' is 'on' or 'off', not '%s'",
                          value ? value : "");
                    goto fail;
                }
                self->balance.on = strcmp(value, "on") == 0;
                in_balance = seen_balance = 1;
            } else if (strcmp(name, "cluster") == 0) {
                if (!value || !*value || strlen(value) > SSI_NAME_MAX) {
                    s_err(err, errlen, origin, line, "'cluster' needs a name");
                    goto fail;
                }
                strcpy(self->name, value);
            } else if (strcmp(name, "spool") == 0) {
                if (!value || value[0] != '/' || strlen(value) > SSI_SPOOL_MAX) {
                    s_err(err, errlen, origin, line, "'spool' needs an absolute directory");
                    goto fail;
                }
                strcpy(self->spool, value);
            } else if (strcmp(name, "sandbox") == 0) {
                if (!value || (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)) {
                    s_err(err, errlen, origin, line, "'sandbox' is 'on' or 'off', not '%s'",
                          value ? value : "");
                    goto fail;
                }
                self->sandbox_off = strcmp(value, "off") == 0;
            } else if (strcmp(name, "checkpoint_every") == 0) {
                char *end = NULL;
                unsigned long v = value && *value ? strtoul(value, &end, 10) : 0;
                if (!value || !*value || *end || value[0] == '-' || v > SSI_CKPT_EVERY_MAX) {
                    s_err(err, errlen, origin, line,
                          "'checkpoint_every' is a number of seconds from 0 to %d, not '%s'",
                          SSI_CKPT_EVERY_MAX, value ? value : "");
                    goto fail;
                }
                self->ckpt_every = (unsigned)v;
            } else if (strcmp(name, "node") == 0) {
                if (!value || !ssi_cluster_valid_name(value)) {
                    s_err(
                        err, errlen, origin, line,
                        "bad node name '%s' (letters, digits, '.', '_', '-'; at most %d; not 'home')",
                        value ? value : "", SSI_NAME_MAX);
                    goto fail;
                }
                if (ssi_cluster_index_any(self, value) >= 0) {
                    s_err(err, errlen, origin, line, "node '%s' listed twice", value);
                    goto fail;
                }
                if (self->n == SSI_CLUSTER_MAX) {
                    s_err(err, errlen, origin, line, "more than %d nodes", SSI_CLUSTER_MAX);
                    goto fail;
                }
                cur = &self->node[self->n++];
                strcpy(cur->name, value);
                cur->speed = 1;
            } else {
                s_err(err, errlen, origin, line,
                      "unknown setting '%s' (expected 'cluster', 'spool', 'checkpoint_every', "
                      "'sandbox', 'node' or 'balance')",
                      name);
                goto fail;
            }
        } else if (indent == 4 && in_balance) {
            if (!value || !*value) {
                s_err(err, errlen, origin, line, "'%s' needs a value ('%s = ...')", name, name);
                goto fail;
            }
            if (s_balance_setting(&self->balance, name, value, err, errlen, origin, line) < 0)
                goto fail;
        } else if (indent == 4 && cur) {
            if (!value) {
                s_err(err, errlen, origin, line, "'%s' needs a value ('%s = ...')", name, name);
                goto fail;
            }
            if (strcmp(name, "endpoint") == 0) {
                if (!s_valid_endpoint(value) || strlen(value) > SSI_ENDPOINT_MAX) {
                    s_err(err, errlen, origin, line, "bad endpoint '%s' (expected tcp://HOST:PORT)",
                          value);
                    goto fail;
                }
                strcpy(cur->endpoint, value);
            } else if (strcmp(name, "key") == 0) {
                if (strlen(value) != SSI_KEY_Z85 || !zmq_z85_decode(cur->key_bin, value)) {
                    s_err(
                        err, errlen, origin, line,
                        "bad key for node '%s' (expected the 40-character Z85 public key that 'ssictl keygen' prints)",
                        cur->name);
                    goto fail;
                }
                strcpy(cur->key, value);
            } else if (strcmp(name, "speed") == 0) {
                if (s_number(value, 0.01, 1000, &cur->speed) < 0) {
                    s_err(err, errlen, origin, line,
                          "bad speed '%s' for node '%s' (a relative CPU speed, 0.01 to 1000; 1 "
                          "is the default)",
                          value, cur->name);
                    goto fail;
                }
            } else {
                s_err(err, errlen, origin, line,
                      "unknown node setting '%s' (expected 'endpoint', 'key' or 'speed')", name);
                goto fail;
            }
        } else {
            s_err(err, errlen, origin, line,
                  "unexpected indentation (settings go 4 spaces under 'node = NAME' or "
                  "'balance = on|off')");
            goto fail;
        }
    }
    if (self->n == 0) {
        s_err(err, errlen, origin, 0, "no nodes (add 'node = NAME' entries)");
        goto fail;
    }
    for (size_t i = 0; i < self->n; i++) {
        ssi_node_conf_t *nd = &self->node[i];
        if (!*nd->endpoint || !*nd->key) {
            s_err(err, errlen, origin, 0, "node '%s' lacks %s", nd->name,
                  !*nd->endpoint ? "an endpoint" : "a key");
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (memcmp(self->node[j].key_bin, nd->key_bin, 32) == 0) {
                s_err(err, errlen, origin, 0,
                      "nodes '%s' and '%s' share a key (each node needs its own)",
                      self->node[j].name, nd->name);
                goto fail;
            }
    }
    free(copy);
    return self;
fail:
    free(copy);
    free(self);
    return NULL;
}

ssi_cluster_t *ssi_cluster_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        s_err(err, errlen, path, 0, "cannot open cluster file: %s", strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    char buf[4096];
    size_t n;
    while (mem && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, mem);
    int bad = ferror(f);
    fclose(f);
    if (mem)
        fclose(mem);
    if (!mem || bad) {
        free(text);
        s_err(err, errlen, path, 0, "cannot read cluster file");
        return NULL;
    }
    if (memchr(text, 0, size)) {
        free(text);
        s_err(err, errlen, path, 0, "cluster file holds a NUL byte");
        return NULL;
    }
    ssi_cluster_t *self = ssi_cluster_parse(text, path, err, errlen);
    free(text);
    return self;
}

void ssi_cluster_destroy(ssi_cluster_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

const char *ssi_cluster_name(const ssi_cluster_t *self)
{
    return self->name;
}

unsigned ssi_cluster_checkpoint_every(const ssi_cluster_t *self)
{
    return self->ckpt_every;
}

int ssi_cluster_sandbox(const ssi_cluster_t *self)
{
    return !self->sandbox_off;
}

const char *ssi_cluster_spool(const ssi_cluster_t *self)
{
    return self->spool[0] ? self->spool : SSI_SPOOL_DEFAULT;
}

size_t ssi_cluster_size(const ssi_cluster_t *self)
{
    return self->n;
}

const ssi_node_conf_t *ssi_cluster_node(const ssi_cluster_t *self, size_t i)
{
    return i < self->n ? &self->node[i] : NULL;
}

const ssi_balance_conf_t *ssi_cluster_balance(const ssi_cluster_t *self)
{
    return &self->balance;
}

int ssi_cluster_index(const ssi_cluster_t *self, const char *name)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->node[i].name, name) == 0 && self->node[i].endpoint[0])
            return (int)i;
    return -1;
}

int ssi_cluster_removed(const ssi_cluster_t *self, size_t i)
{
    return i < self->n && !self->node[i].endpoint[0];
}

int ssi_cluster_update(ssi_cluster_t *self, const ssi_cluster_t *fresh,
                       unsigned char what[SSI_CLUSTER_MAX], char *err, size_t errlen)
{
    size_t n = self->n, i, j;
    for (j = 0; j < fresh->n; j++) {
        for (i = 0; i < self->n && strcmp(self->node[i].name, fresh->node[j].name) != 0; i++)
            ;
        if (i == self->n && n == SSI_CLUSTER_MAX) {
            snprintf(err, errlen, "more than %d nodes, removed ones included", SSI_CLUSTER_MAX);
            return -ENOSPC;
        }
        if (i == self->n)
            n++;
    }
    memset(what, SSI_CLUSTER_SAME, SSI_CLUSTER_MAX);
    for (i = 0; i < self->n; i++) {
        ssi_node_conf_t *o = &self->node[i];
        const ssi_node_conf_t *f = ssi_cluster_find(fresh, o->name);
        if (!f) {
            if (o->endpoint[0])
                what[i] = SSI_CLUSTER_REMOVED;
            o->endpoint[0] = 0;
            o->key[0] = 0;
            memset(o->key_bin, 0, sizeof o->key_bin);
        } else if (strcmp(o->endpoint, f->endpoint) || strcmp(o->key, f->key)) {
            what[i] = o->endpoint[0] ? SSI_CLUSTER_CHANGED : SSI_CLUSTER_ADDED;
            *o = *f;
        }
    }
    for (j = 0; j < fresh->n; j++)
        if (ssi_cluster_index_any(self, fresh->node[j].name) < 0) {
            self->node[self->n] = fresh->node[j];
            what[self->n++] = SSI_CLUSTER_ADDED;
        }
    memcpy(self->name, fresh->name, sizeof self->name);
    memcpy(self->spool, fresh->spool, sizeof self->spool);
    self->ckpt_every = fresh->ckpt_every;
    self->sandbox_off = fresh->sandbox_off;
    return 0;
}

const ssi_node_conf_t *ssi_cluster_find(const ssi_cluster_t *self, const char *name)
{
    int i = ssi_cluster_index(self, name);
    return i < 0 ? NULL : &self->node[i];
}

const ssi_node_conf_t *ssi_cluster_find_key(const ssi_cluster_t *self, const unsigned char *key)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->node[i].key[0] && memcmp(self->node[i].key_bin, key, 32) == 0)
            return &self->node[i];
    return NULL;
}
