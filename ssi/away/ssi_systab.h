/*
 * ssi_systab.h - the away body's table of x86_64 system calls: each one's
 * name and what it may do when no proxy traps it. The trap core builds its
 * seccomp filter from this table and the proxies' lists (ssi_trap.c), and
 * the table of every call in docs/ARCHITECTURE.md is printed from the
 * same (tests/syscall_table.sh). Pure data.
 */
#ifndef SSI_SYSTAB_H
#define SSI_SYSTAB_H

#include <stdint.h>

/* Numbers 0 .. SSI_SYSTAB_N-1; everything above is unknown to this build. */
#define SSI_SYSTAB_N 470

#define SSI_SYS_RUN 1u  /* safe locally: runs untouched */
#define SSI_SYS_SELF 2u /* runs when its first argument is 0 or the process's own pid */
#define SSI_SYS_SHIM 4u /* libssi.so's own text makes it away */
#define SSI_SYS_WHO 8u  /* (which, who): one process (which), 0 or its own pid (who) */

typedef struct {
    const char *name; /* NULL: no such call on x86_64 */
    uint8_t flags;
} ssi_systab_t;

extern const ssi_systab_t ssi_systab[SSI_SYSTAB_N];

#endif
