/* ssi_cpu: which source CPU's image a destination CPU may run (the rule of
 * ssi_cpu_incompatible in wire/ssi_cpu.h), one table row per combination:
 * one field set on each side of a common CPU, and the verdict expected. */
#include <string.h>

#include "check_ssi.h"
#include "ssi_cpu.h"

enum { F_NONE, F_VENDOR, F_ECX1, F_EDX1, F_EBX7, F_ECX7, F_EDX7, F_XCR0, F_OFF, F_LEN, F_SIZE };

typedef struct {
    const char *name;
    int field;        /* F_*: which field the row sets */
    int comp;         /* XSAVE component, for F_OFF and F_LEN */
    uint64_t src;     /* the field's value on the source CPU (the image's) */
    uint64_t dst;     /* and on the destination */
    const char *want; /* NULL: accepted; otherwise the reason */
} s_row_t;

#define BASE_ECX1 0x1ef8a203u /* SSE3 .. AVX, F16C, RDRAND; OSXSAVE (27) on */
#define BASE_XCR0 0x7u        /* x87, SSE, AVX */
#define AVX512 0xe0u          /* opmask, ZMM_Hi256, Hi16_ZMM */

static const s_row_t s_rows[] = {
    {"same CPU", F_NONE, 0, 0, 0, NULL},
    {"destination has more CPUID.1:ECX", F_ECX1, 0, BASE_ECX1, BASE_ECX1 | (1u << 30), NULL},
    {"source has CPUID.1:ECX bit 30 (RDRAND) the destination lacks", F_ECX1, 0,
     BASE_ECX1 | (1u << 30), BASE_ECX1, "CPUID.1:ECX features missing"},
    {"OSXSAVE differs: ignored (XCR0 is compared)", F_ECX1, 0, BASE_ECX1, BASE_ECX1 & ~(1u << 27),
     NULL},
    {"HYPERVISOR differs: ignored", F_ECX1, 0, BASE_ECX1 | (1u << 31), BASE_ECX1, NULL},
    {"source has CPUID.1:EDX SSE2 the destination lacks", F_EDX1, 0, 0x178bfbffu,
     0x178bfbffu & ~(1u << 26), "CPUID.1:EDX features missing"},
    {"destination has more CPUID.1:EDX", F_EDX1, 0, 0x078bfbffu, 0x178bfbffu, NULL},
    {"source has AVX2 (CPUID.7:EBX 5) the destination lacks", F_EBX7, 0, 0x20u, 0,
     "CPUID.7:EBX features missing"},
    {"source has AVX-512F (CPUID.7:EBX 16) the destination lacks", F_EBX7, 0, 0x10029u, 0x29u,
     "CPUID.7:EBX features missing"},
    {"destination has more CPUID.7:EBX", F_EBX7, 0, 0x29u, 0x10029u, NULL},
    {"source has a CPUID.7:ECX bit the destination lacks", F_ECX7, 0, 0x400u, 0,
     "CPUID.7:ECX features missing"},
    {"source has a CPUID.7:EDX bit the destination lacks", F_EDX7, 0, 1u << 10, 0,
     "CPUID.7:EDX features missing"},
    {"other vendor", F_VENDOR, 0, 0, 1, "CPU vendor differs"},
    {"vendor differs in its last byte", F_VENDOR, 0, 0, 2, "CPU vendor differs"},
    {"destination enables more XSAVE components", F_XCR0, 0, BASE_XCR0, BASE_XCR0 | AVX512, NULL},
    {"source enables AVX-512 state the destination does not", F_XCR0, 0, BASE_XCR0 | AVX512,
     BASE_XCR0, "XSAVE features (XCR0) missing"},
    {"source enables PKRU (9) the destination does not", F_XCR0, 0, BASE_XCR0 | 0x200u, BASE_XCR0,
     "XSAVE features (XCR0) missing"},
    {"AVX state at another offset", F_OFF, 2, 576, 640, "XSAVE layout differs"},
    {"AVX state of another size", F_LEN, 2, 256, 512, "XSAVE layout differs"},
    {"an offset of a component the source does not enable differs", F_OFF, 5, 0, 1088, NULL},
    {"legacy area entries (0, 1) are not compared", F_OFF, 1, 0, 160, NULL},
    {"a larger XSAVE area on the destination", F_SIZE, 0, 832, 2696, NULL},
};

static void s_base(ssi_image_cpu_t *c)
{
    memset(c, 0, sizeof *c);
    memcpy(c->vendor, "GenuineIntel", 12);
    c->cpuid1_ecx = BASE_ECX1;
    c->cpuid1_edx = 0x178bfbffu;
    c->cpuid7_ebx = 0x29u;
    c->xcr0 = BASE_XCR0;
    c->xsave_size = 832;
    c->xstate_off[2] = 576;
    c->xstate_len[2] = 256;
}

static void s_set(ssi_image_cpu_t *c, const s_row_t *r, uint64_t v)
{
    static const char *vendors[] = {"GenuineIntel", "AuthenticAMD", "GenuineIntek"};
    switch (r->field) {
    case F_VENDOR: memcpy(c->vendor, vendors[v], 12); break;
    case F_ECX1: c->cpuid1_ecx = (uint32_t)v; break;
    case F_EDX1: c->cpuid1_edx = (uint32_t)v; break;
    case F_EBX7: c->cpuid7_ebx = (uint32_t)v; break;
    case F_ECX7: c->cpuid7_ecx = (uint32_t)v; break;
    case F_EDX7: c->cpuid7_edx = (uint32_t)v; break;
    case F_XCR0:
        c->xcr0 = v;
        for (int i = 5; i < 8; i++) /* AVX-512 state, where CPUs put it */
            if (v & (1ull << i)) {
                c->xstate_off[i] = i == 5 ? 1088 : i == 6 ? 1152 : 1664;
                c->xstate_len[i] = i == 5 ? 64 : i == 6 ? 512 : 1024;
            }
        if (v & 0x200u) {
            c->xstate_off[9] = 2688;
            c->xstate_len[9] = 8;
        }
        break;
    case F_OFF: c->xstate_off[r->comp] = (uint32_t)v; break;
    case F_LEN: c->xstate_len[r->comp] = (uint32_t)v; break;
    case F_SIZE: c->xsave_size = (uint32_t)v; break;
    default: break;
    }
}

START_TEST(test_cpu_compatibility_table)
{
    const s_row_t *r = &s_rows[_i];
    ssi_image_cpu_t src, dst;
    s_base(&src);
    s_base(&dst);
    s_set(&src, r, r->src);
    s_set(&dst, r, r->dst);
    const char *why = ssi_cpu_incompatible(&src, &dst);
    if (r->want)
        ck_assert_msg(why && strcmp(why, r->want) == 0, "%s: expected \"%s\", got \"%s\"", r->name,
                      r->want, why ? why : "accepted");
    else
        ck_assert_msg(why == NULL, "%s: refused: %s", r->name, why);
}
END_TEST

START_TEST(test_cpu_accepts_itself)
{
    /* The CPU this runs on can run its own images, and not one of another
	 * vendor's. */
    ssi_image_cpu_t c, other;
    ssi_cpu_probe(&c);
    ck_assert_ptr_null(ssi_cpu_incompatible(&c, &c));
    other = c;
    other.vendor[0] ^= 1;
    ck_assert_str_eq(ssi_cpu_incompatible(&c, &other), "CPU vendor differs");
}
END_TEST

Suite *suite_cpu(void)
{
    Suite *s = suite_create("cpu");
    TCase *tc = tcase_create("compat");
    tcase_add_loop_test(tc, test_cpu_compatibility_table, 0,
                        (int)(sizeof s_rows / sizeof s_rows[0]));
    tcase_add_test(tc, test_cpu_accepts_itself);
    suite_add_tcase(s, tc);
    return s;
}
