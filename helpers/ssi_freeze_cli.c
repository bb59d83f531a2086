/*
 * ssi_freeze_cli.c - `ssi-freeze`: freeze a libssi.so process into an
 * image file (or stdout). For tests and manual use; ssid calls
 * ssi_freezereq_run() itself.
 *
 *   ssi-freeze [-o FILE] [-x] [-d DIR] [-t TOKEN] [-q]
 *              [--deputy ADDR:PORT --key-fd N] PID
 *     -x  the process exits after a complete image (verdict EXIT);
 *         default: it continues running (a checkpoint).
 *     --deputy  the process becomes the deputy of a body that ssi-agent
 *         restores from this image and serves at ADDR:PORT (IPv4, or
 *         [IPv6]:PORT); the 32-byte data key is read raw from fd N.
 *         Exit status 0: deputy; 3: it could not reach the agent and
 *         continues at home; 1: other failure (it continues at home).
 *
 *     --stats  after a complete image, one line on stderr for ssid's
 *         counters: "ssi-freeze: stats bytes=N freeze_us=N rounds=N
 *         converged=0|1" (exact bytes sent, pre-copy rounds included; µs
 *         from the freeze signal to the image's end; pre-copy rounds, 0 for
 *         stop-and-copy; whether the rounds became small, 0 when they were
 *         cut short because the process wrote as fast as they carried).
 *     --live  pre-copy: the memory goes in rounds while the process runs
 *         (only ssi-agent reads such a stream; see ssi_precopy.c); a process
 *         that cannot track its writes moves by stop-and-copy.
 *     --rounds N  at most N pre-copy rounds (default 12).
 *     --recover FILE  with --deputy: FILE (absolute), the last checkpoint
 *         of the process, is the deputy's recovery point should the body's
 *         node die (it then runs `ssi-ckpt restart --self FILE`, the
 *         ssi-ckpt next to this program).
 *
 *   ssi-freeze --home [--restore PATH] [-d DIR] PID
 *     PID is the deputy of a body that runs elsewhere: bring the body home
 *     (it runs on in this very process again). Exit status 0: it runs at
 *     home; 3: it could not come home and runs on where it was (the
 *     reason on stderr); 4: it ended while being restored at home (lost);
 *     1: nothing happened (not a deputy, no answer). PATH: ssi-restore,
 *     default the one next to this program.
 */
#include "ssi_freezereq.h"
#include "ssi_helper.h"

#include "ssi_image.h"
#include "ssi_io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE                                                                                    \
    "usage: ssi-freeze [-o FILE] [-x] [-d DIR] [-t TOKEN] [-q] [--stats] [--live [--rounds N]] " \
    "[--deputy ADDR:PORT --key-fd N [--recover FILE]] "                                          \
    "PID\n"                                                                                      \
    "       ssi-freeze --home [--restore PATH] [-d DIR] PID\n"

/* "1.2.3.4:5" or "[::1]:5" into d. */
static int s_parse_addr(const char *s, ssi_image_deputy_t *d)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    size_t n;
    long port;
    if (!colon || colon == s)
        return -1;
    n = (size_t)(colon - s);
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n >= sizeof(host))
        return -1;
    memcpy(host, s, n);
    host[n] = 0;
    port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535)
        return -1;
    d->port = (uint16_t)port;
    if (inet_pton(AF_INET, host, d->addr) == 1)
        d->family = AF_INET;
    else if (inet_pton(AF_INET6, host, d->addr) == 1)
        d->family = AF_INET6;
    else
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"deputy", required_argument, NULL, 'D'},  {"key-fd", required_argument, NULL, 'K'},
        {"home", no_argument, NULL, 'H'},          {"restore", required_argument, NULL, 'R'},
        {"stats", no_argument, NULL, 'S'},         {"pidfd", required_argument, NULL, 'P'},
        {"live", no_argument, NULL, 'L'},          {"rounds", required_argument, NULL, 'N'},
        {"recover", required_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    ssi_image_deputy_t dep;
    ssi_image_recover_t rec;
    const char *deputy = NULL, *recover = NULL;
    int key_fd = -1;
    ssi_freezereq_opts_t o = {.dir = NULL,
                              .token = -1,
                              .flags = 0,
                              .timeout_ms = 10000,
                              .verdict = SSI_IMAGE_VERDICT_CONTINUE,
                              .precopy = {.small_bytes = SSI_PRECOPY_SMALL}};
    ssi_freezereq_stats_t st;
    const char *out = NULL;
    char err[256] = "";
    int c, fd = 1, quiet = 0, rc, home = 0, stats = 0;
    char restore[4096] = "";

    if (ssi_helper_about(argc, argv, "ssi-freeze",
                         "freezes a process into an image, or brings it home"))
        return 0;
    /* A reader of -o that goes away is an error message, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    while ((c = getopt_long(argc, argv, "o:xd:t:q", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'x': o.verdict = SSI_IMAGE_VERDICT_EXIT; break;
        case 'd': o.dir = optarg; break;
        case 't': o.token = atoi(optarg); break;
        case 'q': quiet = 1; break;
        case 'D': deputy = optarg; break;
        case 'K': key_fd = atoi(optarg); break;
        case 'H': home = 1; break;
        case 'S': stats = 1; break;
        case 'R': snprintf(restore, sizeof(restore), "%s", optarg); break;
        case 'P': ssi_freezereq_bind(atoi(optarg)); break;
        case 'L': o.live = 1; break;
        case 'N': o.precopy.max_rounds = atoi(optarg); break;
        case 'V': recover = optarg; break;
        default: fprintf(stderr, USAGE); return 2;
        }
    }
    if (optind + 1 != argc || (deputy && key_fd < 0) || (recover && !deputy)) {
        fprintf(stderr, USAGE);
        return 2;
    }
    if (home) {
        if (!restore[0]) {
            ssize_t n = readlink("/proc/self/exe", restore, sizeof(restore) - 16);
            char *slash;
            restore[n > 0 ? n : 0] = 0;
            slash = strrchr(restore, '/');
            if (slash)
                strcpy(slash + 1, "ssi-restore");
        }
        rc =
            ssi_freezereq_home((pid_t)atoi(argv[optind]), o.dir, restore, 120000, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "ssi-freeze: %s\n", err[0] ? err : strerror(-rc));
        else if (!quiet)
            fprintf(stderr, "ssi-freeze: process %s runs at home again\n", argv[optind]);
        return rc == 0 ? 0 : rc == -ECONNABORTED ? 3 : rc == -ESRCH ? 4 : 1;
    }
    if (deputy) {
        memset(&dep, 0, sizeof(dep));
        dep.magic = SSI_IMAGE_DEPUTY_MAGIC;
        if (s_parse_addr(deputy, &dep) < 0) {
            fprintf(stderr, "ssi-freeze: bad agent address %s (want ADDR:PORT)\n", deputy);
            return 2;
        }
        if (ssi_io_read_full(key_fd, dep.key, 32) < 0) {
            fprintf(stderr, "ssi-freeze: cannot read 32 key bytes from fd %d\n", key_fd);
            return 2;
        }
        o.verdict = SSI_IMAGE_VERDICT_DEPUTY;
        o.deputy = &dep;
        if (recover) {
            ssize_t n;
            char *slash;
            memset(&rec, 0, sizeof(rec));
            n = readlink("/proc/self/exe", rec.prog, sizeof(rec.prog) - 16);
            rec.prog[n > 0 ? n : 0] = 0;
            slash = strrchr(rec.prog, '/');
            if (recover[0] != '/' || strlen(recover) >= sizeof(rec.file) || !slash) {
                fprintf(stderr, "ssi-freeze: bad --recover %s (want an absolute path)\n", recover);
                return 2;
            }
            strcpy(slash + 1, "ssi-ckpt");
            snprintf(rec.file, sizeof(rec.file), "%s", recover);
            dep.flags |= SSI_IMAGE_DEPUTY_F_RECOVER;
            o.recover = &rec;
        }
    }
    if (out) {
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            perror(out);
            return 1;
        }
    }
    rc = ssi_freezereq_run((pid_t)atoi(argv[optind]), &o, fd, &st, err, sizeof(err));
    if (deputy)
        memset(&dep, 0, sizeof(dep));
    if (rc < 0) {
        fprintf(stderr, "ssi-freeze: %s\n", err[0] ? err : strerror(-rc));
        if (out && !deputy)
            unlink(out);
        return rc == -ECONNABORTED ? 3 : 1;
    }
    if (out && fsync(fd) < 0 && errno != EINVAL) { /* EINVAL: a pipe or FIFO */
        perror(out);
        return 1;
    }
    if (o.live && !st.live && !quiet)
        fprintf(stderr, "ssi-freeze: stop-and-copy: %s\n", st.live_why);
    if (stats)
        fprintf(stderr, "ssi-freeze: stats bytes=%llu freeze_us=%llu rounds=%u converged=%d\n",
                (unsigned long long)(st.bytes + (st.live ? st.pre.bytes : 0)),
                (unsigned long long)(st.freeze_ms * 1000.0), st.live ? st.pre.rounds : 0,
                st.live ? st.pre.converged : 0);
    if (!quiet)
        fprintf(stderr,
                "ssi-freeze: pid %d (ns pid %d): %u vmas, %.1f MiB memory, %.1f MiB image, "
                "frozen %.1f ms\n",
                atoi(argv[optind]), st.pid, st.nvmas, st.page_bytes / 1048576.0,
                st.bytes / 1048576.0, st.freeze_ms);
    return 0;
}
