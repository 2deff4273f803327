/*
 * local_command.c - local: deliver to a command
 *
 * For "|command" destinations and for mailbox_command. The command runs
 * as "/bin/sh -c command" in a child process with all its user and
 * group IDs set to the delivery's rights (never root), in its own
 * process group, in the home directory of those rights (else "/"),
 * umask 077, with descriptors 0 (the message), 1 and 2 (a pipe to us)
 * only, and this environment, as local(8):
 *
 *	HOME USER LOGNAME SHELL		of the rights the command runs with
 *	RECIPIENT LOCAL DOMAIN EXTENSION	the address delivered to
 *	SENDER				the envelope sender
 *	ORIGINAL_RECIPIENT		the queue file recipient
 *	PATH=/usr/bin:/bin, and TZ and LANG when we have them
 *
 * The message is written as local(8) feeds commands: a "From sender
 * date" line, the Return-Path:, X-Original-To: and (per
 * prepend_delivered_header) Delivered-To: headers, then the message as
 * it is (no >From quoting, no empty line added). A command that does
 * not read all of it is not an error: its exit status decides.
 *
 *	exit 0				sent "delivered to command: cmd"
 *	EX_TEMPFAIL (75), EX_OSERR	deferred
 *	other sysexits codes		bounced with the code's text and DSN
 *					(EX_NOUSER: 5.1.1 user unknown ...)
 *	other exit codes		bounced, 5.3.0 "Command died with
 *					status N: "cmd""
 *	killed by a signal		deferred
 *	still running after command_time_limit
 *					its process group is killed;
 *					deferred, "Command time limit
 *					exceeded"
 * The first line of what the command printed (made printable, at most
 * LOCAL_CMD_OUTPUT bytes kept) follows in the reason: ". Command
 * output: ...".
 *
 * SECURITY: the command line comes from an alias table, a .forward or
 * an include file that was allowed to name commands
 * (allow_mail_to_commands, local_expand.c), or from main.cf. The child
 * drops root for good (setgroups, setgid, setuid, and checks it cannot
 * get it back) before exec, and inherits no descriptor of ours: the
 * queue file, the listening sockets and the log are closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "file.h"
#include "local.h"
#include "mbox.h"
#include "msg.h"
#include "params.h"
#include "str.h"
#include "timeutil.h"

/* Command output kept for the reason. */
#define LOCAL_CMD_OUTPUT	2048
/* Bytes written to the command per write(2). */
#define LOCAL_CMD_CHUNK		65536

static const struct {
	int status;
	const char *dsn;
	const char *text;
} local_sysexits[] = {
	{EX_USAGE, "5.3.0", "command line usage error"},
	{EX_DATAERR, "5.6.0", "data format error"},
	{EX_NOINPUT, "5.3.0", "cannot open input"},
	{EX_NOUSER, "5.1.1", "user unknown"},
	{EX_NOHOST, "5.1.2", "host name unknown"},
	{EX_UNAVAILABLE, "5.3.0", "service unavailable"},
	{EX_SOFTWARE, "5.3.0", "internal software error"},
	{EX_OSERR, "4.3.0", "system resource problem"},
	{EX_OSFILE, "5.3.0", "critical OS file missing"},
	{EX_CANTCREAT, "5.2.0", "can't create user output file"},
	{EX_IOERR, "5.3.0", "input/output error"},
	{EX_TEMPFAIL, "4.3.0", "temporary failure"},
	{EX_PROTOCOL, "5.5.0", "remote error in protocol"},
	{EX_NOPERM, "5.7.0", "permission denied"},
	{EX_CONFIG, "5.3.5", "local configuration error"},
};

/* The child: become rights, set up, exec. Never returns. */
static _Noreturn void
local_command_child(const char *command, const struct local_rights *rights,
    int in, int out, char **envp)
{
	struct sigaction sa;
	int sig;

	(void)setsid();
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(EX_OSERR);
	if (close_range(3, ~0U, 0) < 0) {
		long fd, max = sysconf(_SC_OPEN_MAX);

		for (fd = 3; fd < (max > 0 ? max : 1024); fd++)
			(void)close((int)fd);
	}
	if (local_root) {
		/* Our real uid is root's: take it back, then drop it all. */
		if (rights->uid == 0 || rights->gid == 0 || seteuid(0) < 0
		    || setgroups(1, &rights->gid) < 0
		    || setgid(rights->gid) < 0 || setuid(rights->uid) < 0
		    || setuid(0) == 0 || geteuid() == 0 || getuid() == 0)
			_exit(EX_OSERR);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	(void)sigprocmask(SIG_SETMASK, &sa.sa_mask, NULL);
	umask(077);
	if ((rights->home == NULL || chdir(rights->home) < 0)
	    && chdir("/") < 0)
		_exit(EX_OSERR);
	execle("/bin/sh", "sh", "-c", command, (char *)NULL, envp);
	_exit(EX_OSERR);
}

static void
local_command_env(struct argv *env, const char *name, const char *value)
{
	struct buf b;

	buf_init(&b, 64);
	buf_printf(&b, "%s=%s", name, value != NULL ? value : "");
	argv_add(env, b.data);
	buf_fini(&b);
}

/* Keep the start of the command's output, LOCAL_CMD_OUTPUT at most. */
static void
local_command_keep(struct buf *output, const char *data, size_t len)
{
	if (output->len >= LOCAL_CMD_OUTPUT)
		return;
	if (len > LOCAL_CMD_OUTPUT - output->len)
		len = LOCAL_CMD_OUTPUT - output->len;
	buf_append(output, data, len);
}

/* Append the first line of out, printable, to why. */
static void
local_command_output(struct buf *why, const struct buf *out)
{
	const char *p = out->data, *end = out->data + out->len, *nl;

	while (p < end && (*p == '\n' || *p == '\r' || *p == ' '
	    || *p == '\t'))
		p++;
	if (p == end)
		return;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL)
		end = nl;
	while (end > p && (end[-1] == '\r' || end[-1] == ' '
	    || end[-1] == '\t'))
		end--;
	buf_puts(why, ". Command output: ");
	str_printable(why, p, (size_t)(end - p));
}

/*
 * Fill pending with the next piece of input: 1, or 0 at the end (*eof
 * is set once the source is exhausted), or -1 with why.
 */
static int
local_command_fill(struct buf *pending, struct local_src *src,
    struct buf *line, bool *eof, struct buf *why)
{
	int rc;

	while (pending->len < LOCAL_CMD_CHUNK && !*eof) {
		if ((rc = local_msg_next(src, line, why)) < 0)
			return -1;
		if (rc == MBOX_SRC_END) {
			*eof = true;
			break;
		}
		buf_append(pending, line->data, line->len);
		if (rc == MBOX_SRC_LINE)
			buf_putc(pending, '\n');
	}
	return pending->len > 0;
}

void
local_command(struct local_state *st, const char *command,
    const struct local_rights *rights, int hdr_class, const char *to)
{
	struct deliver_request *req = st->dl->req;
	struct argv *env = argv_new();
	struct buf pending, line, output, why;
	struct local_src *src = NULL;
	char **headers, **h;
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	int wfd, rfd, status = 0, rc, fill_rc;
	uint64_t deadline;
	struct pollfd pfd[2];
	nfds_t n;
	bool input_done = false, output_done = false, timed_out = false;
	bool src_failed = false, reaped = false, eof = false;
	const char *value;
	ssize_t got;
	pid_t pid;
	size_t i;
	char chunk[4096];
	time_t now;

	rights = local_privs_safe(rights);
	buf_init(&pending, LOCAL_CMD_CHUNK + 4096);
	buf_init(&line, 256);
	buf_init(&output, 256);
	buf_init(&why, 128);

	local_command_env(env, "HOME", rights->home);
	local_command_env(env, "USER", rights->name);
	local_command_env(env, "LOGNAME", rights->name);
	local_command_env(env, "SHELL", rights->shell);
	local_command_env(env, "RECIPIENT", st->addr);
	local_command_env(env, "LOCAL", st->a.local.data);
	local_command_env(env, "DOMAIN", st->a.domain.data);
	local_command_env(env, "EXTENSION", st->a.ext.data);
	local_command_env(env, "SENDER", local_msg_sender(req));
	local_command_env(env, "ORIGINAL_RECIPIENT",
	    req->rcpts[st->dl->index].addr);
	local_command_env(env, "PATH", "/usr/bin:/bin");
	if ((value = getenv("TZ")) != NULL)
		local_command_env(env, "TZ", value);
	if ((value = getenv("LANG")) != NULL)
		local_command_env(env, "LANG", value);

	/* The From_ line (as mbox.h writes it) and the headers go first. */
	value = local_msg_sender(req);
	buf_puts(&pending, "From ");
	for (value = *value ? value : "MAILER-DAEMON"; *value; value++)
		buf_putc(&pending, (unsigned char)*value <= ' '
		    || (unsigned char)*value == 127 ? '_' : *value);
	buf_putc(&pending, ' ');
	now = time(NULL);
	{
		struct tm tm;
		char date[64];

		if (localtime_r(&now, &tm) != NULL
		    && strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y",
		    &tm) > 0)
			buf_puts(&pending, date);
	}
	buf_putc(&pending, '\n');
	headers = local_msg_headers(st, hdr_class);
	for (h = headers; *h != NULL; h++) {
		buf_puts(&pending, *h);
		buf_putc(&pending, '\n');
	}
	local_msg_headers_free(headers);

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		local_statusf(st, DELIVER_DEFER, to, "4.3.0",
		    "cannot run command: pipe: %s", strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		local_statusf(st, DELIVER_DEFER, to, "4.3.0",
		    "cannot run command: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		local_command_child(command, rights, in[0], out[1], env->argv);
	(void)close(in[0]);
	(void)close(out[1]);
	in[0] = out[1] = -1;
	wfd = in[1];
	rfd = out[0];
	(void)fd_set_nonblock(wfd, true);
	(void)fd_set_nonblock(rfd, true);
	src = local_msg_open(req);
	deadline = time_mono_ms() + (uint64_t)var_command_time_limit * 1000;

	while (!output_done || !input_done) {
		uint64_t now_ms = time_mono_ms();

		if (now_ms >= deadline) {
			timed_out = true;
			break;
		}
		n = 0;
		if (!input_done && pending.len == 0) {
			fill_rc = local_command_fill(&pending, src, &line,
			    &eof, &why);
			if (fill_rc < 0) {
				src_failed = true;
				break;
			}
			if (fill_rc == 0) {
				input_done = true;
				(void)close(wfd);
				wfd = in[1] = -1;
			}
		}
		if (!input_done) {
			pfd[n].fd = wfd;
			pfd[n].events = POLLOUT;
			n++;
		}
		if (!output_done) {
			pfd[n].fd = rfd;
			pfd[n].events = POLLIN;
			n++;
		}
		if (n == 0)
			break;
		rc = poll(pfd, n, (int)(deadline - now_ms > 1000 ? 1000
		    : deadline - now_ms));
		if (rc < 0 && errno != EINTR) {
			msg_warn("poll: %m");
			break;
		}
		if (rc <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == wfd) {
				got = write(wfd, pending.data, pending.len);
				if (got > 0) {
					buf_consume(&pending, (size_t)got);
				} else if (got < 0 && errno != EAGAIN
				    && errno != EINTR) {
					/* EPIPE: it stopped reading. */
					input_done = true;
					(void)close(wfd);
					wfd = in[1] = -1;
				}
			} else {
				got = read(rfd, chunk, sizeof(chunk));
				if (got > 0) {
					local_command_keep(&output, chunk,
					    (size_t)got);
				} else if (got == 0 || (errno != EAGAIN
				    && errno != EINTR)) {
					output_done = true;
				}
			}
		}
	}
	if (wfd >= 0) {
		(void)close(wfd);
		wfd = in[1] = -1;
	}
	/* The command closed its output; wait for its exit in time. */
	while (!timed_out && !src_failed) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid) {
			reaped = true;
			break;
		}
		if (w < 0 && errno != EINTR) {
			msg_warn("waitpid: %m");
			break;
		}
		if (time_mono_ms() >= deadline) {
			timed_out = true;
			break;
		}
		time_sleep_ms(10);
	}
	if (!reaped) {
		/* The command runs as someone else: only root may kill it. */
		local_privs_root();
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		local_privs_leave();
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}

	if (src_failed) {
		msg_warn("%s: %s", req->queue_id, why.data);
		local_statusf(st, DELIVER_DEFER, to, "4.3.0",
		    "cannot read the message: %s", why.data);
	} else if (timed_out) {
		local_statusf(st, DELIVER_DEFER, to, "4.3.0",
		    "Command time limit exceeded: \"%s\"", command);
	} else if (!reaped) {
		local_statusf(st, DELIVER_DEFER, to, "4.3.0",
		    "cannot wait for command: \"%s\"", command);
	} else if (WIFSIGNALED(status)) {
		buf_reset(&why);
		buf_printf(&why, "Command died with signal %d: \"%s\"",
		    WTERMSIG(status), command);
		local_command_output(&why, &output);
		local_status(st, DELIVER_DEFER, to, "4.3.0", why.data);
	} else if (WEXITSTATUS(status) == 0) {
		local_statusf(st, DELIVER_SENT, to, "2.0.0",
		    "delivered to command: %s", command);
	} else {
		const char *dsn = "5.3.0";

		buf_reset(&why);
		for (i = 0; i < sizeof(local_sysexits)
		    / sizeof(local_sysexits[0]); i++)
			if (local_sysexits[i].status == WEXITSTATUS(status))
				break;
		if (i < sizeof(local_sysexits) / sizeof(local_sysexits[0])) {
			dsn = local_sysexits[i].dsn;
			buf_puts(&why, local_sysexits[i].text);
		} else {
			buf_printf(&why, "Command died with status %d: \"%s\"",
			    WEXITSTATUS(status), command);
		}
		local_command_output(&why, &output);
		local_status(st, dsn[0] == '4' ? DELIVER_DEFER : DELIVER_BOUNCE,
		    to, dsn, why.data);
	}

out:
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			(void)close(in[i]);
		if (out[i] >= 0)
			(void)close(out[i]);
	}
	local_msg_close(src);
	argv_free(env);
	buf_fini(&pending);
	buf_fini(&line);
	buf_fini(&output);
	buf_fini(&why);
}
