/*
 * ssi_image.h - the migration image: the state that moves.
 *
 * Written by the freeze handler inside libssi.so (ssi_freeze.c) to a
 * stream (a Unix socket today, a TCP stream to another node later) and
 * read by the restorer ssi-restore (ssi_restore.c). Fixed-size,
 * little-endian records with explicit padding; the code that writes and
 * reads them is libc-free, so this header only uses <stdint.h>.
 *
 * Stream layout (everything in this order; the reader never seeks):
 *
 *   ssi_image_hdr_t                      magic, version, CPU + vDSO facts
 *   rec THREAD  x hdr.nthreads           per-thread context (+ XSAVE bytes)
 *   rec PROC                             process-wide state
 *   rec SIG     x n                      pending signals with siginfo
 *   rec FD      x hdr.nfds               fd table (informational for now)
 *   rec VMA     x hdr.nvmas              address space layout, ascending
 *   rec PAGES   x n                      {addr, len} + len bytes of memory
 *   rec END                              counts; absent = truncated image
 *
 * Every record starts with ssi_image_rec_t {type, size, data_len}: `size`
 * bytes of the fixed struct for that type follow, then `data_len` bytes of
 * raw data (XSAVE area, page contents). A reader skips unknown types, so
 * new record types do not need a version bump; changing an existing
 * struct does (SSI_IMAGE_VERSION). Except: an unknown type with the bit
 * SSI_IMAGE_REC_MUST set is one a reader may not skip (it changes how the
 * rest is read) and refuses; type 0 is never valid.
 *
 * The checks every reader makes (header, each record, END's counts) are
 * ssi_image_check_*() below, in wire/ssi_image.c: pure code without libc,
 * used by the restorer and by the freeze requester as it passes a stream on.
 *
 * Freeze protocol on the stream socket (see docs/ENGINE.md):
 *   requester -> shim   ssi_image_req_t (magic, version, flags)
 *   shim -> requester   the image as above
 *   requester -> shim   one verdict byte: SSI_IMAGE_VERDICT_*
 */
#ifndef SSI_IMAGE_H
#define SSI_IMAGE_H

#include <stdint.h>

#define SSI_IMAGE_MAGIC 0x0a474d492d495353ULL     /* "SSI-IMG\n" */
#define SSI_IMAGE_REQ_MAGIC 0x0a5145522d495353ULL /* "SSI-REQ\n" */
#define SSI_IMAGE_VERSION 1
#define SSI_IMAGE_ARCH_X86_64 62 /* EM_X86_64 */
#define SSI_IMAGE_PAGE_SIZE 4096

/* Triggering a freeze: sigqueue() this signal with the token of a socket
 * $SSI_FREEZE_DIR/<token>.sock that the requester listens on. SIGRTMAX-1
 * (kernel numbering): glibc keeps 32 and 33 for itself; programs that use
 * real-time signals usually count up from SIGRTMIN. */
#define SSI_FREEZE_SIGNAL 63
#define SSI_FREEZE_DIR_DEFAULT "/run/ssi/freeze"

/* Header flags. */
#define SSI_IMAGE_F_PAGEMAP_SCAN 0x1u /* pages were selected with PAGEMAP_SCAN */

/* Request flags (requester asks the shim). */
#define SSI_IMAGE_REQ_F_FULL_FILES 0x1u /* reserved: ship file-backed pages too */
/* Pre-copy (live) moves, see docs/ARCHITECTURE.md "Pre-copy".
 * TRACK: do not freeze; register the private anonymous writable memory
 * with a userfaultfd in write-protect async mode, write-protect it, answer
 * ssi_image_track_t and its ranges, and keep the socket: the program runs
 * on. Then a request on that same socket (its arrival signals the process)
 * freezes it; LIVE in that request: the requester sent every page of the
 * ranges at least once and again after each write it harvested, so pages
 * still clean go as CLEAN records. EOF on the socket ends the tracking. */
#define SSI_IMAGE_REQ_F_TRACK 0x2u
#define SSI_IMAGE_REQ_F_LIVE 0x4u

#define SSI_IMAGE_TRACK_MAGIC 0x0a4b52542d495353ULL /* "SSI-TRK\n" */
#define SSI_IMAGE_PRE_MAGIC 0x0a4552502d495353ULL   /* "SSI-PRE\n" */
#define SSI_IMAGE_TRACK_MAX 8192                    /* ranges in one answer */

/* Verdicts sent after the image; anything else, EOF or a timeout means
 * CONTINUE: a failed migration loses nothing. */
#define SSI_IMAGE_VERDICT_CONTINUE 'C' /* thaw and run on (checkpoint) */
#define SSI_IMAGE_VERDICT_EXIT 'X'     /* the body lives elsewhere: exit_group(0) */
/* Become the deputy of a body that ssi-agent runs elsewhere: the verdict
 * byte is followed by ssi_image_deputy_t. The shim connects to the agent
 * and answers with one byte on the same socket: 'D' it is the deputy now
 * (it never returns to the program), or 'C' it could not reach the agent
 * and thawed (the program continues at home; the agent kills the body).
 * See docs/ENGINE.md, "Deputy and body agent". */
#define SSI_IMAGE_VERDICT_DEPUTY 'D'
#define SSI_IMAGE_DEPUTY_MAGIC 0x0a5045442d495353ULL /* "SSI-DEP\n" */

/* A freeze that cannot capture the process sends this instead of the
 * image header (then closes; the process thaws): the requester reports
 * the text to the user. A process never writes the reason to its own
 * stderr. */
#define SSI_IMAGE_FAIL_MAGIC 0x0a5252452d495353ULL /* "SSI-ERR\n" */

typedef struct {
    uint64_t magic; /* SSI_IMAGE_FAIL_MAGIC */
    int32_t err;    /* -errno */
    uint32_t len;   /* bytes of text used */
    char text[240]; /* what could not be captured */
} ssi_image_fail_t;

/* Coming home: a deputy that gets the freeze signal (sigqueue with a
 * token, as for a freeze) connects to the token's socket like a freeze
 * does, reads ssi_image_home_t and brings its body home. It answers, on
 * the same socket, one byte and a text: SSI_IMAGE_HOME_OK ('H': the body
 * is gone, the process restores itself at home now; the socket then
 * closes at the exec) or SSI_IMAGE_VERDICT_CONTINUE ('C' + u16 length +
 * reason: the body runs on where it was). docs/ENGINE.md, "Coming home". */
#define SSI_IMAGE_HOME_MAGIC 0x0a4d4f482d495353ULL /* "SSI-HOM\n" */
#define SSI_IMAGE_HOME_OK 'H'

/* A checkpoint of a body away (flags SSI_IMAGE_HOME_F_CKPT): the deputy
 * has its agent freeze the body and send its image, and relays it on this
 * socket: 'I' and the image stream as the body's freeze wrote it, or 'C'
 * + u16 length + reason. Once the requester has read the image up to END
 * (and what it needs of the deputy's descriptors, unchanged while the body
 * is frozen) it writes 'G'; the deputy thaws the body and answers 'K', or
 * 'C' + u16 + reason. The body runs on where it was in every case.
 * docs/ARCHITECTURE.md, "Checkpoints of a process away". */
#define SSI_IMAGE_HOME_F_CKPT 1u
#define SSI_IMAGE_HOME_IMAGE 'I'
#define SSI_IMAGE_HOME_GO 'G'
#define SSI_IMAGE_HOME_CKPT_OK 'K'

/* Sent right after 'G': where the checkpoint goes, and the ssi-ckpt that
 * can restart it. The deputy keeps both: should its link to the body break
 * (the body's node died), it execs `PROG restart --self FILE` and becomes
 * the program again at home from that checkpoint instead of dying.
 * docs/ARCHITECTURE.md, "Recovery when a node dies". */
typedef struct {
    char prog[256];  /* absolute path of ssi-ckpt at home */
    char file[1024]; /* absolute path of the checkpoint file */
} ssi_image_recover_t;

/* The freeze signal with this value, from root or the owner, asks a deputy
 * to probe its link (its body's node was declared down): a frame that must
 * be acknowledged within SSI_IMAGE_PROBE_MS, or the link is given up as
 * lost. Processes that are no deputy ignore it (negative values). */
#define SSI_IMAGE_PROBE_VALUE (-2)
#define SSI_IMAGE_PROBE_MS 2000

typedef struct {
    uint64_t magic;    /* SSI_IMAGE_HOME_MAGIC */
    uint32_t version;  /* SSI_IMAGE_VERSION */
    uint32_t flags;    /* 0, or SSI_IMAGE_HOME_F_CKPT */
    char restore[512]; /* absolute path of ssi-restore at home */
} ssi_image_home_t;

typedef struct {
    uint64_t magic;   /* SSI_IMAGE_REQ_MAGIC */
    uint32_t version; /* SSI_IMAGE_VERSION */
    uint32_t flags;   /* SSI_IMAGE_REQ_F_* */
} ssi_image_req_t;

typedef struct {
    uint64_t magic;              /* SSI_IMAGE_DEPUTY_MAGIC */
    uint16_t family;             /* AF_INET or AF_INET6 */
    uint16_t port;               /* the agent's data port, host byte order */
    uint32_t connect_timeout_ms; /* TCP connect; 0: 5000 */
    uint8_t addr[16];            /* network order; IPv4 in the first 4 bytes */
    uint8_t key[32];             /* the data key of this migration (secret) */
    uint32_t accept_timeout_ms;  /* connected -> ACCEPT from the agent; 0: 30000 */
    uint32_t flags;              /* SSI_IMAGE_DEPUTY_F_* */
} ssi_image_deputy_t;

/* ssi_image_deputy_t.flags: an ssi_image_recover_t follows the struct, the
 * last checkpoint taken at home before this move: the deputy recovers from
 * it should the body's node die before a checkpoint is taken away.
 * docs/ARCHITECTURE.md, "Recovery when a node dies". */
#define SSI_IMAGE_DEPUTY_F_RECOVER 1u

/* What the destination CPU must offer. The XSAVE area of a frozen thread
 * (kept in its signal frame on its stack) is restored by rt_sigreturn, so
 * the destination must support every enabled state component at the same
 * offset; glibc also picked ifuncs from these CPUID bits at startup. */
typedef struct {
    char vendor[12];
    uint32_t xsave_size; /* CPUID 0xD.0 EBX: size for XCR0 features */
    uint64_t xcr0;       /* enabled XSAVE features */
    uint32_t cpuid1_ecx; /* CPUID 1: SSE3..AVX, XSAVE, ... */
    uint32_t cpuid1_edx;
    uint32_t cpuid7_ebx; /* CPUID 7.0: AVX2, BMI, AVX-512F, ... */
    uint32_t cpuid7_ecx;
    uint32_t cpuid7_edx;
    uint32_t pad0;
    uint32_t xstate_off[32]; /* CPUID 0xD.i EBX for each feature i in xcr0 */
    uint32_t xstate_len[32]; /* CPUID 0xD.i EAX */
} ssi_image_cpu_t;

typedef struct {
    uint64_t magic;    /* SSI_IMAGE_MAGIC */
    uint32_t version;  /* SSI_IMAGE_VERSION */
    uint32_t hdr_size; /* sizeof(ssi_image_hdr_t) */
    uint32_t arch;     /* SSI_IMAGE_ARCH_X86_64 */
    uint32_t page_size;
    uint32_t flags; /* SSI_IMAGE_F_* */
    uint32_t nthreads;
    uint32_t nvmas;
    uint32_t nfds;
    int32_t pid; /* in the body's pid namespace: the tid to recreate */
    int32_t ppid;
    /* The restore hole: PROT_NONE reservation made at launch, never in the
     * image; the restorer runs there. */
    uint64_t hole_start;
    uint64_t hole_len;
    /* [vvar][vvar_vclock][vdso] block, moved as one unit. */
    uint64_t vdso_block_start;
    uint64_t vdso_block_end;
    uint64_t vdso_start; /* AT_SYSINFO_EHDR */
    uint64_t vdso_len;
    uint64_t vvar_len;
    uint64_t vvar_vclock_len;
    uint64_t vdso_hash; /* FNV-1a of the vDSO text: same kernel image */
    ssi_image_cpu_t cpu;
    uint64_t reserved[8];
} ssi_image_hdr_t;

enum {
    SSI_IMAGE_REC_THREAD = 1,
    SSI_IMAGE_REC_PROC = 2,
    SSI_IMAGE_REC_SIG = 3,
    SSI_IMAGE_REC_FD = 4,
    SSI_IMAGE_REC_VMA = 5,
    SSI_IMAGE_REC_PAGES = 6,
    SSI_IMAGE_REC_CREDS = 16, /* after PROC; absent in older images */
    /* After CREDS; a reader that does not know it must refuse the image: it would give the
     * body the agent's capabilities. */
    SSI_IMAGE_REC_CAPS = 0x4000 | 21,
    /* A live move's final image: [addr, addr+len) is as the pre-copy
     * rounds last sent it (ssi_image_pages_t, no data). Only the agent,
     * which holds those pages, can read it: it replaces it with PAGES. */
    SSI_IMAGE_REC_CLEAN = 0x4000 | 17,
    /* Only in the pre-copy preamble (SSI_IMAGE_PRE_MAGIC, then these
     * records, before the image's header): pages of a round (data), pages
     * now zero (no data), the end of the preamble (ssi_image_pre_end_t). */
    SSI_IMAGE_REC_PRE_PAGES = 18,
    SSI_IMAGE_REC_PRE_ZERO = 19,
    SSI_IMAGE_REC_PRE_END = 20,
    /* [addr, addr+len) is a guard region (madvise MADV_GUARD_INSTALL): no
     * page there can be read or written; the restorer installs the guard
     * again once the VMA's pages are in (ssi_image_pages_t, no data).
     * After the PAGES of every VMA. A reader that skips it loses the guard
     * only: its pages read as zeroes instead of faulting. */
    SSI_IMAGE_REC_GUARD = 40,
    SSI_IMAGE_REC_END = 0x7fff,
};
/* An unknown record type with this bit may not be skipped (see above). */
#define SSI_IMAGE_REC_MUST 0x4000u

typedef struct {
    uint32_t type;     /* SSI_IMAGE_REC_* */
    uint32_t size;     /* bytes of the fixed struct that follows */
    uint64_t data_len; /* raw bytes after the struct */
} ssi_image_rec_t;

/* One thread. The restorer recreates it with its tid and jumps to
 * `resume`, a point inside the freeze handler; returning from the handler
 * makes the kernel's rt_sigreturn reload every register, the XSAVE state,
 * the signal mask and the altstack from the signal frame, which sits in
 * the restored stack memory. gregs/xsave are kept for a later restorer
 * that builds its own frame (and for diagnostics).
 * data: xsave_size bytes of the XSAVE area of the interrupted code. */
typedef struct {
    int32_t tid;
    uint32_t flags;
    uint64_t resume[8]; /* ssi_sys_jmp_t: rbx rbp r12 r13 r14 r15 rsp rip */
    uint64_t fs_base;
    uint64_t gs_base;
    uint64_t sigmask; /* mask of the interrupted code */
    uint64_t ss_sp;   /* sigaltstack */
    uint64_t ss_size;
    int32_t ss_flags;
    uint32_t xsave_size;
    uint64_t robust_list;
    uint64_t robust_len;
    uint64_t clear_child_tid;
    uint64_t gregs[23]; /* mcontext_t gregs (REG_R8 .. REG_CR2) */
    char name[16];      /* PR_GET_NAME */
} ssi_image_thread_t;

#define SSI_IMAGE_NSIG 64
#define SSI_IMAGE_NRLIMIT 16
#define SSI_IMAGE_AUXV_WORDS 128
#define SSI_IMAGE_PATH_MAX 1024

typedef struct {
    uint64_t handler;
    uint64_t flags;
    uint64_t restorer;
    uint64_t mask;
} ssi_image_sigaction_t;

typedef struct {
    uint64_t interval_sec, interval_usec;
    uint64_t value_sec, value_usec;
} ssi_image_itimer_t;

/* Process-wide state. The mm fields go to prctl(PR_SET_MM_MAP). */
typedef struct {
    uint64_t start_code, end_code, start_data, end_data;
    uint64_t start_brk, brk, start_stack;
    uint64_t arg_start, arg_end, env_start, env_end;
    uint64_t auxv[SSI_IMAGE_AUXV_WORDS];
    uint32_t auxv_size; /* bytes used in auxv */
    uint32_t umask;
    uint32_t personality;
    int32_t pgid;
    int32_t sid;
    uint32_t pad0;
    ssi_image_sigaction_t sigaction[SSI_IMAGE_NSIG]; /* index = signo - 1 */
    uint64_t rlimit[SSI_IMAGE_NRLIMIT][2];           /* cur, max */
    ssi_image_itimer_t itimer[3];                    /* REAL, VIRTUAL, PROF */
    char cwd[SSI_IMAGE_PATH_MAX];
    char exe[SSI_IMAGE_PATH_MAX];
} ssi_image_proc_t;

/* Credentials. A body restored by a root agent takes them on last, so a
 * user's process never runs as root on another node; in-place (the same
 * process) they are already right. */
#define SSI_IMAGE_NGROUPS 64
typedef struct {
    uint32_t ruid, euid, suid;
    uint32_t rgid, egid, sgid;
    uint32_t ngroups;  /* supplementary groups used in groups[] */
    uint32_t dumpable; /* PR_GET_DUMPABLE: a uid change clears it */
    uint32_t groups[SSI_IMAGE_NGROUPS];
} ssi_image_creds_t;

/* Capabilities and what governs them, as the freezing thread has them:
 * a body restored by a root agent would otherwise hold every capability
 * (a root process that dropped some gets them back), and a user's process
 * with ambient or kept capabilities would lose them. */
typedef struct {
    uint32_t effective[2], permitted[2], inheritable[2]; /* capget, version 3 */
    uint32_t securebits;                                 /* PR_GET_SECUREBITS */
    uint32_t no_new_privs;                               /* PR_GET_NO_NEW_PRIVS */
    uint64_t bounding;                                   /* bit n: capability n is in the set */
    uint64_t ambient;                                    /* bit n: capability n is ambient */
    uint32_t last_cap; /* the highest capability this kernel knows */
    uint32_t pad0;
} ssi_image_caps_t;

/* A pending signal, dequeued at freeze and re-queued to self at restore
 * (or at thaw, when the migration fails). */
typedef struct {
    int32_t signo;
    uint32_t shared; /* 1: process-directed, 0: thread-directed */
    int32_t tid;     /* thread it was pending on, for thread-directed */
    uint32_t pad0;
    uint8_t info[128]; /* siginfo_t as the kernel gave it */
} ssi_image_sig_t;

enum {
    SSI_IMAGE_FD_OTHER = 0,
    SSI_IMAGE_FD_FILE = 1,
    SSI_IMAGE_FD_DIR = 2,
    SSI_IMAGE_FD_CHR = 3,
    SSI_IMAGE_FD_BLK = 4,
    SSI_IMAGE_FD_FIFO = 5,
    SSI_IMAGE_FD_SOCKET = 6,
    SSI_IMAGE_FD_ANON = 7, /* anon_inode: eventfd, epoll, timerfd, ... */
};

/* The SSI_IMAGE_FD_* kind of a file of this st_mode (anon_inode files are
 * told apart by their link, not here). No libc: the freeze handler uses it. */
static inline uint32_t ssi_image_fd_kind(uint32_t mode)
{
    switch (mode & 0170000) { /* S_IFMT */
    case 0100000: return SSI_IMAGE_FD_FILE;
    case 0040000: return SSI_IMAGE_FD_DIR;
    case 0020000: return SSI_IMAGE_FD_CHR;
    case 0060000: return SSI_IMAGE_FD_BLK;
    case 0010000: return SSI_IMAGE_FD_FIFO;
    case 0140000: return SSI_IMAGE_FD_SOCKET;
    default: return SSI_IMAGE_FD_OTHER;
    }
}

typedef struct {
    int32_t fd;
    uint32_t fd_flags; /* F_GETFD: FD_CLOEXEC */
    uint32_t fl_flags; /* fdinfo "flags" (octal O_*) */
    uint32_t kind;     /* SSI_IMAGE_FD_* */
    uint64_t pos;      /* file offset; for a socket: SSI_IMAGE_FD_SOCK_* bits */
    uint32_t mode;     /* st_mode */
    int32_t mnt_id;
    uint64_t ino;
    uint64_t dev;
    uint64_t rdev;
    char path[SSI_IMAGE_PATH_MAX]; /* readlink(/proc/self/fd/N) */
} ssi_image_fd_t;

/* pos of a SOCKET record: it listens (SO_ACCEPTCONN); the netproxy keeps
 * it at home and passes accepted connections to the body. */
#define SSI_IMAGE_FD_SOCK_LISTENING 1ULL
/* A datagram socket (SO_TYPE SOCK_DGRAM): kept at home, every call
 * forwarded (netproxy). */
#define SSI_IMAGE_FD_SOCK_DGRAM 2ULL

/* VMA flags. */
#define SSI_IMAGE_VMA_SHARED 0x001u   /* MAP_SHARED */
#define SSI_IMAGE_VMA_ANON 0x002u     /* no backing file (or a deleted one) */
#define SSI_IMAGE_VMA_FILE 0x004u     /* map `path` at pgoff, overlay pages */
#define SSI_IMAGE_VMA_HEAP 0x008u     /* [heap] */
#define SSI_IMAGE_VMA_STACK 0x010u    /* [stack]: MAP_GROWSDOWN */
#define SSI_IMAGE_VMA_DELETED 0x020u  /* file was deleted: restored as anon */
#define SSI_IMAGE_VMA_ALLPAGES 0x040u /* every page is in PAGES records */
/* madvise advice the VMA carries (smaps VmFlags), given again after it is
 * mapped (#17): dc, wf, dd, hg, nh, mg, sr, rr; and its mlock. */
#define SSI_IMAGE_VMA_MADV_DONTFORK 0x0100u
#define SSI_IMAGE_VMA_MADV_WIPEONFORK 0x0200u
#define SSI_IMAGE_VMA_MADV_DONTDUMP 0x0400u
#define SSI_IMAGE_VMA_MADV_HUGEPAGE 0x0800u
#define SSI_IMAGE_VMA_MADV_NOHUGEPAGE 0x1000u
#define SSI_IMAGE_VMA_MADV_MERGEABLE 0x2000u
#define SSI_IMAGE_VMA_MADV_SEQUENTIAL 0x4000u
#define SSI_IMAGE_VMA_MADV_RANDOM 0x8000u
/* mlock (MAP_LOCKED, mlock, mlockall): lo, and lf for MLOCK_ONFAULT. */
#define SSI_IMAGE_VMA_LOCKED 0x10000u
#define SSI_IMAGE_VMA_LOCKONFAULT 0x20000u
/* MAP_NORESERVE (nr): no swap reserved for it, mapped so again. */
#define SSI_IMAGE_VMA_NORESERVE 0x40000u
/* MAP_DROPPABLE (dp, Linux 6.11): the kernel may drop its pages; mapped
 * so again, with its pages as they were at the freeze. */
#define SSI_IMAGE_VMA_DROPPABLE 0x80000u

typedef struct {
    uint64_t start;
    uint64_t end;
    uint64_t pgoff; /* file offset in bytes */
    uint32_t prot;  /* PROT_* */
    uint32_t flags; /* SSI_IMAGE_VMA_* */
    uint64_t ino;
    uint32_t dev_major;
    uint32_t dev_minor;
    uint64_t file_size;     /* stat at freeze: the restorer refuses a */
    uint64_t file_mtime_ns; /* file that changed (it maps it again)   */
    char path[SSI_IMAGE_PATH_MAX];
} ssi_image_vma_t;

/* data: len bytes, the memory at [addr, addr+len). Page aligned. */
typedef struct {
    uint64_t addr;
    uint64_t len;
} ssi_image_pages_t;

typedef struct {
    uint64_t nrecords; /* records before END */
    uint64_t page_bytes;
} ssi_image_end_t;

/* Answer to SSI_IMAGE_REQ_F_TRACK, followed by n ranges {start, end}. */
typedef struct {
    uint64_t magic; /* SSI_IMAGE_TRACK_MAGIC */
    int32_t err;    /* 0, or -errno: nothing is tracked, the program runs on */
    uint32_t n;     /* ranges that follow, at most SSI_IMAGE_TRACK_MAX */
} ssi_image_track_t;

typedef struct {
    uint64_t start, end;
} ssi_image_range_t;

typedef struct {
    uint64_t rounds;     /* pre-copy rounds sent */
    uint64_t page_bytes; /* page bytes the preamble carried */
} ssi_image_pre_end_t;

_Static_assert(sizeof(ssi_image_hdr_t) % 8 == 0, "hdr padding");
_Static_assert(sizeof(ssi_image_thread_t) % 8 == 0, "thread padding");
_Static_assert(sizeof(ssi_image_proc_t) % 8 == 0, "proc padding");
_Static_assert(sizeof(ssi_image_fd_t) % 8 == 0, "fd padding");
_Static_assert(sizeof(ssi_image_creds_t) % 8 == 0, "creds padding");
_Static_assert(sizeof(ssi_image_vma_t) % 8 == 0, "vma padding");
_Static_assert(sizeof(ssi_image_rec_t) == 16, "rec header");
_Static_assert(sizeof(ssi_image_deputy_t) == 72, "deputy info");
/* tests/engine pokes the CPU vendor at this offset to check refusal. */
_Static_assert(__builtin_offsetof(ssi_image_hdr_t, cpu) == 120, "cpu offset");

/* ---- checking a stream (wire/ssi_image.c) ----------------------------------
 *
 * A reader feeds the checker each part as it reads it: the header, then for
 * every record its ssi_image_rec_t and its fixed struct (`size` bytes), and
 * consumes the record's data itself. When the stream ends early it asks
 * ssi_image_check_truncated() what was cut. Each call returns 0 or -errno
 * and, on error, leaves a sentence for a user in c->why ("image truncated in
 * VMA record 3", "unknown image version 7 (this build reads 1)"):
 *   -EPROTO           not an ssi image (magic)
 *   -EPROTONOSUPPORT  another version or header size
 *   -ENOEXEC          another architecture or page size
 *   -EBADMSG          a header count, record or END that is wrong
 *   -EPIPE            the stream ended early (ssi_image_check_truncated)
 *   -EINVAL           the calls came in the wrong order
 * What only a given reader can judge (this CPU, the restore hole, where
 * pages fall, its own table sizes) stays with that reader. */

#define SSI_IMAGE_REC_MAX 65536         /* bytes of one record's struct */
#define SSI_IMAGE_XSAVE_MAX (1u << 20)  /* THREAD data (XSAVE area) */
#define SSI_IMAGE_SKIP_MAX (1ULL << 30) /* data of a record a reader skips */
#define SSI_IMAGE_MAX_THREADS 65536     /* header counts */
#define SSI_IMAGE_MAX_VMAS (1u << 20)
#define SSI_IMAGE_MAX_FDS (1u << 20)
/* The descriptors a process that moves may hold: numbers below this (the
 * body's tables, in the trap core and the proxies, are indexed by fd
 * number), so at most this many; the freeze, the restorer and ssid's
 * precheck hold to it. */
#define SSI_IMAGE_FD_LIMIT 65536

/* What the freeze handler's and the restorer's static tables hold: ssid's
 * precheck refuses a process with more, up front. */
#define SSI_IMAGE_FREEZE_MAX_VMAS 8192
#define SSI_IMAGE_FREEZE_MAX_FDS SSI_IMAGE_FD_LIMIT
#define SSI_IMAGE_FREEZE_MAX_THREADS 256  /* the freezing thread included */
#define SSI_IMAGE_ADDR_LIMIT (1ULL << 57) /* above any x86-64 user address */

enum {
    SSI_IMAGE_AT_HDR = 0, /* the header is owed */
    SSI_IMAGE_AT_REC,     /* a record header (or nothing, after END) */
    SSI_IMAGE_AT_BODY,    /* the current record's fixed struct */
    SSI_IMAGE_AT_DATA,    /* the current record's data */
    SSI_IMAGE_AT_DONE,    /* END was read and checked */
};

typedef struct {
    int at;                         /* SSI_IMAGE_AT_*: what the stream owes next */
    uint32_t nthreads, nvmas, nfds; /* the header's counts */
    uint64_t nrecords;              /* records before END, so far */
    uint64_t page_bytes;            /* data of PAGES records, so far */
    uint32_t seen[16];              /* records of each known type, by s_kind() */
    uint32_t index;                 /* the current record's number among its type */
    uint64_t vma_end;               /* end of the last VMA: they ascend */
    ssi_image_rec_t rec;            /* the current record */
    uint64_t data_got;              /* bytes of its data consumed */
    char why[192];                  /* the reason of the last refusal */
} ssi_image_check_t;

/* Starts a stream: the header is owed first. */
void ssi_image_check_init(ssi_image_check_t *c);
/* The header: magic, version and size, architecture and page size, and
 * counts within bounds. */
int ssi_image_check_hdr(ssi_image_check_t *c, const ssi_image_hdr_t *h);
/* A record header: its type known (then its size is that type's and its
 * data within the type's bounds, and no more records of the type than the
 * header counts) or skippable (not SSI_IMAGE_REC_MUST, size at most
 * SSI_IMAGE_REC_MAX, data at most SSI_IMAGE_SKIP_MAX). */
int ssi_image_check_rec(ssi_image_check_t *c, const ssi_image_rec_t *r);
/* The record's struct (c->rec.size bytes; NULL when 0): what it says about
 * itself (THREAD's XSAVE size, a VMA's bounds and order, PAGES' length,
 * group and signal numbers) and, for END, every count of the image. The
 * record's data, c->rec.data_len bytes, is owed next (see _data). */
int ssi_image_check_body(ssi_image_check_t *c, const void *body);
/* n more bytes of the current record's data were consumed; once all of
 * them are, the next record header is owed. */
int ssi_image_check_data(ssi_image_check_t *c, uint64_t n);
/* The stream ended early: got is how many bytes of the part it owed had
 * arrived (0 at a boundary). Always -EPIPE, with where it was cut. */
int ssi_image_check_truncated(ssi_image_check_t *c, uint64_t got);
/* Name of a record type ("VMA"), or NULL if this build does not know it. */
const char *ssi_image_rec_name(uint32_t type);

#endif
