/*
 * ssi_ckpt.c - `ssi-ckpt`: checkpoint files (wire/ssi_ckpt.h) written and
 * used at a process's home. ssid runs `save` for `ssictl checkpoint`;
 * `ssirun --restart` runs `restart`.
 *
 *   ssi-ckpt save [--node NAME] [--away] [--cmd CMD] [-d DIR] PID FILE
 *     Freezes PID (a libssi.so process at home) for as long as its image
 *     takes to write, lets it run on (verdict 'C'), and writes FILE: the
 *     header, then the image. With --away PID is the deputy of a body that
 *     runs on another node: the deputy has its agent freeze the body and
 *     send the image home, which is written with the deputy's real
 *     descriptors in place of the body's placeholders (ssi_ckpt_away.c);
 *     CMD is the command ssid knows (the deputy's memory is released). The
 *     header, then the image. The file is made as the process's owner
 *     (fsuid), under a temporary name, sealed (hash), fsync'ed and renamed:
 *     FILE is either the whole checkpoint or untouched.
 *
 *   ssi-ckpt info FILE
 *     Verifies FILE (header, hash, the image's header) and prints it.
 *
 *   ssi-ckpt restart --self FILE
 *     Run by a deputy whose body was lost with its node (exec, same pid):
 *     this process becomes the program of FILE, a checkpoint of itself,
 *     without a new task. Descriptors that are no file and that the
 *     process has open stay (its real pipes, terminal, sockets at home);
 *     files are reopened at their offsets. Any failure kills it with
 *     SIGKILL, as a lost process: nothing is left half-alive.
 *
 *   ssi-ckpt restart [--node NODE] FILE
 *     Verifies FILE, reopens the process's descriptors as the image
 *     recorded them (docs/ARCHITECTURE.md, "Checkpoints and restart"),
 *     creates a task with the process's pid (clone3 set_tid; the pid must
 *     be free here) that execs `ssi-restore --in-place` over the image, and
 *     waits for it: its exit status is ours (a death by signal is ours
 *     too). With --node, once it runs it is moved there (`ssictl migrate`).
 *
 * Exit status: save/info 0 or 1 (reason on stderr); restart: the
 * program's, or 125 when it could not be restarted (reason on stderr).
 */
#include "ssi_ckpt.h"
#include "ssi_ckpt_away.h"
#include "ssi_ckpt_file.h"
#include "ssi_freezereq.h"
#include "ssi_helper.h"
#include "ssi_image.h"
#include "ssi_io.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_RESTART 125
#define S_MAX_FDS 1024

#define USAGE                                                                     \
    "usage: ssi-ckpt save [--node NAME] [--away] [--cmd CMD] [-d DIR] PID FILE\n" \
    "       ssi-ckpt info FILE\n"                                                 \
    "       ssi-ckpt restart [--node NODE] FILE\n"                                \
    "       ssi-ckpt restart --self FILE\n"

/* A program beside this one (ssi-restore, ssictl). */
static void s_beside(const char *name, char *out, size_t cap)
{
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;
    exe[n > 0 ? n : 0] = 0;
    slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(out, cap, "%s/%s", exe, name);
}

/* /proc/PID/cmdline with spaces, and the real uid and gid of PID. */
static int s_proc_facts(pid_t pid, char *cmd, size_t cap, uid_t *uid, gid_t *gid)
{
    char path[64], line[256];
    FILE *f;
    int fd, have = 0;
    ssize_t n;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, cmd, cap - 1);
    close(fd);
    n = n < 0 ? 0 : n;
    while (n > 0 && cmd[n - 1] == 0)
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (cmd[i] == 0)
            cmd[i] = ' ';
    cmd[n] = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        unsigned a;
        if (sscanf(line, "Uid: %u", &a) == 1) {
            *uid = a;
            have |= 1;
        } else if (sscanf(line, "Gid: %u", &a) == 1) {
            *gid = a;
            have |= 2;
        }
    }
    fclose(f);
    return have == 3 ? 0 : -EIO;
}

/* ---- save ---------------------------------------------------------------- */

static double s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The body of deputy pid runs away: its image comes home through the
 * deputy (wire/ssi_image.h, SSI_IMAGE_HOME_F_CKPT) and goes to fd with the
 * deputy's descriptors in place of the body's placeholders, read while the
 * body is still frozen. freeze_ms: from the request to the deputy's 'K',
 * which bounds the body's freeze. */
static int s_save_away(pid_t pid, const char *dir, int fd, const char *file,
                       ssi_freezereq_stats_t *st, char *err, size_t errlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    double t0 = s_ms();
    int cfd = ssi_freezereq_ckpt_away(pid, dir, 30000, err, errlen), rc;
    if (cfd < 0)
        return cfd;
    memset(st, 0, sizeof(*st));
    st->pid = pid;
    rc = ssi_ckpt_away_copy(cfd, pid, fd, err, errlen);
    if (rc < 0) {
        close(cfd);
        return rc;
    }
    /* The deputy recovers from this file should its body's node die. */
    rc = ssi_freezereq_ckpt_end(cfd, self, file, 30000, err, errlen);
    st->freeze_ms = s_ms() - t0;
    return rc;
}

static int s_save(int argc, char **argv)
{
    static const struct option longopts[] = {{"node", required_argument, NULL, 'n'},
                                             {"away", no_argument, NULL, 'a'},
                                             {"cmd", required_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    const char *given_cmd = NULL;
    int away = 0;
    ssi_freezereq_opts_t o = {.dir = NULL,
                              .token = -1,
                              .flags = 0,
                              .timeout_ms = 10000,
                              .verdict = SSI_IMAGE_VERDICT_CONTINUE};
    ssi_freezereq_stats_t st;
    ssi_ckpt_hdr_t h, zero;
    const char *node = "", *file;
    char cmd[SSI_CKPT_CMD_MAX], tmp[PATH_MAX + 32], err[512] = "", *slash;
    uid_t uid = 0;
    gid_t gid = 0;
    pid_t pid;
    int c, fd, rc, dfd;

    while ((c = getopt_long(argc, argv, "d:", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': node = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'a': away = 1; break;
        case 'c': given_cmd = optarg; break;
        default: fprintf(stderr, USAGE); return 2;
        }
    }
    if (optind + 2 != argc) {
        fprintf(stderr, USAGE);
        return 2;
    }
    pid = (pid_t)atoi(argv[optind]);
    file = argv[optind + 1];
    if (pid <= 0 || s_proc_facts(pid, cmd, sizeof(cmd), &uid, &gid) < 0) {
        fprintf(stderr, "ssi-ckpt: no process %s here\n", argv[optind]);
        return 1;
    }
    if (given_cmd)
        snprintf(cmd, sizeof(cmd), "%s", given_cmd);
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", file, (int)getpid());
    /* As the process's owner: root writes nothing where that user could
     * not, and the user owns the checkpoint. */
    setfsgid(gid);
    setfsuid(uid);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    rc = errno;
    setfsuid(geteuid());
    setfsgid(getegid());
    if (fd < 0) {
        fprintf(stderr, "ssi-ckpt: cannot create %s: %s\n", tmp, strerror(rc));
        return 1;
    }
    memset(&zero, 0, sizeof(zero));
    if (ssi_io_write_full(fd, &zero, sizeof(zero)) < 0) {
        fprintf(stderr, "ssi-ckpt: cannot write %s: %s\n", tmp, strerror(errno));
        goto fail;
    }
    if (away)
        rc = s_save_away(pid, o.dir, fd, file, &st, err, sizeof(err));
    else
        rc = ssi_freezereq_run(pid, &o, fd, &st, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "ssi-ckpt: %s\n", err[0] ? err : strerror(-rc));
        goto fail;
    }
    ssi_ckpt_hdr_init(&h, node, st.pid > 0 ? st.pid : pid, uid, cmd, (uint64_t)time(NULL));
    h.freeze_ms = st.freeze_ms;
    rc = ssi_ckpt_file_seal(fd, &h, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "ssi-ckpt: %s: %s\n", tmp, err);
        goto fail;
    }
    if (rename(tmp, file) < 0) {
        fprintf(stderr, "ssi-ckpt: cannot rename %s to %s: %s\n", tmp, file, strerror(errno));
        goto fail;
    }
    close(fd);
    /* The rename itself must survive a crash. */
    snprintf(tmp, sizeof(tmp), "%s", file);
    slash = strrchr(tmp, '/');
    if (slash && slash != tmp)
        *slash = 0;
    else if (slash)
        strcpy(tmp, "/");
    else
        strcpy(tmp, ".");
    dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    printf("checkpoint of pid %d written to %s: %.1f MiB, frozen %.1f ms\n", (int)pid, file,
           (double)(h.image_len + sizeof(h)) / 1048576.0, st.freeze_ms);
    return 0;
fail:
    close(fd);
    unlink(tmp);
    return 1;
}

/* ---- info ---------------------------------------------------------------- */

static int s_open_verified(const char *file, int *fd, ssi_ckpt_hdr_t *h)
{
    char why[512];
    int rc;
    *fd = open(file, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        fprintf(stderr, "ssi-ckpt: cannot open %s: %s\n", file, strerror(errno));
        return -1;
    }
    rc = ssi_ckpt_file_verify(*fd, h, why, sizeof(why));
    if (rc < 0) {
        fprintf(stderr, "ssi-ckpt: %s: refused: %s\n", file, why);
        close(*fd);
        return -1;
    }
    return 0;
}

static int s_info(int argc, char **argv)
{
    ssi_ckpt_hdr_t h;
    char when[64];
    time_t t;
    int fd;
    if (argc != 2) {
        fprintf(stderr, USAGE);
        return 2;
    }
    if (s_open_verified(argv[1], &fd, &h) < 0)
        return 1;
    close(fd);
    t = (time_t)h.created;
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    printf("checkpoint %s: node %s, pid %d, uid %u, made %s, image %.1f MiB, frozen %.1f ms\n"
           "command: %s\n",
           argv[1], h.node[0] ? h.node : "?", h.pid, h.uid, when, h.image_len / 1048576.0,
           h.freeze_ms, h.cmd);
    return 0;
}

/* ---- restart ------------------------------------------------------------- */

/* One descriptor to put in place: `tmp` goes to `fd` in the new task. */
typedef struct {
    int fd, tmp;
} s_place_t;

static s_place_t s_places[S_MAX_FDS];
static int s_nplaces;
static int s_self; /* restart --self: this process becomes the program */

static int s_keep(int fd, int tmp)
{
    if (s_nplaces >= S_MAX_FDS) {
        close(tmp);
        return -1;
    }
    s_places[s_nplaces].fd = fd;
    s_places[s_nplaces].tmp = tmp;
    s_nplaces++;
    return 0;
}

/* A placeholder whose peer is gone: a socket or pipe end that reads EOF
 * and fails writes with EPIPE. */
static int s_dead_end(const ssi_image_fd_t *f)
{
    int p[2];
    if (f->kind == SSI_IMAGE_FD_SOCKET) {
        int type = f->pos & SSI_IMAGE_FD_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
        if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, p) < 0)
            return -1;
        close(p[1]);
        return p[0];
    }
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    if ((f->fl_flags & O_ACCMODE) == O_WRONLY) {
        close(p[0]);
        return p[1];
    }
    close(p[1]);
    return p[0];
}

static int s_has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* What fd f of the image becomes here, opened now (in a slot that does
 * not collide: the new task dup2s it into place). -1 with a message when
 * the process cannot be restarted with it. */
static int s_plan_fd(const ssi_image_fd_t *f)
{
    int flags = (int)(f->fl_flags & (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC |
                                     O_DIRECT | O_NOATIME)) |
                O_CLOEXEC | O_NOCTTY;
    const char *path = f->path;
    struct stat st;
    int t;
    /* The standard streams that are no file come from whoever restarts
     * it (its terminal or pipes), as with DMTCP. */
    if (f->fd <= 2 && f->kind != SSI_IMAGE_FD_FILE && f->kind != SSI_IMAGE_FD_DIR)
        return 0;
    /* A deputy becoming its program again keeps the real thing it holds
     * at that number (a pipe, terminal or socket home): as a homecoming. */
    if (s_self && f->kind != SSI_IMAGE_FD_FILE && f->kind != SSI_IMAGE_FD_DIR &&
        fcntl(f->fd, F_GETFD) >= 0)
        return 0;
    switch (f->kind) {
    case SSI_IMAGE_FD_FILE:
    case SSI_IMAGE_FD_DIR:
        if (s_has_suffix(path, " (deleted)")) {
            fprintf(stderr,
                    "ssi-ckpt: fd %d: %s was deleted before the checkpoint; it cannot be "
                    "reopened\n",
                    f->fd, path);
            return -1;
        }
        if (f->kind == SSI_IMAGE_FD_DIR)
            flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
        t = open(path, flags);
        if (t < 0) {
            fprintf(stderr,
                    "ssi-ckpt: fd %d: %s cannot be reopened (%s): it is gone or changed since "
                    "the checkpoint\n",
                    f->fd, path, strerror(errno));
            return -1;
        }
        if (fstat(t, &st) < 0) {
            close(t);
            return -1;
        }
        if (f->kind == SSI_IMAGE_FD_FILE && (uint64_t)st.st_size < f->pos) {
            fprintf(stderr,
                    "ssi-ckpt: fd %d: %s has %llu bytes, fewer than the offset %llu the process "
                    "had: it changed since the checkpoint\n",
                    f->fd, path, (unsigned long long)st.st_size, (unsigned long long)f->pos);
            close(t);
            return -1;
        }
        if ((uint64_t)st.st_ino != f->ino)
            fprintf(stderr,
                    "ssi-ckpt: note: fd %d: %s is another file than at the checkpoint (inode "
                    "%llu, was %llu); reopened by its name\n",
                    f->fd, path, (unsigned long long)st.st_ino, (unsigned long long)f->ino);
        if (f->kind == SSI_IMAGE_FD_FILE && lseek(t, (off_t)f->pos, SEEK_SET) < 0) {
            fprintf(stderr, "ssi-ckpt: fd %d: %s: cannot seek to %llu: %s\n", f->fd, path,
                    (unsigned long long)f->pos, strerror(errno));
            close(t);
            return -1;
        }
        break;
    case SSI_IMAGE_FD_CHR:
        /* null, zero, random, urandom: ssi-restore reopens them. A
         * terminal: the one named, if it still exists, else /dev/null. */
        if (strncmp(path, "/dev/", 5) != 0)
            return 0;
        t = open(path, flags);
        if (t < 0) {
            fprintf(stderr, "ssi-ckpt: note: fd %d: %s is gone (%s); it is /dev/null now\n", f->fd,
                    path, strerror(errno));
            t = open("/dev/null", flags);
        }
        break;
    case SSI_IMAGE_FD_FIFO:
        if (strncmp(path, "pipe:", 5) == 0) {
            t = s_dead_end(f);
            break;
        }
        /* A named FIFO: opened again, without waiting for a peer. */
        t = open(path, (flags & ~O_ACCMODE) | O_RDWR | O_NONBLOCK);
        if (t < 0) {
            fprintf(stderr, "ssi-ckpt: fd %d: FIFO %s cannot be reopened: %s\n", f->fd, path,
                    strerror(errno));
            return -1;
        }
        if (!(f->fl_flags & O_NONBLOCK))
            fcntl(t, F_SETFL, fcntl(t, F_GETFL) & ~O_NONBLOCK);
        break;
    case SSI_IMAGE_FD_SOCKET: t = s_dead_end(f); break;
    case SSI_IMAGE_FD_ANON:
        /* An epoll instance is made again by libssi.so at this number. */
        if (strstr(path, "[eventpoll]")) {
            t = open("/dev/null", O_RDONLY | O_CLOEXEC);
            break;
        }
        fprintf(stderr, "ssi-ckpt: fd %d (%s): this kind of descriptor cannot be restarted\n",
                f->fd, path);
        return -1;
    default:
        fprintf(stderr, "ssi-ckpt: fd %d (%s): this kind of descriptor cannot be restarted\n",
                f->fd, path);
        return -1;
    }
    if (t < 0) {
        fprintf(stderr, "ssi-ckpt: fd %d (%s): %s\n", f->fd, path, strerror(errno));
        return -1;
    }
    return s_keep(f->fd, t);
}

/* Reads the image's records up to the first VMA and plans every FD
 * record. 0, or -1 with a message. */
static int s_plan(int fd)
{
    ssi_image_check_t c;
    ssi_image_hdr_t ih;
    ssi_image_rec_t r;
    static uint8_t body[SSI_IMAGE_REC_MAX];
    off_t off = sizeof(ssi_ckpt_hdr_t);
    int bad = 0;
    ssi_image_check_init(&c);
    if (pread(fd, &ih, sizeof(ih), off) != (ssize_t)sizeof(ih) || ssi_image_check_hdr(&c, &ih) < 0)
        goto corrupt;
    off += sizeof(ih);
    for (;;) {
        if (pread(fd, &r, sizeof(r), off) != (ssize_t)sizeof(r) || ssi_image_check_rec(&c, &r) < 0)
            goto corrupt;
        off += sizeof(r);
        if (r.type == SSI_IMAGE_REC_VMA || r.type == SSI_IMAGE_REC_END)
            break;
        if (r.size > sizeof(body) || pread(fd, body, r.size, off) != (ssize_t)r.size ||
            ssi_image_check_body(&c, r.size ? body : NULL) < 0)
            goto corrupt;
        off += r.size;
        if (r.data_len) {
            if (ssi_image_check_data(&c, r.data_len) < 0)
                goto corrupt;
            off += (off_t)r.data_len;
        }
        if (r.type == SSI_IMAGE_REC_FD && s_plan_fd((const ssi_image_fd_t *)body) < 0)
            bad = 1;
    }
    return bad ? -1 : 0;
corrupt:
    fprintf(stderr, "ssi-ckpt: the image in the checkpoint is damaged: %s\n",
            c.why[0] ? c.why : "cannot read it");
    return -1;
}

/* Every descriptor opened for the new task above every number it must
 * take, so that putting them in place, in any order, overwrites none. */
static int s_lift_tmps(int *img)
{
    struct rlimit rl;
    int top = 2, i;
    for (i = 0; i < s_nplaces; i++) {
        if (s_places[i].fd > top)
            top = s_places[i].fd;
        if (s_places[i].tmp > top)
            top = s_places[i].tmp;
    }
    /* The image's own limit comes back with it (ssi-restore sets it). */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (i = 0; i < s_nplaces; i++) {
        int t = fcntl(s_places[i].tmp, F_DUPFD_CLOEXEC, top + 1);
        if (t < 0)
            return -1;
        close(s_places[i].tmp);
        s_places[i].tmp = t;
    }
    /* The image too, since the process may have had a descriptor at its
     * number. */
    i = fcntl(*img, F_DUPFD_CLOEXEC, top + 1);
    if (i < 0)
        return -1;
    close(*img);
    *img = i;
    return 0;
}

static pid_t s_child;

static void s_forward(int sig)
{
    if (s_child > 0)
        kill(s_child, sig);
}

/* A failure in the new task: a restart exits 125; a deputy recovering
 * (--self) dies as a lost process would. */
static void s_give_up(void)
{
    if (s_self)
        kill(getpid(), SIGKILL);
    _exit(EXIT_RESTART);
}

/* The new task: descriptors into place, then ssi-restore --in-place. */
static void s_become(int img, const char *restore)
{
    char num[16];
    int i, nimg;
    for (i = 0; i < s_nplaces; i++)
        if (dup2(s_places[i].tmp, s_places[i].fd) < 0)
            s_give_up();
    for (i = 0; i < s_nplaces; i++)
        close(s_places[i].tmp);
    /* The image fd where nothing of the process is: ssi-restore moves it
     * to 900+ and keeps it while it reads. */
    nimg = fcntl(img, F_DUPFD, 3);
    for (i = 0; i < s_nplaces && nimg >= 0; i++)
        if (s_places[i].fd == nimg) {
            nimg = fcntl(img, F_DUPFD, nimg + 1);
            i = -1;
        }
    if (nimg < 0 || lseek(nimg, sizeof(ssi_ckpt_hdr_t), SEEK_SET) < 0)
        s_give_up();
    snprintf(num, sizeof(num), "%d", nimg);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    execl(restore, "ssi-restore", "--in-place", "--restart", "--fd", num, (char *)NULL);
    fprintf(stderr, "ssi-ckpt: cannot run %s: %s\n", restore, strerror(errno));
    s_give_up();
}

/* Once the restored process runs its program again (it no longer is
 * ssi-restore) and has registered, ask ssid to move it. */
static void s_move(pid_t pid, const char *node, const char *restore)
{
    char exe[PATH_MAX], path[64], ctl[PATH_MAX], num[16];
    int i, st;
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    for (i = 0; i < 500; i++) {
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        if (n < 0)
            return; /* it ended */
        exe[n] = 0;
        if (strcmp(exe, restore) != 0)
            break;
        usleep(10000);
    }
    s_beside("ssictl", ctl, sizeof(ctl));
    snprintf(num, sizeof(num), "%d", (int)pid);
    /* Registration comes right after: a few tries while ssid does not
     * know the process yet. */
    for (i = 0; i < 20; i++) {
        char out[2048];
        size_t got = 0;
        ssize_t n;
        int p[2];
        pid_t c;
        if (pipe2(p, O_CLOEXEC) < 0)
            break;
        c = fork();
        if (c == 0) {
            dup2(p[1], 1);
            dup2(p[1], 2);
            /* Beside us in a build tree; installed, ssictl is on the PATH
             * and we are among the helpers. */
            if (access(ctl, X_OK) == 0)
                execl(ctl, "ssictl", "migrate", num, node, (char *)NULL);
            execlp("ssictl", "ssictl", "migrate", num, node, (char *)NULL);
            _exit(127);
        }
        close(p[1]);
        while (got < sizeof(out) - 1 && (n = read(p[0], out + got, sizeof(out) - 1 - got)) != 0)
            if (n > 0)
                got += (size_t)n;
            else if (errno != EINTR)
                break;
        out[got] = 0;
        close(p[0]);
        if (c < 0 || waitpid(c, &st, 0) < 0)
            break;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            fputs(out, stderr);
            return;
        }
        /* Until ssid knows it, only "not an ssi process" is worth a retry. */
        if (kill(pid, 0) < 0 || !strstr(out, "not an ssi process")) {
            fputs(out, stderr);
            break;
        }
        usleep(250000);
    }
    fprintf(stderr, "ssi-ckpt: the process runs at home; it could not be moved to %s\n", node);
}

/* restart --self: this very process (a deputy that lost its body) becomes
 * the program of FILE. Returns only on failure, with a message. */
static void s_restart_self(const char *file)
{
    char restore[PATH_MAX];
    ssi_ckpt_hdr_t h;
    int fd;
    if (s_open_verified(file, &fd, &h) < 0)
        return;
    if (h.pid != getpid()) {
        fprintf(stderr, "ssi-ckpt: %s is the checkpoint of pid %d, not of this process (%d)\n",
                file, h.pid, (int)getpid());
        return;
    }
    if (s_plan(fd) < 0)
        return;
    if (s_lift_tmps(&fd) < 0) {
        fprintf(stderr, "ssi-ckpt: out of descriptors\n");
        return;
    }
    s_beside("ssi-restore", restore, sizeof(restore));
    s_become(fd, restore);
}

static int s_restart(int argc, char **argv)
{
    static const struct option longopts[] = {{"node", required_argument, NULL, 'n'},
                                             {"self", no_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    const char *node = NULL;
    char restore[PATH_MAX];
    ssi_ckpt_hdr_t h;
    struct clone_args ca;
    int c, fd, st;
    pid_t pid;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': node = optarg; break;
        case 's': s_self = 1; break;
        default: fprintf(stderr, USAGE); return 2;
        }
    }
    if (optind + 1 != argc || (s_self && node)) {
        fprintf(stderr, USAGE);
        return 2;
    }
    if (s_self) {
        s_restart_self(argv[optind]);
        fprintf(stderr, "ssi-ckpt: pid %d could not be recovered from %s; it is lost\n",
                (int)getpid(), argv[optind]);
        fflush(stderr);
        kill(getpid(), SIGKILL);
        return EXIT_RESTART;
    }
    if (s_open_verified(argv[optind], &fd, &h) < 0)
        return EXIT_RESTART;
    if (s_plan(fd) < 0) {
        fprintf(stderr, "ssi-ckpt: %s: not restarted\n", argv[optind]);
        return EXIT_RESTART;
    }
    if (s_lift_tmps(&fd) < 0) {
        fprintf(stderr, "ssi-ckpt: out of descriptors; not restarted\n");
        return EXIT_RESTART;
    }
    s_beside("ssi-restore", restore, sizeof(restore));
    if (kill(h.pid, 0) == 0 || errno != ESRCH) {
        fprintf(stderr,
                "ssi-ckpt: pid %d is taken on this node (the checkpointed process still runs, "
                "or another one has its pid); not restarted\n",
                h.pid);
        return EXIT_RESTART;
    }
    signal(SIGINT, s_forward);
    signal(SIGTERM, s_forward);
    signal(SIGHUP, s_forward);
    signal(SIGQUIT, s_forward);
    memset(&ca, 0, sizeof(ca));
    ca.exit_signal = SIGCHLD;
    ca.set_tid = (uint64_t)(uintptr_t)&h.pid;
    ca.set_tid_size = 1;
    fflush(NULL);
    pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0)
        s_become(fd, restore);
    if (pid < 0) {
        fprintf(stderr, "ssi-ckpt: cannot create a task with pid %d: %s; not restarted\n", h.pid,
                errno == EEXIST  ? "the pid is taken"
                : errno == EPERM ? "only root can choose a pid"
                                 : strerror(errno));
        return EXIT_RESTART;
    }
    s_child = pid;
    for (int i = 0; i < s_nplaces; i++)
        close(s_places[i].tmp);
    close(fd);
    if (node)
        s_move(pid, node, restore);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return EXIT_RESTART;
    if (WIFSIGNALED(st)) {
        signal(WTERMSIG(st), SIG_DFL);
        kill(getpid(), WTERMSIG(st));
        return 128 + WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (ssi_helper_about(argc, argv, "ssi-ckpt",
                         "writes, checks and restarts checkpoint files (ssictl checkpoint, "
                         "ssirun --restart)"))
        return 0;
    if (argc >= 2 && strcmp(argv[1], "save") == 0)
        return s_save(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "info") == 0)
        return s_info(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "restart") == 0)
        return s_restart(argc - 1, argv + 1);
    fprintf(stderr, USAGE);
    return 2;
}
