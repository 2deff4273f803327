/*
 * smtpd_io.c - smtpd: reading lines and data, writing replies
 *
 *	smtpd_io_init(st, fd);
 *	got = smtpd_io_line(st, &line, limit, &eol);
 *	smtpd_reply(st, "250 2.0.0 Ok");
 *	smtpd_io_fini(st);
 *
 * Input is read into a buffer of SMTPD_IN_SIZE bytes with one read(2)
 * at a time; lines and BDAT chunks are cut out of it, so a pipelined
 * group of commands costs one system call. Replies are buffered in a
 * stream and written when smtpd is about to wait for input (or the
 * buffer fills): the replies to a pipelined group go out together, as
 * RFC 2920 wants. Every wait (read or write) is bounded by
 * smtpd_timeout.
 *
 * A line ends at LF; a CR just before the LF is removed and the ending
 * is reported as SMTPD_EOL_CRLF, a lone LF as SMTPD_EOL_LF (what
 * smtpd_forbid_bare_newline is about). Any other CR is data. A line
 * longer than the caller's limit comes in pieces (SMTPD_GOT_PART); a
 * piece never ends with the CR of a CR LF pair, so the ending is always
 * seen whole.
 *
 * SECURITY: the client controls every byte. Memory is bounded by the
 * input buffer plus the caller's limit; nothing here interprets data.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "stream.h"

#include "smtpd.h"

#define SMTPD_IN_SIZE	65536

/* smtpd_timeout in milliseconds, within what poll(2) takes. */
static int
smtpd_timeout_ms(void)
{
	long long ms = (long long)var_smtpd_timeout * 1000;

	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void
smtpd_io_init(struct smtpd_state *st, int fd)
{
	st->fd = fd;
	st->icap = SMTPD_IN_SIZE;
	st->ibuf = xmalloc(st->icap);
	st->ipos = st->ilen = 0;
	st->ieof = false;
	st->out = stream_new(fd);
	stream_set_timeout(st->out, smtpd_timeout_ms());
}

void
smtpd_io_fini(struct smtpd_state *st)
{
	if (st->out != NULL) {
		if (!st->lost)
			(void)stream_flush(st->out);
		(void)stream_release(st->out);	/* the skeleton closes fd */
		st->out = NULL;
	}
	free(st->ibuf);
	st->ibuf = NULL;
}

int
smtpd_io_flush(struct smtpd_state *st)
{
	if (st->lost)
		return -1;
	if (stream_flush(st->out) < 0) {
		st->lost = true;
		return -1;
	}
	return 0;
}

/* Refill the empty input buffer, after sending the replies so far. */
static enum smtpd_got
smtpd_io_fill(struct smtpd_state *st)
{
	struct pollfd pfd = {.fd = st->fd, .events = POLLIN};
	ssize_t n;
	int ready;

	if (st->ieof)
		return SMTPD_GOT_EOF;
	if (st->lost || smtpd_io_flush(st) < 0)
		return SMTPD_GOT_ERROR;
	for (;;) {
		ready = poll(&pfd, 1, smtpd_timeout_ms());
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return SMTPD_GOT_ERROR;
		if (ready == 0)
			return SMTPD_GOT_TIMEOUT;
		n = read(st->fd, st->ibuf, st->icap);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			st->lost = true;
			return SMTPD_GOT_ERROR;
		}
		st->ipos = 0;
		st->ilen = (size_t)n;
		if (n == 0) {
			st->ieof = true;
			return SMTPD_GOT_EOF;
		}
		return SMTPD_GOT_LINE;
	}
}

enum smtpd_got
smtpd_io_line(struct smtpd_state *st, struct buf *line, size_t limit,
    enum smtpd_eol *eol)
{
	enum smtpd_got got;
	const char *start, *nl;
	size_t avail, room, take;

	buf_reset(line);
	*eol = SMTPD_EOL_NONE;
	for (;;) {
		if (st->ipos == st->ilen
		    && (got = smtpd_io_fill(st)) != SMTPD_GOT_LINE)
			return got;
		start = st->ibuf + st->ipos;
		avail = st->ilen - st->ipos;
		room = limit - line->len;
		/* Look one byte further: an LF right after a full piece. */
		nl = memchr(start, '\n', avail < room + 1 ? avail : room + 1);
		if (nl != NULL) {
			take = (size_t)(nl - start);
			buf_append(line, start, take);
			st->ipos += take + 1;
			if (line->len > 0 && line->data[line->len - 1] == '\r') {
				buf_truncate(line, line->len - 1);
				*eol = SMTPD_EOL_CRLF;
			} else {
				*eol = SMTPD_EOL_LF;
			}
			return SMTPD_GOT_LINE;
		}
		take = avail < room ? avail : room;
		buf_append(line, start, take);
		st->ipos += take;
		if (line->len >= limit) {
			/* Keep a final CR with the LF that may follow. */
			if (take > 0 && line->data[line->len - 1] == '\r') {
				buf_truncate(line, line->len - 1);
				st->ipos--;
			}
			return SMTPD_GOT_PART;
		}
	}
}

enum smtpd_got
smtpd_io_read(struct smtpd_state *st, struct buf *out, size_t len)
{
	enum smtpd_got got;
	size_t take;

	if (len == 0)
		return SMTPD_GOT_LINE;
	if (st->ipos == st->ilen && (got = smtpd_io_fill(st)) != SMTPD_GOT_LINE)
		return got;
	take = st->ilen - st->ipos;
	if (take > len)
		take = len;
	buf_append(out, st->ibuf + st->ipos, take);
	st->ipos += take;
	return SMTPD_GOT_LINE;
}

/*
 * Input already here? What the socket has is read into the buffer (so
 * that it can be logged); a client that merely closed the connection
 * has sent nothing.
 */
bool
smtpd_io_pending(struct smtpd_state *st)
{
	ssize_t n;

	if (st->ipos < st->ilen)
		return true;
	if (st->ieof || st->lost)
		return false;
	n = recv(st->fd, st->ibuf, st->icap, MSG_DONTWAIT);
	if (n > 0) {
		st->ipos = 0;
		st->ilen = (size_t)n;
		return true;
	}
	if (n == 0)
		st->ieof = true;
	return false;
}

size_t
smtpd_io_peek(struct smtpd_state *st, const char **data)
{
	*data = st->ibuf + st->ipos;
	return st->ilen - st->ipos;
}

void
smtpd_io_discard(struct smtpd_state *st)
{
	st->ipos = st->ilen = 0;
}

void
smtpd_reply(struct smtpd_state *st, const char *fmt, ...)
{
	va_list ap;
	char *cp, *nl;

	if (st->lost)
		return;
	buf_reset(&st->reply);
	va_start(ap, fmt);
	buf_vprintf(&st->reply, fmt, ap);
	va_end(ap);
	st->reply_code = atoi(st->reply.data);
	/* "ddd text\nmore" -> "ddd-text" CRLF "ddd more" CRLF */
	for (cp = st->reply.data; (nl = strchr(cp, '\n')) != NULL; cp = nl + 1) {
		if (msg_verbose)
			msg_info("> %s: %.*s", st->namaddr ? st->namaddr : "",
			    (int)(nl - cp), cp);
		(void)stream_write(st->out, st->reply.data, 3);
		(void)stream_write(st->out, "-", 1);
		(void)stream_write(st->out, cp + (cp == st->reply.data ? 4 : 0),
		    (size_t)(nl - cp) - (cp == st->reply.data ? 4 : 0));
		(void)stream_write(st->out, "\r\n", 2);
	}
	if (msg_verbose)
		msg_info("> %s: %s", st->namaddr ? st->namaddr : "", cp);
	if (cp != st->reply.data) {
		(void)stream_write(st->out, st->reply.data, 4);
		(void)stream_write(st->out, cp, strlen(cp));
	} else {
		(void)stream_write(st->out, cp, strlen(cp));
	}
	(void)stream_write(st->out, "\r\n", 2);
	if (stream_error(st->out) != STREAM_OK)
		st->lost = true;
}
