/*
 * ssi_precopy.h - the rounds of a pre-copy (live) move on the requesting
 * side (see ssi_precopy.c). Ordinary libc code.
 */
#ifndef SSI_PRECOPY_H
#define SSI_PRECOPY_H

#include "ssi_image.h"

#include <stdint.h>
#include <sys/types.h>

#define SSI_PRECOPY_MAX_ROUNDS 12
#define SSI_PRECOPY_SMALL (1ULL << 20) /* a round this small ends them */

typedef struct {
    int max_rounds;       /* <= 0: SSI_PRECOPY_MAX_ROUNDS */
    uint64_t small_bytes; /* written bytes in a round that end the rounds */
} ssi_precopy_opts_t;

typedef struct {
    uint32_t rounds;      /* rounds sent, round 0 (everything) included */
    uint64_t bytes;       /* bytes of the preamble */
    uint64_t page_bytes;  /* page bytes in it */
    uint64_t last_dirty;  /* bytes written during the round before the last */
    double round_ms_last; /* how long the last round took */
    int converged;        /* 1: the last round was small; 0: bounded (rounds
                           * did not shrink, or the most rounds) */
    int tainted;          /* a range could not be read: no page is clean */
} ssi_precopy_stats_t;

/* Sends the rounds' preamble to out_fd for the n tracked ranges of pid
 * (ranges found gone are emptied in r). 0 or -errno (the stream broke;
 * err says so). */
int ssi_precopy_run(pid_t pid, ssi_image_range_t *r, uint32_t n, int out_fd,
                    const ssi_precopy_opts_t *o, ssi_precopy_stats_t *st, char *err, size_t errlen);

#endif
