/*
 * bounce_notify.c - bounce: reports from a message's log, through cleanup
 *
 * One request names one message and one log (bounce.h):
 *
 *	request	log		report			to
 *	flush	bounce/ID	failure			the sender
 *	expire	defer/ID	failure (delayed	the sender
 *				entries reported as
 *				failed; recipients
 *				delivered since then
 *				left out)
 *	trace	trace/ID	success			the sender
 *
 * Steps: read the log (bounce_log_read_all(), which skips malformed
 * entries); no entry: done. Open queue_name/ID and read its envelope
 * (qfile_read_envelope()). Compose each report with dsn_report_open()
 * and queue it through cleanup (cleanup_clnt.h) as a new message:
 *
 *	ATTR	log_ident=ID (the original's), rewrite_context=local,
 *		[body_type=8BITMIME when dsn_report_8bit()]
 *	FROM	"" for a report to the sender, double_bounce_sender for a
 *		postmaster notice
 *	RCPT	dsn_report_recipient()
 *	MESG	the report, dsn_report_write()'s lines as NORM/CONT records
 *	XTRA	END
 *
 * and log it in Postfix's words: "ID: sender non-delivery notification:
 * NEWID" (flush, expire), "ID: sender delivery status notification:
 * NEWID" (trace), "ID: postmaster non-delivery notification: NEWID".
 * Only when cleanup answered 0 (queued and synced) for every report is
 * the log removed and the request done.
 *
 * Postmaster notices (failure reports only) list every recipient
 * whatever its NOTIFY, return the original's headers only, come from
 * double_bounce_sender, and are addressed with @$myorigin appended to a
 * recipient without a domain (Postfix's mail_addr_double_bounce() does
 * the same for the sender):
 *	- an original from the null sender is a report itself: its failure
 *	  report goes to 2bounce_notice_recipient instead, always
 *	  (docs/parameters.md: whatever notify_classes says);
 *	- with "bounce" in notify_classes, bounce_notice_recipient gets a
 *	  copy of every failure report of a message that has a sender. The
 *	  copy is queued before the sender's report, so that when the
 *	  latter fails the retry repeats a copy to the postmaster, never a
 *	  report to the sender.
 * An original whose sender is double_bounce_sender is a postmaster
 * notice that could not be delivered: nothing is sent (this is what
 * stops loops), the loss is logged ("ID: undeliverable postmaster
 * notification discarded") and the request is done. Success reports
 * for the null sender or the double-bounce sender are dropped quietly.
 *
 * Failures (the log is kept, why says what went wrong): the log cannot
 * be read; the queue file cannot be opened or read, is not a regular
 * file or is corrupt ("corrupt queue file active/ID: ..."; qmgr, which
 * owns the message, decides what becomes of it); cleanup cannot be
 * reached or does not answer 0. A rejection by cleanup (for instance a
 * message_size_limit below the size of a report) is a failure too: the
 * report is retried, not lost, and the log says why.
 *
 * SECURITY: the queue file and the log are outside data, checked by
 * qfile.h and bounce_log.h; dsn_report.h makes what it copies into
 * headers printable and bounds the returned part (bounce_size_limit).
 * The queue file is opened with O_NOFOLLOW|O_NONBLOCK and used only
 * when it is a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce.h"
#include "bounce_log.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "dsn_report.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "qfile.h"
#include "rec.h"
#include "str.h"

/* What one request reads and sends. */
struct bounce_kind {
	const char *request;		/* for verbose logging */
	const char *log_queue;		/* MAIL_QUEUE_BOUNCE ... */
	enum dsn_report_type type;
	bool skip_done;			/* leave out recipients since done */
	const char *label;		/* the sender's report, in the log */
};

static const struct bounce_kind bounce_kind_flush = {
	.request = "flush",
	.log_queue = MAIL_QUEUE_BOUNCE,
	.type = DSN_REPORT_FAILURE,
	.skip_done = false,		/* bounced recipients are done */
	.label = "sender non-delivery notification",
};

static const struct bounce_kind bounce_kind_expire = {
	.request = "expire",
	.log_queue = MAIL_QUEUE_DEFER,
	.type = DSN_REPORT_FAILURE,
	.skip_done = true,		/* deferred, then delivered */
	.label = "sender non-delivery notification",
};

static const struct bounce_kind bounce_kind_trace = {
	.request = "trace",
	.log_queue = MAIL_QUEUE_TRACE,
	.type = DSN_REPORT_SUCCESS,
	.skip_done = false,		/* delivered recipients are done */
	.label = "sender delivery status notification",
};

#define BOUNCE_POSTMASTER_LABEL		"postmaster non-delivery notification"
#define BOUNCE_POSTMASTER_SUBJECT	"Postmaster Copy: Undelivered Mail"

/* "bounce" in notify_classes. */
static bool bounce_copy_postmaster;

/* One message being reported. */
struct bounce_msg {
	const struct bounce_kind *kind;
	const char *id;
	struct buf path;		/* queue_name/[hash/]ID */
	struct buf log_path;		/* log_queue/[hash/]ID */
	int fd;				/* the queue file, or -1 */
	struct qfile qf;
	bool qf_init;
	struct bounce_log_entry *entries;
	size_t count;
};

void
bounce_notify_init(void)
{
	char *copy, *cp, *word;

	copy = cp = xstrdup(var_notify_classes);
	bounce_copy_postmaster = false;
	/* The other classes belong to other daemons. */
	while ((word = str_token(&cp, ", \t\r\n")) != NULL)
		if (str_case_eq(word, "bounce"))
			bounce_copy_postmaster = true;
	free(copy);
}

/* addr, with "@$myorigin" appended when it has no domain. */
static void
bounce_qualify(struct buf *out, const char *addr)
{
	buf_set(out, addr);
	if (*addr != 0 && strchr(addr, '@') == NULL)
		buf_printf(out, "@%s", var_myorigin);
}

/* True when sender is double_bounce_sender (qualified or not). */
static bool
bounce_double_bounce_sender(const char *sender)
{
	struct buf addr;
	bool match;

	if (*sender == 0)
		return false;
	buf_init(&addr, 64);
	bounce_qualify(&addr, var_double_bounce_sender);
	match = str_case_eq(sender, addr.data)
	    || str_case_eq(sender, var_double_bounce_sender);
	buf_fini(&addr);
	return match;
}

/* dsn_report_fn: one line or piece as one content record. */
static int
bounce_put(void *ctx, int type, const char *data, size_t len)
{
	return cleanup_clnt_put(ctx, type, data, len);
}

static void
bounce_params_init(const struct bounce_msg *m, struct dsn_report_params *p)
{
	memset(p, 0, sizeof(*p));
	p->type = m->kind->type;
	p->queue_id = m->id;
	p->myhostname = var_myhostname;
	p->mail_name = var_mail_name;
	p->size_limit = (size_t)var_bounce_size_limit;
	p->ret = DSN_RETURN_DEFAULT;
	p->skip_done = m->kind->skip_done;
}

/* Describe a dsn_report_open() or dsn_report_write() failure. */
static void
bounce_report_why(const struct bounce_msg *m, int rc, const char *err,
    struct buf *why)
{
	if (rc == DSN_REPORT_CORRUPT)
		buf_printf(why, "corrupt queue file %s: %s", m->path.data, err);
	else
		buf_printf(why, "read %s: %s", m->path.data, err);
}

/*
 * Queue report r from sender through cleanup; label names it in the
 * log. 0, or -1 with why set.
 */
static int
bounce_submit(const struct bounce_msg *m, struct dsn_report *r,
    const char *sender, const char *label, struct buf *why)
{
	struct cleanup_clnt *c;
	struct buf reason, err;
	int rc, status, ret = -1;

	buf_init(&reason, 64);
	buf_init(&err, 64);
	if ((c = cleanup_clnt_open(NULL, CLEANUP_FLAG_NONE, &err)) == NULL) {
		buf_printf(why, "%s not sent: %s", label, err.data);
		goto out;
	}
	/* Write errors are remembered: cleanup_clnt_finish() says. */
	(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s",
	    MAIL_ATTR_LOG_IDENT, m->id);
	(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s",
	    MAIL_ATTR_RWR_CONTEXT, "local");
	if (dsn_report_8bit(r))
		(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s",
		    MAIL_ATTR_BODY_TYPE, "8BITMIME");
	(void)cleanup_clnt_puts(c, REC_TYPE_FROM, sender);
	(void)cleanup_clnt_puts(c, REC_TYPE_RCPT, dsn_report_recipient(r));
	(void)cleanup_clnt_put(c, REC_TYPE_MESG, "", 0);
	rc = dsn_report_write(r, bounce_put, c, &err);
	if (rc == DSN_REPORT_CORRUPT || rc == DSN_REPORT_IOERR) {
		/* Hang up before END: cleanup discards the half report. */
		bounce_report_why(m, rc, err.data, why);
		goto out;
	}
	/* DSN_REPORT_STOPPED: a write to cleanup failed, finish says why. */
	(void)cleanup_clnt_put(c, REC_TYPE_XTRA, "", 0);
	if ((status = cleanup_clnt_finish(c, &reason)) != CLEANUP_STAT_OK) {
		buf_printf(why, "%s not sent: %s", label,
		    reason.len > 0 ? reason.data : "cleanup service failed");
		goto out;
	}
	msg_info("%s: %s: %s", m->id, label, cleanup_clnt_queue_id(c));
	ret = 0;
out:
	cleanup_clnt_free(c);
	buf_fini(&reason);
	buf_fini(&err);
	return ret;
}

/*
 * A postmaster notice: every recipient, headers only, to rcpt (a
 * parameter's value), from double_bounce_sender. 0 (sent, or nothing
 * to send), or -1 with why set.
 */
static int
bounce_postmaster(const struct bounce_msg *m, const char *rcpt,
    struct buf *why)
{
	struct dsn_report_params p;
	struct dsn_report *r;
	struct buf to, from, err;
	int rc, ret = -1;

	buf_init(&to, 64);
	buf_init(&from, 64);
	buf_init(&err, 64);
	bounce_qualify(&to, rcpt);
	bounce_qualify(&from, var_double_bounce_sender);
	bounce_params_init(m, &p);
	p.to = to.data;
	p.subject = BOUNCE_POSTMASTER_SUBJECT;
	p.ret = DSN_RETURN_HEADERS;
	p.all_recipients = true;
	rc = dsn_report_open(m->fd, &m->qf, m->entries, m->count, &p, &r,
	    &err);
	if (rc == DSN_REPORT_OK) {
		ret = bounce_submit(m, r, from.data, BOUNCE_POSTMASTER_LABEL,
		    why);
		dsn_report_free(r);
	} else if (rc == DSN_REPORT_EMPTY || rc == DSN_REPORT_NOSENDER) {
		ret = 0;
	} else {
		bounce_report_why(m, rc, err.data, why);
	}
	buf_fini(&to);
	buf_fini(&from);
	buf_fini(&err);
	return ret;
}

/* The report to the sender (or instead of it). 0, or -1 with why. */
static int
bounce_sender(const struct bounce_msg *m, struct buf *why)
{
	struct dsn_report_params p;
	struct dsn_report *r;
	struct buf err;
	int rc, ret = -1;

	buf_init(&err, 64);
	bounce_params_init(m, &p);
	rc = dsn_report_open(m->fd, &m->qf, m->entries, m->count, &p, &r,
	    &err);
	switch (rc) {
	case DSN_REPORT_OK:
		ret = bounce_submit(m, r, "", m->kind->label, why);
		dsn_report_free(r);
		break;
	case DSN_REPORT_EMPTY:
		if (msg_verbose)
			msg_info("%s: %s: no recipient to report", m->id,
			    m->kind->request);
		ret = 0;
		break;
	case DSN_REPORT_NOSENDER:
		/* Never bounce a bounce: tell the postmaster instead. */
		if (m->kind->type == DSN_REPORT_FAILURE) {
			ret = bounce_postmaster(m,
			    var_double_bounce_notice_recipient, why);
		} else {
			if (msg_verbose)
				msg_info("%s: %s: null sender, no report",
				    m->id, m->kind->request);
			ret = 0;
		}
		break;
	default:
		bounce_report_why(m, rc, err.data, why);
		break;
	}
	buf_fini(&err);
	return ret;
}

/* Open and read the queue file. 0, or -1 with why set. */
static int
bounce_open_message(struct bounce_msg *m, const char *queue_name,
    struct buf *why)
{
	struct stat st;
	struct buf err;
	int rc;

	m->fd = mail_queue_open(queue_name, m->id, O_RDONLY | O_NONBLOCK);
	if (m->fd < 0) {
		buf_printf(why, "open %s: %s", m->path.data, strerror(errno));
		return -1;
	}
	if (fstat(m->fd, &st) < 0) {
		buf_printf(why, "fstat %s: %s", m->path.data, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		buf_printf(why, "corrupt queue file %s: not a regular file",
		    m->path.data);
		return -1;
	}
	buf_init(&err, 64);
	m->qf_init = true;
	rc = qfile_read_envelope(m->fd, &m->qf, &err);
	if (rc != QFILE_OK)
		bounce_report_why(m, rc, err.data, why);
	buf_fini(&err);
	return rc == QFILE_OK ? 0 : -1;
}

/* The work of one request; see the top of this file. */
static int
bounce_run(const struct bounce_kind *kind, const char *queue_name,
    const char *id, struct buf *why)
{
	struct bounce_msg m;
	int ret = -1;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.id = id;
	m.fd = -1;
	buf_init(&m.path, 64);
	buf_init(&m.log_path, 64);
	mail_queue_path(&m.path, queue_name, id);
	mail_queue_path(&m.log_path, kind->log_queue, id);

	if (bounce_log_read_all(kind->log_queue, id, &m.entries, &m.count)
	    < 0) {
		buf_printf(why, "read %s: %s", m.log_path.data,
		    strerror(errno));
		goto out;
	}
	if (m.count == 0) {
		/* No log, or nothing valid in it. */
		if (msg_verbose)
			msg_info("%s: %s: no entries in %s", id, kind->request,
			    m.log_path.data);
		goto done;
	}
	if (bounce_open_message(&m, queue_name, why) < 0)
		goto out;
	if (bounce_double_bounce_sender(m.qf.sender)) {
		if (kind->type == DSN_REPORT_FAILURE)
			msg_warn("%s: undeliverable postmaster notification "
			    "discarded", id);
		goto done;
	}
	if (kind->type == DSN_REPORT_FAILURE && *m.qf.sender != 0
	    && bounce_copy_postmaster
	    && bounce_postmaster(&m, var_bounce_notice_recipient, why) < 0)
		goto out;
	if (bounce_sender(&m, why) < 0)
		goto out;

done:
	/*
	 * The reports are queued: a log that cannot be removed is only
	 * logged, as failing now would send them again.
	 */
	if (bounce_log_remove(kind->log_queue, id) < 0)
		msg_warn("%s: remove %s: %m", id, m.log_path.data);
	ret = 0;
out:
	if (m.fd >= 0)
		(void)close(m.fd);
	if (m.qf_init)
		qfile_fini(&m.qf);
	bounce_log_free_all(m.entries, m.count);
	buf_fini(&m.path);
	buf_fini(&m.log_path);
	return ret;
}

int
bounce_flush(const char *queue_name, const char *id, struct buf *why)
{
	return bounce_run(&bounce_kind_flush, queue_name, id, why);
}

int
bounce_expire(const char *queue_name, const char *id, struct buf *why)
{
	return bounce_run(&bounce_kind_expire, queue_name, id, why);
}

int
bounce_trace(const char *queue_name, const char *id, struct buf *why)
{
	return bounce_run(&bounce_kind_trace, queue_name, id, why);
}
