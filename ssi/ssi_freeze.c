/*
 * ssi_freeze.c - freeze the process from inside and write its image.
 *
 * Part of libssi.so. At load time a constructor reserves the restore hole, records the vDSO
 * block and the CPU, and installs the freeze handler on SSI_FREEZE_SIGNAL. When ssid (or
 * `ssi-freeze`) queues that signal, the handler - on the interrupted thread, all signals
 * blocked - records a jump point inside itself, captures thread and process state, and streams
 * the image (ssi_image.h) to the requester's Unix socket, straight from the process's own
 * memory. It then waits for a verdict. On any failure it re-queues the signals it dequeued and
 * returns: the program goes on.
 *
 * The restorer (ssi_restore.c) rebuilds memory and kernel state in a new process and jumps back
 * to the recorded point; the handler then sees "restored", re-reserves the hole and returns, and
 * the kernel's rt_sigreturn reloads all registers, the XSAVE state and the signal mask from the
 * signal frame that came back with the stack memory.
 *
 * Handler rules: raw system calls only (ssi_sys.h), no malloc, no stdio, no errno, static
 * buffers, small stack. The other threads of the process are stopped first and released last
 * (ssi_freeze_thr.c); the image carries one THREAD record for each.
 *
 * It calls nothing above itself: what the shim, the trap core and the deputy must do at a
 * freeze, a restore or a verdict 'D', and which descriptors are not the program's, it learns
 * through hooks the shim sets.
 */
#include "ssi_freeze.h"

#include "ssi_cpu.h"
#include "ssi_freeze_guard.h"
#include "ssi_freeze_proc.h"
#include "ssi_freeze_thr.h"
#include "ssi_image.h"
#include "ssi_pagemap.h"
#include "ssi_seccomp.h"
#include "ssi_sys.h"
#include "ssi_track.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <ucontext.h>

#define S_PAGE 4096UL
#define S_MAX_VMAS SSI_IMAGE_FREEZE_MAX_VMAS
#define S_PATH_POOL (512 * 1024)
#define S_MAPS_BUF (2 * 1024 * 1024)
#define S_MAX_SIGS 256
#define S_MAX_FDS SSI_IMAGE_FD_LIMIT
#define S_XSAVE_MAX 16384
#define S_SCAN_VEC 512

/* A VMA as parsed from /proc/self/maps; path in s_path_pool. */
typedef struct {
    uint64_t start, end, pgoff, ino;
    uint32_t prot, flags, dev_major, dev_minor, path_off, skip;
} s_vma_t;

/* Configuration fixed at startup. */
static int s_ready;
static char s_dir[96];
static int s_timeout_sec = 30;
static uint64_t s_hole_start, s_hole_len;
static uint64_t s_vdso_start, s_vdso_len, s_block_start, s_block_end;
static uint64_t s_vvar_len, s_vvar_vclock_len;
static ssi_image_cpu_t s_cpu;
static void (*s_restore_hook)(void);
static void (*s_freeze_hook)(void);
static ssi_freeze_deputy_connect_fn *s_deputy_connect;
static void (*s_deputy_become)(void);
static int (*s_fd_hidden)(int fd);
static uint32_t s_generation;
static int s_restored_home; /* the last restore was in place, at home */
static int s_restarted;     /* ... from a checkpoint (ssi-restore --restart) */
static int s_by_agent;      /* elsewhere, by ssi-agent (ssi-restore --agent) */

/* Freeze-time state (static: the handler must not grow the app's stack
 * much, and must not allocate). */
static int s_busy;     /* atomic */
static int s_nthr;     /* other threads stopped */
static long s_stopped; /* what stopping them gave: their number, or -errno (reported) */
static ssi_freeze_proc_sleep_t s_sleep;
static ssi_sys_jmp_t s_jmp;
static ssi_image_thread_t s_thread;
static unsigned char s_xsave[S_XSAVE_MAX] __attribute__((aligned(64)));
static ssi_image_proc_t s_proc;
static ssi_image_creds_t s_creds;
static ssi_image_caps_t s_caps;
static int s_program_nnp = -1; /* ssi_freeze_set_program_nnp */
static char s_why[200];        /* a refusal's reason (ssi_seccomp_check) */

void ssi_freeze_set_program_nnp(int nnp)
{
    s_program_nnp = nnp;
}
static ssi_image_sig_t s_sigs[S_MAX_SIGS];
static int s_nsigs;
static s_vma_t s_vmas[S_MAX_VMAS];
static int s_nvmas;
static char s_path_pool[S_PATH_POOL];
static uint32_t s_path_used;
static char s_maps[S_MAPS_BUF];
static int s_fds[S_MAX_FDS];
static int s_nfds;
static ssi_image_vma_t s_vrec;
static ssi_image_fd_t s_frec;
static struct page_region s_scan_vec[S_SCAN_VEC];
static uint64_t s_pm_buf[512];
static uint64_t s_nrecords, s_page_bytes;
static int s_use_scan;
/* A live move: the socket the requester tracks us on (kept between the
 * handler's runs; data or EOF on it raise SSI_FREEZE_SIGNAL with si_fd),
 * and whether this freeze may send CLEAN ranges. */
static long s_track_sock = -1;
static int s_live;
static ssi_image_range_t s_trk[S_MAX_VMAS];
static ssi_image_req_t s_treq;


/* ---- small raw helpers ------------------------------------------------ */

static long s_open(const char *path, int flags)
{
    return ssi_sys4(SYS_openat, AT_FDCWD, (long)path, flags | O_CLOEXEC, 0);
}

static void s_close(long fd)
{
    if (fd >= 0)
        ssi_sys1(SYS_close, fd);
}

static long s_read_all(long fd, void *p, uint64_t len)
{
    char *c = p;
    while (len) {
        long n = ssi_sys3(SYS_read, fd, (long)c, (long)len);
        if (n == -EINTR)
            continue;
        if (n <= 0)
            return n ? n : -EPIPE;
        c += n;
        len -= (uint64_t)n;
    }
    return 0;
}

static long s_rec(long fd, uint32_t type, const void *body, uint32_t size, uint64_t data_len)
{
    ssi_image_rec_t r = {.type = type, .size = size, .data_len = data_len};
    long rc = ssi_sys_send_all(fd, &r, sizeof(r));
    if (rc == 0 && size)
        rc = ssi_sys_send_all(fd, body, size);
    s_nrecords++;
    return rc;
}

/* ---- /proc/self/maps -------------------------------------------------- */

/* Parses one maps line into v; returns pointer past the line. */
static char *s_parse_maps_line(char *p, s_vma_t *v, const char **path)
{
    const char *e;
    char *q;
    v->start = ssi_sys_hex(p, &e);
    v->end = ssi_sys_hex(e + 1, &e);
    e++;
    v->prot = (e[0] == 'r' ? PROT_READ : 0) | (e[1] == 'w' ? PROT_WRITE : 0) |
              (e[2] == 'x' ? PROT_EXEC : 0);
    v->flags = e[3] == 's' ? SSI_IMAGE_VMA_SHARED : 0;
    v->pgoff = ssi_sys_hex(e + 5, &e);
    v->dev_major = (uint32_t)ssi_sys_hex(e + 1, &e);
    v->dev_minor = (uint32_t)ssi_sys_hex(e + 1, &e);
    v->ino = ssi_sys_dec(e + 1, &e);
    while (*e == ' ')
        e++;
    q = (char *)e;
    *path = q;
    while (*q && *q != '\n')
        q++;
    if (*q)
        *q++ = 0;
    return q;
}

/* Fills s_vmas from /proc/self/maps and classifies each VMA; their madvise
 * advice only for an image (smaps walks the page tables: 0.1 s per GiB). */
static long s_capture_vmas(int advice)
{
    long n = ssi_freeze_proc_read("/proc/self/maps", s_maps, sizeof(s_maps));
    char *p = s_maps;
    s_nvmas = 0;
    s_path_used = 0;
    if (n < 0)
        return n;
    while (*p) {
        s_vma_t *v;
        const char *path;
        size_t plen;
        if (s_nvmas >= S_MAX_VMAS)
            return -E2BIG;
        v = &s_vmas[s_nvmas];
        ssi_sys_memzero(v, sizeof(*v));
        p = s_parse_maps_line(p, v, &path);
        plen = ssi_sys_strlen(path);
        if (plen >= SSI_IMAGE_PATH_MAX || s_path_used + plen + 1 > S_PATH_POOL)
            return -ENAMETOOLONG;
        v->path_off = s_path_used;
        ssi_sys_memcopy(s_path_pool + s_path_used, path, plen + 1);
        s_path_used += (uint32_t)plen + 1;

        if (ssi_sys_streq(path, "[vsyscall]") || ssi_sys_streq(path, "[vdso]") ||
            ssi_sys_streq(path, "[vvar]") || ssi_sys_streq(path, "[vvar_vclock]") ||
            (v->start >= s_block_start && v->end <= s_block_end) ||
            (v->start >= s_hole_start && v->end <= s_hole_start + s_hole_len)) {
            v->skip = 1;
        } else if (ssi_sys_streq(path, "[heap]")) {
            v->flags |= SSI_IMAGE_VMA_ANON | SSI_IMAGE_VMA_HEAP;
        } else if (ssi_sys_streq(path, "[stack]")) {
            v->flags |= SSI_IMAGE_VMA_ANON | SSI_IMAGE_VMA_STACK;
        } else if (path[0] == '/') {
            if (plen > 10 && ssi_sys_streq(path + plen - 10, " (deleted)"))
                v->flags |= SSI_IMAGE_VMA_ANON | SSI_IMAGE_VMA_DELETED;
            else if (ssi_sys_starts(path, "/SYSV") || ssi_sys_starts(path, "/memfd:"))
                v->flags |= SSI_IMAGE_VMA_ANON | SSI_IMAGE_VMA_DELETED;
            else
                v->flags |= SSI_IMAGE_VMA_FILE;
        } else {
            /* "", "[anon:name]", "[anon_shmem:name]" */
            v->flags |= SSI_IMAGE_VMA_ANON;
        }
        s_nvmas++;
    }
    ssi_freeze_proc_madv_begin(); /* the madvise advice of each, from smaps */
    for (int i = 0; advice && i < s_nvmas; i++)
        s_vmas[i].flags |= ssi_freeze_proc_madv(s_vmas[i].start);
    ssi_freeze_proc_madv_end();
    return 0;
}

/* ---- process state: ssi_freeze_proc.c ------------------------------------- */

/* ---- file descriptors --------------------------------------------------- */

static long s_capture_fd_list(long skip)
{
    static char buf[8192];
    long n, i;
    s_nfds = 0;
    n = ssi_sys_list_fds(s_fds, S_MAX_FDS, buf, sizeof(buf));
    if (n < 0)
        return n;
    if (n > S_MAX_FDS)
        return -EMFILE; /* the precheck says so first */
    /* Not the program's: the freeze socket, the trap core's call link. */
    for (i = 0; i < n; i++)
        if (s_fds[i] != skip && !ssi_freeze_own_fd((int)s_fds[i]) &&
            !(s_fd_hidden && s_fd_hidden(s_fds[i])))
            s_fds[s_nfds++] = s_fds[i];
    return 0;
}

/* ---- memory ------------------------------------------------------------- */

static long s_write_run(long fd, uint64_t addr, uint64_t len)
{
    ssi_image_pages_t pg = {.addr = addr, .len = len};
    long rc = s_rec(fd, SSI_IMAGE_REC_PAGES, &pg, sizeof(pg), len);
    if (rc == 0)
        rc = ssi_sys_send_all(fd, (const void *)addr, len);
    s_page_bytes += len;
    return rc;
}

static int s_page_is_zero(uint64_t addr)
{
    const uint64_t *w = (const uint64_t *)addr;
    for (unsigned i = 0; i < S_PAGE / sizeof(*w); i++)
        if (w[i])
            return 0;
    return 1;
}

/* Writes [addr, addr+len) as PAGES records. In private anonymous memory a page of zeroes is
 * left out: the restorer maps such memory fresh (zero-filled), so its absence is the mark.
 * Anywhere else (a private file mapping's copied page) a zero page must overlay the file's
 * bytes and is sent. A non-zero page usually fails the test at its first word. */
static long s_write_pages(long fd, uint64_t addr, uint64_t len, int skip_zero)
{
    if (!skip_zero)
        return s_write_run(fd, addr, len);
    uint64_t end = addr + len, run = addr;
    for (uint64_t a = addr; a < end; a += S_PAGE) {
        if (!s_page_is_zero(a))
            continue;
        if (a > run) {
            long rc = s_write_run(fd, run, a - run);
            if (rc < 0)
                return rc;
        }
        run = a + S_PAGE;
    }
    return run < end ? s_write_run(fd, run, end - run) : 0;
}

/* Shared anonymous memory that only we map (ssid's precheck saw to that), or a mapping of a
 * deleted file: its pages live in an inode's page cache and need not be in our page tables (a
 * parent that has exited wrote them; we never read them), so page residency comes from mincore,
 * which looks at our page tables and then the inode's page cache (so never past the file's
 * end), and our own copies that were swapped out (pagemap). Pages of the inode swapped out
 * (shmem) are not seen (not handled yet). */
static long s_dump_shmem(long fd, long pm, const s_vma_t *v)
{
    static unsigned char vec[512];
    uint64_t addr = v->start;
    long rc;
    while (addr < v->end) {
        uint64_t npages = (v->end - addr) / S_PAGE, i, run = 0, run_start = 0;
        if (npages > sizeof(vec))
            npages = sizeof(vec);
        rc = ssi_sys3(SYS_mincore, (long)addr, (long)(npages * S_PAGE), (long)vec);
        if (rc < 0)
            return rc;
        /* Our own copies that were swapped out (pagemap bit 62) too. */
        if (ssi_sys4(SYS_pread64, pm, (long)s_pm_buf, (long)(npages * 8),
                     (long)(addr / S_PAGE * 8)) == (long)(npages * 8))
            for (i = 0; i < npages; i++)
                vec[i] |= (unsigned char)((s_pm_buf[i] >> 62) & 1);
        for (i = 0; i <= npages; i++) {
            if (i < npages && (vec[i] & 1)) {
                if (!run)
                    run_start = addr + i * S_PAGE;
                run++;
            } else if (run) {
                rc = s_write_pages(fd, run_start, run * S_PAGE, 0);
                if (rc < 0)
                    return rc;
                run = 0;
            }
        }
        addr += npages * S_PAGE;
    }
    return 0;
}

/* Writes the present pages of [start,end) that match the VMA's policy:
 * anonymous memory: present or swapped; private file mappings: only the
 * pages that are no longer file pages (copied on write). */
static long s_dump_span(long fd, long pm, const s_vma_t *v, uint64_t start, uint64_t end)
{
    int file_private = (v->flags & SSI_IMAGE_VMA_FILE) && !(v->flags & SSI_IMAGE_VMA_SHARED);
    int skip_zero = !(v->flags & (SSI_IMAGE_VMA_FILE | SSI_IMAGE_VMA_SHARED));
    uint64_t addr;
    long rc;

    /* Shared anonymous memory, and mappings of a deleted file (restored
     * as anonymous memory: the file is gone by name), hold pages we never
     * faulted in: every page in the page cache goes too. */
    if (((v->flags & SSI_IMAGE_VMA_SHARED) && (v->flags & SSI_IMAGE_VMA_ANON)) ||
        (v->flags & SSI_IMAGE_VMA_DELETED))
        return s_dump_shmem(fd, pm, v);

    if (s_use_scan) {
        struct pm_scan_arg a;
        uint64_t cur = start;
        while (cur < end) {
            long i;
            ssi_sys_memzero(&a, sizeof(a));
            a.size = sizeof(a);
            a.start = cur;
            a.end = end;
            a.vec = (uint64_t)s_scan_vec;
            a.vec_len = S_SCAN_VEC;
            a.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
            /* Zero-page mappings read back as zeroes anyway; guard pages fault: GUARD records. */
            uint64_t no =
                PAGE_IS_PFNZERO | ssi_freeze_guard_bit(pm) | (file_private ? PAGE_IS_FILE : 0);
            a.category_inverted = a.category_mask = no;
            a.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED;
            long nreg = ssi_sys3(SYS_ioctl, pm, PAGEMAP_SCAN, (long)&a);
            if (nreg < 0)
                return nreg;
            for (i = 0; i < nreg; i++) {
                /* Merge adjacent regions (present next to swapped). */
                uint64_t s = s_scan_vec[i].start, e = s_scan_vec[i].end;
                while (i + 1 < nreg && s_scan_vec[i + 1].start == e)
                    e = s_scan_vec[++i].end;
                rc = s_write_pages(fd, s, e - s, skip_zero);
                if (rc < 0)
                    return rc;
            }
            if (a.walk_end <= cur)
                return -EIO;
            cur = a.walk_end;
        }
        return 0;
    }

    /* Fallback: /proc/self/pagemap, 8 bytes per page (bit 58: a guard page, Linux 6.15). */
    addr = start;
    while (addr < end) {
        uint64_t npages = (end - addr) / S_PAGE, i, run = 0, run_start = 0;
        if (npages > 512)
            npages = 512;
        rc = ssi_sys4(SYS_pread64, pm, (long)s_pm_buf, (long)(npages * 8),
                      (long)(addr / S_PAGE * 8));
        if (rc < (long)(npages * 8))
            return rc < 0 ? rc : -EIO;
        for (i = 0; i <= npages; i++) {
            int want = 0;
            if (i < npages) {
                uint64_t e = s_pm_buf[i];
                want = (e & (3ULL << 62)) != 0 && !(e & (1ULL << 58));
                if (file_private && (e & (1ULL << 61)))
                    want = 0;
            }
            if (want) {
                if (!run)
                    run_start = addr + i * S_PAGE;
                run++;
            } else if (run) {
                rc = s_write_pages(fd, run_start, run * S_PAGE, skip_zero);
                if (rc < 0)
                    return rc;
                run = 0;
            }
        }
        addr += npages * S_PAGE;
    }
    return 0;
}

/* Memory a pre-copy move tracks: private anonymous and writable. */
static int s_trackable(const s_vma_t *v)
{
    return !v->skip && (v->flags & SSI_IMAGE_VMA_ANON) &&
           !(v->flags & (SSI_IMAGE_VMA_SHARED | SSI_IMAGE_VMA_DELETED)) && (v->prot & PROT_WRITE);
}

/* The final image of a live move: pages the rounds sent and the process
 * has not written since go as CLEAN ranges (the agent has them); the rest
 * of the VMA as in a stop-and-copy. */
static long s_dump_live(long fd, long pm, const s_vma_t *v)
{
    uint64_t cur = v->start;
    while (cur < v->end) {
        uint64_t walk_end;
        long n = ssi_track_clean(pm, cur, v->end, s_scan_vec, S_SCAN_VEC, &walk_end), i, rc;
        if (n < 0)
            return n;
        for (i = 0; i < n; i++) {
            ssi_image_pages_t pg;
            uint64_t s = s_scan_vec[i].start, e = s_scan_vec[i].end;
            while (i + 1 < n && s_scan_vec[i + 1].start == e)
                e = s_scan_vec[++i].end;
            if (s > cur && (rc = s_dump_span(fd, pm, v, cur, s)) < 0)
                return rc;
            pg.addr = s;
            pg.len = e - s;
            if ((rc = s_rec(fd, SSI_IMAGE_REC_CLEAN, &pg, sizeof(pg), 0)) < 0)
                return rc;
            cur = e;
        }
        if (walk_end > cur) {
            rc = s_dump_span(fd, pm, v, cur, walk_end);
            if (rc < 0)
                return rc;
            cur = walk_end;
        }
    }
    return 0;
}

static long s_dump_range(long fd, long pm, const s_vma_t *v)
{
    if (s_live && ssi_track_fd() >= 0 && s_trackable(v))
        return s_dump_live(fd, pm, v);
    return s_dump_span(fd, pm, v, v->start, v->end);
}

static long s_write_vma_rec(long fd, const s_vma_t *v)
{
    ssi_image_vma_t *r = &s_vrec;
    const char *path = s_path_pool + v->path_off;
    ssi_sys_memzero(r, sizeof(*r));
    r->start = v->start;
    r->end = v->end;
    r->pgoff = v->pgoff;
    r->prot = v->prot;
    r->flags = v->flags;
    r->ino = v->ino;
    r->dev_major = v->dev_major;
    r->dev_minor = v->dev_minor;
    ssi_sys_strlcpy(r->path, path, sizeof(r->path));
    if (v->flags & SSI_IMAGE_VMA_FILE) {
        struct stat st;
        long rc = ssi_sys4(SYS_newfstatat, AT_FDCWD, (long)path, (long)&st, 0);
        if (rc < 0)
            return rc;
        /* The restorer maps the file again: it must be this very file. */
        if (st.st_ino != v->ino)
            return -ESTALE;
        r->file_size = (uint64_t)st.st_size;
        r->file_mtime_ns =
            (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
    }
    return s_rec(fd, SSI_IMAGE_REC_VMA, r, sizeof(*r), 0);
}

/* ---- the image ---------------------------------------------------------- */

static long s_write_image(long fd)
{
    ssi_image_hdr_t h;
    ssi_image_end_t end;
    long rc, pm;
    int i, nvmas = 0;

    for (i = 0; i < s_nvmas; i++)
        nvmas += !s_vmas[i].skip;
    ssi_sys_memzero(&h, sizeof(h));
    h.magic = SSI_IMAGE_MAGIC;
    h.version = SSI_IMAGE_VERSION;
    h.hdr_size = sizeof(h);
    h.arch = SSI_IMAGE_ARCH_X86_64;
    h.page_size = S_PAGE;
    h.nthreads = 1 + (uint32_t)s_nthr;
    h.nvmas = (uint32_t)nvmas;
    h.nfds = (uint32_t)s_nfds;
    h.pid = (int32_t)ssi_sys0(SYS_getpid);
    h.ppid = (int32_t)ssi_sys0(SYS_getppid);
    h.hole_start = s_hole_start;
    h.hole_len = s_hole_len;
    h.vdso_block_start = s_block_start;
    h.vdso_block_end = s_block_end;
    h.vdso_start = s_vdso_start;
    h.vdso_len = s_vdso_len;
    h.vvar_len = s_vvar_len;
    h.vvar_vclock_len = s_vvar_vclock_len;
    h.vdso_hash = ssi_sys_fnv1a((const void *)s_vdso_start, s_vdso_len);
    h.cpu = s_cpu;

    pm = s_open("/proc/self/pagemap", O_RDONLY);
    if (pm < 0)
        return pm;
    {
        /* Probe PAGEMAP_SCAN on an empty range. */
        struct pm_scan_arg a;
        ssi_sys_memzero(&a, sizeof(a));
        a.size = sizeof(a);
        a.start = a.end = s_vdso_start;
        a.category_anyof_mask = a.return_mask = PAGE_IS_PRESENT;
        s_use_scan = ssi_sys3(SYS_ioctl, pm, PAGEMAP_SCAN, (long)&a) >= 0;
    }
    if (s_use_scan)
        h.flags |= SSI_IMAGE_F_PAGEMAP_SCAN;

    s_nrecords = s_page_bytes = 0;
    rc = ssi_sys_send_all(fd, &h, sizeof(h));
    if (rc == 0)
        rc = s_rec(fd, SSI_IMAGE_REC_THREAD, &s_thread, sizeof(s_thread), s_thread.xsave_size);
    if (rc == 0)
        rc = ssi_sys_send_all(fd, s_xsave, s_thread.xsave_size);
    for (i = 0; rc == 0 && i < s_nthr; i++) {
        const void *xs;
        const ssi_image_thread_t *t = ssi_freeze_thr_get(i, &xs);
        rc = s_rec(fd, SSI_IMAGE_REC_THREAD, t, sizeof(*t), t->xsave_size);
        if (rc == 0)
            rc = ssi_sys_send_all(fd, xs, t->xsave_size);
    }
    if (rc == 0)
        rc = s_rec(fd, SSI_IMAGE_REC_PROC, &s_proc, sizeof(s_proc), 0);
    if (rc == 0)
        rc = s_rec(fd, SSI_IMAGE_REC_CREDS, &s_creds, sizeof(s_creds), 0);
    if (rc == 0)
        rc = s_rec(fd, SSI_IMAGE_REC_CAPS, &s_caps, sizeof(s_caps), 0);
    for (i = 0; rc == 0 && i < s_nsigs; i++)
        rc = s_rec(fd, SSI_IMAGE_REC_SIG, &s_sigs[i], sizeof(s_sigs[i]), 0);
    {
        int ntsigs;
        const ssi_image_sig_t *tsigs = ssi_freeze_thr_sigs(&ntsigs);
        for (i = 0; rc == 0 && i < ntsigs; i++)
            rc = s_rec(fd, SSI_IMAGE_REC_SIG, &tsigs[i], sizeof(tsigs[i]), 0);
    }
    for (i = 0; rc == 0 && i < s_nfds; i++) {
        ssi_freeze_proc_fill_fd(&s_frec, s_fds[i]);
        rc = s_rec(fd, SSI_IMAGE_REC_FD, &s_frec, sizeof(s_frec), 0);
    }
    for (i = 0; rc == 0 && i < s_nvmas; i++)
        if (!s_vmas[i].skip)
            rc = s_write_vma_rec(fd, &s_vmas[i]);
    for (i = 0; rc == 0 && i < s_nvmas; i++) {
        s_vma_t *v = &s_vmas[i];
        if (v->skip || ((v->flags & SSI_IMAGE_VMA_FILE) && (v->flags & SSI_IMAGE_VMA_SHARED)))
            continue;
        if (!(v->prot & PROT_READ)) {
            /* Reserved or guard memory can still hold pages (glibc keeps
             * cached thread stacks PROT_NONE): read it temporarily. */
            rc = ssi_sys3(SYS_mprotect, (long)v->start, (long)(v->end - v->start),
                          (long)(v->prot | PROT_READ));
            if (rc < 0)
                break;
        }
        rc = s_dump_range(fd, pm, v);
        if (!(v->prot & PROT_READ))
            ssi_sys3(SYS_mprotect, (long)v->start, (long)(v->end - v->start), (long)v->prot);
    }
    for (i = 0; rc == 0 && i < s_nvmas; i++) /* after every PAGES */
        rc = s_vmas[i].skip ? 0 : ssi_freeze_guards(fd, pm, s_vmas[i].start, s_vmas[i].end, s_rec);
    s_close(pm);
    if (rc < 0)
        return rc;
    end.nrecords = s_nrecords;
    end.page_bytes = s_page_bytes;
    return s_rec(fd, SSI_IMAGE_REC_END, &end, sizeof(end), 0);
}

/* Connects to $SSI_FREEZE_DIR/<token>.sock; returns the fd or -errno. */
static long s_connect(int token)
{
    struct sockaddr_un sa;
    struct timeval tv = {.tv_sec = s_timeout_sec, .tv_usec = 0};
    struct ucred cr;
    socklen_t crl = sizeof(cr);
    size_t n;
    long fd, rc;

    ssi_sys_memzero(&sa, sizeof(sa));
    sa.sun_family = AF_UNIX;
    n = ssi_sys_strlcpy(sa.sun_path, s_dir, sizeof(sa.sun_path));
    if (n + 32 > sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    sa.sun_path[n++] = '/';
    n += ssi_sys_utoa(sa.sun_path + n, (uint64_t)token);
    ssi_sys_strlcpy(sa.sun_path + n, ".sock", sizeof(sa.sun_path) - n);

    fd = ssi_sys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    ssi_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&tv, sizeof(tv));
    ssi_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, sizeof(tv));
    rc = ssi_sys3(SYS_connect, fd, (long)&sa, sizeof(sa));
    if (rc == 0)
        rc = ssi_sys5(SYS_getsockopt, fd, SOL_SOCKET, SO_PEERCRED, (long)&cr, (long)&crl);
    /* Only root or our own user may take our memory. */
    if (rc == 0 && cr.uid != 0 && cr.uid != (uid_t)ssi_sys0(SYS_getuid))
        rc = -EPERM;
    if (rc < 0) {
        s_close(fd);
        return rc;
    }
    return fd;
}

/* Tells the requester, instead of the image, that what could not be
 * captured; the process thaws. */
static void s_send_fail(long fd, const char *what, long err)
{
    static ssi_image_fail_t f;
    size_t n = 0;
    ssi_sys_memzero(&f, sizeof(f));
    f.magic = SSI_IMAGE_FAIL_MAGIC;
    f.err = (int32_t)err;
    n += ssi_sys_strlcpy(f.text + n, "the process could not capture ", sizeof(f.text) - n);
    n += ssi_sys_strlcpy(f.text + n, what, sizeof(f.text) - n);
    if (err == -E2BIG)
        n += ssi_sys_strlcpy(f.text + n, ": more than an image holds", sizeof(f.text) - n);
    n += ssi_sys_strlcpy(f.text + n, " (errno ", sizeof(f.text) - n);
    if (n + 24 < sizeof(f.text))
        n += ssi_sys_utoa(f.text + n, (uint64_t)(err < 0 ? -err : err));
    n += ssi_sys_strlcpy(f.text + n, ")", sizeof(f.text) - n);
    f.len = (uint32_t)n;
    ssi_sys_send_all(fd, &f, sizeof(f));
}

/* Ends a live move's tracking: the program's memory is unprotected again
 * and the socket closed. */
static void s_untrack(void)
{
    ssi_track_stop();
    s_close(s_track_sock);
    s_track_sock = -1;
    s_live = 0;
}

/* Verdict 'D': reads where the body's agent is, connects to it and
 * answers the requester with one byte, 'D' (deputy from now on; this
 * never returns) or 'C' (thaw). Returns 'C' or -errno otherwise. */
static long s_become_deputy(long fd)
{
    static ssi_image_deputy_t d;
    static ssi_image_recover_t rec; /* F_RECOVER: the last checkpoint taken at home */
    char answer = SSI_IMAGE_VERDICT_CONTINUE;
    long rc = s_read_all(fd, &d, sizeof(d));
    int r = rc == 0 && (d.flags & SSI_IMAGE_DEPUTY_F_RECOVER);
    if (r)
        rc = s_read_all(fd, &rec, sizeof(rec));
    if (rc == 0)
        rc = s_deputy_connect && s_deputy_become ? s_deputy_connect(&d, r ? &rec : 0) : -ENOSYS;
    ssi_sys_memzero(&d, sizeof(d));
    if (rc == 0) {
        /* The body runs elsewhere with every thread: these end here. */
        ssi_freeze_thr_release(SSI_FREEZE_THR_EXIT);
        s_nthr = 0;
        answer = SSI_IMAGE_VERDICT_DEPUTY;
        ssi_sys_send_all(fd, &answer, 1);
        if (fd == s_track_sock)
            s_track_sock = -1;
        s_close(fd);
        s_untrack();       /* the deputy keeps none of the program's memory */
        s_deputy_become(); /* never returns */
    }
    /* The requester learns that we go on at home; the agent, left without
     * a deputy, kills the body. Nothing was lost. */
    ssi_sys_send_all(fd, &answer, 1);
    return rc < 0 ? rc : SSI_IMAGE_VERDICT_CONTINUE;
}

/* SSI_IMAGE_REQ_F_TRACK: registers the private anonymous writable memory
 * for write tracking, answers with its ranges and keeps the socket, which
 * raises our signal (with si_fd) when the requester writes or goes away.
 * The program then runs on. */
static void s_track_begin(long fd)
{
    ssi_image_track_t t;
    long rc = s_capture_vmas(0);
    int i;
    ssi_sys_memzero(&t, sizeof(t));
    t.magic = SSI_IMAGE_TRACK_MAGIC;
    for (i = 0; rc == 0 && i < s_nvmas; i++)
        if (s_trackable(&s_vmas[i]) && t.n < SSI_IMAGE_TRACK_MAX) {
            s_trk[t.n].start = s_vmas[i].start;
            s_trk[t.n].end = s_vmas[i].end;
            t.n++;
        }
    if (rc == 0)
        rc = ssi_track_start(s_trk, t.n);
    if (rc == 0) {
        long pid = ssi_sys0(SYS_getpid);
        if (ssi_sys3(SYS_fcntl, fd, F_SETOWN, pid) < 0 ||
            ssi_sys3(SYS_fcntl, fd, F_SETSIG, SSI_FREEZE_SIGNAL) < 0 ||
            ssi_sys3(SYS_fcntl, fd, F_SETFL, O_ASYNC | O_NONBLOCK) < 0)
            rc = -EIO;
    }
    if (rc < 0) {
        ssi_track_stop();
        t.err = (int32_t)rc;
        t.n = 0;
    }
    if (ssi_sys_send_all(fd, &t, sizeof(t)) < 0 ||
        (t.n && ssi_sys_send_all(fd, s_trk, t.n * sizeof(s_trk[0])) < 0) || rc < 0) {
        ssi_track_stop();
        s_close(fd);
        return;
    }
    s_track_sock = fd;
}

/* The freeze proper on a connected socket whose request was read. Returns
 * the verdict byte or -errno; never leaves the process frozen. */
static long s_freeze_on(long fd, const ssi_image_req_t *req)
{
    long rc = 0;
    char verdict = 0;

    if (req->magic != SSI_IMAGE_REQ_MAGIC || req->version != SSI_IMAGE_VERSION)
        rc = -EPROTO;
    if (rc == 0 && s_stopped < 0) {
        rc = s_stopped;
        s_send_fail(
            fd, rc == -EDEADLK ? "its threads: one blocks the freeze signal" : "its threads", rc);
    }
    /* CLEAN ranges only on the tracking socket, when the requester says
     * every tracked page reached the other side. */
    s_live = rc == 0 && fd == s_track_sock && (req->flags & SSI_IMAGE_REQ_F_LIVE);
    if (rc == 0 && (rc = ssi_freeze_proc_capture(&s_proc, &s_creds)) < 0)
        s_send_fail(fd, "its process state", rc);
    if (rc == 0 && (rc = ssi_freeze_proc_capture_caps(&s_caps)) < 0)
        s_send_fail(fd, "its capabilities", rc);
    if (rc == 0 && s_program_nnp >= 0)
        s_caps.no_new_privs = (uint32_t)s_program_nnp;
    if (rc == 0 && (rc = ssi_seccomp_check(s_why, sizeof(s_why))) < 0)
        s_send_fail(fd, s_why, rc);
    if (rc == 0)
        s_nsigs = ssi_freeze_proc_take_signals(s_sigs, S_MAX_SIGS, s_thread.tid);
    if (rc == 0 && (rc = s_capture_fd_list(fd)) < 0)
        s_send_fail(fd, "its descriptors", rc);
    if (rc == 0 && (rc = s_capture_vmas(1)) < 0)
        s_send_fail(fd, "its memory map", rc);
    if (rc == 0)
        rc = s_write_image(fd);
    s_live = 0;
    if (rc == 0) {
        rc = ssi_sys3(SYS_read, fd, (long)&verdict, 1);
        rc = rc == 1 ? (long)(unsigned char)verdict : (rc < 0 ? rc : -EPIPE);
    }
    if (rc == SSI_IMAGE_VERDICT_DEPUTY)
        rc = s_become_deputy(fd);
    return rc;
}

/* The whole freeze once the jump point is recorded, on a new connection
 * (token) or, for a live move's last step, on the tracking socket
 * (token < 0, its request in s_treq). Returns the verdict byte, or 0 when
 * tracking began, or -errno; never leaves the process frozen. */
static long s_freeze(int token)
{
    ssi_image_req_t req;
    long fd, rc;

    /* Nothing here writes into the program's stderr: the requester, not
     * the program, hears why a freeze failed (s_send_fail, or the broken
     * stream it sees itself). */
    if (token < 0) {
        /* Blocking again for the image; the signal on data is not needed. */
        ssi_sys3(SYS_fcntl, s_track_sock, F_SETFL, 0);
        rc = s_freeze_on(s_track_sock, &s_treq);
        s_untrack();
        return rc;
    }
    fd = s_connect(token);
    if (fd < 0)
        return fd;
    rc = s_read_all(fd, &req, sizeof(req));
    if (rc == 0 && req.magic == SSI_IMAGE_REQ_MAGIC && (req.flags & SSI_IMAGE_REQ_F_TRACK)) {
        s_untrack(); /* one live move at a time: a new one replaces the old */
        s_track_begin(fd);
        return 0;
    }
    if (rc == 0)
        rc = s_freeze_on(fd, &req);
    s_close(fd);
    return rc;
}

/* Our signal from the tracking socket (F_SETSIG: si_code POLL_*, si_fd): 1 when the requester
 * asks for the final freeze (its request is in s_treq); 0 otherwise, after ending the tracking
 * if the requester went away or said something else. */
static int s_track_event(const siginfo_t *si)
{
    long n;
    if (s_track_sock < 0 || si->si_code <= 0 || si->si_fd != s_track_sock)
        return 0;
    n = ssi_sys6(SYS_recvfrom, s_track_sock, (long)&s_treq, sizeof(s_treq), MSG_DONTWAIT, 0, 0);
    if (n == -EAGAIN || n == -EINTR)
        return 0; /* an old notice: nothing there */
    if (n == (long)sizeof(s_treq))
        return 1;
    s_untrack(); /* EOF, an error or a short request: the move is over */
    return 0;
}

/* How ssi_freeze_jmp_save() returned last: 0 at the save, 1 restored
 * elsewhere, 2 restored in place at home. Static, not a local of the
 * handler: no local of the handler is live across the jump. */
static volatile int s_back;
static void *volatile s_uc; /* the freeze signal's frame */

/* A request that comes while another thread ends a freeze or a restore (it has let the others
 * go but not yet returned) waits for it rather than being dropped; park requests may come in
 * meanwhile. 0 once this thread owns s_busy, -ETIMEDOUT. */
static long s_wait_idle(void)
{
    uint64_t open = ~(1ULL << (SSI_FREEZE_SIGNAL - 1)), old;
    struct timespec tick = {0, 10000000};
    int n = s_timeout_sec * 100;
    while (__atomic_exchange_n(&s_busy, 1, __ATOMIC_ACQ_REL)) {
        if (n-- <= 0)
            return -ETIMEDOUT;
        ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&open, (long)&old, 8);
        ssi_sys6(SYS_futex, (long)&s_busy, FUTEX_WAIT_PRIVATE, 1, (long)&tick, 0, 0);
        ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8);
    }
    return 0;
}

static void s_set_idle(void)
{
    __atomic_store_n(&s_busy, 0, __ATOMIC_RELEASE);
    ssi_sys6(SYS_futex, (long)&s_busy, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

static void s_handler(int sig, siginfo_t *si, void *ucv)
{
    long rc, stopped;
    int ntsigs, token;
    const ssi_image_sig_t *tsigs;
    (void)sig;
    /* Another thread's freeze parks this one here. */
    if (ssi_freeze_thr_park(si, ucv))
        return;
    /* Only sigqueue() with a token asks for a freeze (a stray kill() of our
     * signal must not stop the program), or the kernel's notice on a live
     * move's tracking socket (user space cannot send a positive si_code to
     * another process). */
    if (si->si_code == SI_QUEUE) {
        if (si->si_value.sival_int < 0)
            return;
        if (si->si_uid != 0 && si->si_uid != (uid_t)ssi_sys0(SYS_getuid))
            return;
    } else if (si->si_code <= 0 || s_track_sock < 0 || si->si_fd != s_track_sock) {
        return;
    }
    if (__atomic_exchange_n(&s_busy, 1, __ATOMIC_ACQ_REL) && s_wait_idle() < 0)
        return;
    if (si->si_code == SI_QUEUE) {
        token = si->si_value.sival_int;
    } else if (s_track_event(si)) {
        token = -1; /* the final freeze of a live move */
    } else {
        s_set_idle();
        return;
    }
    /* First of all: nothing below may see another thread still run. */
    stopped = ssi_freeze_thr_stop(s_timeout_sec * 1000);
    s_nthr = stopped > 0 ? (int)stopped : 0;
    s_stopped = stopped;
    if (stopped >= 0 && s_freeze_hook)
        s_freeze_hook();
    /* The frame is on the stack, which the image carries: its address
     * stays valid after a restore (ucv, a local, does not). */
    s_uc = ucv;
    ssi_freeze_proc_sleep_note(&s_sleep, ucv);
    ssi_freeze_proc_thread(&s_thread, s_xsave, S_XSAVE_MAX, ucv);
    s_back = ssi_freeze_jmp_save(&s_jmp);
    if (s_back != 0) {
        /* Restored in a new process by ssi-restore. Memory, fs base, sigactions, timers and
         * pending signals are back; the restorer ran in the hole, so reserve it again (this
         * also drops the restorer's own pages) for the next migration, once every other
         * thread has jumped out of it. */
        ssi_freeze_thr_restored();
        ssi_sys6(SYS_mmap, (long)s_hole_start, (long)s_hole_len, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        s_generation++;
        /* ssi-restore --in-place (the deputy brought its body home)
         * jumps back with 2, a restore elsewhere with 1. */
        s_restored_home = s_back == 2 || s_back == 3;
        s_restarted = s_back == 3;
        s_by_agent = s_back == 4;
        /* A live move's tracking stayed with the process we were copied
         * from: its descriptors are not ours. */
        ssi_track_forget();
        s_track_sock = -1;
        s_live = 0;
        s_nsigs = 0;
        /* Away, a trapped call with SIGSYS blocked gets the process killed
         * (dash blocks every signal around each vfork; a freeze can catch it).
         * Every restore that is not in place: ssi-agent's (4), the moves of
         * ssid, included. */
        if (!s_restored_home)
            ssi_freeze_thr_unblock(SIGSYS, s_uc);
        if (s_restore_hook)
            s_restore_hook();
        ssi_freeze_proc_sleep_restart(&s_sleep, s_uc);
        ssi_freeze_thr_release(SSI_FREEZE_THR_THAW);
        s_set_idle();
        return; /* rt_sigreturn: registers, XSAVE, mask from the frame */
    }
    ssi_sys_memcopy(s_thread.resume, &s_jmp, sizeof(s_jmp));
    rc = s_freeze(token);
    if (rc == SSI_IMAGE_VERDICT_EXIT)
        ssi_sys1(SYS_exit_group, 0);
    ssi_freeze_proc_requeue(s_sigs, s_nsigs);
    s_nsigs = 0;
    tsigs = ssi_freeze_thr_sigs(&ntsigs);
    ssi_freeze_proc_requeue(tsigs, ntsigs);
    ssi_freeze_thr_release(SSI_FREEZE_THR_THAW);
    ssi_freeze_proc_sleep_restart(&s_sleep, ucv);
    s_set_idle();
}

/* ---- startup ------------------------------------------------------------ */

/* Finds the [vvar][vvar_vclock][vdso] block around AT_SYSINFO_EHDR. */
static long s_find_vdso(void)
{
    char *p = s_maps;
    long n = ssi_freeze_proc_read("/proc/self/maps", s_maps, sizeof(s_maps));
    if (n < 0)
        return n;
    s_vdso_start = (uint64_t)getauxval(AT_SYSINFO_EHDR);
    s_block_start = s_block_end = 0;
    while (*p) {
        s_vma_t v;
        const char *path;
        p = s_parse_maps_line(p, &v, &path);
        if (ssi_sys_streq(path, "[vvar]") || ssi_sys_streq(path, "[vvar_vclock]") ||
            ssi_sys_streq(path, "[vdso]")) {
            if (!s_block_start || v.start < s_block_start)
                s_block_start = v.start;
            if (v.end > s_block_end)
                s_block_end = v.end;
            if (ssi_sys_streq(path, "[vvar]"))
                s_vvar_len = v.end - v.start;
            else if (ssi_sys_streq(path, "[vvar_vclock]"))
                s_vvar_vclock_len = v.end - v.start;
            else {
                s_vdso_len = v.end - v.start;
                if (!s_vdso_start)
                    s_vdso_start = v.start;
            }
        }
    }
    if (!s_vdso_start || !s_vdso_len ||
        s_block_end - s_block_start != s_vvar_len + s_vvar_vclock_len + s_vdso_len)
        return -ENOENT;
    return 0;
}

int ssi_freeze_init(void)
{
    struct sigaction sa;
    const char *env;
    void *hole;
    long rc;

    if (s_ready)
        return 0;
    env = getenv("SSI_FREEZE_DIR");
    ssi_sys_strlcpy(s_dir, env && *env ? env : SSI_FREEZE_DIR_DEFAULT, sizeof(s_dir));
    env = getenv("SSI_FREEZE_TIMEOUT");
    if (env && *env) {
        const char *e;
        uint64_t t = ssi_sys_dec(env, &e);
        if (t > 0 && t < 86400)
            s_timeout_sec = (int)t;
    }
    rc = s_find_vdso();
    if (rc < 0) {
        ssi_sys_log("ssi-freeze: ", "no vDSO block found; freezing disabled", 0, rc);
        return (int)rc;
    }
    ssi_cpu_probe(&s_cpu);
    hole =
        mmap(0, SSI_FREEZE_HOLE_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (hole == MAP_FAILED) {
        ssi_sys_log("ssi-freeze: ", "cannot reserve the restore hole; freezing disabled", 0,
                    -ENOMEM);
        return -ENOMEM;
    }
    s_hole_start = (uint64_t)hole;
    s_hole_len = SSI_FREEZE_HOLE_LEN;

    ssi_sys_memzero(&sa, sizeof(sa));
    sa.sa_sigaction = s_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(SSI_FREEZE_SIGNAL, &sa, 0) < 0) {
        munmap(hole, SSI_FREEZE_HOLE_LEN);
        return -EINVAL;
    }
    s_ready = 1;
    return 0;
}

void ssi_freeze_atfork_child(void)
{
    s_untrack();
}

int ssi_freeze_own_fd(int fd)
{
    return fd >= 0 && (fd == s_track_sock || fd == ssi_track_fd());
}

int ssi_freeze_restored_home(void)
{
    return s_restored_home;
}

int ssi_freeze_by_agent(void)
{
    return s_by_agent;
}

int ssi_freeze_restarted(void)
{
    return s_restarted;
}

long ssi_freeze_connect(int token)
{
    return s_connect(token);
}

uint32_t ssi_freeze_generation(void)
{
    return s_generation;
}

void ssi_freeze_set_freeze_hook(void (*hook)(void))
{
    s_freeze_hook = hook;
}

void ssi_freeze_set_restore_hook(void (*hook)(void))
{
    s_restore_hook = hook;
}

void ssi_freeze_set_deputy_hook(ssi_freeze_deputy_connect_fn *connect, void (*become)(void))
{
    s_deputy_connect = connect;
    s_deputy_become = become;
}

void ssi_freeze_set_fd_hook(int (*hidden)(int fd))
{
    s_fd_hidden = hidden;
}

__attribute__((constructor)) static void s_freeze_ctor(void)
{
    ssi_freeze_init();
}
