/* ssictl_migrate: what `ssictl migrate` shows while it waits and once the
 * move is answered (see ssictl_call.h). Ordinary C (launcher/). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ssi_local.h"
#include "ssictl_call.h"

#define PROGRESS_AFTER_MS 1000
#define PROGRESS_EVERY_MS 200

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ssictl_migrate_clock(void)
{
    return s_now_ms();
}

long ssictl_migrate_wait(int fd, uint8_t *rep, size_t cap, long timeout_ms, const char *what)
{
    int64_t start = s_now_ms(), deadline = start + timeout_ms;
    int tty = isatty(2), shown = 0;
    static const char spin[] = "|/-\\";
    unsigned turn = 0;
    long n = -ETIMEDOUT;
    for (;;) {
        int64_t now = s_now_ms();
        if (now >= deadline)
            break;
        if (tty && now - start >= PROGRESS_AFTER_MS) {
            /* ssid does not say how far a move got: elapsed time only. */
            fprintf(stderr, "\r%c %s: %.1f s", spin[turn++ % 4], what,
                    (double)(now - start) / 1000.0);
            fflush(stderr);
            shown = 1;
        }
        int left = (int)(deadline - now);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, left < PROGRESS_EVERY_MS ? left : PROGRESS_EVERY_MS);
        if (rc < 0 && errno != EINTR) {
            n = -errno;
            break;
        }
        if (rc > 0) {
            n = ssi_local_recv(fd, rep, cap,
                               (int)(deadline - s_now_ms() > 0 ? deadline - s_now_ms() : 1));
            break;
        }
    }
    if (shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    return n;
}

/* "64.3 MiB" */
static void s_size(char *out, size_t cap, uint64_t b)
{
    if (b >= 1024 * 1024)
        snprintf(out, cap, "%.1f MiB", (double)b / (1024.0 * 1024.0));
    else if (b >= 1024)
        snprintf(out, cap, "%.1f KiB", (double)b / 1024.0);
    else
        snprintf(out, cap, "%llu bytes", (unsigned long long)b);
}

int ssictl_migrate_report(const ssi_msg_t *m, int ok, int outcome, long pid, int json,
                          int64_t total_ms)
{
    const ssi_field_t *f = m->field;
    size_t nf = m->nfields;
    char text[1024] = "", from[SSI_NAME_MAX + 1] = "", to[SSI_NAME_MAX + 1] = "";
    uint64_t bytes = 0, freeze_us = 0, rounds = 0, conv = 0;
    ssi_field_str(ssi_msg_find(f, nf, SSI_TAG_TEXT), text, sizeof text);
    int have_where = ok &&
                     ssi_field_str(ssi_msg_find(f, nf, SSI_TAG_MFROM), from, sizeof from) >= 0 &&
                     ssi_field_str(ssi_msg_find(f, nf, SSI_TAG_MTO), to, sizeof to) >= 0;
    int have_bytes = ok && ssi_field_u64(ssi_msg_find(f, nf, SSI_TAG_MBYTES), &bytes) == 0 &&
                     ssi_field_u64(ssi_msg_find(f, nf, SSI_TAG_MFREEZE), &freeze_us) == 0;
    /* Absent from an older home: stop-and-copy. */
    if (have_bytes) {
        ssi_field_u64(ssi_msg_find(f, nf, SSI_TAG_MROUNDS), &rounds);
        ssi_field_u64(ssi_msg_find(f, nf, SSI_TAG_MCONV), &conv);
    }
    if (!json) {
        if (!ok)
            return 0; /* the error was said on stderr */
        if (have_bytes) {
            char sz[32];
            s_size(sz, sizeof sz, bytes);
            char how[96] = "stop-and-copy";
            if (rounds)
                snprintf(how, sizeof how, "%llu pre-copy round%s%s", (unsigned long long)rounds,
                         rounds == 1 ? "" : "s",
                         conv ? "" : " (cut short: it writes faster than the link carries)");
            printf("%s: %s in %.2f s, frozen %.3f s, %s\n", text, sz, (double)total_ms / 1000.0,
                   (double)freeze_us / 1e6, how);
        } else if (*text) {
            printf("%s in %.2f s\n", text, (double)total_ms / 1000.0);
        }
        return 0;
    }
    ssi_json_t *j = ssictl_json_begin();
    if (!j)
        return 1;
    ssi_json_object_begin(j);
    ssi_json_key(j, "pid");
    ssi_json_u64(j, (uint64_t)pid);
    ssi_json_key(j, "outcome");
    ssi_json_str(j, ssi_outcome_name(ok ? SSI_OUTCOME_OK : outcome));
    ssi_json_key(j, "text");
    ssi_json_str(j, text);
    if (have_where) {
        ssi_json_key(j, "from");
        ssi_json_str(j, from);
        ssi_json_key(j, "to");
        ssi_json_str(j, to);
    }
    if (ok) {
        ssi_json_key(j, "total_ms");
        ssi_json_u64(j, (uint64_t)total_ms);
    }
    if (have_bytes) {
        /* rounds: the pre-copy rounds while the process ran (0: stop-and-copy,
         * the whole image while frozen); converged: they became small, rather
         * than being cut short by a process writing faster than the link. */
        ssi_json_key(j, "mode");
        ssi_json_str(j, rounds ? "pre-copy" : "stop-and-copy");
        ssi_json_key(j, "rounds");
        ssi_json_u64(j, rounds);
        ssi_json_key(j, "converged");
        ssi_json_u64(j, rounds && conv);
        ssi_json_key(j, "bytes");
        ssi_json_u64(j, bytes);
        ssi_json_key(j, "freeze_ms");
        ssi_json_fixed(j, (double)freeze_us / 1000.0, 3);
    }
    ssi_json_object_end(j);
    return ssictl_json_end(&j, NULL, 0);
}
