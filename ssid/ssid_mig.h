/* ssid_mig: what every kind of migration shares. A migration record
 * (ssid_mig_t) per move in flight, on either side; who asked and how the
 * answer reaches them (a local client, or the node that relayed for its
 * own); the helper programs ssid starts (ssid forks only to exec them, so
 * its loop never waits for a migration), the pipes that carry their keys,
 * their stderr (watched on ssid's loop; its last line is the reason of a
 * failure) and their exit statuses. What a migration does lives above:
 * ssid_offer (a first hop), ssid_home (coming home), ssid_move (requests).
 * Uses ssid_node and ssid_client. Runs in ssid. */
#ifndef SSID_MIG_H
#define SSID_MIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ssid_client.h"
#include "ssid_node.h"

#define SSID_MIG_HELPER_MAX 2
#define SSID_XFER_TIMEOUT "10000" /* ms without progress before an image transfer gives up */

/* Who asked for a migration, and so who gets the answer: a local ssictl,
 * or another node that relays for its own ssictl (ssictl migrate HOME:PID). */
typedef struct {
    uint64_t client; /* a local client's id, or 0 */
    int peer;        /* a relaying node, or -1 */
    uint64_t reqid;  /* the relaying node's request id */
    uid_t uid;       /* the user asking */
    bool stop_copy;  /* no pre-copy rounds (ssictl migrate --stop-copy) */
} ssid_asker_t;

/* What one move did, carried in its answer: where from and to (SSI_TAG_MFROM,
 * SSI_TAG_MTO), and for a move out of home the image bytes and freeze time
 * ssi-freeze --stats said (SSI_TAG_MBYTES, SSI_TAG_MFREEZE). */
typedef struct {
    char from[SSI_NAME_MAX + 1];
    char to[SSI_NAME_MAX + 1];
    bool have_bytes;
    uint64_t bytes;     /* image bytes sent */
    uint64_t freeze_us; /* time the process stayed frozen */
    uint64_t rounds;    /* pre-copy rounds; 0: stop-and-copy */
    uint64_t converged; /* 1: the rounds became small; 0: cut short */
} ssid_mig_figs_t;

typedef struct ssid_mig {
    struct ssid_mig *next;
    uint64_t reqid;
    bool home_side;
    int peer;           /* the other node's index */
    ssid_asker_t asker; /* home side: who waits for the answer */
    pid_t pid;          /* the process's home pid */
    char home[SSI_NAME_MAX + 1];
    uint8_t key[32];  /* image key */
    uint8_t key2[32]; /* data key */
    void *ticket;     /* home side: the offer's deadline (a zloop ticket), until MIG_READY */
    pid_t helper[SSID_MIG_HELPER_MAX];
    int status[SSID_MIG_HELPER_MAX];
    int nhelpers, nexited;
    int err_fd;      /* the helpers' stderr, for the reason of a failure */
    int status_fd;   /* destination: ssi-agent's status lines */
    uint16_t port;   /* destination: the image port */
    bool ready_sent; /* destination: MIG_READY went out */
    char line[256];  /* destination: a partial status line */
    size_t linelen;
    char err[2048];
    size_t errlen;
    bool homecoming;   /* home side: the body comes home (ssi-freeze --home) */
    int chain_to;      /* homecoming: then move on to this node, or -1 */
    char note[160];    /* said first in the final message */
    char remote[400];  /* home side: why the destination failed (its MIG_FAIL), or "" */
    bool waiting;      /* home side: failed here, waiting a moment for remote */
    int wait_timer;    /* the zloop timer of that wait */
    int64_t started;   /* when the record was made (ssid_node_now) */
    bool checkpoint;   /* a checkpoint (ssid_ckpt), not a move */
    bool periodic;     /* checkpoint: a periodic one */
    char file[1024];   /* checkpoint: the file it writes */
    int resend;        /* the timer that sends the offer (home) or READY again, or 0 */
    int nresent;       /* destination: READYs sent again */
    bool running;      /* destination: the agent said the body runs */
    uint16_t dport;    /* destination: the agent's data port, for a repeated READY */
    bool have_figs;    /* home side: figs are this move's own, for the answer */
    uint8_t *mapfiles; /* home side: the files the process maps, for the offer (ssid_mapfiles) */
    size_t mapfiles_len;
    ssid_mig_figs_t figs;
} ssid_mig_t;

/* A new record (fds -1, no peer, no asker), not yet in the list; NULL if
 * out of memory. */
ssid_mig_t *ssid_mig_new(void);

/* Puts g in the list of migrations in flight. */
void ssid_mig_add(ssid_mig_t *g);

/* The first migration in flight (then g->next), for walking them all. */
ssid_mig_t *ssid_mig_first(void);

/* Our record of migration reqid on the given side, or NULL. */
ssid_mig_t *ssid_mig_find(uint64_t reqid, bool home_side);

/* Forgets g (in the list or not): stops watching and closes its pipes,
 * ends its ticket, wipes its keys, frees it. */
void ssid_mig_free(ssid_mig_t *g);

/* Tells whoever asked how it ended, and counts the answer by its outcome
 * class (ssid_stats_outcome: the errno decides the class, and so ssictl's
 * exit status: choose it by what happened to the process). */
void ssid_mig_answer(const ssid_asker_t *a, int err, const char *text);

/* Like ssid_mig_answer, without counting: for a relayed answer, which its
 * home counted already. figs (NULL: none) go with a success. */
void ssid_mig_pass_on(const ssid_asker_t *a, int err, const char *text,
                      const ssid_mig_figs_t *figs);

/* Logs the end, answers whoever asked (with g's figures if it has them), frees g. */
void ssid_mig_finish(ssid_mig_t *g, int err, const char *text);

/* MIG_FAIL (reqid, text) to node `to`. */
void ssid_mig_send_fail(int to, uint64_t reqid, const char *text);

/* fork + exec of helper argv[0] (beside ssid) with fds[i] placed at fd i
 * (fds[i] < 0: /dev/null for 0-2, closed otherwise). With new_pidns the
 * program is pid 1 of a fresh PID namespace. The helper dies with ssid.
 * Returns its pid or -errno. */
pid_t ssid_mig_spawn(char *const argv[], const int *fds, int nfds, bool new_pidns);

/* ssid_mig_spawn(argv, fds, nfds, true) for the body's agent; with userns
 * (the sandbox, #12) the PID namespace is owned by a user namespace of its
 * own, made with it, whose uid and gid maps are the identity, and whose
 * hard limits are raised to the most (inside, no one can raise them).
 * Returns its pid, or -errno with why filled. */
pid_t ssid_mig_spawn_agent(char *const argv[], const int *fds, int nfds, bool userns, char *why,
                           size_t cap);

/* Makes g's stderr pipe and watches its read end (g->err_fd); *wr is the
 * write end, for the helpers. */
int ssid_mig_errpipe(ssid_mig_t *g, int *wr);

/* A pipe carrying a key to a helper, which reads 32 bytes from it: returns
 * the read end or -errno. */
int ssid_mig_keypipe(const uint8_t key[32]);

/* The last line the helpers wrote on stderr (what is left in the pipe is
 * read first): the reason of a failure, or fallback. */
const char *ssid_mig_reason(ssid_mig_t *g, const char *fallback);

/* Reads what is left of the helpers' stderr now. */
void ssid_mig_drain_err(ssid_mig_t *g);

/* Helper pid exited with status: the migration it worked for when this
 * was the last of its helpers to exit (the caller decides what follows),
 * else NULL. */
ssid_mig_t *ssid_mig_exited(pid_t pid, int status);

#endif
