/*
 * ssi_restore_thr.c - the restorer's thread mechanics (see
 * ssi_restore_thr.h). Part of ssi-restore: raw system calls, no libc,
 * position-independent code without relocations.
 */
#include "ssi_restore_thr.h"

#include "ssi_sys.h"

#include <linux/futex.h>
#include <linux/prctl.h>
#include <linux/sched.h>
#include <signal.h>

/* The child runs fn(arg) on the stack clone_args gives it and never
 * returns: no C frame can survive a change of stack, so this is asm. */
long s_clone3(struct clone_args *ca, long size, void (*fn)(void *), void *arg)
    __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".hidden s_clone3\n"
        ".type s_clone3,@function\n"
        "s_clone3:\n"
        "  push %r12\n"
        "  push %r13\n"
        "  mov %rdx, %r12\n"
        "  mov %rcx, %r13\n"
        "  mov $435, %eax\n"
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jnz 1f\n"
        "  mov %r13, %rdi\n"
        "  call *%r12\n"
        "  ud2\n"
        "1:\n"
        "  pop %r13\n"
        "  pop %r12\n"
        "  ret\n"
        ".size s_clone3, .-s_clone3\n");

long ssi_restore_thr_clone(uint64_t stack, uint64_t size, int32_t tid, void (*fn)(void *),
                           void *arg)
{
    struct clone_args ca;
    ssi_sys_memzero(&ca, sizeof(ca));
    ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    ca.stack = stack;
    ca.stack_size = size;
    ca.set_tid = (uint64_t)&tid;
    ca.set_tid_size = 1;
    return s_clone3(&ca, sizeof(ca), fn, arg);
}

void ssi_restore_thr_kstate(const ssi_image_thread_t *t)
{
    stack_t ss;
    if (!(t->ss_flags & SS_DISABLE)) {
        ss.ss_sp = (void *)t->ss_sp;
        ss.ss_size = t->ss_size;
        ss.ss_flags = t->ss_flags & (1 << 31) /* SS_AUTODISARM */;
        ssi_sys2(SYS_sigaltstack, (long)&ss, 0);
    }
    if (t->robust_list)
        ssi_sys2(SYS_set_robust_list, (long)t->robust_list, (long)t->robust_len);
    ssi_sys1(SYS_set_tid_address, (long)t->clear_child_tid);
    ssi_sys2(SYS_prctl, PR_SET_NAME, (long)t->name);
}

void ssi_restore_thr_wake(int *w)
{
    ssi_sys6(SYS_futex, (long)w, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0, 0, 0);
}

void ssi_restore_thr_wait(int *w, int val)
{
    ssi_sys6(SYS_futex, (long)w, FUTEX_WAIT_PRIVATE, val, 0, 0, 0);
}

const char *ssi_restore_thr_check(const ssi_image_thread_t *t, int n, int nthreads, int32_t pid,
                                  int home)
{
    int i;
    if (n != nthreads)
        return "the image has fewer thread records than its header says";
    if (!ssi_restore_thr_main(t, n, pid))
        return "the image has no thread whose tid is the pid";
    if (!home || n < 2)
        return 0;
    if (ssi_sys0(SYS_geteuid) != 0)
        return "its threads cannot be made again with their tids here (set_tid needs root)";
    /* Not this very program (the check runs in a child of the deputy, gone before the restore):
     * a tid made away may have the number it got at home. */
    for (i = 0; i < n; i++)
        if (t[i].tid != pid && t[i].tid != ssi_sys0(SYS_getpid) &&
            ssi_sys2(SYS_kill, t[i].tid, 0) != -ESRCH)
            return "the tid of one of its threads is taken by another task at home";
    return 0;
}

const ssi_image_thread_t *ssi_restore_thr_main(const ssi_image_thread_t *t, int n, int32_t pid)
{
    int i;
    for (i = 0; i < n; i++)
        if (t[i].tid == pid)
            return &t[i];
    return 0;
}
