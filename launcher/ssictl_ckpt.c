/* ssictl_ckpt: `ssictl checkpoint PID [FILE]`: asks the local ssid, the
 * process's home, to write its checkpoint to FILE (made absolute here) or
 * to the cluster's spool directory; prints where it went. */
#include "ssictl_ckpt.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssi_local.h"
#include "ssi_msg.h"

#define CKPT_TIMEOUT_MS 600000

/* FILE as an absolute path: its directory resolved, its name kept. */
static int s_absolute(const char *file, char *out, size_t cap)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(file, '/'), *base = slash ? slash + 1 : file;
    if (!*base)
        return -EISDIR;
    if (slash) {
        size_t n = (size_t)(slash - file);
        if (n >= sizeof dir)
            return -ENAMETOOLONG;
        memcpy(dir, file, n);
        dir[n] = 0;
        if (n == 0)
            strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    if (!realpath(dir, real))
        return -errno;
    if ((size_t)snprintf(out, cap, "%s/%s", strcmp(real, "/") ? real : "", base) >= cap)
        return -ENAMETOOLONG;
    return 0;
}

int ssictl_checkpoint(int argc, char **argv, const char *socket)
{
    char path[1024] = "", text[1024] = "";
    static uint8_t req[1400], rep[4096];
    static ssi_msg_t m;
    ssi_msg_writer_t w;
    char *end;
    long pid, n;
    int fd, rc;
    if (argc < 1 || argc > 2 || strcmp(argv[0], "--help") == 0) {
        fprintf(argc == 1 ? stdout : stderr, "Usage: ssictl checkpoint PID [FILE]\n");
        return argc == 1 ? 0 : 2;
    }
    pid = strtol(argv[0], &end, 10);
    if (!*argv[0] || *end || pid <= 0) {
        fprintf(stderr, "ssictl checkpoint: '%s' is not a process id\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        rc = s_absolute(argv[1], path, sizeof path);
        if (rc < 0) {
            fprintf(stderr, "ssictl checkpoint: %s: %s\n", argv[1], strerror(-rc));
            return 2;
        }
    }
    ssi_msg_begin(&w, req, sizeof req, SSI_MSG_CHECKPOINT);
    ssi_msg_put_u64(&w, SSI_TAG_PID, (uint64_t)pid);
    if (*path)
        ssi_msg_put_str(&w, SSI_TAG_PATH, path);
    n = ssi_msg_end(&w);
    fd = ssi_local_connect(socket);
    if (fd < 0) {
        fprintf(stderr, "ssictl: cannot reach ssid at %s: %s\n", socket, strerror(-fd));
        return 1;
    }
    rc = n < 0 ? (int)n : ssi_local_send(fd, req, (size_t)n);
    if (rc == 0)
        n = ssi_local_recv(fd, rep, sizeof rep, CKPT_TIMEOUT_MS);
    close(fd);
    if (rc < 0 || n < 0) {
        fprintf(stderr, "ssictl checkpoint: no answer from ssid: %s\n",
                strerror(rc < 0 ? -rc : (int)-n));
        return 1;
    }
    if (ssi_msg_parse(rep, (size_t)n, &m) < 0) {
        fprintf(stderr, "ssictl checkpoint: malformed answer from ssid\n");
        return 1;
    }
    ssi_field_str(ssi_msg_find(m.field, m.nfields, SSI_TAG_TEXT), text, sizeof text);
    if (m.type != SSI_MSG_OK) {
        fprintf(stderr, "ssictl checkpoint: %s\n", *text ? text : "refused");
        return 1;
    }
    if (*text)
        printf("%s\n", text);
    return 0;
}
