/*
 * ssi_regs.c - registrations the kernel keeps per task or per memory map,
 * which a restored process (a new task and a new memory map, away or at
 * home again) would lose: rseq and membarrier (issue #17).
 *
 * membarrier: MEMBARRIER_CMD_GET_REGISTRATIONS (Linux 6.3) answers which
 * REGISTER_* commands the process issued; the freeze records that and the
 * restore issues each again, as CRIU does (cr-dump.c, restorer).
 *
 * rseq: the kernel shows a task's registration only to a tracer
 * (PTRACE_GET_RSEQ_CONFIGURATION), so the shim notes each successful
 * rseq(2) the program makes through libc's syscall() (how librseq and
 * programs without glibc's registration call it; ssirun turns glibc's own
 * off), and the restore registers the same area, length and signature
 * again. An area registered by inline assembly is not seen: after a move
 * the program runs without it (its cpu_id field then stays as it was).
 *
 * Runs in the freeze handler and the restore hook: raw system calls,
 * static memory, no libc.
 */
#include "ssi_regs.h"

#include "ssi_sys.h"

#define S_RSEQ_FLAG_UNREGISTER 1
#define S_MB_GET_REGISTRATIONS (1 << 9)

/* The REGISTER_* commands GET_REGISTRATIONS reports, each re-issued. */
static const int s_mb_register[] = {
    1 << 2, /* REGISTER_GLOBAL_EXPEDITED */
    1 << 4, /* REGISTER_PRIVATE_EXPEDITED */
    1 << 6, /* REGISTER_PRIVATE_EXPEDITED_SYNC_CORE */
    1 << 8, /* REGISTER_PRIVATE_EXPEDITED_RSEQ */
};

static struct {
    uint64_t addr; /* 0: none */
    uint32_t len, sig;
} s_rseq;
static long s_membarrier;

void ssi_regs_note_rseq(uint64_t addr, uint32_t len, int flags, uint32_t sig)
{
    if (flags & S_RSEQ_FLAG_UNREGISTER) {
        s_rseq.addr = 0;
        return;
    }
    s_rseq.len = len;
    s_rseq.sig = sig;
    s_rseq.addr = addr;
}

void ssi_regs_freeze(void)
{
    long r = ssi_sys3(SYS_membarrier, S_MB_GET_REGISTRATIONS, 0, 0);
    s_membarrier = r > 0 ? r : 0;
}

void ssi_regs_restore(void)
{
    unsigned i;
    for (i = 0; i < sizeof s_mb_register / sizeof *s_mb_register; i++) {
        long r;
        if (!(s_membarrier & s_mb_register[i]))
            continue;
        r = ssi_sys3(SYS_membarrier, s_mb_register[i], 0, 0);
        if (r < 0)
            ssi_sys_log("ssi: ", "a membarrier registration could not be made again", 0, r);
    }
    if (s_rseq.addr) {
        long r = ssi_sys4(SYS_rseq, (long)s_rseq.addr, s_rseq.len, 0, s_rseq.sig);
        if (r < 0)
            ssi_sys_log("ssi: ", "the rseq area could not be registered again", 0, r);
    }
}
