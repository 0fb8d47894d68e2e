/*
 * log.h — the daemon's log: one line per event on stderr,
 *   "LEVEL component: message"
 * which journald stores as is (it adds its own timestamps). Anywhere else (a
 * terminal, a log file when run without systemd) each line is prefixed with
 * the local time, "YYYY-mm-dd HH:MM:SS ". stderr is taken to be the journal
 * when $JOURNAL_STREAM names its device and inode, as systemd sets it.
 * Never log secrets (keys, record bodies): ids, reasons and counts only.
 * Thread-safe (one fprintf per line).
 */
#ifndef QS_LOG_H
#define QS_LOG_H

#include <stddef.h>
#include <stdint.h>

enum qs_log_level { QS_LOG_DEBUG = 0, QS_LOG_INFO = 1, QS_LOG_WARN = 2, QS_LOG_ERROR = 3 };

/* Lines below level are dropped. Default QS_LOG_INFO. */
void qs_log_set_level(int level);
/* Unix ms as ISO-8601 UTC ("2026-12-03T12:00:00Z") into out (>= 21 bytes). */
void qs_log_iso(int64_t ms, char *out, size_t n);
/* "debug", "info", "warn"/"warning", "error" -> level; -1 if unknown. */
int qs_log_parse_level(const char *s);

void qs_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
