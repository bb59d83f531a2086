/* ssictl_events: ssictl events [--follow] [--json]: the cluster's
 * migrations, balancer decisions, refusals, administration and node
 * changes as one stream, from the local ssid's ring (every ssid keeps
 * every node's events: ssid/ssid_events.h). */
#include "ssictl_events.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ssi_cluster.h"
#include "ssi_json.h"
#include "ssi_local.h"
#include "ssi_msg.h"
#include "ssictl_call.h"

#define S_TIMEOUT_MS 5000
#define S_FOLLOW_MS 500

/* One event as a JSON object into j. */
static void s_event_json(ssi_json_t *j, uint64_t s, uint64_t t, const char *node, const char *kind,
                         const char *text)
{
    ssi_json_object_begin(j);
    ssi_json_key(j, "seq");
    ssi_json_u64(j, s);
    ssi_json_key(j, "time_ms");
    ssi_json_u64(j, t);
    ssi_json_key(j, "node");
    ssi_json_str(j, node);
    ssi_json_key(j, "kind");
    ssi_json_str(j, kind);
    ssi_json_key(j, "text");
    ssi_json_str(j, text);
    ssi_json_object_end(j);
}

/* Prints the events of one EVENTS_REP (into arr when not NULL: the data of
 * the --json envelope; else one JSON line per event when json, or text);
 * *seq gets the last one's number. Returns 0, or -1 if stdout is gone. */
static int s_print(const ssi_msg_t *m, bool json, ssi_json_t *arr, uint64_t *seq)
{
    for (size_t i = 0; i < m->nfields; i++) {
        if (m->field[i].tag == SSI_TAG_SEQ) {
            uint64_t last;
            if (ssi_field_u64(&m->field[i], &last) == 0 && last > *seq)
                *seq = last;
            continue;
        }
        if (m->field[i].tag != SSI_TAG_EVENT)
            continue;
        ssi_field_t f[8];
        long k = ssi_msg_fields(m->field[i].val, m->field[i].len, f, 8);
        if (k < 0)
            continue;
        uint64_t s = 0, t = 0;
        char node[SSI_NAME_MAX + 1] = "?", kind[32] = "?", text[SSI_MSG_MAX_FIELD + 1] = "";
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_SEQ), &s);
        ssi_field_u64(ssi_msg_find(f, (size_t)k, SSI_TAG_TIMEMS), &t);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_NODE), node, sizeof node);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_KIND), kind, sizeof kind);
        ssi_field_str(ssi_msg_find(f, (size_t)k, SSI_TAG_TEXT), text, sizeof text);
        if (arr) {
            s_event_json(arr, s, t, node, kind, text);
        } else if (json) {
            ssi_json_t *j = ssi_json_new();
            if (!j)
                return -1;
            s_event_json(j, s, t, node, kind, text);
            const char *out = ssi_json_text(j, NULL);
            if (out)
                printf("%s\n", out);
            ssi_json_destroy(&j);
        } else {
            time_t sec = (time_t)(t / 1000);
            struct tm tm;
            localtime_r(&sec, &tm);
            printf("%02d:%02d:%02d.%03u %-12s %-9s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (unsigned)(t % 1000), node, kind, text);
        }
    }
    return fflush(stdout) == 0 ? 0 : -1;
}

int ssictl_events_main(const char *socket, int argc, char **argv)
{
    bool follow = false, json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0)
            follow = true;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("Usage: ssictl events [--follow] [--json]\n");
            return 0;
        } else {
            fprintf(stderr,
                    "ssictl events: unexpected argument '%s'\nUsage: ssictl events "
                    "[--follow] [--json]\n",
                    argv[i]);
            return 2;
        }
    }
    static uint8_t rep[SSI_MSG_HEADER + SSI_MSG_MAX_BODY];
    static ssi_msg_t m;
    uint64_t seq = 0;
    /* --json without --follow: one envelope whose data lists the events
     * (the local ring holds every node's: nothing is missing). */
    ssi_json_t *arr = NULL;
    if (json && !follow) {
        arr = ssictl_json_begin();
        if (!arr) {
            fprintf(stderr, "ssictl events: out of memory\n");
            return 1;
        }
        ssi_json_array_begin(arr);
    }
    for (;;) {
        uint8_t req[64];
        ssi_msg_writer_t w;
        ssi_msg_begin(&w, req, sizeof req, SSI_MSG_EVENTS);
        ssi_msg_put_u64(&w, SSI_TAG_SEQ, seq);
        long n = ssi_msg_end(&w);
        int fd = ssi_local_connect(socket);
        if (fd < 0) {
            fprintf(stderr, "ssictl: cannot reach ssid at %s: %s\n", socket, strerror(-fd));
            ssi_json_destroy(&arr);
            return 1;
        }
        int rc = ssi_local_send(fd, req, (size_t)n);
        if (rc == 0)
            n = ssi_local_recv(fd, rep, sizeof rep, S_TIMEOUT_MS);
        close(fd);
        if (rc < 0 || n < 0 || ssi_msg_parse(rep, (size_t)n, &m) < 0 ||
            m.type != SSI_MSG_EVENTS_REP) {
            fprintf(stderr, "ssictl events: no answer from ssid at %s\n", socket);
            ssi_json_destroy(&arr);
            return 1;
        }
        uint64_t before = seq;
        if (s_print(&m, json, arr, &seq) < 0) {
            ssi_json_destroy(&arr);
            return 1;
        }
        if (!follow && seq == before) { /* all listed */
            if (!arr)
                return 0;
            ssi_json_array_end(arr);
            return ssictl_json_end(&arr, NULL, 0);
        }
        if (follow && seq == before)
            usleep(S_FOLLOW_MS * 1000);
    }
}
