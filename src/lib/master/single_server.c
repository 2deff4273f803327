/*
 * single_server.c - skeleton for daemons that serve one client at a time
 *
 *	int main(int argc, char **argv)
 *	{
 *		return single_server_main(argc, argv, &smtpd_spec);
 *	}
 *
 * After the common start-up (server_common.c) the process tells master
 * it is available and waits in epoll_wait() on every listening
 * descriptor (a single one registered with EPOLLEXCLUSIVE, so that a
 * connection wakes one idle sibling rather than all of them). When one becomes readable
 * it tries a non-blocking accept(): a sibling child may have taken the
 * connection first, which is not an error.
 * Then: status TAKEN, spec->service(fd) (for type "pass", on the
 * descriptor received over the accepted connection), close, status
 * AVAIL, and back to epoll_wait().
 *
 * The process exits with status 0 after max_use clients, after max_idle
 * seconds idle without a client, on SIGHUP once the current client
 * is done (at once when idle), and on SIGTERM: at once when idle (after
 * pre_exit), and by the signal's default action while serving. It also
 * exits once a table it opened has changed on disk: that is checked
 * after each client and at least every SERVER_TABLE_CHECK_SECS while
 * idle, so that master starts a process with fresh tables.
 *
 * Signals reach epoll_wait() through a self-pipe: the handler sets a
 * flag and writes a byte, so a signal that arrives between the flag
 * test and epoll_wait() still wakes it up. The handlers use SA_RESTART
 * so that a SIGHUP does not interrupt the daemon's blocking reads and
 * writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "file.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "server_common.h"
#include "timeutil.h"

static struct server single_srv;
static const struct single_server_spec *single_spec;
static int single_pipe[2] = {-1, -1};
static volatile sig_atomic_t single_hup;
static volatile sig_atomic_t single_term;
/*
 * Non-zero while the daemon's own code runs (init and service): then
 * SIGTERM must end the process right away, as nothing would look at
 * the flag.
 */
static volatile sig_atomic_t single_busy = 1;
static int single_uses;

static void
single_signal(int sig)
{
	int saved_errno = errno;

	if (sig == SIGTERM) {
		if (single_busy) {
			/* Delivered again when this handler returns. */
			signal(SIGTERM, SIG_DFL);
			raise(SIGTERM);
		}
		single_term = 1;
	} else {
		single_hup = 1;
	}
	if (write(single_pipe[1], "", 1) < 0) {
		/* Pipe full: a wakeup is already pending. */
	}
	errno = saved_errno;
}

static void
single_signals(void)
{
	struct sigaction sa;

	if (pipe2(single_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		msg_fatal("pipe: %m");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = single_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGHUP);
	sigaddset(&sa.sa_mask, SIGTERM);
	if (sigaction(SIGHUP, &sa, NULL) < 0
	    || sigaction(SIGTERM, &sa, NULL) < 0)
		msg_fatal("sigaction: %m");
}

static void
single_drain(void)
{
	char junk[64];

	while (read(single_pipe[0], junk, sizeof(junk)) > 0)
		continue;
}

static _Noreturn void
single_exit(const char *why)
{
	if (msg_verbose)
		msg_info("%s; exiting", why);
	server_exit(single_spec->pre_exit, 0);
}

/* Exit now if a signal, master or max_use says so (we are idle). */
static void
single_check_exit(void)
{
	if (single_term)
		single_exit("SIGTERM");
	if (single_hup)
		single_exit("SIGHUP");
	if (single_srv.master_gone)
		single_exit("master is gone");
	if (single_uses >= var_max_use)
		single_exit("max_use reached");
	if (server_tables_changed())
		single_exit("table changed");
}

/* A "pass" connection: wait (bounded) for the descriptor it carries. */
static int
single_recv_fd(int conn)
{
	struct pollfd pfd = {.fd = conn, .events = POLLIN};
	uint64_t deadline = time_mono_ms() + (uint64_t)server_ipc_timeout_ms();
	uint64_t now;
	int n;

	for (;;) {
		now = time_mono_ms();
		if (now >= deadline) {
			msg_warn("timeout receiving a passed descriptor");
			return -1;
		}
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n > 0)
			return server_recv_fd(conn);
		if (n < 0 && errno != EINTR) {
			msg_warn("poll: %m");
			return -1;
		}
	}
}

/* listen_fd is readable: take the client, if it is still there. */
static bool
single_take(int listen_fd)
{
	int fd, conn;

	if ((fd = server_accept(listen_fd, 0)) < 0)
		return false;
	server_watchdog_pat();
	(void)server_notify(&single_srv, MASTER_STAT_TAKEN);
	if (single_srv.type == SERVER_TYPE_PASS) {
		conn = fd;
		fd = single_recv_fd(conn);
		(void)close(conn);
	}
	if (fd >= 0) {
		single_busy = 1;
		single_spec->service(fd, single_srv.service, single_srv.argv);
		single_busy = 0;
		if (close(fd) < 0)
			msg_warn("close client connection: %m");
		single_uses++;
	}
	server_watchdog_stop();
	/* Not available if we are about to exit: master must not wait. */
	single_check_exit();
	(void)server_notify(&single_srv, MASTER_STAT_AVAIL);
	return true;
}

int
single_server_main(int argc, char **argv,
    const struct single_server_spec *spec)
{
	struct epoll_event ev, *ready;
	int nfds, i, n, k, ep, dist, next = 0;
	uint64_t idle_since, idle_ms, waited, timeout;

	single_spec = spec;
	server_start(&single_srv, argc, argv, spec->name,
	    SERVER_CONNECTED | SERVER_TYPE_BIT(SERVER_TYPE_PASS));
	single_signals();
	server_enter(&single_srv, spec->pre_init, spec->post_init);
	single_busy = 0;

	/*
	 * Every idle process of the service waits on the same listening
	 * sockets. With one socket, EPOLLEXCLUSIVE wakes one of them per
	 * connection instead of all (a herd of failed accept() calls per
	 * client otherwise). Not with several: the process woken for one
	 * socket may take a client of another, whose wake-up went to a
	 * sibling that then finds nothing, and the first client would wait
	 * for a whole session. A kernel without EPOLLEXCLUSIVE (before
	 * 4.5) gets plain EPOLLIN.
	 */
	nfds = single_srv.listen_count + 1;
	ready = xcalloc((size_t)nfds, sizeof(*ready));
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		msg_fatal("epoll_create1: %m");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = 0;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, single_pipe[0], &ev) < 0)
		msg_fatal("epoll_ctl: %m");
	for (i = 1; i < nfds; i++) {
		int fd = server_listen_fd(i - 1), rc;

		ev.events = EPOLLIN | (nfds == 2 ? EPOLLEXCLUSIVE : 0);
		ev.data.u32 = (uint32_t)i;
		rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		if (rc < 0 && errno == EINVAL && (ev.events & EPOLLEXCLUSIVE)) {
			ev.events = EPOLLIN;
			rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		}
		if (rc < 0)
			msg_fatal("epoll_ctl listening descriptor %d: %m", fd);
	}

	single_check_exit();
	(void)server_notify(&single_srv, MASTER_STAT_AVAIL);
	idle_ms = (uint64_t)var_max_idle * 1000;
	idle_since = time_mono_ms();
	for (;;) {
		single_check_exit();
		waited = time_mono_ms() - idle_since;
		if (waited >= idle_ms)
			single_exit("idle timeout");
		/* Wake up now and then to look at the tables. */
		timeout = idle_ms - waited;
		if (timeout > SERVER_TABLE_CHECK_SECS * 1000)
			timeout = SERVER_TABLE_CHECK_SECS * 1000;
		n = epoll_wait(ep, ready, nfds, (int)timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("epoll_wait: %m");
		}
		/*
		 * The signal pipe; then one ready endpoint, the first at or
		 * after "next" (round-robin: no endpoint starves another).
		 */
		k = 0;
		dist = nfds;
		for (i = 0; i < n; i++) {
			int idx = (int)ready[i].data.u32, d;

			if (idx == 0) {
				single_drain();
				continue;
			}
			d = (idx - 1 - next + (nfds - 1)) % (nfds - 1);
			if (d < dist) {
				dist = d;
				k = idx;
			}
		}
		/*
		 * A signal that came with a client (a reload retires this
		 * process): leave the client to the new generation.
		 */
		if (k == 0 || single_term || single_hup)
			continue;
		next = k % (nfds - 1);
		if (single_take(server_listen_fd(k - 1)))
			idle_since = time_mono_ms();
	}
}
