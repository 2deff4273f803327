/*
 * buf.h - growable byte buffers
 *
 * A struct buf holds binary-safe data with an explicit length, always
 * followed by a NUL byte so that text can be used as a C string. Buffers
 * grow as needed (allocation failure is fatal, see mem.h); nothing is
 * ever truncated silently. Use buf_new()/buf_free() for heap buffers, or
 * embed one and use buf_init()/buf_fini().
 */
#ifndef PETREL_BUF_H
#define PETREL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;		/* always NUL-terminated at data[len] */
	size_t len;		/* bytes in use, excluding the NUL */
	size_t cap;		/* allocated bytes, including room for NUL */
};

struct buf *buf_new(size_t hint);
void buf_free(struct buf *b);			/* accepts NULL */
void buf_init(struct buf *b, size_t hint);
void buf_fini(struct buf *b);			/* frees data, keeps b */
/* Ensure room for len more bytes (plus the NUL). */
void buf_reserve(struct buf *b, size_t len);
void buf_reset(struct buf *b);			/* len = 0 */
void buf_truncate(struct buf *b, size_t len);	/* only shrinks */
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *str);
void buf_putc(struct buf *b, int ch);
void buf_set(struct buf *b, const char *str);	/* reset + puts */
void buf_setn(struct buf *b, const void *data, size_t len);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));	/* appends */
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Remove the first len bytes (consumed input). */
void buf_consume(struct buf *b, size_t len);
/*
 * Give up ownership of the data (caller frees). b is left without
 * storage: buf_fini() is then optional, buf_init() before any reuse.
 */
char *buf_steal(struct buf *b);

static inline const char *
buf_str(const struct buf *b)
{
	return b->data;
}

static inline size_t
buf_len(const struct buf *b)
{
	return b->len;
}

#endif
