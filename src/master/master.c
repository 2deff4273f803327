/*
 * master.c - the resident process that runs every Petrel service
 *
 * usage: master [-c config_dir] [-d] [-w] [-v]
 *	-d	stay in the foreground (make run); logging may go to the
 *		terminal with maillog_file = /dev/stderr
 *	-w	detach, and exit 0 only once the daemon is ready (listening,
 *		lock held), else with the daemon's sysexits status; this is
 *		how `petrel start` runs master (also the default without -d)
 *
 * master reads main.cf and master.cf, takes the queue's pid lock, opens
 * every listening endpoint itself and then starts each service's program
 * on demand (master_ent.c, master_spawn.c). Nothing is started until the
 * whole configuration has been checked and every endpoint is open, so a
 * bad configuration never leaves a half-started instance.
 *
 * Signals: SIGHUP re-reads the configuration (a bad one is logged and the
 * running one kept); SIGTERM and SIGINT stop the children (SIGTERM, then
 * SIGKILL after master_stop_timeout) and exit; SIGQUIT kills the
 * children at once and exits (petrel abort).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "master_lock.h"
#include "msg.h"
#include "params.h"
#include "petrel_config.h"
#include "queue_dirs.h"

struct event_base *master_base;
const char *master_config_dir;
bool master_stopping;

static int master_lock_fd = -1;
static struct event *master_stop_timer;

static _Noreturn void
master_usage(const char *me)
{
	msg_fatal_status(EX_USAGE, "usage: %s [-c config_dir] [-d] [-w] [-v]",
	    me);
}

/* Stop: no more clients; children finish; exit when none is left. */
static void
master_stop_timeout(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	(void)ctx;
	msg_warn("killing %zu processes that did not stop within %ds",
	    master_procs_count(), var_master_stop_timeout);
	master_procs_signal(SIGKILL);
	exit(0);
}

void
master_exit_if_done(void)
{
	if (master_stopping && master_procs_count() == 0) {
		msg_info("stopped");
		exit(0);
	}
}

static void
master_sig_stop(int sig)
{
	struct timeval tv = {.tv_sec = var_master_stop_timeout};

	if (master_stopping)
		return;
	master_stopping = true;
	msg_info("terminating on signal %d", sig);
	master_services_close();
	master_procs_signal(SIGTERM);
	master_stop_timer = evtimer_new(master_base, master_stop_timeout, NULL);
	evtimer_add(master_stop_timer, &tv);
	master_exit_if_done();
}

static void
master_sig_event(evutil_socket_t sig, short what, void *ctx)
{
	int old_limit, rc;

	(void)what;
	(void)ctx;
	switch (sig) {
	case SIGCHLD:
		master_reap();
		master_exit_if_done();
		break;
	case SIGHUP:
		if (master_stopping)
			break;
		/*
		 * Each reload counts its own errors, without msg_error()'s
		 * limit of a dozen: a resident master must survive any
		 * number of bad edits, however many errors each one has.
		 */
		msg_error_reset();
		old_limit = msg_error_limit(0);
		rc = master_config_load(false);
		msg_error_reset();
		(void)msg_error_limit(old_limit);
		if (rc < 0) {
			msg_warn("reload failed: keeping the running "
			    "configuration");
			break;
		}
		/* Logged once the new configuration is in force, so that
		 * whoever waits for this line finds the new services open. */
		msg_info("reload -- version %s, configuration %s",
		    PETREL_VERSION, master_config_dir);
		break;
	case SIGTERM:
	case SIGINT:
		master_sig_stop(sig);
		break;
	case SIGQUIT:
		msg_info("aborting on signal %d", (int)sig);
		master_procs_signal(SIGKILL);
		exit(0);
	}
}

static void
master_signals(void)
{
	static const int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT};
	struct sigaction sa = {.sa_handler = SIG_IGN};
	size_t i;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		msg_fatal("sigaction SIGPIPE: %m");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct event *ev = evsignal_new(master_base, sigs[i],
		    master_sig_event, NULL);

		if (ev == NULL || evsignal_add(ev, NULL) < 0)
			msg_fatal("cannot handle signal %d", sigs[i]);
	}
}

/*
 * Detach from the terminal. The parent waits on a pipe until the daemon
 * writes one byte (ready) or dies (its exit status becomes ours), so that
 * `petrel start` can report a failure with the right status.
 */
static int
master_detach(void)
{
	int ready[2], status;
	pid_t pid;
	char ch;
	ssize_t n;

	if (pipe2(ready, O_CLOEXEC) < 0)
		msg_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid > 0) {
		close(ready[1]);
		while ((n = read(ready[0], &ch, 1)) < 0 && errno == EINTR)
			;
		if (n == 1)
			_exit(0);
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				_exit(EX_SOFTWARE);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE);
	}
	close(ready[0]);
	if (setsid() < 0)
		msg_fatal("setsid: %m");
	return ready[1];
}

static void
master_ready(int ready_fd)
{
	int null;

	if (ready_fd < 0)
		return;
	if ((null = open("/dev/null", O_RDWR)) < 0)
		msg_fatal("open /dev/null: %m");
	/* From now on only the log sinks speak; the terminal is gone. */
	if (log_file_fd() != STDERR_FILENO) {
		log_stderr(false);
		dup2(null, STDERR_FILENO);
	}
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	if (null > STDERR_FILENO)
		close(null);
	if (write(ready_fd, "", 1) != 1)
		msg_warn("cannot tell the parent that we are ready: %m");
	close(ready_fd);
}

void
master_open_log(void)
{
	struct buf name;

	buf_init(&name, 32);
	buf_printf(&name, "%s/master", var_syslog_name);
	log_set_progname(name.data);
	buf_fini(&name);
	if (*var_maillog_file) {
		if (log_file(var_maillog_file) < 0)
			msg_fatal_status(EX_CONFIG, "maillog_file %s: %m",
			    var_maillog_file);
	} else if (log_syslog(var_syslog_facility) < 0) {
		msg_fatal_status(EX_CONFIG, "syslog_facility: bad value \"%s\"",
		    var_syslog_facility);
	}
}

int
main(int argc, char **argv)
{
	bool foreground = false;
	struct queue_ids ids;
	char *config_real;
	int ch, ready_fd = -1;
	pid_t owner = 0;

	log_init("petrel/master");
	while ((ch = getopt(argc, argv, "c:dwv")) != -1) {
		switch (ch) {
		case 'c':
			master_config_dir = optarg;
			break;
		case 'd':
			foreground = true;
			break;
		case 'w':
			foreground = false;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			master_usage(argv[0]);
		}
	}
	if (optind != argc)
		master_usage(argv[0]);
	if (master_config_dir == NULL)
		master_config_dir = conf_default_dir();
	/* Children and reloads must find it after chdir(queue_directory). */
	if ((config_real = realpath(master_config_dir, NULL)) == NULL)
		msg_fatal_status(EX_CONFIG, "config directory %s: %m",
		    master_config_dir);
	master_config_dir = config_real;

	/*
	 * Everything that can be checked without side effects is checked
	 * before we detach, so the errors reach the terminal.
	 */
	if (conf_load(master_config_dir, NULL) < 0)
		exit(EX_CONFIG);
	master_open_log();
	if (chdir(var_queue_directory) < 0)
		msg_fatal_status(EX_CONFIG, "queue_directory %s: %m",
		    var_queue_directory);
	if (queue_ids_resolve(&ids) < 0 || queue_dirs_check(&ids, false,
	    false) > 0)
		msg_fatal_status(EX_CONFIG, "queue directories are missing or "
		    "unusable; run \"petrel -c %s check\"", master_config_dir);
	if (!foreground)
		ready_fd = master_detach();

	master_lock_fd = master_lock_acquire(var_queue_directory, &owner);
	if (master_lock_fd < 0) {
		if (errno == EAGAIN)
			msg_fatal_status(1, "the Petrel mail system is already "
			    "running (pid %ld)", (long)owner);
		msg_fatal_status(EX_CANTCREAT, "open lock file %s/%s: %m",
		    var_queue_directory, MASTER_LOCK_FILE);
	}
	if ((master_base = event_base_new()) == NULL)
		msg_fatal("event_base_new failed");
	master_signals();
	if (master_config_load(true) < 0)
		exit(EX_CONFIG);	/* not reached: start-up errors exit */
	master_ready(ready_fd);
	msg_info("daemon started -- version %s, configuration %s",
	    PETREL_VERSION, master_config_dir);
	event_base_dispatch(master_base);
	msg_fatal("event loop ended unexpectedly");
}
