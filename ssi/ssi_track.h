/*
 * ssi_track.h - which pages the process wrote during a pre-copy move
 * (userfaultfd write-protect, async mode; see ssi_track.c). libssi.so,
 * signal context.
 */
#ifndef SSI_TRACK_H
#define SSI_TRACK_H

#include "ssi_image.h"
#include "ssi_pagemap.h"

#include <stdint.h>

/* Registers and write-protects the n ranges; 0 or -errno (then nothing
 * is tracked). Stops an earlier tracking first. */
long ssi_track_start(const ssi_image_range_t *r, uint32_t n);
/* Ends the tracking: the ranges are unregistered and unprotected. */
void ssi_track_stop(void);
/* In a restored copy: forgets the descriptor without closing it. */
void ssi_track_forget(void);
/* The userfaultfd, or -1 (not the program's: left out of images). */
long ssi_track_fd(void);
/* The pages of [start, end) still registered and not written since the
 * last harvest, as regions in vec (at most nvec); *walk_end: where the
 * scan stopped (end, or before it when vec filled up). The count or
 * -errno. pm: /proc/self/pagemap. */
long ssi_track_clean(long pm, uint64_t start, uint64_t end, struct page_region *vec, uint32_t nvec,
                     uint64_t *walk_end);

#endif
