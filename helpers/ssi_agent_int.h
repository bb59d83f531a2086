/*
 * ssi_agent_int.h - what the modules of ssi-agent share (internal to the
 * program; runs on the body's node, as pid 1 of the body's PID namespace).
 *
 * The modules, from the top down; each calls only those below it:
 *
 *   ssi_agent.c        main, options, the listening socket, the restore of
 *                      the body, the deputy's handshake and call link
 *   ssi_agent_home.c   coming home: checks, freeze of the body, drain,
 *                      image, verdict
 *   ssi_agent_relay.c  the channels: frames in, DATA out, flow control
 *                      (rpc/ssi_flow), netproxy's run-time channels, the
 *                      relay loop; it reaches the homecoming only through
 *                      the hook main sets (ssi_agent_relay_set_home)
 *   ssi_agent_link.c   the link to the deputy and the body's life: frames
 *                      out, a lost deputy, the link's end, reaping, job
 *                      control
 *   ssi_agent_plan.c   what becomes of each descriptor of the image: a
 *                      tunnel, a placeholder of a home file, a local device
 *   ssi_agent_proc.c   what /proc says of the body
 *   ssi_agent_pre.c    the pages of a live move's pre-copy rounds, by
 *                      address, until the final image's CLEAN ranges
 *   ssi_agent_base.c   the shared state, reporting (log, status line,
 *                      failure), the channel table
 *
 * Exported names: ssi_agent_<file>_* for each module, plain ssi_agent_*
 * for the base. Ordinary libc code (malloc, stdio): this is a program of
 * its own, not the shim.
 */
#ifndef SSI_AGENT_INT_H
#define SSI_AGENT_INT_H

#include "ssi_flow.h"
#include "ssi_image.h"
#include "ssi_tunnel_link.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One tunnel as the agent sees it: `fd` is our end of the socketpair. */
typedef struct {
    int chan; /* the body's fd number */
    int fd;
    int body_fd;       /* the other end, until the restorer has it */
    uint64_t body_ino; /* its inode: tells our tunnel from a socket made away */
    uint8_t dir, flags;
    uint32_t fd_flags, fl_flags; /* from the image */
    /* Credit both ways (window ssi_tunnel_window(flags)): sending body ->
     * home, receiving home -> body; flow.queued is what buf holds. */
    ssi_flow_t flow;
    /* body -> home */
    int rd_done;
    /* home -> body: flow.queued bytes at buf + off */
    uint8_t *buf;
    uint32_t off;
    int in_eof, wr_done;
    int in_reset; /* RESET: end the body's side with ECONNRESET, not EOF */
    int dynamic;  /* added at run time (NEWCHAN): removed once done */
    int dead;
} ssi_agent_chan_t;

/* A descriptor reopened locally at the same fd number. */
typedef struct {
    int fd;
    uint32_t fd_flags, fl_flags;
    char path[32];
} ssi_agent_dev_t;

#define SSI_AGENT_MAX_DEVS 16

/* The agent's state: one process, one body, one link. */
typedef struct {
    int verbose;
    /* The body runs in namespaces of its own with an empty root (1, the
     * default; --no-sandbox: 0, the cluster file's `sandbox = off`). */
    int sandbox;
    int status_fd;
    volatile sig_atomic_t stop; /* SIGTERM, SIGINT, SIGHUP */
    /* The body: our child, pid `body` in our namespace (= its home pid). */
    pid_t body;
    int body_done, body_status;
    /* The plan (ssi_agent_plan.c): tunnels, local devices, and home files
     * (vfs-proxy: a /dev/null placeholder at the same number with the same
     * access mode; the deputy's fd of that number is the real one). */
    ssi_agent_chan_t chans[SSI_TUNNEL_MAX_CHANS];
    int nchans;
    ssi_agent_dev_t devs[SSI_AGENT_MAX_DEVS];
    int ndevs;
    ssi_agent_dev_t *fwds; /* grown as needed (malloc), up to SSI_TUNNEL_CTL_MAX_FWD */
    int nfwds, cap_fwds;
    /* The control socket: [0] ours, [1] the body's, at number ctl_num. The
     * body's end of it and of the call link (inodes): the homecoming check
     * knows them as ours. */
    int ctl[2];
    int ctl_num;
    unsigned long long ctl_ino, call_ino;
    /* The data link to the deputy, and one frame's payload. */
    ssi_tunnel_link_t link;
    int link_lost; /* the deputy is gone: ssi_agent_link_lost runs */
    uint8_t frame[SSI_TUNNEL_DATA_MAX];
    /* Set by frames from the deputy, read by the homecoming. */
    int home_wanted, home_verdict;
    uint32_t home_flags; /* the last HOME_REQ's: SSI_TUNNEL_HOME_F_CKPT */
    ssi_tunnel_winsz_t winsz[SSI_TUNNEL_MAX_CHANS];
} ssi_agent_t;

extern ssi_agent_t ssi_agent;

/* ---- ssi_agent_base.c -------------------------------------------------- */

/* Resets the state: no body, no status fd, nothing planned. */
void ssi_agent_init(void);
/* A line on stderr when verbose. */
void ssi_agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line on the status fd: what ssid (or a test) waits for. */
void ssi_agent_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Kills and reaps the body, if it runs. */
void ssi_agent_kill_body(void);
/* Kills the body, reports "failed: REASON", exits with status 1. */
__attribute__((noreturn, format(printf, 1, 2))) void ssi_agent_fail(const char *fmt, ...);
long ssi_agent_now_ms(void);
/* The inode of fd, or 0. */
uint64_t ssi_agent_ino(int fd);
/* The channel with id `id`, or NULL. */
ssi_agent_chan_t *ssi_agent_chan_find(unsigned id);
/* A new channel at the end of the table, with its buffer and full credit
 * (fd -1): fails (exits) when out of memory; the caller checks room. */
ssi_agent_chan_t *ssi_agent_chan_add(int chan, uint8_t dir, uint8_t flags);

/* ---- ssi_agent_proc.c -------------------------------------------------- */

/* The body's pid as /proc knows it, or -1. */
pid_t ssi_agent_proc_pid(void);
/* Whether the body catches or ignores sig. */
int ssi_agent_proc_handles(int sig);
/* A value of the body's initial environment: 0, or -1 if absent. */
int ssi_agent_proc_env(const char *key, char *out, size_t cap);
/* The body's fd of channel c, or -1 if none. */
int ssi_agent_proc_fd_of(const ssi_agent_chan_t *c);

/* ---- ssi_agent_plan.c -------------------------------------------------- */

/* Decides what becomes of one descriptor of the image (fails on what
 * cannot move). */
void ssi_agent_plan_fd(const ssi_image_fd_t *f);
/* The control socket's number: the lowest from SSI_TUNNEL_CTL_FD_MIN up
 * that the image does not use (the body's shim computed the same). */
int ssi_agent_plan_ctl_num(void);

/* ---- ssi_agent_link.c -------------------------------------------------- */

/* Sends one frame; a broken link ends the agent (ssi_agent_link_lost). */
void ssi_agent_link_send(unsigned type, unsigned chan, const void *p, uint32_t len);
/* The deputy is gone: a short grace for the body, then reports, exits. */
__attribute__((noreturn)) void ssi_agent_link_lost(int pidfd, long err);
/* After the last frame: ends the stream, lets the deputy read it all. */
void ssi_agent_link_finish(void);
/* Reaps the body (and reports its stops to the deputy). */
void ssi_agent_link_reap(void);
/* The signal that does at the body what sig did at home. */
int ssi_agent_link_signal(int sig);

/* ---- ssi_agent_relay.c ------------------------------------------------- */

/* What the relay loop runs when the deputy asks the body home. */
typedef void (*ssi_agent_home_fn)(int pidfd);
void ssi_agent_relay_set_home(ssi_agent_home_fn fn);
/* Handles one frame from the deputy (in ssi_agent.frame). */
void ssi_agent_relay_frame(const ssi_tunnel_hdr_t *h);
/* How much of c may be read and sent now (0: wait for credit). */
uint32_t ssi_agent_relay_room(const ssi_agent_chan_t *c);
/* Sends n bytes of ssi_agent.frame as DATA on c, within its credit. */
void ssi_agent_relay_data(ssi_agent_chan_t *c, uint32_t n);
/* Reads what c's body end has for home and sends it. */
void ssi_agent_relay_read(ssi_agent_chan_t *c);
/* Writes what c holds from home to the body. */
void ssi_agent_relay_write(ssi_agent_chan_t *c);
/* Relays until the body has exited and its output is delivered. */
void ssi_agent_relay_run(void);

/* ---- ssi_agent_home.c -------------------------------------------------- */

/* Brings the body home if it can (the deputy asked): exits when it went,
 * returns when it was refused and the body runs on here. */
void ssi_agent_home_run(int pidfd);

/* ---- ssi_agent_pre.c: a live move's pre-copy pages ----------------------- */

/* Reads the preamble's records after its magic, up to PRE_END; 0 or -errno. */
int ssi_agent_pre_read(int in);
/* 1 once a preamble was read. */
int ssi_agent_pre_have(void);
/* Rounds the preamble carried (its PRE_END). */
uint64_t ssi_agent_pre_rounds(void);
/* A CLEAN range: writes PAGES records of the pages held in it to out,
 * adding the records and page bytes written to *nrec and *bytes. */
int ssi_agent_pre_clean(int out, uint64_t addr, uint64_t len, int64_t *nrec, uint64_t *bytes);
/* Drops every page held. */
void ssi_agent_pre_free(void);

#endif
