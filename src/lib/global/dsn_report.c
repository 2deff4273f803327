/*
 * dsn_report.c - compose RFC 3464 delivery status notifications
 *
 * dsn_report_open() picks the recipients to report from the log
 * entries (NOTIFY, kind, done marks, one per recipient) and reads the
 * part of the original that will be returned once, to choose a MIME
 * boundary none of its lines starts with, to learn whether it holds
 * 8-bit bytes and whether it must be cut. dsn_report_write() then
 * emits the report line by line; it reads the returned part again, with
 * the same rules, so both passes see the same lines (a queue file's
 * content never changes). The layout of the report is in dsn_report.h.
 *
 * Generated text goes through one folding routine (dr_fold), which
 * keeps every line within DSN_REPORT_LINE_MAX: header-style fields are
 * folded before a space (RFC 5322 folding, undone exactly by
 * unfolding), human text is wrapped with an indentation, and a word
 * longer than a line is split.
 *
 * SECURITY: addresses, reasons and diagnostics come from queue files,
 * logs and remote servers. They are made printable ASCII (runs of white
 * space collapsed) before they go into a generated line, so they can
 * neither end a header section nor start a MIME delimiter; the original
 * is passed through only inside the third part, and only up to
 * size_limit bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bounce_log.h"
#include "buf.h"
#include "cleanup_proto.h"
#include "dsn_report.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "proto_names.h"
#include "qfile.h"
#include "queue_id.h"
#include "rec.h"
#include "timeutil.h"

/* Generated lines are wrapped here when they can be. */
#define DR_FIELD_WIDTH	78
#define DR_TEXT_WIDTH	72
/* RFC 2046: a boundary is 1 to 70 characters. */
#define DR_BOUNDARY_MAX	70
/* Boundaries tried before giving up on avoiding the original's lines. */
#define DR_BOUNDARY_TRIES	8

struct dsn_report {
	int fd;
	const struct qfile *qf;
	struct dsn_report_params p;
	const struct bounce_log_entry **sel;	/* the recipients reported */
	size_t nsel;
	const char *to;
	struct buf boundary;
	bool headers_only;		/* text/rfc822-headers */
	bool truncated;
	bool eightbit;
	size_t limit;
	/* While writing. */
	dsn_report_fn fn;
	void *ctx;
	bool stopped;
	bool written;
	struct buf line;
	struct buf tmp;
	struct buf val;
};

static const char *const dr_subjects[] = {
	[DSN_REPORT_FAILURE] = "Undelivered Mail Returned to Sender",
	[DSN_REPORT_DELAY] = "Delayed Mail (still being retried)",
	[DSN_REPORT_SUCCESS] = "Successful Mail Delivery Report",
};

static const char *const dr_descriptions[] = {
	[DSN_REPORT_FAILURE] = "Undelivered Message",
	[DSN_REPORT_DELAY] = "Delayed Message",
	[DSN_REPORT_SUCCESS] = "Delivered Message",
};

/* ---- choosing recipients ---------------------------------------------- */

/* RFC 3461 section 4.1: does this recipient want this kind of notice? */
static bool
dr_notify_wants(const struct dsn_report_params *p, int bits)
{
	static const int want[] = {
		[DSN_REPORT_FAILURE] = DSN_NOTIFY_FAILURE,
		[DSN_REPORT_DELAY] = DSN_NOTIFY_DELAY,
		[DSN_REPORT_SUCCESS] = DSN_NOTIFY_SUCCESS,
	};

	if (p->all_recipients)
		return true;
	if (bits == 0)
		bits = DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY;
	if (bits & DSN_NOTIFY_NEVER)
		return false;
	return (bits & want[p->type]) != 0;
}

static bool
dr_action_fits(enum dsn_report_type type, enum bounce_log_action action)
{
	switch (type) {
	case DSN_REPORT_FAILURE:
		return action == BOUNCE_LOG_FAILED
		    || action == BOUNCE_LOG_DELAYED;
	case DSN_REPORT_DELAY:
		return action == BOUNCE_LOG_DELAYED;
	case DSN_REPORT_SUCCESS:
		return action == BOUNCE_LOG_DELIVERED
		    || action == BOUNCE_LOG_EXPANDED
		    || action == BOUNCE_LOG_RELAYED;
	}
	return false;
}

/* The queue file recipient at offset (they are in file order). */
static const struct qfile_rcpt *
dr_find_rcpt(const struct qfile *qf, off_t offset)
{
	size_t lo = 0, hi = qf->rcpt_count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (qf->rcpts[mid].offset == offset)
			return &qf->rcpts[mid];
		if (qf->rcpts[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * An entry belongs to the queue file recipient at its offset when it
 * names that address, or names it as the original of an address that
 * a delivery agent expanded it to (an alias: deliver_request.h).
 */
static bool
dr_entry_of(const struct qfile_rcpt *rcpt, const struct bounce_log_entry *e)
{
	if (strcmp(rcpt->addr, e->recipient) == 0)
		return true;
	return e->orig_rcpt != NULL && (strcmp(rcpt->addr, e->orig_rcpt) == 0
	    || (rcpt->orcpt != NULL && strcmp(rcpt->orcpt, e->orig_rcpt) == 0));
}

static void
dr_select(struct dsn_report *r, const struct bounce_log_entry *entries,
    size_t count)
{
	const struct dsn_report_params *p = &r->p;
	const struct bounce_log_entry *e;
	const struct qfile_rcpt *rcpt;
	struct htable *seen;
	struct buf key;
	void *slot;
	size_t i;

	r->sel = xreallocarray(NULL, count ? count : 1, sizeof(*r->sel));
	r->nsel = 0;
	seen = htable_new(count ? count : 1);
	buf_init(&key, 32);
	for (i = 0; i < count; i++) {
		e = &entries[i];
		if (!dr_action_fits(p->type, e->action)) {
			msg_warn("%s: log entry for <%s>: action %s does not "
			    "belong in this report; skipped", p->queue_id,
			    e->recipient, bounce_log_action_name(e->action));
			continue;
		}
		if (!dr_notify_wants(p, e->notify))
			continue;
		rcpt = dr_find_rcpt(r->qf, e->offset);
		if (rcpt == NULL || !dr_entry_of(rcpt, e))
			msg_warn("%s: log entry for <%s>: no such recipient at "
			    "offset %lld of the queue file", p->queue_id,
			    e->recipient, (long long)e->offset);
		else if (p->skip_done && rcpt->done)
			continue;
		/*
		 * One address, one report entry: the latest. (An alias in
		 * the queue file may have expanded to several addresses,
		 * each with its own entry at the same offset.)
		 */
		buf_reset(&key);
		buf_printf(&key, "%lld %s", (long long)e->offset, e->recipient);
		if ((slot = htable_get(seen, key.data)) != NULL) {
			r->sel[(uintptr_t)slot - 1] = e;
			continue;
		}
		r->sel[r->nsel++] = e;
		(void)htable_put(seen, key.data, (void *)(uintptr_t)r->nsel);
	}
	htable_free(seen, NULL);
	buf_fini(&key);
}

/* ---- lines ------------------------------------------------------------ */

static void
dr_emit(struct dsn_report *r, int type, const char *data, size_t len)
{
	if (r->stopped)
		return;
	if (len > DSN_REPORT_LINE_MAX)
		msg_panic("dsn_report: line of %zu bytes", len);
	if (r->fn(r->ctx, type, data, len) < 0)
		r->stopped = true;
}

/*
 * Append s made printable ASCII: other bytes become '?'; with collapse,
 * runs of white space become one space and the ends are trimmed.
 */
static void
dr_ascii(struct buf *out, const char *s, bool collapse)
{
	const unsigned char *cp = (const unsigned char *)s;
	bool space = false;
	size_t start = out->len;

	for (; *cp; cp++) {
		if (collapse && (*cp == ' ' || *cp == '\t')) {
			space = out->len > start;
			continue;
		}
		if (space)
			buf_putc(out, ' ');
		space = false;
		buf_putc(out, *cp > ' ' && *cp < 0x7f ? *cp
		    : *cp == ' ' ? ' ' : '?');
	}
}

/*
 * Emit text as one or more lines. With header, continuation lines start
 * with the space that was folded before (or an inserted one, when a
 * word must be split), and no break comes before position min; else
 * they start with indent and the space at the break is dropped.
 */
static void
dr_fold(struct dsn_report *r, const char *text, size_t min, size_t width,
    const char *indent, bool header)
{
	size_t len = strlen(text), pos = 0, lead, room, hard, brk, i, lo;
	bool first = true;

	for (;;) {
		buf_reset(&r->line);
		if (!first) {
			if (!header)
				buf_puts(&r->line, indent);
			else if (text[pos] != ' ')
				buf_putc(&r->line, ' ');
		}
		lead = r->line.len;
		room = width > lead ? width - lead : 1;
		hard = DSN_REPORT_LINE_MAX - lead;
		if (len - pos <= room)
			break;
		lo = first && min > pos ? min : pos;
		brk = 0;
		for (i = pos + room; i > lo; i--)
			if (text[i] == ' ') {
				brk = i;
				break;
			}
		for (i = (pos + room > lo ? pos + room : lo) + 1;
		    brk == 0 && i < len && i - pos <= hard; i++)
			if (text[i] == ' ')
				brk = i;
		if (brk == 0 && len - pos <= hard)
			break;
		if (brk == 0) {		/* one word longer than a line */
			buf_append(&r->line, text + pos, hard);
			pos += hard;
		} else {
			buf_append(&r->line, text + pos, brk - pos);
			pos = header ? brk : brk + 1;
		}
		dr_emit(r, REC_TYPE_NORM, r->line.data, r->line.len);
		first = false;
		if (pos >= len)
			return;
	}
	buf_append(&r->line, text + pos, len - pos);
	dr_emit(r, REC_TYPE_NORM, r->line.data, r->line.len);
}

/* A line of fixed text (short by construction). */
static void
dr_put(struct dsn_report *r, const char *text)
{
	dr_fold(r, text, 0, DSN_REPORT_LINE_MAX, "", false);
}

/* "Name: value", value as given (the caller made it safe). */
static void
dr_field(struct dsn_report *r, const char *name, const char *value)
{
	buf_reset(&r->tmp);
	buf_printf(&r->tmp, "%s: %s", name, value);
	dr_fold(r, r->tmp.data, strlen(name) + 2, DR_FIELD_WIDTH, "", true);
}

/* "Name: prefix" followed by outside text made safe. */
static void
dr_field_ascii(struct dsn_report *r, const char *name, const char *prefix,
    const char *value, bool collapse)
{
	buf_reset(&r->val);
	buf_puts(&r->val, prefix);
	dr_ascii(&r->val, value, collapse);
	dr_field(r, name, r->val.data);
}

static void
dr_field_date(struct dsn_report *r, const char *name, time_t when)
{
	buf_reset(&r->val);
	time_fmt_rfc5322(&r->val, when);
	dr_field(r, name, r->val.data);
}

/* A paragraph of human text (r->val), then an empty line. */
static void
dr_para(struct dsn_report *r)
{
	dr_fold(r, r->val.data, 0, DR_TEXT_WIDTH, "", false);
	dr_put(r, "");
}

/* ---- the boundary and the original ------------------------------------ */

static void
dr_make_boundary(struct dsn_report *r, bool random_suffix)
{
	static unsigned counter;
	const char *cp;
	uint32_t rnd;
	size_t room;

	buf_reset(&r->boundary);
	buf_printf(&r->boundary, "%s.%lld", r->p.queue_id,
	    (long long)r->p.now);
	if (random_suffix) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK)
		    != (ssize_t)sizeof(rnd))
			rnd = (uint32_t)getpid() * 2654435761u + ++counter;
		buf_printf(&r->boundary, ".%08x", (unsigned)rnd);
	}
	buf_putc(&r->boundary, '/');
	room = DR_BOUNDARY_MAX - r->boundary.len;
	for (cp = r->p.myhostname; *cp && room > 0; cp++) {
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789.-", *cp) == NULL)
			continue;
		buf_putc(&r->boundary, *cp);
		room--;
	}
}

static bool
dr_has_8bit(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)data[i] >= 0x80)
			return true;
	return false;
}

/*
 * Walk the part of the original that is returned: its header lines
 * (up to the empty line) or all of it, at most r->limit bytes. With
 * emit, hand it to the callback; else note r->truncated, r->eightbit,
 * and *collide when a line starts with "--" and the boundary.
 * Returns QFILE_END (0), or QFILE_CORRUPT / QFILE_IOERR with why.
 */
static int
dr_walk_original(struct dsn_report *r, bool emit, bool *collide,
    struct buf *why)
{
	struct qfile_content *qc;
	struct buf piece;
	size_t total = 0, cost;
	bool in_line = false;
	int rc = QFILE_END;

	qc = qfile_content_open(r->fd, r->qf);
	buf_init(&piece, 1024);
	while (!r->stopped
	    && (rc = qfile_content_next(qc, &piece, DSN_REPORT_LINE_MAX,
	    why)) > 0) {
		if (r->headers_only && !in_line && rc == QFILE_LINE
		    && piece.len == 0)
			break;
		cost = piece.len + (rc == QFILE_LINE ? 1 : 0);
		if (cost > r->limit - total) {
			r->truncated = true;
			/* End a line cut in the middle. */
			if (emit && in_line)
				dr_emit(r, REC_TYPE_NORM, "", 0);
			break;
		}
		total += cost;
		if (emit) {
			dr_emit(r, rc == QFILE_LINE ? REC_TYPE_NORM
			    : REC_TYPE_CONT, piece.data, piece.len);
		} else {
			if (!in_line && piece.len >= 2 + r->boundary.len
			    && piece.data[0] == '-' && piece.data[1] == '-'
			    && memcmp(piece.data + 2, r->boundary.data,
			    r->boundary.len) == 0)
				*collide = true;
			if (!r->eightbit && dr_has_8bit(piece.data, piece.len))
				r->eightbit = true;
		}
		in_line = rc == QFILE_PART;
	}
	if (rc > 0 || r->stopped)
		rc = QFILE_END;
	qfile_content_close(qc);
	buf_fini(&piece);
	return rc;
}

/* ---- opening ------------------------------------------------------------ */

int
dsn_report_open(int fd, const struct qfile *qf,
    const struct bounce_log_entry *entries, size_t count,
    const struct dsn_report_params *params, struct dsn_report **out,
    struct buf *why)
{
	struct dsn_report *r;
	const char *ret, *body;
	bool collide;
	int tries, rc;

	*out = NULL;
	if (params->queue_id == NULL || !queue_id_valid(params->queue_id)
	    || params->myhostname == NULL
	    || (unsigned)params->type > DSN_REPORT_SUCCESS)
		msg_panic("dsn_report_open: bad parameters");
	r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->qf = qf;
	r->p = *params;
	if (r->p.mail_name == NULL)
		r->p.mail_name = "Petrel";
	if (r->p.now == 0)
		r->p.now = time(NULL);
	r->to = params->to ? params->to : qf->sender;
	r->limit = params->size_limit ? params->size_limit
	    : DSN_REPORT_SIZE_LIMIT;
	buf_init(&r->boundary, DR_BOUNDARY_MAX + 1);
	buf_init(&r->line, 128);
	buf_init(&r->tmp, 128);
	buf_init(&r->val, 128);

	dr_select(r, entries, count);
	if (r->nsel == 0 || (params->to == NULL && *qf->sender == 0)) {
		rc = r->nsel == 0 ? DSN_REPORT_EMPTY : DSN_REPORT_NOSENDER;
		dsn_report_free(r);
		return rc;
	}

	/* RFC 3461 section 4.3: RET applies to failure reports only. */
	ret = qfile_attr(qf, MAIL_ATTR_RET);
	if (r->p.type != DSN_REPORT_FAILURE)
		r->headers_only = true;
	else if (r->p.ret != DSN_RETURN_DEFAULT)
		r->headers_only = r->p.ret == DSN_RETURN_HEADERS;
	else
		r->headers_only = ret != NULL && strcmp(ret, "hdrs") == 0;
	body = qfile_attr(qf, MAIL_ATTR_BODY_TYPE);
	r->eightbit = body != NULL && strcmp(body, "8BITMIME") == 0;

	for (tries = 0; tries < DR_BOUNDARY_TRIES; tries++) {
		dr_make_boundary(r, tries > 0);
		collide = false;
		r->truncated = false;
		if ((rc = dr_walk_original(r, false, &collide, why)) < 0) {
			dsn_report_free(r);
			return rc;
		}
		if (!collide)
			break;
	}
	if (collide)
		msg_warn("%s: the original holds lines that start like every "
		    "MIME boundary tried", params->queue_id);
	*out = r;
	return DSN_REPORT_OK;
}

size_t
dsn_report_rcpt_count(const struct dsn_report *r)
{
	return r->nsel;
}

const char *
dsn_report_recipient(const struct dsn_report *r)
{
	return r->to;
}

const char *
dsn_report_boundary(const struct dsn_report *r)
{
	return r->boundary.data;
}

bool
dsn_report_8bit(const struct dsn_report *r)
{
	return r->eightbit;
}

bool
dsn_report_truncated(const struct dsn_report *r)
{
	return r->truncated;
}

void
dsn_report_free(struct dsn_report *r)
{
	if (r == NULL)
		return;
	free(r->sel);
	buf_fini(&r->boundary);
	buf_fini(&r->line);
	buf_fini(&r->tmp);
	buf_fini(&r->val);
	free(r);
}

/* ---- writing ------------------------------------------------------------ */

static void
dr_headers(struct dsn_report *r)
{
	buf_reset(&r->val);
	buf_puts(&r->val, "MAILER-DAEMON@");
	dr_ascii(&r->val, r->p.myhostname, false);
	buf_puts(&r->val, " (Mail Delivery System)");
	dr_field(r, "From", r->val.data);
	dr_field_ascii(r, "To", "", r->to, false);
	dr_field_ascii(r, "Subject", "", r->p.subject ? r->p.subject
	    : dr_subjects[r->p.type], true);
	dr_field_date(r, "Date", r->p.now);
	dr_field(r, "Auto-Submitted", "auto-replied");
	dr_field(r, "MIME-Version", "1.0");
	buf_reset(&r->val);
	buf_printf(&r->val, "multipart/report; report-type=delivery-status; "
	    "boundary=\"%s\"", r->boundary.data);
	dr_field(r, "Content-Type", r->val.data);
	if (r->eightbit)
		dr_field(r, "Content-Transfer-Encoding", "8bit");
	dr_put(r, "");
	dr_put(r, "This is a MIME-encapsulated message.");
	dr_put(r, "");
}

static void
dr_delimiter(struct dsn_report *r, bool last)
{
	buf_reset(&r->tmp);
	buf_printf(&r->tmp, "--%s%s", r->boundary.data, last ? "--" : "");
	dr_emit(r, REC_TYPE_NORM, r->tmp.data, r->tmp.len);
}

/* The address part of an ORCPT "type;address", or all of it. */
static const char *
dr_orcpt_addr(const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	size_t n;

	if (semi == NULL)
		return orcpt;
	n = strspn(orcpt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-");
	if (orcpt + n != semi || n == 0)
		return orcpt;
	return semi + 1 + strspn(semi + 1, " \t");
}

static void
dr_intro(struct dsn_report *r)
{
	buf_reset(&r->val);
	buf_puts(&r->val, "This is the ");
	dr_ascii(&r->val, r->p.mail_name, true);
	buf_puts(&r->val, " mail system at host ");
	dr_ascii(&r->val, r->p.myhostname, false);
	buf_putc(&r->val, '.');
	dr_para(r);

	buf_reset(&r->val);
	switch (r->p.type) {
	case DSN_REPORT_FAILURE:
		buf_puts(&r->val, "Your message could not be delivered to one "
		    "or more of its recipients, and the mail system has given "
		    "up trying. The reasons are listed below.");
		break;
	case DSN_REPORT_DELAY:
		buf_puts(&r->val, "Your message has not been delivered yet to "
		    "one or more of its recipients. This is only a warning: "
		    "the mail system keeps trying");
		if (r->p.retry_until > 0) {
			buf_puts(&r->val, " until ");
			time_fmt_rfc5322(&r->val, r->p.retry_until);
		}
		buf_puts(&r->val, ", and there is no need to send the message "
		    "again. The reasons for the delay are listed below.");
		break;
	case DSN_REPORT_SUCCESS:
		buf_puts(&r->val, "You asked to be told when your message was "
		    "delivered. It was delivered to the recipients listed "
		    "below, or passed on to an alias, a mailing list or a "
		    "system that sends no delivery reports.");
		break;
	}
	buf_puts(&r->val, r->headers_only
	    ? " The headers of the message are attached"
	    : " The message is attached");
	if (r->truncated)
		buf_printf(&r->val, ", cut to its first %zu bytes", r->limit);
	buf_putc(&r->val, '.');
	dr_para(r);

	if (r->p.type == DSN_REPORT_FAILURE) {
		buf_reset(&r->val);
		buf_puts(&r->val, "For help, write to postmaster@");
		dr_ascii(&r->val, r->p.myhostname, false);
		buf_puts(&r->val, " and include this report.");
		dr_para(r);
	}
}

/* Part 1: the human-readable explanation. */
static void
dr_part_text(struct dsn_report *r)
{
	const struct bounce_log_entry *e;
	const char *orig;
	size_t i;

	dr_delimiter(r, false);
	dr_field(r, "Content-Description", "Notification");
	dr_field(r, "Content-Type", "text/plain; charset=us-ascii");
	dr_put(r, "");
	dr_intro(r);
	for (i = 0; i < r->nsel && !r->stopped; i++) {
		e = r->sel[i];
		buf_reset(&r->val);
		buf_putc(&r->val, '<');
		dr_ascii(&r->val, e->recipient, false);
		buf_putc(&r->val, '>');
		orig = e->orig_rcpt ? dr_orcpt_addr(e->orig_rcpt) : NULL;
		if (orig != NULL && *orig && strcmp(orig, e->recipient) != 0) {
			buf_puts(&r->val, " (expanded from <");
			dr_ascii(&r->val, orig, false);
			buf_puts(&r->val, ">)");
		}
		buf_puts(&r->val, ": ");
		dr_ascii(&r->val, e->reason, true);
		dr_fold(r, r->val.data, 0, DR_FIELD_WIDTH, "    ", false);
		dr_put(r, "");
	}
}

/* "type; value" with the type of an ORCPT kept, else rfc822. */
static void
dr_field_orcpt(struct dsn_report *r, const char *orcpt)
{
	const char *addr = dr_orcpt_addr(orcpt);

	buf_reset(&r->val);
	if (addr == orcpt) {
		buf_puts(&r->val, "rfc822; ");
	} else {
		dr_ascii(&r->val, orcpt, false);
		buf_truncate(&r->val, (size_t)(strchr(orcpt, ';') - orcpt));
		buf_puts(&r->val, "; ");
	}
	dr_ascii(&r->val, addr, false);
	dr_field(r, "Original-Recipient", r->val.data);
}

/* Part 2: message/delivery-status. */
static void
dr_part_status(struct dsn_report *r)
{
	const struct bounce_log_entry *e;
	const char *envid = qfile_attr(r->qf, MAIL_ATTR_ENVID);
	const char *action;
	size_t i;

	dr_delimiter(r, false);
	dr_field(r, "Content-Description", "Delivery report");
	dr_field(r, "Content-Type", "message/delivery-status");
	dr_put(r, "");
	/* RFC 3464 section 2.2, in its order, extensions last. */
	if (envid != NULL)
		dr_field_ascii(r, "Original-Envelope-Id", "", envid, false);
	dr_field_ascii(r, "Reporting-MTA", "dns; ", r->p.myhostname, false);
	if (r->qf->arrival.tv_sec > 0)
		dr_field_date(r, "Arrival-Date", r->qf->arrival.tv_sec);
	dr_field_ascii(r, "X-Petrel-Queue-ID", "", r->p.queue_id, false);
	dr_field_ascii(r, "X-Petrel-Sender", "rfc822; ", *r->qf->sender
	    ? r->qf->sender : "<>", false);
	for (i = 0; i < r->nsel && !r->stopped; i++) {
		e = r->sel[i];
		dr_put(r, "");
		/* RFC 3464 section 2.3, in its order. */
		if (e->orig_rcpt != NULL && *e->orig_rcpt)
			dr_field_orcpt(r, e->orig_rcpt);
		dr_field_ascii(r, "Final-Recipient", "rfc822; ", e->recipient,
		    false);
		action = r->p.type == DSN_REPORT_FAILURE ? "failed"
		    : r->p.type == DSN_REPORT_DELAY ? "delayed"
		    : bounce_log_action_name(e->action);
		dr_field(r, "Action", action);
		dr_field_ascii(r, "Status", "", e->status, false);
		if (e->mta_type != NULL && e->mta_name != NULL) {
			buf_reset(&r->tmp);
			dr_ascii(&r->tmp, e->mta_type, false);
			buf_puts(&r->tmp, "; ");
			dr_field_ascii(r, "Remote-MTA", r->tmp.data,
			    e->mta_name, false);
		}
		if (e->diag_type != NULL && e->diag_text != NULL) {
			buf_reset(&r->tmp);
			dr_ascii(&r->tmp, e->diag_type, false);
			buf_puts(&r->tmp, "; ");
			dr_field_ascii(r, "Diagnostic-Code", r->tmp.data,
			    e->diag_text, true);
		} else {
			dr_field_ascii(r, "Diagnostic-Code", "X-Petrel; ",
			    e->reason, true);
		}
		if (r->p.type == DSN_REPORT_DELAY && r->p.retry_until > 0)
			dr_field_date(r, "Will-Retry-Until", r->p.retry_until);
	}
	dr_put(r, "");
}

/* Part 3: the original, or its headers. */
static int
dr_part_original(struct dsn_report *r, struct buf *why)
{
	dr_delimiter(r, false);
	buf_reset(&r->val);
	buf_puts(&r->val, dr_descriptions[r->p.type]);
	if (r->headers_only)
		buf_puts(&r->val, " Headers");
	if (r->truncated)
		buf_printf(&r->val, " (cut to %zu bytes)", r->limit);
	dr_field(r, "Content-Description", r->val.data);
	dr_field(r, "Content-Type", r->headers_only ? "text/rfc822-headers"
	    : "message/rfc822");
	if (r->eightbit)
		dr_field(r, "Content-Transfer-Encoding", "8bit");
	dr_put(r, "");
	return dr_walk_original(r, true, NULL, why);
}

int
dsn_report_write(struct dsn_report *r, dsn_report_fn fn, void *ctx,
    struct buf *why)
{
	int rc;

	if (r->written)
		msg_panic("dsn_report_write: called twice");
	r->written = true;
	r->fn = fn;
	r->ctx = ctx;
	dr_headers(r);
	dr_part_text(r);
	dr_part_status(r);
	if ((rc = dr_part_original(r, why)) < 0)
		return rc;
	/*
	 * The line end before a delimiter belongs to the delimiter: this
	 * empty line lets the original keep the end of its last line.
	 */
	dr_put(r, "");
	dr_delimiter(r, true);
	return r->stopped ? DSN_REPORT_STOPPED : DSN_REPORT_OK;
}

int
dsn_report(int fd, const struct qfile *qf,
    const struct bounce_log_entry *entries, size_t count,
    const struct dsn_report_params *params, dsn_report_fn fn, void *ctx,
    struct buf *why)
{
	struct dsn_report *r;
	int rc;

	if ((rc = dsn_report_open(fd, qf, entries, count, params, &r, why))
	    != DSN_REPORT_OK)
		return rc;
	rc = dsn_report_write(r, fn, ctx, why);
	dsn_report_free(r);
	return rc;
}
