/*
 * ssi_ckpt_away.h - the checkpoint of a process whose body runs away: its
 * image, as the body's freeze wrote it on another node, made into the
 * image of the process at home (docs/ARCHITECTURE.md, "Checkpoints of a
 * process away"). Ordinary libc code (ssi-ckpt).
 */
#ifndef SSI_CKPT_AWAY_H
#define SSI_CKPT_AWAY_H

#include <stddef.h>
#include <sys/types.h>

/* Reads the image stream from in_fd up to its END record, checking it as
 * every reader does (wire/ssi_image.h), and writes it to out_fd, except
 * that each FD record that is a forwarded placeholder in the body (the
 * /dev/null that stands for a home file, directory or datagram socket) is
 * replaced by the record of the descriptor at that number in `deputy`, the
 * process at home, which holds the real one (path, flags, offset as they
 * are now: call this while the body is frozen). Returns the number of
 * records replaced, or -errno with a sentence in why. */
int ssi_ckpt_away_copy(int in_fd, pid_t deputy, int out_fd, char *why, size_t cap);

/* Fills *r (an ssi_image_fd_t) as a freeze at home would for descriptor fd
 * of process pid, from /proc (root: a socket's type is read from a
 * pidfd_getfd copy). fd_flags is left as it was. 0, or -errno when pid has
 * no such descriptor. */
int ssi_ckpt_away_fill_fd(void *r, pid_t pid, int fd);

#endif
