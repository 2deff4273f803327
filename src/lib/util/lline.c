/*
 * lline.c - read logical lines (see lline.h for the syntax)
 *
 * A reader pulls one physical line at a time, from a stdio stream or
 * from a private copy of a memory block, strips its trailing whitespace,
 * skips it when it is blank or a comment, and either appends it to the
 * logical line being built (it starts with whitespace) or keeps it as
 * the start of the next logical line. That one line of look-ahead is why
 * the reader holds a "pending" physical line between calls.
 *
 * Errors are sticky: once lline_next() has failed, every later call
 * fails with the same text, so a caller that ignores one error cannot
 * go on to read a table that is only half right. An error met while
 * looking ahead fails the logical line being built too: the bad
 * physical line might have been its continuation.
 *
 * SECURITY: sources may be written by untrusted users (e.g. ~/.forward
 * style files or tables built from outside data). A physical line is
 * never read past LLINE_MAX bytes, a logical line never grows past
 * LLINE_MAX bytes, so at most two bounded buffers exist per reader. A
 * NUL byte ends the reading with an error rather than cutting a line
 * short where C string code would.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lline.h"
#include "mem.h"

struct lline_reader {
	FILE *fp;		/* stream source (not ours), or NULL */
	char *text;		/* private copy of a memory source */
	size_t text_len;
	size_t text_pos;
	char *file;		/* name for messages */
	int lineno;		/* physical lines read so far */
	struct buf phys;	/* last physical line read */
	int phys_lineno;	/* its number */
	bool pending;		/* phys holds an unconsumed line */
	bool eof;
	bool failed;		/* sticky error, text in error */
	struct buf error;
};

static bool
lline_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'
	    || ch == '\f' || ch == '\v';
}

static struct lline_reader *
lline_new(const char *file)
{
	struct lline_reader *r = xcalloc(1, sizeof(*r));

	r->file = xstrdup(file ? file : "(input)");
	buf_init(&r->phys, 256);
	buf_init(&r->error, 0);
	return r;
}

struct lline_reader *
lline_open(FILE *fp, const char *file)
{
	struct lline_reader *r = lline_new(file);

	r->fp = fp;
	return r;
}

struct lline_reader *
lline_open_text(const char *text, size_t len, const char *file)
{
	struct lline_reader *r = lline_new(file);

	/* A copy, so the caller's text need not outlive the reader. */
	r->text = xmemdup(len ? text : "", len);
	r->text_len = len;
	return r;
}

void
lline_close(struct lline_reader *r)
{
	if (r == NULL)
		return;
	buf_fini(&r->phys);
	buf_fini(&r->error);
	free(r->text);
	free(r->file);
	free(r);
}

/* Record the (sticky) error for physical line lineno. */
static int
lline_fail(struct lline_reader *r, int lineno, const char *problem)
{
	buf_reset(&r->error);
	buf_printf(&r->error, "%s, line %d: %s", r->file, lineno, problem);
	r->failed = true;
	return -1;
}

static int
lline_too_long(struct lline_reader *r, int lineno)
{
	struct buf msg;
	int rc;

	buf_init(&msg, 64);
	buf_printf(&msg, "line longer than %d bytes", LLINE_MAX);
	rc = lline_fail(r, lineno, msg.data);
	buf_fini(&msg);
	return rc;
}

/* One physical line from memory: 1, 0 at the end, -1 on error. */
static int
lline_read_text(struct lline_reader *r)
{
	const char *start = r->text + r->text_pos;
	size_t left = r->text_len - r->text_pos;
	const char *nl;
	size_t len;

	if (left == 0)
		return 0;
	r->phys_lineno = ++r->lineno;
	nl = memchr(start, '\n', left);
	len = nl ? (size_t)(nl - start) : left;
	if (len > LLINE_MAX)
		return lline_too_long(r, r->phys_lineno);
	if (memchr(start, '\0', len) != NULL)
		return lline_fail(r, r->phys_lineno, "NUL byte in line");
	buf_setn(&r->phys, start, len);
	r->text_pos += nl ? len + 1 : len;
	return 1;
}

/*
 * One physical line from a stream. A byte loop, not getline(3): it stops
 * at the limit instead of allocating whatever a line demands, and it
 * sees NUL bytes.
 */
static int
lline_read_stream(struct lline_reader *r)
{
	int ch;
	bool any = false;

	buf_reset(&r->phys);
	flockfile(r->fp);
	while ((ch = getc_unlocked(r->fp)) != EOF) {
		if (!any) {
			any = true;
			r->phys_lineno = ++r->lineno;
		}
		if (ch == '\n')
			break;
		if (ch == '\0') {
			funlockfile(r->fp);
			return lline_fail(r, r->phys_lineno,
			    "NUL byte in line");
		}
		if (r->phys.len >= LLINE_MAX) {
			funlockfile(r->fp);
			return lline_too_long(r, r->phys_lineno);
		}
		buf_putc(&r->phys, ch);
	}
	if (ch == EOF && ferror(r->fp)) {
		int err = errno;
		struct buf msg;

		funlockfile(r->fp);
		buf_init(&msg, 64);
		buf_printf(&msg, "read error: %s", strerror(err));
		lline_fail(r, any ? r->phys_lineno : r->lineno + 1,
		    msg.data);
		buf_fini(&msg);
		return -1;
	}
	funlockfile(r->fp);
	return any ? 1 : 0;
}

/*
 * Read physical lines until one that is neither blank nor a comment;
 * leave it, trailing whitespace removed, in r->phys. 1, 0, -1.
 */
static int
lline_fill(struct lline_reader *r)
{
	const char *cp;
	size_t len;
	int rc;

	for (;;) {
		if (r->eof)
			return 0;
		rc = r->fp ? lline_read_stream(r) : lline_read_text(r);
		if (rc <= 0) {
			if (rc == 0)
				r->eof = true;
			return rc;
		}
		len = r->phys.len;
		while (len > 0
		    && lline_space((unsigned char)r->phys.data[len - 1]))
			len--;
		buf_truncate(&r->phys, len);
		for (cp = r->phys.data; lline_space((unsigned char)*cp); cp++)
			;
		if (*cp == '\0' || *cp == '#')
			continue;
		return 1;
	}
}

int
lline_next(struct lline_reader *r, struct buf *out, int *lineno,
    struct buf *why)
{
	bool have = false;
	int start = 0;
	int rc;

	buf_reset(out);
	if (r->failed)
		goto fail;
	for (;;) {
		if (!r->pending) {
			if ((rc = lline_fill(r)) < 0)
				goto fail;
			if (rc == 0)
				break;
			r->pending = true;
		}
		if (lline_space((unsigned char)r->phys.data[0])) {
			/* Continuation of the logical line being built. */
			if (!have) {
				lline_fail(r, r->phys_lineno, "logical line "
				    "must not start with whitespace");
				goto fail;
			}
			if (r->phys.len > LLINE_MAX - out->len) {
				lline_too_long(r, start);
				goto fail;
			}
			buf_append(out, r->phys.data, r->phys.len);
			r->pending = false;
			continue;
		}
		if (have)
			break;		/* keep it for the next call */
		buf_setn(out, r->phys.data, r->phys.len);
		start = r->phys_lineno;
		have = true;
		r->pending = false;
	}
	if (!have)
		return 0;
	if (lineno)
		*lineno = start;
	return 1;

fail:
	buf_reset(out);
	if (why)
		buf_set(why, r->error.data);
	return -1;
}
