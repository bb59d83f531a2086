/*
 * ssi_signal.c - raw rt_sigaction with our own restorer (see ssi_signal.h).
 * Part of libssi.so, used on both sides; raw system calls only.
 */
#include "ssi_signal.h"

#include "ssi_image.h"
#include "ssi_sys.h"

#define S_SA_RESTORER 0x04000000

__asm__(".text\n"
        ".globl ssi_signal_restorer\n"
        ".hidden ssi_signal_restorer\n"
        ".type ssi_signal_restorer,@function\n"
        "ssi_signal_restorer:\n"
        "  mov $15, %eax\n" /* rt_sigreturn */
        "  syscall\n"
        "  hlt\n"
        ".size ssi_signal_restorer, .-ssi_signal_restorer\n");

long ssi_signal_action(int sig, void (*handler)(void), unsigned long flags, uint64_t mask,
                       void *old)
{
    ssi_image_sigaction_t sa = {.handler = (uint64_t)handler,
                                .flags = flags | S_SA_RESTORER,
                                .restorer = (uint64_t)ssi_signal_restorer,
                                .mask = mask};
    return ssi_sys4(SYS_rt_sigaction, sig, (long)&sa, (long)old, 8);
}
