/*
 * ssi_ckpt_away.c - see ssi_ckpt_away.h. A body away holds, for each home
 * file (and directory, datagram socket) the program has open, a /dev/null
 * placeholder at the same number; the vfs-proxy runs its calls on the real
 * descriptor, which the deputy keeps at that number at home. So the
 * checkpoint of a body is its image with those records taken from the
 * deputy: a restart then reopens the home file at the offset the program
 * had, exactly as for a checkpoint taken at home.
 */
#include "ssi_ckpt_away.h"

#include "ssi_image.h"
#include "ssi_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int ssi_ckpt_away_fill_fd(void *rec, pid_t pid, int fd)
{
    ssi_image_fd_t *r = rec;
    uint32_t fd_flags = r->fd_flags;
    char path[64], buf[1024];
    struct stat st;
    ssize_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
    if (stat(path, &st) < 0)
        return -errno;
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->fd_flags = fd_flags;
    r->mode = st.st_mode;
    r->ino = st.st_ino;
    r->dev = st.st_dev;
    r->rdev = st.st_rdev;
    r->kind = ssi_image_fd_kind(st.st_mode);
    n = readlink(path, r->path, sizeof(r->path) - 1);
    if (n < 0)
        return -errno;
    r->path[n] = 0;
    if (strncmp(r->path, "anon_inode:", 11) == 0)
        r->kind = SSI_IMAGE_FD_ANON;
    snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(buf, sizeof(buf), f)) {
        unsigned long long v;
        unsigned o;
        int m;
        if (sscanf(buf, "pos:\t%llu", &v) == 1)
            r->pos = v;
        else if (sscanf(buf, "flags:\t%o", &o) == 1)
            r->fl_flags = o;
        else if (sscanf(buf, "mnt_id:\t%d", &m) == 1)
            r->mnt_id = m;
    }
    fclose(f);
    if (r->kind == SSI_IMAGE_FD_SOCKET) {
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int s = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0) : -1, on = 0;
        socklen_t ol = sizeof(on);
        r->pos = 0;
        if (s >= 0 && getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) == 0 && on)
            r->pos |= SSI_IMAGE_FD_SOCK_LISTENING;
        ol = sizeof(on);
        if (s >= 0 && getsockopt(s, SOL_SOCKET, SO_TYPE, &on, &ol) == 0 && on == SOCK_DGRAM)
            r->pos |= SSI_IMAGE_FD_SOCK_DGRAM;
        if (s >= 0)
            close(s);
        if (pidfd >= 0)
            close(pidfd);
    }
    return 0;
}

/* The body's stand-in for a forwarded descriptor. */
static int s_placeholder(const ssi_image_fd_t *f)
{
    return f->kind == SSI_IMAGE_FD_CHR && major(f->rdev) == 1 && minor(f->rdev) == 3 &&
           strcmp(f->path, "/dev/null") == 0;
}

/* The body's kernel cwd is its sandbox's: its chdir calls ran at home, in
 * the deputy, whose cwd is the one the program sees. A deleted one is
 * recorded as none, as a freeze does (the restart then says so). */
static void s_home_cwd(ssi_image_proc_t *p, pid_t deputy)
{
    char path[64], cwd[sizeof(p->cwd)];
    snprintf(path, sizeof(path), "/proc/%d/cwd", (int)deputy);
    ssize_t n = readlink(path, cwd, sizeof(cwd) - 1);
    if (n <= 0 || n >= (ssize_t)sizeof(cwd) - 1)
        return;
    cwd[n] = 0;
    if (n > 10 && strcmp(cwd + n - 10, " (deleted)") == 0)
        cwd[0] = 0;
    memcpy(p->cwd, cwd, (size_t)n + 1);
}

static int s_read(int fd, void *p, size_t n, ssi_image_check_t *c, uint64_t *got)
{
    int rc = ssi_io_read_full(fd, p, n);
    if (rc < 0)
        ssi_image_check_truncated(c, 0);
    *got += n;
    return rc;
}

int ssi_ckpt_away_copy(int in_fd, pid_t deputy, int out_fd, char *why, size_t cap)
{
    static uint8_t body[SSI_IMAGE_REC_MAX], data[1 << 16];
    ssi_image_check_t c;
    ssi_image_hdr_t ih;
    ssi_image_rec_t r;
    uint64_t got = 0;
    int replaced = 0;

    ssi_image_check_init(&c);
    if (s_read(in_fd, &ih, sizeof(ih), &c, &got) < 0 || ssi_image_check_hdr(&c, &ih) < 0)
        goto bad;
    if (ssi_io_write_full(out_fd, &ih, sizeof(ih)) < 0)
        goto wr;
    do {
        uint64_t left;
        if (s_read(in_fd, &r, sizeof(r), &c, &got) < 0 || ssi_image_check_rec(&c, &r) < 0)
            goto bad;
        if (r.size > sizeof(body) || (r.size && s_read(in_fd, body, r.size, &c, &got) < 0) ||
            ssi_image_check_body(&c, r.size ? body : NULL) < 0)
            goto bad;
        if (r.type == SSI_IMAGE_REC_PROC && r.size >= sizeof(ssi_image_proc_t))
            s_home_cwd((ssi_image_proc_t *)body, deputy);
        if (r.type == SSI_IMAGE_REC_FD && r.size >= sizeof(ssi_image_fd_t) &&
            s_placeholder((const ssi_image_fd_t *)body)) {
            ssi_image_fd_t *f = (ssi_image_fd_t *)body;
            if (ssi_ckpt_away_fill_fd(f, deputy, f->fd) == 0)
                replaced++;
        }
        if (ssi_io_write_full(out_fd, &r, sizeof(r)) < 0 ||
            (r.size && ssi_io_write_full(out_fd, body, r.size) < 0))
            goto wr;
        for (left = r.data_len; left;) {
            size_t k = left < sizeof(data) ? (size_t)left : sizeof(data);
            if (s_read(in_fd, data, k, &c, &got) < 0 || ssi_image_check_data(&c, k) < 0)
                goto bad;
            if (ssi_io_write_full(out_fd, data, k) < 0)
                goto wr;
            left -= k;
        }
    } while (r.type != SSI_IMAGE_REC_END);
    return replaced;
bad:
    snprintf(why, cap, "the body's image is damaged: %s",
             c.why[0] ? c.why : "the stream from the deputy broke");
    return -EBADMSG;
wr:
    snprintf(why, cap, "cannot write the checkpoint: %s", strerror(errno));
    return -EIO;
}
