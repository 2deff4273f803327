/*
 * server_common.h - what the three daemon skeletons share (internal)
 *
 * server_start() does everything that happens before the daemon's
 * pre_init callback: the command line, main.cf with -o overrides,
 * logging, the descriptor layout from master, the service generation,
 * the parent-death signal and the working directory.
 * server_enter() then runs pre_init, chroots, drops privileges and runs
 * post_init. The skeleton serves clients in between server_enter() and
 * server_exit(), telling master with server_notify() and keeping the
 * watchdog (server_watchdog_*) fed.
 *
 * Only src/lib/master/ includes this header; daemons see server.h.
 */
#ifndef PETREL_SERVER_COMMON_H
#define PETREL_SERVER_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "master_proto.h"
#include "server.h"

enum server_type {
	SERVER_TYPE_INET,
	SERVER_TYPE_UNIX,
	SERVER_TYPE_FIFO,
	SERVER_TYPE_PASS,
};

/* Which -t types a skeleton accepts (bit 1 << enum server_type). */
#define SERVER_TYPE_BIT(t)	(1u << (t))
#define SERVER_CONNECTED	(SERVER_TYPE_BIT(SERVER_TYPE_INET) \
				| SERVER_TYPE_BIT(SERVER_TYPE_UNIX))

struct server {
	const char *progname;	/* spec name, e.g. "smtpd" */
	const char *service;	/* -n, default progname */
	enum server_type type;	/* -t, default unix */
	int listen_count;	/* -s, default 1 */
	bool unprivileged;	/* -u */
	bool chroot;		/* -r */
	char **argv;		/* arguments after the options */
	uint32_t gen;		/* PETREL_GENERATION */
	bool master_gone;	/* a status write failed */
};

/*
 * Parse the command line, load main.cf, open the log sinks, check the
 * descriptors master passes, read the generation, arm the parent-death
 * signal and chdir to queue_directory. Types outside allowed_types are
 * fatal (EX_USAGE). Never returns on error. Errors in the options and
 * in the configuration are reported in the log that main.cf names
 * (as far as it can be read), not only on master's stderr.
 */
void server_start(struct server *srv, int argc, char **argv,
    const char *progname, unsigned allowed_types);
/*
 * pre_init, chroot (-r, as root), drop privileges (-u, as root),
 * post_init. Either callback may be NULL.
 */
void server_enter(struct server *srv, server_init_fn pre_init,
    server_init_fn post_init);
/* The descriptor of listening endpoint i (0 <= i < listen_count). */
static inline int
server_listen_fd(int i)
{
	return MASTER_LISTEN_FD + i;
}
/*
 * Tell master about our state. A failed write means master is gone:
 * srv->master_gone is set (the skeleton then exits when idle) and -1
 * is returned.
 */
int server_notify(struct server *srv, enum master_stat status);
/*
 * Receive the real client descriptor that a "pass" connection carries
 * (one byte plus SCM_RIGHTS). Does not block: call it when conn is
 * readable. Returns the descriptor (blocking, close-on-exec), or -1
 * after logging a warning (also when the peer sent no descriptor).
 */
int server_recv_fd(int conn);
/* Timeout for reading from a local peer, in ms (ipc_timeout, <= 10 s). */
int server_ipc_timeout_ms(void);
/*
 * accept4() on a non-blocking listening socket with the given SOCK_*
 * flags (SOCK_CLOEXEC is always added). Returns the new descriptor, or
 * -1 when there is nothing to take (another process won the race, the
 * client went away) or after logging a real error.
 */
int server_accept(int listen_fd, int flags);

/*
 * The watchdog: a daemon that makes no progress for daemon_timeout
 * seconds is killed. pat() (re)arms it; stop() disarms it.
 */
void server_watchdog_pat(void);
void server_watchdog_stop(void);
/* For libevent skeletons: pat the watchdog while the loop runs. */
void server_watchdog_event(struct event_base *base);

/*
 * Table change detection. A daemon keeps the tables it opened for its
 * whole life; when a table's file is replaced or modified on disk, the
 * process must be replaced too. server_tables_changed() is true once
 * dict_changed() was (which logs "table X has changed -- restarting"),
 * and stays true. The skeletons ask it after each client or request and
 * every SERVER_TABLE_CHECK_SECS while they wait; then they stop taking
 * clients and exit once idle, as for SIGHUP, and master starts a fresh
 * process on the next client.
 */
#define SERVER_TABLE_CHECK_SECS	10
bool server_tables_changed(void);
/*
 * For libevent skeletons: check every SERVER_TABLE_CHECK_SECS and call
 * changed() once, when server_tables_changed() becomes true.
 */
void server_table_event(struct event_base *base, void (*changed)(void));

/* Run pre_exit (when set) and exit with status. */
_Noreturn void server_exit(server_exit_fn pre_exit, int status);

/*
 * Event priorities of the event-driven skeletons: a signal is handled
 * before any other event that is ready at the same time. After a
 * reload master sends SIGHUP to the old children and at once a wakeup
 * (or a client) to the service; the old child must stop accepting
 * before it looks at its listening socket, so that the connection is
 * left to the new generation master starts for it.
 */
#define SERVER_PRIOS		2
#define SERVER_PRIO_SIGNAL	0	/* the rest get the default, 1 */

#endif
