/*
 * xmalloc.h — allocation wrappers that abort on failure (tmux style).
 *
 * Only for internal allocations whose size the program controls. Sizes that
 * come from a peer or a file are checked against a limit first.
 */
#ifndef QS_XMALLOC_H
#define QS_XMALLOC_H

#include <stddef.h>

void *qs_xmalloc(size_t n);
void *qs_xcalloc(size_t nmemb, size_t size);
void *qs_xrealloc(void *p, size_t n);
void *qs_xreallocarray(void *p, size_t nmemb, size_t size);
char *qs_xstrdup(const char *s);
char *qs_xstrndup(const char *s, size_t n);
/* asprintf that aborts on failure; the result is owned by the caller. */
char *qs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Keep freed memory in the allocator while a process works through
 * batches, instead of glibc's defaults (return anything above 128 KiB at
 * once, serve 128 KiB+ blocks by mmap), which made an aggregator's store
 * thread give pages back and fault them in again for every batch: 17 % of
 * an initial sync's time. Up to 8 MiB of free heap is kept per arena; the
 * daemon hands it all back when idle (qs_store_shrink). Call first thing in
 * main; a no-op off glibc. */
void qs_malloc_tune(void);

#endif
