/*
 * sendmail_deliver.c - the default mode: one message from standard input
 *
 * sm_deliver() reads the message as it arrives, never all of it into
 * memory, and turns it into the records of a local submission
 * (cleanup_clnt.h) for postdrop (sendmail_postdrop.c): one NORM per
 * line, LF, CRLF and a bare CR each ending a line, lines longer than
 * line_length_limit split into CONT pieces. Without -i a line with a
 * single "." ends the input. With -t the header block is held (at most
 * header_size_limit bytes, as records) until its end, so that the
 * recipients of To:, Cc: and Bcc: (or of the Resent-* headers) are
 * known before postdrop starts; Bcc: and Resent-Bcc: are not copied.
 *
 * Every failure is fatal, with the exit status sendmail.c documents;
 * postdrop is killed first, so nothing half-written is queued.
 *
 * SECURITY: standard input is the user's; header values are parsed with
 * bounded memory (header_size_limit) and work.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr_list.h"
#include "argv.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "rec.h"

#include "sendmail.h"

/* ---- reading the message ------------------------------------------------- */

#define SM_IN_SIZE	65536

enum sm_line {
	SM_LINE,			/* a whole line (terminator eaten) */
	SM_PART,			/* limit reached, the line goes on */
	SM_LAST,			/* a last line without terminator */
	SM_EOF,				/* nothing left */
};

struct sm_in {
	char *buf;
	size_t pos, len;
	bool eof;
	bool after_cr;			/* a CR ended the last line */
};

/* Forward: give up on the message (kills postdrop); never returns. */
static _Noreturn void sm_abort(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Read the next line, or its next limit bytes, into line (replaced).
 * LF, CRLF and a bare CR each end a line; NUL bytes are data.
 */
static enum sm_line
sm_getline(struct sm_in *in, struct buf *line, size_t limit)
{
	size_t i, take;
	ssize_t n;
	char ch;

	buf_reset(line);
	for (;;) {
		if (in->pos == in->len) {
			if (in->eof)
				return line->len > 0 ? SM_LAST : SM_EOF;
			n = read(STDIN_FILENO, in->buf, SM_IN_SIZE);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				sm_abort(EX_IOERR, "read standard input: %m");
			in->pos = 0;
			in->len = (size_t)n;
			in->eof = n == 0;
			continue;
		}
		if (in->after_cr) {
			in->after_cr = false;
			if (in->buf[in->pos] == '\n') {
				in->pos++;
				continue;
			}
		}
		if (line->len >= limit)
			return SM_PART;
		take = in->len - in->pos;
		if (take > limit - line->len)
			take = limit - line->len;
		for (i = 0; i < take; i++) {
			ch = in->buf[in->pos + i];
			if (ch == '\n' || ch == '\r')
				break;
		}
		buf_append(line, in->buf + in->pos, i);
		in->pos += i;
		if (i < take) {
			in->after_cr = in->buf[in->pos] == '\r';
			in->pos++;
			return SM_LINE;
		}
	}
}


/* ---- talking to postdrop ------------------------------------------------- */

static _Noreturn void
sm_abort(int status, const char *fmt, ...)
{
	struct buf text;
	va_list ap;

	/* Format first: killing postdrop may change errno (%m). */
	buf_init(&text, 128);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	sm_drop_abort();
	msg_fatal_status(status, "%s", text.data);
}

/* postdrop went away while we wrote: report its status. */
static _Noreturn void
sm_lost_postdrop(void)
{
	bool lost;
	int status;

	status = sm_drop_finish(&lost);
	if (status == EX_OK)
		status = EX_SOFTWARE;
	msg_fatal_status(status, "lost connection with postdrop; message "
	    "not queued");
}

/* Check and write one record. */
static void
sm_put(int type, const char *data, size_t len)
{
	static struct buf why;

	if (why.data == NULL)
		buf_init(&why, 64);
	buf_reset(&why);
	switch (sm_drop_put(type, data, len, &why)) {
	case SM_DROP_SIZE:
		sm_abort(EX_DATAERR, "%s", why.data);
	case SM_DROP_BAD:
		sm_abort(EX_SOFTWARE, "internal error: %s", why.data);
	case SM_DROP_LOST:
		sm_lost_postdrop();
	case SM_DROP_OK:
		break;
	}
}

static void
sm_put_attr(const char *name, const char *value)
{
	struct buf rec;

	if (value == NULL)
		return;
	buf_init(&rec, 64);
	buf_printf(&rec, "%s=%s", name, value);
	sm_put(REC_TYPE_ATTR, rec.data, rec.len);
	buf_fini(&rec);
}

/* The envelope, once the recipients are known. */
static void
sm_envelope(const struct sm_opts *opts, const char *sender)
{
	struct buf notify;
	size_t i;

	buf_init(&notify, 8);
	if (opts->notify)
		buf_printf(&notify, "%d", opts->notify);
	sm_put_attr(MAIL_ATTR_FULL_NAME, opts->full_name);
	sm_put_attr(MAIL_ATTR_ENVID, opts->envid);
	sm_put_attr(MAIL_ATTR_RET, opts->ret);
	sm_put_attr(MAIL_ATTR_BODY_TYPE, opts->body_type);
	sm_put(REC_TYPE_FROM, sender, strlen(sender));
	for (i = 0; i < opts->rcpts->argc; i++) {
		if (opts->notify)
			sm_put(REC_TYPE_NOTIFY, notify.data, notify.len);
		sm_put(REC_TYPE_RCPT, opts->rcpts->argv[i],
		    strlen(opts->rcpts->argv[i]));
		if (msg_verbose)
			msg_info("recipient: %s", opts->rcpts->argv[i]);
	}
	sm_put(REC_TYPE_MESG, "", 0);
	buf_fini(&notify);
}

/* ---- the header block (-t) ----------------------------------------------- */

enum sm_hdr_kind {
	SM_HDR_OTHER,
	SM_HDR_RCPT,			/* To, Cc, Bcc */
	SM_HDR_RESENT_RCPT,		/* Resent-To, -Cc, -Bcc */
};

struct sm_headers {
	struct buf recs;		/* header lines as records */
	size_t bytes;			/* against header_size_limit */
	bool have_cur;			/* a logical header is open */
	enum sm_hdr_kind kind;
	bool drop;			/* Bcc: not copied */
	struct buf value;		/* of an address header */
	bool resent;			/* a Resent-* header was seen */
	struct argv *normal, *resent_rcpts;
};

/*
 * Length of the header name when line starts a header ("Name:", the
 * name printable ASCII without ':', blanks allowed before ':'), else 0.
 */
static size_t
sm_header_name(const char *line, size_t len)
{
	size_t i, name_len;

	for (i = 0; i < len && line[i] > ' ' && line[i] < 0x7f
	    && line[i] != ':'; i++)
		;
	name_len = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return name_len > 0 && i < len && line[i] == ':' ? name_len : 0;
}

static bool
sm_name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* The open logical header is complete: extract its addresses. */
static void
sm_header_end(struct sm_headers *h)
{
	struct argv *out;
	struct argv *got;
	size_t i;

	if (!h->have_cur)
		return;
	h->have_cur = false;
	if (h->kind == SM_HDR_OTHER)
		return;
	out = h->kind == SM_HDR_RCPT ? h->normal : h->resent_rcpts;
	got = argv_new();
	(void)addr_list_parse(got, h->value.data, h->value.len, SIZE_MAX);
	for (i = 0; i < got->argc; i++) {
		if (strlen(got->argv[i]) > CLEANUP_CLNT_ADDR_LIMIT)
			msg_warn("ignoring a recipient address longer than "
			    "%d bytes", CLEANUP_CLNT_ADDR_LIMIT);
		else
			argv_add(out, got->argv[i]);
	}
	argv_free(got);
}

/* A new logical header starts with line (name_len > 0). */
static void
sm_header_start(struct sm_headers *h, const char *line, size_t len,
    size_t name_len)
{
	const char *colon = memchr(line, ':', len);

	sm_header_end(h);
	h->have_cur = true;
	h->kind = SM_HDR_OTHER;
	buf_reset(&h->value);
	if (name_len > 7 && strncasecmp(line, "Resent-", 7) == 0)
		h->resent = true;
	if (sm_name_is(line, name_len, "To")
	    || sm_name_is(line, name_len, "Cc")
	    || sm_name_is(line, name_len, "Bcc"))
		h->kind = SM_HDR_RCPT;
	else if (sm_name_is(line, name_len, "Resent-To")
	    || sm_name_is(line, name_len, "Resent-Cc")
	    || sm_name_is(line, name_len, "Resent-Bcc"))
		h->kind = SM_HDR_RESENT_RCPT;
	h->drop = sm_name_is(line, name_len, "Bcc")
	    || sm_name_is(line, name_len, "Resent-Bcc");
	if (h->kind != SM_HDR_OTHER)
		buf_append(&h->value, colon + 1, len - (size_t)(colon + 1
		    - line));
}

/* ---- the message --------------------------------------------------------- */

static void
sm_put_content(enum sm_line got, const struct buf *line)
{
	sm_put(got == SM_PART ? REC_TYPE_CONT : REC_TYPE_NORM, line->data,
	    line->len);
}

/* Envelope, then the held header records; postdrop starts here. */
static void
sm_begin(struct sm_opts *opts, const char *sender, struct sm_headers *h)
{
	struct argv *extra;
	struct buf why;
	size_t off = 0, data_off, data_len, i;
	ssize_t used;
	int type, status;

	if (h != NULL) {
		sm_header_end(h);
		extra = h->resent ? h->resent_rcpts : h->normal;
		for (i = 0; i < extra->argc; i++)
			argv_add(opts->rcpts, extra->argv[i]);
	}
	if (opts->rcpts->argc == 0)
		msg_fatal_status(EX_USAGE, "no recipients specified");
	buf_init(&why, 64);
	if ((status = sm_drop_start(false, &why)) != 0)
		msg_fatal_status(status, "%s", why.data);
	sm_envelope(opts, sender);
	if (h == NULL) {
		buf_fini(&why);
		return;
	}
	while (off < h->recs.len) {
		used = rec_decode(h->recs.data + off, h->recs.len - off,
		    CLEANUP_CLNT_REC_LIMIT, &type, &data_off, &data_len, &why);
		if (used <= 0)
			sm_abort(EX_SOFTWARE, "internal error: header "
			    "records: %s", why.data);
		sm_put(type, h->recs.data + off + data_off, data_len);
		off += (size_t)used;
	}
	buf_fini(&why);
}

int
sm_deliver(struct sm_opts *opts, const char *sender)
{
	struct sm_in in = {0};
	struct sm_headers h = {0}, *hp = NULL;
	struct buf line;
	enum sm_line got;
	size_t name_len, add;
	bool mid_line = false, value_part, in_headers = opts->extract;
	bool lost;
	int status;

	in.buf = xmalloc(SM_IN_SIZE);
	buf_init(&line, 256);
	if (opts->extract) {
		hp = &h;
		buf_init(&h.recs, 4096);
		buf_init(&h.value, 256);
		h.normal = argv_new();
		h.resent_rcpts = argv_new();
	} else {
		sm_begin(opts, sender, NULL);
	}
	while ((got = sm_getline(&in, &line,
	    (size_t)var_line_length_limit)) != SM_EOF) {
		if (!mid_line && got != SM_PART && opts->dot_ends
		    && line.len == 1 && line.data[0] == '.')
			break;
		/* More of the open header's value: a piece, or folding. */
		value_part = mid_line;
		if (in_headers && !mid_line) {
			if (h.have_cur && (line.data[0] == ' '
			    || line.data[0] == '\t')) {
				value_part = true;
				if (h.kind != SM_HDR_OTHER)
					buf_putc(&h.value, '\n');
			} else if ((name_len = sm_header_name(line.data,
			    line.len)) > 0) {
				sm_header_start(&h, line.data, line.len,
				    name_len);
			} else {
				/* An empty or other line: the body. */
				in_headers = false;
				sm_begin(opts, sender, hp);
			}
		}
		if (in_headers) {
			add = line.len + (got != SM_PART);
			if (h.bytes + add > (size_t)var_header_size_limit)
				sm_abort(EX_DATAERR, "message header exceeds "
				    "header_size_limit (%ld bytes)",
				    var_header_size_limit);
			h.bytes += add;
			if (value_part && h.kind != SM_HDR_OTHER)
				buf_append(&h.value, line.data, line.len);
			if (!h.drop)
				rec_encode(&h.recs, got == SM_PART
				    ? REC_TYPE_CONT : REC_TYPE_NORM, line.data,
				    line.len);
		} else {
			sm_put_content(got, &line);
		}
		mid_line = got == SM_PART;
		if (got == SM_LAST)
			break;
	}
	if (in_headers)
		sm_begin(opts, sender, hp);
	/* A line cut at the limit just before end of input ends here. */
	if (mid_line)
		sm_put(REC_TYPE_NORM, "", 0);
	sm_put(REC_TYPE_XTRA, "", 0);
	sm_put(REC_TYPE_END, "", 0);
	status = sm_drop_finish(&lost);
	if (lost)
		msg_fatal_status(status == EX_OK ? EX_SOFTWARE : status,
		    "lost connection with postdrop; message not queued");
	if (opts->extract) {
		buf_fini(&h.recs);
		buf_fini(&h.value);
		argv_free(h.normal);
		argv_free(h.resent_rcpts);
	}
	buf_fini(&line);
	free(in.buf);
	return status;
}

