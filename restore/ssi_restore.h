/*
 * ssi_restore.h - what the restorer's parts share (restore/ssi_restore.c is
 * the restorer; this folder is built as one static-pie program with no libc).
 */
#ifndef SSI_RESTORE_H
#define SSI_RESTORE_H

#include "ssi_image.h"

/* Ends the restore: writes "ssi-restore: WHAT DETAIL (errno)" where the
 * restorer reports, and exits 1 (the body never runs). */
__attribute__((noreturn)) void ssi_restore_die(const char *what, const char *detail, long err);

/* Last of all: the process's user, groups and, if the image has them (caps
 * not NULL), capabilities, bounding and ambient sets, securebits and
 * no_new_privs (restore/ssi_restore_creds.c). A restorer that is not root
 * (in place: the process itself) only checks that the user is the image's. */
void ssi_restore_creds(const ssi_image_creds_t *c, const ssi_image_caps_t *caps);

/* In the new task, root still, once every file of the image is mapped and
 * the executable set: the root becomes an empty tmpfs with the body's own
 * /proc, the harmless devices and the files it maps
 * (restore/ssi_restore_sandbox.c). maps: the text of /proc/self/maps (NULL:
 * it could not be read, the restore fails). Needs the mount namespace of
 * its own that the agent made. */
void ssi_restore_sandbox_enter(const char *maps);

#endif
