/*
 * zeropages.c - test program for the image writer's zero pages.
 *
 *   zeropages FILE [SECONDS]
 *
 * Holds 64 MiB of private anonymous memory, every page touched (present) and all zero but one
 * page in 16, which holds a pattern; and FILE (1 MiB of 0xab, written here) mapped private, one
 * page of which it overwrote with zeroes (a copied page of zeroes over a file's bytes). It prints
 * "zeropages ready", waits SECONDS (default 3), checks every byte and prints "zeropages ok" (exit
 * 0) or what differs (exit 1). A freeze in between must bring every byte back: the image may
 * leave out the anonymous zero pages, never the file mapping's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define ANON (64UL << 20)
#define FILESZ (1UL << 20)
#define ZPAGE 5 /* the file mapping's page of zeroes */

static uint8_t pattern(size_t page, size_t i)
{
    return (uint8_t)(page * 31 + i * 7 + 1) | 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: zeropages FILE [SECONDS]\n");
        return 2;
    }
    int secs = argc > 2 ? atoi(argv[2]) : 3;
    uint8_t *a = mmap(NULL, ANON, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED)
        return perror("mmap"), 1;
    memset(a, 0, ANON); /* present, zero */
    for (size_t p = 0; p < ANON / PAGE; p += 16)
        for (size_t i = 0; i < PAGE; i++)
            a[p * PAGE + i] = pattern(p, i);

    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return perror(argv[1]), 1;
    static uint8_t buf[FILESZ];
    memset(buf, 0xab, sizeof buf);
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
        return perror("write"), 1;
    uint8_t *f = mmap(NULL, FILESZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (f == MAP_FAILED)
        return perror("mmap file"), 1;
    close(fd);
    memset(f + ZPAGE * PAGE, 0, PAGE);

    printf("zeropages ready\n");
    fflush(stdout);
    for (int s = 0; s < secs * 10; s++)
        nanosleep(&(struct timespec){0, 100000000}, NULL);

    for (size_t p = 0; p < ANON / PAGE; p++)
        for (size_t i = 0; i < PAGE; i++) {
            uint8_t want = p % 16 == 0 ? pattern(p, i) : 0;
            if (a[p * PAGE + i] != want) {
                printf("zeropages BAD anonymous page %zu byte %zu: %#x, want %#x\n", p, i,
                       a[p * PAGE + i], want);
                return 1;
            }
        }
    for (size_t i = 0; i < FILESZ; i++) {
        uint8_t want = i / PAGE == ZPAGE ? 0 : 0xab;
        if (f[i] != want) {
            printf("zeropages BAD file page %zu byte %zu: %#x, want %#x\n", i / PAGE, i % PAGE,
                   f[i], want);
            return 1;
        }
    }
    printf("zeropages ok\n");
    return 0;
}
