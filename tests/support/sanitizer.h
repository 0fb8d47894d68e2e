/*
 * sanitizer.h — UNDER_ASAN is defined when AddressSanitizer (gcc or clang)
 * owns malloc: tests that count or inspect glibc's allocator skip then.
 */
#ifndef QS_TEST_SANITIZER_H
#define QS_TEST_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#endif
