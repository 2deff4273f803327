/*
 * master_spawn.c - start, retire, signal and reap children
 *
 * master_spawn() prepares argv and the environment, forks, and in the
 * child arranges the descriptors of master_proto.h before exec. The
 * environment is rebuilt from import_environment ("NAME" copies master's
 * value, "NAME=value" sets one), so nothing else leaks into daemons.
 *
 * master_reap() collects exited children. An abnormal exit is logged; a
 * child that died before it took a single client ("bad command
 * startup") throttles its service for service_throttle_time, so that a
 * broken program is not restarted in a tight loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "master.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "str.h"

extern char **environ;

struct master_proc *master_procs;

static struct argv *
master_spawn_env(const struct master_serv *serv)
{
	struct argv *env = argv_new();
	struct argv *names = argv_split(var_import_environment, ", \t\r\n");
	struct buf item;
	size_t i, len;
	char **ep;

	buf_init(&item, 64);
	for (i = 0; i < names->argc; i++) {
		const char *name = names->argv[i];

		if (strchr(name, '=')) {
			argv_add(env, name);
			continue;
		}
		len = strlen(name);
		for (ep = environ; *ep; ep++) {
			if (strncmp(*ep, name, len) == 0 && (*ep)[len] == '=') {
				argv_add(env, *ep);
				break;
			}
		}
	}
	buf_printf(&item, "MAIL_CONFIG=%s", master_config_dir);
	argv_add(env, item.data);
	buf_reset(&item);
	buf_printf(&item, "%s=%u", MASTER_GEN_ENV, (unsigned)serv->gen);
	argv_add(env, item.data);
	buf_fini(&item);
	argv_free(names);
	return env;
}

static struct argv *
master_spawn_args(const struct master_serv *serv)
{
	const struct master_ent *ent = serv->ent;
	struct argv *args = argv_new();
	struct buf num;
	size_t i;
	int v;

	buf_init(&num, 16);
	buf_printf(&num, "%zu", serv->listen_count);
	argv_add(args, serv->path);
	argv_add(args, "-c");
	argv_add(args, master_config_dir);
	argv_add(args, "-n");
	argv_add(args, ent->service);
	argv_add(args, "-t");
	argv_add(args, master_type_name(ent->type));
	argv_add(args, "-s");
	argv_add(args, num.data);
	if (ent->unpriv)
		argv_add(args, "-u");
	if (ent->chroot)
		argv_add(args, "-r");
	for (v = 0; v < msg_verbose; v++)
		argv_add(args, "-v");
	for (i = 0; i < ent->overrides->argc; i++) {
		argv_add(args, "-o");
		argv_add(args, ent->overrides->argv[i]);
	}
	for (i = 0; i < ent->args->argc; i++)
		argv_add(args, ent->args->argv[i]);
	buf_fini(&num);
	return args;
}

/*
 * In the child, between fork and exec: only async-signal-safe calls.
 * Move the descriptors out of the way first, so that placing them at
 * 3, 4, ... cannot clobber one that is still to be moved.
 */
static _Noreturn void
master_spawn_child(const struct master_serv *serv, char **args, char **env)
{
	int high = MASTER_LISTEN_FD + (int)serv->listen_count + 16;
	int fds[1 + 64], count, i, null;
	sigset_t none;

	count = 1 + (int)serv->listen_count;
	if (count > (int)(sizeof(fds) / sizeof(fds[0])))
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	fds[0] = fcntl(serv->status_fds[1], F_DUPFD_CLOEXEC, high);
	for (i = 1; i < count; i++)
		fds[i] = fcntl(serv->listen_fds[i - 1], F_DUPFD_CLOEXEC, high);
	for (i = 0; i < count; i++)
		if (fds[i] < 0 || dup2(fds[i], MASTER_STATUS_FD + i) < 0)
			_exit(127);
	if ((null = open("/dev/null", O_RDWR)) < 0
	    || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		_exit(127);
	/* Everything above the layout goes (close_range: Linux 5.9+). */
	if (close_range(MASTER_STATUS_FD + count, ~0U, 0) < 0) {
		for (i = MASTER_STATUS_FD + count; i < high + count + 1; i++)
			close(i);
	}
	execve(args[0], args, env);
	_exit(127);
}

void
master_spawn(struct master_serv *serv)
{
	struct master_proc *proc;
	struct argv *args, *env;
	pid_t pid;

	args = master_spawn_args(serv);
	env = master_spawn_env(serv);
	pid = fork();
	if (pid == 0)
		master_spawn_child(serv, args->argv, env->argv);
	argv_free(args);
	argv_free(env);
	if (pid < 0) {
		msg_warn("fork: %m");
		master_serv_throttle(serv);
		return;
	}
	if (msg_verbose)
		msg_info("spawn: %s pid %ld", serv->path, (long)pid);
	proc = xcalloc(1, sizeof(*proc));
	proc->pid = pid;
	proc->serv = serv;
	proc->gen = serv->gen;
	proc->avail = true;		/* until it says it took a client */
	proc->next = master_procs;
	master_procs = proc;
	serv->total_proc++;
	serv->avail_proc++;
	serv->proc_count++;
	serv->used = true;
	master_serv_update(serv);
}

void
master_procs_retire(struct master_serv *serv)
{
	struct master_proc *proc;

	serv->gen++;
	serv->total_proc = serv->avail_proc = 0;
	for (proc = master_procs; proc; proc = proc->next) {
		if (proc->serv == serv && !proc->stale) {
			proc->stale = true;
			if (kill(proc->pid, SIGHUP) < 0 && errno != ESRCH)
				msg_warn("kill %ld: %m", (long)proc->pid);
		}
	}
}

void
master_procs_signal(int sig)
{
	struct master_proc *proc;

	for (proc = master_procs; proc; proc = proc->next)
		if (kill(proc->pid, sig) < 0 && errno != ESRCH)
			msg_warn("kill %ld: %m", (long)proc->pid);
}

size_t
master_procs_count(void)
{
	struct master_proc *proc;
	size_t count = 0;

	for (proc = master_procs; proc; proc = proc->next)
		count++;
	return count;
}

static void
master_reap_one(struct master_proc *proc, int status)
{
	struct master_serv *serv = proc->serv;
	bool normal = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	master_status_drain(serv);
	if (!normal && !master_stopping) {
		if (WIFSIGNALED(status))
			msg_warn("process %s pid %ld killed by signal %d",
			    serv->path, (long)proc->pid, WTERMSIG(status));
		else
			msg_warn("process %s pid %ld exit status %d",
			    serv->path, (long)proc->pid, WEXITSTATUS(status));
	}
	serv->proc_count--;
	if (!proc->stale) {
		serv->total_proc--;
		if (proc->avail)
			serv->avail_proc--;
		if (!normal && proc->use_count == 0 && !master_stopping)
			master_serv_throttle(serv);
	}
	free(proc);
	master_serv_release(serv);
}

void
master_reap(void)
{
	struct master_proc **pp, *proc;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (pp = &master_procs; (proc = *pp) != NULL; pp = &proc->next)
			if (proc->pid == pid)
				break;
		if (proc == NULL) {
			msg_warn("reaped unknown process %ld", (long)pid);
			continue;
		}
		*pp = proc->next;
		master_reap_one(proc, status);
	}
}
