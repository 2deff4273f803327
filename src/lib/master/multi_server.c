/*
 * multi_server.c - skeleton for daemons that serve many clients at once
 *
 *	int main(int argc, char **argv)
 *	{
 *		return multi_server_main(argc, argv, &proxymap_spec);
 *	}
 *
 * One libevent loop (multi_server_base(), valid from pre_init on) owns
 * the listening descriptors, the signals and the timers; the daemon adds
 * its own client events to the same base. Each accepted connection is
 * handed to spec->accept(fd), after which the daemon owns fd until it
 * calls multi_server_disconnect(fd). For type "pass" the skeleton first
 * waits (at most ipc_timeout, capped at 10 s) for the descriptor that the
 * connection carries, and hands over that one instead.
 *
 * Status: AVAIL once ready, and TAKEN once when the process stops
 * accepting (max_use, SIGHUP), so that master starts a fresh one for
 * new clients. Nothing per client: a multi-server stays available, and
 * a TAKEN/AVAIL pair per accept would let master, reading the TAKEN
 * alone, start a useless second process whenever clients arrive in a
 * burst.
 *
 * Life cycle: max_use counts accepted clients; once reached, the
 * process stops accepting and exits when its last client disconnects.
 * SIGHUP does the same, and so does a change on disk of a table that the
 * process opened (dict_changed(), checked when the client count drops to
 * zero and every SERVER_TABLE_CHECK_SECS; the skeleton does not see
 * individual requests). max_idle seconds with no client exits. SIGTERM
 * runs pre_exit and exits. Every exit status is 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "mem.h"
#include "msg.h"
#include "params.h"
#include "server_common.h"

static struct server multi_srv;
static const struct multi_server_spec *multi_spec;
static struct event_base *multi_base;
static struct event **multi_listen_ev;
static struct event *multi_idle_ev;
static int multi_clients;		/* accepted and not disconnected */
static int multi_uses;			/* accepted, ever */
static bool multi_stopping;		/* no longer accepting */

struct event_base *
multi_server_base(void)
{
	return multi_base;
}

static void
multi_done(const char *why)
{
	if (msg_verbose)
		msg_info("%s; exiting", why);
	event_base_loopbreak(multi_base);
}

static void
multi_stop_accepting(const char *why)
{
	int i;

	if (multi_stopping)
		return;
	multi_stopping = true;
	if (msg_verbose)
		msg_info("%s; no new clients", why);
	for (i = 0; i < multi_srv.listen_count; i++)
		event_del(multi_listen_ev[i]);
	/* Master must start another process for new clients. */
	(void)server_notify(&multi_srv, MASTER_STAT_TAKEN);
}

/* The client count dropped to zero. */
static void
multi_idle(void)
{
	struct timeval tv = {.tv_sec = var_max_idle};

	if (multi_stopping || multi_srv.master_gone)
		multi_done("last client gone");
	else
		evtimer_add(multi_idle_ev, &tv);
}

static void
multi_client_gone(void)
{
	if (multi_clients <= 0)
		msg_panic("multi_server_disconnect: no client is connected");
	if (--multi_clients == 0) {
		if (server_tables_changed())
			multi_stop_accepting("table changed");
		multi_idle();
	}
}

void
multi_server_disconnect(int fd)
{
	if (close(fd) < 0)
		msg_warn("close client connection %d: %m", fd);
	multi_client_gone();
}

/* A "pass" connection is readable (or timed out): take its descriptor. */
static void
multi_pass_event(evutil_socket_t conn, short what, void *arg)
{
	int fd = -1;

	(void)arg;
	if (what & EV_READ)
		fd = server_recv_fd(conn);
	else
		msg_warn("timeout receiving a passed descriptor");
	if (close(conn) < 0)
		msg_warn("close pass connection: %m");
	if (fd < 0)
		multi_client_gone();
	else
		multi_spec->accept(fd, multi_srv.service, multi_srv.argv);
}

static void
multi_accept_event(evutil_socket_t listen_fd, short what, void *arg)
{
	int ms = server_ipc_timeout_ms();
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};
	int fd;

	(void)what;
	(void)arg;
	if ((fd = server_accept(listen_fd, 0)) < 0)
		return;
	server_watchdog_pat();
	if (multi_clients++ == 0)
		evtimer_del(multi_idle_ev);
	multi_uses++;
	if (multi_srv.type == SERVER_TYPE_PASS) {
		if (event_base_once(multi_base, fd, EV_READ, multi_pass_event,
		    NULL, &tv) < 0)
			msg_fatal("cannot create an event");
	} else {
		multi_spec->accept(fd, multi_srv.service, multi_srv.argv);
	}
	if (multi_uses >= var_max_use)
		multi_stop_accepting("max_use reached");
}

static void
multi_signal_event(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGTERM) {
		if (msg_verbose)
			msg_info("SIGTERM; exiting");
		server_exit(multi_spec->pre_exit, 0);
	}
	multi_stop_accepting("SIGHUP");
	if (multi_clients == 0)
		multi_done("SIGHUP while idle");
}

/* The periodic table check found a change. */
static void
multi_table_changed(void)
{
	multi_stop_accepting("table changed");
	if (multi_clients == 0)
		multi_done("table changed while idle");
}

static void
multi_idle_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	multi_done("idle timeout");
}

static void
multi_add_signal(int sig)
{
	struct event *ev;

	ev = evsignal_new(multi_base, sig, multi_signal_event, NULL);
	if (ev == NULL || event_priority_set(ev, SERVER_PRIO_SIGNAL) < 0
	    || evsignal_add(ev, NULL) < 0)
		msg_fatal("cannot create a signal event");
}

int
multi_server_main(int argc, char **argv,
    const struct multi_server_spec *spec)
{
	int i;

	multi_spec = spec;
	server_start(&multi_srv, argc, argv, spec->name,
	    SERVER_CONNECTED | SERVER_TYPE_BIT(SERVER_TYPE_PASS));
	if ((multi_base = event_base_new()) == NULL
	    || event_base_priority_init(multi_base, SERVER_PRIOS) < 0)
		msg_fatal("cannot create an event base");
	multi_add_signal(SIGHUP);
	multi_add_signal(SIGTERM);

	server_enter(&multi_srv, spec->pre_init, spec->post_init);

	multi_listen_ev = xcalloc((size_t)multi_srv.listen_count,
	    sizeof(*multi_listen_ev));
	for (i = 0; i < multi_srv.listen_count; i++) {
		multi_listen_ev[i] = event_new(multi_base, server_listen_fd(i),
		    EV_READ | EV_PERSIST, multi_accept_event, NULL);
		if (multi_listen_ev[i] == NULL
		    || event_add(multi_listen_ev[i], NULL) < 0)
			msg_fatal("cannot create a listening event");
	}
	multi_idle_ev = evtimer_new(multi_base, multi_idle_event, NULL);
	if (multi_idle_ev == NULL)
		msg_fatal("cannot create a timer event");
	server_watchdog_event(multi_base);
	server_table_event(multi_base, multi_table_changed);

	/* (A loopbreak before the loop starts would be forgotten.) */
	if (server_notify(&multi_srv, MASTER_STAT_AVAIL) < 0)
		server_exit(spec->pre_exit, 0);
	multi_idle();
	if (event_base_dispatch(multi_base) < 0)
		msg_fatal("event loop failed");
	server_exit(spec->pre_exit, 0);
}
