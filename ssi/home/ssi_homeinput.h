/*
 * ssi_homeinput.h - home input the deputy read ahead of its body, given
 * back to the home pipe when the body comes home (#17).
 *
 * The deputy reads a home pipe or FIFO as soon as it has data and sends
 * it to the body; what the body had not read yet when it comes home
 * would be lost. The agent sends those bytes back (HOME_INPUT frames,
 * oldest first); we keep them, check before the commit that each pipe
 * can take them back in order (no other process holds it, room enough;
 * bytes read ahead through several descriptors of one pipe go back in
 * the order the deputy read them, from a ring of its reads), and after
 * the commit put them in front of whatever the pipe still holds.
 *
 * Part of libssi.so, home side, signal context: raw system calls, no
 * malloc (a memfd keeps the bytes). Calls the channel table only.
 */
#ifndef SSI_HOMEINPUT_H
#define SSI_HOMEINPUT_H

#include <stddef.h>
#include <stdint.h>

/* The deputy read n bytes of a pipe for channel chan: kept in a ring,
 * the order of reads between two descriptors of one pipe. */
void ssi_homeinput_note(unsigned chan, uint32_t n);

/* Forgets what was kept (a homecoming begins, or gave up). */
void ssi_homeinput_reset(void);

/* Keeps n more bytes for channel chan: 0, or -errno (the homecoming must
 * then give up: the bytes would be lost). */
long ssi_homeinput_add(unsigned chan, const void *p, uint32_t n);

/* Before the commit: whether every channel's bytes can go back, and
 * readies their pipes (write ends, room). 0, or -1 with the reason in
 * why (every obstacle named). */
int ssi_homeinput_check(char *why, size_t cap);

/* After the commit (the body is gone): puts each channel's bytes back in
 * its home pipe, in front of what the pipe holds. Returns the bytes that
 * could not be put back (0 when all went; logged). */
uint64_t ssi_homeinput_put(void);

#endif
