/* ssictl_call: what ssictl's commands share: one request to the local ssid
 * and its reply, the exit statuses (ssictl(1), EXIT STATUS), and the
 * envelope of every --json answer:
 *   {"format":1,"data":...,"missing":["n3",...]}
 * where "missing" names the nodes that did not answer (their part of the
 * data is absent). Ordinary C (launcher/). */
#ifndef SSICTL_CALL_H
#define SSICTL_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssi_cluster.h"
#include "ssi_json.h"
#include "ssi_msg.h"

enum {
    SSICTL_EXIT_OK = 0,
    SSICTL_EXIT_ERROR = 1,   /* ssid unreachable, a bad answer, anything else */
    SSICTL_EXIT_USAGE = 2,   /* a bad command line */
    SSICTL_EXIT_PARTIAL = 3, /* some nodes did not answer (unless --partial-ok) */
    SSICTL_EXIT_REFUSED = 4, /* migrate: the process cannot move (or is moving) */
    SSICTL_EXIT_NODE = 5,    /* migrate: the node (or the home node) is unknown or down */
    SSICTL_EXIT_PERM = 6,    /* migrate: not the owner of the process, nor root */
    SSICTL_EXIT_FAILED = 7,  /* migrate: failed on the way; it runs where it was */
    SSICTL_EXIT_TIMEOUT = 8, /* migrate: no answer within --timeout */
    SSICTL_EXIT_NOPROC = 9,  /* migrate: no such ssi process */
};

#define SSICTL_JSON_FORMAT 1
#define SSICTL_TIMEOUT_MS 5000

/* ssid's local socket (set by main). */
extern const char *ssictl_socket;

/* Sends the request req (len bytes, from ssi_msg_end) to the local ssid and
 * reads its reply into rep, waiting at most timeout_ms: the reply's length, or
 * -errno (said on stderr unless quiet). */
long ssictl_exchange(const uint8_t *req, size_t len, uint8_t *rep, size_t cap, int timeout_ms,
                     bool quiet);

/* Sends one request of `type` (PS asks for the whole cluster) and reads the
 * reply into rep: its length, or -errno (said on stderr). */
long ssictl_call(int type, uint8_t *rep, size_t cap);

/* Parses a reply that must be `want`; an ERROR is said on stderr. 0, or -1;
 * *outcome (if not NULL) gets the ERROR's SSI_TAG_OUTCOME, or
 * SSI_OUTCOME_OTHER when it has none or the reply is not an ERROR. */
int ssictl_parse_reply(const uint8_t *buf, long len, ssi_msg_t *m, int want, int *outcome);

/* The nodes that did not answer a PS (its TEXT fields), each said on stderr
 * with `what` ("its processes are missing"); into names (n at most), their
 * count. */
size_t ssictl_missing(const ssi_msg_t *m, const char *what, char names[][SSI_NAME_MAX + 1],
                      size_t n);

/* A new writer with the envelope opened up to "data": (NULL if out of memory). */
ssi_json_t *ssictl_json_begin(void);
/* Closes the envelope with "missing", prints it and a newline, frees *pj:
 * 0, or 1 when it could not be written. */
int ssictl_json_end(ssi_json_t **pj, char names[][SSI_NAME_MAX + 1], size_t nmissing);

/* The exit status for a partial answer: PARTIAL, unless partial_ok. */
int ssictl_partial_exit(size_t nmissing, int partial_ok);

/* `ssictl migrate`'s wait and report (ssictl_migrate.c). */
/* A monotonic clock in ms. */
int64_t ssictl_migrate_clock(void);
/* Reads the answer to a MIGRATE sent on fd within timeout_ms, like
 * ssi_local_recv; when stderr is a terminal and it takes over a second,
 * shows "what" and the elapsed time there, updated every 200 ms and cleared
 * at the end. */
long ssictl_migrate_wait(int fd, uint8_t *rep, size_t cap, long timeout_ms, const char *what);
/* Prints what the move did (ok: the answer m was an OK; else an ERROR of
 * class outcome, already said on stderr): one line, or with json the
 * envelope around {pid, outcome, text, from, to, total_ms, mode, rounds,
 * bytes, freeze_ms}, each figure only when known. 0, or 1 when it could
 * not be written. */
int ssictl_migrate_report(const ssi_msg_t *m, int ok, int outcome, long pid, int json,
                          int64_t total_ms);

/* `ssictl metrics` (ssictl_metrics.c). */
int ssictl_metrics(int argc, char **argv);

#endif
