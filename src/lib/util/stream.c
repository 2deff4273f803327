/*
 * stream.c - buffered I/O on a descriptor, with timeouts and limits
 *
 * A stream owns one descriptor, an 8 KiB read buffer and an 8 KiB write
 * buffer. Every wait for the peer goes through poll(2) and is bounded by
 * the stream timeout (per wait, like Postfix's timed reads and writes: a
 * peer that keeps sending slowly is held back by the line limit, not the
 * timeout). The first error is sticky: every later call fails the same
 * way, so a caller may check once at the end of an exchange.
 *
 * Blocking and non-blocking descriptors both work:
 *  - sockets use recv/send with MSG_DONTWAIT, so one system call never
 *    blocks longer than poll(2) allows, whatever the descriptor's mode;
 *  - other non-blocking descriptors just retry after poll on EAGAIN;
 *  - other blocking descriptors (pipes) poll first when a timeout is
 *    set, and write at most PIPE_BUF bytes per call, which POLLOUT
 *    guarantees will not block.
 * Whether the descriptor is a socket or non-blocking is looked at once,
 * in stream_new().
 *
 * SIGPIPE: a peer that went away must not kill the process. Sockets are
 * written with send(MSG_NOSIGNAL). For pipes SIGPIPE is blocked around
 * the write(2) and a SIGPIPE raised by that write is consumed with
 * sigtimedwait(2) before the mask is restored; the caller sees EPIPE.
 *
 * stream_free() and stream_release() flush pending output first (best
 * effort, bounded by the timeout), so "write reply, free stream" works.
 *
 * SECURITY: the peer is untrusted. stream_get_line() never appends more
 * than the caller's limit, and every wait is bounded by the timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "stream.h"
#include "timeutil.h"

#define STREAM_BUFSIZE	8192

struct stream {
	int fd;
	int timeout_ms;		/* 0 = wait forever */
	enum stream_err err;	/* first error, sticky */
	bool is_socket;
	bool poll_first;	/* blocking non-socket: poll before I/O */
	bool eof;		/* read(2) returned 0 */
	char *rbuf;
	size_t rpos, rlen;	/* unread data is rbuf[rpos..rlen) */
	char *wbuf;
	size_t wlen;
};

struct stream *
stream_new(int fd)
{
	struct stream *s = xcalloc(1, sizeof(*s));
	struct stat st;
	int flags;

	s->fd = fd;
	s->err = STREAM_OK;
	s->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	flags = fcntl(fd, F_GETFL);
	s->poll_first = !s->is_socket && (flags < 0 || !(flags & O_NONBLOCK));
	s->rbuf = xmalloc(STREAM_BUFSIZE);
	s->wbuf = xmalloc(STREAM_BUFSIZE);
	return s;
}

static void
stream_destroy(struct stream *s)
{
	free(s->rbuf);
	free(s->wbuf);
	free(s);
}

void
stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	if (s->wlen > 0)
		(void)stream_flush(s);
	/* A close error cannot be reported to anybody; the fd is gone. */
	(void)close(s->fd);
	stream_destroy(s);
}

int
stream_release(struct stream *s)
{
	int fd = s->fd;

	if (s->wlen > 0)
		(void)stream_flush(s);
	stream_destroy(s);
	return fd;
}

int
stream_fd(const struct stream *s)
{
	return s->fd;
}

void
stream_set_timeout(struct stream *s, int timeout_ms)
{
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

enum stream_err
stream_error(const struct stream *s)
{
	return s->err;
}

size_t
stream_pending(const struct stream *s)
{
	return s->rlen - s->rpos;
}

static int
stream_fail(struct stream *s, enum stream_err err)
{
	if (s->err == STREAM_OK)
		s->err = err;
	return -1;
}

/*
 * Wait until fd is ready for events, at most timeout_ms. Returns 0 when
 * ready (or in error: the following I/O call reports it), -1 on timeout
 * or poll failure. EINTR does not restart the full interval.
 */
static int
stream_wait(struct stream *s, short events)
{
	struct pollfd pfd;
	uint64_t deadline = 0, now;
	int wait_ms, n;

	if (s->timeout_ms > 0)
		deadline = time_mono_ms() + (uint64_t)s->timeout_ms;
	for (;;) {
		wait_ms = -1;
		if (s->timeout_ms > 0) {
			now = time_mono_ms();
			if (now >= deadline)
				break;
			wait_ms = (int)(deadline - now);
		}
		pfd.fd = s->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, wait_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return stream_fail(s, STREAM_ERR_IO);
		}
		if (n == 0)
			break;
		if (pfd.revents & POLLNVAL) {
			errno = EBADF;
			return stream_fail(s, STREAM_ERR_IO);
		}
		return 0;
	}
	errno = ETIMEDOUT;
	return stream_fail(s, STREAM_ERR_TIMEOUT);
}

/* write(2) on a non-socket without dying of SIGPIPE. */
static ssize_t
stream_write_nosigpipe(int fd, const void *data, size_t len)
{
	sigset_t pipe_set, old_set, pending;
	struct timespec zero = {0, 0};
	bool was_pending;
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set) != 0)
		return write(fd, data, len);
	/* A SIGPIPE already pending is not ours to swallow. */
	was_pending = sigpending(&pending) == 0
	    && sigismember(&pending, SIGPIPE);
	n = write(fd, data, len);
	saved = errno;
	if (n < 0 && saved == EPIPE && !was_pending) {
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0
		    && errno == EINTR)
			continue;
	}
	(void)pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	errno = saved;
	return n;
}

/*
 * One read or write system call with the timeout and mode handling
 * described at the top. Returns the count (0 = EOF for reads) or -1
 * with the stream error set.
 */
static ssize_t
stream_sys_io(struct stream *s, bool writing, void *data, size_t len)
{
	short events = writing ? POLLOUT : POLLIN;
	bool poll_first = s->poll_first && s->timeout_ms > 0;
	ssize_t n;

	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (writing && poll_first && len > PIPE_BUF)
		len = PIPE_BUF;
	for (;;) {
		if (poll_first && stream_wait(s, events) < 0)
			return -1;
		if (writing && s->is_socket)
			n = send(s->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		else if (writing)
			n = stream_write_nosigpipe(s->fd, data, len);
		else if (s->is_socket)
			n = recv(s->fd, data, len, MSG_DONTWAIT);
		else
			n = read(s->fd, data, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!poll_first && stream_wait(s, events) < 0)
				return -1;
			continue;
		}
		return stream_fail(s, STREAM_ERR_IO);
	}
}

/* Refill the empty read buffer. Returns bytes read, or -1 (EOF too). */
static ssize_t
stream_fill(struct stream *s)
{
	ssize_t n;

	if (s->err != STREAM_OK)
		return -1;
	if (s->eof)
		return stream_fail(s, STREAM_ERR_EOF);
	s->rpos = s->rlen = 0;
	n = stream_sys_io(s, false, s->rbuf, STREAM_BUFSIZE);
	if (n < 0)
		return -1;
	if (n == 0) {
		s->eof = true;
		return stream_fail(s, STREAM_ERR_EOF);
	}
	s->rlen = (size_t)n;
	return n;
}

int
stream_read(struct stream *s, void *data, size_t len)
{
	char *cp = data;
	size_t take;
	ssize_t n;

	if (s->err != STREAM_OK)
		return -1;
	while (len > 0) {
		if (s->rpos < s->rlen) {
			take = s->rlen - s->rpos;
			if (take > len)
				take = len;
			memcpy(cp, s->rbuf + s->rpos, take);
			s->rpos += take;
			cp += take;
			len -= take;
			continue;
		}
		/* Big reads bypass the buffer: one copy fewer. */
		if (len >= STREAM_BUFSIZE) {
			n = stream_sys_io(s, false, cp, len);
			if (n < 0)
				return -1;
			if (n == 0) {
				s->eof = true;
				return stream_fail(s, STREAM_ERR_EOF);
			}
			cp += n;
			len -= (size_t)n;
			continue;
		}
		if (stream_fill(s) < 0)
			return -1;
	}
	return 0;
}

int
stream_getc(struct stream *s)
{
	if (s->err != STREAM_OK)
		return -1;
	if (s->rpos == s->rlen && stream_fill(s) < 0)
		return -1;
	return (unsigned char)s->rbuf[s->rpos++];
}

ssize_t
stream_get_line(struct stream *s, struct buf *out, size_t limit)
{
	size_t start = out->len, got = 0, take;
	const char *nl;

	if (s->err != STREAM_OK)
		return -1;
	for (;;) {
		if (s->rpos == s->rlen) {
			if (stream_fill(s) < 0)
				break;
		}
		if (got == limit) {
			/* A byte beyond the limit and still no newline. */
			stream_fail(s, STREAM_ERR_LIMIT);
			break;
		}
		take = s->rlen - s->rpos;
		if (take > limit - got)
			take = limit - got;
		nl = memchr(s->rbuf + s->rpos, '\n', take);
		if (nl)
			take = (size_t)(nl - (s->rbuf + s->rpos)) + 1;
		buf_append(out, s->rbuf + s->rpos, take);
		s->rpos += take;
		got += take;
		if (nl)
			return (ssize_t)got;
	}
	/* EOF after a partial line: hand it over; EOF is reported next. */
	if (s->err == STREAM_ERR_EOF && got > 0) {
		s->err = STREAM_OK;
		return (ssize_t)got;
	}
	buf_truncate(out, start);
	return -1;
}

/* Write all of data, bypassing the buffer. */
static int
stream_write_direct(struct stream *s, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = stream_sys_io(s, true, (void *)data, len);
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;	/* no progress; do not spin */
			return stream_fail(s, STREAM_ERR_IO);
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
stream_flush(struct stream *s)
{
	if (s->err != STREAM_OK)
		return -1;
	if (stream_write_direct(s, s->wbuf, s->wlen) < 0)
		return -1;
	s->wlen = 0;
	return 0;
}

int
stream_write(struct stream *s, const void *data, size_t len)
{
	const char *cp = data;
	size_t take;

	if (s->err != STREAM_OK)
		return -1;
	while (len > 0) {
		if (s->wlen == 0 && len >= STREAM_BUFSIZE)
			return stream_write_direct(s, cp, len);
		take = STREAM_BUFSIZE - s->wlen;
		if (take > len)
			take = len;
		memcpy(s->wbuf + s->wlen, cp, take);
		s->wlen += take;
		cp += take;
		len -= take;
		if (s->wlen == STREAM_BUFSIZE && stream_flush(s) < 0)
			return -1;
	}
	return 0;
}

int
stream_puts(struct stream *s, const char *str)
{
	return stream_write(s, str, strlen(str));
}

int
stream_printf(struct stream *s, const char *fmt, ...)
{
	struct buf tmp;
	va_list ap;
	int ret;

	buf_init(&tmp, 128);
	va_start(ap, fmt);
	buf_vprintf(&tmp, fmt, ap);
	va_end(ap);
	ret = stream_write(s, tmp.data, tmp.len);
	buf_fini(&tmp);
	return ret;
}
