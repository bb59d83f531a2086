/* ssi_regs: a process's rseq and membarrier registrations across a move
 * (libssi.so; see ssi_regs.c). Signal context: raw system calls only. */
#ifndef SSI_REGS_H
#define SSI_REGS_H

#include <stdint.h>

/* Notes a successful rseq(2) call the program made (the shim sees it
 * through libc's syscall()): a registration (flags 0) or its end
 * (RSEQ_FLAG_UNREGISTER). */
void ssi_regs_note_rseq(uint64_t addr, uint32_t len, int flags, uint32_t sig);

/* Freeze hook: records the membarrier registrations of the process
 * (MEMBARRIER_CMD_GET_REGISTRATIONS), in static memory the image carries. */
void ssi_regs_freeze(void);

/* Restore hook (away, or at home again: both are a fresh task and a fresh
 * memory map, which hold no registration): registers the rseq area and
 * every membarrier command again. A failure is logged; the program runs. */
void ssi_regs_restore(void);

#endif
