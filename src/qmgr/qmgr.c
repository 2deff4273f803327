/*
 * qmgr.c - qmgr, the queue manager: moves mail through the queue and
 * hands it to the delivery agents
 *
 * master.cf:
 *	qmgr      unix  n  -  n  300  1  qmgr
 *
 * A resident trigger server (server.h): it listens on public/qmgr,
 * master pokes it at start and every 300 seconds, and it runs its own
 * work (queue scans, deliveries in flight, timers) on the skeleton's
 * event loop. Requests, one byte each (several may come in one read):
 *
 *	I	scan incoming/ (cleanup queued a message)
 *	D	scan deferred/ (messages whose retry time has come)
 *	F	flush: every deferred message now, ignoring retry times and
 *		dead transports (petrel queue -f)
 *	W	master's wakeup: scan incoming/ and deferred/
 *	iID	the rest of the request is a queue ID: move deferred/ID to
 *		incoming/ and deliver it now, even to a dead transport
 *		(petrel queue -i ID); a bad ID is logged and ignored
 * Other bytes are ignored.
 *
 * At start (post_init) every file left in active/ by a qmgr that died
 * goes back to incoming/ (logged), then incoming/ and deferred/ are
 * scanned; deferred/ again every queue_run_delay seconds. New mail is
 * always taken before deferred mail.
 *
 * The life of a message (see qmgr_scan.c, qmgr_message.c,
 * qmgr_transport.c, qmgr_deliver.c):
 *	incoming/ or deferred/ -> active/	rename, when the active queue
 *		has room (qmgr_message_active_limit messages,
 *		qmgr_message_recipient_limit recipients); logged
 *		"ID: from=<sender>, size=N, nrcpt=M (queue active)"
 *	each recipient not yet done is resolved (trivial-rewrite) to a
 *		transport and a destination, and delivered in requests of
 *		at most <transport>_destination_recipient_limit recipients,
 *		at most <transport>_destination_concurrency_limit at a time
 *		per destination
 *	when every recipient has its result for this pass: reports
 *		(bounce service, asked without blocking, qmgr_bounce.c),
 *		then removed ("ID: removed"), returned
 *		(maximal_queue_lifetime), or deferred/ with the next retry
 *		time as the file's mtime
 *
 * The skeleton is kept "busy" while deliveries or requests to the bounce
 * service are in flight, so that a reload (SIGHUP) lets them finish
 * first (the end of a pass still asks the bounce service for the
 * reports of a message whose deliveries are over); meanwhile no new
 * delivery or scan starts, and the next qmgr, which master starts at
 * once, waits for this one's lock on active/ (qmgr_lock_active())
 * before it takes over. Messages still in active/ when the process
 * exits go back to incoming/ at the next start: recipients already
 * delivered are marked done in the file, so after a crash at worst a
 * delivery in flight is repeated.
 *
 * SECURITY: requests come from local processes; only the bytes above
 * mean anything and an ID is checked with queue_id_valid() before it
 * reaches a path. Queue files are read with the validating reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "qmgr.h"
#include "queue_id.h"
#include "server.h"
#include "str.h"

/* Trigger requests. */
#define QMGR_REQ_SCAN_INCOMING	'I'
#define QMGR_REQ_SCAN_DEFERRED	'D'
#define QMGR_REQ_FLUSH_DEFERRED	'F'
#define QMGR_REQ_WAKEUP		'W'
#define QMGR_REQ_FLUSH_ID	'i'

struct event_base *qmgr_base;
int qmgr_active_count;
size_t qmgr_rcpt_count;
int qmgr_inflight;

static struct event *qmgr_run_timer;	/* queue_run_delay */

struct timeval
qmgr_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv;
}

void
qmgr_busy_update(void)
{
	static int last = -1;
	/* A bounce request holds a message in active/ like a delivery. */
	int busy = qmgr_inflight > 0 || qmgr_bounce_inflight > 0;

	if (busy != last) {
		last = busy;
		trigger_server_busy(busy);
	}
}

/* A zero-timeout event per function, made once, added when needed. */
struct qmgr_soon {
	void (*fn)(void);
	struct event *ev;
};

static void
qmgr_soon_event(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_soon *s = arg;

	(void)fd;
	(void)what;
	s->fn();
	qmgr_busy_update();
}

struct event *
qmgr_event_soon(void (*fn)(void))
{
	struct qmgr_soon *s;

	s = xmalloc(sizeof(*s));
	s->fn = fn;
	s->ev = evtimer_new(qmgr_base, qmgr_soon_event, s);
	if (s->ev == NULL)
		msg_fatal("cannot create a timer event");
	return s->ev;
}

static void
qmgr_run_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	qmgr_scan_deferred(false);
	qmgr_busy_update();
}

/* "iID": the ID is the rest of the request (a newline is tolerated). */
static size_t
qmgr_request_id(const char *buf, size_t len)
{
	struct buf id;
	size_t n = len;

	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf_init(&id, QUEUE_ID_MAX + 1);
	buf_setn(&id, buf, n);
	if (memchr(buf, 0, n) != NULL || !queue_id_valid(id.data)) {
		buf_reset(&id);
		str_printable(&id, buf, n > 64 ? 64 : n);
		msg_warn("request to deliver a message: bad queue ID \"%s\"; "
		    "ignored", id.data);
	} else {
		qmgr_flush_id(id.data);
	}
	buf_fini(&id);
	return len;
}

static void
qmgr_service(const char *buf, size_t len, const char *service, char **argv)
{
	bool incoming = false, deferred = false, flush = false;
	size_t i;

	(void)service;
	(void)argv;
	for (i = 0; i < len; i++) {
		switch (buf[i]) {
		case QMGR_REQ_SCAN_INCOMING:
			incoming = true;
			break;
		case QMGR_REQ_SCAN_DEFERRED:
			deferred = true;
			break;
		case QMGR_REQ_FLUSH_DEFERRED:
			flush = true;
			break;
		case QMGR_REQ_WAKEUP:
			incoming = deferred = true;
			break;
		case QMGR_REQ_FLUSH_ID:
			i += qmgr_request_id(buf + i + 1, len - i - 1);
			break;
		default:
			if (msg_verbose)
				msg_info("ignoring request byte 0x%02x",
				    (unsigned char)buf[i]);
			break;
		}
	}
	if (flush) {
		qmgr_transport_revive_all();
		qmgr_scan_deferred(true);
	} else if (deferred) {
		qmgr_scan_deferred(false);
	}
	if (incoming)
		qmgr_scan_incoming();
	qmgr_busy_update();
}

/*
 * One queue manager owns active/ at a time. After a reload the previous
 * one finishes its deliveries in flight (starting no new work) while
 * master already runs the next: this one waits for the lock, held until
 * exit, before it moves what is left in active/ back to incoming/, so
 * that a message is never delivered by both.
 */
static void
qmgr_lock_active(void)
{
	static int fd = -1;
	int rc;

	if ((fd = open(MAIL_QUEUE_ACTIVE, O_RDONLY | O_DIRECTORY
	    | O_CLOEXEC)) < 0)
		msg_fatal("open %s: %m", MAIL_QUEUE_ACTIVE);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return;
	if (errno != EWOULDBLOCK)
		msg_fatal("lock %s: %m", MAIL_QUEUE_ACTIVE);
	msg_info("waiting for the previous queue manager to finish its "
	    "deliveries");
	while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (rc < 0)
		msg_fatal("lock %s: %m", MAIL_QUEUE_ACTIVE);
}

static void
qmgr_post_init(const char *service, char **argv)
{
	struct timeval tv = {.tv_sec = var_queue_run_delay};

	(void)service;
	(void)argv;
	trigger_server_resident();
	qmgr_base = trigger_server_base();
	qmgr_transport_init();
	qmgr_scan_init();

	qmgr_lock_active();
	qmgr_recover_active();
	qmgr_scan_incoming();
	qmgr_scan_deferred(false);

	qmgr_run_timer = event_new(qmgr_base, -1, EV_PERSIST, qmgr_run_event,
	    NULL);
	if (qmgr_run_timer == NULL || event_add(qmgr_run_timer, &tv) < 0)
		msg_fatal("cannot create the queue run timer");
}

static const struct trigger_server_spec qmgr_spec = {
	.name = "qmgr",
	.service = qmgr_service,
	.post_init = qmgr_post_init,
};

int
main(int argc, char **argv)
{
	return trigger_server_main(argc, argv, &qmgr_spec);
}
