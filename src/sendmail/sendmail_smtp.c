/*
 * sendmail_smtp.c - sendmail -bs: SMTP on standard input and output
 *
 * usage:	sendmail -bs [-C config] < dialogue
 *
 * As Postfix's sendmail -bs runs its smtpd in stand-alone mode for a
 * local user, sm_smtp() holds an SMTP session (RFC 5321) on standard
 * input and output: greeting "220 $smtpd_banner"; EHLO (PIPELINING,
 * SIZE $message_size_limit, VRFY, ENHANCEDSTATUSCODES, 8BITMIME, DSN) or
 * HELO; MAIL FROM:<addr> [SIZE=n] [BODY=7BIT|8BITMIME] [RET=FULL|HDRS]
 * [ENVID=xtext]; RCPT TO:<addr> [NOTIFY=...] [ORCPT=type;xtext]; DATA;
 * RSET, NOOP, VRFY (252), HELP, QUIT; any number of messages. Replies
 * carry enhanced status codes (RFC 3463).
 *
 * Each message goes, as it arrives, into its own postdrop run
 * (sendmail_postdrop.c) as the records sendmail writes for a normal
 * submission: ENVID, RET and BODY become attributes, MAIL FROM the
 * envelope sender (a local user may set it, as with -f; <> is the null
 * sender), each recipient an RCPT record after its ORCP (the decoded
 * ORCPT "type;address") and NOTIFY records. Message lines end with CRLF
 * or, as standard input is often a pipe, a bare LF (a CR before anything
 * else is data); a line with a single "." ends the data, a leading "."
 * is removed from the others, and lines longer than line_length_limit
 * (after that) are split into CONT pieces. A message over
 * message_size_limit (SIZE= at MAIL, or counted while the data arrives)
 * is refused with 552 and postdrop is killed, so nothing of it is
 * queued; a postdrop that fails gets the message a 451.
 *
 * Replies are buffered and written when the input has nothing more to
 * read (PIPELINING). Each read waits at most smtpd_timeout. The session
 * ends with QUIT, or at the end of input; the end of input or a timeout
 * in the middle of a transaction is answered with 421 and the unfinished
 * message is discarded.
 *
 * smtpd_timeout (default 300s) and smtpd_recipient_limit (default 1000)
 * are Postfix's parameters; params.def does not declare them yet, so
 * they are read here by name from main.cf, converted as declared ones.
 *
 * SECURITY: everything on standard input is hostile: command lines are
 * bounded (SMTP_LINE_LIMIT), message lines are read in pieces of at
 * most line_length_limit bytes, the recipients of a transaction are
 * bounded by smtpd_recipient_limit, addresses and parameters are checked
 * against RFC 5321's syntax (smtp_syntax.c) before they reach
 * postdrop (which checks them again), and commands with NUL or
 * non-ASCII bytes are refused.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup_clnt.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "rec.h"
#include "smtp_syntax.h"
#include "str.h"
#include "stream.h"

#include "sendmail.h"

#define SMTP_LINE_LIMIT	2048		/* a command line, without CRLF */
#define SMTP_IN_SIZE	65536

enum smtp_got {
	SMTP_GOT_LINE,			/* a whole line (ending eaten) */
	SMTP_GOT_PART,			/* limit reached, the line goes on */
	SMTP_GOT_LAST,			/* a last line without its ending */
	SMTP_GOT_EOF,			/* nothing left */
	SMTP_GOT_TIMEOUT,		/* smtpd_timeout expired */
	SMTP_GOT_ERROR,			/* read error (errno set) */
};

enum smtp_next {
	SMTP_NEXT,			/* read the next command */
	SMTP_END,			/* the session is over: st->status */
};

enum smtp_data_state {
	SMTP_DATA_OK,
	SMTP_DATA_SIZE,			/* over message_size_limit */
	SMTP_DATA_FAIL,			/* postdrop failed */
};

struct smtp_rcpt {
	char *addr;
	char *orcpt;			/* "type;address" or NULL */
	int notify;			/* DSN_NOTIFY_* bits, 0: none */
};

struct smtp_state {
	/* Input and output. */
	char *ibuf;
	size_t ipos, ilen;
	bool ieof;
	int timeout_ms;
	struct stream *out;
	struct buf line;		/* the command or data line */
	struct buf reply;
	struct buf why;
	struct buf tmp;
	const char *where;		/* last command, for logging */
	int rcpt_limit;
	int status;			/* exit status once SMTP_END */
	/* The transaction. */
	bool have_mail;
	char *sender;
	char *envid;
	const char *ret;
	const char *body_type;
	struct smtp_rcpt *rcpts;
	size_t nrcpts;
	size_t rcpts_refused;		/* RCPT commands refused */
	enum smtp_data_state data_state;
};

/* ---- configuration ------------------------------------------------------ */

/* ---- input and output --------------------------------------------------- */

/* Send one reply line (fmt without CRLF); errors show at the next flush. */
static void __attribute__((format(printf, 2, 3)))
smtp_reply(struct smtp_state *st, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&st->reply);
	va_start(ap, fmt);
	buf_vprintf(&st->reply, fmt, ap);
	va_end(ap);
	if (msg_verbose)
		msg_info("> %s", st->reply.data);
	buf_puts(&st->reply, "\r\n");
	(void)stream_write(st->out, st->reply.data, st->reply.len);
}

/*
 * Refill the input buffer, after writing the replies so far (the client
 * may wait for them before it sends more). SMTP_GOT_LINE means "filled".
 */
static enum smtp_got
smtp_fill(struct smtp_state *st)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	ssize_t n;
	int ready;

	if (st->ieof)
		return SMTP_GOT_EOF;
	if (stream_flush(st->out) < 0)
		return SMTP_GOT_ERROR;	/* smtp_lost() tells it apart */
	for (;;) {
		ready = poll(&pfd, 1, st->timeout_ms);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return SMTP_GOT_ERROR;
		if (ready == 0)
			return SMTP_GOT_TIMEOUT;
		n = read(STDIN_FILENO, st->ibuf, SMTP_IN_SIZE);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return SMTP_GOT_ERROR;
		st->ipos = 0;
		st->ilen = (size_t)n;
		if (n == 0) {
			st->ieof = true;
			return SMTP_GOT_EOF;
		}
		return SMTP_GOT_LINE;
	}
}

/*
 * Read the next line, or its next limit bytes, into line (replaced). A
 * line ends with LF or CRLF; a CR before anything else is data, and so
 * are NUL bytes.
 */
static enum smtp_got
smtp_get(struct smtp_state *st, struct buf *line, size_t limit)
{
	enum smtp_got got;
	size_t i, take;
	char ch;

	buf_reset(line);
	for (;;) {
		if (line->len >= limit)
			return SMTP_GOT_PART;
		if (st->ipos == st->ilen) {
			got = smtp_fill(st);
			if (got == SMTP_GOT_EOF)
				return line->len > 0 ? SMTP_GOT_LAST
				    : SMTP_GOT_EOF;
			if (got != SMTP_GOT_LINE)
				return got;
			continue;
		}
		take = st->ilen - st->ipos;
		if (take > limit - line->len)
			take = limit - line->len;
		for (i = 0; i < take; i++) {
			ch = st->ibuf[st->ipos + i];
			if (ch == '\n' || ch == '\r')
				break;
		}
		buf_append(line, st->ibuf + st->ipos, i);
		st->ipos += i;
		if (i == take)
			continue;
		if (st->ibuf[st->ipos++] == '\n')
			return SMTP_GOT_LINE;
		/* A CR: the end of the line only before LF. */
		if (st->ipos == st->ilen) {
			got = smtp_fill(st);
			if (got == SMTP_GOT_TIMEOUT || got == SMTP_GOT_ERROR)
				return got;
		}
		if (st->ipos < st->ilen && st->ibuf[st->ipos] == '\n') {
			st->ipos++;
			return SMTP_GOT_LINE;
		}
		buf_putc(line, '\r');	/* len < limit here */
	}
}

/*
 * smtp_get() at the start of a message line: a leading "." is removed
 * first (*dot tells), so that it does not count against limit.
 */
static enum smtp_got
smtp_get_data(struct smtp_state *st, struct buf *line, size_t limit,
    bool *dot)
{
	enum smtp_got got;

	*dot = false;
	if (st->ipos == st->ilen) {
		got = smtp_fill(st);
		if (got != SMTP_GOT_LINE) {
			buf_reset(line);
			return got;
		}
	}
	if (st->ibuf[st->ipos] == '.') {
		st->ipos++;
		*dot = true;
	}
	return smtp_get(st, line, limit);
}

/*
 * The input ended or failed (got), or the output failed: end the
 * session. The end of input between transactions is a normal end.
 */
static enum smtp_next
smtp_lost(struct smtp_state *st, enum smtp_got got)
{
	int saved = errno;

	sm_drop_abort();
	if (stream_error(st->out) != STREAM_OK) {
		msg_warn("write standard output after %s: %s", st->where,
		    stream_error(st->out) == STREAM_ERR_TIMEOUT ? "timeout"
		    : strerror(saved));
		st->status = EX_IOERR;
		return SMTP_END;
	}
	switch (got) {
	case SMTP_GOT_TIMEOUT:
		msg_warn("timeout after %s%s", st->where, st->have_mail
		    ? "; message not queued" : "");
		smtp_reply(st, "421 4.4.2 %s Error: timeout exceeded",
		    var_myhostname);
		st->status = EX_TEMPFAIL;
		break;
	case SMTP_GOT_ERROR:
		msg_warn("read standard input after %s: %s", st->where,
		    strerror(saved));
		smtp_reply(st, "421 4.4.2 %s Error: read error",
		    var_myhostname);
		st->status = EX_IOERR;
		break;
	default:
		if (!st->have_mail) {
			st->status = EX_OK;
			break;
		}
		msg_warn("end of input after %s; message not queued",
		    st->where);
		smtp_reply(st, "421 4.4.2 %s Error: unexpected end of input",
		    var_myhostname);
		st->status = EX_TEMPFAIL;
		break;
	}
	return SMTP_END;
}

/* Set bit in *seen; false when it was already set. */
static bool
smtp_once(unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return false;
	*seen |= bit;
	return true;
}

/* ---- the transaction ---------------------------------------------------- */

static void
smtp_reset(struct smtp_state *st)
{
	size_t i;

	for (i = 0; i < st->nrcpts; i++) {
		free(st->rcpts[i].addr);
		free(st->rcpts[i].orcpt);
	}
	free(st->rcpts);
	st->rcpts = NULL;
	st->nrcpts = 0;
	st->rcpts_refused = 0;
	free(st->sender);
	st->sender = NULL;
	free(st->envid);
	st->envid = NULL;
	st->ret = NULL;
	st->body_type = NULL;
	st->have_mail = false;
}

/* ---- commands ----------------------------------------------------------- */

static enum smtp_next
smtp_helo_ehlo(struct smtp_state *st, const char *args, bool esmtp)
{
	if (*args == 0) {
		smtp_reply(st, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return SMTP_NEXT;
	}
	smtp_reset(st);
	if (!esmtp) {
		smtp_reply(st, "250 %s", var_myhostname);
		return SMTP_NEXT;
	}
	smtp_reply(st, "250-%s", var_myhostname);
	smtp_reply(st, "250-PIPELINING");
	if (var_message_size_limit > 0)
		smtp_reply(st, "250-SIZE %ld", var_message_size_limit);
	else
		smtp_reply(st, "250-SIZE");
	smtp_reply(st, "250-VRFY");
	smtp_reply(st, "250-ENHANCEDSTATUSCODES");
	smtp_reply(st, "250-8BITMIME");
	smtp_reply(st, "250 DSN");
	return SMTP_NEXT;
}

static enum smtp_next
smtp_helo(struct smtp_state *st, char *args)
{
	return smtp_helo_ehlo(st, args, false);
}

static enum smtp_next
smtp_ehlo(struct smtp_state *st, char *args)
{
	return smtp_helo_ehlo(st, args, true);
}

enum {
	SMTP_P_SIZE = 1 << 0,
	SMTP_P_BODY = 1 << 1,
	SMTP_P_RET = 1 << 2,
	SMTP_P_ENVID = 1 << 3,
	SMTP_P_NOTIFY = 1 << 4,
	SMTP_P_ORCPT = 1 << 5,
};

/* SIZE=n: true when acceptable, else after the reply. */
static bool
smtp_mail_size(struct smtp_state *st, const char *value)
{
	unsigned long size;

	if (value == NULL || value[strspn(value, "0123456789")] != 0) {
		smtp_reply(st, "501 5.5.4 Bad message size syntax");
		return false;
	}
	/* All digits: a conversion error is a number too big. */
	if (str_to_ulong(value, &size) < 0 || (var_message_size_limit > 0
	    && size > (unsigned long)var_message_size_limit)) {
		smtp_reply(st, "552 5.3.4 Message size exceeds fixed limit");
		return false;
	}
	return true;
}

static enum smtp_next
smtp_mail(struct smtp_state *st, char *args)
{
	const char *body_type = NULL, *ret = NULL;
	char *cursor, *key, *value;
	unsigned seen = 0;
	int got;

	if (st->have_mail) {
		smtp_reply(st, "503 5.5.1 Error: nested MAIL command");
		return SMTP_NEXT;
	}
	if (strncasecmp(args, "FROM:", 5) != 0) {
		smtp_reply(st, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return SMTP_NEXT;
	}
	args += 5;
	args += strspn(args, " ");
	if ((cursor = (char *)smtp_path_parse(args, &st->tmp, &st->why,
	    SMTP_PATH_NULL_OK)) == NULL
	    || (*cursor != ' ' && *cursor != 0)) {
		smtp_reply(st, "501 5.1.7 Bad sender address syntax");
		return SMTP_NEXT;
	}
	buf_reset(&st->why);
	while ((got = smtp_param_next(&cursor, &key, &value)) != 0) {
		if (got < 0) {
			smtp_reply(st, "501 5.5.4 Bad parameter syntax");
			return SMTP_NEXT;
		}
		if (str_case_eq(key, "SIZE") && smtp_once(&seen, SMTP_P_SIZE)) {
			if (!smtp_mail_size(st, value))
				return SMTP_NEXT;
		} else if (str_case_eq(key, "BODY")
		    && smtp_once(&seen, SMTP_P_BODY)) {
			if (value != NULL && str_case_eq(value, "7BIT"))
				body_type = "7BIT";
			else if (value != NULL && str_case_eq(value,
			    "8BITMIME"))
				body_type = "8BITMIME";
			else {
				smtp_reply(st, "501 5.5.4 Bad BODY parameter "
				    "value");
				return SMTP_NEXT;
			}
		} else if (str_case_eq(key, "RET")
		    && smtp_once(&seen, SMTP_P_RET)) {
			if (value != NULL && str_case_eq(value, "FULL"))
				ret = "full";
			else if (value != NULL && str_case_eq(value, "HDRS"))
				ret = "hdrs";
			else {
				smtp_reply(st, "501 5.5.4 Bad RET parameter "
				    "syntax");
				return SMTP_NEXT;
			}
		} else if (str_case_eq(key, "ENVID")
		    && smtp_once(&seen, SMTP_P_ENVID)) {
			if (value == NULL || smtp_xtext_decode(value, &st->why)
			    < 0 || !cleanup_clnt_attr_ok(MAIL_ATTR_ENVID,
			    st->why.data)) {
				smtp_reply(st, "501 5.5.4 Bad ENVID parameter "
				    "syntax");
				return SMTP_NEXT;
			}
		} else if (str_case_eq(key, "SIZE") || str_case_eq(key, "BODY")
		    || str_case_eq(key, "RET") || str_case_eq(key, "ENVID")) {
			smtp_reply(st, "501 5.5.4 Duplicate %s parameter",
			    key);
			return SMTP_NEXT;
		} else {
			smtp_reply(st, "555 5.5.4 Unsupported option: %s", key);
			return SMTP_NEXT;
		}
	}
	st->have_mail = true;
	st->sender = xstrdup(st->tmp.data);
	st->envid = (seen & SMTP_P_ENVID) ? xstrdup(st->why.data) : NULL;
	st->ret = ret;
	st->body_type = body_type;
	smtp_reply(st, "250 2.1.0 Ok");
	return SMTP_NEXT;
}

static enum smtp_next
smtp_rcpt(struct smtp_state *st, char *args)
{
	struct smtp_rcpt *r;
	struct buf orcpt;
	char *cursor, *key, *value;
	unsigned seen = 0;
	int got, notify = 0;

	if (!st->have_mail) {
		smtp_reply(st, "503 5.5.1 Error: need MAIL command");
		return SMTP_NEXT;
	}
	st->rcpts_refused++;		/* undone when accepted */
	if (strncasecmp(args, "TO:", 3) != 0) {
		smtp_reply(st, "501 5.5.4 Syntax: RCPT TO:<address>");
		return SMTP_NEXT;
	}
	if (st->nrcpts >= (size_t)st->rcpt_limit) {
		smtp_reply(st, "452 4.5.3 Error: too many recipients");
		return SMTP_NEXT;
	}
	args += 3;
	args += strspn(args, " ");
	if ((cursor = (char *)smtp_path_parse(args, &st->tmp, &st->why, 0))
	    == NULL || (*cursor != ' ' && *cursor != 0)) {
		smtp_reply(st, "501 5.1.3 Bad recipient address syntax");
		return SMTP_NEXT;
	}
	buf_init(&orcpt, 64);
	while ((got = smtp_param_next(&cursor, &key, &value)) != 0) {
		if (got < 0) {
			smtp_reply(st, "501 5.5.4 Bad parameter syntax");
			goto refused;
		}
		if (str_case_eq(key, "NOTIFY")
		    && smtp_once(&seen, SMTP_P_NOTIFY)) {
			if (value == NULL || (notify =
			    cleanup_clnt_notify_parse(value)) < 0) {
				smtp_reply(st, "501 5.5.4 Bad NOTIFY parameter "
				    "syntax");
				goto refused;
			}
		} else if (str_case_eq(key, "ORCPT")
		    && smtp_once(&seen, SMTP_P_ORCPT)) {
			if (!smtp_orcpt_parse(value, &orcpt, &st->why)) {
				smtp_reply(st, "501 5.5.4 Bad ORCPT parameter "
				    "syntax");
				goto refused;
			}
		} else if (str_case_eq(key, "NOTIFY")
		    || str_case_eq(key, "ORCPT")) {
			smtp_reply(st, "501 5.5.4 Duplicate %s parameter",
			    key);
			goto refused;
		} else {
			smtp_reply(st, "555 5.5.4 Unsupported option: %s", key);
			goto refused;
		}
	}
	st->rcpts = xreallocarray(st->rcpts, st->nrcpts + 1,
	    sizeof(*st->rcpts));
	r = &st->rcpts[st->nrcpts++];
	r->addr = xstrdup(st->tmp.data);
	r->orcpt = (seen & SMTP_P_ORCPT) ? xstrdup(orcpt.data) : NULL;
	r->notify = notify;
	st->rcpts_refused--;
	smtp_reply(st, "250 2.1.5 Ok");
refused:
	buf_fini(&orcpt);
	return SMTP_NEXT;
}

/* Write one record to postdrop unless the message failed already. */
static void
smtp_put(struct smtp_state *st, int type, const void *data, size_t len)
{
	bool lost;
	int status;

	if (st->data_state != SMTP_DATA_OK)
		return;
	buf_reset(&st->why);
	switch (sm_drop_put(type, data, len, &st->why)) {
	case SM_DROP_OK:
		return;
	case SM_DROP_SIZE:
		sm_drop_abort();
		st->data_state = SMTP_DATA_SIZE;
		return;
	case SM_DROP_BAD:
		msg_warn("internal error: %s; message not queued",
		    st->why.data);
		sm_drop_abort();
		break;
	case SM_DROP_LOST:
		status = sm_drop_finish(&lost);
		msg_warn("lost connection with postdrop (exit status %d); "
		    "message not queued", status);
		break;
	}
	st->data_state = SMTP_DATA_FAIL;
}

static void
smtp_put_attr(struct smtp_state *st, const char *name, const char *value)
{
	if (value == NULL)
		return;
	buf_reset(&st->tmp);
	buf_printf(&st->tmp, "%s=%s", name, value);
	smtp_put(st, REC_TYPE_ATTR, st->tmp.data, st->tmp.len);
}

/* Start postdrop and write the envelope. */
static void
smtp_envelope(struct smtp_state *st)
{
	struct smtp_rcpt *r;
	size_t i;

	st->data_state = SMTP_DATA_OK;
	buf_reset(&st->why);
	if (sm_drop_start(true, &st->why) != 0) {
		msg_warn("%s; message not queued", st->why.data);
		st->data_state = SMTP_DATA_FAIL;
		return;
	}
	smtp_put_attr(st, MAIL_ATTR_ENVID, st->envid);
	smtp_put_attr(st, MAIL_ATTR_RET, st->ret);
	smtp_put_attr(st, MAIL_ATTR_BODY_TYPE, st->body_type);
	smtp_put(st, REC_TYPE_FROM, st->sender, strlen(st->sender));
	for (i = 0; i < st->nrcpts; i++) {
		r = &st->rcpts[i];
		if (r->orcpt != NULL)
			smtp_put(st, REC_TYPE_ORCP, r->orcpt,
			    strlen(r->orcpt));
		if (r->notify) {
			buf_reset(&st->tmp);
			buf_printf(&st->tmp, "%d", r->notify);
			smtp_put(st, REC_TYPE_NOTIFY, st->tmp.data,
			    st->tmp.len);
		}
		smtp_put(st, REC_TYPE_RCPT, r->addr, strlen(r->addr));
	}
	smtp_put(st, REC_TYPE_MESG, "", 0);
}

/* The end of the data: finish the message and answer. */
static void
smtp_dot(struct smtp_state *st)
{
	bool lost;
	int status;

	smtp_put(st, REC_TYPE_XTRA, "", 0);
	smtp_put(st, REC_TYPE_END, "", 0);
	if (st->data_state == SMTP_DATA_OK) {
		status = sm_drop_finish(&lost);
		if (status != EX_OK || lost) {
			msg_warn("postdrop failed (exit status %d); message "
			    "not queued", status);
			st->data_state = SMTP_DATA_FAIL;
		}
	}
	switch (st->data_state) {
	case SMTP_DATA_OK:
		smtp_reply(st, "250 2.0.0 Ok: queued");
		break;
	case SMTP_DATA_SIZE:
		smtp_reply(st, "552 5.3.4 Error: message file too big");
		break;
	case SMTP_DATA_FAIL:
		smtp_reply(st, "451 4.3.0 Error: queue file write error");
		break;
	}
	smtp_reset(st);
}

static enum smtp_next
smtp_data(struct smtp_state *st, char *args)
{
	enum smtp_got got;
	size_t limit = (size_t)var_line_length_limit;
	bool mid_line = false, dot = false;

	if (!st->have_mail) {
		smtp_reply(st, "503 5.5.1 Error: need MAIL command");
		return SMTP_NEXT;
	}
	if (*args != 0) {
		smtp_reply(st, "501 5.5.4 Syntax: DATA");
		return SMTP_NEXT;
	}
	if (st->nrcpts == 0) {
		if (st->rcpts_refused > 0)
			smtp_reply(st, "554 5.5.1 Error: no valid recipients");
		else
			smtp_reply(st, "503 5.5.1 Error: need RCPT command");
		return SMTP_NEXT;
	}
	smtp_reply(st, "354 End data with <CR><LF>.<CR><LF>");
	smtp_envelope(st);
	for (;;) {
		got = mid_line ? smtp_get(st, &st->line, limit)
		    : smtp_get_data(st, &st->line, limit, &dot);
		if (got != SMTP_GOT_LINE && got != SMTP_GOT_PART)
			/* No end of data (a last line lacks its ending). */
			return smtp_lost(st, got == SMTP_GOT_LAST
			    ? SMTP_GOT_EOF : got);
		if (!mid_line && dot && got == SMTP_GOT_LINE
		    && st->line.len == 0)
			break;
		smtp_put(st, got == SMTP_GOT_PART ? REC_TYPE_CONT
		    : REC_TYPE_NORM, st->line.data, st->line.len);
		mid_line = got == SMTP_GOT_PART;
	}
	st->where = "END-OF-MESSAGE";
	smtp_dot(st);
	return SMTP_NEXT;
}

static enum smtp_next
smtp_rset(struct smtp_state *st, char *args)
{
	if (*args != 0) {
		smtp_reply(st, "501 5.5.4 Syntax: RSET");
		return SMTP_NEXT;
	}
	smtp_reset(st);
	smtp_reply(st, "250 2.0.0 Ok");
	return SMTP_NEXT;
}

static enum smtp_next
smtp_noop(struct smtp_state *st, char *args)
{
	(void)args;
	smtp_reply(st, "250 2.0.0 Ok");
	return SMTP_NEXT;
}

static enum smtp_next
smtp_vrfy(struct smtp_state *st, char *args)
{
	if (*args == 0) {
		smtp_reply(st, "501 5.5.4 Syntax: VRFY address");
		return SMTP_NEXT;
	}
	buf_reset(&st->tmp);
	str_printable(&st->tmp, args, strlen(args));
	smtp_reply(st, "252 2.0.0 %s", st->tmp.data);
	return SMTP_NEXT;
}

static enum smtp_next
smtp_help(struct smtp_state *st, char *args)
{
	(void)args;
	smtp_reply(st, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET "
	    "NOOP VRFY HELP QUIT");
	return SMTP_NEXT;
}

static enum smtp_next
smtp_quit(struct smtp_state *st, char *args)
{
	(void)args;
	smtp_reply(st, "221 2.0.0 Bye");
	st->status = EX_OK;
	return SMTP_END;
}

static const struct smtp_cmd {
	const char *name;
	enum smtp_next (*action)(struct smtp_state *, char *);
} smtp_cmds[] = {
	{"EHLO", smtp_ehlo},
	{"HELO", smtp_helo},
	{"MAIL", smtp_mail},
	{"RCPT", smtp_rcpt},
	{"DATA", smtp_data},
	{"RSET", smtp_rset},
	{"NOOP", smtp_noop},
	{"VRFY", smtp_vrfy},
	{"HELP", smtp_help},
	{"QUIT", smtp_quit},
};

/* One command line, in st->line. */
static enum smtp_next
smtp_command(struct smtp_state *st)
{
	char *line = st->line.data, *args;
	size_t i, len = st->line.len, name_len;

	if (msg_verbose)
		msg_info("< %s", line);
	for (i = 0; i < len; i++) {
		if (line[i] == 0 || (unsigned char)line[i] >= 0x80) {
			smtp_reply(st, "500 5.5.2 Error: NUL or non-ASCII "
			    "character in command");
			return SMTP_NEXT;
		}
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = 0;
	name_len = strcspn(line, " ");
	args = line + name_len;
	args += strspn(args, " ");
	for (i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++) {
		if (name_len == strlen(smtp_cmds[i].name)
		    && strncasecmp(line, smtp_cmds[i].name, name_len) == 0) {
			st->where = smtp_cmds[i].name;
			return smtp_cmds[i].action(st, args);
		}
	}
	if (name_len == 0)
		smtp_reply(st, "500 5.5.2 Error: bad syntax");
	else
		smtp_reply(st, "500 5.5.2 Error: command not recognized");
	return SMTP_NEXT;
}

/* ---- the session -------------------------------------------------------- */

static enum smtp_next
smtp_session_step(struct smtp_state *st)
{
	enum smtp_got got;

	/* One byte more: a PART is then longer than the limit. */
	got = smtp_get(st, &st->line, SMTP_LINE_LIMIT + 1);
	if (got == SMTP_GOT_PART) {
		/* Skip the rest of the line, in pieces. */
		while ((got = smtp_get(st, &st->line, SMTP_LINE_LIMIT))
		    == SMTP_GOT_PART)
			;
		if (got != SMTP_GOT_LINE && got != SMTP_GOT_LAST)
			return smtp_lost(st, got);
		smtp_reply(st, "500 5.5.2 Error: line too long");
		return SMTP_NEXT;
	}
	if (got != SMTP_GOT_LINE && got != SMTP_GOT_LAST)
		return smtp_lost(st, got);
	return smtp_command(st);
}

int
sm_smtp(const struct sm_opts *opts)
{
	struct smtp_state st = {0};
	int timeout;

	(void)opts;
	timeout = var_smtpd_timeout;
	st.timeout_ms = timeout > INT_MAX / 1000 ? INT_MAX : timeout * 1000;
	st.rcpt_limit = var_smtpd_recipient_limit;
	st.ibuf = xmalloc(SMTP_IN_SIZE);
	st.out = stream_new(STDOUT_FILENO);
	stream_set_timeout(st.out, st.timeout_ms);
	buf_init(&st.line, 256);
	buf_init(&st.reply, 256);
	buf_init(&st.why, 64);
	buf_init(&st.tmp, 256);
	st.where = "CONNECT";

	smtp_reply(&st, "220 %s", var_smtpd_banner);
	while (smtp_session_step(&st) == SMTP_NEXT) {
		if (stream_error(st.out) != STREAM_OK) {
			(void)smtp_lost(&st, SMTP_GOT_ERROR);
			break;
		}
	}
	if (stream_flush(st.out) < 0 && st.status != EX_IOERR)
		(void)smtp_lost(&st, SMTP_GOT_ERROR);

	smtp_reset(&st);
	(void)stream_release(st.out);
	buf_fini(&st.line);
	buf_fini(&st.reply);
	buf_fini(&st.why);
	buf_fini(&st.tmp);
	free(st.ibuf);
	return st.status;
}
