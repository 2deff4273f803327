/*
 * sendmail.c - Sendmail-compatible submission, mailq and newaliases
 *
 * usage:	sendmail [options] [recipient ...] < message
 *		sendmail -bs [-C config]	(SMTP on standard input)
 *		mailq		(as sendmail -bp)
 *		newaliases	(as sendmail -bi)
 *
 * Mail clients, cron and scripts hand a message to the mail system by
 * piping it into sendmail. sendmail reads the message from standard
 * input as it arrives, never all of it into memory, turns it into
 * records (rec.h: one NORM per line, CRLF and bare CR line endings
 * becoming plain line ends, lines longer than line_length_limit split
 * into CONT pieces) and writes them, behind the envelope, into the
 * standard input of "$command_directory/postdrop -c <config_dir>"
 * (MAIL_CONFIG set too), which puts the message into maildrop/ for
 * pickup. The record sequence is a local submission (cleanup_clnt.h);
 * sendmail runs cleanup_clnt_check() on its own output, which also
 * counts the size against message_size_limit. This file parses the
 * options and runs the mode; sendmail_deliver.c reads the message,
 * sendmail_smtp.c is -bs (with smtp_syntax.c), sendmail_postdrop.c
 * runs postdrop.
 *
 * Options (Sendmail's; those marked "ignored" are accepted for
 * compatibility and have no effect):
 *	-bm	deliver mail (default)
 *	-bi, -I	rebuild the alias databases (newaliases)
 *	-bp	list the queue (mailq): runs `petrel queue -p`
 *	-bs	SMTP on standard input and output, as Postfix's stand-alone
 *		smtpd (sendmail_smtp.c): any number of messages, each
 *		queued through its own postdrop; the envelope comes from
 *		MAIL FROM and RCPT TO, so -f, -F, -N, -R, -V, -B, -t, -i
 *		and recipient arguments (a warning) do not apply
 *	-bv	verify recipients: not available yet, EX_UNAVAILABLE
 *	-bX	other modes: EX_USAGE
 *	-q...	process the queue: runs `petrel queue -f`
 *	-B type	body type 7BIT or 8BITMIME (any case)
 *	-C path	configuration file or directory (a file: its directory)
 *	-c dir	configuration directory (as every Petrel command; Sendmail
 *		and Postfix ignore -c)
 *	-F name	sender full name (else $NAME); no control characters,
 *		at most 1024 bytes
 *	-f addr	envelope sender (also -r); "" or "<>" is the null sender;
 *		default: the login name of the real user ID, unqualified
 *	-i, -oi	a line with a single "." does not end the message; without
 *		it such a line ends the input (the rest is ignored)
 *	-N dsn	DSN notification: never, or a list of success, delay,
 *		failure (a NOTIFY record before every recipient)
 *	-R ret	DSN return: full or hdrs
 *	-t	also take recipients from the To:, Cc: and Bcc: headers, or,
 *		when the message has any Resent-* header, from Resent-To:,
 *		Resent-Cc: and Resent-Bcc: instead; Bcc: and Resent-Bcc:
 *		headers are removed. The header block is held in memory for
 *		this and may not exceed header_size_limit bytes.
 *	-V id	DSN envelope ID, in xtext (RFC 3461), at most 100
 *		characters once decoded; stored decoded
 *	-v	verbose (postdrop reports the queue file)
 *	-o...	other -o options, -e x, -G, -h n, -L x, -m, -n, -O x, -p x,
 *		-U, -X x, -x: ignored
 * Each recipient argument is an address list (addr_list.h): "a, b" is
 * two recipients.
 *
 * Exit status (sysexits.h):
 *	EX_OK		queued (in maildrop/, pickup's job from now on);
 *			-bs: the session ended with QUIT or at the end of
 *			input between transactions (each message's fate
 *			was in its reply)
 *	EX_USAGE	bad option or value; "no recipients specified"
 *	EX_CONFIG	main.cf unusable
 *	EX_DATAERR	"message size exceeds message_size_limit (N
 *			bytes)", or with -t "message header exceeds
 *			header_size_limit (N bytes)": nothing is queued
 *	EX_TEMPFAIL	-bs: the session ended with 421 (smtpd_timeout, or
 *			the end of input in the middle of a transaction;
 *			the unfinished message is not queued)
 *	EX_IOERR	reading standard input failed (-bs: or writing
 *			standard output)
 *	EX_OSERR	no login name for the real user ID, or pipe or
 *			fork failed
 *	EX_UNAVAILABLE	postdrop cannot be run; modes not available yet
 *	EX_SOFTWARE	postdrop died of a signal, or an internal error
 *	other		postdrop's own status (EX_TEMPFAIL, EX_CANTCREAT,
 *			EX_NOPERM ...), after postdrop's message; with -bs
 *			a failing postdrop is a 451 reply to that message
 * When sendmail gives up on a message it kills postdrop with SIGTERM,
 * which removes its unfinished file: nothing half-written is queued.
 *
 * SECURITY: sendmail runs with the user's privileges only; postdrop and
 * pickup check everything it writes. Header values are parsed with
 * bounded memory (header_size_limit) and work; -bs treats its input as
 * hostile (sendmail_smtp.c).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr_list.h"
#include "argv.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "conf.h"
#include "file.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "smtp_syntax.h"
#include "str.h"

#include "sendmail.h"

/* ---- options ------------------------------------------------------------- */

static _Noreturn void
sm_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t] [-i] [-f sender] [-F full_name] "
	    "[-N dsn] [-R full|hdrs] [-V envid] [-B 7BIT|8BITMIME] "
	    "[-C config] [-c config_dir] [-v] [recipient ...]\n", prog);
	exit(EX_USAGE);
}

/* -V: an acceptable envelope ID in xtext; NULL when it is not. */
static char *
sm_opt_envid(const char *text)
{
	struct buf out;

	buf_init(&out, strlen(text) + 1);
	if (smtp_xtext_decode(text, &out) == 0
	    && cleanup_clnt_attr_ok(MAIL_ATTR_ENVID, out.data))
		return buf_steal(&out);
	buf_fini(&out);
	return NULL;
}

/* -C: a main.cf file (its directory is used) or a directory. */
static const char *
sm_config_arg(const char *arg)
{
	struct stat st;
	struct buf dir;

	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		return arg;
	buf_init(&dir, 64);
	file_dirname(&dir, arg);
	return buf_steal(&dir);
}

/* -b mode */
static void
sm_opt_b(struct sm_opts *opts, const char *arg)
{
	if (strcmp(arg, "m") == 0)
		opts->mode = SM_MODE_DELIVER;
	else if (strcmp(arg, "i") == 0)
		opts->mode = SM_MODE_NEWALIASES;
	else if (strcmp(arg, "p") == 0)
		opts->mode = SM_MODE_MAILQ;
	else if (strcmp(arg, "s") == 0)
		opts->mode = SM_MODE_SMTP;
	else if (strcmp(arg, "v") == 0)
		opts->mode = SM_MODE_VERIFY;
	else
		msg_fatal_status(EX_USAGE, "unsupported option -b%s", arg);
}

/* -f, -r: "" and "<>" are the null sender, else one address. */
static const char *
sm_opt_sender(const char *arg)
{
	struct argv *av;
	char *sender;

	if (*arg == 0 || strcmp(arg, "<>") == 0)
		return "";
	av = argv_new();
	if (addr_list_parse(av, arg, strlen(arg), 2) != 1
	    || strlen(av->argv[0]) > CLEANUP_CLNT_ADDR_LIMIT)
		msg_fatal_status(EX_USAGE, "-f: bad sender address \"%s\"",
		    arg);
	sender = xstrdup(av->argv[0]);
	argv_free(av);
	return sender;
}

static void
sm_options(struct sm_opts *opts, int argc, char **argv, const char *prog)
{
	static const char optstring[] =
	    "+B:C:F:GIL:N:O:R:UV:X:b:c:e:f:h:imno:p:q::r:tvx";
	char *copy;
	int ch;

	opterr = 0;
	while ((ch = getopt(argc, argv, optstring)) != -1) {
		switch (ch) {
		case 'B':
			if (str_case_eq(optarg, "7BIT"))
				opts->body_type = "7BIT";
			else if (str_case_eq(optarg, "8BITMIME"))
				opts->body_type = "8BITMIME";
			else
				msg_fatal_status(EX_USAGE, "-B: bad body type "
				    "\"%s\" (expected 7BIT or 8BITMIME)",
				    optarg);
			break;
		case 'C':
			opts->config_dir = sm_config_arg(optarg);
			break;
		case 'c':
			opts->config_dir = optarg;
			break;
		case 'F':
			if (!cleanup_clnt_attr_ok(MAIL_ATTR_FULL_NAME, optarg))
				msg_fatal_status(EX_USAGE, "-F: bad full name "
				    "(control characters, or longer than %d "
				    "bytes)", CLEANUP_CLNT_NAME_LIMIT);
			opts->full_name = optarg;
			break;
		case 'I':
			opts->mode = SM_MODE_NEWALIASES;
			break;
		case 'N':
			if ((opts->notify = cleanup_clnt_notify_parse(optarg))
			    < 0)
				msg_fatal_status(EX_USAGE, "-N: bad DSN "
				    "notification \"%s\" (expected never, or "
				    "success, delay, failure separated by "
				    "commas)", optarg);
			break;
		case 'R':
			if (str_case_eq(optarg, "full"))
				opts->ret = "full";
			else if (str_case_eq(optarg, "hdrs"))
				opts->ret = "hdrs";
			else
				msg_fatal_status(EX_USAGE, "-R: bad DSN return "
				    "\"%s\" (expected full or hdrs)", optarg);
			break;
		case 'V':
			free(opts->envid);
			if ((opts->envid = sm_opt_envid(optarg)) == NULL)
				msg_fatal_status(EX_USAGE, "-V: bad envelope "
				    "ID \"%s\" (expected xtext of at most %d "
				    "characters)", optarg,
				    CLEANUP_CLNT_ENVID_LIMIT);
			break;
		case 'b':
			sm_opt_b(opts, optarg);
			break;
		case 'f':
		case 'r':
			opts->sender = sm_opt_sender(optarg);
			break;
		case 'i':
			opts->dot_ends = false;
			break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				opts->dot_ends = false;
			break;
		case 'q':
			opts->mode = SM_MODE_FLUSH;
			break;
		case 't':
			opts->extract = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'G':
		case 'L':
		case 'O':
		case 'U':
		case 'X':
		case 'e':
		case 'h':
		case 'm':
		case 'n':
		case 'p':
		case 'x':
			break;
		default:
			if (optopt != ':' && optopt != 0
			    && strchr(optstring + 1, optopt) != NULL)
				msg_error("option -%c requires an argument",
				    optopt);
			else
				msg_error("unknown option -%c", optopt);
			sm_usage(prog);
		}
	}
	/* Each argument is an address list. */
	for (; optind < argc; optind++) {
		copy = argv[optind];
		if (addr_list_parse(opts->rcpts, copy, strlen(copy), SIZE_MAX)
		    == 0)
			msg_warn("no address in recipient argument \"%s\"",
			    copy);
	}
}

static const char *
sm_login_name(void)
{
	struct passwd *pw;
	uid_t uid = getuid();

	errno = 0;
	if ((pw = getpwuid(uid)) == NULL)
		msg_fatal_status(EX_OSERR, "no login name for user ID %lu",
		    (unsigned long)uid);
	return xstrdup(pw->pw_name);
}

/*
 * mailq (-bp) and -q are the jobs of `petrel queue -p` and `-f`, which
 * talk to showq and qmgr, and -bi (newaliases) is `petrel alias`: run it
 * with our configuration directory and pass its exit status on. (So
 * sendmail itself needs no lookup tables, which keeps its start cheap.)
 */
static _Noreturn int
sm_petrel(const struct sm_opts *opts, const char *command,
    const char *option)
{
	struct buf path;

	if (conf_load(opts->config_dir, NULL) < 0)
		exit(EX_CONFIG);
	buf_init(&path, 64);
	buf_printf(&path, "%s/petrel", var_command_directory);
	execl(path.data, "petrel", "-c", var_config_directory, command,
	    option, (char *)NULL);
	msg_fatal_status(EX_UNAVAILABLE, "execute %s: %m", path.data);
}

int
main(int argc, char **argv)
{
	struct sm_opts opts = {
		.mode = SM_MODE_DELIVER,
		.dot_ends = true,
	};
	const char *prog, *sender, *name;
	char *copy;
	size_t i;

	copy = xstrdup(argc > 0 && argv[0] != NULL ? argv[0] : "sendmail");
	prog = xstrdup(basename(copy));
	free(copy);
	log_init(prog);
	if (strcmp(prog, "mailq") == 0)
		opts.mode = SM_MODE_MAILQ;
	else if (strcmp(prog, "newaliases") == 0)
		opts.mode = SM_MODE_NEWALIASES;
	opts.rcpts = argv_new();
	/* A signal from a dying postdrop must not kill us mid-report. */
	(void)signal(SIGPIPE, SIG_IGN);
	sm_options(&opts, argc, argv, prog);

	switch (opts.mode) {
	case SM_MODE_MAILQ:
		return sm_petrel(&opts, "queue", "-p");
	case SM_MODE_FLUSH:
		return sm_petrel(&opts, "queue", "-f");
	case SM_MODE_SMTP:
		if (conf_load(opts.config_dir, NULL) < 0)
			return EX_CONFIG;
		if (*var_maillog_file != 0)
			(void)log_file(var_maillog_file);
		if (opts.rcpts->argc > 0)
			msg_warn("-bs: ignoring the recipient arguments");
		return sm_smtp(&opts);
	case SM_MODE_VERIFY:
		msg_fatal_status(EX_UNAVAILABLE, "address verification (-bv) "
		    "is not available yet");
	case SM_MODE_NEWALIASES:
		return sm_petrel(&opts, "alias", NULL);
	case SM_MODE_DELIVER:
		break;
	}

	if (conf_load(opts.config_dir, NULL) < 0)
		return EX_CONFIG;
	if (*var_maillog_file != 0)
		(void)log_file(var_maillog_file);
	if (!opts.extract && opts.rcpts->argc == 0)
		msg_fatal_status(EX_USAGE, "no recipients specified");
	for (i = 0; i < opts.rcpts->argc; i++)
		if (strlen(opts.rcpts->argv[i]) > CLEANUP_CLNT_ADDR_LIMIT)
			msg_fatal_status(EX_USAGE, "recipient address longer "
			    "than %d bytes", CLEANUP_CLNT_ADDR_LIMIT);
	sender = opts.sender != NULL ? opts.sender : sm_login_name();
	if (opts.full_name == NULL && (name = getenv("NAME")) != NULL
	    && *name != 0 && cleanup_clnt_attr_ok(MAIL_ATTR_FULL_NAME, name))
		opts.full_name = name;
	return sm_deliver(&opts, sender);
}
