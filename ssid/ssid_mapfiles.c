/*
 * ssid_mapfiles - the files a process maps, checked against the
 * destination's before a move (see the header).
 */
#define SSI_LOG_PREFIX "node"
#include "ssid_mapfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssi_log.h"

/* ---- the hash cache --------------------------------------------------------- */

typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    int64_t ctime_ns; /* mtime can be set back (touch -d); ctime cannot */
    uint8_t hash[32];
    int used;
} s_entry_t;

#define S_CACHE 512
static s_entry_t s_cache[S_CACHE];
static unsigned s_next; /* the slot replaced next */

static int64_t s_mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* The BLAKE2b-256 of open file fd (st: its fstat), from the cache if the
 * same file with the same size and times was hashed before. */
static int s_hash_fd(int fd, const struct stat *st, uint8_t hash[32])
{
    int64_t mt = s_mtime_ns(st);
    int64_t ct = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
    for (unsigned i = 0; i < S_CACHE; i++) {
        s_entry_t *e = &s_cache[i];
        if (e->used && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
            e->mtime_ns == mt && e->ctime_ns == ct) {
            memcpy(hash, e->hash, 32);
            return 0;
        }
    }
    crypto_generichash_state h;
    static uint8_t buf[1 << 16];
    crypto_generichash_init(&h, NULL, 0, 32);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        crypto_generichash_update(&h, buf, (unsigned long long)n);
    }
    crypto_generichash_final(&h, hash, 32);
    s_entry_t *e = &s_cache[s_next++ % S_CACHE];
    *e = (s_entry_t){
        .dev = st->st_dev, .ino = st->st_ino, .size = st->st_size, .mtime_ns = mt, .used = 1};
    memcpy(e->hash, hash, 32);
    return 0;
}

/* ---- home: the list ------------------------------------------------------------ */

static int s_listed(const uint8_t *list, size_t len, const char *path)
{
    size_t plen = strlen(path);
    for (size_t off = 0; off + 2 <= len;) {
        uint16_t flen;
        memcpy(&flen, list + off, 2);
        if (flen == SSID_MAPFILE_FIXED + plen &&
            memcmp(list + off + 2 + SSID_MAPFILE_FIXED, path, plen) == 0)
            return 1;
        off += 2 + flen;
    }
    return 0;
}

int ssid_mapfiles_collect(pid_t pid, uint8_t **out, size_t *len, size_t *n, char *why, size_t cap)
{
    char path[64], line[4352];
    uint8_t *list = NULL;
    size_t used = 0, have = 0, count = 0;
    int rc = 0;
    *out = NULL;
    *len = *n = 0;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(why, cap, "cannot read its memory map: %s", strerror(errno));
        return -errno;
    }
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char range[64] = "", name[4096] = "";
        unsigned long ino = 0;
        if (sscanf(line, "%63s %*s %*s %*s %lu %4095[^\n]", range, &ino, name) < 3 || ino == 0)
            continue;
        char *p = name;
        while (*p == ' ')
            p++;
        size_t plen = strlen(p);
        /* Unlinked files, memfds and SysV segments: their pages move with
         * the image (or the precheck refuses them), no path is reopened. */
        if (p[0] != '/' || (plen > 10 && strcmp(p + plen - 10, " (deleted)") == 0))
            continue;
        if (s_listed(list, used, p))
            continue;
        if (plen > SSI_MSG_MAX_FIELD - SSID_MAPFILE_FIXED) {
            snprintf(why, cap, "it maps a file whose path is too long to check: %.80s...", p);
            rc = -ENAMETOOLONG;
            break;
        }
        if (count == SSID_MAPFILES_MAX) {
            snprintf(why, cap, "it maps more than %d files; at most %d can be checked",
                     SSID_MAPFILES_MAX, SSID_MAPFILES_MAX);
            rc = -E2BIG;
            break;
        }
        /* The bytes the process maps (map_files: the mapped inode itself,
         * even if its path now names another file). */
        char mf[128];
        unsigned long lo = 0, hi = 0;
        sscanf(range, "%lx-%lx", &lo, &hi); /* map_files names have no leading zeros */
        snprintf(mf, sizeof mf, "/proc/%d/map_files/%lx-%lx", (int)pid, lo, hi);
        int fd = open(mf, O_RDONLY | O_CLOEXEC);
        struct stat st;
        uint8_t hash[32];
        if (fd < 0 || fstat(fd, &st) < 0) {
            snprintf(why, cap, "cannot read the file it maps, %s: %s", p, strerror(errno));
            rc = -errno;
        } else if (!S_ISREG(st.st_mode)) {
            close(fd);
            continue; /* a device: the precheck decides */
        } else if (st.st_size > SSID_MAPFILE_HASH_MAX) {
            /* Hashing it would hold this daemon (and its heartbeats) for
             * seconds: the destination checks its size and time only. */
            memset(hash, 0, sizeof hash);
            ssi_warn("process %d maps %s (%lld MiB): too large to hash; a destination checks "
                     "only its size and time",
                     (int)pid, p, (long long)(st.st_size >> 20));
        } else if ((rc = s_hash_fd(fd, &st, hash)) < 0) {
            snprintf(why, cap, "cannot read the file it maps, %s: %s", p, strerror(-rc));
        }
        if (fd >= 0)
            close(fd);
        if (rc < 0)
            break;
        size_t need = used + 2 + SSID_MAPFILE_FIXED + plen;
        if (need > have) {
            size_t nh = have ? have * 2 : 8192;
            while (nh < need)
                nh *= 2;
            uint8_t *nl = realloc(list, nh);
            if (!nl) {
                snprintf(why, cap, "out of memory");
                rc = -ENOMEM;
                break;
            }
            list = nl;
            have = nh;
        }
        uint16_t flen = (uint16_t)(SSID_MAPFILE_FIXED + plen);
        uint64_t size = (uint64_t)st.st_size, mt = (uint64_t)s_mtime_ns(&st);
        memcpy(list + used, &flen, 2);
        memcpy(list + used + 2, hash, 32);
        memcpy(list + used + 2 + 32, &size, 8);
        memcpy(list + used + 2 + 40, &mt, 8);
        memcpy(list + used + 2 + SSID_MAPFILE_FIXED, p, plen);
        used = need;
        count++;
    }
    fclose(f);
    if (rc < 0) {
        free(list);
        return rc;
    }
    *out = list;
    *len = used;
    *n = count;
    return 0;
}

void ssid_mapfiles_put(ssi_msg_writer_t *w, const uint8_t *list, size_t len)
{
    for (size_t off = 0; off + 2 <= len;) {
        uint16_t flen;
        memcpy(&flen, list + off, 2);
        ssi_msg_put_bytes(w, SSI_TAG_MAPFILE, list + off + 2, flen);
        off += 2 + flen;
    }
}

/* ---- destination: the check ------------------------------------------------------ */

int ssid_mapfiles_verify(const ssi_msg_t *m, const char *node, char *why, size_t cap)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const ssi_field_t *fl = &m->field[i];
        if (fl->tag != SSI_TAG_MAPFILE)
            continue;
        if (fl->len <= SSID_MAPFILE_FIXED) {
            snprintf(why, cap, "the offer's list of mapped files is malformed");
            return -1;
        }
        char path[SSI_MSG_MAX_FIELD + 1];
        uint64_t size, mt;
        uint8_t hash[32];
        size_t plen = fl->len - SSID_MAPFILE_FIXED;
        memcpy(path, fl->val + SSID_MAPFILE_FIXED, plen);
        path[plen] = 0;
        if (memchr(path, 0, plen) || path[0] != '/') {
            snprintf(why, cap, "the offer's list of mapped files is malformed");
            return -1;
        }
        memcpy(&size, fl->val + 32, 8);
        memcpy(&mt, fl->val + 40, 8);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            snprintf(why, cap, "the process maps %s, which %s does not have%s%s", path, node,
                     fd < 0 ? ": " : " as a regular file", fd < 0 ? strerror(errno) : "");
            if (fd >= 0)
                close(fd);
            return -1;
        }
        static const uint8_t unhashed[32];
        int rc = 0;
        if ((uint64_t)st.st_size == size && sodium_memcmp(fl->val, unhashed, 32) == 0)
            memset(hash, 0, sizeof hash); /* too large for home to hash */
        else if ((uint64_t)st.st_size == size)
            rc = s_hash_fd(fd, &st, hash);
        close(fd);
        if ((uint64_t)st.st_size != size || rc < 0 || sodium_memcmp(hash, fl->val, 32) != 0) {
            snprintf(why, cap,
                     "the process maps %s, whose bytes on %s differ from home's (install the "
                     "same file there, or move it elsewhere)",
                     path, node);
            return -1;
        }
        if ((uint64_t)s_mtime_ns(&st) != mt) {
            snprintf(why, cap,
                     "the process maps %s, which %s has with the same bytes but another "
                     "modification time (the restore checks it: copy it with its time, e.g. "
                     "cp -p or rsync -t)",
                     path, node);
            return -1;
        }
    }
    return 0;
}
