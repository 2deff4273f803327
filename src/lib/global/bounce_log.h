/*
 * bounce_log.h - per-recipient delivery logs beside the queue
 *
 * Delivery agents (and qmgr) record what happened to each recipient
 * whose outcome the sender may have to hear about; the bounce daemon
 * later turns the log of a message into a delivery status notification
 * (dsn_report.h), showq shows the reasons of deferred mail. One log per
 * message and kind, named by the message's queue ID:
 *
 *	bounce/[hash/]ID	permanent failures (action failed)
 *	defer/[hash/]ID		temporary failures (action delayed)
 *	trace/[hash/]ID		successes the sender asked to hear about
 *				(delivered, expanded, relayed)
 *
 * hashed like any queue listed in hash_queue_names (mail_queue_path()).
 * Paths are relative to queue_directory, the current directory.
 *
 * File format (Postfix's, which showq also reads): one entry per
 * recipient, one "name=value\n" line per field, and an empty line after
 * each entry. The writer emits the fields in this order (a reader takes
 * them in any order):
 *
 *	recipient=ADDR		the address of the RCPT record (required)
 *	offset=N		the offset of that RCPT record in the queue
 *				file (required, > 0)
 *	dsn_orig_rcpt=ORCPT	the DSN original recipient ("" when none)
 *	dsn_notify=N		DSN_NOTIFY_* bits in decimal (0: none given)
 *	status=X.Y.Z		RFC 3463 enhanced status code (required)
 *	action=WORD		failed, delayed, delivered, expanded, relayed
 *				(required)
 *	diag_type=TYPE		with diag_text: the remote diagnostic,
 *	diag_text=TEXT		e.g. smtp / "550 5.1.1 <bob@x>: unknown"
 *	mta_type=TYPE		with mta_name: who said so,
 *	mta_name=NAME		e.g. dns / mx.example.com
 *	reason=TEXT		human-readable reason (required)
 *
 * Values never hold a newline: free text (reason, diag_text) has NUL
 * bytes removed and other control characters replaced by spaces, then
 * is cut to BOUNCE_LOG_TEXT_MAX bytes ("..." marks the cut, never inside
 * a UTF-8 sequence); addresses and names are refused rather than
 * altered when they hold control characters or are too long. A reader
 * ignores fields with names it does not know (room for later fields).
 *
 * Writing: bounce_log_append() opens the log with file_open_safe()
 * (O_APPEND, created mode 0600, hash directories made on demand), takes
 * an exclusive flock(2), writes the whole entry with one write(2), then
 * fsync(2)s and closes. If the log does not end with an empty line (a
 * crash in the middle of an earlier append), the writer first ends the
 * broken entry with the line "truncated=yes" and an empty line, which
 * makes every reader drop that entry (showq keeps its recipient and
 * reason, harmlessly) instead of gluing it to the new one.
 *
 * Reading: bounce_log_open() takes a shared flock(2) (so it never sees
 * half an entry) until bounce_log_close(); bounce_log_next() returns one
 * validated entry at a time. Entries are parsed strictly: a malformed
 * one (a line without '=', a bad name, a NUL byte, a line or entry over
 * BOUNCE_LOG_ENTRY_MAX, a repeated or missing field, a bad value) is
 * skipped with a warning that names the file and line, e.g.
 *	warning: defer/A/ID, line 12: entry skipped: bad status "5.1"
 * and an entry the file ends in the middle of is skipped with
 *	warning: defer/A/ID, line 40: incomplete last entry skipped
 *	(interrupted append)
 *
 * Use (a delivery agent, a recipient that failed for good):
 *
 *	struct bounce_log_entry e;
 *	bounce_log_entry_init(&e, &qf->rcpts[i]);
 *	e.status = "5.1.1";
 *	e.action = BOUNCE_LOG_FAILED;
 *	e.reason = "unknown user: \"bob\"";
 *	if (bounce_log_append(MAIL_QUEUE_BOUNCE, id, &e, &why) < 0)
 *		... defer the recipient instead; why says what failed
 *
 * SECURITY: the logs live in directories writable by mail_owner only,
 * but a reader treats them as outside data: every line is length-
 * checked before it is kept, every value is validated, and a bad entry
 * is skipped, never fatal. The writer never follows a symbolic link and
 * refuses a file with several hard links (file_open_safe()).
 */
#ifndef PETREL_BOUNCE_LOG_H
#define PETREL_BOUNCE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct qfile_rcpt;

/* Longest address (recipient, dsn_orig_rcpt), as cleanup_clnt.h. */
#define BOUNCE_LOG_ADDR_MAX	4096
/* Longest free text (reason, diag_text), after clean-up. */
#define BOUNCE_LOG_TEXT_MAX	2000
/* Longest diag_type, mta_type (atoms such as "smtp", "dns"). */
#define BOUNCE_LOG_TYPE_MAX	32
/* Longest mta_name (a DNS name, or an address literal). */
#define BOUNCE_LOG_NAME_MAX	255
/* Longest entry, empty line included; also the longest line read. */
#define BOUNCE_LOG_ENTRY_MAX	16384

enum bounce_log_action {
	BOUNCE_LOG_FAILED,	/* given up: bounce/ */
	BOUNCE_LOG_DELAYED,	/* will retry: defer/ */
	BOUNCE_LOG_DELIVERED,	/* delivered: trace/ */
	BOUNCE_LOG_EXPANDED,	/* delivered to an alias or list: trace/ */
	BOUNCE_LOG_RELAYED,	/* passed to a system without DSN: trace/ */
};

/*
 * One entry. For bounce_log_append() the caller fills it (strings are
 * borrowed; NULL optional fields are left out). Entries returned by
 * bounce_log_next() and bounce_log_read_all() own their strings (mem).
 */
struct bounce_log_entry {
	const char *recipient;	/* RCPT address */
	off_t offset;		/* of the RCPT record (> 0) */
	const char *orig_rcpt;	/* DSN ORCPT, NULL or "": none */
	int notify;		/* DSN_NOTIFY_* bits, 0: none given */
	const char *status;	/* "5.1.1" */
	enum bounce_log_action action;
	const char *reason;	/* human-readable text */
	const char *diag_type;	/* "smtp", or NULL (with diag_text) */
	const char *diag_text;	/* remote reply text, or NULL */
	const char *mta_type;	/* "dns", or NULL (with mta_name) */
	const char *mta_name;	/* remote host name, or NULL */
	char *mem;		/* private: storage of a read entry */
};

/* "failed", "delayed" ... */
const char *bounce_log_action_name(enum bounce_log_action action);
/* The action named by word; -1 if none. */
int bounce_log_action_parse(const char *word);
/*
 * True when status is an RFC 3463 enhanced status code: class 2, 4 or
 * 5, then ".subject.detail", 1-3 digits each without leading zeros.
 */
bool bounce_log_status_ok(const char *status);
/*
 * The DSN_NOTIFY_* bits of a queue file NOTIFY record's data: decimal
 * bits (cleanup_proto.h) or words ("success,failure"); 0 for NULL or
 * malformed data (the defaults then apply, see dsn_report.h).
 */
int bounce_log_notify_bits(const char *notify);

/*
 * Zero e and fill the recipient fields (recipient, offset, orig_rcpt,
 * notify) from a queue file recipient, which e then borrows from.
 */
void bounce_log_entry_init(struct bounce_log_entry *e,
    const struct qfile_rcpt *rcpt);
/* Free a read entry's storage (fields become NULL); accepts NULL. */
void bounce_log_entry_fini(struct bounce_log_entry *e);

/*
 * Append e to queue's log of message id (queue: MAIL_QUEUE_BOUNCE,
 * MAIL_QUEUE_DEFER or MAIL_QUEUE_TRACE; id: queue_id_valid()). The
 * entry is durable when this returns 0. Returns -1 with errno and why
 * set (appended to) on failure: EINVAL for a bad queue, ID or field
 * (why names it: "recipient address too long"), else the failing
 * system call and path ("write defer/A/ID: No space left on device").
 * Nothing is logged here; the caller decides (usually: defer the
 * recipient, the log is part of its state).
 */
int bounce_log_append(const char *queue, const char *id,
    const struct bounce_log_entry *e, struct buf *why);
/*
 * The same on an explicit path, which must exist or be creatable (no
 * hash directories are made): for tests and tools.
 */
int bounce_log_append_path(const char *path,
    const struct bounce_log_entry *e, struct buf *why);

struct bounce_log;

/*
 * Open queue's log of message id for reading, with a shared lock held
 * until bounce_log_close() (so keep it open briefly: writers wait).
 * NULL with errno: ENOENT when there is no log (nothing to report, not
 * an error), EINVAL for a bad queue or ID, else the open error.
 */
struct bounce_log *bounce_log_open(const char *queue, const char *id);
/* The same on an explicit path (tools, tests). */
struct bounce_log *bounce_log_open_path(const char *path);
/*
 * The next valid entry into e (its previous contents are freed first,
 * so e must be zeroed before the first call, and the last one freed
 * with bounce_log_entry_fini()). Returns 1, 0 at the end of the
 * file, or -1 on a read error (errno set, warning logged). Malformed
 * entries are skipped with a warning, as described above.
 */
int bounce_log_next(struct bounce_log *bl, struct bounce_log_entry *e);
/* The path being read ("defer/A/ID"). */
const char *bounce_log_path(const struct bounce_log *bl);
void bounce_log_close(struct bounce_log *bl);	/* accepts NULL */

/*
 * All valid entries of a log, in file order, into a new array (*out,
 * *count; free with bounce_log_free_all()). Returns 0 (a missing log is
 * 0 entries), or -1 with errno (an unreadable log).
 */
int bounce_log_read_all(const char *queue, const char *id,
    struct bounce_log_entry **out, size_t *count);
int bounce_log_read_all_path(const char *path,
    struct bounce_log_entry **out, size_t *count);
void bounce_log_free_all(struct bounce_log_entry *entries, size_t count);

/*
 * Remove queue's log of message id (when the message is gone, or after
 * its report was queued). 0 when removed or absent; -1 with errno. A
 * writer that opened the log before would append to the removed file:
 * remove a log only while no delivery of the message is under way
 * (qmgr, which owns the message, knows).
 */
int bounce_log_remove(const char *queue, const char *id);

#endif
