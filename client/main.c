/*
 * main.c — qianshou: global options, then the command (the table and the
 * dispatcher are in cmd.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/cli.h"

int main(int argc, char **argv)
{
    cli c = {.dir = NULL, .json = false};
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n = 0, rc;
    bool rest = false;
    if (!args)
        return CLI_ENV;
    /* Files this tool creates are for the group (the daemon, other clerks). */
    umask(007);
    /* Global options may stand anywhere before "--". */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!rest && strcmp(a, "--") == 0) {
            rest = true;
            args[n++] = argv[i];
        } else if (!rest && strcmp(a, "--json") == 0) {
            c.json = true;
        } else if (!rest && (strcmp(a, "-d") == 0 || strcmp(a, "--data") == 0)) {
            if (i + 1 >= argc) {
                rc = cli_fail(&c, CLI_USAGE, "%s needs a directory (see `qianshou --help`)", a);
                goto done;
            }
            c.dir = argv[++i];
        } else if (!rest && strncmp(a, "--data=", 7) == 0) {
            c.dir = a + 7;
        } else {
            args[n++] = argv[i];
        }
    }
    if (!c.dir || !*c.dir) {
        const char *env = getenv("QIANSHOU_DATA");
        c.dir = env && *env ? env : "/var/lib/qianshou";
    }
    if (n == 0 || strcmp(args[0], "--help") == 0 || strcmp(args[0], "-h") == 0 ||
        strcmp(args[0], "help") == 0) {
        cli_help_all(n == 0 ? stderr : stdout);
        rc = n == 0 ? CLI_USAGE : CLI_OK;
        goto done;
    }
    rc = cli_run(&c, n, args);
done:
    fflush(stdout);
    if (ferror(stdout) && rc == CLI_OK) {
        fprintf(stderr, "qianshou: could not write the output (is the disk full?)\n");
        rc = CLI_ENV;
    }
    free(args);
    return rc;
}
