/*
 * qmgr_bounce.c - requests to the bounce service, without blocking
 *
 *	qmgr_bounce_request(msg, BOUNCE_REQ_FLUSH, qmgr_message_bounced);
 *	... later, from the event loop:
 *	qmgr_message_bounced(msg, BOUNCE_REQ_FLUSH, 0 or -1, why)
 *
 * The protocol is bounce_clnt.h's (one request per connection to
 * private/$bounce_service_name); this is its asynchronous twin for the
 * resident qmgr, which must never wait for another daemon: like a
 * delivery (qmgr_deliver.c) the request is a non-blocking connection
 * driven by qmgr's event loop. Connect; a connect that would block (the
 * service's listen queue is full) is tried again every second. Write
 * the request (attr_encode()), read the reply as it arrives
 * (attr_parse()), check it (status and reason, ATTR_STRICT), hang up.
 * The result always comes back through the callback from the event
 * loop, never from inside qmgr_bounce_request(), so that the caller may
 * be deep in its own bookkeeping when it asks.
 *
 * The whole request is bounded by ipc_timeout, at most daemon_timeout
 * and at most QMGR_BOUNCE_TIMEOUT_MAX seconds. A report is short work
 * (the bounce daemon reads at most bounce_size_limit bytes of the
 * message and queues the report through cleanup, milliseconds even with
 * fsync), but while the request is open the message holds its place in
 * the active queue and a reload waits for it: ipc_timeout's default of
 * an hour would let a stuck bounce daemon hold both that long, while a
 * failure only costs a retry (the message goes to deferred/ and asks
 * again on its next pass).
 *
 * qmgr_bounce_inflight counts the requests open; qmgr_busy_update()
 * counts them as work in flight, so that a reload waits for them.
 *
 * SECURITY: the reply comes from another process: it is parsed with
 * small attr.h limits, extracted with ATTR_STRICT, and its reason is
 * made printable before it reaches the callback (which logs it).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "attr.h"
#include "bounce_clnt.h"
#include "buf.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "qmgr.h"
#include "str.h"
#include "unix_connect.h"

/* The longest wait for one request, whatever ipc_timeout says. */
#define QMGR_BOUNCE_TIMEOUT_MAX	100
/* A connect that would block is tried again after this long (ms). */
#define QMGR_BOUNCE_RETRY_MS	1000
/* The longest reply: a status, a reason, framing. */
#define QMGR_BOUNCE_REPLY_MAX	65536
#define QMGR_BOUNCE_READ_SIZE	4096

enum qmgr_bounce_state {
	QMGR_BOUNCE_CONNECT,		/* waiting to (re)try connect() */
	QMGR_BOUNCE_WRITE,		/* sending the request */
	QMGR_BOUNCE_READ,		/* waiting for the reply */
	QMGR_BOUNCE_FAILED,		/* why says; report soon */
	QMGR_BOUNCE_DONE,		/* answered 0; report soon */
};

struct qmgr_bounce {
	struct qmgr_message *msg;
	const char *request;		/* BOUNCE_REQ_*, static */
	qmgr_bounce_fn done;
	enum qmgr_bounce_state state;
	int fd;
	struct event *io;		/* the connection */
	struct event *timer;		/* deadline, retry, report soon */
	struct timeval deadline;
	struct buf out;
	size_t sent;
	struct buf in;
	struct buf why;
};

int qmgr_bounce_inflight;

static void qmgr_bounce_io_event(evutil_socket_t, short, void *);
static void qmgr_bounce_timer_event(evutil_socket_t, short, void *);

/* ipc_timeout, at most daemon_timeout and QMGR_BOUNCE_TIMEOUT_MAX. */
static int
qmgr_bounce_timeout(void)
{
	int secs = var_ipc_timeout;

	if (var_daemon_timeout > 0 && var_daemon_timeout < secs)
		secs = var_daemon_timeout;
	if (secs > QMGR_BOUNCE_TIMEOUT_MAX)
		secs = QMGR_BOUNCE_TIMEOUT_MAX;
	return secs;
}

/* Arm the timer for the deadline, or sooner (ms >= 0). */
static void
qmgr_bounce_timer(struct qmgr_bounce *b, long ms)
{
	struct timeval now = qmgr_now(), left, soon;

	if (timercmp(&now, &b->deadline, <))
		timersub(&b->deadline, &now, &left);
	else
		timerclear(&left);
	if (ms >= 0) {
		soon.tv_sec = ms / 1000;
		soon.tv_usec = (ms % 1000) * 1000;
		if (timercmp(&soon, &left, <))
			left = soon;
	}
	if (evtimer_add(b->timer, &left) < 0)
		msg_fatal("cannot add a timer event");
}

/* The request is over (state FAILED or DONE): report, free. */
static void
qmgr_bounce_finish(struct qmgr_bounce *b)
{
	struct qmgr_message *msg = b->msg;
	qmgr_bounce_fn done = b->done;
	const char *request = b->request;
	struct buf why;
	int status = b->state == QMGR_BOUNCE_DONE ? 0 : -1;

	if (b->io != NULL)
		event_free(b->io);
	event_free(b->timer);
	if (b->fd >= 0)
		(void)close(b->fd);
	buf_fini(&b->out);
	buf_fini(&b->in);
	why = b->why;			/* handed on, freed below */
	free(b);
	qmgr_bounce_inflight--;
	done(msg, request, status, why.data);
	buf_fini(&why);
}

/* Fail with a reason, reported from the event loop. */
static void
qmgr_bounce_fail(struct qmgr_bounce *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
qmgr_bounce_fail(struct qmgr_bounce *b, const char *fmt, ...)
{
	va_list ap;

	buf_reset(&b->why);
	va_start(ap, fmt);
	buf_vprintf(&b->why, fmt, ap);
	va_end(ap);
	b->state = QMGR_BOUNCE_FAILED;
	if (b->io != NULL)
		event_del(b->io);
	event_active(b->timer, EV_TIMEOUT, 0);
}

static void
qmgr_bounce_connect(struct qmgr_bounce *b)
{
	const char *svc = var_bounce_service_name;
	struct buf path;

	buf_init(&path, 64);
	buf_printf(&path, "private/%s", svc);
	b->fd = unix_connect(path.data, 0, SOCK_NONBLOCK);
	if (b->fd < 0 && errno == EAGAIN) {
		/* The listen queue is full: try again, within the deadline. */
		b->state = QMGR_BOUNCE_CONNECT;
		qmgr_bounce_timer(b, QMGR_BOUNCE_RETRY_MS);
	} else if (b->fd < 0) {
		qmgr_bounce_fail(b, "cannot connect to the %s service (%s): %s",
		    svc, path.data, strerror(errno));
	} else {
		b->state = QMGR_BOUNCE_WRITE;
		b->io = event_new(qmgr_base, b->fd, EV_WRITE | EV_PERSIST,
		    qmgr_bounce_io_event, b);
		if (b->io == NULL || event_add(b->io, NULL) < 0)
			msg_fatal("cannot create a bounce request event");
		qmgr_bounce_timer(b, -1);
	}
	buf_fini(&path);
}

static void
qmgr_bounce_write(struct qmgr_bounce *b)
{
	ssize_t n;

	n = send(b->fd, b->out.data + b->sent, b->out.len - b->sent,
	    MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		qmgr_bounce_fail(b, "error talking to the %s service: %s",
		    var_bounce_service_name, strerror(errno));
		return;
	}
	b->sent += (size_t)n;
	if (b->sent < b->out.len)
		return;
	/* All sent: wait for the reply. */
	event_free(b->io);
	b->state = QMGR_BOUNCE_READ;
	b->io = event_new(qmgr_base, b->fd, EV_READ | EV_PERSIST,
	    qmgr_bounce_io_event, b);
	if (b->io == NULL || event_add(b->io, NULL) < 0)
		msg_fatal("cannot create a bounce request event");
}

/* A complete reply: status and reason. */
static void
qmgr_bounce_reply(struct qmgr_bounce *b, const struct attr_list *reply)
{
	const char *svc = var_bounce_service_name;
	struct buf reason, err;
	int status = -1;

	buf_init(&reason, 64);
	buf_init(&err, 64);
	if (attr_extract(reply, ATTR_STRICT, (const struct attr_spec[]){
	    A_INT(BOUNCE_ATTR_STATUS, &status),
	    A_BUF(BOUNCE_ATTR_REASON, &reason), A_END}, &err) < 0) {
		qmgr_bounce_fail(b, "malformed reply from the %s service: %s",
		    svc, err.data);
	} else if (status != 0) {
		buf_reset(&err);
		if (reason.len > 0)
			str_printable(&err, reason.data, reason.len);
		else
			buf_printf(&err, "%s failed (status %d)", b->request,
			    status);
		qmgr_bounce_fail(b, "%s service: %s", svc, err.data);
	} else {
		b->state = QMGR_BOUNCE_DONE;
		event_del(b->io);
		event_active(b->timer, EV_TIMEOUT, 0);
	}
	buf_fini(&reason);
	buf_fini(&err);
}

static void
qmgr_bounce_read(struct qmgr_bounce *b)
{
	static const struct attr_limits limits = {
		.max_attrs = 8,
		.max_name = ATTR_DEF_MAX_NAME,
		.max_value = QMGR_BOUNCE_REPLY_MAX,
		.max_total = QMGR_BOUNCE_REPLY_MAX,
	};
	const char *svc = var_bounce_service_name;
	struct attr_list reply;
	struct buf err;
	ssize_t n;

	buf_reserve(&b->in, QMGR_BOUNCE_READ_SIZE);
	n = read(b->fd, b->in.data + b->in.len, QMGR_BOUNCE_READ_SIZE);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		qmgr_bounce_fail(b, "error talking to the %s service: %s", svc,
		    strerror(errno));
		return;
	}
	if (n == 0) {
		qmgr_bounce_fail(b, "lost connection to the %s service", svc);
		return;
	}
	b->in.len += (size_t)n;
	b->in.data[b->in.len] = 0;
	attr_list_init(&reply);
	buf_init(&err, 64);
	switch (attr_parse(&reply, b->in.data, b->in.len, &limits, &err)) {
	case 0:
		if (b->in.len <= QMGR_BOUNCE_REPLY_MAX)
			break;		/* read more */
		buf_set(&err, "reply too long");
		/* FALLTHROUGH */
	case -1:
		qmgr_bounce_fail(b, "malformed reply from the %s service: %s",
		    svc, err.data);
		break;
	default:
		qmgr_bounce_reply(b, &reply);
		break;
	}
	attr_list_fini(&reply);
	buf_fini(&err);
}

static void
qmgr_bounce_io_event(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_bounce *b = arg;

	(void)fd;
	(void)what;
	if (b->state == QMGR_BOUNCE_WRITE)
		qmgr_bounce_write(b);
	else if (b->state == QMGR_BOUNCE_READ)
		qmgr_bounce_read(b);
	qmgr_busy_update();
}

static void
qmgr_bounce_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_bounce *b = arg;
	struct timeval now = qmgr_now();

	(void)fd;
	(void)what;
	switch (b->state) {
	case QMGR_BOUNCE_FAILED:
	case QMGR_BOUNCE_DONE:
		qmgr_bounce_finish(b);
		break;
	case QMGR_BOUNCE_CONNECT:
		if (timercmp(&now, &b->deadline, <)) {
			qmgr_bounce_connect(b);
			break;
		}
		/* FALLTHROUGH */
	default:
		qmgr_bounce_fail(b, "timeout after %d seconds talking to the "
		    "%s service", qmgr_bounce_timeout(),
		    var_bounce_service_name);
		break;
	}
	qmgr_busy_update();
}

void
qmgr_bounce_request(struct qmgr_message *msg, const char *request,
    qmgr_bounce_fn done)
{
	struct qmgr_bounce *b;
	struct timeval tv = {.tv_sec = qmgr_bounce_timeout()};

	b = xcalloc(1, sizeof(*b));
	b->msg = msg;
	b->request = request;
	b->done = done;
	b->fd = -1;
	buf_init(&b->out, 128);
	buf_init(&b->in, QMGR_BOUNCE_READ_SIZE);
	buf_init(&b->why, 64);
	attr_encode(&b->out, (const struct attr_spec[]){
	    A_STR(BOUNCE_ATTR_REQUEST, request),
	    A_STR(BOUNCE_ATTR_QUEUE, MAIL_QUEUE_ACTIVE),
	    A_STR(BOUNCE_ATTR_ID, msg->id), A_END});
	b->deadline = qmgr_now();
	timeradd(&b->deadline, &tv, &b->deadline);
	b->timer = evtimer_new(qmgr_base, qmgr_bounce_timer_event, b);
	if (b->timer == NULL)
		msg_fatal("cannot create a timer event");
	qmgr_bounce_inflight++;
	if (msg_verbose)
		msg_info("%s: %s request to the %s service", msg->id, request,
		    var_bounce_service_name);
	qmgr_bounce_connect(b);
}
