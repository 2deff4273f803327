/*
 * petrel_cat.c - `petrel cat` (Postfix's postcat): show queue files
 *
 * usage: petrel cat [-c dir] [-bdehoqv] [file|ID ...]
 *
 * Prints each queue file in readable form, checking it as qmgr would
 * (qfile.h) and printing records as they pass the checks:
 *
 *	*** ENVELOPE RECORDS name ***
 *	message_size:             224              95               2 ...
 *	message_arrival_time: Tue Nov 14 22:13:20 2023
 *	named_attribute: log_ident=sendmail
 *	sender: joe@example.com
 *	original_recipient: ..., dsn_notify_flags: ..., recipient: ...,
 *	done_recipient: ...
 *	*** MESSAGE CONTENTS name ***
 *	the message lines (a long line split into records is printed whole)
 *	*** HEADER EXTRACTED name ***
 *	return_receipt: ..., errors_to: ..., warning_time: <time>
 *	*** MESSAGE FILE END name ***
 *
 *	-e	Envelope records (and the section lines above).
 *	-h	Header lines: the content up to, not including, the first
 *		empty line.
 *	-b	Body: the content from the first empty line on.
 *		Without -e, -h or -b: all three; "-bh" is the message alone.
 *	-o	Prefix each record with its offset in the file.
 *	-d	Prefix each record with its decimal type.
 *	-q	The arguments are queue IDs, searched for in incoming, active,
 *		deferred, hold, corrupt, maildrop and saved (after loading
 *		main.cf, in queue_directory); name is then "queue/[hash/]ID".
 *		Without -q they are file names; no argument: standard input
 *		(a pipe is fine).
 *	-c dir, -v	as everywhere.
 * A file in a directory named maildrop (or found there with -q) is read
 * as postdrop writes it: without a size record.
 *
 * A corrupt file is printed as far as it is valid, then the reason goes
 * to stderr ("petrel: error: NAME: corrupt queue file: offset 70:
 * expected sender record, found recipient record"), and the next file
 * follows. Exit status: 0; else that of the first problem: EX_DATAERR
 * (65) corrupt file, EX_NOINPUT (66) no such file or queue ID, EX_IOERR
 * (74) read or write error, EX_USAGE (64), EX_CONFIG (78).
 *
 * SECURITY: queue files are untrusted; every record is checked by
 * qfile_walk() before it is printed. Records are printed as they are
 * (like postcat), so the output can hold any byte a message holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "mail_queue.h"
#include "msg.h"
#include "params.h"
#include "petrel.h"
#include "qfile.h"
#include "queue_id.h"
#include "rec.h"

#define CAT_ENV		(1 << 0)	/* -e */
#define CAT_HDR		(1 << 1)	/* -h */
#define CAT_BODY	(1 << 2)	/* -b */
#define CAT_OFFSET	(1 << 3)	/* -o */
#define CAT_DECIMAL	(1 << 4)	/* -d */

/* The callback's stop value when stdout fails. */
#define CAT_WRITE_ERROR	(-100)

/* Where -q looks, in this order (as postcat). */
static const char *const cat_queues[] = {
	MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED,
	MAIL_QUEUE_HOLD, MAIL_QUEUE_CORRUPT, MAIL_QUEUE_MAILDROP,
	MAIL_QUEUE_SAVED,
};

struct cat_state {
	const char *name;
	int flags;
	bool in_body;		/* the first empty line was seen */
	bool line_start;	/* the next content record starts a line */
	bool line_open;		/* part of a line was printed */
};

static void
cat_prefix(const struct cat_state *st, const struct qfile_rec *rec)
{
	if (st->flags & CAT_OFFSET)
		printf("%9lld ", (long long)rec->offset);
	if (st->flags & CAT_DECIMAL)
		printf("%3d ", rec->type);
}

/* A time as ctime(3) shows it, without the newline. */
static void
cat_time(const char *label, time_t when)
{
	char text[64];
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL
	    || strftime(text, sizeof(text), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		printf("%s: %lld\n", label, (long long)when);
	else
		printf("%s: %s\n", label, text);
}

static void
cat_envelope(const struct cat_state *st, const struct qfile_rec *rec)
{
	struct timeval tv;
	long val;

	cat_prefix(st, rec);
	switch (rec->type) {
	case REC_TYPE_SIZE:
		printf("message_size: %s\n", rec->data);
		break;
	case REC_TYPE_TIME:
		(void)qfile_parse_time(rec->data, rec->len, &tv);
		cat_time("message_arrival_time", tv.tv_sec);
		break;
	case REC_TYPE_WARN:
		/* Checked by qfile: decimal, perhaps right-aligned. */
		val = strtol(rec->data, NULL, 10);
		cat_time(rec_type_name(rec->type), (time_t)val);
		break;
	default:
		printf("%s: %s\n", rec_type_name(rec->type), rec->data);
		break;
	}
}

/* One content record: part of a header line or of the body. */
static void
cat_content(struct cat_state *st, const struct qfile_rec *rec)
{
	bool show;

	if (st->line_start && !st->in_body && rec->type == REC_TYPE_NORM
	    && rec->len == 0)
		st->in_body = true;
	show = (st->flags & (st->in_body ? CAT_BODY : CAT_HDR)) != 0;
	if (show) {
		if (st->line_start)
			cat_prefix(st, rec);
		fwrite(rec->data, 1, rec->len, stdout);
		if (rec->type == REC_TYPE_NORM)
			putchar('\n');
		st->line_open = rec->type == REC_TYPE_CONT;
	}
	st->line_start = rec->type == REC_TYPE_NORM;
}

static void
cat_banner(const struct cat_state *st, const struct qfile_rec *rec,
    const char *what)
{
	if (st->flags & CAT_ENV) {
		cat_prefix(st, rec);
		printf("*** %s %s ***\n", what, st->name);
	}
}

static int
cat_record(void *ctx, const struct qfile_rec *rec)
{
	struct cat_state *st = ctx;

	switch (rec->type) {
	case REC_TYPE_MESG:
		cat_banner(st, rec, "MESSAGE CONTENTS");
		st->line_start = true;
		break;
	case REC_TYPE_NORM:
	case REC_TYPE_CONT:
		cat_content(st, rec);
		break;
	case REC_TYPE_XTRA:
		cat_banner(st, rec, "HEADER EXTRACTED");
		break;
	case REC_TYPE_END:
		cat_banner(st, rec, "MESSAGE FILE END");
		break;
	default:
		if (st->flags & CAT_ENV)
			cat_envelope(st, rec);
		break;
	}
	return ferror(stdout) ? CAT_WRITE_ERROR : 0;
}

static int
cat_write_error(void)
{
	msg_error("write standard output: %s", strerror(errno));
	return EX_IOERR;
}

/* Print the file open on fd; the exit status for it. */
static int
cat_fd(int fd, const char *name, bool maildrop, int flags)
{
	struct cat_state st = {.name = name, .flags = flags};
	struct buf why;
	int rc, status = 0;

	if (flags & CAT_ENV)
		printf("*** ENVELOPE RECORDS %s ***\n", name);
	buf_init(&why, 128);
	rc = qfile_walk(fd, maildrop ? QFILE_FLAG_MAILDROP : QFILE_FLAG_NONE,
	    cat_record, &st, &why);
	if (rc != QFILE_OK && rc != CAT_WRITE_ERROR && st.line_open)
		putchar('\n');
	/* What was printed comes before the complaint. */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		status = cat_write_error();
	} else if (rc == QFILE_CORRUPT) {
		msg_error("%s: corrupt queue file: %s", name, why.data);
		status = EX_DATAERR;
	} else if (rc != QFILE_OK) {
		msg_error("%s: %s", name, why.data);
		status = EX_IOERR;
	}
	buf_fini(&why);
	/* Each file is a job of its own: no "too many errors" across them. */
	msg_error_reset();
	return status;
}

/* True for ".../maildrop/NAME" and "maildrop/NAME". */
static bool
cat_in_maildrop(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = strlen(MAIL_QUEUE_MAILDROP);
	const char *dir;

	if (slash == NULL || (size_t)(slash - path) < len)
		return false;
	dir = slash - len;
	return strncmp(dir, MAIL_QUEUE_MAILDROP, len) == 0
	    && (dir == path || dir[-1] == '/');
}

static int
cat_file(const char *path, int flags)
{
	int fd, status;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		msg_error("open %s: %m", path);
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	status = cat_fd(fd, path, cat_in_maildrop(path), flags);
	(void)close(fd);		/* read only */
	return status;
}

static int
cat_queue_id(const char *id, int flags)
{
	struct buf path;
	size_t i;
	int fd, status;

	if (!queue_id_valid(id)) {
		msg_error("\"%s\" is not a queue ID", id);
		return EX_NOINPUT;
	}
	buf_init(&path, 64);
	for (i = 0; i < sizeof(cat_queues) / sizeof(cat_queues[0]); i++) {
		buf_reset(&path);
		mail_queue_path(&path, cat_queues[i], id);
		if ((fd = mail_queue_open(cat_queues[i], id, O_RDONLY)) < 0) {
			if (errno == ENOENT)
				continue;
			msg_error("open %s: %m", path.data);
			buf_fini(&path);
			return EX_IOERR;
		}
		status = cat_fd(fd, path.data,
		    strcmp(cat_queues[i], MAIL_QUEUE_MAILDROP) == 0, flags);
		(void)close(fd);	/* read only */
		buf_fini(&path);
		return status;
	}
	buf_fini(&path);
	msg_error("%s: no such message in the queue", id);
	return EX_NOINPUT;
}

/* Load main.cf and go to queue_directory (for -q). */
static int
cat_enter_queue(const char *dir)
{
	char *abs_dir;
	int rc;

	if (dir == NULL || *dir == 0)
		dir = conf_default_dir();
	abs_dir = petrel_abs_dir(dir);
	rc = conf_load(abs_dir, NULL);
	free(abs_dir);
	if (rc < 0)
		return EX_CONFIG;
	if (chdir(var_queue_directory) < 0) {
		msg_error("chdir %s: %m", var_queue_directory);
		return EX_CONFIG;
	}
	return 0;
}

int
petrel_cat(const char *dir, int argc, char **argv)
{
	bool by_id = false;
	int ch, flags = 0, status = 0, rc;

	optind = 0;			/* restart getopt (glibc) */
	while ((ch = petrel_getopt(argc, argv, "bc:dehoqv")) != -1) {
		switch (ch) {
		case 'b':
			flags |= CAT_BODY;
			break;
		case 'c':
			dir = optarg;
			break;
		case 'd':
			flags |= CAT_DECIMAL;
			break;
		case 'e':
			flags |= CAT_ENV;
			break;
		case 'h':
			flags |= CAT_HDR;
			break;
		case 'o':
			flags |= CAT_OFFSET;
			break;
		case 'q':
			by_id = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			petrel_usage();
		}
	}
	if ((flags & (CAT_ENV | CAT_HDR | CAT_BODY)) == 0)
		flags |= CAT_ENV | CAT_HDR | CAT_BODY;
	if (by_id) {
		if (optind >= argc) {
			msg_error("cat: -q needs a queue ID");
			petrel_usage();
		}
		if ((rc = cat_enter_queue(dir)) != 0)
			return rc;
	}
	if (optind >= argc)
		status = cat_fd(STDIN_FILENO, "standard input", false, flags);
	for (; optind < argc; optind++) {
		rc = by_id ? cat_queue_id(argv[optind], flags)
		    : cat_file(argv[optind], flags);
		if (status == 0)
			status = rc;
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		return cat_write_error();
	return status;
}
