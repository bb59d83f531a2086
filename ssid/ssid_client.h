/* ssid_client: the local socket's clients. A tool (ssictl) asks once; a
 * shim registers its process and keeps its connection open for as long as
 * the process lives, so the table of clients is also this node's table of
 * ssi processes. Accepts, reads whole frames and hands each to the message
 * handler the layer above set; answers. Uses ssid_node only. Runs in ssid. */
#ifndef SSID_CLIENT_H
#define SSID_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ssi_msg.h"

#define SSID_CLIENT_MAX 4096
/* Limits on local clients other than root's, so that no user can lock
 * another, or root, out of ssid: connections per uid (each ssi process
 * holds one for its life), the last slots of the table kept for root, and
 * requests per second per uid (REGISTER excepted: bounded by connections),
 * with a burst. Root is always served while the table has room. */
#define SSID_CLIENT_PER_UID 1024
#define SSID_CLIENT_ROOT_RESERVE 64
#define SSID_CLIENT_RATE 50
#define SSID_CLIENT_BURST 100
#define SSID_CLIENT_BUF 65536

/* One connection on the local socket. */
typedef struct {
    uint64_t id; /* unique for ssid's life: an answer finds its asker by it */
    int fd;      /* the socket; once a deputy closed it, the pidfd */
    pid_t pid;   /* from SO_PEERCRED */
    uid_t uid;
    int proc;       /* pidfd of the very process that connected (SO_PEERPIDFD), or -1 */
    uint64_t start; /* that process's start time (/proc/PID/stat field 22), 0 unknown */
    bool registered;
    pid_t ppid;
    char cmd[1024];
    int away;            /* node index where its body runs, or -1: at home */
    int pidfd;           /* the process, held from its first migration on */
    bool migrating;      /* a migration is under way */
    bool stop_sent;      /* away: its deputy is stopped and the body was told */
    bool sock_gone;      /* its socket closed: fd is the pidfd, no one to answer */
    bool stay;           /* the balancer leaves it where it is (ssirun --stay) */
    unsigned moves;      /* moves that ended with it somewhere else */
    int64_t since;       /* when it arrived where it runs (ssid_node_now) */
    int64_t started;     /* when it registered */
    int64_t move_ms;     /* how long its last move took */
    double demand;       /* CPU demand the balancer measured (0..1), for ps and top */
    bool ckpt;           /* a checkpoint is being written (ssid_ckpt) */
    uint32_t ckpt_every; /* seconds between periodic checkpoints, or 0 */
    uint32_t ckpt_seq;   /* periodic checkpoints started */
    int64_t ckpt_due;    /* when the next periodic one is due (ms) */
    int64_t ckpt_done;   /* when the last checkpoint was written (ms), or 0 */
    uint64_t calls;      /* on a deputy's report connection: the calls it served (CALLS) */
    bool calls_vouched;  /* that connection's first report came from a live process */
    int64_t probe_next;  /* its node is down: when to ask its deputy to probe again (ms) */
    int64_t recovered;   /* recovered at home: when to choose where it runs (ms), or 0 */
    uint64_t away_reqid; /* the move (our id) that put its body where it runs, or 0 */
    char pinned[240];    /* why it cannot move or be checkpointed (its shim's PIN), or "" */

    /* The last checkpoint written, or "": a move arms the deputy with it. */
    char ckpt_file[1024];
    size_t len;
    uint8_t buf[SSID_CLIENT_BUF];
} ssid_client_t;

/* What the layer above does with one whole frame from a client. */
typedef void ssid_client_message_fn(ssid_client_t *c, const uint8_t *frame, size_t len);

/* Watches the local listener (ssid_node.listen_fd) on ssid_node.loop;
 * every frame a client sends goes to on_message. */
int ssid_client_start(ssid_client_message_fn *on_message);

/* Closes every client (at shutdown). */
void ssid_client_close_all(void);

/* The clients, for walking them: index 0 .. ssid_client_count() - 1. A
 * client may be closed only from its own poller, so the order holds
 * during a walk that closes none. */
int ssid_client_count(void);
ssid_client_t *ssid_client_at(int i);

/* How many clients are registered ssi processes. */
int ssid_client_nprocs(void);

ssid_client_t *ssid_client_by_id(uint64_t id);

/* The registered process whose pid is pid, or NULL. A record is bound to
 * the process that connected (its pidfd and its start time): once that
 * process has ended, the record never matches, even when another process
 * got the same pid (a stale registration cannot reach someone else's
 * process). */
ssid_client_t *ssid_client_by_pid(pid_t pid);

/* A pidfd of c's process (borrowed), or -1 if ssid has none. */
int ssid_client_pidfd(const ssid_client_t *c);

/* Does the process that opened c's connection still exist (a zombie
 * counts) under c->pid? */
bool ssid_client_alive(const ssid_client_t *c);

/* REGISTER: the client is the shim of process c->pid. 0: registered, the
 * caller answers with ssid_client_registered; -1: refused and answered. A
 * process that registers again (restarted from a checkpoint) replaces the
 * record it had: *lost is the node index where that record's body ran
 * (recovered from a lost node), or -1. */
int ssid_client_register(ssid_client_t *c, const ssi_msg_t *m, int *lost);

/* The OK to a REGISTER; place: a node to move to before main, or NULL. */
void ssid_client_registered(ssid_client_t *c, const char *place);

/* A process that registered with a previous ssid (ssid_state): listed
 * as registered, watched through a pidfd as if its socket had closed;
 * away: the node its body runs on, or -1. 0 or -errno. */
int ssid_client_adopt(pid_t pid, uid_t uid, pid_t ppid, const char *cmd, int away);

/* From a migration on, ssid holds a pidfd on the process: the deputy may
 * drop the socket it registered with, the pidfd then tells when it ends. */
void ssid_client_hold(ssid_client_t *c);

/* A move of c ended with it on node `to` (-1: home) after ms milliseconds. */
void ssid_client_moved(ssid_client_t *c, int to, int64_t ms);

/* The state letter of /proc/PID/stat ('R', 'S', 'T', ...), '?' if unknown. */
char ssid_client_state(pid_t pid);

/* Answers: a whole frame, an ERROR, an OK with a text. A client that does
 * not read its answer loses its connection rather than stall the daemon. */
void ssid_client_reply(ssid_client_t *c, const void *buf, size_t len);
void ssid_client_reply_error(ssid_client_t *c, int err, const char *text);
void ssid_client_reply_ok(ssid_client_t *c, const char *text);

/* Appends this node's processes as PROC records (for ps). */
void ssid_client_put_procs(ssi_msg_writer_t *w);

/* Start time of process pid in clock ticks since boot (field 22 of /proc/PID/stat), 0 if
 * there is no such process: with the pid, it names one process for good. */
uint64_t ssid_client_start_time(pid_t pid);

#endif
