/*
 * mem.c - memory allocation that never returns NULL
 *
 * Allocation failure is fatal: an MTA that runs out of memory in the
 * middle of a transaction cannot do anything sensible but exit, and the
 * queue keeps every accepted message safe on disk.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "msg.h"

static _Noreturn void
mem_fail(size_t len)
{
	msg_fatal("out of memory allocating %zu bytes", len);
}

void *
xmalloc(size_t len)
{
	void *ptr = malloc(len ? len : 1);

	if (ptr == NULL)
		mem_fail(len);
	return ptr;
}

void *
xcalloc(size_t count, size_t size)
{
	void *ptr;
	size_t len;

	if (__builtin_mul_overflow(count, size, &len))
		msg_fatal("allocation overflow: %zu * %zu", count, size);
	ptr = calloc(count ? count : 1, size ? size : 1);
	if (ptr == NULL)
		mem_fail(len);
	return ptr;
}

void *
xrealloc(void *ptr, size_t len)
{
	void *nptr = realloc(ptr, len ? len : 1);

	if (nptr == NULL)
		mem_fail(len);
	return nptr;
}

void *
xreallocarray(void *ptr, size_t count, size_t size)
{
	size_t len;

	if (__builtin_mul_overflow(count, size, &len))
		msg_fatal("allocation overflow: %zu * %zu", count, size);
	return xrealloc(ptr, len);
}

char *
xstrdup(const char *str)
{
	return xmemdup(str, strlen(str));
}

char *
xstrndup(const char *str, size_t len)
{
	return xmemdup(str, strnlen(str, len));
}

void *
xmemdup(const void *ptr, size_t len)
{
	char *copy;

	if (len == SIZE_MAX)
		mem_fail(len);
	copy = xmalloc(len + 1);
	if (len)
		memcpy(copy, ptr, len);
	copy[len] = 0;
	return copy;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *str;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&str, fmt, ap);
	va_end(ap);
	if (len < 0)
		mem_fail(0);
	return str;
}
