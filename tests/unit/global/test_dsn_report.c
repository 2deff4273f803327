/*
 * test_dsn_report.c - unit tests for dsn_report.c
 *
 * Queue files are built in memory with rec_encode() (a small builder
 * that computes the size record, as test_qfile.c does) and read with
 * qfile_read_envelope() from a memfd; log entries are made from the
 * recipients with bounce_log_entry_init(). The callback collects the
 * report as lines (pieces joined) and checks that no call carries more
 * than 998 bytes.
 *
 * Covered: a whole failure report line by line; delay (headers only,
 * Will-Retry-Until, done recipients left out) and success reports
 * (action kept, entries of the wrong kind skipped with a warning);
 * RET=HDRS/FULL and the override; the NOTIFY table of RFC 3461 and
 * all_recipients; one report entry per recipient (the last); ORCPT
 * forms and ENVID; the size cap (whole lines, a line cut in the middle,
 * long lines passed through as pieces); a boundary that the original
 * tries to forge; folding of very long addresses and reasons; 8-bit
 * content; no report (no recipient, null sender); a corrupt content
 * record; a callback that stops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bounce_log.h"
#include "buf.h"
#include "cleanup_proto.h"
#include "dsn_report.h"
#include "log.h"
#include "mem.h"
#include "qfile.h"
#include "rec.h"

#define ID	"4Vg7fHq0001z1D"
#define NOW	1700000100
#define HOST	"mail.example.com"
#define BOUNDARY	ID ".1700000100/" HOST

/* ---- queue files -------------------------------------------------------- */

struct qb {
	struct buf file;
	long mesg_off, xtra_off, rcpts;
};

static void
qb_start(struct qb *b, const char *sender, const char *const *attrs)
{
	char blank[QFILE_SIZE_LEN];

	buf_init(&b->file, 1024);
	b->mesg_off = b->xtra_off = b->rcpts = 0;
	/* A placeholder of the right length, rewritten by qb_fd(). */
	memset(blank, ' ', sizeof(blank));
	rec_encode(&b->file, REC_TYPE_SIZE, blank, sizeof(blank));
	rec_encode(&b->file, REC_TYPE_TIME, "1700000000 250000", 17);
	for (; attrs != NULL && *attrs != NULL; attrs++)
		rec_encode(&b->file, REC_TYPE_ATTR, *attrs, strlen(*attrs));
	rec_encode(&b->file, REC_TYPE_FROM, sender, strlen(sender));
}

static void
qb_rcpt(struct qb *b, const char *addr, const char *orcpt,
    const char *notify, bool done)
{
	if (orcpt != NULL)
		rec_encode(&b->file, REC_TYPE_ORCP, orcpt, strlen(orcpt));
	if (notify != NULL)
		rec_encode(&b->file, REC_TYPE_NOTIFY, notify, strlen(notify));
	rec_encode(&b->file, done ? REC_TYPE_DONE : REC_TYPE_RCPT, addr,
	    strlen(addr));
	b->rcpts++;
}

/* Content from text: one NORM per line, CONT pieces of at most piece. */
static void
qb_content(struct qb *b, const char *text, size_t piece)
{
	const char *cp = text, *nl;
	size_t len;

	b->mesg_off = (long)b->file.len;
	rec_encode(&b->file, REC_TYPE_MESG, "", 0);
	while (*cp) {
		nl = strchr(cp, '\n');
		len = nl ? (size_t)(nl - cp) : strlen(cp);
		while (len > piece) {
			rec_encode(&b->file, REC_TYPE_CONT, cp, piece);
			cp += piece;
			len -= piece;
		}
		rec_encode(&b->file, REC_TYPE_NORM, cp, len);
		cp += len + (nl != NULL);
	}
	b->xtra_off = (long)b->file.len;
	rec_encode(&b->file, REC_TYPE_XTRA, "", 0);
	rec_encode(&b->file, REC_TYPE_END, "", 0);
}

/* Finish the size record and hand the file over as a memfd. */
static int
qb_fd(struct qb *b)
{
	struct buf size;
	int fd;

	buf_init(&size, 64);
	buf_printf(&size, "%15ld %15ld %15ld %15ld", b->mesg_off,
	    b->xtra_off - (b->mesg_off + 2), b->rcpts, 0L);
	assert_int_equal(size.len, QFILE_SIZE_LEN);
	memcpy(b->file.data + 2, size.data, size.len);
	buf_fini(&size);
	fd = memfd_create("qf", 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b->file.data, b->file.len),
	    (ssize_t)b->file.len);
	buf_fini(&b->file);
	return fd;
}

static void
read_qf(int fd, struct qfile *qf)
{
	struct buf why;

	buf_init(&why, 64);
	if (qfile_read_envelope(fd, qf, &why) != QFILE_OK)
		fail_msg("qfile_read_envelope: %s", why.data);
	buf_fini(&why);
}

/* An entry for recipient i of qf. */
static struct bounce_log_entry
entry(const struct qfile *qf, size_t i, enum bounce_log_action action,
    const char *status, const char *reason)
{
	struct bounce_log_entry e;

	bounce_log_entry_init(&e, &qf->rcpts[i]);
	e.action = action;
	e.status = status;
	e.reason = reason;
	return e;
}

/* ---- collecting the report ---------------------------------------------- */

struct out {
	char **lines;
	size_t n;
	struct buf cur;
	size_t conts;		/* REC_TYPE_CONT calls */
	size_t calls;
	size_t stop_at;		/* 0: never */
};

static int
collect(void *ctx, int type, const char *data, size_t len)
{
	struct out *o = ctx;

	if (len > DSN_REPORT_LINE_MAX)
		fail_msg("callback with %zu bytes", len);
	if (type != REC_TYPE_NORM && type != REC_TYPE_CONT)
		fail_msg("callback with type %d", type);
	if (++o->calls == o->stop_at)
		return -1;
	buf_append(&o->cur, data, len);
	if (type == REC_TYPE_CONT) {
		o->conts++;
		return 0;
	}
	o->lines = xreallocarray(o->lines, o->n + 1, sizeof(char *));
	o->lines[o->n++] = xstrdup(o->cur.data);
	buf_reset(&o->cur);
	return 0;
}

static void
out_init(struct out *o)
{
	memset(o, 0, sizeof(*o));
	buf_init(&o->cur, 128);
}

static void
out_fini(struct out *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		free(o->lines[i]);
	free(o->lines);
	buf_fini(&o->cur);
}

/* Index of the first line equal to text at or after from; -1 if none. */
static long
out_find(const struct out *o, size_t from, const char *text)
{
	size_t i;

	for (i = from; i < o->n; i++)
		if (strcmp(o->lines[i], text) == 0)
			return (long)i;
	return -1;
}

/* Like out_find, for a line that starts with prefix. */
static long
out_find_prefix(const struct out *o, size_t from, const char *prefix)
{
	size_t i;

	for (i = from; i < o->n; i++)
		if (strncmp(o->lines[i], prefix, strlen(prefix)) == 0)
			return (long)i;
	return -1;
}

/* The lines of part k (1..3), body only, joined with "\n". */
static void
out_part(const struct out *o, const char *boundary, int k, bool body,
    struct buf *part)
{
	struct buf delim;
	long at = -1;
	size_t i;
	int seen = 0;

	buf_init(&delim, 80);
	buf_printf(&delim, "--%s", boundary);
	buf_reset(part);
	for (i = 0; i < o->n; i++) {
		if (strncmp(o->lines[i], delim.data, delim.len) == 0) {
			if (seen++ == k)
				break;
			at = -1;
			continue;
		}
		if (seen != k)
			continue;
		if (at < 0 && body) {
			if (*o->lines[i] == 0)
				at = (long)i;
			continue;
		}
		at = (long)i;
		buf_puts(part, o->lines[i]);
		buf_putc(part, '\n');
	}
	buf_fini(&delim);
}

static int
run(int fd, const struct qfile *qf, const struct bounce_log_entry *e,
    size_t n, const struct dsn_report_params *p, struct out *o)
{
	struct buf why;
	int rc;

	buf_init(&why, 64);
	rc = dsn_report(fd, qf, e, n, p, collect, o, &why);
	buf_fini(&why);
	return rc;
}

static struct dsn_report_params
params(enum dsn_report_type type)
{
	struct dsn_report_params p = {
		.type = type,
		.queue_id = ID,
		.myhostname = HOST,
		.now = NOW,
	};

	return p;
}

#define MESSAGE "From: joe@example.com\nTo: bob@example.org\n" \
	"Subject: hello\n\nbody line\n\nlast line\n"

/* ---- a whole report ----------------------------------------------------- */

static void
test_failure_whole(void **state)
{
	static const char *const want[] = {
		"From: MAILER-DAEMON@mail.example.com (Mail Delivery System)",
		"To: joe@example.com",
		"Subject: Undelivered Mail Returned to Sender",
		"Date: Tue, 14 Nov 2023 22:15:00 +0000",
		"Auto-Submitted: auto-replied",
		"MIME-Version: 1.0",
		"Content-Type: multipart/report; report-type=delivery-status;",
		" boundary=\"" BOUNDARY "\"",
		"",
		"This is a MIME-encapsulated message.",
		"",
		"--" BOUNDARY,
		"Content-Description: Notification",
		"Content-Type: text/plain; charset=us-ascii",
		"",
		"This is the Petrel mail system at host mail.example.com.",
		"",
		"Your message could not be delivered to one or more of its "
		    "recipients,",
		"and the mail system has given up trying. The reasons are "
		    "listed below.",
		"The message is attached.",
		"",
		"For help, write to postmaster@mail.example.com and include "
		    "this report.",
		"",
		"<bob@example.org> (expanded from <bob@x.org>): host "
		    "mx.example.org said: 550",
		"    5.1.1 unknown user",
		"",
		"<ann@example.org>: mailbox full",
		"",
		"--" BOUNDARY,
		"Content-Description: Delivery report",
		"Content-Type: message/delivery-status",
		"",
		"Original-Envelope-Id: ENV-123",
		"Reporting-MTA: dns; mail.example.com",
		"Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000",
		"X-Petrel-Queue-ID: " ID,
		"X-Petrel-Sender: rfc822; joe@example.com",
		"",
		"Original-Recipient: rfc822; bob@x.org",
		"Final-Recipient: rfc822; bob@example.org",
		"Action: failed",
		"Status: 5.1.1",
		"Remote-MTA: dns; mx.example.org",
		"Diagnostic-Code: smtp; 550 5.1.1 unknown user",
		"",
		"Final-Recipient: rfc822; ann@example.org",
		"Action: failed",
		"Status: 4.2.2",
		"Diagnostic-Code: X-Petrel; mailbox full",
		"",
		"--" BOUNDARY,
		"Content-Description: Undelivered Message",
		"Content-Type: message/rfc822",
		"",
		"From: joe@example.com",
		"To: bob@example.org",
		"Subject: hello",
		"",
		"body line",
		"",
		"last line",
		"",
		"--" BOUNDARY "--",
	};
	static const char *const attrs[] = {"envelope_id=ENV-123", NULL};
	struct bounce_log_entry e[2];
	struct dsn_report_params p = params(DSN_REPORT_FAILURE);
	struct qfile qf;
	struct qb b;
	struct out o;
	size_t i;
	int fd;

	(void)state;
	qb_start(&b, "joe@example.com", attrs);
	qb_rcpt(&b, "bob@example.org", "rfc822;bob@x.org", "8", true);
	qb_rcpt(&b, "ann@example.org", NULL, NULL, true);
	qb_content(&b, MESSAGE, 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e[0] = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.1.1",
	    "host mx.example.org said: 550 5.1.1 unknown user");
	e[0].diag_type = "smtp";
	e[0].diag_text = "550 5.1.1 unknown user";
	e[0].mta_type = "dns";
	e[0].mta_name = "mx.example.org";
	/* A deferred recipient in the report of an expired message. */
	e[1] = entry(&qf, 1, BOUNCE_LOG_DELAYED, "4.2.2", "mailbox full");
	out_init(&o);
	assert_int_equal(run(fd, &qf, e, 2, &p, &o), DSN_REPORT_OK);
	for (i = 0; i < o.n && i < NELEM(want); i++)
		if (strcmp(o.lines[i], want[i]) != 0)
			fail_msg("line %zu: got \"%s\", want \"%s\"", i + 1,
			    o.lines[i], want[i]);
	assert_int_equal(o.n, NELEM(want));
	assert_int_equal(o.conts, 0);
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);
}

/* ---- kinds of report ---------------------------------------------------- */

static void
test_delay(void **state)
{
	struct bounce_log_entry e[3];
	struct dsn_report_params p = params(DSN_REPORT_DELAY);
	struct qfile qf;
	struct buf part;
	struct qb b;
	struct out o;
	int fd;

	(void)state;
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_rcpt(&b, "ann@example.org", NULL, NULL, true);
	qb_rcpt(&b, "cat@example.org", NULL, NULL, false);
	qb_content(&b, MESSAGE, 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e[0] = entry(&qf, 0, BOUNCE_LOG_DELAYED, "4.4.1", "connection refused");
	/* Deferred once, delivered since: left out with skip_done. */
	e[1] = entry(&qf, 1, BOUNCE_LOG_DELAYED, "4.4.1", "timed out");
	e[2] = entry(&qf, 2, BOUNCE_LOG_DELAYED, "4.2.2", "over quota");
	p.skip_done = true;
	p.retry_until = NOW + 86400;
	out_init(&o);
	buf_init(&part, 256);
	assert_int_equal(run(fd, &qf, e, 3, &p, &o), DSN_REPORT_OK);
	assert_true(out_find(&o, 0, "Subject: Delayed Mail (still being "
	    "retried)") >= 0);
	assert_true(out_find(&o, 0, "<bob@example.org>: connection refused")
	    >= 0);
	assert_true(out_find(&o, 0, "<cat@example.org>: over quota") >= 0);
	assert_true(out_find_prefix(&o, 0, "<ann@") < 0);
	assert_true(out_find(&o, 0, "Final-Recipient: rfc822; ann@example.org")
	    < 0);
	assert_true(out_find(&o, 0, "Action: delayed") >= 0);
	assert_true(out_find(&o, 0, "Will-Retry-Until: Wed, 15 Nov 2023 "
	    "22:15:00 +0000") >= 0);
	assert_true(out_find(&o, 0, "Action: failed") < 0);
	assert_true(out_find_prefix(&o, 0, "the mail system keeps trying until "
	    "Wed, 15 Nov 2023") >= 0 || out_find_prefix(&o, 0, "recipients. "
	    "This is only a warning") >= 0);
	/* Headers only, without the empty line that ends them. */
	assert_true(out_find(&o, 0, "Content-Type: text/rfc822-headers") >= 0);
	assert_true(out_find(&o, 0, "Content-Description: Delayed Message "
	    "Headers") >= 0);
	out_part(&o, BOUNDARY, 3, true, &part);
	assert_string_equal(part.data, "From: joe@example.com\n"
	    "To: bob@example.org\nSubject: hello\n\n");
	/* Without skip_done, ann is listed. */
	out_fini(&o);
	out_init(&o);
	p.skip_done = false;
	assert_int_equal(run(fd, &qf, e, 3, &p, &o), DSN_REPORT_OK);
	assert_true(out_find(&o, 0, "<ann@example.org>: timed out") >= 0);
	out_fini(&o);
	buf_fini(&part);
	qfile_fini(&qf);
	close(fd);
}

static void
test_success(void **state)
{
	struct bounce_log_entry e[4];
	struct dsn_report_params p = params(DSN_REPORT_SUCCESS);
	struct qfile qf;
	struct qb b;
	struct out o;
	char *log;
	int fd;

	(void)state;
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, "2", true);
	qb_rcpt(&b, "list@example.org", NULL, "10", true);
	qb_rcpt(&b, "ann@example.org", NULL, NULL, true);	/* not asked */
	qb_rcpt(&b, "far@example.net", NULL, "2", true);
	qb_content(&b, MESSAGE, 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e[0] = entry(&qf, 0, BOUNCE_LOG_DELIVERED, "2.0.0",
	    "delivered to mailbox");
	e[1] = entry(&qf, 1, BOUNCE_LOG_EXPANDED, "2.0.0",
	    "delivered to alias");
	e[2] = entry(&qf, 2, BOUNCE_LOG_DELIVERED, "2.0.0", "delivered");
	e[3] = entry(&qf, 3, BOUNCE_LOG_FAILED, "5.0.0", "wrong log");
	out_init(&o);
	capture_start();
	assert_int_equal(run(fd, &qf, e, 4, &p, &o), DSN_REPORT_OK);
	log = capture_end();
	assert_non_null(strstr(log, ID ": log entry for <far@example.net>: "
	    "action failed does not belong in this report; skipped"));
	free(log);
	assert_true(out_find(&o, 0, "Subject: Successful Mail Delivery "
	    "Report") >= 0);
	assert_true(out_find(&o, 0, "Action: delivered") >= 0);
	assert_true(out_find(&o, 0, "Action: expanded") >= 0);
	assert_true(out_find(&o, 0, "Status: 2.0.0") >= 0);
	assert_true(out_find_prefix(&o, 0, "<ann@") < 0);
	assert_true(out_find_prefix(&o, 0, "<far@") < 0);
	assert_true(out_find(&o, 0, "Content-Type: text/rfc822-headers") >= 0);
	assert_true(out_find(&o, 0, "Content-Description: Delivered Message "
	    "Headers") >= 0);
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);
}

/* ---- what is returned --------------------------------------------------- */

static void
test_ret(void **state)
{
	static const struct {
		const char *label;
		const char *attr;		/* dsn_ret=..., or NULL */
		enum dsn_report_return ret;
		enum dsn_report_type type;
		bool full;
	} cases[] = {
		{"failure default", NULL, DSN_RETURN_DEFAULT,
		    DSN_REPORT_FAILURE, true},
		{"failure RET=FULL", "dsn_ret=full", DSN_RETURN_DEFAULT,
		    DSN_REPORT_FAILURE, true},
		{"failure RET=HDRS", "dsn_ret=hdrs", DSN_RETURN_DEFAULT,
		    DSN_REPORT_FAILURE, false},
		{"failure override headers", "dsn_ret=full",
		    DSN_RETURN_HEADERS, DSN_REPORT_FAILURE, false},
		{"failure override full", "dsn_ret=hdrs", DSN_RETURN_FULL,
		    DSN_REPORT_FAILURE, true},
		{"delay RET=FULL", "dsn_ret=full", DSN_RETURN_DEFAULT,
		    DSN_REPORT_DELAY, false},
		{"delay override full", NULL, DSN_RETURN_FULL,
		    DSN_REPORT_DELAY, false},
		{"success RET=FULL", "dsn_ret=full", DSN_RETURN_DEFAULT,
		    DSN_REPORT_SUCCESS, false},
	};
	struct bounce_log_entry e;
	struct dsn_report_params p;
	const char *attrs[2];
	struct qfile qf;
	struct buf part;
	struct qb b;
	struct out o;
	size_t i;
	int fd;

	(void)state;
	buf_init(&part, 256);
	for (i = 0; i < NELEM(cases); i++) {
		attrs[0] = cases[i].attr;
		attrs[1] = NULL;
		qb_start(&b, "joe@example.com", attrs);
		qb_rcpt(&b, "bob@example.org", NULL, "14", false);
		qb_content(&b, MESSAGE, 100);
		fd = qb_fd(&b);
		read_qf(fd, &qf);
		e = entry(&qf, 0, cases[i].type == DSN_REPORT_FAILURE
		    ? BOUNCE_LOG_FAILED : cases[i].type == DSN_REPORT_DELAY
		    ? BOUNCE_LOG_DELAYED : BOUNCE_LOG_DELIVERED,
		    cases[i].type == DSN_REPORT_SUCCESS ? "2.0.0" : "5.0.0",
		    "r");
		p = params(cases[i].type);
		p.ret = cases[i].ret;
		out_init(&o);
		CHECK(run(fd, &qf, &e, 1, &p, &o) == DSN_REPORT_OK,
		    cases[i].label);
		CHECK(out_find(&o, 0, cases[i].full
		    ? "Content-Type: message/rfc822"
		    : "Content-Type: text/rfc822-headers") >= 0,
		    cases[i].label);
		out_part(&o, BOUNDARY, 3, true, &part);
		CHECK(strcmp(part.data, cases[i].full ? MESSAGE "\n"
		    : "From: joe@example.com\nTo: bob@example.org\n"
		    "Subject: hello\n\n") == 0, cases[i].label);
		out_fini(&o);
		qfile_fini(&qf);
		close(fd);
	}
	buf_fini(&part);
}

/* ---- who is reported ---------------------------------------------------- */

static void
test_notify(void **state)
{
	static const struct {
		const char *label;
		const char *notify;	/* NOTIFY record, or NULL */
		bool all;
		bool failure, delay, success;
	} cases[] = {
		{"no NOTIFY", NULL, false, true, true, false},
		{"NEVER", "1", false, false, false, false},
		{"SUCCESS", "2", false, false, false, true},
		{"DELAY", "4", false, false, true, false},
		{"FAILURE", "8", false, true, false, false},
		{"SUCCESS,FAILURE", "10", false, true, false, true},
		{"all three", "14", false, true, true, true},
		{"words", "success,delay", false, false, true, true},
		{"NEVER, postmaster copy", "1", true, true, true, true},
	};
	static const struct {
		enum dsn_report_type type;
		enum bounce_log_action action;
	} kinds[] = {
		{DSN_REPORT_FAILURE, BOUNCE_LOG_FAILED},
		{DSN_REPORT_DELAY, BOUNCE_LOG_DELAYED},
		{DSN_REPORT_SUCCESS, BOUNCE_LOG_DELIVERED},
	};
	struct bounce_log_entry e;
	struct dsn_report_params p;
	struct qfile qf;
	struct qb b;
	struct out o;
	size_t i, k;
	bool want;
	int fd, rc;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		qb_start(&b, "joe@example.com", NULL);
		qb_rcpt(&b, "bob@example.org", NULL, cases[i].notify, false);
		qb_content(&b, MESSAGE, 100);
		fd = qb_fd(&b);
		read_qf(fd, &qf);
		for (k = 0; k < NELEM(kinds); k++) {
			e = entry(&qf, 0, kinds[k].action, "2.0.0", "r");
			p = params(kinds[k].type);
			p.all_recipients = cases[i].all;
			want = k == 0 ? cases[i].failure : k == 1
			    ? cases[i].delay : cases[i].success;
			out_init(&o);
			rc = run(fd, &qf, &e, 1, &p, &o);
			CHECK(rc == (want ? DSN_REPORT_OK : DSN_REPORT_EMPTY),
			    cases[i].label);
			CHECK(want || o.calls == 0, cases[i].label);
			out_fini(&o);
		}
		qfile_fini(&qf);
		close(fd);
	}
}

/* Several entries for one recipient: one report entry, the last. */
static void
test_one_per_recipient(void **state)
{
	struct bounce_log_entry e[4];
	struct dsn_report_params p = params(DSN_REPORT_DELAY);
	struct qfile qf;
	struct qb b;
	struct out o;
	long at;
	int fd;

	(void)state;
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_rcpt(&b, "ann@example.org", NULL, NULL, false);
	/* The same address again, another recipient record. */
	qb_rcpt(&b, "bob@example.org", "rfc822;other@x.org", NULL, false);
	qb_content(&b, MESSAGE, 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e[0] = entry(&qf, 0, BOUNCE_LOG_DELAYED, "4.4.1", "first try");
	e[1] = entry(&qf, 1, BOUNCE_LOG_DELAYED, "4.4.1", "ann's reason");
	e[2] = entry(&qf, 0, BOUNCE_LOG_DELAYED, "4.4.2", "second try");
	e[3] = entry(&qf, 2, BOUNCE_LOG_DELAYED, "4.4.3", "the other bob");
	out_init(&o);
	assert_int_equal(run(fd, &qf, e, 4, &p, &o), DSN_REPORT_OK);
	assert_true(out_find(&o, 0, "<bob@example.org>: first try") < 0);
	at = out_find(&o, 0, "<bob@example.org>: second try");
	assert_true(at >= 0);
	/* In the place of the first entry: before ann. */
	assert_true(out_find(&o, (size_t)at, "<ann@example.org>: ann's reason")
	    > at);
	assert_true(out_find(&o, 0, "<bob@example.org> (expanded from "
	    "<other@x.org>): the other bob") >= 0);
	assert_true(out_find(&o, 0, "Status: 4.4.1") >= 0);	/* ann */
	assert_true(out_find(&o, 0, "Status: 4.4.2") >= 0);
	assert_true(out_find(&o, 0, "Status: 4.4.3") >= 0);
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);
}

static void
test_orcpt_envid(void **state)
{
	static const struct {
		const char *label;
		const char *orcpt;
		const char *field;	/* Original-Recipient, or NULL */
		const char *text;	/* part 1 line */
	} cases[] = {
		{"none", NULL, NULL, "<bob@example.org>: r"},
		{"rfc822 type", "rfc822;bob@x.org",
		    "Original-Recipient: rfc822; bob@x.org",
		    "<bob@example.org> (expanded from <bob@x.org>): r"},
		{"spaces after the type", "RFC822; bob@x.org",
		    "Original-Recipient: RFC822; bob@x.org",
		    "<bob@example.org> (expanded from <bob@x.org>): r"},
		{"bare address", "bob@x.org",
		    "Original-Recipient: rfc822; bob@x.org",
		    "<bob@example.org> (expanded from <bob@x.org>): r"},
		{"same as the recipient", "rfc822;bob@example.org",
		    "Original-Recipient: rfc822; bob@example.org",
		    "<bob@example.org>: r"},
		{"odd type", "x y;bob@x.org",
		    "Original-Recipient: rfc822; x y;bob@x.org",
		    "<bob@example.org> (expanded from <x y;bob@x.org>): r"},
	};
	struct bounce_log_entry e;
	struct dsn_report_params p = params(DSN_REPORT_FAILURE);
	struct qfile qf;
	struct qb b;
	struct out o;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		qb_start(&b, "joe@example.com", NULL);
		qb_rcpt(&b, "bob@example.org", cases[i].orcpt, NULL, false);
		qb_content(&b, MESSAGE, 100);
		fd = qb_fd(&b);
		read_qf(fd, &qf);
		e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", "r");
		out_init(&o);
		CHECK(run(fd, &qf, &e, 1, &p, &o) == DSN_REPORT_OK,
		    cases[i].label);
		if (cases[i].field != NULL)
			CHECK(out_find(&o, 0, cases[i].field) >= 0,
			    cases[i].label);
		else
			CHECK(out_find_prefix(&o, 0, "Original-Recipient:") < 0,
			    cases[i].label);
		CHECK(out_find(&o, 0, cases[i].text) >= 0, cases[i].label);
		/* No ENVID: no Original-Envelope-Id. */
		CHECK(out_find_prefix(&o, 0, "Original-Envelope-Id:") < 0,
		    cases[i].label);
		out_fini(&o);
		qfile_fini(&qf);
		close(fd);
	}
}

/* ---- the size cap ------------------------------------------------------- */

static void
test_size_cap(void **state)
{
	struct bounce_log_entry e;
	struct dsn_report_params p = params(DSN_REPORT_FAILURE);
	struct dsn_report *r;
	struct buf msg, part, why;
	struct qfile qf;
	struct qb b;
	struct out o;
	size_t i;
	int fd;

	(void)state;
	buf_init(&msg, 30000);
	buf_init(&part, 30000);
	buf_init(&why, 64);
	buf_puts(&msg, "Subject: big\n\n");
	for (i = 0; i < 200; i++)		/* 100 bytes a line */
		buf_printf(&msg, "%03zu%096d\n", i, 0);
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_content(&b, msg.data, 2048);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", "r");

	/* Whole lines up to 1000 bytes: the headers (14) and 9 lines. */
	p.size_limit = 1000;
	assert_int_equal(dsn_report_open(fd, &qf, &e, 1, &p, &r, &why),
	    DSN_REPORT_OK);
	assert_true(dsn_report_truncated(r));
	assert_int_equal(dsn_report_rcpt_count(r), 1);
	assert_string_equal(dsn_report_recipient(r), "joe@example.com");
	out_init(&o);
	assert_int_equal(dsn_report_write(r, collect, &o, &why),
	    DSN_REPORT_OK);
	dsn_report_free(r);
	assert_true(out_find(&o, 0, "Content-Description: Undelivered Message "
	    "(cut to 1000 bytes)") >= 0);
	assert_true(out_find(&o, 0, "The message is attached, cut to its "
	    "first 1000 bytes.") >= 0);
	out_part(&o, BOUNDARY, 3, true, &part);
	/* The part ends with the empty line before the delimiter. */
	assert_int_equal(part.len, 14 + 9 * 100 + 1);
	assert_int_equal(strncmp(part.data, msg.data, part.len - 1), 0);
	out_fini(&o);

	/* No cut when it all fits; the default is 50000. */
	p.size_limit = 0;
	out_init(&o);
	assert_int_equal(run(fd, &qf, &e, 1, &p, &o), DSN_REPORT_OK);
	out_part(&o, BOUNDARY, 3, true, &part);
	assert_int_equal(part.len, msg.len + 1);
	assert_true(out_find(&o, 0, "Content-Description: Undelivered "
	    "Message") >= 0);
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);

	/* A line of 5000 bytes: pieces of 998 at most, cut at 2000 bytes. */
	buf_set(&msg, "Subject: long\n\n");
	for (i = 0; i < 5000; i++)
		buf_putc(&msg, 'a' + (char)(i % 26));
	buf_puts(&msg, "\nafter\n");
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_content(&b, msg.data, 4096);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", "r");
	p.size_limit = 2000;
	out_init(&o);
	assert_int_equal(run(fd, &qf, &e, 1, &p, &o), DSN_REPORT_OK);
	out_part(&o, BOUNDARY, 3, true, &part);
	/* Whole pieces that fit: 15 + 998 (the next piece would pass). */
	assert_int_equal(part.len, 15 + 998 + 1 + 1);
	assert_int_equal(strncmp(part.data, msg.data, 15 + 998), 0);
	assert_int_equal(o.conts, 1);
	out_fini(&o);

	/* Without the cap the long line goes through whole, in pieces. */
	p.size_limit = 100000;
	out_init(&o);
	assert_int_equal(run(fd, &qf, &e, 1, &p, &o), DSN_REPORT_OK);
	out_part(&o, BOUNDARY, 3, true, &part);
	assert_int_equal(part.len, msg.len + 1);
	assert_int_equal(strncmp(part.data, msg.data, msg.len), 0);
	assert_int_equal(o.conts, 5);	/* 5000 = 5 * 998 + 10 */
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);
	buf_fini(&msg);
	buf_fini(&part);
	buf_fini(&why);
}

/* ---- the boundary ------------------------------------------------------- */

static void
test_boundary(void **state)
{
	struct bounce_log_entry e;
	struct dsn_report_params p = params(DSN_REPORT_FAILURE);
	struct dsn_report *r;
	struct qfile qf;
	struct buf why, delim;
	struct qb b;
	struct out o;
	const char *boundary;
	size_t i, delims = 0;
	int fd;

	(void)state;
	buf_init(&why, 64);
	buf_init(&delim, 128);
	/* The original forges the boundary it could guess. */
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_content(&b, "Subject: x\n\n--" BOUNDARY "\nbody\n--" BOUNDARY
	    "--\n", 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", "r");
	assert_int_equal(dsn_report_open(fd, &qf, &e, 1, &p, &r, &why),
	    DSN_REPORT_OK);
	boundary = dsn_report_boundary(r);
	assert_true(strcmp(boundary, BOUNDARY) != 0);
	assert_true(strncmp(boundary, ID ".1700000100.", 26) == 0);
	assert_true(strlen(boundary) <= 70);
	out_init(&o);
	assert_int_equal(dsn_report_write(r, collect, &o, &why),
	    DSN_REPORT_OK);
	buf_printf(&delim, "--%s", boundary);
	for (i = 0; i < o.n; i++)
		if (strncmp(o.lines[i], delim.data, delim.len) == 0)
			delims++;
	/* Three parts and the close, nothing else. */
	assert_int_equal(delims, 4);
	/* The forged line is still there, in the original. */
	assert_true(out_find(&o, 0, "--" BOUNDARY) >= 0);
	out_fini(&o);
	dsn_report_free(r);
	qfile_fini(&qf);
	close(fd);

	/* A long host name is cut to fit 70 characters. */
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_content(&b, MESSAGE, 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", "r");
	p.myhostname = "a-very-long-host_name.in.a.very.long.domain.name."
	    "example.com";
	assert_int_equal(dsn_report_open(fd, &qf, &e, 1, &p, &r, &why),
	    DSN_REPORT_OK);
	assert_int_equal(strlen(dsn_report_boundary(r)), 70);
	assert_string_equal(dsn_report_boundary(r), ID ".1700000100/"
	    "a-very-long-hostname.in.a.very.long.domain.n");
	dsn_report_free(r);
	qfile_fini(&qf);
	close(fd);
	buf_fini(&why);
	buf_fini(&delim);
}

/* ---- long and odd fields ------------------------------------------------ */

/* Unfold the lines from at: the field value as a reader sees it. */
static void
unfold(const struct out *o, long at, struct buf *out)
{
	size_t i;

	buf_set(out, o->lines[at]);
	for (i = (size_t)at + 1; i < o->n && (o->lines[i][0] == ' '
	    || o->lines[i][0] == '\t'); i++)
		buf_puts(out, o->lines[i]);
}

static void
test_long_fields(void **state)
{
	struct bounce_log_entry e;
	struct dsn_report_params p = params(DSN_REPORT_FAILURE);
	struct buf addr, reason, want, got;
	struct qfile qf;
	struct qb b;
	struct out o;
	size_t i;
	long at;
	int fd;

	(void)state;
	buf_init(&addr, 4200);
	buf_init(&reason, 2100);
	buf_init(&want, 4200);
	buf_init(&got, 4200);
	for (i = 0; i < 4000; i++)
		buf_putc(&addr, 'a' + (char)(i % 26));
	buf_puts(&addr, "@example.org");
	for (i = 0; i < 300; i++)
		buf_printf(&reason, "word%zu ", i);
	qb_start(&b, addr.data, NULL);
	qb_rcpt(&b, addr.data, NULL, NULL, false);
	qb_content(&b, MESSAGE, 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", reason.data);
	out_init(&o);
	assert_int_equal(run(fd, &qf, &e, 1, &p, &o), DSN_REPORT_OK);
	for (i = 0; i < o.n; i++)
		if (strlen(o.lines[i]) > DSN_REPORT_LINE_MAX)
			fail_msg("line %zu has %zu bytes", i,
			    strlen(o.lines[i]));
	/* A folded reason unfolds to the text (trailing space trimmed). */
	at = out_find_prefix(&o, 0, "Diagnostic-Code: X-Petrel; word0 ");
	assert_true(at >= 0);
	assert_true(strlen(o.lines[at]) <= 78);
	unfold(&o, at, &got);
	buf_set(&want, "Diagnostic-Code: X-Petrel; ");
	buf_append(&want, reason.data, reason.len - 1);
	assert_string_equal(got.data, want.data);
	/* An address longer than a line: split, with folding spaces. */
	at = out_find_prefix(&o, 0, "Final-Recipient: rfc822;");
	assert_true(at >= 0);
	unfold(&o, at, &got);
	buf_set(&want, "Final-Recipient: rfc822; ");
	buf_append(&want, addr.data, addr.len);
	for (i = 0; i < got.len; i++)		/* drop the inserted spaces */
		if (got.data[i] == ' ' && i > 24) {
			memmove(got.data + i, got.data + i + 1, got.len - i);
			got.len--;
			i--;
		}
	assert_string_equal(got.data, want.data);
	/* To: the same; the text part wraps with an indentation. */
	assert_true(out_find_prefix(&o, 0, "To: abcdef") >= 0);
	at = out_find_prefix(&o, 0, "<abcdef");
	assert_true(at >= 0 && o.lines[at + 1][0] == ' ');
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);
	buf_fini(&addr);
	buf_fini(&reason);
	buf_fini(&want);
	buf_fini(&got);
}

static void
test_8bit(void **state)
{
	static const char *const attrs[] = {"body_type=8BITMIME", NULL};
	struct bounce_log_entry e;
	struct dsn_report_params p = params(DSN_REPORT_FAILURE);
	struct dsn_report *r;
	struct buf why;
	struct qfile qf;
	struct qb b;
	struct out o;
	int fd, k;

	(void)state;
	buf_init(&why, 64);
	for (k = 0; k < 3; k++) {
		/* 0: 8-bit body; 1: 8BITMIME declared; 2: plain ASCII. */
		qb_start(&b, "joe@example.com", k == 1 ? attrs : NULL);
		qb_rcpt(&b, "b\xc3\xb6" "b@example.org", NULL, NULL, false);
		qb_content(&b, k == 0 ? "Subject: x\n\nGr\xc3\xbc\xc3\x9f" "e\n"
		    : MESSAGE, 100);
		fd = qb_fd(&b);
		read_qf(fd, &qf);
		e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0",
		    "voll \xc3\xbc\tbad\001");
		assert_int_equal(dsn_report_open(fd, &qf, &e, 1, &p, &r, &why),
		    DSN_REPORT_OK);
		assert_int_equal(dsn_report_8bit(r), k < 2);
		out_init(&o);
		assert_int_equal(dsn_report_write(r, collect, &o, &why),
		    DSN_REPORT_OK);
		assert_int_equal(out_find(&o, 0, "Content-Transfer-Encoding: "
		    "8bit") >= 0, k < 2);
		/* Generated text is ASCII. */
		assert_true(out_find(&o, 0, "<b??b@example.org>: voll ?? bad?")
		    >= 0);
		assert_true(out_find(&o, 0, "Final-Recipient: rfc822; "
		    "b??b@example.org") >= 0);
		if (k == 0)
			assert_true(out_find(&o, 0, "Gr\xc3\xbc\xc3\x9f" "e")
			    >= 0);
		out_fini(&o);
		dsn_report_free(r);
		qfile_fini(&qf);
		close(fd);
	}
	buf_fini(&why);
}

/* ---- no report, errors -------------------------------------------------- */

static void
test_no_report(void **state)
{
	struct bounce_log_entry e;
	struct dsn_report_params p = params(DSN_REPORT_FAILURE);
	struct dsn_report *r = (struct dsn_report *)1;
	struct buf why;
	struct qfile qf;
	struct qb b;
	struct out o;
	int fd;

	(void)state;
	buf_init(&why, 64);
	qb_start(&b, "", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_content(&b, MESSAGE, 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", "r");
	out_init(&o);
	/* No entries. */
	assert_int_equal(dsn_report_open(fd, &qf, &e, 0, &p, &r, &why),
	    DSN_REPORT_EMPTY);
	assert_null(r);
	/* A null sender: never bounced. */
	assert_int_equal(run(fd, &qf, &e, 1, &p, &o), DSN_REPORT_NOSENDER);
	assert_int_equal(o.calls, 0);
	/* Unless the report goes elsewhere (a postmaster copy). */
	p.to = "postmaster@example.com";
	p.subject = "Postmaster Copy: Undelivered Mail";
	p.ret = DSN_RETURN_HEADERS;
	assert_int_equal(run(fd, &qf, &e, 1, &p, &o), DSN_REPORT_OK);
	assert_true(out_find(&o, 0, "To: postmaster@example.com") >= 0);
	assert_true(out_find(&o, 0, "Subject: Postmaster Copy: Undelivered "
	    "Mail") >= 0);
	assert_true(out_find(&o, 0, "X-Petrel-Sender: rfc822; <>") >= 0);
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);
	buf_fini(&why);
}

static void
test_corrupt_and_stop(void **state)
{
	struct bounce_log_entry e;
	struct dsn_report_params p = params(DSN_REPORT_FAILURE);
	struct buf why;
	struct qfile qf;
	struct qb b;
	struct out o;
	size_t at;
	int fd;

	(void)state;
	buf_init(&why, 64);
	/* A recipient record inside the content: found when it is read. */
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_content(&b, "Subject: x\n\nbody\n", 100);
	at = b.file.len - 4 - 6;	/* the NORM "body" before XTRA, END */
	assert_int_equal(b.file.data[at], REC_TYPE_NORM);
	b.file.data[at] = REC_TYPE_RCPT;
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", "r");
	out_init(&o);
	assert_int_equal(dsn_report(fd, &qf, &e, 1, &p, collect, &o, &why),
	    DSN_REPORT_CORRUPT);
	assert_true(why.len > 0);
	assert_int_equal(o.calls, 0);	/* found before anything was sent */
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);

	/* The callback stops the report. */
	qb_start(&b, "joe@example.com", NULL);
	qb_rcpt(&b, "bob@example.org", NULL, NULL, false);
	qb_content(&b, MESSAGE, 100);
	fd = qb_fd(&b);
	read_qf(fd, &qf);
	e = entry(&qf, 0, BOUNCE_LOG_FAILED, "5.0.0", "r");
	out_init(&o);
	o.stop_at = 5;
	assert_int_equal(run(fd, &qf, &e, 1, &p, &o), DSN_REPORT_STOPPED);
	assert_int_equal(o.calls, 5);
	assert_int_equal(o.n, 4);
	out_fini(&o);
	qfile_fini(&qf);
	close(fd);
	buf_fini(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_whole),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_ret),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_one_per_recipient),
		cmocka_unit_test(test_orcpt_envid),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_long_fields),
		cmocka_unit_test(test_8bit),
		cmocka_unit_test(test_no_report),
		cmocka_unit_test(test_corrupt_and_stop),
	};

	/* Dates in the report are local time. */
	setenv("TZ", "UTC", 1);
	tzset();
	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
