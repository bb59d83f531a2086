/*
 * ssi_homecoming.h - the deputy brings its body home: the freeze signal
 * asks (ssi-freeze --home), the agent sends the body's image, the deputy
 * keeps it, dry-runs the restorer, commits, and execs ssi-restore
 * --in-place once the body is gone (docs/ENGINE.md, "Coming home").
 *
 * Driven by the deputy loop (ssi_deputy.c), which it never calls: the
 * loop asks whether a homecoming is wanted, begins it, blocks and forwards
 * the signals already caught, asks, steps it and passes it the HOME_*
 * frames. Part of libssi.so, home side, signal context: raw system calls,
 * static buffers.
 */
#ifndef SSI_HOMECOMING_H
#define SSI_HOMECOMING_H

#include "ssi_image.h"
#include "ssi_tunnel.h"

#include <stdint.h>

/* Installs the freeze signal's handler (nobody may freeze the deputy: the
 * signal asks for a homecoming) and takes the loop's self-pipe, which a
 * request writes to and which is the deputy's own (never the program's). */
void ssi_homecoming_init(int wake_rd, int wake_wr);

/* 1 when a request came and no homecoming runs yet. */
int ssi_homecoming_wanted(void);

/* Reads the request and checks what can be checked at once. 1: under way;
 * the caller must now block every signal, forward those already caught
 * and call ssi_homecoming_ask. 0: refused (answered) or gone. */
int ssi_homecoming_begin(void);

/* 1 when the homecoming under way is a checkpoint (the body stays). */
int ssi_homecoming_is_ckpt(void);

/* Asks the agent for the body (HOME_REQ). */
void ssi_homecoming_ask(void);

/* 1 while a homecoming runs: the body gets no more home input. */
int ssi_homecoming_active(void);

/* The deputy loop calls this at every turn while one runs: deadline, dry
 * run, commit. May exec ssi-restore (never returns then). */
void ssi_homecoming_step(void);

/* A HOME_* frame (h, its body). Outside a homecoming it is stale (we gave
 * up first) and ignored. */
void ssi_homecoming_frame(const ssi_tunnel_hdr_t *h, const uint8_t *body);

/* The program ended while coming home: the requester hears why not. */
void ssi_homecoming_ended(void);

/* 1: a link lost is recovered from the last checkpoint taken while away,
 * if any (the default once init ran); 0: never (the body exited: a link
 * that breaks now is no loss). */
void ssi_homecoming_arm(int on);

/* The recovery point a new deputy starts with: the last checkpoint taken
 * at home before the move (rec), or none (NULL). A checkpoint taken away
 * replaces it. */
void ssi_homecoming_set_recover(const ssi_image_recover_t *rec);

/* A probe of the link asked by ssid (SSI_IMAGE_PROBE_VALUE): sends it and
 * keeps a short TCP user timeout for a while. Returns the ms until it must
 * be called again, or -1. */
long ssi_homecoming_probe_step(void);

/* ---- fork, vfork, clone and execve away come home first ---------------
 * The body asks with SSI_CALL_OP_HOME (ssi_trap.c); the deputy loop then
 * asks its ssid (HOME_ASK), which brings the body home as `ssictl migrate
 * PID home` does, and answers only if that failed. */

/* The call server's executor of SSI_CALL_OP_HOME (ssi_callsrv_exec_t). */
int ssi_homecoming_exec(unsigned op, const int64_t *a, long *ret);

/* -1: ssid need not be asked; else the ms until it must be. */
long ssi_homecoming_self_due(void);

/* The deputy loop asked ssid (failed NULL) or could not (why). */
void ssi_homecoming_self_asked(const char *failed);

/* 1 while ssid's answer to HOME_ASK is awaited. */
int ssi_homecoming_self_waiting(void);

/* ssid's answer (err 0: OK): EBUSY asks again a second later; any other
 * error is the refusal the body's waiting threads hear. */
void ssi_homecoming_self_answer(int err, const char *why);

#endif
