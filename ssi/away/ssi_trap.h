/*
 * ssi_trap.h - the away body's trap core: catches, where they enter the
 * kernel, the system calls that the registered proxies ask for, and gives
 * each one to the first proxy that takes it; a call no proxy takes runs
 * here as if nothing had happened. It knows nothing of files or sockets.
 *
 * What it owns:
 *   - the seccomp filter, an allow-list built from the calls the proxies
 *     list, its own, and the table of every call (ssi_systab.c): other
 *     ABIs and unknown or unsafe calls are refused (logged once, ENOSYS);
 *     calls from libssi.so's own text pass only if the shim makes or
 *     re-issues them; mmap is trapped only when it maps a file;
 *   - the SIGSYS handler, and the program's own SIGSYS action, kept aside:
 *     the program's rt_sigaction and rt_sigprocmask are trapped so that
 *     SIGSYS stays deliverable and ours;
 *   - the calls refused in a migrated process (fork, vfork, clone, clone3,
 *     execve, execveat: ENOSYS);
 *   - the call link to the deputy (forwarding one call, marshalled with
 *     wire/ssi_call.c) and the local re-issue of a call with the program's
 *     signal mask;
 *   - the forwarded-fd table: which of the body's descriptors are
 *     placeholders of the deputy's descriptor at the same number;
 *   - the agent's control message (the call link's socket, its key, the
 *     forwarded fds) and the link's set-up.
 *
 * The proxies (vfs-proxy/away, netproxy/away) register through a static
 * table of handlers that the shim passes in (ssi_trap_set_proxies): the
 * way a plugin hooks events, so that the core calls no proxy by name and
 * the proxies never call each other (what one must tell the other goes
 * through the core: ssi_trap_call, ssi_trap_replaced, ssi_trap_own_fd).
 *
 * Runs inside user processes, in signal context (the SIGSYS handler, the
 * freeze and restore hooks): raw system calls, static buffers, no libc.
 */
#ifndef SSI_TRAP_H
#define SSI_TRAP_H

#include <stdint.h>

/* One proxy's handlers; any may be NULL. All run in signal context. */
typedef struct {
    const char *name;
    const uint16_t *calls; /* the system calls the proxy needs trapped */
    unsigned ncalls;
    /* Every trapped call, before any proxy handles it; a holds the
     * arguments as the registers do (ints zero-extended). */
    void (*seen)(long nr, const int64_t *a);
    /* A trapped call: 1 when the proxy handled it (*ret is its result),
     * 0 to leave it to the next proxy (after the last, it runs here). uc
     * is the signal frame (ucontext_t), for ssi_trap_local. */
    int (*call)(long nr, int64_t *a, void *uc, long *ret);
    /* Freeze hook, home or away: record what the restore needs. */
    void (*freeze)(void);
    /* Restored away: the agent's control socket (the proxy may keep it,
     * then own_fd names it). Before the call link is up. */
    void (*start)(int ctl_fd);
    /* The call link is up, before the program resumes. */
    void (*linked)(void);
    /* Restored at home (into the deputy): forget everything. */
    void (*home)(void);
    /* 1 when fd is the proxy's own, not the program's. */
    int (*own_fd)(int fd);
    /* A local descriptor now sits at fd (dup2/dup3 onto it): what the
     * proxy had there is gone. */
    void (*replaced)(int fd);
} ssi_trap_proxy_t;

/* The proxies, in the order in which they see each call. The table must
 * live as long as the process (static); set before the first freeze (the
 * freeze hooks run at home too). */
void ssi_trap_set_proxies(const ssi_trap_proxy_t *proxies, unsigned n);

/* ---- the shim's hooks ---------------------------------------------------- */

/* Freeze hook (home or away): the proxies' freeze hooks, then the number
 * the agent will give its control socket in the restored body. */
void ssi_trap_freeze(void);

/* Restore hook, away: takes the call link from the agent, marks the
 * forwarded descriptors, starts the proxies, installs the SIGSYS handler
 * and the seccomp filter. 1: trapping; 0: no agent control socket (a
 * plain restore: nothing installed); -errno: failure (the caller must not
 * let the program run: its deputy is not there). */
long ssi_trap_start(void);

/* Restored at home (into the deputy, which has no filter): every fd is
 * real again; forget the table and the link. Installs nothing. */
void ssi_trap_home(void);

/* 1 when fd is not the program's: the call link, or a proxy's own. */
int ssi_trap_own_fd(int fd);

/* ---- for the proxies -------------------------------------------------- */

/* 1 while the call link works (away, trapping). */
int ssi_trap_link_up(void);

/* Forwards one call of the call table (wire/ssi_call.h) with the
 * program's arguments a; out-arguments are copied back to its pointers.
 * The home result; -ENOSYS: not in the table; -EIO: no call link (the
 * first loss is logged once). Signals must be blocked (one call at a
 * time): the SIGSYS handler has them blocked. */
long ssi_trap_forward(unsigned op, const int64_t *a);

/* Runs system call nr here (the filter lets libssi.so's calls pass) with
 * the program's signal mask from uc, so that a blocking call is
 * interrupted as it would be at home. */
long ssi_trap_local(long nr, const int64_t *a, const void *uc);

/* The same, with the core's lock let go during the call when the caller
 * holds it once (not in a signal handler's call nested in its own): a
 * thread blocked in it (a read of a home pipe's tunnel) stalls no other
 * thread's calls. Only for a call whose result the proxy returns as it is,
 * with no static buffer of its own in use across it. */
long ssi_trap_local_free(long nr, const int64_t *a, const void *uc);

/* A call that waits at home (a lock wait: F_SETLKW, flock) made as its
 * non-blocking form, which said "busy": waits a little (*ms, doubled up to
 * 50 ms for the next time) outside the core's lock, every signal blocked
 * but the freeze signal, so that neither the other threads nor the
 * deputy's loop wait for it. Returns 0: try again; or what the call
 * returns now, as Linux would for a signal the program may take: -EINTR
 * when its handler has no SA_RESTART, else nr with the call rewound to its
 * `syscall` instruction (the signal is delivered as the handler returns,
 * then the call runs again). */
long ssi_trap_lock_wait(long nr, unsigned *ms, void *uc);

/* Gives call nr to the proxies as if it had been trapped (without the
 * seen hooks), or runs it here: for a proxy that acts on many
 * descriptors at once (close_range). */
long ssi_trap_call(long nr, int64_t *a, void *uc);

/* The forwarded-fd table: fd is a placeholder of the deputy's fd. */
int ssi_trap_fwd(long fd);
void ssi_trap_set_fwd(long fd, int on);

/* Tells every proxy that a local descriptor now sits at fd. */
void ssi_trap_replaced(int fd);

/* ---- the allow-list: what the filter does with each call ----------------- */

/* Call nr (x86_64) made by the program away, as the filter built from the
 * proxies set with ssi_trap_set_proxies and ssi_systab.c treats it.
 * *proxies (may be NULL): bit i set when proxy i lists it. */
#define SSI_TRAP_RUNS 0    /* runs untouched */
#define SSI_TRAP_SELF 1    /* runs when its first argument is 0 or its own pid, else refused */
#define SSI_TRAP_CORE 2    /* trapped; the core answers (signals; fork, exec refused) */
#define SSI_TRAP_PROXY 3   /* trapped; the listing proxies forward or re-issue it */
#define SSI_TRAP_FILEMAP 4 /* mmap: trapped when it maps a file, else runs */
#define SSI_TRAP_REFUSED 5 /* trapped, logged once per process and number, ENOSYS */
#define SSI_TRAP_WHO 6     /* (which, who): runs on itself only, else refused */
unsigned ssi_trap_class(long nr, unsigned *proxies);

/* 1 when libssi.so's own text may make call nr away (the shim's own calls
 * and the trapped calls it re-issues); else it fails with ENOSYS. */
int ssi_trap_shim_may(long nr);

/* The program's no_new_privs before the trap set it (a seccomp filter needs
 * it), 0 or 1; -1 when not trapping. */
int ssi_trap_program_nnp(void);

/* The name of call nr (NULL if unknown), of proxy i (NULL past the last). */
const char *ssi_trap_sys_name(long nr);
const char *ssi_trap_proxy_name(unsigned i);

#endif
