/*
 * qmgr_message.c - a message in the active queue, from its arrival to
 * the end of its delivery pass
 *
 * qmgr_message_activate() takes a message that qmgr_scan.c moved into
 * active/: it logs "ID: from=<sender>, size=N, nrcpt=M (queue active)"
 * (Postfix's line; size is the content size, nrcpt all recipients),
 * removes the defer log of an earlier pass (the agents write a new one
 * for whatever is deferred again, so at expiry the log holds the reasons
 * of the last attempt), resolves each recipient not marked done with
 * trivial-rewrite (resolve_clnt.h) and queues it on its transport. A
 * recipient that cannot be resolved ("address resolver failure") or
 * whose transport is dead is deferred at once.
 *
 * qmgr_message_defer_rcpt() is how qmgr itself defers a recipient: an
 * entry in defer/ID (status 4.3.0 and the reason, for mailq and for the
 * report at expiry) and Postfix's log line
 *	ID: to=<rcpt>, relay=none, delay=1.2, delays=0.01/1.2/0/0,
 *	dsn=4.3.0, status=deferred (mail transport unavailable)
 *
 * When every recipient has a result for this pass (qmgr_message_settle()
 * counts them down), the pass ends:
 *	- corrupt (an agent said so): the file goes to corrupt/;
 *	- bounce/ID exists: the bounce service reports it (FLUSH);
 *	- nothing left to deliver, or the message expired, and trace/ID
 *	  exists: the bounce service sends the success notices (TRACE);
 *	- recipients left and the message older than maximal_queue_lifetime
 *	  (bounce_queue_lifetime for mail from the null sender; 0: one
 *	  attempt only): the bounce service returns it (EXPIRE), logged
 *	  "ID: from=<sender>, status=expired, returned to sender". First
 *	  each undelivered recipient without an entry in defer/ID (its
 *	  agent could not write one, or it was not tried in this pass) gets
 *	  one, status 4.4.7, "message expired before delivery; no earlier
 *	  reason recorded", logged "ID: to=<rcpt>: no delay reason
 *	  recorded; ...", so that the report names every recipient the
 *	  sender loses;
 *	- then, if recipients are left (not expired) or a bounce service
 *	  request failed (the service may not even be configured, or did
 *	  not answer in time: see qmgr_bounce.c; logged): the file goes to
 *	  deferred/ with its mtime set to the next retry time, now + the
 *	  message's age clamped to [minimal_backoff_time,
 *	  maximal_backoff_time], and the reports are asked for again at the
 *	  end of its next pass;
 *	- else the logs and the file are removed: "ID: removed".
 * The requests to the bounce service do not block qmgr (qmgr_bounce.c):
 * one at a time, each continuing the list above when it is answered.
 * Meanwhile the message stays in active/ and in the active queue's
 * counts, and is finished once (finishing).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "bounce_clnt.h"
#include "bounce_log.h"
#include "buf.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "qmgr.h"
#include "resolve_clnt.h"
#include "str.h"

/* The reports at the end of a pass, in this order. */
enum qmgr_report_step {
	QMGR_REPORT_FLUSH,		/* bounce/ID: failures */
	QMGR_REPORT_TRACE,		/* trace/ID: successes */
	QMGR_REPORT_EXPIRE,		/* defer/ID: the message expired */
	QMGR_REPORT_DONE,		/* then deferred/ or removed */
};

/* A recipient left without a reason at expiry (RFC 3463 4.4.7). */
#define QMGR_EXPIRED_DSN	"4.4.7"
#define QMGR_EXPIRED_REASON	"message expired before delivery; no " \
				"earlier reason recorded"

static struct qmgr_message *qmgr_active_head, *qmgr_active_tail;

static double
qmgr_tv_diff(const struct timeval *a, const struct timeval *b)
{
	return (double)(a->tv_sec - b->tv_sec)
	    + (double)(a->tv_usec - b->tv_usec) / 1e6;
}

double
qmgr_message_age(const struct qmgr_message *msg)
{
	struct timeval now = qmgr_now();

	return qmgr_tv_diff(&now, &msg->qf.arrival);
}

/*
 * Postfix's delay text, as the delivery agents write it: at most two
 * decimals below 10 s (trailing zeros dropped), whole seconds above.
 */
static void
qmgr_fmt_delay(struct buf *out, double secs)
{
	size_t start = out->len;

	if (secs < 0)
		secs = 0;
	if (secs >= 10) {
		buf_printf(out, "%.0f", secs);
		return;
	}
	buf_printf(out, "%.2f", secs);
	while (out->len > start && out->data[out->len - 1] == '0')
		buf_truncate(out, out->len - 1);
	if (out->len > start && out->data[out->len - 1] == '.')
		buf_truncate(out, out->len - 1);
}

void
qmgr_message_defer_rcpt(struct qmgr_message *msg, size_t i,
    const char *relay, const char *dsn, const char *reason)
{
	const struct qfile_rcpt *rcpt = &msg->qf.rcpts[i];
	struct bounce_log_entry e;
	struct timeval now = qmgr_now();
	struct buf why, delay, before, in;

	buf_init(&why, 100);
	bounce_log_entry_init(&e, rcpt);
	e.status = dsn;
	e.action = BOUNCE_LOG_DELAYED;
	e.reason = reason;
	if (bounce_log_append(MAIL_QUEUE_DEFER, msg->id, &e, &why) < 0)
		msg_warn("%s: to=<%s>: %s", msg->id, rcpt->addr, why.data);
	buf_fini(&why);

	buf_init(&delay, 16);
	buf_init(&before, 16);
	buf_init(&in, 16);
	qmgr_fmt_delay(&delay, qmgr_tv_diff(&now, &msg->qf.arrival));
	qmgr_fmt_delay(&before, qmgr_tv_diff(&msg->active_time,
	    &msg->qf.arrival));
	qmgr_fmt_delay(&in, qmgr_tv_diff(&now, &msg->active_time));
	msg_info("%s: to=<%s>, relay=%s, delay=%s, delays=%s/%s/0/0, "
	    "dsn=%s, status=deferred (%s)", msg->id, rcpt->addr, relay,
	    delay.data, before.data, in.data, dsn, reason);
	buf_fini(&delay);
	buf_fini(&before);
	buf_fini(&in);
	msg->retry++;
}

static void
qmgr_message_free(struct qmgr_message *msg)
{
	qfile_fini(&msg->qf);
	buf_fini(&msg->corrupt_reason);
	free(msg->id);
	free(msg);
}

/* Take msg out of the active queue's accounting. */
static void
qmgr_message_unlink(struct qmgr_message *msg)
{
	if (msg->prev != NULL)
		msg->prev->next = msg->next;
	else
		qmgr_active_head = msg->next;
	if (msg->next != NULL)
		msg->next->prev = msg->prev;
	else
		qmgr_active_tail = msg->prev;
	qmgr_active_count--;
	qmgr_rcpt_count -= msg->load;
	/* Room: take more mail. */
	qmgr_feed_soon();
}

/* Does queue's log of the message exist? (An error counts as yes.) */
static bool
qmgr_log_exists(const char *queue, const char *id)
{
	struct buf path;
	struct stat st;
	bool exists = true;

	buf_init(&path, 64);
	mail_queue_path(&path, queue, id);
	if (lstat(path.data, &st) < 0 && errno == ENOENT)
		exists = false;
	buf_fini(&path);
	return exists;
}

static void
qmgr_message_quarantine(struct qmgr_message *msg)
{
	struct buf path;

	buf_init(&path, 64);
	mail_queue_path(&path, MAIL_QUEUE_ACTIVE, msg->id);
	msg_warn("%s: corrupt queue file: %s; moved to %s/", msg->id,
	    msg->corrupt_reason.data, MAIL_QUEUE_CORRUPT);
	if (qmgr_move(msg->id, path.data, MAIL_QUEUE_CORRUPT) < 0)
		msg_warn("%s: move %s to %s/: %m", msg->id, path.data,
		    MAIL_QUEUE_CORRUPT);
	buf_fini(&path);
}

/* To deferred/, to be tried again after the backoff time. */
static void
qmgr_message_to_deferred(struct qmgr_message *msg)
{
	struct timeval times[2];
	struct buf path;
	double age = qmgr_message_age(msg);
	long backoff;

	if (age > (double)var_maximal_backoff_time)
		backoff = var_maximal_backoff_time;
	else if (age < (double)var_minimal_backoff_time)
		backoff = var_minimal_backoff_time;
	else
		backoff = (long)age;
	times[0] = qmgr_now();
	times[0].tv_sec += backoff;
	times[0].tv_usec = 0;
	times[1] = times[0];

	buf_init(&path, 64);
	mail_queue_path(&path, MAIL_QUEUE_ACTIVE, msg->id);
	if (utimes(path.data, times) < 0)
		msg_warn("%s: set the retry time of %s: %m", msg->id,
		    path.data);
	if (qmgr_move(msg->id, path.data, MAIL_QUEUE_DEFERRED) < 0)
		msg_warn("%s: move %s to %s/: %m", msg->id, path.data,
		    MAIL_QUEUE_DEFERRED);
	buf_fini(&path);
}

static void
qmgr_message_remove(struct qmgr_message *msg)
{
	static const char *const logs[] = {
		MAIL_QUEUE_DEFER, MAIL_QUEUE_BOUNCE, MAIL_QUEUE_TRACE,
	};
	size_t i;

	for (i = 0; i < sizeof(logs) / sizeof(*logs); i++)
		if (bounce_log_remove(logs[i], msg->id) < 0)
			msg_warn("%s: remove the %s log: %m", msg->id, logs[i]);
	if (mail_queue_remove(MAIL_QUEUE_ACTIVE, msg->id) < 0
	    && errno != ENOENT) {
		msg_warn("%s: remove %s/%s: %m", msg->id, MAIL_QUEUE_ACTIVE,
		    msg->id);
		return;
	}
	msg_info("%s: removed", msg->id);
}

/* Compare two offsets, for qsort() and bsearch(). */
static int
qmgr_offset_cmp(const void *a, const void *b)
{
	off_t x = *(const off_t *)a, y = *(const off_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Before EXPIRE: every recipient still undelivered gets an entry in
 * defer/ID if it has none (its agent answered RETRY but could not write
 * its log, or it was not tried in this pass), so that the report lists
 * it. 0, or -1 (logged): the message must not be returned incomplete.
 */
static int
qmgr_message_expire_log(struct qmgr_message *msg)
{
	struct bounce_log_entry *entries, e;
	const struct qfile_rcpt *rcpt;
	struct buf why;
	off_t *offsets;
	size_t count, i;
	int ret = 0;

	if (bounce_log_read_all(MAIL_QUEUE_DEFER, msg->id, &entries, &count)
	    < 0) {
		msg_warn("%s: read the %s log: %m; the message stays queued",
		    msg->id, MAIL_QUEUE_DEFER);
		return -1;
	}
	offsets = xreallocarray(NULL, count ? count : 1, sizeof(*offsets));
	for (i = 0; i < count; i++)
		offsets[i] = entries[i].offset;
	qsort(offsets, count, sizeof(*offsets), qmgr_offset_cmp);
	buf_init(&why, 100);
	for (i = 0; i < msg->qf.rcpt_count; i++) {
		rcpt = &msg->qf.rcpts[i];
		if (rcpt->done || bsearch(&rcpt->offset, offsets, count,
		    sizeof(*offsets), qmgr_offset_cmp) != NULL)
			continue;
		bounce_log_entry_init(&e, rcpt);
		e.status = QMGR_EXPIRED_DSN;
		e.action = BOUNCE_LOG_DELAYED;
		e.reason = QMGR_EXPIRED_REASON;
		if (bounce_log_append(MAIL_QUEUE_DEFER, msg->id, &e, &why)
		    < 0) {
			msg_warn("%s: to=<%s>: %s; the message stays queued",
			    msg->id, rcpt->addr, why.data);
			ret = -1;
			break;
		}
		msg_info("%s: to=<%s>: no delay reason recorded; reported as "
		    "\"%s\"", msg->id, rcpt->addr, QMGR_EXPIRED_REASON);
	}
	buf_fini(&why);
	free(offsets);
	bounce_log_free_all(entries, count);
	return ret;
}

/* The pass is over and its reports too: deferred/ or removed. */
static void
qmgr_message_finish(struct qmgr_message *msg)
{
	qmgr_message_unlink(msg);
	if (msg->keep || (msg->retry > 0 && !msg->expired))
		qmgr_message_to_deferred(msg);
	else
		qmgr_message_remove(msg);
	qmgr_message_free(msg);
}

static void qmgr_message_report(struct qmgr_message *);

/* qmgr_bounce_fn: a report request is over; go on with the next. */
static void
qmgr_message_bounced(struct qmgr_message *msg, const char *request,
    int status, const char *why)
{
	if (status < 0) {
		msg_warn("%s: %s request to the %s service failed: %s; the "
		    "message stays queued", msg->id, request,
		    var_bounce_service_name, why);
		msg->keep = true;
	} else if (strcmp(request, BOUNCE_REQ_EXPIRE) == 0) {
		msg_info("%s: from=<%s>, status=expired, returned to sender",
		    msg->id, msg->qf.sender);
	}
	qmgr_message_report(msg);
}

/*
 * The reports of the pass, one request at a time in this order (a
 * failed one skips the rest), then qmgr_message_finish(). Each request
 * returns here through qmgr_message_bounced().
 */
static void
qmgr_message_report(struct qmgr_message *msg)
{
	for (;;) {
		switch (msg->report_step++) {
		case QMGR_REPORT_FLUSH:
			if (!qmgr_log_exists(MAIL_QUEUE_BOUNCE, msg->id))
				break;
			qmgr_bounce_request(msg, BOUNCE_REQ_FLUSH,
			    qmgr_message_bounced);
			return;
		case QMGR_REPORT_TRACE:
			if (msg->keep || (msg->retry > 0 && !msg->expired)
			    || !qmgr_log_exists(MAIL_QUEUE_TRACE, msg->id))
				break;
			qmgr_bounce_request(msg, BOUNCE_REQ_TRACE,
			    qmgr_message_bounced);
			return;
		case QMGR_REPORT_EXPIRE:
			if (msg->keep || !msg->expired)
				break;
			if (qmgr_message_expire_log(msg) < 0) {
				msg->keep = true;
				break;
			}
			qmgr_bounce_request(msg, BOUNCE_REQ_EXPIRE,
			    qmgr_message_bounced);
			return;
		default:
			qmgr_message_finish(msg);
			return;
		}
	}
}

/*
 * The end of a delivery pass; see the comment at the top. The message
 * stays in the active queue (and counts against its limits) until its
 * reports are done.
 */
static void
qmgr_message_done(struct qmgr_message *msg)
{
	long lifetime;

	if (msg->finishing)
		msg_panic("%s: delivery pass ended twice", msg->id);
	msg->finishing = true;
	if (msg->corrupt) {
		qmgr_message_unlink(msg);
		qmgr_message_quarantine(msg);
		qmgr_message_free(msg);
		return;
	}
	lifetime = msg->qf.sender[0] != 0 ? var_maximal_queue_lifetime
	    : var_bounce_queue_lifetime;
	msg->expired = msg->retry > 0
	    && qmgr_message_age(msg) >= (double)lifetime;
	msg->report_step = QMGR_REPORT_FLUSH;
	qmgr_message_report(msg);
}

void
qmgr_message_settle(struct qmgr_message *msg, size_t n)
{
	if (n > msg->todo || msg->finishing)
		msg_panic("%s: %zu results for %zu recipients%s", msg->id, n,
		    msg->todo, msg->finishing ? " (pass over)" : "");
	msg->todo -= n;
	if (msg->todo == 0)
		qmgr_message_done(msg);
}

/* The queue name of a recipient: see qmgr.h. */
static void
qmgr_queue_name(struct buf *out, const struct qmgr_transport *t,
    const struct resolve_reply *r)
{
	buf_set(out, t->rcpt_limit == 1 ? r->recipient.data : r->nexthop.data);
	str_lower(out->data);
}

void
qmgr_message_activate(const char *id, struct qfile *qf, bool force)
{
	struct qmgr_message *msg;
	struct qmgr_transport *t;
	struct resolve_reply r;
	struct buf qname;
	size_t i, settled = 0;

	msg = xcalloc(1, sizeof(*msg));
	msg->id = xstrdup(id);
	msg->qf = *qf;
	memset(qf, 0, sizeof(*qf));
	msg->active_time = qmgr_now();
	msg->force = force;
	buf_init(&msg->corrupt_reason, 16);
	msg->load = msg->qf.rcpt_count - msg->qf.done_count;
	msg->todo = msg->load;
	msg->prev = qmgr_active_tail;
	if (qmgr_active_tail != NULL)
		qmgr_active_tail->next = msg;
	else
		qmgr_active_head = msg;
	qmgr_active_tail = msg;
	qmgr_active_count++;
	qmgr_rcpt_count += msg->load;

	msg_info("%s: from=<%s>, size=%ld, nrcpt=%zu (queue active)", id,
	    msg->qf.sender, (long)msg->qf.size.content_size,
	    msg->qf.rcpt_count);
	if (bounce_log_remove(MAIL_QUEUE_DEFER, id) < 0)
		msg_warn("%s: remove the %s log: %m", id, MAIL_QUEUE_DEFER);

	resolve_reply_init(&r);
	buf_init(&qname, 64);
	for (i = 0; i < msg->qf.rcpt_count; i++) {
		if (msg->qf.rcpts[i].done)
			continue;
		if (resolve_clnt(msg->qf.rcpts[i].addr, &r) < 0) {
			qmgr_message_defer_rcpt(msg, i, "none", "4.3.0",
			    "address resolver failure");
			settled++;
			continue;
		}
		t = qmgr_transport_find(r.transport.data);
		if (qmgr_transport_dead(t) && !msg->force) {
			qmgr_message_defer_rcpt(msg, i, "none", "4.3.0",
			    t->dead_reason.data);
			settled++;
			continue;
		}
		qmgr_queue_name(&qname, t, &r);
		qmgr_transport_add(t, qname.data, r.nexthop.data, msg, i);
	}
	buf_fini(&qname);
	resolve_reply_fini(&r);
	/* Last: this may end the pass (nothing was queued). */
	qmgr_message_settle(msg, settled);
}
