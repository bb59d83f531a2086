/* ssictl_call: requests to ssid, replies, exit statuses and the --json
 * envelope shared by ssictl's commands (see ssictl_call.h). */
#include "ssictl_call.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ssi_local.h"

const char *ssictl_socket;

long ssictl_exchange(const uint8_t *req, size_t len, uint8_t *rep, size_t cap, int timeout_ms,
                     bool quiet)
{
    int fd = ssi_local_connect(ssictl_socket);
    if (fd < 0) {
        if (!quiet)
            fprintf(
                stderr,
                "ssictl: cannot reach ssid at %s: %s\n"
                "ssictl: is ssid running on this node? Start it with: ssid --cluster FILE --name NODE --keys DIR\n",
                ssictl_socket, strerror(-fd));
        return fd;
    }
    long n = 0;
    int rc = ssi_local_send(fd, req, len);
    if (rc == 0)
        n = ssi_local_recv(fd, rep, cap, timeout_ms);
    close(fd);
    if (rc == 0 && n == -EPROTO && ssi_msg_version(rep, SSI_MSG_HEADER) >= 0) {
        if (!quiet)
            fprintf(stderr,
                    "ssictl: ssid at %s speaks protocol %d and this ssictl (ssi %s) protocol %d; "
                    "use the ssictl installed with that ssid\n",
                    ssictl_socket, ssi_msg_version(rep, SSI_MSG_HEADER), SSI_VERSION,
                    SSI_MSG_VERSION);
        return n;
    }
    if (rc < 0 || n < 0) {
        if (!quiet)
            fprintf(stderr, "ssictl: no answer from ssid at %s: %s\n", ssictl_socket,
                    strerror(rc < 0 ? -rc : (int)-n));
        return rc < 0 ? rc : n;
    }
    return n;
}

long ssictl_call(int type, uint8_t *rep, size_t cap)
{
    uint8_t req[64];
    ssi_msg_writer_t w;
    ssi_msg_begin(&w, req, sizeof req, type);
    if (type == SSI_MSG_PS)
        ssi_msg_put_u64(&w, SSI_TAG_SCOPE, 1);
    long n = ssi_msg_end(&w);
    return ssictl_exchange(req, (size_t)n, rep, cap, SSICTL_TIMEOUT_MS, false);
}

int ssictl_parse_reply(const uint8_t *buf, long len, ssi_msg_t *m, int want, int *outcome)
{
    if (outcome)
        *outcome = SSI_OUTCOME_OTHER;
    int rc = ssi_msg_parse(buf, (size_t)len, m);
    if (rc < 0) {
        fprintf(stderr, "ssictl: malformed reply from ssid: %s\n", strerror(-rc));
        return -1;
    }
    if (m->type == SSI_MSG_ERROR) {
        char text[1024] = "?";
        uint64_t o;
        ssi_field_str(ssi_msg_find(m->field, m->nfields, SSI_TAG_TEXT), text, sizeof text);
        fprintf(stderr, "ssictl: %s\n", text);
        if (outcome &&
            ssi_field_u64(ssi_msg_find(m->field, m->nfields, SSI_TAG_OUTCOME), &o) == 0 &&
            o <= SSI_OUTCOME_MAX)
            *outcome = (int)o;
        return -1;
    }
    if (m->type != want) {
        fprintf(stderr, "ssictl: unexpected %s reply from ssid\n", ssi_msg_type_name(m->type));
        return -1;
    }
    return 0;
}

size_t ssictl_missing(const ssi_msg_t *m, const char *what, char names[][SSI_NAME_MAX + 1],
                      size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < m->nfields; i++) {
        char node[SSI_NAME_MAX + 1];
        if (m->field[i].tag != SSI_TAG_TEXT || ssi_field_str(&m->field[i], node, sizeof node) < 0)
            continue;
        fprintf(stderr, "ssictl: node %s did not answer; %s\n", node, what);
        if (k < n)
            memcpy(names[k++], node, sizeof node);
    }
    return k;
}

ssi_json_t *ssictl_json_begin(void)
{
    ssi_json_t *j = ssi_json_new();
    if (j)
        ssi_json_envelope_begin(j, SSICTL_JSON_FORMAT);
    return j;
}

int ssictl_json_end(ssi_json_t **pj, char names[][SSI_NAME_MAX + 1], size_t nmissing)
{
    ssi_json_t *j = *pj;
    if (j) {
        const char *miss[SSI_CLUSTER_MAX];
        for (size_t i = 0; i < nmissing && i < SSI_CLUSTER_MAX; i++)
            miss[i] = names[i];
        ssi_json_envelope_end(j, miss, nmissing < SSI_CLUSTER_MAX ? nmissing : SSI_CLUSTER_MAX);
    }
    const char *text = j ? ssi_json_text(j, NULL) : NULL;
    if (!text)
        fprintf(stderr, "ssictl: cannot write JSON: %s\n",
                strerror(j && ssi_json_error(j) ? -ssi_json_error(j) : ENOMEM));
    else
        printf("%s\n", text);
    ssi_json_destroy(pj);
    return text ? 0 : 1;
}

int ssictl_partial_exit(size_t nmissing, int partial_ok)
{
    return nmissing && !partial_ok ? SSICTL_EXIT_PARTIAL : SSICTL_EXIT_OK;
}
