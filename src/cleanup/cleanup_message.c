/*
 * cleanup_message.c - cleanup: message content, headers first
 *
 * cleanup_message() takes the records after MESG: content lines (NORM
 * ends a line, CONT is a piece of a longer one), XTRA, END. Lines are
 * written again in pieces of at most line_length_limit bytes (and never
 * more than QFILE_RECORD_MAX), whatever pieces the client sent.
 *
 * The primary header block is the lines up to the first empty line or
 * the first line that is neither a header ("Name:" with a name of
 * printable characters other than ':', RFC 5322 ftext, optionally
 * followed by blanks) nor a continuation of one (a line starting with a
 * blank). Each logical header (a header with its continuation lines) is
 * collected, up to header_size_limit bytes: the excess is dropped with a
 * warning "ID: header too long, truncated: Name". Then:
 *
 *	Return-Path:	removed (the delivery agent adds it)
 *	Received:	counted; more than hopcount_limit (the one cleanup
 *			adds included) refuses the message with
 *			CLEANUP_STAT_HOPS "5.4.6 too many hops, message
 *			looping", or with CLEANUP_FLAG_BOUNCE returns it
 *			to the sender (cleanup_bounce.c)
 *	Date:, Message-ID:, From:, To:, Cc:	noted
 *
 * With cleanup_replace_stray_cr_lf (the default), a CR or LF inside a
 * content record (records hold lines without their ending, so any such
 * byte is "stray": a bare CR from the client, or an LF that a sender
 * managed to slip into a line) is replaced with a space before
 * anything else looks at the line, so that no bare CR or LF is ever
 * relayed onward (SMTP smuggling).
 *
 * A NUL byte in a header is replaced with a space (a header is text and
 * later readers treat it as a C string; a space neither hides nor joins
 * words), with one warning per message. The body is kept as it is, NUL
 * bytes included.
 *
 * Added headers: a local submission (attribute submit_uid) gets
 *	Received: by $myhostname ($mail_name, from userid N)
 *		id ID; <arrival date>
 * as the very first header. At the end of the header block of local
 * mail (rewrite_context "local": submissions, bounces, forwarding, and
 * the SMTP clients of local_header_rewrite_clients), of remote mail
 * when remote_header_rewrite_domain is set, and of all mail with
 * always_add_missing_headers, each of these that is missing is
 * appended: Date: (the arrival time), Message-ID:
 * <YYYYMMDDHHMMSS.ID@$myhostname> (UTC), From: (the full name as an
 * RFC 5322 phrase, quoted when needed, and <sender>; or the sender
 * alone; MAILER-DAEMON in canonical form for the null sender), and
 * $undisclosed_recipients_header when there is no To: and no Cc:.
 * Other mail keeps its header block as sent (a DKIM signature may
 * cover the absence of a header). Then "ID: message-id=<...>" is
 * logged ("message-id=<>" when there is none). When the body starts with a
 * line that is not empty, an empty line is inserted so the message
 * keeps its header/body boundary.
 *
 * message_size_limit (0 = none) counts the content bytes the client
 * sent, each line with one byte for its line ending; beyond it the
 * message is refused with CLEANUP_STAT_SIZE "5.3.4 message file too
 * big", and the rest is read but not stored.
 *
 * SECURITY: the content is whatever the sender wrote. Memory is bounded
 * by header_size_limit plus one record; lines are classified by a byte
 * scan with no assumption about their length or contents.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "cleanup.h"
#include "cleanup_proto.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "rec.h"
#include "rewrite_clnt.h"
#include "timeutil.h"

/* How much of a Message-ID value is kept for the log. */
#define CLEANUP_MSGID_LOG	200

void
cleanup_message_init(struct cleanup_state *st)
{
	st->line_class = CLEANUP_LINE_UNKNOWN;
	buf_init(&st->line, 256);
	buf_init(&st->header, 256);
	buf_init(&st->message_id, 64);
}

void
cleanup_message_fini(struct cleanup_state *st)
{
	buf_fini(&st->line);
	buf_fini(&st->header);
	buf_fini(&st->message_id);
}

/* Write one header (physical lines separated by '\n'). */
static void
cleanup_out_header(struct cleanup_state *st, const char *text, size_t len)
{
	const char *nl;

	while ((nl = memchr(text, '\n', len)) != NULL) {
		cleanup_out_text(st, REC_TYPE_NORM, text, (size_t)(nl - text));
		len -= (size_t)(nl - text) + 1;
		text = nl + 1;
	}
	cleanup_out_text(st, REC_TYPE_NORM, text, len);
}

void
cleanup_message_begin(struct cleanup_state *st)
{
	if (st->submit_uid < 0)
		return;
	buf_reset(&st->tmp);
	buf_printf(&st->tmp, "Received: by %s (%s, from userid %ld)\n\tid %s; ",
	    var_myhostname, var_mail_name, st->submit_uid, st->queue_id.data);
	time_fmt_rfc5322(&st->tmp, st->arrival.tv_sec);
	cleanup_out_header(st, st->tmp.data, st->tmp.len);
	st->hops++;
}

/* RFC 5322 ftext: printable, not ':'. */
static bool
cleanup_ftext(unsigned char ch)
{
	return ch > 32 && ch < 127 && ch != ':';
}

/*
 * What a line is, from its first len bytes; complete when the line ends
 * there.
 */
static enum cleanup_line
cleanup_classify(const struct cleanup_state *st, const char *line,
    size_t len, bool complete)
{
	enum cleanup_line more = complete ? CLEANUP_LINE_BODY
	    : CLEANUP_LINE_UNKNOWN;
	size_t i = 0;

	if (len == 0)
		return more;
	if (line[0] == ' ' || line[0] == '\t')
		return st->have_header ? CLEANUP_LINE_FOLDED
		    : CLEANUP_LINE_BODY;
	while (i < len && cleanup_ftext((unsigned char)line[i]))
		i++;
	if (i == 0)
		return CLEANUP_LINE_BODY;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return more;
	return line[i] == ':' ? CLEANUP_LINE_HEADER : CLEANUP_LINE_BODY;
}

/* Add to the current header, up to header_size_limit. */
static void
cleanup_header_append(struct cleanup_state *st, const char *data,
    size_t len)
{
	size_t limit = (size_t)var_header_size_limit;
	size_t room;

	if (st->header.len >= limit) {
		st->header_truncated |= len > 0;
		return;
	}
	room = limit - st->header.len;
	if (len > room) {
		len = room;
		st->header_truncated = true;
	}
	buf_append(&st->header, data, len);
}

static bool
cleanup_name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* Keep a Message-ID value for the log: unfolded, trimmed, bounded. */
static void
cleanup_keep_msgid(struct cleanup_state *st, const char *value, size_t len)
{
	size_t i;

	buf_reset(&st->message_id);
	for (i = 0; i < len && st->message_id.len < CLEANUP_MSGID_LOG; i++) {
		if (value[i] == '\n')
			continue;
		if ((value[i] == ' ' || value[i] == '\t')
		    && st->message_id.len == 0)
			continue;
		buf_putc(&st->message_id, value[i]);
	}
	while (st->message_id.len > 0
	    && (st->message_id.data[st->message_id.len - 1] == ' '
	    || st->message_id.data[st->message_id.len - 1] == '\t'))
		buf_truncate(&st->message_id, st->message_id.len - 1);
}

/* The current logical header is complete: check, note and write it. */
static void
cleanup_header_flush(struct cleanup_state *st)
{
	struct buf *h = &st->header;
	const char *colon;
	size_t name_len, i;

	if (!st->have_header)
		return;
	st->have_header = false;
	for (i = 0; i < h->len; i++) {
		if (h->data[i] == 0) {
			h->data[i] = ' ';
			if (!st->nul_warned)
				msg_warn("%s: NUL byte in header replaced "
				    "with a space", st->queue_id.data);
			st->nul_warned = true;
		}
	}
	colon = memchr(h->data, ':', h->len);
	name_len = colon != NULL ? (size_t)(colon - h->data) : h->len;
	while (name_len > 0 && (h->data[name_len - 1] == ' '
	    || h->data[name_len - 1] == '\t'))
		name_len--;
	if (st->header_truncated) {
		st->header_truncated = false;
		msg_warn("%s: header too long, truncated: %.*s",
		    st->queue_id.data, (int)(name_len > 60 ? 60 : name_len),
		    h->data);
		/* No trailing blank line that would end the header block. */
		while (h->len > 0 && (h->data[h->len - 1] == '\n'
		    || h->data[h->len - 1] == ' '
		    || h->data[h->len - 1] == '\t'))
			buf_truncate(h, h->len - 1);
	}
	/* A name cut off by truncation: nothing left to keep. */
	if (colon == NULL || (size_t)(colon - h->data) >= h->len)
		goto out;
	if (cleanup_name_is(h->data, name_len, "Return-Path"))
		goto out;
	if (cleanup_name_is(h->data, name_len, "Received")) {
		st->hops++;
	} else if (cleanup_name_is(h->data, name_len, "Date")) {
		st->headers_seen |= CLEANUP_HDR_DATE;
	} else if (cleanup_name_is(h->data, name_len, "Message-ID")) {
		if (!(st->headers_seen & CLEANUP_HDR_MSGID))
			cleanup_keep_msgid(st, colon + 1,
			    h->len - (size_t)(colon + 1 - h->data));
		st->headers_seen |= CLEANUP_HDR_MSGID;
	} else if (cleanup_name_is(h->data, name_len, "From")) {
		st->headers_seen |= CLEANUP_HDR_FROM;
	} else if (cleanup_name_is(h->data, name_len, "To")
	    || cleanup_name_is(h->data, name_len, "Cc")) {
		st->headers_seen |= CLEANUP_HDR_TO;
	}
	if (st->hops > var_hopcount_limit
	    && !(st->status & CLEANUP_STAT_HOPS)) {
		if (st->flags & CLEANUP_FLAG_BOUNCE)
			cleanup_bounce_later(st,
			    "5.4.6 too many hops, message looping");
		else
			cleanup_fail(st, CLEANUP_STAT_HOPS,
			    "5.4.6 too many hops, message looping");
	}
	cleanup_out_header(st, h->data, h->len);
out:
	buf_reset(h);
}

/* Append name as an RFC 5322 phrase, quoted unless it is all atoms. */
static void
cleanup_phrase(struct buf *out, const char *name)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~ ";
	const unsigned char *p;
	size_t start = out->len, end, i;
	bool quote = false;
	struct buf q;

	/* Control characters (a folded header, a newline) become spaces. */
	for (p = (const unsigned char *)name; *p == ' ' || *p == '\t'; p++)
		continue;
	for (; *p != 0; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			buf_putc(out, ' ');
			continue;
		}
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z')
		    && !(*p >= '0' && *p <= '9') && strchr(atext, *p) == NULL)
			quote = true;
		buf_putc(out, *p);
	}
	end = out->len;
	while (end > start && out->data[end - 1] == ' ')
		end--;
	buf_truncate(out, end);
	if (!quote || end == start)
		return;
	/* Redo it quoted: '"' and '\' get a backslash. */
	buf_init(&q, end - start + 8);
	buf_putc(&q, '"');
	for (i = start; i < end; i++) {
		if (out->data[i] == '"' || out->data[i] == '\\')
			buf_putc(&q, '\\');
		buf_putc(&q, out->data[i]);
	}
	buf_putc(&q, '"');
	buf_truncate(out, start);
	buf_append(out, q.data, q.len);
	buf_fini(&q);
}

static void
cleanup_add_from(struct cleanup_state *st)
{
	struct buf addr;
	size_t mark;

	buf_init(&addr, 64);
	if (st->sender.len > 0) {
		buf_set(&addr, st->sender.data);
	} else if (st->status == 0
	    && rewrite_clnt(REWRITE_LOCAL, "MAILER-DAEMON", &addr) < 0) {
		cleanup_fail(st, CLEANUP_STAT_DEFER,
		    "4.3.0 address rewriting is temporarily unavailable");
	}
	if (addr.len == 0)
		buf_set(&addr, "MAILER-DAEMON");
	buf_set(&st->tmp, "From: ");
	mark = st->tmp.len;
	if (st->sender.len > 0)
		cleanup_phrase(&st->tmp, st->full_name.data);
	if (st->tmp.len > mark)
		buf_printf(&st->tmp, " <%s>", addr.data);
	else
		buf_puts(&st->tmp, addr.data);
	cleanup_out_text(st, REC_TYPE_NORM, st->tmp.data, st->tmp.len);
	buf_fini(&addr);
}

/* Does this message get its missing headers? (see the top) */
static bool
cleanup_adds_headers(const struct cleanup_state *st)
{
	return var_always_add_missing_headers
	    || strcmp(st->rewrite_context, REWRITE_LOCAL) == 0
	    || *var_remote_header_rewrite_domain != 0;
}

/*
 * undisclosed_recipients_header, when it is one header "Name: text" on
 * one line (anything else would end or corrupt the header block).
 */
static const char *
cleanup_undisclosed_header(void)
{
	static bool warned;
	const char *h = var_undisclosed_recipients_header, *cp;

	if (*h == 0)
		return NULL;
	for (cp = h; *cp > ' ' && *cp < 127 && *cp != ':'; cp++)
		;
	if (cp > h && *cp == ':' && strpbrk(h, "\r\n") == NULL)
		return h;
	if (!warned)
		msg_warn("undisclosed_recipients_header: \"%s\" is not a "
		    "header (Name: text); ignored", h);
	warned = true;
	return NULL;
}

/* The header block ends: add what is missing; body_first as above. */
static void
cleanup_headers_end(struct cleanup_state *st, bool blank_needed)
{
	struct tm tm;
	time_t when = st->arrival.tv_sec;
	const char *to;

	cleanup_header_flush(st);
	if (!cleanup_adds_headers(st))
		goto done;
	if (!(st->headers_seen & CLEANUP_HDR_DATE)) {
		buf_set(&st->tmp, "Date: ");
		time_fmt_rfc5322(&st->tmp, when);
		cleanup_out_text(st, REC_TYPE_NORM, st->tmp.data, st->tmp.len);
	}
	if (!(st->headers_seen & CLEANUP_HDR_MSGID)) {
		if (gmtime_r(&when, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		buf_reset(&st->message_id);
		buf_printf(&st->message_id,
		    "<%04d%02d%02d%02d%02d%02d.%s@%s>", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, st->queue_id.data, var_myhostname);
		buf_set(&st->tmp, "Message-ID: ");
		buf_puts(&st->tmp, st->message_id.data);
		cleanup_out_text(st, REC_TYPE_NORM, st->tmp.data, st->tmp.len);
	}
	if (!(st->headers_seen & CLEANUP_HDR_FROM))
		cleanup_add_from(st);
	if (!(st->headers_seen & CLEANUP_HDR_TO)
	    && (to = cleanup_undisclosed_header()) != NULL)
		cleanup_out_str(st, REC_TYPE_NORM, to);
done:
	/* Every message, with or without one ("<>"), as Postfix logs. */
	msg_info("%s: message-id=%s", st->queue_id.data,
	    st->message_id.len > 0 ? st->message_id.data : "<>");
	if (blank_needed)
		cleanup_out(st, REC_TYPE_NORM, "", 0);
}

/* A content record while in the header block. */
static void
cleanup_header_rec(struct cleanup_state *st, int type, const char *data,
    size_t len)
{
	enum cleanup_line cls = st->line_class;

	if (cls != CLEANUP_LINE_UNKNOWN) {
		/* More of a header line that was classified already. */
		cleanup_header_append(st, data, len);
		goto out;
	}

	/*
	 * Collect the start of the line until it says what it is: at most
	 * header_size_limit plus one record.
	 */
	buf_append(&st->line, data, len);
	cls = cleanup_classify(st, st->line.data, st->line.len,
	    type == REC_TYPE_NORM);
	if (cls == CLEANUP_LINE_UNKNOWN) {
		if (st->line.len < (size_t)var_header_size_limit)
			return;
		cls = CLEANUP_LINE_BODY;
	}
	switch (cls) {
	case CLEANUP_LINE_HEADER:
		cleanup_header_flush(st);
		st->have_header = true;
		cleanup_header_append(st, st->line.data, st->line.len);
		break;
	case CLEANUP_LINE_FOLDED:
		cleanup_header_append(st, "\n", 1);
		cleanup_header_append(st, st->line.data, st->line.len);
		break;
	default:
		cleanup_headers_end(st, !(st->line.len == 0
		    && type == REC_TYPE_NORM));
		st->phase = CLEANUP_PHASE_BODY;
		cleanup_out_text(st, type, st->line.data, st->line.len);
		break;
	}
	buf_reset(&st->line);
	st->line_class = cls;
out:
	if (type == REC_TYPE_NORM)
		st->line_class = CLEANUP_LINE_UNKNOWN;
}

/*
 * A copy of a content line piece with each CR or LF in it (a "stray"
 * one: records hold lines without their ending) replaced by a space,
 * so that nothing smuggled into a message goes out with a bare CR or
 * LF. Valid until the next call.
 */
static const char *
cleanup_stray_cr_lf(const char *data, size_t len)
{
	static struct buf copy;
	size_t i;

	if (copy.data == NULL)
		buf_init(&copy, 256);
	buf_setn(&copy, data, len);
	for (i = 0; i < len; i++)
		if (copy.data[i] == '\r' || copy.data[i] == '\n')
			copy.data[i] = ' ';
	return copy.data;
}

/* Count what the client sent against message_size_limit. */
static void
cleanup_count(struct cleanup_state *st, int type, size_t len)
{
	unsigned long long n = len + (type == REC_TYPE_NORM);

	if (__builtin_add_overflow(st->content_in, n, &st->content_in))
		st->content_in = ~0ULL;
	if (var_message_size_limit > 0
	    && st->content_in > (unsigned long long)var_message_size_limit
	    && !(st->status & CLEANUP_STAT_SIZE))
		cleanup_fail(st, CLEANUP_STAT_SIZE,
		    "5.3.4 message file too big");
}

/*
 * "cleanup_flags=N" after XTRA: HOLD or DISCARD decided once the client
 * had seen the whole content. Anything else there is malformed.
 */
static int
cleanup_late_flags(struct cleanup_state *st, const char *data, size_t len)
{
	static const char prefix[] = MAIL_ATTR_CLEANUP_FLAGS "=";
	size_t plen = sizeof(prefix) - 1, i;
	unsigned long bits = 0;

	if (len <= plen || len > plen + 3 || memcmp(data, prefix, plen) != 0)
		return cleanup_bad(st, "unexpected attribute after the content");
	for (i = plen; i < len; i++) {
		if (data[i] < '0' || data[i] > '9')
			return cleanup_bad(st, "malformed %s", prefix);
		bits = bits * 10 + (unsigned long)(data[i] - '0');
	}
	if (bits & ~(unsigned long)(CLEANUP_FLAG_HOLD | CLEANUP_FLAG_DISCARD))
		return cleanup_bad(st, "flags 0x%lx not allowed after the "
		    "content", bits);
	st->flags |= (int)bits;
	return CLEANUP_REC_MORE;
}

int
cleanup_message(struct cleanup_state *st, int type, const char *data,
    size_t len)
{
	if (st->phase == CLEANUP_PHASE_XTRA) {
		if (type == REC_TYPE_ATTR)
			return cleanup_late_flags(st, data, len);
		if (type != REC_TYPE_END || len != 0)
			return cleanup_bad(st, "unexpected %s record after "
			    "the content", rec_type_name(type));
		st->phase = CLEANUP_PHASE_DONE;
		return CLEANUP_REC_END;
	}
	if (type == REC_TYPE_XTRA) {
		if (len != 0)
			return cleanup_bad(st, "malformed %s record",
			    rec_type_name(type));
		if (st->mid_line)
			return cleanup_bad(st, "content ends in the middle "
			    "of a line");
		if (st->phase == CLEANUP_PHASE_HEADERS)
			cleanup_headers_end(st, false);
		st->phase = CLEANUP_PHASE_XTRA;
		return CLEANUP_REC_MORE;
	}
	if (type != REC_TYPE_NORM && type != REC_TYPE_CONT)
		return cleanup_bad(st, "unexpected %s record in the content",
		    rec_type_name(type));
	cleanup_count(st, type, len);
	if (var_cleanup_replace_stray_cr_lf && len > 0
	    && (memchr(data, '\r', len) != NULL
	    || memchr(data, '\n', len) != NULL))
		data = cleanup_stray_cr_lf(data, len);
	if (st->phase == CLEANUP_PHASE_BODY)
		cleanup_out_text(st, type, data, len);
	else
		cleanup_header_rec(st, type, data, len);
	st->mid_line = type == REC_TYPE_CONT;
	return CLEANUP_REC_MORE;
}
