/*
 * smtpd_data.c - smtpd: DATA and BDAT, the message into the queue
 *
 * DATA (RFC 5321) and BDAT (RFC 3030 CHUNKING) receive the message.
 * Once the data restrictions pass, smtpd connects to cleanup
 * (cleanup_clnt.h) and sends the envelope as queue file records:
 *
 *	TIME ATTR (rewrite_context, log_ident, client_name,
 *	client_address, helo_name, protocol_name, envelope_id, dsn_ret,
 *	body_type) FROM (ORCP? NOTIFY? RCPT)* MESG
 *
 * (the client attributes are XFORWARD's when a proxy set them; a
 * REDIRECT result replaces the recipients with its address), logs
 * "ID: client=name[addr]", then writes our Received: header and any
 * PREPEND headers, and streams the content as it arrives: one record
 * per line, long lines in pieces of line_length_limit bytes. Only when
 * cleanup says the file is safely on disk does the client get "250
 * 2.0.0 Ok: queued as ID". A session that ends early, or any error,
 * hangs up on cleanup, which removes the unfinished file.
 *
 * DATA content ends with a line holding only "." that ends in CR LF
 * and follows a line that ended in CR LF: "<CR><LF>.<CR><LF>". Under
 * smtpd_forbid_bare_newline = normalize (the default) a bare LF ends a
 * line but never takes part in that sequence, so "<LF>.<LF>",
 * "<LF>.<CR><LF>" and "<CR><LF>.<LF>" are content, not the end: a
 * smuggled second message stays inside the first (and the outbound
 * client will dot-stuff it). A bare CR is content too; cleanup replaces
 * it with a space (cleanup_replace_stray_cr_lf). With reject, a bare
 * LF makes the message fail with "550 5.5.2 Error: bare <LF>
 * received" once the real end arrives; with no (or for clients in
 * smtpd_forbid_bare_newline_exclusions) any LF ends lines, as in old
 * MTAs. A leading "." of a content line is removed (dot-stuffing).
 *
 * BDAT chunks are taken byte for byte, no dot-stuffing; lines end at LF
 * (a CR before it is removed; a bare LF is refused under reject) and
 * may span chunks. "BDAT n LAST" ends the message. An error inside a
 * BDAT transaction (size, restrictions, queue) makes every further
 * chunk be read and discarded with the same error until LAST or RSET,
 * so the client and smtpd stay in step. DATA after BDAT is refused.
 *
 * message_size_limit counts content bytes with one per line end (as
 * cleanup does): beyond it smtpd stops writing, reads on to the end
 * and answers "552 5.3.4 Error: message file too big".
 *
 * HOLD and DISCARD results of the restrictions before DATA go to cleanup
 * when the file is opened; those of smtpd_end_of_data_restrictions in a
 * "cleanup_flags" attribute after the content (cleanup_proto.h).
 *
 * SECURITY: the content is the client's; it is only split into lines
 * and passed on. Memory: one line piece (line_length_limit) and one
 * BDAT read buffer; chunk sizes are parsed strictly and never
 * allocated at once.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <sys/time.h>

#include "argv.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "rec.h"
#include "rewrite_clnt.h"
#include "str.h"
#include "timeutil.h"

#include "smtpd.h"

#define SMTPD_BDAT_PIECE	65536	/* BDAT bytes taken per read */

struct smtpd_msg {
	struct cleanup_clnt *cleanup;	/* NULL after an error */
	long size;			/* content bytes counted */
	long raw;			/* bytes received, as sent */
	bool too_big;			/* over message_size_limit */
	bool bare_lf;			/* a bare LF under "reject" */
	bool bdat;			/* a BDAT transaction */
	int open_flags;			/* CLEANUP_FLAG_* given to cleanup */
	struct buf line;		/* BDAT: the line being assembled */
	bool mid_line;			/* the last record was a CONT */
};

enum smtpd_bare_mode
smtpd_bare_newline_mode(void)
{
	const char *v = var_smtpd_forbid_bare_newline;

	if (strcasecmp(v, "normalize") == 0 || strcasecmp(v, "yes") == 0)
		return SMTPD_BARE_NORMALIZE;
	if (strcasecmp(v, "reject") == 0)
		return SMTPD_BARE_REJECT;
	if (strcasecmp(v, "no") == 0)
		return SMTPD_BARE_ALLOW;
	msg_fatal_status(EX_CONFIG, "smtpd_forbid_bare_newline: \"%s\": "
	    "expected normalize, yes, reject or no", v);
}

static enum smtpd_bare_mode
smtpd_bare_mode(const struct smtpd_state *st)
{
	return st->bare_newline_exempt ? SMTPD_BARE_ALLOW
	    : smtpd_bare_newline_mode();
}

void
smtpd_data_abort(struct smtpd_state *st)
{
	struct smtpd_msg *m = st->msg;

	if (m == NULL)
		return;
	cleanup_clnt_free(m->cleanup);	/* cleanup removes its file */
	buf_fini(&m->line);
	free(m);
	st->msg = NULL;
}

/* "IPv6:2001:db8::1" or "192.0.2.1", as in a Received: header. */
static void
smtpd_rfc_addr(struct buf *out, const char *addr)
{
	if (strchr(addr, ':') != NULL)
		buf_puts(out, "IPv6:");
	buf_puts(out, addr);
}

/* An attribute record, when value is set. */
static void
smtpd_attr(struct cleanup_clnt *c, const char *name, const char *value)
{
	if (value != NULL && *value != 0)
		(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s", name, value);
}

/* A header (lines separated by '\n') as content records. */
static void
smtpd_header(struct cleanup_clnt *c, const char *text)
{
	const char *nl;

	while ((nl = strchr(text, '\n')) != NULL) {
		(void)cleanup_clnt_put(c, REC_TYPE_NORM, text,
		    (size_t)(nl - text));
		text = nl + 1;
	}
	(void)cleanup_clnt_put(c, REC_TYPE_NORM, text, strlen(text));
}

/*
 * Connect to cleanup and send the envelope and our headers. Returns 0,
 * or -1 after an error reply.
 */
static int
smtpd_msg_open(struct smtpd_state *st, bool bdat)
{
	struct smtpd_msg *m;
	struct cleanup_clnt *c;
	struct timeval now;
	struct buf why, *h;
	const char *helo, *name, *addr, *proto;
	size_t i;

	buf_init(&why, 64);
	c = cleanup_clnt_open(NULL, st->cleanup_flags, &why);
	if (c == NULL) {
		msg_warn("%s: cannot reach the cleanup service: %s",
		    st->namaddr, why.data);
		smtpd_error(st, "451 4.3.0 Error: queue file write error");
		buf_fini(&why);
		return -1;
	}
	buf_fini(&why);
	m = xcalloc(1, sizeof(*m));
	m->cleanup = c;
	m->bdat = bdat;
	m->open_flags = st->cleanup_flags;
	buf_init(&m->line, 256);
	st->msg = m;
	free(st->queue_id);
	st->queue_id = xstrdup(cleanup_clnt_queue_id(c));

	name = st->fwd_name ? st->fwd_name : st->name;
	addr = st->fwd_addr ? st->fwd_addr : st->addr;
	helo = st->fwd_helo ? st->fwd_helo : st->helo_name;
	proto = st->fwd_proto ? st->fwd_proto : st->protocol;
	if (st->fwd_name || st->fwd_addr)
		msg_info("%s: client=%s, orig_client=%s[%s]", st->queue_id,
		    st->namaddr, name, addr);
	else
		msg_info("%s: client=%s", st->queue_id, st->namaddr);

	gettimeofday(&now, NULL);
	(void)cleanup_clnt_printf(c, REC_TYPE_TIME, "%lld %ld",
	    (long long)now.tv_sec, (long)now.tv_usec);
	smtpd_attr(c, MAIL_ATTR_RWR_CONTEXT, st->rewrite_context
	    ? st->rewrite_context : REWRITE_REMOTE);
	smtpd_attr(c, MAIL_ATTR_LOG_IDENT, st->queue_id);
	smtpd_attr(c, MAIL_ATTR_CLIENT_NAME, name);
	smtpd_attr(c, MAIL_ATTR_CLIENT_ADDR, addr);
	smtpd_attr(c, MAIL_ATTR_HELO_NAME, helo);
	smtpd_attr(c, MAIL_ATTR_PROTO_NAME, proto);
	smtpd_attr(c, MAIL_ATTR_ENVID, st->envid);
	smtpd_attr(c, MAIL_ATTR_RET, st->ret);
	smtpd_attr(c, MAIL_ATTR_BODY_TYPE, st->body_type);
	(void)cleanup_clnt_puts(c, REC_TYPE_FROM, st->sender);
	if (st->redirect != NULL) {
		(void)cleanup_clnt_puts(c, REC_TYPE_RCPT, st->redirect);
	} else {
		for (i = 0; i < st->nrcpts; i++) {
			if (st->rcpts[i].orcpt != NULL)
				(void)cleanup_clnt_puts(c, REC_TYPE_ORCP,
				    st->rcpts[i].orcpt);
			if (st->rcpts[i].notify != 0)
				(void)cleanup_clnt_printf(c, REC_TYPE_NOTIFY,
				    "%d", st->rcpts[i].notify);
			(void)cleanup_clnt_puts(c, REC_TYPE_RCPT,
			    st->rcpts[i].addr);
		}
	}
	(void)cleanup_clnt_put(c, REC_TYPE_MESG, "", 0);

	/* Received: from helo (name [addr]) by us with PROTO id ID ... */
	h = &st->tmp;
	buf_reset(h);
	buf_printf(h, "Received: from %s (%s [", helo ? helo : name, name);
	smtpd_rfc_addr(h, addr);
	/* RFC 6531 section 3.7.3: SMTPUTF8 mail is "with UTF8SMTP". */
	buf_printf(h, "])\n\tby %s (%s) with %s id %s", var_myhostname,
	    var_mail_name, st->smtputf8 ? "UTF8SMTP"
	    : strcmp(st->protocol, "ESMTP") == 0 ? "ESMTP" : "SMTP",
	    st->queue_id);
	if (st->nrcpts == 1 && st->redirect == NULL)
		buf_printf(h, "\n\tfor <%s>", st->rcpts[0].addr);
	buf_puts(h, "; ");
	time_fmt_rfc5322(h, now.tv_sec);
	/* Names come from the client: never let them break the header. */
	for (i = 0; i < h->len; i++)
		if ((unsigned char)h->data[i] < 0x20 && h->data[i] != '\n'
		    && h->data[i] != '\t')
			h->data[i] = ' ';
	smtpd_header(c, h->data);
	if (st->prepend != NULL)
		for (i = 0; i < st->prepend->argc; i++)
			smtpd_header(c, st->prepend->argv[i]);
	/* cleanup rewrites the envelope while the client sends the rest. */
	(void)cleanup_clnt_flush(c);
	return 0;
}

/* One content line or piece; counts the size, stops writing beyond it. */
static void
smtpd_msg_put(struct smtpd_msg *m, int type, const char *data, size_t len)
{
	m->size += (long)len + (type == REC_TYPE_NORM);
	m->mid_line = type == REC_TYPE_CONT;
	if (var_message_size_limit > 0 && m->size > var_message_size_limit)
		m->too_big = true;
	if (m->too_big || m->bare_lf)
		return;
	(void)cleanup_clnt_put(m->cleanup, type, data, len);
}

/*
 * The end of the message: end-of-data restrictions, then cleanup's
 * answer, then the reply (0 when queued).
 */
static int
smtpd_msg_finish(struct smtpd_state *st)
{
	struct smtpd_msg *m = st->msg;
	struct buf reason;
	const char *reply;
	int status;

	st->where = SMTPD_WHERE_EOD;
	if (m->bare_lf) {
		msg_info("%s: bare <LF> received in message content from %s",
		    st->queue_id, st->namaddr);
		smtpd_error(st, "%d 5.5.2 Error: bare <LF> received",
		    var_smtpd_forbid_bare_newline_reject_code);
		smtpd_reset(st);
		return -1;
	}
	if (m->too_big) {
		buf_init(&reason, 64);
		buf_printf(&reason, "552 5.3.4 Error: message file too big");
		smtpd_log_event(st, "reject", reason.data);
		smtpd_error(st, "%s", reason.data);
		buf_fini(&reason);
		smtpd_reset(st);
		return -1;
	}
	st->eod_size = m->size;
	if ((reply = smtpd_check_eod(st)) != NULL) {
		smtpd_error(st, "%s", reply);
		smtpd_reset(st);
		return -1;
	}
	buf_init(&reason, 64);
	(void)cleanup_clnt_put(m->cleanup, REC_TYPE_XTRA, "", 0);
	/* HOLD or DISCARD from the end-of-data restrictions. */
	if (st->cleanup_flags & ~m->open_flags)
		(void)cleanup_clnt_printf(m->cleanup, REC_TYPE_ATTR, "%s=%d",
		    MAIL_ATTR_CLEANUP_FLAGS, st->cleanup_flags & ~m->open_flags);
	status = cleanup_clnt_finish(m->cleanup, &reason);
	if (status == CLEANUP_STAT_OK) {
		smtpd_reply(st, "250 2.0.0 Ok: queued as %s", st->queue_id);
		st->error_count = 0;
		st->junk_count = 0;
		buf_fini(&reason);
		smtpd_reset(st);
		return 0;
	}
	buf_reset(&st->tmp);
	if (status & CLEANUP_STAT_SIZE)
		buf_puts(&st->tmp, "552 5.3.4 Error: message file too big");
	else if (status & CLEANUP_STAT_HOPS)
		buf_puts(&st->tmp, "554 5.4.6 Error: too many hops");
	else if (status & CLEANUP_STAT_RCPT)
		buf_puts(&st->tmp, "554 5.5.1 Error: no valid recipients");
	else if ((status & CLEANUP_STAT_CONT) && reason.data[0] == '5')
		buf_printf(&st->tmp, "550 %s", reason.data);
	else
		buf_puts(&st->tmp, "451 4.3.0 Error: queue file write error");
	msg_warn("%s: cleanup: %s (status %d) from %s", st->queue_id,
	    reason.data[0] ? reason.data : "failed", status, st->namaddr);
	smtpd_log_event(st, "reject", st->tmp.data);
	smtpd_error(st, "%s", st->tmp.data);
	buf_fini(&reason);
	smtpd_reset(st);
	return -1;
}

/* Common checks of DATA and the first BDAT; NULL when ok. */
static const char *
smtpd_msg_precheck(struct smtpd_state *st)
{
	if (st->sender == NULL)
		return "503 5.5.1 Error: need MAIL command";
	if (st->nrcpts == 0)
		return st->rcpts_refused > 0
		    ? "554 5.5.1 Error: no valid recipients"
		    : "503 5.5.1 Error: need RCPT command";
	return NULL;
}

/* A lost connection or timeout while reading content. */
static void
smtpd_msg_lost(struct smtpd_state *st, enum smtpd_got got)
{
	long size = st->msg ? st->msg->raw : 0;

	if (got == SMTPD_GOT_TIMEOUT) {
		msg_info("timeout after %s (%ld bytes) from %s", st->where,
		    size, st->namaddr);
		smtpd_reply(st, "421 4.4.2 %s Error: timeout exceeded",
		    var_myhostname);
	} else {
		msg_info("lost connection after %s (%ld bytes) from %s",
		    st->where, size, st->namaddr);
		st->lost = true;
	}
	st->quit = true;
	st->reply_code = 421;		/* the command failed */
	smtpd_reset(st);
}

void
smtpd_data(struct smtpd_state *st, char *args)
{
	struct smtpd_msg *m;
	enum smtpd_bare_mode mode = smtpd_bare_mode(st);
	enum smtpd_got got;
	enum smtpd_eol eol;
	const char *reply, *data;
	bool line_start = true, prev_crlf;
	size_t len;

	/*
	 * The client must wait for 354: anything already here is early,
	 * whatever the reply will be (reject_unauth_pipelining looks too).
	 */
	if (smtpd_pipelining_check(st, "DATA"))
		return;
	if (st->msg != NULL || st->bdat_error != NULL) {
		smtpd_error(st, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if ((reply = smtpd_msg_precheck(st)) != NULL) {
		smtpd_error(st, "%s", reply);
		return;
	}
	if (*args != 0) {
		smtpd_error(st, "501 5.5.4 Syntax: DATA");
		return;
	}
	if ((reply = smtpd_check_data(st)) != NULL) {
		smtpd_error(st, "%s", reply);
		return;
	}
	if (smtpd_msg_open(st, false) < 0)
		return;
	m = st->msg;
	smtpd_reply(st, "354 End data with <CR><LF>.<CR><LF>");
	prev_crlf = st->last_eol == SMTPD_SEEN_CRLF;

	for (;;) {
		got = smtpd_io_line(st, &st->line, (size_t)var_line_length_limit,
		    &eol);
		if (got != SMTPD_GOT_LINE && got != SMTPD_GOT_PART) {
			smtpd_msg_lost(st, got);
			return;
		}
		data = st->line.data;
		len = st->line.len;
		m->raw += (long)len + (eol == SMTPD_EOL_CRLF ? 2
		    : eol == SMTPD_EOL_LF ? 1 : 0);
		if (line_start && got == SMTPD_GOT_LINE && len == 1
		    && data[0] == '.'
		    && (mode == SMTPD_BARE_ALLOW
		    || (eol == SMTPD_EOL_CRLF && prev_crlf)))
			break;
		if (got == SMTPD_GOT_LINE && eol == SMTPD_EOL_LF
		    && mode == SMTPD_BARE_REJECT)
			m->bare_lf = true;
		if (line_start && len > 0 && data[0] == '.'
		    && !(len == 1 && got == SMTPD_GOT_LINE)) {
			data++;
			len--;
		}
		smtpd_msg_put(m, got == SMTPD_GOT_LINE ? REC_TYPE_NORM
		    : REC_TYPE_CONT, data, len);
		line_start = got == SMTPD_GOT_LINE;
		prev_crlf = got == SMTPD_GOT_LINE && eol == SMTPD_EOL_CRLF;
	}
	(void)smtpd_msg_finish(st);
}

/* ---- BDAT ---------------------------------------------------------------- */

/* Split BDAT bytes into lines (pieces of line_length_limit). */
static void
smtpd_bdat_bytes(struct smtpd_state *st, const char *data, size_t len)
{
	struct smtpd_msg *m = st->msg;
	size_t limit = (size_t)var_line_length_limit;
	const char *nl;
	size_t take;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		take = nl ? (size_t)(nl - data) : len;
		if (m->line.len + take > limit)
			take = limit - m->line.len;
		buf_append(&m->line, data, take);
		data += take;
		len -= take;
		if (len > 0 && *data == '\n') {
			if (m->line.len > 0
			    && m->line.data[m->line.len - 1] == '\r') {
				m->line.len--;
			} else if (smtpd_bare_mode(st) == SMTPD_BARE_REJECT) {
				m->bare_lf = true;
			}
			smtpd_msg_put(m, REC_TYPE_NORM, m->line.data,
			    m->line.len);
			buf_reset(&m->line);
			data++;
			len--;
		} else if (m->line.len >= limit) {
			/* A full piece; keep a final CR with its LF. */
			bool cr = m->line.data[limit - 1] == '\r';

			smtpd_msg_put(m, REC_TYPE_CONT, m->line.data,
			    limit - cr);
			buf_reset(&m->line);
			if (cr)
				buf_putc(&m->line, '\r');
		}
	}
}

/* Read and drop count bytes of a chunk; false when the session ended. */
static bool
smtpd_bdat_skip(struct smtpd_state *st, unsigned long count)
{
	enum smtpd_got got;

	while (count > 0) {
		buf_reset(&st->tmp);
		got = smtpd_io_read(st, &st->tmp, count < SMTPD_BDAT_PIECE
		    ? count : SMTPD_BDAT_PIECE);
		if (got != SMTPD_GOT_LINE) {
			smtpd_msg_lost(st, got);
			return false;
		}
		count -= st->tmp.len;
	}
	return true;
}

/*
 * A chunk of a BDAT transaction failed: the transaction is over. Its
 * message (if any) is dropped, and every further chunk is read and
 * refused with the same reply until LAST or RSET (RFC 3030).
 */
static void
smtpd_bdat_fail(struct smtpd_state *st, const char *reply, bool is_last)
{
	char *copy = xstrdup(reply);

	smtpd_data_abort(st);
	smtpd_error(st, "%s", copy);
	if (is_last || st->sender == NULL) {
		free(copy);
		smtpd_reset(st);
	} else {
		free(st->bdat_error);
		st->bdat_error = copy;
	}
}

/* smtpd_bdat_skip() when skip is true; false when the session ended. */
static bool
smtpd_bdat_skip_if(struct smtpd_state *st, bool skip, unsigned long count)
{
	return !skip || smtpd_bdat_skip(st, count);
}

void
smtpd_bdat(struct smtpd_state *st, char *args)
{
	struct smtpd_msg *m;
	enum smtpd_got got;
	const char *reply = NULL;
	char *cursor = args, *size_text, *last;
	unsigned long count, chunk;
	bool is_last = false;

	size_text = str_token(&cursor, " ");
	last = str_token(&cursor, " ");
	if (size_text == NULL || str_to_ulong(size_text, &count) < 0
	    || (last != NULL && strcasecmp(last, "LAST") != 0)
	    || str_token(&cursor, " ") != NULL) {
		/*
		 * The chunk size is unknown: its bytes will come as junk
		 * commands (errors, then the hard limit). A BDAT message in
		 * progress has lost a chunk: it is dropped.
		 */
		if (st->msg != NULL || st->bdat_error != NULL)
			smtpd_reset(st);
		smtpd_error(st, "501 5.5.4 Syntax: BDAT count [LAST]");
		return;
	}
	is_last = last != NULL;

	if (st->bdat_error != NULL) {
		if (smtpd_bdat_skip(st, count))
			smtpd_bdat_fail(st, st->bdat_error, is_last);
		return;
	}
	if (st->msg == NULL) {
		/* Out of sequence: the chunk is dropped, nothing changes. */
		if ((reply = smtpd_msg_precheck(st)) != NULL) {
			if (smtpd_bdat_skip(st, count))
				smtpd_error(st, "%s", reply);
			return;
		}
		reply = smtpd_check_data(st);
		if (!smtpd_bdat_skip_if(st, reply != NULL, count))
			return;
		if (reply != NULL) {
			smtpd_bdat_fail(st, reply, is_last);
			return;
		}
		if (smtpd_msg_open(st, true) < 0) {
			if (smtpd_bdat_skip(st, count))
				smtpd_bdat_fail(st, "451 4.3.0 Error: queue file "
				    "write error", is_last);
			return;
		}
	}
	m = st->msg;
	chunk = count;
	while (count > 0) {
		buf_reset(&st->tmp);
		got = smtpd_io_read(st, &st->tmp, count < SMTPD_BDAT_PIECE
		    ? count : SMTPD_BDAT_PIECE);
		if (got != SMTPD_GOT_LINE) {
			smtpd_msg_lost(st, got);
			return;
		}
		count -= st->tmp.len;
		m->raw += (long)st->tmp.len;
		smtpd_bdat_bytes(st, st->tmp.data, st->tmp.len);
	}
	if (m->too_big && !is_last) {	/* at LAST: smtpd_msg_finish() */
		reply = "552 5.3.4 Error: message file too big";
		smtpd_log_event(st, "reject", reply);
		smtpd_bdat_fail(st, reply, is_last);
		return;
	}
	if (!is_last) {
		/* The octets of this chunk, as Postfix says. */
		smtpd_reply(st, "250 2.0.0 Ok: %lu bytes", chunk);
		return;
	}
	/* A last line without its ending, or the end of a long one. */
	if (m->line.len > 0 || m->mid_line)
		smtpd_msg_put(m, REC_TYPE_NORM, m->line.data, m->line.len);
	(void)smtpd_msg_finish(st);
}
