/*
 * dsn_report.h - compose RFC 3464 delivery status notifications
 *
 * The bounce daemon turns the log of a message (bounce_log.h) and its
 * queue file (qfile.h) into a report for the sender:
 *
 *	DSN_REPORT_FAILURE	"Undelivered Mail Returned to Sender"
 *	DSN_REPORT_DELAY	"Delayed Mail (still being retried)"
 *	DSN_REPORT_SUCCESS	"Successful Mail Delivery Report"
 *
 * The report is a multipart/report; report-type=delivery-status
 * message (RFC 6522) handed out line by line through a callback, so
 * that the caller can pass the lines to cleanup as content records:
 *
 *	From: MAILER-DAEMON@myhostname (Mail Delivery System)
 *	To: (params.to, else the original sender)
 *	Subject: (by type, or params.subject)
 *	Date: (params.now)
 *	Auto-Submitted: auto-replied
 *	MIME-Version: 1.0
 *	Content-Type: multipart/report; report-type=delivery-status;
 *		boundary="ID.NOW/myhostname"
 *	[Content-Transfer-Encoding: 8bit]
 *
 *	part 1, text/plain: what happened, then "<addr>: reason" for each
 *	  recipient (with "(expanded from <orig>)" when ORCPT differs);
 *	part 2, message/delivery-status (RFC 3464): the per-message fields
 *	  [Original-Envelope-Id:] Reporting-MTA: dns; myhostname,
 *	  [Arrival-Date:], X-Petrel-Queue-ID:, X-Petrel-Sender: rfc822; ...
 *	  then for each recipient a block
 *	  [Original-Recipient: rfc822; ORCPT] Final-Recipient: rfc822; ADDR,
 *	  Action:, Status:, [Remote-MTA: dns; NAME], Diagnostic-Code: TYPE;
 *	  TEXT (the remote diagnostic, else "X-Petrel; reason"),
 *	  [Will-Retry-Until:] (delay, when params.retry_until is set);
 *	part 3, the original: message/rfc822 (all of it) for a failure
 *	  unless the sender asked RET=HDRS, else text/rfc822-headers (its
 *	  header lines only: delay and success notices always, RFC 3461
 *	  section 4.3); at most params.size_limit bytes of it (a line end
 *	  counts one byte), cut at a line end when possible; a cut is said
 *	  in part 1 and in the part's Content-Description.
 *
 * Which recipients (RFC 3461 section 4.1): for each recipient (entries
 * with the same offset and address are one recipient; the last entry
 * wins, in the place of the first; an entry may name the queue file
 * recipient as its dsn_orig_rcpt, when an alias was expanded to the
 * address it names) whose NOTIFY asks for this kind of notice:
 * NOTIFY=NEVER never, no NOTIFY (0) means FAILURE,DELAY, SUCCESS only
 * when asked for. params.all_recipients ignores NOTIFY (postmaster
 * copies). Entries must fit the kind: a failure report takes failed
 * and delayed entries (the defer log of a message that expired is
 * reported as failed, keeping its 4.X.X status), a delay notice
 * delayed ones, a success report delivered, expanded and relayed ones
 * (keeping their action); other entries are skipped with a warning.
 * With params.skip_done, a recipient marked done in the queue file is
 * left out (a delay notice must not list a recipient delivered after
 * an earlier deferral). No recipient left: no report (DSN_REPORT_EMPTY,
 * the callback is never called).
 *
 * The boundary is "<queue ID>.<now>/<myhostname>" (host characters
 * outside [A-Za-z0-9.-] dropped, cut to RFC 2046's 70 characters). It
 * cannot be foreseen by whoever wrote the original: the queue ID embeds
 * the arrival microsecond and the inode number of the queue file, and
 * was only known after the content had been accepted. Still, the part
 * of the original that is returned is read once before anything is
 * written (it is at most size_limit bytes), and if one of its lines
 * starts with "--" and the boundary, a random suffix is added and the
 * check repeated. Generated lines are safe by construction: fields and
 * "<addr>" lines start with a fixed word or '<', and continuation lines
 * with white space.
 *
 * Lines: every callback call carries at most DSN_REPORT_LINE_MAX (998)
 * bytes, without a line ending. type is REC_TYPE_NORM for a line (or
 * the last piece of one) and REC_TYPE_CONT for a piece of a longer line
 * whose rest follows: exactly the content records of rec.h. Generated
 * lines are whole lines of at most 998 bytes: long fields are folded at
 * white space (RFC 5322 section 2.2.3; an address or word longer than a
 * line is split with a folding space, which unfolding keeps); generated
 * text is printable ASCII (other bytes of addresses and reasons become
 * '?'). Lines of the original are passed on as they are, as pieces when
 * longer than 998 bytes, so they keep their length. When the returned
 * part holds 8-bit bytes (or the original was submitted as 8BITMIME),
 * the report says "Content-Transfer-Encoding: 8bit" and
 * dsn_report_8bit() is true: submit it with body_type=8BITMIME.
 *
 * Use (the bounce daemon):
 *
 *	rc = dsn_report_open(fd, &qf, entries, n, &params, &r, &why);
 *	if (rc == DSN_REPORT_EMPTY)	... nothing to send, done
 *	if (rc == DSN_REPORT_NOSENDER)	... null sender: never bounce a
 *					    bounce; a postmaster copy instead
 *	if (rc < 0)			... corrupt / I/O error: why says
 *	open cleanup; envelope: sender "" (the null sender), recipient
 *	dsn_report_recipient(r), body_type=8BITMIME if dsn_report_8bit(r);
 *	rc = dsn_report_write(r, put_record, cleanup, &why);
 *	dsn_report_free(r);
 *
 * SECURITY: the queue file, the log and the remote diagnostics are
 * outside data. Nothing of them is copied into a generated header
 * without being made printable ASCII; nothing can end a header early
 * or open a MIME part; the original is passed through only inside its
 * own part, behind a boundary checked against it, and its size is
 * bounded. Memory is bounded by the entries plus one line.
 */
#ifndef PETREL_DSN_REPORT_H
#define PETREL_DSN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bounce_log.h"
#include "buf.h"
#include "qfile.h"

/*
 * The returned part's size when params.size_limit is 0: the default of
 * the bounce_size_limit parameter. The bounce daemon passes the
 * parameter's value; tools that read no main.cf get this one.
 */
#define DSN_REPORT_SIZE_LIMIT	50000
/* The longest line handed to the callback (RFC 5322 section 2.1.1). */
#define DSN_REPORT_LINE_MAX	998

enum dsn_report_type {
	DSN_REPORT_FAILURE,
	DSN_REPORT_DELAY,
	DSN_REPORT_SUCCESS,
};

/* What of the original to return. */
enum dsn_report_return {
	DSN_RETURN_DEFAULT,	/* the sender's RET (dsn_ret attribute),
				 * else full for failures, headers else */
	DSN_RETURN_HEADERS,	/* headers only (e.g. postmaster copies) */
	DSN_RETURN_FULL,	/* the whole message (failures only: other
				 * kinds return headers regardless) */
};

struct dsn_report_params {
	enum dsn_report_type type;
	const char *queue_id;	/* the original's queue ID (required) */
	const char *myhostname;	/* Reporting-MTA, From: (required) */
	const char *mail_name;	/* "Petrel" (NULL: "Petrel") */
	const char *to;		/* To: and envelope recipient; NULL: the
				 * original sender */
	const char *subject;	/* NULL: by type */
	time_t now;		/* Date:, boundary (0: time(NULL)) */
	time_t retry_until;	/* delay: Will-Retry-Until (0: none) */
	size_t size_limit;	/* of the returned part; 0: the default */
	enum dsn_report_return ret;
	bool all_recipients;	/* ignore NOTIFY (postmaster copies) */
	bool skip_done;		/* leave out recipients marked done */
};

/* Results. */
#define DSN_REPORT_OK		0
#define DSN_REPORT_EMPTY	1	/* no recipient to report */
#define DSN_REPORT_NOSENDER	2	/* no params.to and a null sender */
#define DSN_REPORT_CORRUPT	QFILE_CORRUPT	/* the content is bad */
#define DSN_REPORT_IOERR	QFILE_IOERR	/* reading failed */
#define DSN_REPORT_STOPPED	(-3)	/* the callback returned < 0 */

/*
 * Called for each line or piece (see above); return 0 to go on, or -1
 * to stop (dsn_report_write() then returns DSN_REPORT_STOPPED).
 */
typedef int (*dsn_report_fn)(void *ctx, int type, const char *data,
    size_t len);

struct dsn_report;

/*
 * Select the recipients and check the returned part of the original.
 * fd is the queue file qf was read from (qfile_read_envelope() is
 * enough; the content is checked as it is read); fd, qf, entries and
 * the strings of params are borrowed until dsn_report_free(). Returns
 * DSN_REPORT_OK with *out set, or DSN_REPORT_EMPTY / DSN_REPORT_NOSENDER
 * (*out NULL, nothing to send), or DSN_REPORT_CORRUPT / DSN_REPORT_IOERR
 * with why appended to. A missing or invalid queue_id, or no
 * myhostname, is a panic (a caller's bug).
 */
int dsn_report_open(int fd, const struct qfile *qf,
    const struct bounce_log_entry *entries, size_t count,
    const struct dsn_report_params *params, struct dsn_report **out,
    struct buf *why);
/* Recipients in the report. */
size_t dsn_report_rcpt_count(const struct dsn_report *r);
/* The envelope recipient (and To:) of the report. */
const char *dsn_report_recipient(const struct dsn_report *r);
/* The MIME boundary chosen (tests, logs). */
const char *dsn_report_boundary(const struct dsn_report *r);
/* True when the report is 8-bit (submit it as 8BITMIME). */
bool dsn_report_8bit(const struct dsn_report *r);
/* True when the returned part was cut to size_limit. */
bool dsn_report_truncated(const struct dsn_report *r);
/*
 * Produce the report through fn. Returns DSN_REPORT_OK, or
 * DSN_REPORT_STOPPED, or DSN_REPORT_CORRUPT / DSN_REPORT_IOERR with
 * why (the report is then incomplete: abandon it). Once per handle.
 */
int dsn_report_write(struct dsn_report *r, dsn_report_fn fn, void *ctx,
    struct buf *why);
void dsn_report_free(struct dsn_report *r);	/* accepts NULL */

/* dsn_report_open(), dsn_report_write() and dsn_report_free() in one. */
int dsn_report(int fd, const struct qfile *qf,
    const struct bounce_log_entry *entries, size_t count,
    const struct dsn_report_params *params, dsn_report_fn fn, void *ctx,
    struct buf *why);

#endif
