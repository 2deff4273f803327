/*
 * qmgr_deliver.c - one delivery request to a delivery agent
 *
 * Each entry (qmgr.h) is one connection to private/<transport>, made
 * non-blocking and driven by the event loop, so that many deliveries
 * run at once: write the request (deliver_request_encode()), read the
 * one reply (deliver_reply_parse()), hang up. The agent is given
 * daemon_timeout of silence before qmgr gives up on it.
 *
 * What the answer means for the entry's recipients:
 *	OK	each result letter: DONE (the agent marked the recipient
 *		done in the file: sent or bounced) or RETRY (it wrote a
 *		defer/ entry and logged)
 *	DEFER	every recipient is deferred here with the agent's reason
 *	CORRUPT	the message goes to corrupt/ once its other deliveries
 *		are over
 *	no answer (no such socket, refused, the agent died or hung up
 *	without a reply, timed out, replied garbage, or said BAD)
 *		every recipient is deferred here, status 4.3.0, with
 *		"mail transport unavailable" (unreachable) or "delivery
 *		agent crashed" (and similar), and the transport is dead
 *		for transport_retry_time
 *
 * SECURITY: the reply comes from another process: it is parsed with the
 * attr.h limits (a reply is small: the results and a reason) and checked
 * with deliver_reply_parse(); reasons are logged, never trusted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "attr.h"
#include "buf.h"
#include "deliver_request.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "qmgr.h"
#include "unix_connect.h"

/* The largest reply: the results, a reason, framing. */
#define QMGR_REPLY_MAX		(DELIVER_RCPT_MAX + 65536)
#define QMGR_READ_SIZE		4096

#define QMGR_UNAVAILABLE	"mail transport unavailable"

enum qmgr_outcome {
	QMGR_OUT_REPLY,		/* an answer to interpret */
	QMGR_OUT_FAIL,		/* no usable answer: defer, throttle */
};

struct qmgr_delivery {
	struct qmgr_entry *entry;
	struct qmgr_transport *transport;
	int fd;
	struct event *ev;
	bool reading;
	struct buf out;
	size_t sent;
	struct buf in;
	struct buf fail;		/* the reason of a failure */
};

static void qmgr_deliver_event(evutil_socket_t, short, void *);

/* Transport names become paths: letters, digits, ".-_", no leading dot. */
static bool
qmgr_transport_name_ok(const char *name)
{
	const char *cp;

	if (*name == 0 || *name == '.')
		return false;
	for (cp = name; *cp; cp++)
		if (!((*cp >= 'a' && *cp <= 'z') || (*cp >= 'A' && *cp <= 'Z')
		    || (*cp >= '0' && *cp <= '9') || *cp == '-' || *cp == '_'
		    || *cp == '.'))
			return false;
	return true;
}

static void
qmgr_delivery_free(struct qmgr_delivery *d)
{
	if (d->ev != NULL)
		event_free(d->ev);
	if (d->fd >= 0)
		(void)close(d->fd);
	buf_fini(&d->out);
	buf_fini(&d->in);
	buf_fini(&d->fail);
	free(d);
}

/* Results of an OK reply: mark done in memory, count the retries. */
static void
qmgr_deliver_results(struct qmgr_entry *e, const struct buf *results)
{
	struct qmgr_message *msg = e->msg;
	struct qfile_rcpt *r;
	size_t i;

	for (i = 0; i < e->count; i++) {
		r = &msg->qf.rcpts[e->rcpts[i]];
		if (results->data[i] == DELIVER_RESULT_DONE) {
			if (!r->done) {
				r->done = true;
				msg->qf.done_count++;
			}
		} else {
			msg->retry++;
		}
	}
	qmgr_message_settle(msg, e->count);
}

/* The agent answered: interpret it. false: treat as a failure. */
static bool
qmgr_deliver_reply(struct qmgr_delivery *d, const struct attr_list *reply)
{
	struct qmgr_entry *e = d->entry;
	struct buf results, reason, why;
	int status;
	bool ok = true;

	buf_init(&results, e->count + 1);
	buf_init(&reason, 64);
	buf_init(&why, 64);
	if (deliver_reply_parse(reply, e->count, &status, &results, &reason,
	    &why) < 0) {
		msg_warn("%s: private/%s: malformed reply from the delivery "
		    "agent: %s", e->msg->id, d->transport->name, why.data);
		buf_set(&d->fail, "malformed reply from the delivery agent");
		ok = false;
		goto out;
	}
	switch (status) {
	case DELIVER_STAT_OK:
		qmgr_transport_done(e, true);
		qmgr_deliver_results(e, &results);
		break;
	case DELIVER_STAT_DEFER:
		qmgr_transport_done(e, true);
		qmgr_entry_defer(e, "none", "4.3.0", reason.len ? reason.data
		    : "delivery temporarily suspended");
		break;
	case DELIVER_STAT_CORRUPT:
		qmgr_transport_done(e, true);
		if (!e->msg->corrupt) {
			e->msg->corrupt = true;
			buf_set(&e->msg->corrupt_reason, reason.len
			    ? reason.data : "reported by the delivery agent");
		}
		qmgr_message_settle(e->msg, e->count);
		break;
	default:
		msg_warn("%s: private/%s: the delivery agent rejected the "
		    "request: %s", e->msg->id, d->transport->name,
		    reason.data);
		buf_set(&d->fail, "delivery agent rejected the request");
		ok = false;
		break;
	}
out:
	buf_fini(&results);
	buf_fini(&reason);
	buf_fini(&why);
	return ok;
}

/* The end of a delivery, with an answer or without. */
static void
qmgr_deliver_finish(struct qmgr_delivery *d, enum qmgr_outcome outcome,
    const struct attr_list *reply)
{
	struct qmgr_entry *e = d->entry;

	if (outcome == QMGR_OUT_REPLY && qmgr_deliver_reply(d, reply)) {
		qmgr_entry_free(e);
		qmgr_delivery_free(d);
		return;
	}
	qmgr_transport_done(e, false);
	qmgr_transport_throttle(d->transport, d->fail.data);
	qmgr_entry_defer(e, "none", "4.3.0", d->fail.data);
	qmgr_entry_free(e);
	qmgr_delivery_free(d);
}

/* Fail soon, from the event loop (the scheduler is iterating now). */
static void
qmgr_deliver_fail_soon(struct qmgr_delivery *d, const char *reason)
{
	buf_set(&d->fail, reason);
	if (d->ev != NULL)
		event_free(d->ev);
	d->ev = event_new(qmgr_base, -1, 0, qmgr_deliver_event, d);
	if (d->ev == NULL)
		msg_fatal("cannot create a delivery event");
	event_active(d->ev, EV_TIMEOUT, 0);
}

static void
qmgr_deliver_write(struct qmgr_delivery *d)
{
	struct timeval tv = {.tv_sec = var_daemon_timeout};
	ssize_t n;

	n = send(d->fd, d->out.data + d->sent, d->out.len - d->sent,
	    MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		msg_warn("%s: private/%s: send the request: %m",
		    d->entry->msg->id, d->transport->name);
		buf_set(&d->fail, "delivery agent crashed");
		qmgr_deliver_finish(d, QMGR_OUT_FAIL, NULL);
		return;
	}
	d->sent += (size_t)n;
	if (d->sent < d->out.len)
		return;
	/* All sent: wait for the one reply. */
	event_free(d->ev);
	d->reading = true;
	d->ev = event_new(qmgr_base, d->fd, EV_READ | EV_PERSIST,
	    qmgr_deliver_event, d);
	if (d->ev == NULL || event_add(d->ev, &tv) < 0)
		msg_fatal("cannot create a delivery event");
}

static void
qmgr_deliver_read(struct qmgr_delivery *d)
{
	static const struct attr_limits limits = {
		.max_attrs = 16,
		.max_name = ATTR_DEF_MAX_NAME,
		.max_value = QMGR_REPLY_MAX,
		.max_total = QMGR_REPLY_MAX,
	};
	struct attr_list reply;
	struct buf why;
	ssize_t n;
	const char *id = d->entry->msg->id;

	buf_reserve(&d->in, QMGR_READ_SIZE);
	n = read(d->fd, d->in.data + d->in.len, QMGR_READ_SIZE);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		msg_warn("%s: private/%s: read the reply: %m", id,
		    d->transport->name);
		buf_set(&d->fail, "delivery agent crashed");
		qmgr_deliver_finish(d, QMGR_OUT_FAIL, NULL);
		return;
	}
	if (n == 0) {
		msg_warn("%s: private/%s: the delivery agent hung up without "
		    "an answer", id, d->transport->name);
		buf_set(&d->fail, "delivery agent crashed");
		qmgr_deliver_finish(d, QMGR_OUT_FAIL, NULL);
		return;
	}
	d->in.len += (size_t)n;
	d->in.data[d->in.len] = 0;
	attr_list_init(&reply);
	buf_init(&why, 64);
	switch (attr_parse(&reply, d->in.data, d->in.len, &limits, &why)) {
	case 0:
		if (d->in.len <= QMGR_REPLY_MAX)
			break;		/* read more */
		buf_set(&why, "reply too long");
		/* FALLTHROUGH */
	case -1:
		msg_warn("%s: private/%s: malformed reply from the delivery "
		    "agent: %s", id, d->transport->name, why.data);
		buf_set(&d->fail, "malformed reply from the delivery agent");
		qmgr_deliver_finish(d, QMGR_OUT_FAIL, NULL);
		break;
	default:
		qmgr_deliver_finish(d, QMGR_OUT_REPLY, &reply);
		break;
	}
	attr_list_fini(&reply);
	buf_fini(&why);
}

static void
qmgr_deliver_event(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_delivery *d = arg;

	(void)fd;
	if (d->fail.len > 0) {
		qmgr_deliver_finish(d, QMGR_OUT_FAIL, NULL);
	} else if (what & EV_TIMEOUT) {
		msg_warn("%s: private/%s: no answer from the delivery agent "
		    "in %d seconds", d->entry->msg->id, d->transport->name,
		    var_daemon_timeout);
		buf_set(&d->fail, "delivery agent timed out");
		qmgr_deliver_finish(d, QMGR_OUT_FAIL, NULL);
	} else if (d->reading) {
		qmgr_deliver_read(d);
	} else {
		qmgr_deliver_write(d);
	}
	qmgr_busy_update();
}

void
qmgr_deliver(struct qmgr_entry *e)
{
	struct qmgr_transport *t = e->queue->transport;
	struct qmgr_message *msg = e->msg;
	struct timeval now = qmgr_now(), qtime;
	struct timeval tv = {.tv_sec = var_daemon_timeout};
	struct qmgr_delivery *d;
	struct buf path;
	off_t *offsets;
	size_t i;

	d = xcalloc(1, sizeof(*d));
	d->entry = e;
	d->transport = t;
	d->fd = -1;
	buf_init(&d->out, 256);
	buf_init(&d->in, QMGR_READ_SIZE);
	buf_init(&d->fail, 32);
	if (!qmgr_transport_name_ok(t->name)) {
		msg_warn("%s: bad transport name \"%s\"", msg->id, t->name);
		qmgr_deliver_fail_soon(d, QMGR_UNAVAILABLE);
		return;
	}
	buf_init(&path, 64);
	buf_printf(&path, "private/%s", t->name);
	d->fd = unix_connect(path.data, 0, SOCK_NONBLOCK);
	if (d->fd < 0) {
		if (errno == EAGAIN) {
			/* The agents' listen queue is full: wait a little. */
			buf_fini(&path);
			qmgr_delivery_free(d);
			qmgr_transport_requeue(e);
			return;
		}
		msg_warn("connect to transport %s: %m", path.data);
		buf_fini(&path);
		qmgr_deliver_fail_soon(d, QMGR_UNAVAILABLE);
		return;
	}
	buf_fini(&path);

	offsets = xreallocarray(NULL, e->count, sizeof(*offsets));
	for (i = 0; i < e->count; i++)
		offsets[i] = msg->qf.rcpts[e->rcpts[i]].offset;
	timersub(&now, &msg->qf.arrival, &qtime);
	if (qtime.tv_sec < 0)
		qtime.tv_sec = qtime.tv_usec = 0;
	deliver_request_encode(&d->out, DELIVER_FLAG_NONE, MAIL_QUEUE_ACTIVE,
	    msg->id, e->nexthop, offsets, e->count, &qtime, NULL);
	free(offsets);

	d->ev = event_new(qmgr_base, d->fd, EV_WRITE | EV_PERSIST,
	    qmgr_deliver_event, d);
	if (d->ev == NULL || event_add(d->ev, &tv) < 0)
		msg_fatal("cannot create a delivery event");
	if (msg_verbose)
		msg_info("%s: deliver %zu recipient(s) to %s/%s", msg->id,
		    e->count, t->name, e->queue->name);
}
