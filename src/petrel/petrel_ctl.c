/*
 * petrel_ctl.c - petrel start, stop, abort, reload, status
 *
 * The running master is whoever holds the lock on
 * $queue_directory/pid/master.pid (master_lock.h); its pid comes from the
 * lock itself, so a stale pid file never misleads us.
 *
 *	start	run every `petrel check` test (creating missing queue
 *		directories), refuse when master already runs, then run
 *		"$daemon_directory/master -c dir -w" and wait for it: master
 *		-w returns only once the daemon is ready (exit 0) or has
 *		failed (its sysexits status, after master printed why), and
 *		petrel start exits with that status. The environment is
 *		passed on unchanged.
 *	stop	SIGTERM to master, then wait until the lock is free (at
 *		most master_stop_timeout + 10 seconds).
 *	abort	the same with SIGQUIT: master kills its children at once.
 *	reload	the configuration checks of start; then SIGHUP to master.
 *		A bad configuration leaves master alone.
 *	status	exit 0 when master runs, else 1.
 *
 * Exit status 1 means "not running", "already running", or a master
 * that could not be signalled or did not stop in time; a configuration
 * that cannot be loaded is EX_CONFIG and nothing is started or signalled.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "master_lock.h"
#include "mastercf.h"
#include "msg.h"
#include "params.h"
#include "petrel.h"

#define PETREL_POLL_NS		(50 * 1000 * 1000)	/* 50 ms */
#define PETREL_STOP_GRACE	10	/* seconds beyond master_stop_timeout */

/*
 * Load main.cf for commands that only need to find master. An
 * administrator must be able to stop or inspect a running system after a
 * bad edit of main.cf: when the file does not load, its errors are
 * reported and what can be read of queue_directory is used anyway.
 */
static void
petrel_ctl_load(const char *dir)
{
	static const char *const names[] = {"queue_directory", NULL};

	if (conf_load(dir, NULL) == 0)
		return;
	log_stderr(false);		/* conf_load told the errors already */
	if (conf_load_some(dir, NULL, names) != 1)
		exit(EX_CONFIG);
	log_stderr(true);
	msg_warn("%s/main.cf has errors; using queue_directory = %s",
	    dir ? dir : conf_default_dir(), var_queue_directory);
}

/* master's pid, or 0 when it does not run. */
static pid_t
petrel_master_pid(void)
{
	pid_t owner = master_lock_owner(var_queue_directory);

	if (owner < 0)
		msg_fatal_status(1, "%s/%s: cannot check the master lock: %m",
		    var_queue_directory, MASTER_LOCK_FILE);
	return owner;
}

static double
petrel_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t
petrel_running_master(void)
{
	pid_t owner = petrel_master_pid();

	if (owner == 0)
		msg_fatal_status(1, "the Petrel mail system is not running");
	return owner;
}

static void
petrel_signal(pid_t owner, int sig)
{
	/* ESRCH: it went away meanwhile, which is what stop wants anyway. */
	if (kill(owner, sig) < 0 && errno != ESRCH)
		msg_fatal_status(1, "cannot signal the master process "
		    "(pid %ld): %m", (long)owner);
}

/* Wait until the lock is free, polling; 1 on timeout. */
static int
petrel_wait_stopped(pid_t owner)
{
	const struct timespec pause = {.tv_sec = 0, .tv_nsec = PETREL_POLL_NS};
	int limit = var_master_stop_timeout + PETREL_STOP_GRACE;
	double deadline = petrel_now() + limit;

	while (petrel_master_pid() != 0) {
		if (petrel_now() >= deadline) {
			msg_error("the Petrel mail system (pid %ld) did not "
			    "stop within %d seconds", (long)owner, limit);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

static int
petrel_stop_with(const char *dir, int sig, const char *what)
{
	pid_t owner;

	petrel_ctl_load(dir);
	owner = petrel_running_master();
	petrel_signal(owner, sig);
	msg_info("%s the Petrel mail system", what);
	return petrel_wait_stopped(owner);
}

int
petrel_stop(const char *dir)
{
	return petrel_stop_with(dir, SIGTERM, "stopping");
}

int
petrel_abort(const char *dir)
{
	return petrel_stop_with(dir, SIGQUIT, "aborting");
}

int
petrel_status(const char *dir)
{
	pid_t owner;

	petrel_ctl_load(dir);
	if ((owner = petrel_master_pid()) == 0) {
		msg_info("the Petrel mail system is not running");
		return 1;
	}
	msg_info("the Petrel mail system is running: PID: %ld", (long)owner);
	return 0;
}

int
petrel_reload(const char *dir)
{
	struct mastercf *cf;

	if ((cf = petrel_config_check(dir)) == NULL)
		msg_fatal_status(EX_CONFIG, "not reloading: configuration "
		    "errors");
	mastercf_free(cf);
	petrel_signal(petrel_running_master(), SIGHUP);
	msg_info("refreshing the Petrel mail system");
	return 0;
}

int
petrel_start(const char *dir)
{
	struct argv *args;
	struct buf path;
	pid_t owner, pid;
	int status, i;

	if (petrel_check_all(dir, false) > 0)
		return EX_CONFIG;
	if ((owner = petrel_master_pid()) > 0)
		msg_fatal_status(1, "the Petrel mail system is already running "
		    "(pid %ld)", (long)owner);

	buf_init(&path, 128);
	buf_printf(&path, "%s/master", var_daemon_directory);
	args = argv_new();
	argv_add(args, path.data);
	argv_add(args, "-c");
	argv_add(args, dir);
	argv_add(args, "-w");
	for (i = 0; i < msg_verbose; i++)
		argv_add(args, "-v");
	if (msg_verbose)
		msg_info("running %s", path.data);

	switch (pid = fork()) {
	case -1:
		msg_fatal_status(EX_OSERR, "fork: %m");
	case 0:
		execv(path.data, args->argv);
		msg_error("cannot execute %s: %m", path.data);
		_exit(EX_OSERR);
	default:
		break;
	}
	argv_free(args);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			msg_fatal_status(EX_OSERR, "waitpid: %m");
	}
	if (WIFSIGNALED(status))
		msg_fatal_status(EX_SOFTWARE, "%s: killed by signal %d",
		    path.data, WTERMSIG(status));
	buf_fini(&path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
}
