/*
 * sendmail.h - the parts of the sendmail command
 *
 * sendmail.c parses the options and runs one mode. The default mode
 * (sendmail_deliver.c) reads one message from standard input; -bs
 * (sendmail_smtp.c) reads any number of them in an SMTP session on
 * standard input and output, with smtp_syntax.c (in the global
 * library, shared with smtpd) checking what the client sends. Both hand
 * each message to a postdrop process through sendmail_postdrop.c, as
 * the records of a local submission (cleanup_clnt.h), so pickup and
 * cleanup treat them alike.
 */
#ifndef PETREL_SENDMAIL_H
#define PETREL_SENDMAIL_H

#include <stdbool.h>
#include <stddef.h>

struct argv;
struct buf;

enum sm_mode {
	SM_MODE_DELIVER,
	SM_MODE_NEWALIASES,
	SM_MODE_MAILQ,
	SM_MODE_FLUSH,
	SM_MODE_SMTP,
	SM_MODE_VERIFY,
};

struct sm_opts {
	enum sm_mode mode;
	const char *config_dir;
	const char *sender;		/* NULL: login name */
	const char *full_name;
	const char *ret;		/* "full", "hdrs" or NULL */
	const char *body_type;		/* "7BIT", "8BITMIME" or NULL */
	char *envid;			/* decoded, or NULL */
	int notify;			/* DSN_NOTIFY_* bits, 0: none */
	bool extract;			/* -t */
	bool dot_ends;			/* no -i */
	struct argv *rcpts;		/* command line, then extracted */
};

/* ---- sendmail_deliver.c -------------------------------------------------- */

/*
 * The default mode: read the message from standard input (-t, -i as
 * opts says), queue it with the given envelope sender, and return
 * postdrop's exit status. Every problem is fatal (after killing
 * postdrop) with the exit status sendmail.c documents.
 */
int sm_deliver(struct sm_opts *opts, const char *sender);

/* ---- sendmail_smtp.c ----------------------------------------------------- */

/*
 * -bs: an SMTP session on standard input and output, each message
 * queued through its own postdrop. Returns the exit status: EX_OK when
 * the session ended normally, EX_TEMPFAIL after a 421 (timeout, end of
 * input in the middle of a transaction), EX_IOERR when reading standard
 * input or writing standard output failed.
 */
int sm_smtp(const struct sm_opts *opts);

/* ---- sendmail_postdrop.c ------------------------------------------------- */

enum sm_drop_result {
	SM_DROP_OK,		/* record written (or buffered) */
	SM_DROP_SIZE,		/* message_size_limit exceeded: why says so */
	SM_DROP_BAD,		/* records out of order: our bug, why says */
	SM_DROP_LOST,		/* postdrop went away */
};

/*
 * Start "$command_directory/postdrop -c $config_directory" (with
 * MAIL_CONFIG set) reading from a pipe; one postdrop at a time. With
 * quiet_stdout, postdrop's standard output goes to our standard error
 * (-bs: standard output is the SMTP channel). Returns 0, or a
 * sysexits.h code with why set (pipe or fork failed); a postdrop that
 * cannot be executed exits EX_UNAVAILABLE after its message.
 */
int sm_drop_start(bool quiet_stdout, struct buf *why);
/*
 * Check one record of the submission (cleanup_clnt_check(), which also
 * counts message_size_limit) and write it. After a result other than
 * SM_DROP_OK the caller calls sm_drop_abort() or sm_drop_finish().
 */
enum sm_drop_result sm_drop_put(int type, const void *data, size_t len,
    struct buf *why);
/* An attribute record "name=value"; nothing when value is NULL. */
enum sm_drop_result sm_drop_attr(const char *name, const char *value,
    struct buf *why);
/*
 * Flush and close postdrop's input, wait for it and return its exit
 * status (EX_SOFTWARE, after an error message, when a signal killed it).
 * *lost is set when postdrop went away before it had all the input.
 */
int sm_drop_finish(bool *lost);
/*
 * Give up on the message: kill postdrop with SIGTERM (it removes its
 * unfinished file) and wait for it. Does nothing without a postdrop.
 */
void sm_drop_abort(void);

#endif
