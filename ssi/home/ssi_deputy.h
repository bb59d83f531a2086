/*
 * ssi_deputy.h - the deputy: what a migrated process becomes at home.
 *
 * Part of libssi.so; runs inside the freeze handler of the home process
 * (signal context): raw system calls, static buffers, no malloc, no stdio.
 * After the verdict SSI_IMAGE_VERDICT_DEPUTY the handler calls
 * ssi_deputy_connect() through the deputy hook the shim set
 * (ssi_freeze_set_deputy_hook); if that succeeds, ssi_deputy_run() releases the
 * program's memory and relays the tunnelled descriptors and signals to
 * the body agent until the body exits, then exits with the body's status.
 * Protocol: ssi_tunnel.h and docs/ENGINE.md, "Deputy and body agent".
 */
#ifndef SSI_DEPUTY_H
#define SSI_DEPUTY_H

#include "ssi_image.h"

/* Connects to the agent named in d, says HELLO and waits for ACCEPT.
 * Returns 0 (the link is up; the caller must now call ssi_deputy_run) or
 * -errno with nothing changed: the caller thaws and the program goes on.
 * The key is copied; the caller wipes d. rec (or NULL): the last
 * checkpoint taken at home, the deputy's recovery point until one is
 * taken away. */
long ssi_deputy_connect(const ssi_image_deputy_t *d, const ssi_image_recover_t *rec);

/* ssid's local socket (NULL: none; the string must stay): the deputy
 * connects there and reports, at most once a second and at its end, how
 * many calls it served (SSI_MSG_CALLS, no answer). */
void ssi_deputy_set_ssid_path(const char *path);

/* Becomes the deputy; never returns. Exits with the body's exit status,
 * or as if killed by SIGKILL when the link to the agent breaks. */
__attribute__((noreturn)) void ssi_deputy_run(void);

#endif
