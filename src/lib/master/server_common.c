/*
 * server_common.c - start-up, privileges and status for the skeletons
 *
 * The three skeletons (single_server.c, multi_server.c, trigger_server.c)
 * call server_start() first thing, then server_enter() around the
 * daemon's pre_init/post_init callbacks, then serve clients, telling
 * master about each one with server_notify(). The steps, in order:
 *
 *	1. options: -c -n -t -s -u -r -o -v; the rest goes to the daemon
 *	2. fd 3 (MASTER_STATUS_FD) must be open: we were started by master
 *	3. main.cf plus -o overrides (an error exits with EX_CONFIG)
 *	4. logging as "<syslog_name>/<program>" to maillog_file or syslog;
 *	   plain stderr is switched off (sinks stay open across chroot)
 *	5. PETREL_GENERATION, the parent-death signal, the listening fds
 *	6. chdir(queue_directory); pre_init; chroot (-r); setuid (-u);
 *	   post_init
 *
 * Start-up errors must reach the mail log: master's stderr, which we
 * inherit, is /dev/null once master has detached, so a child that only
 * said "fatal: ..." there would leave nothing but master's "exit status
 * 78" and "bad command startup -- throttling" to go by. So an error in
 * our options (from master.cf) waits until the log is open, and a
 * configuration that does not load is loaded again for the report: first
 * the log sinks alone, from as much of main.cf and the overrides as can
 * be read (conf_load_some()), then everything, its errors now going to
 * those sinks. The common case, a configuration that loads, costs one
 * load as before; only a failing start pays for the second.
 *
 * Privileges change only when the process runs as root: an instance
 * started by an ordinary user keeps running as that user.
 *
 * server_tables_changed() and server_table_event() give the skeletons
 * one way to notice that a table file changed (dict_changed()).
 *
 * SECURITY: a "pass" connection hands us a descriptor from another local
 * process; server_recv_fd() accepts exactly one and closes any extras.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "dict_proxy.h"
#include "dict.h"
#include "file.h"
#include "log.h"
#include "msg.h"
#include "params.h"
#include "server_common.h"
#include "str.h"
#include "timeutil.h"

#define SERVER_USAGE	"[-c dir] [-n name] [-t type] [-s count] " \
			"[-o name=value] [-u] [-r] [-v] [args...]"

/* Enough listening endpoints for any master.cf line. */
#define SERVER_MAX_LISTEN	1024

/* Cap on how long we wait for a local peer (pass, unix trigger). */
#define SERVER_IPC_TIMEOUT_MAX	10

static const char *const server_type_names[] = {
	[SERVER_TYPE_INET] = "inet",
	[SERVER_TYPE_UNIX] = "unix",
	[SERVER_TYPE_FIFO] = "fifo",
	[SERVER_TYPE_PASS] = "pass",
};

/* The first error in our options, reported once the log is open. */
static char *server_usage_error;

static void __attribute__((format(printf, 1, 2)))
server_usage(const char *fmt, ...)
{
	struct buf text;
	va_list ap;

	if (server_usage_error != NULL)
		return;
	buf_init(&text, 64);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	server_usage_error = buf_steal(&text);
	buf_fini(&text);
}

int
master_notify(uint32_t gen, enum master_stat status)
{
	struct master_status st = {
		.pid = (int32_t)getpid(),
		.gen = gen,
		.status = (int32_t)status,
	};
	ssize_t n;

	/* Smaller than PIPE_BUF: the write is all or nothing. */
	do {
		n = write(MASTER_STATUS_FD, &st, sizeof(st));
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(st) ? 0 : -1;
}

int
server_notify(struct server *srv, enum master_stat status)
{
	if (srv->master_gone)
		return -1;
	if (master_notify(srv->gen, status) < 0) {
		msg_warn("master status pipe: %m; exiting when idle");
		srv->master_gone = true;
		return -1;
	}
	return 0;
}

static void
server_parse_type(struct server *srv, const char *name, unsigned allowed)
{
	size_t i;

	for (i = 0; i < sizeof(server_type_names) / sizeof(*server_type_names);
	    i++) {
		if (strcmp(name, server_type_names[i]) == 0) {
			if ((allowed & SERVER_TYPE_BIT(i)) == 0)
				server_usage("service type \"%s\" is not "
				    "supported by %s", name, srv->progname);
			srv->type = (enum server_type)i;
			return;
		}
	}
	server_usage("bad service type \"%s\" (expected inet, unix, fifo or "
	    "pass)", name);
}

/*
 * getopt with a leading "+": stop at the first argument that is not an
 * option, as master.cf arguments such as "argv=/bin/cmd -x" must reach
 * the daemon untouched; ":" lets us word the errors ourselves.
 */
static void
server_parse_args(struct server *srv, int argc, char **argv,
    unsigned allowed, const char **config_dir, struct argv *overrides)
{
	const char *type = "unix";
	int ch;

	opterr = 0;
	optind = 1;
	while ((ch = getopt(argc, argv, "+:c:n:o:rs:t:uv")) != -1) {
		switch (ch) {
		case 'c':
			*config_dir = optarg;
			break;
		case 'n':
			srv->service = optarg;
			break;
		case 'o':
			argv_add(overrides, optarg);
			break;
		case 'r':
			srv->chroot = true;
			break;
		case 's':
			if (str_to_int(optarg, &srv->listen_count) < 0
			    || srv->listen_count < 1
			    || srv->listen_count > SERVER_MAX_LISTEN) {
				server_usage("bad -s value \"%s\" (expected "
				    "1..%d)", optarg, SERVER_MAX_LISTEN);
				srv->listen_count = 1;
			}
			break;
		case 't':
			type = optarg;
			break;
		case 'u':
			srv->unprivileged = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		case ':':
			server_usage("option -%c needs an argument; usage: "
			    "%s %s", optopt, srv->progname, SERVER_USAGE);
			break;
		default:
			server_usage("unknown option -%c; usage: %s %s",
			    optopt, srv->progname, SERVER_USAGE);
			break;
		}
	}
	server_parse_type(srv, type, allowed);
	srv->argv = argv + optind;
}

/*
 * Final program name, then maillog_file or syslog as the parameters say.
 * Returns 0, or -1 with why set.
 */
static int
server_log_sinks(const struct server *srv, struct buf *why)
{
	struct buf name;

	buf_init(&name, 64);
	buf_printf(&name, "%s/%s", var_syslog_name, srv->progname);
	/* Before log_syslog(): openlog() keeps a pointer to the name. */
	log_set_progname(buf_str(&name));
	buf_fini(&name);
	if (var_maillog_file != NULL && *var_maillog_file != 0) {
		if (log_file(var_maillog_file) < 0) {
			buf_printf(why, "open maillog_file \"%s\": %s",
			    var_maillog_file, strerror(errno));
			return -1;
		}
	} else if (log_syslog(var_syslog_facility) < 0) {
		buf_printf(why, "bad syslog_facility \"%s\"",
		    var_syslog_facility);
		return -1;
	}
	return 0;
}

/* After configuration: the sinks that it names, and nothing else. */
static void
server_open_log(const struct server *srv)
{
	struct buf why;

	buf_init(&why, 64);
	if (server_log_sinks(srv, &why) < 0) {
		log_stderr(true);	/* nowhere else to say it */
		msg_fatal_status(EX_CONFIG, "%s", why.data);
	}
	buf_fini(&why);
	/*
	 * Master's stderr is /dev/null or a terminal; everything goes to
	 * the sink just opened. (maillog_file = /dev/stderr is that sink.)
	 */
	log_stderr(false);
}

/*
 * conf_load() failed with plain stderr off: open the log sinks that
 * main.cf and the overrides name, as far as they can be read (stderr
 * when even that fails), and load again so that the errors go there.
 * Returns only when the second load succeeds (main.cf was repaired in
 * between).
 */
static void
server_conf_retry(const struct server *srv, const char *config_dir,
    const struct argv *overrides)
{
	static const char *const log_params[] = {
		"syslog_name", "syslog_facility", "maillog_file", NULL,
	};
	struct buf why;

	buf_init(&why, 64);
	/*
	 * main.cf unreadable: the built-in log settings (syslog), and
	 * stderr too, for whoever runs master in the foreground.
	 */
	if (conf_load_some(config_dir, overrides, log_params) < 0)
		log_stderr(true);
	if (server_log_sinks(srv, &why) < 0)
		log_stderr(true);
	/* The same errors again; do not let them count twice. */
	msg_error_reset();
	if (conf_load(config_dir, overrides) == 0) {
		buf_fini(&why);
		return;
	}
	if (why.len > 0)
		msg_warn("%s", why.data);
	msg_fatal_status(EX_CONFIG, "cannot load the configuration from %s",
	    config_dir ? config_dir : conf_default_dir());
}

/*
 * Master gone? Our parent changed, or nobody reads the status pipe any
 * more (a pipe's write end reports POLLERR, a socket POLLHUP). We do not
 * take a parent of 1 alone as proof: master may be init in a container.
 */
static bool
server_master_gone(pid_t ppid)
{
	struct pollfd pfd = {.fd = MASTER_STATUS_FD, .events = POLLOUT};

	if (getppid() != ppid)
		return true;
	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLERR | POLLHUP)))
		return true;
	return false;
}

/* Die with master. Changing credentials clears this: call it again. */
static void
server_arm_deathsig(pid_t ppid)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		msg_fatal("prctl(PR_SET_PDEATHSIG): %m");
	if (server_master_gone(ppid)) {
		if (msg_verbose)
			msg_info("master is gone; exiting");
		exit(0);
	}
}

void
server_start(struct server *srv, int argc, char **argv,
    const char *progname, unsigned allowed_types)
{
	const char *config_dir = NULL;
	struct argv *overrides;
	const char *gen;
	unsigned long gen_val;
	int i, fd, error_limit;

	memset(srv, 0, sizeof(*srv));
	srv->progname = progname;
	srv->service = progname;
	srv->listen_count = 1;

	/* Plain stderr until main.cf names our sinks. */
	log_init(progname);
	/* A peer that hangs up must be an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);

	overrides = argv_new();
	server_parse_args(srv, argc, argv, allowed_types, &config_dir,
	    overrides);

	/* Someone typed the command: say so on the terminal. */
	if (fcntl(MASTER_STATUS_FD, F_GETFD) < 0)
		msg_fatal_status(EX_USAGE, "%s", server_usage_error
		    ? server_usage_error : "must be run by master");

	/*
	 * Quiet until the log is open: see the top of this file. However
	 * many errors main.cf has, none may end the process before they
	 * reach the log (msg_error's limit), so the limit waits too.
	 */
	log_stderr(false);
	error_limit = msg_error_limit(0);
	if (conf_load(config_dir, overrides) < 0)
		server_conf_retry(srv, config_dir, overrides);
	msg_error_reset();
	(void)msg_error_limit(error_limit);
	argv_free(overrides);
	/* Table types that live above lib/dict (proxy:). */
	mail_dict_init();
	server_open_log(srv);
	if (server_usage_error != NULL)
		msg_fatal_status(EX_USAGE, "%s", server_usage_error);

	gen = getenv(MASTER_GEN_ENV);
	if (gen == NULL || str_to_ulong(gen, &gen_val) < 0
	    || gen_val > UINT32_MAX)
		msg_fatal_status(EX_USAGE, "bad or missing %s environment "
		    "variable; must be run by master", MASTER_GEN_ENV);
	srv->gen = (uint32_t)gen_val;

	/* Our descriptors must not leak into commands that we run. */
	if (fd_set_cloexec(MASTER_STATUS_FD, true) < 0)
		msg_fatal("status descriptor: %m");
	for (i = 0; i < srv->listen_count; i++) {
		fd = server_listen_fd(i);
		/*
		 * Non-blocking: all children of a service wait on the same
		 * socket, and the one that loses the race must not hang in
		 * accept() or read().
		 */
		if (fcntl(fd, F_GETFD) < 0)
			msg_fatal_status(EX_USAGE, "listening descriptor %d "
			    "is not open (-s %d)", fd, srv->listen_count);
		if (fd_set_nonblock(fd, true) < 0
		    || fd_set_cloexec(fd, true) < 0)
			msg_fatal("listening descriptor %d: %m", fd);
	}

	server_arm_deathsig(getppid());

	if (chdir(var_queue_directory) < 0)
		msg_fatal_status(EX_CONFIG, "chdir queue_directory \"%s\": %m",
		    var_queue_directory);
	if (msg_verbose)
		msg_info("service %s type %s generation %u: starting",
		    srv->service, server_type_names[srv->type], srv->gen);
}

void
server_enter(struct server *srv, server_init_fn pre_init,
    server_init_fn post_init)
{
	bool root = getuid() == 0;
	bool drop = root && srv->unprivileged;
	uid_t uid = 0;
	gid_t gid = 0;
	pid_t ppid = getppid();

	/* Look up the user while /etc/passwd is still in sight. */
	if (drop) {
		struct passwd *pw;

		errno = 0;
		if ((pw = getpwnam(var_mail_owner)) == NULL) {
			if (errno != 0)
				msg_fatal_status(EX_CONFIG, "look up "
				    "mail_owner \"%s\": %m", var_mail_owner);
			msg_fatal_status(EX_CONFIG, "mail_owner: unknown user "
			    "\"%s\"", var_mail_owner);
		}
		if (pw->pw_uid == 0)
			msg_fatal_status(EX_CONFIG, "mail_owner \"%s\" must "
			    "not be a privileged user", var_mail_owner);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}

	if (pre_init != NULL)
		pre_init(srv->service, srv->argv);

	if (root && srv->chroot) {
		if (chroot(var_queue_directory) < 0)
			msg_fatal_status(EX_CONFIG, "chroot \"%s\": %m",
			    var_queue_directory);
		if (chdir("/") < 0)
			msg_fatal("chdir \"/\" after chroot: %m");
	}
	if (drop) {
		if (setgroups(1, &gid) < 0)
			msg_fatal("setgroups(%ld): %m", (long)gid);
		if (setgid(gid) < 0)
			msg_fatal("setgid(%ld): %m", (long)gid);
		if (setuid(uid) < 0)
			msg_fatal("setuid(%ld): %m", (long)uid);
		/* Trust, but verify: there must be no way back. */
		if (setuid(0) == 0 || getuid() != uid || geteuid() != uid
		    || getgid() != gid || getegid() != gid)
			msg_fatal("privilege drop to \"%s\" failed",
			    var_mail_owner);
		server_arm_deathsig(ppid);
	}

	if (post_init != NULL)
		post_init(srv->service, srv->argv);
}

int
server_ipc_timeout_ms(void)
{
	int secs = var_ipc_timeout;

	if (secs > SERVER_IPC_TIMEOUT_MAX || secs < 1)
		secs = SERVER_IPC_TIMEOUT_MAX;
	return secs * 1000;
}

int
server_accept(int listen_fd, int flags)
{
	int fd;

	fd = accept4(listen_fd, NULL, NULL, flags | SOCK_CLOEXEC);
	if (fd >= 0)
		return fd;
	switch (errno) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM:		/* firewall verdict on Linux */
		/* Lost the race to a sibling, or the client went away. */
		break;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		/*
		 * The connection stays queued and the socket stays
		 * readable: pause rather than spin at full CPU.
		 */
		msg_warn("accept connection: %m; pausing one second");
		time_sleep_ms(1000);
		break;
	default:
		msg_warn("accept connection: %m");
		break;
	}
	return -1;
}

int
server_recv_fd(int conn)
{
	/* Room for a few descriptors, so that extras can be closed. */
	union {
		struct cmsghdr hdr;
		char space[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;
	char byte;
	ssize_t n;
	int fd = -1;
	int got, i, *fds;

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.space;
	msg.msg_controllen = sizeof(ctl.space);
	do {
		n = recvmsg(conn, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		msg_warn("receive passed descriptor: %m");
		return -1;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS
		    || cm->cmsg_len < CMSG_LEN(0))
			continue;
		got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		fds = (int *)(void *)CMSG_DATA(cm);
		for (i = 0; i < got; i++) {
			if (fd < 0)
				fd = fds[i];
			else
				(void)close(fds[i]);	/* unasked-for */
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		msg_warn("receive passed descriptor: control data truncated");
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	if (fd < 0) {
		msg_warn("receive passed descriptor: %s", n == 0
		    ? "peer closed the connection" : "no descriptor sent");
		return -1;
	}
	/* Same as an accepted socket: blocking, whatever the sender set. */
	if (fd_set_nonblock(fd, false) < 0) {
		msg_warn("passed descriptor: %m");
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * The watchdog fires only when the daemon is stuck, so the process is
 * in an unknown state: re-arm a short alarm with the default action
 * first, so that if logging itself hangs (a lock held by the code that
 * was interrupted) the process still dies.
 */
static void
server_watchdog_alarm(int sig)
{
	(void)sig;
	signal(SIGALRM, SIG_DFL);
	alarm(5);
	msg_fatal("watchdog timeout after %d seconds", var_daemon_timeout);
}

void
server_watchdog_pat(void)
{
	static bool installed;

	if (!installed) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = server_watchdog_alarm;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGALRM, &sa, NULL) < 0)
			msg_fatal("sigaction(SIGALRM): %m");
		installed = true;
	}
	alarm((unsigned)var_daemon_timeout);
}

void
server_watchdog_stop(void)
{
	alarm(0);
}

static void
server_watchdog_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	server_watchdog_pat();
}

void
server_watchdog_event(struct event_base *base)
{
	struct event *ev;
	/* Twice per period: a live loop never lets the alarm go off. */
	long ms = (long)var_daemon_timeout * 500;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};

	ev = event_new(base, -1, EV_PERSIST, server_watchdog_tick, NULL);
	if (ev == NULL || event_add(ev, &tv) < 0)
		msg_fatal("cannot create the watchdog timer event");
	server_watchdog_pat();
}

bool
server_tables_changed(void)
{
	static bool changed;

	/* Latched: dict_changed() logs each time it finds a change. */
	if (!changed)
		changed = dict_changed();
	return changed;
}

static void (*server_table_changed_fn)(void);

static void
server_table_tick(evutil_socket_t fd, short what, void *arg)
{
	struct event *ev = arg;

	(void)fd;
	(void)what;
	if (server_tables_changed()) {
		event_del(ev);
		server_table_changed_fn();
	}
}

void
server_table_event(struct event_base *base, void (*changed)(void))
{
	struct timeval tv = {.tv_sec = SERVER_TABLE_CHECK_SECS};
	struct event *ev;

	server_table_changed_fn = changed;
	ev = event_new(base, -1, EV_PERSIST, server_table_tick,
	    event_self_cbarg());
	if (ev == NULL || event_add(ev, &tv) < 0)
		msg_fatal("cannot create the table check timer event");
}

void
server_exit(server_exit_fn pre_exit, int status)
{
	if (pre_exit != NULL)
		pre_exit();
	exit(status);
}
