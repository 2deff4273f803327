/*
 * stream.h - buffered I/O on a descriptor, with timeouts and limits
 *
 * A struct stream wraps a (blocking or non-blocking) socket or pipe for
 * request/reply protocols. Reads fill an internal buffer; writes are
 * buffered until stream_flush() or until the buffer is large. Every
 * wait is bounded by the stream's timeout (milliseconds, 0 = forever).
 *
 * Results: stream_* calls return 0 (or a count) on success and -1 on
 * error, with stream_error() telling why: STREAM_ERR_EOF,
 * STREAM_ERR_TIMEOUT, STREAM_ERR_IO (errno set) or STREAM_ERR_LIMIT.
 * After an error the stream is unusable except for stream_free().
 */
#ifndef PETREL_STREAM_H
#define PETREL_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct buf;

enum stream_err {
	STREAM_OK,
	STREAM_ERR_EOF,
	STREAM_ERR_TIMEOUT,
	STREAM_ERR_IO,
	STREAM_ERR_LIMIT,
};

struct stream;

/* Take ownership of fd; stream_free() closes it. */
struct stream *stream_new(int fd);
void stream_free(struct stream *s);		/* accepts NULL; closes fd */
/* Return the descriptor and free the stream without closing it. */
int stream_release(struct stream *s);
int stream_fd(const struct stream *s);
void stream_set_timeout(struct stream *s, int timeout_ms);
enum stream_err stream_error(const struct stream *s);
/* Bytes already buffered for reading (no system call). */
size_t stream_pending(const struct stream *s);
/* Read exactly len bytes. */
int stream_read(struct stream *s, void *data, size_t len);
/* Read one byte; returns 0..255 or -1. */
int stream_getc(struct stream *s);
/*
 * Read up to and including '\n' into out (appended, newline kept).
 * Fails with STREAM_ERR_LIMIT when more than limit bytes arrive first.
 * Returns the number of bytes appended; at EOF after a partial line the
 * partial line is returned, at EOF with nothing read it fails (EOF).
 */
ssize_t stream_get_line(struct stream *s, struct buf *out, size_t limit);
int stream_write(struct stream *s, const void *data, size_t len);
int stream_puts(struct stream *s, const char *str);
int stream_printf(struct stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int stream_flush(struct stream *s);

#endif
