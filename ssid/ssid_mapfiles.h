/*
 * ssid_mapfiles - the files a process maps, checked against the
 * destination's before a move.
 *
 * The restorer maps a file-backed mapping from the destination's file of
 * the same path, and checks only its size and mtime: a file with other
 * bytes but the same size and time would be used silently. So home lists
 * every file the process maps, with a BLAKE2b-256 hash of its bytes, in
 * the offer (SSI_TAG_MAPFILE), and the destination refuses up front, naming
 * the file, when its own copy is missing or differs. Hashes are cached by
 * (device, inode, size, mtime, ctime) on both sides: a move costs one read of
 * each mapped file per node until it changes.
 */
#ifndef SSID_MAPFILES_H
#define SSID_MAPFILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ssi_msg.h"

/* Files larger than this are listed without a hash (all zeros): the
 * destination checks their size and time only (hashing 256 MiB takes about
 * a quarter of a second here, and holds the daemon). */
#define SSID_MAPFILE_HASH_MAX (256LL << 20)

/* At most this many files are listed (more: the move is refused). */
#define SSID_MAPFILES_MAX 900

/* One SSI_TAG_MAPFILE field: the hash, the size and mtime (ns) home saw,
 * then the path (not NUL-terminated). */
#define SSID_MAPFILE_FIXED 48

/* Lists the files process pid maps into *out (malloc'd: fields, each
 * SSID_MAPFILE_FIXED bytes then the path, back to back, each preceded by a
 * u16 length) and *n. 0, or -errno with a sentence in why (a file that
 * cannot be read: the process cannot move). */
int ssid_mapfiles_collect(pid_t pid, uint8_t **out, size_t *len, size_t *n, char *why, size_t cap);

/* Adds the list made by ssid_mapfiles_collect to an offer. */
void ssid_mapfiles_put(ssi_msg_writer_t *w, const uint8_t *list, size_t len);

/* Destination: checks every SSI_TAG_MAPFILE field of offer m against this
 * node's files. 0, or -1 with a sentence in why naming the first file that
 * is missing or differs. */
int ssid_mapfiles_verify(const ssi_msg_t *m, const char *node, char *why, size_t cap);

#endif
