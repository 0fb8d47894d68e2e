/* ctl.c — control socket client; see ctl.h. */
#include "ctl/ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "proto/xmalloc.h"

void qs_ctl_sock_path(const char *data_dir, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", data_dir, QS_CTL_SOCK);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events before deadline. 0, or QS_EAGAIN / QS_EIO. */
static int wait_fd(int fd, short events, int64_t deadline, qs_err *e)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return qs_err_set(e, QS_EAGAIN, "no reply from qianshoud in time");
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return qs_err_set(e, QS_EIO, "poll: %s", strerror(errno));
    }
}

int qs_ctl_request(const char *sock_path, const char *request, int timeout_ms, char **reply,
                   qs_err *e)
{
    int rc = 0, fd = -1;
    char *buf = NULL, *line = NULL;
    size_t len = 0;
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
    *reply = NULL;

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof sa.sun_path) {
        rc = qs_err_set(e, QS_EINVAL, "socket path too long: %s", sock_path);
        goto out;
    }
    strcpy(sa.sun_path, sock_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = qs_err_set(e, QS_EIO, "socket: %s", strerror(errno));
        goto out;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int err = errno;
        rc = qs_err_set(e, err == EACCES ? QS_EPERM : QS_EIO,
                        err == EACCES ? "cannot connect to %s: %s (are you in the qianshou group?)"
                                      : "is qianshoud running? cannot connect to %s: %s",
                        sock_path, strerror(err));
        goto out;
    }
    line = qs_xasprintf("%s\n", request);
    size_t n = strlen(line), sent = 0;
    while (sent < n) {
        if ((rc = wait_fd(fd, POLLOUT, deadline, e)) != 0)
            goto out;
        ssize_t w = send(fd, line + sent, n - sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EINTR && errno != EAGAIN) {
            rc = qs_err_set(e, QS_EIO, "send to %s: %s", sock_path, strerror(errno));
            goto out;
        }
        if (w > 0)
            sent += (size_t)w;
    }
    buf = qs_xmalloc(QS_CTL_MAX_LINE + 1);
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            *nl = '\0';
            break;
        }
        if (len == QS_CTL_MAX_LINE) {
            rc = qs_err_set(e, QS_EINVAL, "reply from qianshoud longer than %d bytes",
                            QS_CTL_MAX_LINE);
            goto out;
        }
        if ((rc = wait_fd(fd, POLLIN, deadline, e)) != 0)
            goto out;
        ssize_t r = recv(fd, buf + len, QS_CTL_MAX_LINE - len, 0);
        if (r == 0) {
            rc = qs_err_set(e, QS_EIO, "qianshoud closed the control connection without a reply");
            goto out;
        }
        if (r < 0 && errno != EINTR && errno != EAGAIN) {
            rc = qs_err_set(e, QS_EIO, "recv from %s: %s", sock_path, strerror(errno));
            goto out;
        }
        if (r > 0)
            len += (size_t)r;
    }
    if (buf[0] != '{') {
        rc = qs_err_set(e, QS_EINVAL, "reply from qianshoud is not a JSON object");
        goto out;
    }
    *reply = buf;
    buf = NULL;
out:
    free(buf);
    free(line);
    if (fd >= 0)
        close(fd);
    return rc;
}

int qs_ctl_parse_request(const char *line, size_t len, qs_ctl_req *out, qs_err *e)
{
    static const struct {
        const char *name;
        qs_ctl_cmd cmd;
    } cmds[] = {
        {"status", QS_CTL_STATUS},
        {"nodes", QS_CTL_NODES},
        {"sync", QS_CTL_SYNC},
        {"reload", QS_CTL_RELOAD},
    };
    *out = (qs_ctl_req){.timeout_s = 30};
    json_error_t jerr;
    json_t *req = json_loadb(line, len, 0, &jerr);
    int rc = 0;
    const char *cmd = req ? json_string_value(json_object_get(req, "cmd")) : NULL;
    if (!req) {
        rc = qs_err_set(e, QS_EINVAL, "request is not JSON");
        goto out;
    }
    if (!cmd) {
        rc = qs_err_set(e, QS_EINVAL, "missing \"cmd\"");
        goto out;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            out->cmd = cmds[i].cmd;
    if (!out->cmd) {
        rc = qs_err_set(e, QS_EINVAL, "unknown command \"%.64s\"", cmd);
        goto out;
    }
    if (out->cmd == QS_CTL_SYNC) {
        json_t *jt = json_object_get(req, "timeout");
        json_int_t t = json_is_integer(jt) ? json_integer_value(jt) : 30;
        if (t < 1 || t > 3600) {
            rc = qs_err_set(e, QS_EINVAL, "\"timeout\" must be 1..3600 seconds");
            goto out;
        }
        out->timeout_s = (unsigned)t;
        out->wait = json_is_true(json_object_get(req, "wait"));
    }
out:
    json_decref(req);
    return rc;
}
