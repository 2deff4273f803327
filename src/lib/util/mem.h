/*
 * mem.h - memory allocation that never returns NULL
 *
 * Every allocator here either succeeds or ends the process with
 * msg_fatal("out of memory"); callers never test for NULL. Counts are
 * checked for overflow before multiplying.
 */
#ifndef PETREL_MEM_H
#define PETREL_MEM_H

#include <stddef.h>

void *xmalloc(size_t len);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t len);
/* Like reallocarray(3): fatal if count * size overflows. */
void *xreallocarray(void *ptr, size_t count, size_t size);
char *xstrdup(const char *str);
/* Copy at most len bytes of str and NUL-terminate. */
char *xstrndup(const char *str, size_t len);
/* Copy len bytes and append a NUL (binary-safe). */
void *xmemdup(const void *ptr, size_t len);
/* A new string formatted as by printf(3). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
