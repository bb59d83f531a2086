/*
 * ssi_restore.c - `ssi-restore`: rebuild a frozen process from its image.
 *
 *   ssi-restore [-v] [--home-cwd] [--sandbox] [--err-fd N] [--fd N | IMAGE]  restore
 *   ssi-restore --info IMAGE              print the image's header/records
 *   ssi-restore --in-place --fd N         restore into this very process
 *   ssi-restore --check [--status-fd S] --fd N
 *                                         dry run of an in-place restore
 *
 * A static, libc-free, position-independent program (built with -static-pie
 * -nostdlib -fno-stack-protector, with wire/ssi_image.c, which checks the
 * image's format; it has no relocations, so a byte copy of it runs anywhere). It must run inside a fresh PID namespace:
 *
 *   - as pid 1 (e.g. `unshare --pid --fork ssi-restore ...`): it creates
 *     the body with clone3(set_tid = original pid) as its child and then
 *     stays as the namespace's reaper, exiting with the body's status;
 *   - or as a child of the namespace's pid 1: the body is created with
 *     CLONE_PARENT (a sibling, child of pid 1) and ssi-restore exits 0
 *     once the body runs.
 *
 * The new task (a fork of this program at the original pid) then:
 * moves a copy of this program into the restore hole recorded in the image
 * (an address the original process kept free) and continues there on a new
 * stack; unmaps everything else; asks the kernel for a vDSO block at the
 * old address (ARCH_MAP_VDSO_64); maps every VMA at its address and reads
 * the page contents straight from the stream into place; sets the mm fields
 * (PR_SET_MM_MAP), rlimits, umask, cwd, sigactions, itimers, altstack,
 * robust list, tid address, name; re-queues pending signals; makes every
 * other thread with its tid (ssi_restore_thr.c; each sets its own state);
 * each sets its FS base and jumps back into the freeze handler
 * (ssi_freeze.c), which returns through the frame that came with the stack.
 *
 * File descriptors are inherited: the body gets whatever this program got
 * (0/1/2 ...). The image fd and the status pipe live at high numbers and
 * are closed before the jump. Any failure before the jump exits the new
 * task with a message on stderr; the original process is untouched.
 *
 * --in-place: the deputy of a body that came home execs this program (the
 * process keeps its pid, parent and descriptors; no clone, no namespace).
 * The same steps run in this process; its descriptors are then made to
 * match the image's FD records: those the image does not have are closed,
 * null/zero/random/urandom are reopened if missing, FD_CLOEXEC and
 * O_NONBLOCK are set as recorded. It jumps back with 2 instead of 1, so
 * the freeze handler knows the process is at home again (3 with
 * --restart: ssi-ckpt restarts a checkpoint, which may be a body's). A failure here
 * loses the process: the deputy runs --check first (from a child that
 * inherits its descriptors), which reads the whole image and checks
 * everything that the in-place restore could refuse: header, CPU, vDSO,
 * pid, addresses, mapped files, executable, cwd and descriptors.
 */
#include "ssi_restore.h"

#include "ssi_cpu.h"
#include "ssi_image.h"
#include "ssi_restore_thr.h"
#include "ssi_sys.h"

#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <signal.h>
#include <string.h> /* declarations only: ssi_restore_mem.c */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define S_PAGE 4096UL
#define S_CHUNK (16UL << 20) /* the part of the hole this program uses */
#define S_MAX_VMAS SSI_IMAGE_FREEZE_MAX_VMAS
#define S_MAX_SIGS 256
#define S_MAPS_BUF (2 * 1024 * 1024)
#define S_REC_BUF (64 * 1024)
#define S_HIGH_FD 900 /* image fd and status pipe: above the app's usual fds */

typedef struct {
    uint64_t start, end;
    uint32_t prot, flags;
} s_vma_t;

/* All state is in .bss/.data of this program, so that the copy in the hole
 * carries it; nothing may hold a pointer into the original copy. */
static ssi_image_hdr_t s_hdr;
#define S_MAX_THREADS SSI_IMAGE_FREEZE_MAX_THREADS
#define S_THREAD_STACK (16UL << 10)
static ssi_image_thread_t s_threads[S_MAX_THREADS];
static int s_nthreads;
static int s_ready; /* threads made, their state set (futex word) */
static int s_go;    /* every thread made: jump (futex word) */
static ssi_image_proc_t s_proc;
static ssi_image_creds_t s_creds;
static int s_have_creds; /* images older than the CREDS record keep the restorer's */
static ssi_image_caps_t s_caps;
static int s_have_caps; /* images older than the CAPS record keep the restorer's */
static ssi_image_sig_t s_sigs[S_MAX_SIGS];
static int s_nsigs;
static s_vma_t s_vmas[S_MAX_VMAS];
static int s_nvmas;
static char s_maps[S_MAPS_BUF];
static unsigned char s_rec_buf[S_REC_BUF] __attribute__((aligned(64)));
static long s_img_fd = -1, s_status_fd = -1, s_status_rd = -1;
/* Where messages go: stderr, or --err-fd (ssi-agent's pipe, so that the
 * reason of a failure reaches the user and not the program's stderr). */
static long s_err_fd = 2;
static int s_verbose;
/* --home-cwd: the body's file calls run at home (vfs-proxy), cwd included;
 * --sandbox: it enters its empty root (ssi_restore_sandbox.c). */
static int s_home_cwd, s_sandbox;
static uint64_t s_chunk;
static uint64_t s_page_bytes;
/* The format checks of every record (wire/ssi_image.c). */
static ssi_image_check_t s_chk;
_Static_assert(S_REC_BUF >= SSI_IMAGE_REC_MAX, "a record's struct fits s_rec_buf");
/* 0: a new task (clone3); S_CHECK: dry run; S_IN_PLACE: this process. */
static int s_mode;
static int s_restart; /* --restart: a checkpoint restarted (ssi-ckpt); jump back with 3 */
static int s_agent;   /* --agent: ssi-agent's body, which must find its control socket; 4 */
#define S_CHECK 1
#define S_IN_PLACE 2
#define S_MAX_FDS SSI_IMAGE_FD_LIMIT
typedef struct {
    int32_t fd;
    uint32_t fd_flags, fl_flags, kind;
    uint64_t rdev;
} s_fd_t;
static s_fd_t s_fds[S_MAX_FDS];
static int s_nfds;

extern const char __ehdr_start[];
extern char _end[];

/* ---- output -------------------------------------------------------------- */

static void s_puts(long fd, const char *s)
{
    ssi_sys3(SYS_write, fd, (long)s, (long)ssi_sys_strlen(s));
}

static void s_putu(long fd, uint64_t v)
{
    char b[24];
    ssi_sys_utoa(b, v);
    s_puts(fd, b);
}

static void s_putx(long fd, uint64_t v)
{
    char b[19];
    int i;
    b[0] = '0';
    b[1] = 'x';
    for (i = 0; i < 16; i++)
        b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
    b[18] = 0;
    s_puts(fd, b);
}

static void s_log(const char *a, const char *b)
{
    if (!s_verbose)
        return;
    s_puts(s_err_fd, "ssi-restore: ");
    s_puts(s_err_fd, a);
    if (b)
        s_puts(s_err_fd, b);
    s_puts(s_err_fd, "\n");
}

/* Fails the restore: the message goes to the status pipe (the launching
 * half prints it) or to stderr, and this task exits. */
__attribute__((noreturn)) static void s_die(const char *what, const char *detail, long err)
{
    long fd = s_status_fd >= 0 ? s_status_fd : s_err_fd;
    if (s_status_fd >= 0)
        s_puts(fd, "E");
    else
        s_puts(fd, "ssi-restore: ");
    s_puts(fd, what);
    if (detail) {
        s_puts(fd, " ");
        s_puts(fd, detail);
    }
    if (err) {
        s_puts(fd, " (errno ");
        s_putu(fd, (uint64_t)-err);
        s_puts(fd, ")");
    }
    s_puts(fd, "\n");
    ssi_sys1(SYS_exit_group, 127);
    __builtin_unreachable();
}

void ssi_restore_die(const char *what, const char *detail, long err)
{
    s_die(what, detail, err);
}

/* ---- image reading ------------------------------------------------------- */

/* Reads len bytes or dies. what names the part for --info; NULL: the
 * checker (s_chk) knows which part of the image it was and says so. */
static void s_read_exact(void *p, uint64_t len, const char *what)
{
    char *c = p;
    uint64_t got = 0;
    while (got < len) {
        long n = ssi_sys3(SYS_read, s_img_fd, (long)(c + got),
                          (long)(len - got > (1UL << 30) ? (1UL << 30) : len - got));
        if (n == -EINTR)
            continue;
        if (n < 0)
            s_die("image unreadable", 0, n);
        if (n == 0) {
            if (what)
                s_die("image truncated while reading", what, 0);
            ssi_image_check_truncated(&s_chk, got);
            s_die(s_chk.why, 0, 0);
        }
        got += (uint64_t)n;
    }
}

static void s_skip(uint64_t len, const char *what)
{
    while (len) {
        uint64_t chunk = len > S_REC_BUF ? S_REC_BUF : len;
        s_read_exact(s_rec_buf, chunk, what);
        if (!what)
            ssi_image_check_data(&s_chk, chunk);
        len -= chunk;
    }
}

static long s_open(const char *path, int flags)
{
    return ssi_sys4(SYS_openat, AT_FDCWD, (long)path, flags | O_CLOEXEC, 0);
}

/* ---- /proc/self/maps of this program ------------------------------------ */

static long s_read_maps(void)
{
    long fd = s_open("/proc/self/maps", O_RDONLY), n, used = 0;
    if (fd < 0)
        return fd;
    while (used + 1 < S_MAPS_BUF) {
        n = ssi_sys3(SYS_read, fd, (long)(s_maps + used), S_MAPS_BUF - 1 - used);
        if (n <= 0)
            break;
        used += n;
    }
    ssi_sys1(SYS_close, fd);
    s_maps[used] = 0;
    return used;
}

/* Iterates maps lines: returns the next line or NULL; fills start/end and
 * a pointer to the (NUL-terminated) name. */
static char *s_next_map(char *p, uint64_t *start, uint64_t *end, const char **name)
{
    const char *e;
    char *q;
    int field;
    if (!p || !*p)
        return 0;
    *start = ssi_sys_hex(p, &e);
    *end = ssi_sys_hex(e + 1, &e);
    q = (char *)e;
    for (field = 0; field < 4 && *q && *q != '\n'; field++) { /* perms off dev ino */
        while (*q == ' ')
            q++;
        while (*q && *q != ' ' && *q != '\n')
            q++;
    }
    while (*q == ' ')
        q++;
    *name = q;
    while (*q && *q != '\n')
        q++;
    if (*q)
        *q++ = 0;
    return q;
}

/* ---- checks before anything irreversible ---------------------------------- */

static void s_check_header(void)
{
    ssi_image_cpu_t cpu;
    const char *why;
    uint64_t vvar = 0, vclock = 0, vdso = 0, vdso_start = 0, s, e;
    const char *name;
    char *p;

    if (ssi_image_check_hdr(&s_chk, &s_hdr) < 0)
        s_die(s_chk.why, 0, 0);
    if (s_hdr.nthreads > S_MAX_THREADS)
        s_die("the image has more threads than this restorer makes (256)", 0, 0);
    if (s_hdr.pid <= 1)
        s_die("image pid must be > 1 (the body cannot be its namespace's init)", 0, 0);
    if (s_hdr.hole_len < S_CHUNK || (s_hdr.hole_start & (S_PAGE - 1)))
        s_die("image has no usable restore hole", 0, 0);
    ssi_cpu_probe(&cpu);
    why = ssi_cpu_incompatible(&s_hdr.cpu, &cpu);
    if (why)
        s_die("this CPU cannot run the image:", why, 0);
    if (s_read_maps() < 0)
        s_die("cannot read /proc/self/maps", 0, 0);
    for (p = s_maps; (p = s_next_map(p, &s, &e, &name));) {
        if (ssi_sys_streq(name, "[vvar]"))
            vvar = e - s;
        else if (ssi_sys_streq(name, "[vvar_vclock]"))
            vclock = e - s;
        else if (ssi_sys_streq(name, "[vdso]")) {
            vdso = e - s;
            vdso_start = s;
        }
    }
    /* The vDSO block is replaced by this kernel's; glibc in the image
     * resolved vDSO symbols at startup, so the text must be identical. */
    if (vvar != s_hdr.vvar_len || vclock != s_hdr.vvar_vclock_len || vdso != s_hdr.vdso_len)
        s_die("vDSO block layout differs from the image's", 0, 0);
    if (ssi_sys_fnv1a((const void *)vdso_start, vdso) != s_hdr.vdso_hash)
        s_die("vDSO text differs from the image's (different kernel)", 0, 0);
}

/* ---- memory -------------------------------------------------------------- */

/* --check: what s_map_vma would refuse, without mapping anything. */
static void s_check_vma(const ssi_image_vma_t *v)
{
    s_vma_t *t;
    if (s_nvmas >= S_MAX_VMAS)
        s_die("too many VMAs", 0, 0);
    if (v->end > s_hdr.hole_start && v->start < s_hdr.hole_start + s_hdr.hole_len)
        s_die("VMA overlaps the restore hole", v->path, 0);
    if ((v->flags & SSI_IMAGE_VMA_FILE) && !(v->flags & SSI_IMAGE_VMA_DELETED)) {
        struct stat st;
        int shared = (v->flags & SSI_IMAGE_VMA_SHARED) != 0;
        long fd = s_open(v->path, shared && (v->prot & PROT_WRITE) ? O_RDWR : O_RDONLY), r;
        if (fd < 0)
            s_die("cannot open mapped file", v->path, fd);
        r = ssi_sys2(SYS_fstat, fd, (long)&st);
        ssi_sys1(SYS_close, fd);
        if (r < 0 || (uint64_t)st.st_size != v->file_size ||
            (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec !=
                v->file_mtime_ns)
            s_die("mapped file changed since the freeze:", v->path, 0);
    }
    t = &s_vmas[s_nvmas++];
    t->start = v->start;
    t->end = v->end;
    t->prot = v->prot;
    t->flags = v->flags;
}

/* Skips a record's data: a seek on a memfd or file, else a read. */
static void s_skip_data(uint64_t len)
{
    if (len && !SSI_SYS_ERR(ssi_sys3(SYS_lseek, s_img_fd, (long)len, 1 /* SEEK_CUR */))) {
        ssi_image_check_data(&s_chk, len);
        return;
    }
    s_skip(len, 0);
}

static int s_local_dev(uint64_t rdev)
{
    /* The kernel's stat encoding; major 1: null 3, zero 5, random 8, urandom 9. */
    uint32_t ma = (uint32_t)(((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffULL));
    uint32_t mi = (uint32_t)((rdev & 0xff) | ((rdev >> 12) & ~0xffULL));
    return ma == 1 && (mi == 3 || mi == 5 || mi == 8 || mi == 9) ? (int)mi : 0;
}

static int s_remade_anon(const ssi_image_fd_t *f)
{
    return f->kind == SSI_IMAGE_FD_ANON && (ssi_sys_streq(f->path, "anon_inode:[eventpoll]") ||
                                            ssi_sys_streq(f->path, "anon_inode:[eventfd]") ||
                                            ssi_sys_streq(f->path, "anon_inode:[timerfd]") ||
                                            ssi_sys_streq(f->path, "anon_inode:[signalfd]"));
}

/* An FD record: --check makes sure this process has it (or can reopen
 * it); --in-place keeps it for s_inplace_fds. */
static void s_fd_record(const ssi_image_fd_t *f)
{
    s_fd_t *d;
    if (s_mode == S_CHECK) {
        /* A local device is opened again; an epoll instance, eventfd,
         * timerfd or signalfd made away is made again by libssi.so's
         * restore hook (ssi_epoll.c, ssi_kobj.c). */
        int local = (f->kind == SSI_IMAGE_FD_CHR && s_local_dev(f->rdev)) || s_remade_anon(f);
        if (!local && (f->fd == s_img_fd || f->fd == s_status_fd ||
                       ssi_sys2(SYS_fcntl, f->fd, F_GETFD) < 0)) {
            char num[24];
            ssi_sys_utoa(num, (uint64_t)f->fd);
            s_die("this descriptor of the image is not open at home: fd", num, 0);
        }
        return;
    }
    if (s_nfds >= S_MAX_FDS)
        s_die("too many descriptors in the image", 0, 0);
    d = &s_fds[s_nfds++];
    d->fd = f->fd;
    d->fd_flags = f->fd_flags;
    d->fl_flags = f->fl_flags;
    d->kind = f->kind;
    d->rdev = f->rdev;
}

static void s_map_vma(const ssi_image_vma_t *v)
{
    uint64_t len = v->end - v->start;
    if (s_mode == S_CHECK) {
        s_check_vma(v);
        return;
    }
    long prot = (long)(v->prot | PROT_READ | PROT_WRITE), flags, fd = -1, r;
    s_vma_t *t;

    if (s_nvmas >= S_MAX_VMAS)
        s_die("too many VMAs", 0, 0);
    if (v->end > s_hdr.hole_start && v->start < s_hdr.hole_start + s_hdr.hole_len)
        s_die("VMA overlaps the restore hole", v->path, 0);
    if ((v->flags & SSI_IMAGE_VMA_FILE) && !(v->flags & SSI_IMAGE_VMA_DELETED)) {
        struct stat st;
        int shared = (v->flags & SSI_IMAGE_VMA_SHARED) != 0, wr = shared && (v->prot & PROT_WRITE);
        fd = s_open(s_sandbox ? ssi_restore_sandbox_file(v->path, wr) : v->path, wr ? O_RDWR : 0);
        if (fd < 0)
            s_die("cannot open mapped file", v->path, fd);
        r = ssi_sys2(SYS_fstat, fd, (long)&st);
        if (r < 0 || (uint64_t)st.st_size != v->file_size ||
            (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec !=
                v->file_mtime_ns)
            s_die("mapped file changed since the freeze:", v->path, 0);
        prot = shared ? (long)v->prot : prot;
        flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED_NOREPLACE;
        r = ssi_sys6(SYS_mmap, (long)v->start, (long)len, prot, flags, fd, (long)v->pgoff);
        ssi_sys1(SYS_close, fd);
    } else {
        flags = MAP_ANONYMOUS | MAP_FIXED_NOREPLACE |
                ((v->flags & SSI_IMAGE_VMA_SHARED)      ? MAP_SHARED
                 : (v->flags & SSI_IMAGE_VMA_DROPPABLE) ? 0x08 /* MAP_DROPPABLE */
                                                        : MAP_PRIVATE);
        if (v->flags & SSI_IMAGE_VMA_STACK)
            flags |= MAP_GROWSDOWN;
        if (!(v->prot & PROT_WRITE) || (v->flags & SSI_IMAGE_VMA_NORESERVE))
            flags |= MAP_NORESERVE; /* reservations (PROT_NONE) cost no commit */
        r = ssi_sys6(SYS_mmap, (long)v->start, (long)len, prot, flags, -1, 0);
    }
    if (SSI_SYS_ERR(r) || (uint64_t)r != v->start)
        s_die("cannot map VMA at its address:", v->path[0] ? v->path : "[anon]",
              SSI_SYS_ERR(r) ? r : -EEXIST);
    ssi_restore_madv(v);
    t = &s_vmas[s_nvmas++];
    t->start = v->start;
    t->end = v->end;
    t->prot = v->prot;
    t->flags = v->flags;
}

/* pg was checked (length, alignment) by s_chk. PAGES, or GUARD (guard). */
static void s_fill_pages(const ssi_image_pages_t *pg, int guard)
{
    int i = 0;
    /* Only into memory the image itself declared. */
    while (i < s_nvmas && (pg->addr < s_vmas[i].start || pg->addr + pg->len > s_vmas[i].end))
        i++;
    if (i == s_nvmas)
        s_die(guard ? "GUARD outside any VMA" : "PAGES outside any VMA", 0, 0);
    if (guard && s_mode != S_CHECK)
        ssi_restore_guard(pg);
    if (guard)
        return;
    if ((s_vmas[i].flags & SSI_IMAGE_VMA_SHARED) && (s_vmas[i].flags & SSI_IMAGE_VMA_FILE))
        s_die("PAGES for a shared file mapping", 0, 0);
    if (s_mode == S_CHECK) {
        s_skip_data(pg->len);
        s_page_bytes += pg->len;
        return;
    }
    /* Fault the range in with one call (MADV_POPULATE_WRITE, 23) instead of
     * one page fault per 4 KiB inside read(), under the pipe's lock. */
    ssi_sys3(SYS_madvise, (long)pg->addr, (long)pg->len, 23);
    s_read_exact((void *)pg->addr, pg->len, 0);
    ssi_image_check_data(&s_chk, pg->len);
    s_page_bytes += pg->len;
}

/* Reads every record up to END, mapping and filling memory as it goes.
 * s_chk has checked each record's size, data and fields before it is used
 * and, at END, every count (one THREAD, one PROC, the header's VMAs). */
static void s_read_records(void)
{
    for (;;) {
        ssi_image_rec_t r;
        s_read_exact(&r, sizeof(r), 0);
        if (ssi_image_check_rec(&s_chk, &r) < 0)
            s_die(s_chk.why, 0, 0);
        s_read_exact(s_rec_buf, r.size, 0);
        if (ssi_image_check_body(&s_chk, s_rec_buf) < 0)
            s_die(s_chk.why, 0, 0);
        switch (r.type) {
        case SSI_IMAGE_REC_THREAD:
            if (s_nthreads >= S_MAX_THREADS)
                s_die("too many threads in the image", 0, 0);
            memcpy(&s_threads[s_nthreads++], s_rec_buf, sizeof(s_threads[0]));
            s_skip(r.data_len, 0); /* XSAVE copy: the frame on the stack is used */
            break;
        case SSI_IMAGE_REC_PROC: memcpy(&s_proc, s_rec_buf, sizeof(s_proc)); break;
        case SSI_IMAGE_REC_CREDS:
            memcpy(&s_creds, s_rec_buf, sizeof(s_creds));
            s_have_creds = 1;
            break;
        case SSI_IMAGE_REC_CAPS:
            memcpy(&s_caps, s_rec_buf, sizeof(s_caps));
            s_have_caps = 1;
            break;
        case SSI_IMAGE_REC_SIG:
            if (s_nsigs >= S_MAX_SIGS)
                s_die("too many pending signals in the image", 0, 0);
            memcpy(&s_sigs[s_nsigs++], s_rec_buf, sizeof(ssi_image_sig_t));
            break;
        case SSI_IMAGE_REC_VMA:
            ((ssi_image_vma_t *)s_rec_buf)->path[SSI_IMAGE_PATH_MAX - 1] = 0;
            s_map_vma((const ssi_image_vma_t *)s_rec_buf);
            break;
        case SSI_IMAGE_REC_PAGES: s_fill_pages((const ssi_image_pages_t *)s_rec_buf, 0); break;
        case SSI_IMAGE_REC_GUARD: s_fill_pages((const ssi_image_pages_t *)s_rec_buf, 1); break;
        case SSI_IMAGE_REC_END: return;
        case SSI_IMAGE_REC_FD: s_fd_record((const ssi_image_fd_t *)s_rec_buf); break;
        default: /* record types this build skips */ s_skip(r.data_len, 0); break;
        }
    }
}

/* ---- kernel state --------------------------------------------------------- */

static void s_restore_mm(void)
{
    struct prctl_mm_map m;
    long exe, r;
    memset(&m, 0, sizeof(m));
    m.start_code = s_proc.start_code;
    m.end_code = s_proc.end_code;
    m.start_data = s_proc.start_data;
    m.end_data = s_proc.end_data;
    m.start_brk = s_proc.start_brk;
    m.brk = s_proc.brk;
    m.start_stack = s_proc.start_stack;
    m.arg_start = s_proc.arg_start;
    m.arg_end = s_proc.arg_end;
    m.env_start = s_proc.env_start;
    m.env_end = s_proc.env_end;
    m.auxv = (__u64 *)s_proc.auxv;
    m.auxv_size = s_proc.auxv_size;
    exe = s_open(s_sandbox ? ssi_restore_sandbox_file(s_proc.exe, 0) : s_proc.exe, O_RDONLY);
    if (exe < 0)
        s_die("cannot open the executable", s_proc.exe, exe);
    m.exe_fd = (uint32_t)exe;
    r = ssi_sys5(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)&m, sizeof(m), 0);
    if (r == -EPERM && s_mode == S_IN_PLACE) {
        /* Replacing /proc/self/exe needs CAP_CHECKPOINT_RESTORE, which a
         * process of an ordinary user does not have: it then names
         * ssi-restore; everything else is restored. */
        m.exe_fd = (uint32_t)-1;
        r = ssi_sys5(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)&m, sizeof(m), 0);
    }
    ssi_sys1(SYS_close, exe);
    if (r < 0)
        s_die("prctl(PR_SET_MM_MAP) failed", 0, r);
}

static void s_restore_process_state(void)
{
    long r;
    int i;
    for (i = 0; i < s_nvmas; i++) {
        s_vma_t *v = &s_vmas[i];
        int shared_file = (v->flags & SSI_IMAGE_VMA_FILE) && (v->flags & SSI_IMAGE_VMA_SHARED);
        if (shared_file)
            continue;
        r = ssi_sys3(SYS_mprotect, (long)v->start, (long)(v->end - v->start), (long)v->prot);
        if (r < 0)
            s_die("mprotect failed", 0, r);
    }
    s_restore_mm();
    if (s_sandbox) /* every file it needs is open or mapped by now */
        ssi_restore_sandbox_enter();
    /* In place, the cwd is the deputy's, kept by the exec: an away body's
     * chdir calls ran there (vfs-proxy), and its own kernel cwd, which the
     * image recorded, meant nothing. A restart's is the image's (a body's
     * checkpoint records home's, ssi_ckpt_away). */
    if (s_mode != S_IN_PLACE || s_restart) {
        r = ssi_sys1(SYS_chdir, (long)s_proc.cwd);
        if (r < 0 && s_home_cwd)
            r = ssi_sys1(SYS_chdir, (long)"/"); /* relative paths resolve at home anyway */
        if (r < 0 && !s_proc.cwd[0])
            s_die("the process's cwd had been deleted at the freeze", 0, 0);
        if (r < 0)
            s_die("cannot chdir to", s_proc.cwd, r);
    }
    ssi_sys1(SYS_umask, s_proc.umask);
    if (s_proc.personality != 0xffffffffU)
        ssi_sys1(SYS_personality, s_proc.personality);
    for (i = 1; i <= SSI_IMAGE_NSIG; i++) {
        if (i == SIGKILL || i == SIGSTOP)
            continue;
        r = ssi_sys4(SYS_rt_sigaction, i, (long)&s_proc.sigaction[i - 1], 0, 8);
        if (r < 0)
            s_die("rt_sigaction failed", 0, r);
    }
    for (i = 0; i < 3; i++) {
        struct itimerval it;
        it.it_interval.tv_sec = (long)s_proc.itimer[i].interval_sec;
        it.it_interval.tv_usec = (long)s_proc.itimer[i].interval_usec;
        it.it_value.tv_sec = (long)s_proc.itimer[i].value_sec;
        it.it_value.tv_usec = (long)s_proc.itimer[i].value_usec;
        /* A periodic timer that expired while the process was frozen reads
         * 0 left (the kernel re-arms it when its signal is dequeued, and the
         * signal waited, blocked): setitimer(0) would disarm it for good. */
        if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0 &&
            (it.it_interval.tv_sec != 0 || it.it_interval.tv_usec != 0))
            it.it_value.tv_usec = 1;
        r = ssi_sys3(SYS_setitimer, i, (long)&it, 0);
        if (r < 0)
            s_die("setitimer failed", 0, r);
    }
    /* Last: a lowered RLIMIT_NOFILE/AS must not stop the steps above. */
    for (i = 0; i < SSI_IMAGE_NRLIMIT; i++) {
        r = ssi_sys4(SYS_prlimit64, 0, i, (long)s_proc.rlimit[i], 0);
        if (r < 0)
            s_die("prlimit failed", 0, r);
    }
}

/* Last of all, in every thread (credentials and capabilities are per
 * thread in the kernel): restore/ssi_restore_creds.c. */
static void s_restore_creds(void)
{
    if (s_have_creds)
        ssi_restore_creds(&s_creds, s_have_caps ? &s_caps : NULL);
}

/* The kernel state of one thread that memory does not bring back; main:
 * the thread group's leader (tid = pid), which also re-queues the
 * process-directed signals. */
static void s_restore_thread_state(const ssi_image_thread_t *t, int main)
{
    long pid = ssi_sys0(SYS_getpid), tid = ssi_sys0(SYS_gettid);
    int i;
    if (tid != t->tid)
        s_die("tid differs from the image's", 0, 0);
    ssi_restore_thr_kstate(t);
    /* All signals are blocked here; they stay pending until the handler's
     * rt_sigreturn restores the interrupted code's mask. */
    for (i = 0; i < s_nsigs; i++) {
        if (s_sigs[i].shared ? main : s_sigs[i].tid == tid)
            ssi_sys_requeue(pid, tid, s_sigs[i].shared, s_sigs[i].signo, s_sigs[i].info);
    }
}

/* Loads the freeze handler's callee-saved registers and stack pointer and
 * "returns" 1 from ssi_freeze_jmp_save() in the restored code. */
__attribute__((noreturn)) static void s_jump(const uint64_t *j, long back)
{
    /* j is pinned to rdi: rax is overwritten before the final jump. */
    __asm__ volatile("mov 0(%%rdi), %%rbx\n"
                     "mov 8(%%rdi), %%rbp\n"
                     "mov 16(%%rdi), %%r12\n"
                     "mov 24(%%rdi), %%r13\n"
                     "mov 32(%%rdi), %%r14\n"
                     "mov 40(%%rdi), %%r15\n"
                     "mov 48(%%rdi), %%rsp\n"
                     "mov %%esi, %%eax\n"
                     "jmp *56(%%rdi)\n"
                     :
                     : "D"(j), "S"(back)
                     : "memory");
    __builtin_unreachable();
}

/* ---- the new task, running in the hole ----------------------------------- */

/* The body's descriptors came inheritable through our exec: close-on-exec
 * again where the image says so. */
static void s_cloexec_fds(void)
{
    int j;
    for (j = 0; j < s_nfds; j++)
        if (s_fds[j].fd_flags & FD_CLOEXEC)
            ssi_sys3(SYS_fcntl, s_fds[j].fd, F_SETFD, FD_CLOEXEC);
}

/* --in-place: makes this process's descriptors what the image recorded.
 * The deputy cleared FD_CLOEXEC on the program's descriptors (so that they
 * survived the exec) and closed its own. */
static void s_inplace_fds(void)
{
    static char buf[8192];
    static int open_fds[S_MAX_FDS];
    int i, j;
    long nopen = ssi_sys_list_fds(open_fds, S_MAX_FDS, buf, sizeof(buf));
    if (nopen < 0)
        s_die("cannot list descriptors", 0, nopen);
    if (nopen > S_MAX_FDS)
        s_die("too many open descriptors", 0, 0);
    for (i = 0; i < nopen; i++) {
        int fd = open_fds[i], keep = fd == s_img_fd;
        for (j = 0; j < s_nfds && !keep; j++)
            keep = s_fds[j].fd == fd;
        if (!keep)
            ssi_sys1(SYS_close, fd);
    }
    for (j = 0; j < s_nfds; j++) {
        s_fd_t *f = &s_fds[j];
        struct stat st;
        long fl;
        int dev = f->kind == SSI_IMAGE_FD_CHR ? s_local_dev(f->rdev) : 0;
        /* Only where nothing is open: the body's forwarded files were
         * /dev/null placeholders there, standing for the very files the
         * deputy holds at these numbers (vfs-proxy). */
        if (dev && ssi_sys2(SYS_fstat, f->fd, (long)&st) == -EBADF) {
            /* Opened where the body ran: a device of the same kind here. */
            const char *path = dev == 3   ? "/dev/null"
                               : dev == 5 ? "/dev/zero"
                               : dev == 8 ? "/dev/random"
                                          : "/dev/urandom";
            long fd = s_open(path, (int)(f->fl_flags & (O_ACCMODE | O_NONBLOCK | O_APPEND)));
            if (fd < 0)
                s_die("cannot open", path, fd);
            if (fd != f->fd) {
                ssi_sys3(SYS_dup3, fd, f->fd, O_CLOEXEC);
                ssi_sys1(SYS_close, fd);
            }
        }
        ssi_sys3(SYS_fcntl, f->fd, F_SETFD, f->fd_flags & FD_CLOEXEC);
        fl = ssi_sys2(SYS_fcntl, f->fd, F_GETFL);
        if (fl >= 0 && (fl & O_NONBLOCK) != (f->fl_flags & O_NONBLOCK))
            ssi_sys3(SYS_fcntl, f->fd, F_SETFL, (fl & ~O_NONBLOCK) | (f->fl_flags & O_NONBLOCK));
    }
}

static void s_unmap_all_but_chunk(void)
{
    uint64_t s, e;
    const char *name;
    char *p;
    if (s_read_maps() < 0)
        s_die("cannot read /proc/self/maps", 0, 0);
    for (p = s_maps; (p = s_next_map(p, &s, &e, &name));) {
        if (s >= s_chunk && e <= s_chunk + S_CHUNK)
            continue;
        if (ssi_sys_streq(name, "[vsyscall]"))
            continue;
        ssi_sys2(SYS_munmap, (long)s, (long)(e - s));
    }
}

static void s_map_vdso(void)
{
    uint64_t s, e, vdso = 0;
    const char *name;
    char *p;
    long r = ssi_sys2(SYS_arch_prctl, ARCH_MAP_VDSO_64, (long)s_hdr.vdso_block_start);
    if (r < 0)
        s_die("arch_prctl(ARCH_MAP_VDSO_64) failed", 0, r);
    if (s_read_maps() < 0)
        s_die("cannot read /proc/self/maps", 0, 0);
    for (p = s_maps; (p = s_next_map(p, &s, &e, &name));)
        if (ssi_sys_streq(name, "[vdso]"))
            vdso = s;
    if (vdso != s_hdr.vdso_start)
        s_die("the kernel put the vDSO elsewhere", 0, 0);
}

/* ---- the other threads ---------------------------------------------------- */

/* A thread made again: its own state and credentials (both are per
 * thread in the kernel), then it waits for the others and jumps. */
__attribute__((noreturn, used)) static void s_thread_main(void *arg)
{
    const ssi_image_thread_t *t = arg;
    s_restore_thread_state(t, 0);
    s_restore_creds();
    __atomic_add_fetch(&s_ready, 1, __ATOMIC_ACQ_REL);
    ssi_restore_thr_wake(&s_ready);
    while (!__atomic_load_n(&s_go, __ATOMIC_ACQUIRE))
        ssi_restore_thr_wait(&s_go, 0);
    ssi_sys2(SYS_arch_prctl, ARCH_SET_FS, (long)t->fs_base);
    if (t->gs_base)
        ssi_sys2(SYS_arch_prctl, ARCH_SET_GS, (long)t->gs_base);
    s_jump(t->resume, s_mode != S_IN_PLACE ? (s_agent ? 4 : 1) : s_restart ? 3 : 2);
}

/* The main thread's record (tid = pid), once the threads are fit to be made here. */
static const ssi_image_thread_t *s_main_thread(void)
{
    const char *why =
        ssi_restore_thr_check(s_threads, s_nthreads, (int)s_hdr.nthreads, s_hdr.pid, s_mode != 0);
    if (why)
        s_die(why, 0, 0);
    return ssi_restore_thr_main(s_threads, s_nthreads, s_hdr.pid);
}

/* Every thread but the main one, each with its tid (clone3 set_tid), on
 * a small stack below the main one in the chunk; returns once all have
 * set their state. They jump when s_go is set. */
static void s_make_threads(const ssi_image_thread_t *main_t)
{
    uint64_t top = s_chunk + S_CHUNK - (1UL << 20);
    uint64_t lo = (uint64_t)__ehdr_start & ~(S_PAGE - 1);
    uint64_t hi = ((uint64_t)_end + S_PAGE - 1) & ~(S_PAGE - 1);
    int i, made = 0, r;
    if (hi - lo + (1UL << 20) + (uint64_t)s_nthreads * S_THREAD_STACK > S_CHUNK)
        s_die("too many threads for the restorer's chunk", 0, 0);
    for (i = 0; i < s_nthreads; i++) {
        long rc;
        if (&s_threads[i] == main_t)
            continue;
        rc = ssi_restore_thr_clone(top - (uint64_t)(made + 1) * S_THREAD_STACK, S_THREAD_STACK,
                                   s_threads[i].tid, s_thread_main, &s_threads[i]);
        if (rc < 0)
            s_die(rc == -EEXIST ? "a thread's tid is already taken in this namespace"
                                : "clone3(set_tid) failed for a thread",
                  0, rc);
        made++;
    }
    while ((r = __atomic_load_n(&s_ready, __ATOMIC_ACQUIRE)) < made)
        ssi_restore_thr_wait(&s_ready, r);
}

__attribute__((noreturn, used)) static void s_stage2(void)
{
    const ssi_image_thread_t *main_t;
    s_log("running in the restore hole", 0);
    s_unmap_all_but_chunk();
    s_map_vdso();
    if (s_sandbox) /* nothing reads /proc until enter */
        ssi_restore_sandbox_begin();
    s_read_records();
    s_log("memory restored", 0);
    s_restore_process_state();
    main_t = s_main_thread();
    s_restore_thread_state(main_t, 1);
    if (s_mode == S_IN_PLACE)
        s_inplace_fds();
    else
        s_cloexec_fds();
    /* Before our credentials drop: set_tid needs the agent's root. */
    s_make_threads(main_t);
    s_restore_creds();
    ssi_sys1(SYS_close, s_img_fd);
    /* From here on nothing can fail: tell the launching half. */
    s_puts(s_status_fd, "O");
    ssi_sys1(SYS_close, s_status_fd);
    if (s_err_fd != 2)
        ssi_sys1(SYS_close, s_err_fd);
    __atomic_store_n(&s_go, 1, __ATOMIC_RELEASE);
    ssi_restore_thr_wake(&s_go);
    ssi_sys2(SYS_arch_prctl, ARCH_SET_FS, (long)main_t->fs_base);
    if (main_t->gs_base)
        ssi_sys2(SYS_arch_prctl, ARCH_SET_GS, (long)main_t->gs_base);
    s_jump(main_t->resume, s_mode != S_IN_PLACE ? (s_agent ? 4 : 1) : s_restart ? 3 : 2);
}

/* Copies this program into a free chunk of the hole and continues there. */
__attribute__((noreturn)) static void s_child(void)
{
    uint64_t lo = (uint64_t)__ehdr_start & ~(S_PAGE - 1);
    uint64_t hi = ((uint64_t)_end + S_PAGE - 1) & ~(S_PAGE - 1);
    uint64_t off, s, e, delta, stack;
    const char *name;
    char *p;
    sigset_t all;

    memset(&all, 0xff, sizeof(all));
    ssi_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8);
    ssi_sys1(SYS_close, s_status_rd); /* the body must not inherit it */
    if (hi - lo + (1UL << 20) > S_CHUNK)
        s_die("restorer too large for its chunk", 0, 0);
    /* This program's own stack or vDSO may sit in the hole (ASLR): use
     * the first chunk that is free. */
    s_chunk = 0;
    for (off = 0; off + S_CHUNK <= s_hdr.hole_len; off += S_CHUNK) {
        long r = ssi_sys6(SYS_mmap, (long)(s_hdr.hole_start + off), S_CHUNK,
                          PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (!SSI_SYS_ERR(r) && (uint64_t)r == s_hdr.hole_start + off) {
            s_chunk = (uint64_t)r;
            break;
        }
        if (!SSI_SYS_ERR(r))
            ssi_sys2(SYS_munmap, r, S_CHUNK);
    }
    if (!s_chunk)
        s_die("no free chunk in the restore hole", 0, 0);
    /* Store s_chunk before copying so that the copy knows it. */
    if (s_read_maps() < 0)
        s_die("cannot read /proc/self/maps", 0, 0);
    for (p = s_maps; (p = s_next_map(p, &s, &e, &name));)
        if (s >= lo && e <= hi)
            memcpy((void *)(s_chunk + (s - lo)), (const void *)s, e - s);
    delta = s_chunk - lo;
    stack = (s_chunk + S_CHUNK - 256) & ~15UL;
    __asm__ volatile("mov %0, %%rsp\n"
                     "call *%1\n"
                     "ud2\n"
                     :
                     : "r"(stack), "r"((uint64_t)s_stage2 + delta)
                     : "memory");
    __builtin_unreachable();
}

/* ---- the launching half -------------------------------------------------- */

static int s_wait_status(long pid)
{
    int st = 0;
    long r;
    for (;;) {
        r = ssi_sys4(SYS_wait4, -1, (long)&st, 0, 0);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == pid)
            return st;
    }
}

static int s_exit_code(int st)
{
    return (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f);
}

static int s_restore(void)
{
    struct clone_args ca;
    int fds[2];
    long pid, r, n = 0;
    char msg[512];
    int init = ssi_sys0(SYS_getpid) == 1;

    s_read_exact(&s_hdr, sizeof(s_hdr), 0);
    s_check_header();
    if (ssi_sys2(SYS_pipe2, (long)fds, O_CLOEXEC) < 0)
        s_die("pipe2 failed", 0, 0);
    s_status_fd = ssi_sys3(SYS_fcntl, fds[1], F_DUPFD_CLOEXEC, S_HIGH_FD + 1);
    ssi_sys1(SYS_close, fds[1]);
    s_status_rd = fds[0];

    memset(&ca, 0, sizeof(ca));
    /* As pid 1 the body is our child and we reap; otherwise it becomes a
     * child of our parent, which must be the namespace's reaper. */
    ca.flags = init ? 0 : CLONE_PARENT;
    ca.exit_signal = init ? SIGCHLD : 0;
    ca.set_tid = (uint64_t)&s_hdr.pid;
    ca.set_tid_size = 1;
    pid = ssi_sys2(SYS_clone3, (long)&ca, sizeof(ca));
    if (pid == 0)
        s_child();
    ssi_sys1(SYS_close, s_status_fd);
    s_status_fd = -1;
    ssi_sys1(SYS_close, s_img_fd);
    if (pid < 0) {
        ssi_sys1(SYS_close, fds[0]);
        s_die(pid == -EEXIST ? "pid already taken in this namespace:"
                             : "clone3(set_tid) failed for pid",
              0, pid);
    }
    while (n < (long)sizeof(msg) - 1) {
        r = ssi_sys3(SYS_read, fds[0], (long)(msg + n), (long)(sizeof(msg) - 1 - n));
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        n += r;
    }
    msg[n] = 0;
    ssi_sys1(SYS_close, fds[0]);
    if (n == 0 || msg[0] != 'O') {
        s_puts(s_err_fd, "ssi-restore: restore failed: ");
        s_puts(s_err_fd, n > 1 ? msg + 1 : "the new task died before resuming\n");
        if (init)
            s_wait_status(pid);
        return 1;
    }
    s_log("body resumed", 0);
    if (!init)
        return 0;
    return s_exit_code(s_wait_status(pid));
}

/* --in-place: this process becomes the image (same pid: the deputy's). */
static int s_restore_in_place(void)
{
    s_read_exact(&s_hdr, sizeof(s_hdr), 0);
    s_check_header();
    if (s_hdr.pid != ssi_sys0(SYS_getpid))
        s_die("--in-place: the image is of another process", 0, 0);
    s_child();
}

/* --check: everything an in-place restore would refuse, from a child of
 * the deputy that inherited its descriptors. Prints "O" on the status fd
 * when all is well. */
static int s_check(void)
{
    s_read_exact(&s_hdr, sizeof(s_hdr), 0);
    s_check_header();
    if (s_hdr.pid != ssi_sys0(SYS_getppid))
        s_die("the image is not of the process that asks (its pid differs)", 0, 0);
    s_read_records();
    s_main_thread();
    {
        long fd = s_open(s_proc.exe, O_RDONLY);
        if (fd < 0)
            s_die("cannot open the executable", s_proc.exe, fd);
        ssi_sys1(SYS_close, fd);
    }
    s_puts(s_status_fd >= 0 ? s_status_fd : 1, "O");
    return 0;
}

/* ---- --info -------------------------------------------------------------- */

/* One "NAME VALUE" line of --info, VALUE in hex if hex. */
static void s_info_line(const char *name, uint64_t v, int hex)
{
    s_puts(1, name);
    (hex ? s_putx : s_putu)(1, v);
    s_puts(1, "\n");
}

static int s_info(void)
{
    ssi_image_rec_t r;
    s_read_exact(&s_hdr, sizeof(s_hdr), "header");
    if (s_hdr.magic != SSI_IMAGE_MAGIC)
        s_die("not an ssi image", 0, 0);
    s_info_line("version ", s_hdr.version, 0);
    s_info_line("pid ", (uint64_t)s_hdr.pid, 0);
    s_info_line("threads ", s_hdr.nthreads, 0);
    s_info_line("vmas ", s_hdr.nvmas, 0);
    s_info_line("fds ", s_hdr.nfds, 0);
    s_info_line("hole ", s_hdr.hole_start, 1);
    s_info_line("vdso ", s_hdr.vdso_start, 1);
    s_info_line("xcr0 ", s_hdr.cpu.xcr0, 1);
    for (;;) {
        s_read_exact(&r, sizeof(r), "record header");
        if (r.size > S_REC_BUF)
            s_die("record too large", 0, 0);
        s_read_exact(s_rec_buf, r.size, "record");
        if (r.type == SSI_IMAGE_REC_VMA) {
            const ssi_image_vma_t *v = (const void *)s_rec_buf;
            s_puts(1, "vma ");
            s_putx(1, v->start);
            s_puts(1, " ");
            s_putx(1, v->end);
            s_puts(1, " prot ");
            s_putu(1, v->prot);
            s_puts(1, " flags ");
            s_putx(1, v->flags);
            s_puts(1, " ");
            s_puts(1, v->path);
            s_puts(1, "\n");
        } else if (r.type == SSI_IMAGE_REC_FD) {
            const ssi_image_fd_t *f = (const void *)s_rec_buf;
            s_puts(1, "fd ");
            s_putu(1, (uint64_t)f->fd);
            s_puts(1, " kind ");
            s_putu(1, f->kind);
            s_puts(1, " pos ");
            s_putu(1, f->pos);
            s_puts(1, " ");
            s_puts(1, f->path);
            s_puts(1, "\n");
        } else if (r.type == SSI_IMAGE_REC_SIG) {
            s_info_line("sig ", (uint64_t)((const ssi_image_sig_t *)s_rec_buf)->signo, 0);
        } else if (r.type == SSI_IMAGE_REC_PAGES) {
            s_page_bytes += r.data_len;
        } else if (r.type == SSI_IMAGE_REC_END) {
            s_info_line("page_bytes ", s_page_bytes, 0);
            s_puts(1, "end ok\n");
            return 0;
        }
        s_skip(r.data_len, "record data");
    }
}

/* ---- entry ---------------------------------------------------------------- */

#ifndef SSI_VERSION
#define SSI_VERSION "unknown"
#endif

static void s_usage(void)
{
    s_puts(2, "usage: ssi-restore [-v] [--home-cwd] [--agent] [--sandbox] [--err-fd N]\n"
              "                   [--fd N | IMAGE]\n"
              "       ssi-restore --info IMAGE\n"
              "       ssi-restore --in-place --fd N\n"
              "       ssi-restore --check [--status-fd S] --fd N\n");
    ssi_sys1(SYS_exit_group, 2);
}

__attribute__((used)) static int s_main(uint64_t *sp)
{
    int argc = (int)sp[0], i, info = 0;
    char **argv = (char **)(sp + 1);
    const char *path = 0, *e;
    long fd = -1;

    /* --help and --version: what ssi_helper.h prints for the other
     * helpers (no stdio here). */
    if (argc == 2 && (ssi_sys_streq(argv[1], "--version") || ssi_sys_streq(argv[1], "-V"))) {
        s_puts(1, "ssi-restore (ssi) " SSI_VERSION "\n");
        return 0;
    }
    if (argc == 2 && (ssi_sys_streq(argv[1], "--help") || ssi_sys_streq(argv[1], "-h"))) {
        s_puts(1, "ssi-restore: rebuilds a frozen process from its image; an internal helper of "
                  "ssi that ssid starts, not run by users (see ssi-helpers(8)).\n");
        return 0;
    }
    for (i = 1; i < argc; i++) {
        if (ssi_sys_streq(argv[i], "-v"))
            s_verbose = 1;
        else if (ssi_sys_streq(argv[i], "--info"))
            info = 1;
        else if (ssi_sys_streq(argv[i], "--home-cwd"))
            s_home_cwd = 1;
        else if (ssi_sys_streq(argv[i], "--sandbox"))
            s_sandbox = 1;
        else if (ssi_sys_streq(argv[i], "--fd") && i + 1 < argc)
            fd = (long)ssi_sys_dec(argv[++i], &e);
        else if (ssi_sys_streq(argv[i], "--err-fd") && i + 1 < argc) {
            /* Out of the body's fd numbers, closed before the jump. */
            long e2 = (long)ssi_sys_dec(argv[++i], &e);
            long moved = ssi_sys3(SYS_fcntl, e2, F_DUPFD_CLOEXEC, S_HIGH_FD + 8);
            if (moved >= 0) {
                ssi_sys1(SYS_close, e2);
                s_err_fd = moved;
            }
        } else if (ssi_sys_streq(argv[i], "--status-fd") && i + 1 < argc)
            s_status_fd = (long)ssi_sys_dec(argv[++i], &e);
        else if (ssi_sys_streq(argv[i], "--in-place"))
            s_mode = S_IN_PLACE;
        else if (ssi_sys_streq(argv[i], "--restart"))
            s_restart = 1;
        else if (ssi_sys_streq(argv[i], "--agent"))
            s_agent = 1;
        else if (ssi_sys_streq(argv[i], "--check"))
            s_mode = S_CHECK;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            s_usage();
    }
    if ((fd < 0) == !path)
        s_usage();
    if (path) {
        fd = s_open(path, O_RDONLY);
        if (fd < 0)
            s_die("cannot open", path, fd);
    }
    /* Keep the image stream out of the fd numbers the body inherits. */
    s_img_fd = ssi_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, S_HIGH_FD);
    if (s_img_fd < 0)
        s_die("cannot move the image fd", 0, s_img_fd);
    ssi_sys1(SYS_close, fd);
    if (s_mode && (info || path))
        s_usage();
    if (s_mode != S_CHECK)
        s_status_fd = -1;
    ssi_image_check_init(&s_chk);
    return info                   ? s_info()
           : s_mode == S_CHECK    ? s_check()
           : s_mode == S_IN_PLACE ? s_restore_in_place()
                                  : s_restore();
}

__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "  xor %ebp, %ebp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call s_main\n"
        "  mov %eax, %edi\n"
        "  mov $231, %eax\n" /* exit_group */
        "  syscall\n"
        "  hlt\n");
