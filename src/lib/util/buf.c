/*
 * buf.c - growable byte buffers
 *
 * Capacity doubles on growth; sizes are checked for overflow. data is
 * always allocated and NUL-terminated, so buf_str() is always a valid C
 * string (binary data may contain earlier NULs; use buf_len()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "msg.h"

void
buf_init(struct buf *b, size_t hint)
{
	b->cap = hint < 16 ? 16 : hint + 1;
	b->data = xmalloc(b->cap);
	b->len = 0;
	b->data[0] = 0;
}

struct buf *
buf_new(size_t hint)
{
	struct buf *b = xmalloc(sizeof(*b));

	buf_init(b, hint);
	return b;
}

void
buf_fini(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	buf_fini(b);
	free(b);
}

void
buf_reserve(struct buf *b, size_t len)
{
	size_t need, cap;

	if (__builtin_add_overflow(b->len, len, &need)
	    || __builtin_add_overflow(need, 1, &need))
		msg_fatal("buffer size overflow");
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 16;
	while (cap < need) {
		if (__builtin_mul_overflow(cap, 2, &cap)) {
			cap = need;
			break;
		}
	}
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_reset(struct buf *b)
{
	if (b->data == NULL) {		/* after buf_steal() */
		buf_init(b, 0);
		return;
	}
	b->len = 0;
	b->data[0] = 0;
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = 0;
	}
}

void
buf_append(struct buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
}

void
buf_puts(struct buf *b, const char *str)
{
	buf_append(b, str, strlen(str));
}

void
buf_putc(struct buf *b, int ch)
{
	buf_reserve(b, 1);
	b->data[b->len++] = (char)ch;
	b->data[b->len] = 0;
}

void
buf_set(struct buf *b, const char *str)
{
	buf_reset(b);
	buf_puts(b, str);
}

void
buf_setn(struct buf *b, const void *data, size_t len)
{
	buf_reset(b);
	buf_append(b, data, len);
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		msg_panic("buf_vprintf: bad format \"%s\"", fmt);
	if ((size_t)n >= b->cap - b->len) {
		buf_reserve(b, (size_t)n);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		if (n < 0)
			msg_panic("buf_vprintf: bad format \"%s\"", fmt);
	}
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
buf_consume(struct buf *b, size_t len)
{
	if (len >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + len, b->len - len);
	b->len -= len;
	b->data[b->len] = 0;
}

char *
buf_steal(struct buf *b)
{
	char *data = b->data;

	b->data = NULL;
	b->len = b->cap = 0;
	return data;
}
