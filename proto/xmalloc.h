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

/* n bytes (zeroed) for a buffer about to be filled whole, such as a file read
 * into memory: mapped with every page already faulted in, by the kernel in
 * one pass instead of one page fault per 4 KiB as the buffer is first
 * written, which is slow on virtual machines (tests/bench/README.md, "Where
 * the time went"). Free with qs_xunmap(p, n). */
void *qs_xmap(size_t n);
void qs_xunmap(void *p, size_t n);

/* Keep freed memory in the allocator while a process works through
 * batches, instead of glibc's defaults (return anything above 128 KiB at
 * once, serve 128 KiB+ blocks by mmap), which made an aggregator's store
 * thread give pages back and fault them in again for every batch (a large
 * share of an initial sync's time; tests/bench/README.md). Up to 8 MiB of
 * free heap is kept per arena; the daemon hands it all back when idle
 * (qs_store_shrink). Call first thing in main; a no-op off glibc. */
void qs_malloc_tune(void);

#endif
