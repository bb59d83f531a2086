/*
 * ssi_freeze_cli.c - `ssi-freeze`: freeze a libssi.so process into an
 * image file (or stdout). For tests and manual use; ssid calls
 * ssi_freezereq_run() itself.
 *
 *   ssi-freeze [-o FILE] [-x] [-d DIR] [-t TOKEN] [-q] PID
 *     -x  the process exits after a complete image (verdict EXIT);
 *         default: it continues running (a checkpoint).
 */
#include "ssi_freezereq.h"

#include "ssi_image.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    ssi_freezereq_opts_t o = {.dir = NULL, .token = -1, .flags = 0, .timeout_ms = 10000,
                              .verdict = SSI_IMAGE_VERDICT_CONTINUE};
    ssi_freezereq_stats_t st;
    const char *out = NULL;
    char err[256] = "";
    int c, fd = 1, quiet = 0, rc;

    while ((c = getopt(argc, argv, "o:xd:t:q")) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'x': o.verdict = SSI_IMAGE_VERDICT_EXIT; break;
        case 'd': o.dir = optarg; break;
        case 't': o.token = atoi(optarg); break;
        case 'q': quiet = 1; break;
        default:
            fprintf(stderr, "usage: ssi-freeze [-o FILE] [-x] [-d DIR] [-t TOKEN] [-q] PID\n");
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: ssi-freeze [-o FILE] [-x] [-d DIR] [-t TOKEN] [-q] PID\n");
        return 2;
    }
    if (out) {
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            perror(out);
            return 1;
        }
    }
    rc = ssi_freezereq_run((pid_t)atoi(argv[optind]), &o, fd, &st, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "ssi-freeze: %s\n", err[0] ? err : strerror(-rc));
        if (out)
            unlink(out);
        return 1;
    }
    if (out && fsync(fd) < 0) {
        perror(out);
        return 1;
    }
    if (!quiet)
        fprintf(stderr,
                "ssi-freeze: pid %d (ns pid %d): %u vmas, %.1f MiB memory, %.1f MiB image, "
                "frozen %.1f ms\n",
                atoi(argv[optind]), st.pid, st.nvmas, st.page_bytes / 1048576.0,
                st.bytes / 1048576.0, st.freeze_ms);
    return 0;
}
