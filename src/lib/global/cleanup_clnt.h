/*
 * cleanup_clnt.h - hand a message to the cleanup service
 *
 * The client side of cleanup_proto.h, used by pickup (and later smtpd):
 *
 *	c = cleanup_clnt_open(NULL, CLEANUP_FLAG_BOUNCE, &why);
 *	if (c == NULL)
 *		... temporary failure, why says what (try again later)
 *	log with cleanup_clnt_queue_id(c);
 *	cleanup_clnt_put(c, REC_TYPE_TIME, ...); ... (records, in order)
 *	status = cleanup_clnt_finish(c, &reason);	(0: queued, synced)
 *	cleanup_clnt_free(c);
 *
 * cleanup_clnt_free() without a successful cleanup_clnt_finish() just
 * hangs up; cleanup then removes the unfinished queue file, so a client
 * that finds a problem half-way simply frees the handle.
 *
 * The module also holds the rules of a local submission, the records
 * that sendmail writes to postdrop and that pickup finds in a maildrop
 * file (cleanup_clnt_check()), so that the three programs agree:
 *
 *	ATTR*		full_name, envelope_id, dsn_ret, body_type; each
 *			at most once (the attributes a submitting user may
 *			set; pickup adds the trusted ones itself)
 *	FROM		envelope sender ("" for the null sender)
 *	(ORCP? NOTIFY? RCPT)+
 *			at least one recipient; NOTIFY data is the decimal
 *			DSN_NOTIFY_* bits (cleanup_proto.h)
 *	MESG		(empty)
 *	(NORM | CONT)*	content lines, a CONT always followed by more of
 *			the same line
 *	XTRA		(empty)
 *	END		(empty)
 *
 * The message size counted against message_size_limit is the data of
 * every envelope record plus the content, one byte per line end.
 */
#ifndef PETREL_CLEANUP_CLNT_H
#define PETREL_CLEANUP_CLNT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct cleanup_clnt;

/*
 * Connect to service (NULL: "public/$cleanup_service_name", relative to
 * queue_directory, the current directory; a name with '/' is used as a
 * path), receive the queue ID, send flags (CLEANUP_FLAG_*). Every wait
 * is bounded by ipc_timeout. Returns the handle, or NULL with why set
 * (the caller treats it as CLEANUP_STAT_DEFER).
 */
struct cleanup_clnt *cleanup_clnt_open(const char *service, int flags,
    struct buf *why);
/* The queue ID cleanup assigned (valid, see queue_id.h). */
const char *cleanup_clnt_queue_id(const struct cleanup_clnt *c);
/*
 * Send one record (rec.h). Returns 0, or -1 after a write error, which
 * is remembered: later calls fail at once and cleanup_clnt_finish()
 * reports it.
 */
int cleanup_clnt_put(struct cleanup_clnt *c, int type, const void *data,
    size_t len);
int cleanup_clnt_puts(struct cleanup_clnt *c, int type, const char *text);
int cleanup_clnt_printf(struct cleanup_clnt *c, int type,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Send what is buffered now (smtpd: the envelope at DATA, so that
 * cleanup works on it while the content arrives). Returns 0, or -1 as
 * cleanup_clnt_put().
 */
int cleanup_clnt_flush(struct cleanup_clnt *c);
/*
 * Send REC_TYPE_END unless it was sent, then read cleanup's answer.
 * Returns the status (CLEANUP_STAT_*, 0 = queued) with reason set to
 * cleanup's text ("" on success); a connection error, timeout or
 * malformed reply is CLEANUP_STAT_DEFER with a reason that says so.
 */
int cleanup_clnt_finish(struct cleanup_clnt *c, struct buf *reason);
void cleanup_clnt_free(struct cleanup_clnt *c);		/* accepts NULL */

/* ---- the records of a local submission (see above) ---------------- */

/* Largest record data rec_get() should accept from a submission. */
#define CLEANUP_CLNT_REC_LIMIT	(1024 * 1024)
/* Largest sender or recipient address, and full name. */
#define CLEANUP_CLNT_ADDR_LIMIT	4096
#define CLEANUP_CLNT_NAME_LIMIT	1024
/* Largest envelope ID (RFC 3461: 100 characters). */
#define CLEANUP_CLNT_ENVID_LIMIT 100

enum cleanup_check_result {
	CLEANUP_CHECK_OK,	/* record accepted, more to come */
	CLEANUP_CHECK_END,	/* REC_TYPE_END accepted: complete */
	CLEANUP_CHECK_BAD,	/* malformed: why says what */
	CLEANUP_CHECK_SIZE,	/* over size_limit: why says so */
};

struct cleanup_clnt_check {
	int state;
	long size_limit;	/* 0: no limit */
	long size;		/* counted so far */
	unsigned attrs;		/* attributes seen (bits) */
	size_t rcpts;		/* recipients */
	long records;
};

/* Start checking a submission; size_limit is message_size_limit. */
void cleanup_clnt_check_init(struct cleanup_clnt_check *chk,
    long size_limit);
/*
 * Check the next record. After CLEANUP_CHECK_BAD or CLEANUP_CHECK_SIZE,
 * or after CLEANUP_CHECK_END, every further record is BAD.
 */
enum cleanup_check_result cleanup_clnt_check(struct cleanup_clnt_check *chk,
    int type, const char *data, size_t len, struct buf *why);

/*
 * Validators shared with sendmail's option parsing: true when value
 * (NUL-terminated) is acceptable as the attribute's value in a
 * submission.
 */
bool cleanup_clnt_attr_ok(const char *name, const char *value);

/*
 * DSN NOTIFY: parse "never" or a list of "success", "delay", "failure"
 * (any case, separated by commas or blanks) into DSN_NOTIFY_* bits; -1
 * when malformed (empty, unknown or repeated words, never with others).
 */
int cleanup_clnt_notify_parse(const char *text);

#endif
