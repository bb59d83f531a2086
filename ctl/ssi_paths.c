/* ssi_paths: finding ssi's installed files (see ssi_paths.h). */
#include "ssi_paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The next component of *p (skipping "/" runs and "."): its length, 0 at
 * the end; *p moves past it. */
static size_t s_next(const char **p, const char **comp)
{
    for (;;) {
        while (**p == '/')
            (*p)++;
        const char *s = *p;
        while (**p && **p != '/')
            (*p)++;
        size_t n = (size_t)(*p - s);
        if (n == 1 && s[0] == '.')
            continue;
        *comp = s;
        return n;
    }
}

static int s_checked(const char *path)
{
    if (path[0] != '/')
        return -EINVAL;
    const char *p = path, *c;
    size_t n;
    while ((n = s_next(&p, &c)) > 0)
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return -EINVAL;
    return 0;
}

int ssi_paths_rel(const char *from, const char *to, char *out, size_t cap)
{
    if (s_checked(from) < 0 || s_checked(to) < 0)
        return -EINVAL;
    const char *f = from, *t = to, *fc, *tc;
    size_t fn = s_next(&f, &fc), tn = s_next(&t, &tc);
    /* Skip the common leading components. */
    while (fn && tn && fn == tn && memcmp(fc, tc, fn) == 0) {
        fn = s_next(&f, &fc);
        tn = s_next(&t, &tc);
    }
    size_t len = 0;
    out[0] = 0;
    /* One ".." per component left in from, then what is left of to. */
    for (; fn; fn = s_next(&f, &fc)) {
        int w = snprintf(out + len, cap - len, "%s..", len ? "/" : "");
        if (w < 0 || (size_t)w >= cap - len)
            return -ENAMETOOLONG;
        len += (size_t)w;
    }
    for (; tn; tn = s_next(&t, &tc)) {
        int w = snprintf(out + len, cap - len, "%s%.*s", len ? "/" : "", (int)tn, tc);
        if (w < 0 || (size_t)w >= cap - len)
            return -ENAMETOOLONG;
        len += (size_t)w;
    }
    if (len == 0) {
        if (cap < 2)
            return -ENAMETOOLONG;
        strcpy(out, ".");
    }
    return 0;
}

int ssi_paths_self_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return -errno;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -ENOENT;
    *slash = 0;
    if (snprintf(out, cap, "%s", slash == exe ? "/" : exe) >= (int)cap)
        return -ENAMETOOLONG;
    return 0;
}

/* dir is the candidate; 0 (and dir in out) if name there passes access. */
static int s_try(const char *dir, const char *name, int mode, char *out, size_t cap)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    if (access(path, mode) != 0)
        return -ENOENT;
    if (snprintf(out, cap, "%s", dir) >= (int)cap)
        return -ENAMETOOLONG;
    return 0;
}

int ssi_paths_find(const char *self_dir, const char *build_rel, const char *inst_from,
                   const char *inst_to, const char *name, int mode, char *dir, size_t cap)
{
    char cand[PATH_MAX], rel[PATH_MAX];
    if (self_dir && ssi_paths_rel(inst_from, inst_to, rel, sizeof rel) == 0) {
        if (snprintf(cand, sizeof cand, "%s/%s", self_dir, rel) < (int)sizeof cand &&
            s_try(cand, name, mode, dir, cap) == 0)
            return 0;
    }
    if (self_dir && build_rel && strcmp(build_rel, ".") == 0 &&
        s_try(self_dir, name, mode, dir, cap) == 0)
        return 0;
    if (self_dir && build_rel && strcmp(build_rel, ".") != 0) {
        if (snprintf(cand, sizeof cand, "%s/%s", self_dir, build_rel) < (int)sizeof cand &&
            s_try(cand, name, mode, dir, cap) == 0)
            return 0;
    }
    if (s_try(inst_to, name, mode, dir, cap) == 0)
        return 0;
    return -ENOENT;
}
