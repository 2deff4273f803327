/*
 * trigger_server.c - skeleton for daemons woken by short requests
 *
 *	int main(int argc, char **argv)
 *	{
 *		return trigger_server_main(argc, argv, &pickup_spec);
 *	}
 *
 * A trigger is a few bytes (usually one: TRIGGER_REQ_WAKEUP) that some
 * process writes to the service's endpoint:
 *
 *	fifo	the listening descriptor is the fifo itself, opened
 *		read-write by master so that it never reports end-of-file;
 *		each read of up to TRIGGER_BUF_SIZE bytes is one request.
 *	unix	(or inet) a connection is accepted and read until
 *		end-of-file; each read of up to TRIGGER_BUF_SIZE bytes is
 *		one request. A connection silent for ipc_timeout (at most
 *		10 s) is closed.
 *
 * Each request is one spec->service() call between status TAKEN and
 * AVAIL, and counts as one use. The process exits with status 0 after
 * max_use requests (when its connections are closed), after max_idle
 * seconds without a request, on SIGHUP when no connection is open
 * (otherwise when the last one closes, accepting no new one), and on
 * SIGTERM at once (after pre_exit). A change on disk of a table that the
 * process opened (dict_changed(), checked after each request and every
 * SERVER_TABLE_CHECK_SECS) acts like SIGHUP, so that master starts a
 * process with fresh tables.
 *
 * A daemon with work of its own between requests (qmgr: deliveries in
 * flight, queue scans on a timer) uses trigger_server_base() for its
 * events, calls trigger_server_resident() from pre_init or post_init so
 * that max_use and max_idle do not apply, and holds trigger_server_busy
 * (true) while work is outstanding: SIGHUP, a table change or max_use
 * then wait for trigger_server_busy(false) before the process exits.
 *
 * SECURITY: requests come from local processes that may be hostile; the
 * daemon gets the bytes with their length, never more than
 * TRIGGER_BUF_SIZE, and must not trust them beyond that.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "server_common.h"

struct trigger_conn {
	int fd;
	struct event *ev;
};

static struct server trigger_srv;
static const struct trigger_server_spec *trigger_spec;
static struct event_base *trigger_base;
static struct event **trigger_listen_ev;
static struct event *trigger_idle_ev;
static struct buf trigger_buf;
static int trigger_conns;		/* open unix connections */
static int trigger_uses;		/* requests served */
static bool trigger_stopping;		/* no longer accepting */
static bool trigger_resident;		/* no max_use, no max_idle */
static bool trigger_busy;		/* the daemon has work outstanding */

struct event_base *
trigger_server_base(void)
{
	return trigger_base;
}

bool
trigger_server_stopping(void)
{
	return trigger_stopping;
}

void
trigger_server_resident(void)
{
	trigger_resident = true;
	if (trigger_idle_ev != NULL)
		evtimer_del(trigger_idle_ev);
}

static void
trigger_done(const char *why)
{
	if (msg_verbose)
		msg_info("%s; exiting", why);
	event_base_loopbreak(trigger_base);
}

static void
trigger_stop_accepting(const char *why)
{
	int i;

	if (trigger_stopping)
		return;
	trigger_stopping = true;
	if (msg_verbose)
		msg_info("%s; no new requests", why);
	for (i = 0; i < trigger_srv.listen_count; i++)
		event_del(trigger_listen_ev[i]);
}

/* No connection is open: exit, or wait max_idle for the next request. */
static void
trigger_idle(void)
{
	struct timeval tv = {.tv_sec = var_max_idle};

	if (trigger_busy)
		return;
	if (trigger_stopping || trigger_srv.master_gone)
		trigger_done("no more work");
	else if (!trigger_resident)
		evtimer_add(trigger_idle_ev, &tv);
}

void
trigger_server_busy(bool busy)
{
	trigger_busy = busy;
	if (trigger_idle_ev == NULL)
		return;			/* not serving yet */
	if (busy)
		evtimer_del(trigger_idle_ev);
	else if (trigger_conns == 0)
		trigger_idle();
}

/* Read one request from fd into trigger_buf: >0 bytes, 0 EOF, -1. */
static ssize_t
trigger_read(int fd)
{
	ssize_t n;

	buf_reset(&trigger_buf);
	buf_reserve(&trigger_buf, TRIGGER_BUF_SIZE);
	do {
		n = read(fd, trigger_buf.data, TRIGGER_BUF_SIZE);
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		trigger_buf.len = (size_t)n;	/* buf_reserve made room */
		trigger_buf.data[n] = 0;
	}
	return n;
}

static void
trigger_request(size_t len)
{
	server_watchdog_pat();
	(void)server_notify(&trigger_srv, MASTER_STAT_TAKEN);
	trigger_spec->service(trigger_buf.data, len, trigger_srv.service,
	    trigger_srv.argv);
	if (++trigger_uses >= var_max_use && !trigger_resident)
		trigger_stop_accepting("max_use reached");
	if (server_tables_changed())
		trigger_stop_accepting("table changed");
	if (!trigger_stopping)
		(void)server_notify(&trigger_srv, MASTER_STAT_AVAIL);
}

static void
trigger_fifo_event(evutil_socket_t fd, short what, void *arg)
{
	ssize_t n;

	(void)what;
	(void)arg;
	n = trigger_read(fd);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;		/* someone else read it */
		msg_fatal("read fifo: %m");
	}
	if (n == 0)
		msg_fatal("fifo at descriptor %d has no writer (master must "
		    "open it read-write)", (int)fd);
	trigger_request((size_t)n);
	trigger_idle();
}

static void
trigger_conn_close(struct trigger_conn *tc)
{
	event_free(tc->ev);
	if (close(tc->fd) < 0)
		msg_warn("close trigger connection: %m");
	free(tc);
	if (--trigger_conns == 0)
		trigger_idle();
}

static void
trigger_conn_event(evutil_socket_t fd, short what, void *arg)
{
	struct trigger_conn *tc = arg;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		if (msg_verbose)
			msg_info("trigger connection timed out");
		trigger_conn_close(tc);
		return;
	}
	n = trigger_read(fd);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		msg_warn("read trigger connection: %m");
		trigger_conn_close(tc);
	} else if (n == 0) {
		trigger_conn_close(tc);
	} else {
		trigger_request((size_t)n);
	}
}

static void
trigger_accept_event(evutil_socket_t listen_fd, short what, void *arg)
{
	int ms = server_ipc_timeout_ms();
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};
	struct trigger_conn *tc;
	int fd;

	(void)what;
	(void)arg;
	if ((fd = server_accept(listen_fd, SOCK_NONBLOCK)) < 0)
		return;
	server_watchdog_pat();
	tc = xmalloc(sizeof(*tc));
	tc->fd = fd;
	/* The timeout restarts after each read: it bounds silence. */
	tc->ev = event_new(trigger_base, fd, EV_READ | EV_PERSIST,
	    trigger_conn_event, tc);
	if (tc->ev == NULL || event_add(tc->ev, &tv) < 0)
		msg_fatal("cannot create a connection event");
	if (trigger_conns++ == 0)
		evtimer_del(trigger_idle_ev);
}

static void
trigger_signal_event(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGTERM) {
		if (msg_verbose)
			msg_info("SIGTERM; exiting");
		server_exit(trigger_spec->pre_exit, 0);
	}
	trigger_stop_accepting("SIGHUP");
	if (trigger_conns == 0 && !trigger_busy)
		trigger_done("SIGHUP while idle");
}

/* The periodic table check found a change. */
static void
trigger_table_changed(void)
{
	trigger_stop_accepting("table changed");
	if (trigger_conns == 0 && !trigger_busy)
		trigger_done("table changed while idle");
}

static void
trigger_idle_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	trigger_done("idle timeout");
}

static void
trigger_add_signal(int sig)
{
	struct event *ev;

	ev = evsignal_new(trigger_base, sig, trigger_signal_event, NULL);
	if (ev == NULL || event_priority_set(ev, SERVER_PRIO_SIGNAL) < 0
	    || evsignal_add(ev, NULL) < 0)
		msg_fatal("cannot create a signal event");
}

int
trigger_server_main(int argc, char **argv,
    const struct trigger_server_spec *spec)
{
	event_callback_fn cb;
	int i;

	trigger_spec = spec;
	server_start(&trigger_srv, argc, argv, spec->name,
	    SERVER_CONNECTED | SERVER_TYPE_BIT(SERVER_TYPE_FIFO));
	buf_init(&trigger_buf, TRIGGER_BUF_SIZE);
	if ((trigger_base = event_base_new()) == NULL
	    || event_base_priority_init(trigger_base, SERVER_PRIOS) < 0)
		msg_fatal("cannot create an event base");
	trigger_add_signal(SIGHUP);
	trigger_add_signal(SIGTERM);

	server_enter(&trigger_srv, spec->pre_init, spec->post_init);

	cb = trigger_srv.type == SERVER_TYPE_FIFO ? trigger_fifo_event
	    : trigger_accept_event;
	trigger_listen_ev = xcalloc((size_t)trigger_srv.listen_count,
	    sizeof(*trigger_listen_ev));
	for (i = 0; i < trigger_srv.listen_count; i++) {
		trigger_listen_ev[i] = event_new(trigger_base,
		    server_listen_fd(i), EV_READ | EV_PERSIST, cb, NULL);
		if (trigger_listen_ev[i] == NULL
		    || event_add(trigger_listen_ev[i], NULL) < 0)
			msg_fatal("cannot create a listening event");
	}
	trigger_idle_ev = evtimer_new(trigger_base, trigger_idle_event, NULL);
	if (trigger_idle_ev == NULL)
		msg_fatal("cannot create a timer event");
	server_watchdog_event(trigger_base);
	server_table_event(trigger_base, trigger_table_changed);

	/* (A loopbreak before the loop starts would be forgotten.) */
	if (server_notify(&trigger_srv, MASTER_STAT_AVAIL) < 0)
		server_exit(spec->pre_exit, 0);
	trigger_idle();
	if (event_base_dispatch(trigger_base) < 0)
		msg_fatal("event loop failed");
	server_exit(spec->pre_exit, 0);
}
