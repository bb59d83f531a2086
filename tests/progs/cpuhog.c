/*
 * cpuhog.c - a CPU-bound job for the load balancer's tests and benchmark.
 *
 *   cpuhog BLOCKS [SEED]
 *
 * Computes a xorshift chain of BLOCKS x 2^20 steps seeded with SEED and
 * prints
 *     cpuhog seed=S blocks=B result=R
 * The result depends only on S and B, never on where or how fast it ran:
 * a run that was moved must print what an unmoved run prints. The work is
 * counted in steps, not in CPU time, because a restored process's CPU
 * clock starts again from zero. No system call until the end.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define BLOCK (1u << 20)

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: cpuhog BLOCKS [SEED]\n");
        return 2;
    }
    uint64_t blocks = strtoull(argv[1], NULL, 10);
    uint64_t seed = argc == 3 ? strtoull(argv[2], NULL, 10) : 1;
    volatile uint64_t x = seed | 1; /* volatile: the loop is not folded away */
    for (uint64_t b = 0; b < blocks; b++)
        for (uint32_t i = 0; i < BLOCK; i++) {
            uint64_t v = x;
            v ^= v << 13;
            v ^= v >> 7;
            v ^= v << 17;
            x = v;
        }
    printf("cpuhog seed=%" PRIu64 " blocks=%" PRIu64 " result=%" PRIu64 "\n", seed, blocks,
           (uint64_t)x);
    return 0;
}
