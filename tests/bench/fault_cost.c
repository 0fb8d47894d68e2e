/*
 * qs-bench-fault: what this machine charges for the things a short process
 * does most, printed as one line of k=v (microseconds, median of 5 rounds):
 *
 *   fault_us     a first write to a fresh 4 KiB page (one page fault)
 *   populate_us  the same page faulted in by the kernel, mmap(MAP_POPULATE)
 *   syscall_us   one getppid() system call
 *
 * run.sh prints them beside the machine: on a virtual machine a page fault
 * can cost tens of times what it costs on bare metal, and a whole process
 * (#3) is mostly page faults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { PAGES = 512, ROUNDS = 5, CALLS = 20000 };

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp);
    return v[ROUNDS / 2];
}

static char *map(int flags)
{
    char *p = mmap(NULL, (size_t)PAGES * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED) {
        perror("qs-bench-fault: mmap");
        exit(1);
    }
    madvise(p, (size_t)PAGES * 4096, MADV_NOHUGEPAGE); /* 4 KiB pages */
    return p;
}

int main(void)
{
    double fault[ROUNDS], populate[ROUNDS], call[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        char *p = map(0);
        double t0 = now_us();
        for (size_t i = 0; i < (size_t)PAGES * 4096; i += 4096)
            p[i] = 1;
        fault[r] = (now_us() - t0) / PAGES;
        munmap(p, (size_t)PAGES * 4096);

        t0 = now_us();
        p = map(MAP_POPULATE);
        for (size_t i = 0; i < (size_t)PAGES * 4096; i += 4096)
            p[i] = 1;
        populate[r] = (now_us() - t0) / PAGES;
        munmap(p, (size_t)PAGES * 4096);

        t0 = now_us();
        for (int i = 0; i < CALLS; i++)
            syscall(SYS_getppid);
        call[r] = (now_us() - t0) / CALLS;
    }
    printf("fault_us=%.2f populate_us=%.2f syscall_us=%.2f\n", median(fault), median(populate),
           median(call));
    return 0;
}
