/*
 * spawn.c — qs-bench-spawn: run a command N times, one after the other, and
 * print the wall time of each whole process (fork/exec to exit) in ms, one
 * per line. Used by benchmark #3 for `qianshou add` and its baseline.
 *
 *   qs-bench-spawn N CMD [ARG...]
 *
 * The command's stdout goes to /dev/null; a run that fails stops everything
 * (exit 1) after its stderr has been shown.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: qs-bench-spawn N CMD [ARG...]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < n; i++) {
        pid_t pid;
        int status;
        double t0 = now_ms();
        if (posix_spawnp(&pid, argv[2], &fa, NULL, &argv[2], environ) != 0) {
            perror(argv[2]);
            return 1;
        }
        if (waitpid(pid, &status, 0) < 0) {
            perror("waitpid");
            return 1;
        }
        double t = now_ms() - t0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "qs-bench-spawn: %s failed (status %d) at run %d\n", argv[2], status,
                    i + 1);
            return 1;
        }
        printf("%.3f\n", t);
    }
    posix_spawn_file_actions_destroy(&fa);
    return 0;
}
