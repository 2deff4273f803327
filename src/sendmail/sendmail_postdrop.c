/*
 * sendmail_postdrop.c - run postdrop and write a submission's records
 *
 * Each message sendmail submits goes to its own postdrop process:
 *
 *	sm_drop_start(quiet, &why);
 *	sm_drop_attr(...); sm_drop_put(REC_TYPE_FROM, ...); ...
 *	status = sm_drop_finish(&lost);	(postdrop's exit status)
 *
 * or sm_drop_abort() to give up half-way (postdrop removes its file).
 * Every record is first checked with cleanup_clnt_check(), the rules of
 * a local submission that postdrop and pickup check again, which also
 * counts the message against message_size_limit. Records are buffered
 * and written to a non-blocking pipe, so a full buffer goes out at once.
 *
 * The callers decide what a failure means: the default mode exits,
 * -bs answers the SMTP client and goes on with the next message.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup_clnt.h"
#include "file.h"
#include "msg.h"
#include "params.h"
#include "rec.h"
#include "stream.h"

#include "sendmail.h"

static pid_t sm_drop_pid = -1;
static struct stream *sm_drop_out;	/* NULL once closed or lost */
static bool sm_drop_failed;		/* a write failed */
static struct cleanup_clnt_check sm_drop_check;

int
sm_drop_start(bool quiet_stdout, struct buf *why)
{
	struct buf path;
	int fds[2];
	pid_t pid;

	if (sm_drop_pid >= 0)
		msg_panic("sm_drop_start: postdrop %ld is still running",
		    (long)sm_drop_pid);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		buf_printf(why, "pipe: %s", strerror(errno));
		return EX_OSERR;
	}
	/* Non-blocking: the stream then writes its whole buffer at once. */
	if (fd_set_nonblock(fds[1], true) < 0) {
		buf_printf(why, "pipe: %s", strerror(errno));
		(void)close(fds[0]);
		(void)close(fds[1]);
		return EX_OSERR;
	}
	buf_init(&path, 128);
	buf_printf(&path, "%s/postdrop", var_command_directory);
	fflush(NULL);
	if ((pid = fork()) < 0) {
		buf_printf(why, "fork: %s", strerror(errno));
		(void)close(fds[0]);
		(void)close(fds[1]);
		buf_fini(&path);
		return EX_OSERR;
	}
	if (pid == 0) {
		if (dup2(fds[0], STDIN_FILENO) < 0
		    || (quiet_stdout && dup2(STDERR_FILENO, STDOUT_FILENO) < 0))
			msg_fatal_status(EX_OSERR, "dup2: %m");
		if (setenv("MAIL_CONFIG", var_config_directory, 1) < 0)
			msg_fatal_status(EX_OSERR, "setenv: %m");
		execl(path.data, "postdrop", "-c", var_config_directory,
		    msg_verbose ? "-v" : (char *)NULL, (char *)NULL);
		msg_fatal_status(EX_UNAVAILABLE, "execute %s: %m", path.data);
	}
	(void)close(fds[0]);
	buf_fini(&path);
	sm_drop_pid = pid;
	sm_drop_failed = false;
	sm_drop_out = stream_new(fds[1]);
	cleanup_clnt_check_init(&sm_drop_check, var_message_size_limit);
	return 0;
}

enum sm_drop_result
sm_drop_put(int type, const void *data, size_t len, struct buf *why)
{
	if (sm_drop_out == NULL)
		msg_panic("sm_drop_put: no postdrop");
	if (sm_drop_failed)
		return SM_DROP_LOST;
	switch (cleanup_clnt_check(&sm_drop_check, type, data, len, why)) {
	case CLEANUP_CHECK_SIZE:
		return SM_DROP_SIZE;
	case CLEANUP_CHECK_BAD:
		return SM_DROP_BAD;
	case CLEANUP_CHECK_OK:
	case CLEANUP_CHECK_END:
		break;
	}
	if (rec_put(sm_drop_out, type, data, len) < 0) {
		sm_drop_failed = true;
		return SM_DROP_LOST;
	}
	return SM_DROP_OK;
}

enum sm_drop_result
sm_drop_attr(const char *name, const char *value, struct buf *why)
{
	enum sm_drop_result res;
	struct buf rec;

	if (value == NULL)
		return SM_DROP_OK;
	buf_init(&rec, 64);
	buf_printf(&rec, "%s=%s", name, value);
	res = sm_drop_put(REC_TYPE_ATTR, rec.data, rec.len, why);
	buf_fini(&rec);
	return res;
}

/* Wait for postdrop; its exit status, as ours. */
static int
sm_drop_wait(void)
{
	int status;

	if (sm_drop_pid < 0)
		return EX_SOFTWARE;
	while (waitpid(sm_drop_pid, &status, 0) < 0) {
		if (errno != EINTR) {
			msg_error("wait for postdrop: %m");
			sm_drop_pid = -1;
			return EX_SOFTWARE;
		}
	}
	sm_drop_pid = -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	msg_error("postdrop was killed by signal %d; message not queued",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return EX_SOFTWARE;
}

int
sm_drop_finish(bool *lost)
{
	if (sm_drop_out != NULL) {
		if (!sm_drop_failed && stream_flush(sm_drop_out) < 0)
			sm_drop_failed = true;
		if (close(stream_release(sm_drop_out)) < 0)
			sm_drop_failed = true;
		sm_drop_out = NULL;
	}
	*lost = sm_drop_failed;
	return sm_drop_wait();
}

void
sm_drop_abort(void)
{
	int status;

	if (sm_drop_pid < 0)
		return;
	/* postdrop removes its unfinished file on SIGTERM. */
	(void)kill(sm_drop_pid, SIGTERM);
	if (sm_drop_out != NULL) {
		(void)close(stream_release(sm_drop_out));
		sm_drop_out = NULL;
	}
	while (waitpid(sm_drop_pid, &status, 0) < 0 && errno == EINTR)
		;
	sm_drop_pid = -1;
}
