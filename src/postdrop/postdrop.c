/*
 * postdrop.c - put a locally submitted message into the maildrop queue
 *
 * usage:	postdrop [-c config_dir] [-v] < records
 *
 * sendmail runs postdrop and writes the message to its standard input
 * as queue-file records (rec.h) in the order of a local submission
 * (cleanup_clnt.h: ATTR* FROM (ORCP? NOTIFY? RCPT)+ MESG (NORM|CONT)*
 * XTRA END). postdrop checks every record (cleanup_clnt_check()), copies
 * it to a new file maildrop/ID created with mode 0600, and after END:
 * fsync, fchmod 0744 (owner-execute = complete, see mail_queue.h;
 * readable by others so that pickup, running as mail_owner, can read a
 * file owned by the submitting user: maildrop/ is 1730, so no other user
 * can reach it), then wakes pickup with one 'W' written to
 * public/$pickup_service_name (a fifo, or a unix socket); when that
 * fails it only warns: pickup's wakeup timer finds the file anyway.
 *
 * Nothing half-written stays behind: on malformed input, input that ends
 * before END, a size over message_size_limit, a write error, or SIGHUP,
 * SIGINT, SIGQUIT or SIGTERM (sendmail kills postdrop with SIGTERM to
 * abandon a message) the file is removed before postdrop exits.
 *
 * Privileges: when installed set-gid setgid_group (detected as
 * getegid() != getgid()), postdrop is the one privileged program of a
 * local submission. It then trusts the configuration only from the
 * default directory (DEF_CONFIG_DIR): another directory, from -c or
 * $MAIL_CONFIG, is accepted only when the default main.cf lists it
 * (string equal) in alternate_config_directories, as Postfix does;
 * otherwise it exits with EX_NOPERM. Unprivileged (tests, an instance
 * run by an ordinary user) any directory is used.
 *
 * Exit status (sysexits.h), with a message on stderr:
 *	EX_OK		queued
 *	EX_USAGE	bad options
 *	EX_NOPERM	untrusted configuration directory (set-gid)
 *	EX_CONFIG	main.cf unusable
 *	EX_UNAVAILABLE	queue_directory not reachable
 *	EX_CANTCREAT	the maildrop file cannot be created (permissions)
 *	EX_TEMPFAIL	other errors creating or writing it (disk full ...)
 *	EX_DATAERR	malformed input, input ended before END, or the
 *			message exceeds message_size_limit
 *	EX_IOERR	reading standard input failed
 *
 * SECURITY: postdrop may run set-gid and its input comes from an
 * unprivileged user: every record is length-limited and checked before
 * it is written, only the attributes a user may set are accepted, and
 * the environment does not choose the configuration (see above).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "petrel_config.h"

#include "argv.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "conf.h"
#include "file.h"
#include "log.h"
#include "mail_queue.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "rec.h"
#include "trigger.h"
#include "stream.h"

/* Completed maildrop file: owner-execute, readable by pickup. */
#define POSTDROP_MODE_READY	0744

/*
 * The file to remove on a fatal error or signal. Set (with signals
 * blocked) once the file exists, cleared once it is complete.
 */
static char *postdrop_path;
static volatile sig_atomic_t postdrop_have_file;

static void
postdrop_remove(void)
{
	if (postdrop_have_file) {
		postdrop_have_file = 0;
		(void)unlink(postdrop_path);
	}
}

static void
postdrop_sig(int sig)
{
	(void)sig;
	/* unlink(2) and _exit(2) are async-signal-safe. */
	if (postdrop_have_file)
		(void)unlink(postdrop_path);
	_exit(EX_TEMPFAIL);
}

static const int postdrop_sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};

#define POSTDROP_NSIGS	(sizeof(postdrop_sigs) / sizeof(postdrop_sigs[0]))

static void
postdrop_signals(sigset_t *mask)
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = postdrop_sig;
	sigemptyset(&sa.sa_mask);
	sigemptyset(mask);
	for (i = 0; i < POSTDROP_NSIGS; i++)
		sigaddset(mask, postdrop_sigs[i]);
	sa.sa_mask = *mask;
	for (i = 0; i < POSTDROP_NSIGS; i++)
		if (sigaction(postdrop_sigs[i], &sa, NULL) < 0)
			msg_fatal("sigaction: %m");
	/* A file size limit must become EFBIG, not a core dump. */
	(void)signal(SIGXFSZ, SIG_IGN);
}

static _Noreturn void
postdrop_usage(void)
{
	fputs("usage: postdrop [-c config_dir] [-v]\n", stderr);
	exit(EX_USAGE);
}

/*
 * Set-gid: the configuration directory must be the default one or be
 * listed in the default main.cf's alternate_config_directories.
 */
static void
postdrop_check_dir(const char *dir)
{
	struct argv *dirs;
	size_t i;
	bool ok = false;

	if (strcmp(dir, DEF_CONFIG_DIR) == 0)
		return;
	if (conf_load(DEF_CONFIG_DIR, NULL) < 0)
		msg_fatal_status(EX_NOPERM, "untrusted configuration "
		    "directory \"%s\": cannot read the default configuration "
		    "in %s to check alternate_config_directories", dir,
		    DEF_CONFIG_DIR);
	dirs = argv_split(var_alternate_config_directories, ", \t\r\n");
	for (i = 0; i < dirs->argc && !ok; i++)
		ok = strcmp(dirs->argv[i], dir) == 0;
	argv_free(dirs);
	if (!ok)
		msg_fatal_status(EX_NOPERM, "untrusted configuration "
		    "directory \"%s\": not listed in alternate_config_"
		    "directories in %s/main.cf", dir, DEF_CONFIG_DIR);
}

/* Errors creating or writing the maildrop file: which exit status. */
static int
postdrop_file_status(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
	case ENOENT:
	case ENOTDIR:
	case EROFS:
		return EX_CANTCREAT;
	default:
		return EX_TEMPFAIL;
	}
}

static _Noreturn void
postdrop_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static _Noreturn void
postdrop_fail(int status, const char *fmt, ...)
{
	struct buf text;
	va_list ap;

	postdrop_remove();
	buf_init(&text, 128);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	msg_fatal_status(status, "%s; message not queued", text.data);
}

/* Poke pickup: a fifo or a unix socket; failures are warnings. */
static void
postdrop_trigger(void)
{
	struct buf path;
	char req = TRIGGER_REQ_WAKEUP;

	buf_init(&path, 64);
	buf_printf(&path, "public/%s", var_pickup_service_name);
	if (trigger_send(path.data, &req, 1) < 0)
		msg_warn("cannot wake up pickup: %s: %m", path.data);
	buf_fini(&path);
}

/* Copy and check stdin into the file; returns after END. */
static void
postdrop_copy(struct stream *in, struct stream *out)
{
	struct cleanup_clnt_check chk;
	struct buf data, why;
	int type;

	buf_init(&data, 4096);
	buf_init(&why, 128);
	cleanup_clnt_check_init(&chk, var_message_size_limit);
	for (;;) {
		if ((type = rec_get(in, &data, CLEANUP_CLNT_REC_LIMIT, &why))
		    < 0) {
			if (stream_error(in) == STREAM_ERR_IO)
				postdrop_fail(EX_IOERR, "read standard input: "
				    "%s", why.data);
			if (stream_error(in) == STREAM_ERR_EOF
			    && chk.records == 0)
				postdrop_fail(EX_DATAERR, "no input");
			postdrop_fail(EX_DATAERR, "malformed input after "
			    "record %ld: %s", chk.records, why.data);
		}
		buf_reset(&why);
		switch (cleanup_clnt_check(&chk, type, data.data, data.len,
		    &why)) {
		case CLEANUP_CHECK_BAD:
			postdrop_fail(EX_DATAERR, "malformed input, record "
			    "%ld: %s", chk.records, why.data);
		case CLEANUP_CHECK_SIZE:
			postdrop_fail(EX_DATAERR, "%s", why.data);
		case CLEANUP_CHECK_OK:
		case CLEANUP_CHECK_END:
			break;
		}
		if (rec_put(out, type, data.data, data.len) < 0)
			postdrop_fail(postdrop_file_status(errno),
			    "write %s: %m", postdrop_path);
		if (type == REC_TYPE_END)
			break;
	}
	/* Whatever follows END is not ours to ignore. */
	if (stream_getc(in) >= 0)
		postdrop_fail(EX_DATAERR, "malformed input: data after the "
		    "end record");
	if (stream_error(in) != STREAM_ERR_EOF)
		postdrop_fail(EX_IOERR, "read standard input: %m");
	buf_fini(&data);
	buf_fini(&why);
}

int
main(int argc, char **argv)
{
	struct stream *in, *out;
	struct buf id;
	sigset_t mask, old;
	const char *dir = NULL;
	bool privileged = getegid() != getgid() || geteuid() != getuid();
	int ch, fd;

	log_init("postdrop");
	umask(077);
	opterr = 0;
	while ((ch = getopt(argc, argv, "c:v")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			msg_error("unknown option -%c or missing argument",
			    optopt);
			postdrop_usage();
		}
	}
	if (optind < argc) {
		msg_error("unexpected argument \"%s\"", argv[optind]);
		postdrop_usage();
	}
	if (dir == NULL || *dir == 0)
		dir = conf_default_dir();
	if (privileged)
		postdrop_check_dir(dir);
	if (conf_load(dir, NULL) < 0)
		return EX_CONFIG;
	if (*var_maillog_file != 0)
		(void)log_file(var_maillog_file);
	else
		(void)log_syslog(var_syslog_facility);
	if (chdir(var_queue_directory) < 0)
		msg_fatal_status(EX_UNAVAILABLE, "chdir queue_directory "
		    "\"%s\": %m", var_queue_directory);

	/* No window in which a signal could leave the new file behind. */
	postdrop_signals(&mask);
	msg_cleanup(postdrop_remove);
	buf_init(&id, 32);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
		msg_fatal("sigprocmask: %m");
	if ((fd = mail_queue_enter(MAIL_QUEUE_MAILDROP,
	    MAIL_QUEUE_MODE_WRITING, &id, NULL)) < 0)
		msg_fatal_status(postdrop_file_status(errno), "create a file "
		    "in %s/%s: %m; message not queued", var_queue_directory,
		    MAIL_QUEUE_MAILDROP);
	{
		struct buf path;

		buf_init(&path, 64);
		mail_queue_path(&path, MAIL_QUEUE_MAILDROP, id.data);
		postdrop_path = buf_steal(&path);
	}
	postdrop_have_file = 1;
	if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
		msg_fatal("sigprocmask: %m");

	in = stream_new(STDIN_FILENO);
	out = stream_new(fd);
	postdrop_copy(in, out);
	stream_free(in);
	if (stream_flush(out) < 0)
		postdrop_fail(postdrop_file_status(errno), "write %s: %m",
		    postdrop_path);
	fd = stream_release(out);
	if (fchmod(fd, POSTDROP_MODE_READY) < 0)
		postdrop_fail(EX_TEMPFAIL, "chmod %s: %m", postdrop_path);
	if (file_fsync(fd) < 0)
		postdrop_fail(EX_TEMPFAIL, "fsync %s: %m", postdrop_path);
	if (close(fd) < 0)
		postdrop_fail(EX_TEMPFAIL, "close %s: %m", postdrop_path);
	/* Complete: from now on the file is pickup's. */
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		msg_fatal("sigprocmask: %m");
	postdrop_have_file = 0;
	if (msg_verbose)
		msg_info("queued as %s", postdrop_path);
	postdrop_trigger();
	free(postdrop_path);
	buf_fini(&id);
	return EX_OK;
}
