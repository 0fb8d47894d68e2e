/*
 * fsync_true.c — qs-bench-fsync: the floor under benchmark #3, a process that
 * does nothing but make one small write durable: append 64 bytes to FILE and
 * fdatasync it (what one committed SQLite WAL frame costs at the least).
 *
 *   qs-bench-fsync FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: qs-bench-fsync FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    char rec[64];
    memset(rec, 'x', sizeof rec);
    if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec || fdatasync(fd) != 0) {
        perror(argv[1]);
        return 1;
    }
    return close(fd) == 0 ? 0 : 1;
}
