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

/* The body's sandbox (restore/ssi_restore_sandbox.c), in the new task,
 * root still, in the mount namespace of its own that the agent made:
 * begin before the image's records; file gives the path at which to open a
 * file the image maps (or the executable): the node's file bound into the
 * new root; enter once all are mapped and the executable set: the new root
 * becomes the root. Each dies with a message on failure. */
void ssi_restore_sandbox_begin(void);
const char *ssi_restore_sandbox_file(const char *path, int writable);
void ssi_restore_sandbox_enter(void);

/* Installs a guard region again (image GUARD record, inside a VMA of the
 * image): madvise MADV_GUARD_INSTALL (restore/ssi_restore_guard.c). */
void ssi_restore_guard(const ssi_image_pages_t *pg);
/* Gives a VMA just mapped the madvise advice the image records
 * (SSI_IMAGE_VMA_MADV_*; restore/ssi_restore_guard.c). */
void ssi_restore_madv(const ssi_image_vma_t *v);

#endif
