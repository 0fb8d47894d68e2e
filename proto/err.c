#include "proto/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *qs_strerror(int code)
{
    switch (code) {
    case QS_OK:
        return "ok";
    case QS_EINVAL:
        return "invalid input";
    case QS_ELIMIT:
        return "limit exceeded";
    case QS_EAGAIN:
        return "incomplete input";
    case QS_EPROTO:
        return "protocol error";
    case QS_EHASH:
        return "revision does not verify";
    case QS_ESCOPE:
        return "out of scope";
    case QS_ENOTFOUND:
        return "not found";
    case QS_EEXIST:
        return "already exists";
    case QS_ECONFLICT:
        return "conflict";
    case QS_EIO:
        return "I/O error";
    case QS_EFULL:
        return "disk full";
    case QS_EBUSY:
        return "busy";
    case QS_ECLOCK:
        return "clock problem";
    case QS_ETLS:
        return "TLS or certificate failure";
    case QS_EPERM:
        return "permission denied";
    case QS_ESCHEMA:
        return "unknown kind or schema";
    case QS_ECORRUPT:
        return "data corrupt";
    default:
        return "unknown error";
    }
}

int qs_err_set(qs_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int qs_err_prefix(qs_err *e, const char *fmt, ...)
{
    if (!e)
        return QS_EINVAL;
    char pre[QS_ERR_MSG], old[QS_ERR_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t n = strnlen(pre, sizeof pre - 3);
    memcpy(e->msg, pre, n);
    memcpy(e->msg + n, ": ", 2);
    size_t m = strnlen(old, sizeof old);
    if (m > sizeof e->msg - n - 3)
        m = sizeof e->msg - n - 3;
    memcpy(e->msg + n + 2, old, m);
    e->msg[n + 2 + m] = '\0';
    return e->code;
}
