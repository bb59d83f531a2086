/*
 * ssi_cpu.h - CPU and XSAVE facts recorded in an image and checked on
 * the destination, so that an image from a CPU with features the
 * destination lacks is refused cleanly instead of dying with SIGILL or a
 * failed rt_sigreturn. Header-only and libc-free (shim and restorer).
 */
#ifndef SSI_CPU_H
#define SSI_CPU_H

#include "ssi_image.h"

static inline void ssi_cpu_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

/* Fills *c for the CPU we run on. */
static inline void ssi_cpu_probe(ssi_image_cpu_t *c)
{
    uint32_t r[4], max, i;
    unsigned char *p = (unsigned char *)c;
    for (i = 0; i < sizeof(*c); i++)
        p[i] = 0;
    ssi_cpu_cpuid(0, 0, r);
    max = r[0];
    for (i = 0; i < 4; i++) {
        c->vendor[i] = (char)(r[1] >> (8 * i));
        c->vendor[4 + i] = (char)(r[3] >> (8 * i));
        c->vendor[8 + i] = (char)(r[2] >> (8 * i));
    }
    ssi_cpu_cpuid(1, 0, r);
    /* Bit 27 (OSXSAVE) reflects CR4 and bits 24-31 of EBX hold the APIC
     * id; only ECX/EDX feature bits are recorded. OSXSAVE is stable. */
    c->cpuid1_ecx = r[2];
    c->cpuid1_edx = r[3];
    if (max >= 7) {
        ssi_cpu_cpuid(7, 0, r);
        c->cpuid7_ebx = r[1];
        c->cpuid7_ecx = r[2];
        c->cpuid7_edx = r[3];
    }
    if ((c->cpuid1_ecx & (1u << 27)) && max >= 0xd) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        c->xcr0 = ((uint64_t)hi << 32) | lo;
        ssi_cpu_cpuid(0xd, 0, r);
        c->xsave_size = r[1];
        for (i = 2; i < 32; i++) {
            if (!(c->xcr0 & (1ULL << i)))
                continue;
            ssi_cpu_cpuid(0xd, i, r);
            c->xstate_len[i] = r[0];
            c->xstate_off[i] = r[1];
        }
    }
}

/* 0 if code and register state saved on `src` can run on `dst`;
 * otherwise a short static reason. Rules: same vendor (ifunc choices and
 * errata differ), every CPUID feature bit of the source present on the
 * destination, XCR0 a superset with the same offsets and sizes for every
 * source XSAVE component (the signal frame is in standard format). */
static inline const char *ssi_cpu_incompatible(const ssi_image_cpu_t *src,
                                               const ssi_image_cpu_t *dst)
{
    /* Bits that vary between identical CPUs or with OS state and do not
     * affect what user code may execute: CPUID.1:ECX bit 27 (OSXSAVE)
     * follows XCR0, which is compared below; HYPERVISOR (bit 31). */
    const uint32_t ecx1_ignore = (1u << 27) | (1u << 31);
    int i;
    for (i = 0; i < 12; i++)
        if (src->vendor[i] != dst->vendor[i])
            return "CPU vendor differs";
    if ((src->cpuid1_ecx & ~ecx1_ignore) & ~dst->cpuid1_ecx)
        return "CPUID.1:ECX features missing";
    if (src->cpuid1_edx & ~dst->cpuid1_edx)
        return "CPUID.1:EDX features missing";
    if (src->cpuid7_ebx & ~dst->cpuid7_ebx)
        return "CPUID.7:EBX features missing";
    if (src->cpuid7_ecx & ~dst->cpuid7_ecx)
        return "CPUID.7:ECX features missing";
    if (src->cpuid7_edx & ~dst->cpuid7_edx)
        return "CPUID.7:EDX features missing";
    if (src->xcr0 & ~dst->xcr0)
        return "XSAVE features (XCR0) missing";
    for (i = 2; i < 32; i++) {
        if (!(src->xcr0 & (1ULL << i)))
            continue;
        if (src->xstate_off[i] != dst->xstate_off[i] || src->xstate_len[i] != dst->xstate_len[i])
            return "XSAVE layout differs";
    }
    return 0;
}

#endif
