/* ssi_msg: the wire format of every control message: daemon to daemon over
 * zeromq, tools and shims to their daemon over the local Unix socket.
 *
 * A frame is an 8-byte header, 'S' 'I' VERSION TYPE and the body length as a
 * big-endian u32, followed by the body: a sequence of fields, each a tag
 * byte, a big-endian u16 length and that many value bytes. Integers are
 * big-endian u64 (8 bytes); strings are bytes without a NUL; a nested record
 * (one node's load, one process) is a field whose value is itself a
 * sequence of fields.
 *
 * Runs inside user processes (the shim): no allocation, no stdio, no locks.
 * Every function returns >= 0 or -errno; nothing here logs. */
#ifndef SSI_MSG_H
#define SSI_MSG_H

#include <stddef.h>
#include <stdint.h>

#define SSI_MSG_VERSION 1
#define SSI_MSG_HEADER 8
#define SSI_MSG_MAX_BODY (1u << 20) /* a larger frame is refused */
#define SSI_MSG_MAX_FIELD 4096      /* a larger field is refused */
#define SSI_MSG_MAX_FIELDS 1024     /* fields in one frame or record */

enum ssi_msg_type {
    SSI_MSG_ERROR = 1,        /* ERRNO, TEXT */
    SSI_MSG_OK = 2,           /* reply with nothing to say */
    SSI_MSG_HEARTBEAT = 3,    /* NODE, SEQ [HEARD]: node to node, every 500 ms */
    SSI_MSG_GOSSIP = 4,       /* NODE, LOAD...: node to one random peer */
    SSI_MSG_REGISTER = 5,     /* PID, PPID, CMD: shim to its ssid */
    SSI_MSG_NODES = 6,        /* tool asks for the node table */
    SSI_MSG_NODES_REP = 7,    /* LOAD... */
    SSI_MSG_PS = 8,           /* REQID, SCOPE: list ssi processes */
    SSI_MSG_PS_REP = 9,       /* REQID, NODE, PROC... */
    SSI_MSG_MIGRATE = 10,     /* PID NODE [UID]: move a process (tool or node to home) */
    SSI_MSG_MIG_OFFER = 11,   /* REQID HOME PID UID CMD KEY KEY2: home to destination */
    SSI_MSG_MIG_READY = 12,   /* REQID PORT DPORT: destination waits for the image */
    SSI_MSG_MIG_FAIL = 13,    /* REQID TEXT: either side gives up */
    SSI_MSG_MIG_BODY = 14,    /* REQID HOME PID STATE: destination: the body runs or ended */
    SSI_MSG_MIG_DONE = 15,    /* REQID ERRNO TEXT: home's answer to a relayed MIGRATE */
    SSI_MSG_BODY_SIGNAL = 16, /* HOME PID SIGNO: home to the body's node: stop the body */
    /* 20-24: the load balancer (w-bal) */
    SSI_MSG_ADMIN = 20,      /* OP [NODE] [PID] [REQID UID]: block, expel, stay...; tool or node */
    SSI_MSG_ADMIN_DONE = 21, /* REQID ERRNO TEXT: a node's answer to a relayed ADMIN */
    SSI_MSG_EVENT = 22,      /* KIND TIMEMS TEXT: something happened here (node to every peer) */
    SSI_MSG_EVENTS = 23,     /* [SEQ]: tool asks for the events after SEQ */
    SSI_MSG_EVENTS_REP = 24, /* EVENT... SEQ (the last one listed) */
    SSI_MSG_CHECKPOINT = 25, /* PID [PATH]: tool to its ssid, the process's home (w-ckpt: 25-29) */
    /* REQID PID: home to a node heard again after it was lost, whose body of process PID (moved
     * there by REQID; 0: unknown) was recovered elsewhere meanwhile: end that body. Sent every
     * second until answered. */
    SSI_MSG_RECOVERED = 26,
    /* REQID PID FOUND [KIND TIMEMS TEXT]: the answer; FOUND bodies were killed (then with its
     * event's fields). */
    SSI_MSG_RECOVERED_ACK = 27,
    /* 50-54: reporting (#16). CALLS: a deputy to its home ssid, the calls it served so far
     * (no answer). */
    SSI_MSG_CALLS = 50,
    /* 70-74: the balancer's per-source limit (#13, w-place). A home's balancer asks the node
     * where its process runs for one of that node's outgoing moves of this period; the node
     * counts every balancer move that leaves it, whatever the home, and grants at most the
     * cluster file's 'moves' per period. */
    SSI_MSG_MOVE_ASK = 70,    /* REQID HOME PID: home to the node its process runs on */
    SSI_MSG_MOVE_ANSWER = 71, /* REQID ERRNO [TEXT]: 0 granted (counted), EBUSY spent */
    /* Each period, a node tells the home of its guests what CPU they demand where they run:
     * pairs PID LOADM (the home pid; (run + run-queue wait) / wall time x 1000). */
    SSI_MSG_GUEST_LOAD = 72,
    /* 55-59: fork and exec away (#11, w-thr). HOME_ASK: a deputy to its home ssid, bring my
     * body home (as 'ssictl migrate PID home'; the process is the connection's peer); the
     * answer is that of a MIGRATE. */
    SSI_MSG_HOME_ASK = 55,
    /* 75-78: the sandbox (#12, w-sec). PIN: the shim to its ssid, on its registration
     * connection (no answer): this process cannot move, and why (a seccomp filter the program
     * is installing forbids a call the freeze needs); an empty TEXT takes it back (the kernel
     * refused that filter). */
    SSI_MSG_PIN = 75, /* TEXT */
    /* Numbers 17-79 are reserved for the messages of work in progress (ranges per branch);
     * the decoder takes any number up to the maximum, the handlers refuse what they do not know. */
    SSI_MSG_TYPE_MAX = 79
};

enum ssi_msg_tag {
    SSI_TAG_ERRNO = 1,   /* u64 */
    SSI_TAG_TEXT = 2,    /* string */
    SSI_TAG_NODE = 3,    /* string: a node name */
    SSI_TAG_SEQ = 4,     /* u64 */
    SSI_TAG_LOAD = 5,    /* record: NODE STATE LOADM NCPU FREEKB NPROCS AGEMS */
    SSI_TAG_STATE = 6,   /* string */
    SSI_TAG_LOADM = 7,   /* u64: run-queue length x 1000; in PROC: CPU demand x 1000 */
    SSI_TAG_NCPU = 8,    /* u64 */
    SSI_TAG_FREEKB = 9,  /* u64: free memory in KiB */
    SSI_TAG_NPROCS = 10, /* u64: ssi processes on the node */
    SSI_TAG_AGEMS = 11,  /* u64: age of the information in ms */
    SSI_TAG_PID = 12,    /* u64 */
    SSI_TAG_PPID = 13,   /* u64 */
    SSI_TAG_CMD = 14,    /* string */
    SSI_TAG_REQID = 15,  /* u64 */
    SSI_TAG_SCOPE = 16,  /* u64: 0 this node only, 1 the whole cluster */
    SSI_TAG_PROC = 17,   /* record: HOME PID NODE STATE CMD UID */
    SSI_TAG_HOME = 18,   /* string: a home node name */
    SSI_TAG_UID = 19,    /* u64 */
    SSI_TAG_CPUM = 20,   /* u64: CPU share x 1000 (quota), in LOAD */
    SSI_TAG_KEY = 21,    /* 32 bytes: the image key of one migration */
    SSI_TAG_KEY2 = 22,   /* 32 bytes: the data key (body to deputy) */
    SSI_TAG_PORT = 23,   /* u64: a TCP port */
    SSI_TAG_DPORT = 24,  /* u64: the body agent's data port */
    SSI_TAG_SIGNO = 25,  /* u64: a signal number */
    /* 26-34: install and versions (issue #16) */
    SSI_TAG_VERSION = 26, /* string: the sender's ssi version (HEARTBEAT; LOAD in NODES_REP) */
    SSI_TAG_PROTO = 27,   /* u64: a node's protocol version (LOAD in NODES_REP) */
    /* 35-44: the load balancer (w-bal) */
    SSI_TAG_STAY = 35,     /* u64 1: the balancer leaves this process where it is */
    SSI_TAG_MOVES = 36,    /* u64: how many times a process moved */
    SSI_TAG_ONNODEMS = 37, /* u64: ms since a process arrived where it runs */
    SSI_TAG_OP = 38,       /* string: an ADMIN operation (block, unblock, expel, drain, stay...) */
    SSI_TAG_BLOCKED = 39,  /* u64 in LOAD: 1 the node takes no guests, 2 it drains */
    SSI_TAG_IMAGEKB = 40,  /* u64 in MIG_OFFER: the process's resident memory, KiB */
    SSI_TAG_EMPTYMS = 41,  /* u64 in LOAD: the node has run no ssi process for this long */
    SSI_TAG_KIND = 42,     /* string: an event's kind (migrated, balance, admin, node...) */
    SSI_TAG_TIMEMS = 43,   /* u64: wall-clock time, ms since 1970 */
    SSI_TAG_EVENT = 44,    /* record: SEQ TIMEMS NODE KIND TEXT */
    /* 45-54: checkpoints, daemons that restart (issue #15) */
    SSI_TAG_PATH = 45,       /* string: a file's absolute path */
    SSI_TAG_HEARD = 46,      /* u64: in HEARTBEAT, 1 if the sender hears the receiver */
    SSI_TAG_CKPT_EVERY = 47, /* u64: in REGISTER, seconds between periodic checkpoints */
    SSI_TAG_CKPT_AGEMS = 48, /* u64: in PROC, age of the last checkpoint (ms) */
    SSI_TAG_FOUND = 49,      /* u64: in RECOVERED_ACK, how many old bodies were killed */
    /* Reporting (issue #16): a migration's outcome class, and each node's counters. */
    SSI_TAG_OUTCOME = 95, /* u64: enum ssi_outcome, in ERROR and MIG_DONE answers to MIGRATE */
    SSI_TAG_STATS = 96,   /* record in PS_REP: NODE GUESTS MIGS... BYTES FREEZE... FRZSUM */
    SSI_TAG_GUESTS = 97,  /* u64: bodies of other homes' processes running on the node */
    SSI_TAG_MIGS = 98,    /* record: OUTCOME SEQ (how many answers of that class) */
    SSI_TAG_BYTES = 99,   /* u64: image bytes of the moves out of home that succeeded */
    SSI_TAG_FREEZE = 100, /* record: LEUS SEQ (a freeze-time bucket, not cumulative) */
    SSI_TAG_LEUS = 101,   /* u64: a bucket's upper bound in µs; UINT64_MAX for +Inf */
    SSI_TAG_FRZSUM = 102, /* u64: sum of the freeze times in µs */
    /* What one move did (issue #14), in the OK and MIG_DONE answers to a MIGRATE that moved a
     * process out of home (stop-and-copy); absent when not known (a homecoming). */
    SSI_TAG_MBYTES = 103,  /* u64: the image bytes this move sent */
    SSI_TAG_MFREEZE = 104, /* u64: how long this move kept the process frozen, in µs */
    SSI_TAG_MFROM = 105,   /* string: the node the process left */
    SSI_TAG_MTO = 106,     /* string: the node it runs on now */
    /* Pre-copy (live) moves (issue #14, w-live's range 132-141). */
    SSI_TAG_MROUNDS = 132,  /* u64: pre-copy rounds this move sent; 0: stop-and-copy */
    SSI_TAG_MCONV = 133,    /* u64: 1 the rounds became small; 0 cut short (writes too fast) */
    SSI_TAG_STOPCOPY = 134, /* u64: in MIGRATE, 1: no pre-copy rounds (ssictl --stop-copy) */
    SSI_TAG_CALLS = 111, /* u64: forwarded calls served (CALLS: one deputy's; STATS: the node's) */
    /* 142-151: placement before main and the balancer's per-source limit (#13, w-place). */
    SSI_TAG_PLACE_ASK = 142, /* u64 1 in REGISTER: the shim asks where to run before main */
    SSI_TAG_PLACE = 143,     /* string in REGISTER's OK: the node to move to before main */
    /* 152-155: the lead's. MAPFILE, in a MIG_OFFER, once per file the process maps: its
     * BLAKE2b-256, size and mtime (ns, u64 each, host order) as home has them, then its path
     * (ssid/ssid_mapfiles.h). */
    SSI_TAG_MAPFILE = 152,
};

/* The class of a MIGRATE's answer (SSI_TAG_OUTCOME), decided by the home's ssid from the
 * errno it answers with (ssid_mig.h says which errno means what); ssictl's exit status and
 * ssid's migration counters follow it. */
enum ssi_outcome {
    SSI_OUTCOME_OK = 0,      /* moved */
    SSI_OUTCOME_REFUSED = 1, /* the process cannot move (precheck), or is moving already */
    SSI_OUTCOME_NODE = 2,    /* the node (or the home node) is unknown or down */
    SSI_OUTCOME_PERM = 3,    /* the user may not move that process */
    SSI_OUTCOME_FAILED = 4,  /* failed on the way; the process runs where it was */
    SSI_OUTCOME_NOPROC = 5,  /* no such ssi process */
    SSI_OUTCOME_OTHER = 6,   /* anything else (malformed, out of memory, process lost, ...) */
    SSI_OUTCOME_MAX = 6
};

typedef struct {
    uint8_t tag;
    uint16_t len;
    const uint8_t *val; /* borrowed from the parsed buffer */
} ssi_field_t;

typedef struct {
    int type;
    size_t nfields;
    ssi_field_t field[SSI_MSG_MAX_FIELDS];
} ssi_msg_t;

/* A writer fills a caller's buffer; the first error sticks and is returned
 * by ssi_msg_end, so callers check once. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
} ssi_msg_writer_t;

void ssi_msg_begin(ssi_msg_writer_t *w, void *buf, size_t cap, int type);
void ssi_msg_put_u64(ssi_msg_writer_t *w, int tag, uint64_t v);
void ssi_msg_put_bytes(ssi_msg_writer_t *w, int tag, const void *p, size_t n);
void ssi_msg_put_str(ssi_msg_writer_t *w, int tag, const char *s);
/* Like put_str, but cuts s to fit one field instead of failing. */
void ssi_msg_put_str_cut(ssi_msg_writer_t *w, int tag, const char *s);
/* Open a nested record; returns a mark for ssi_msg_close. */
size_t ssi_msg_open(ssi_msg_writer_t *w, int tag);
void ssi_msg_close(ssi_msg_writer_t *w, size_t mark);
/* Finish the frame: its total length, or -EMSGSIZE / -EINVAL. */
long ssi_msg_end(ssi_msg_writer_t *w);

/* Length of the whole frame starting at buf once its header is there:
 * -EAGAIN if fewer than SSI_MSG_HEADER bytes, -EPROTO for a bad magic or
 * version, -EMSGSIZE for a body over SSI_MSG_MAX_BODY. */
long ssi_msg_frame_len(const void *buf, size_t len);

/* The protocol version in the header of the frame at buf, whatever it is:
 * -EAGAIN if fewer than SSI_MSG_HEADER bytes, -EPROTO if the magic is not
 * there. Lets a receiver tell "another version of ssi" from "garbage"
 * without reading anything else of a frame it cannot parse. */
int ssi_msg_version(const void *buf, size_t len);

/* Parse one complete frame of exactly len bytes into m. -EBADMSG when
 * truncated or trailing bytes, -EPROTO bad magic/version, -ENOMSG unknown
 * type, -EMSGSIZE oversize field or body, -E2BIG too many fields. */
int ssi_msg_parse(const void *buf, size_t len, ssi_msg_t *m);
/* Parse a field sequence (a body or a nested record): count or -errno. */
long ssi_msg_fields(const uint8_t *p, size_t len, ssi_field_t *out, size_t cap);

/* First field with tag among n, or NULL. */
const ssi_field_t *ssi_msg_find(const ssi_field_t *f, size_t n, int tag);
/* Typed readers: -EBADMSG for a wrong length, -ENOENT for f == NULL. */
int ssi_field_u64(const ssi_field_t *f, uint64_t *out);
/* Copy a string field with a NUL: -EMSGSIZE if it does not fit cap,
 * -EBADMSG if it holds a NUL byte. */
int ssi_field_str(const ssi_field_t *f, char *dst, size_t cap);

const char *ssi_msg_type_name(int type);

/* Is name usable as a node name: [A-Za-z0-9._-], 1..63 bytes, not "home"
 * (which ssictl migrate reserves for a process's home node)? */
int ssi_msg_valid_name(const char *name);

/* The name of an outcome class ("ok", "refused", "node", "permission", "failed", "noproc",
 * "other"), as ssictl metrics labels it; "other" for a number out of range. */
const char *ssi_outcome_name(int outcome);

#endif
