/*
 * mbox.h - append one message to a UNIX mbox file, locked
 *
 * mbox_deliver() is the mailbox writer of the local and virtual
 * delivery agents for mailboxes that are one file (mail_spool_directory,
 * a virtual_mailbox_maps path not ending in '/', "/file" aliases). It
 *	- optionally takes the "<path>.lock" dot lock (dot_lock.h);
 *	- opens path with file_open_safe() (O_APPEND; a missing file is
 *	  created with opts->mode; a symbolic link, a hard-linked or
 *	  non-regular file is refused);
 *	- takes an fcntl(2) write lock on the whole file, retried like
 *	  the dot lock;
 *	- appends "From <sender> <date>\n", the caller's header lines,
 *	  the message lines (mboxrd quoting, below) and one empty line;
 *	- fsync(2)s, then unlocks.
 * On any failure after the file was opened, the file is truncated back
 * to the size it had once locked, so a reader never sees half a message
 * (see mbox.c for the crash guarantees).
 *
 * The From_ line: "From " sender (MAILER-DAEMON for the null sender;
 * spaces and control characters replaced by '_' so the line stays
 * parseable) " " and the time in asctime() layout, local time
 * ("From joe@example.com Sat Nov 21 05:51:28 2026").
 *
 * Quoting (mboxrd): every message line that matches "^>*From " gets one
 * more '>' in front. Unlike the older convention (quote "^From " only,
 * which Postfix follows), this is reversible: a reader removes one '>'
 * from each line matching "^>+From " and gets the original back.
 *
 * The message interface, struct mbox_msg, is shared with maildir.h.
 */
#ifndef PETREL_MBOX_H
#define PETREL_MBOX_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "dot_lock.h"

/*
 * The message source: each call replaces line with the next piece of
 * the message and returns (the values of QFILE_END, QFILE_LINE,
 * QFILE_PART, so qfile_content_next() fits behind a one-line wrapper):
 *	MBOX_SRC_END	no more lines
 *	MBOX_SRC_LINE	line holds a whole line (or the last piece of a
 *			long line), without its line ending
 *	MBOX_SRC_PART	line holds a piece of a longer line; the rest
 *			follows in the next calls
 *	< 0		an error: why holds the reason (the delivery then
 *			fails with MBOX_SRC_ERROR and the mailbox is left
 *			as it was)
 * Lines may contain any byte, NUL included.
 */
#define MBOX_SRC_END	0
#define MBOX_SRC_LINE	1
#define MBOX_SRC_PART	2
typedef int (*mbox_src_fn)(void *ctx, struct buf *line, struct buf *why);

struct mbox_msg {
	const char *sender;	/* envelope sender; "" is the null sender */
	time_t when;		/* time for the From_ line; 0: now */
	/*
	 * Header lines to write before the message (Return-Path:,
	 * Delivered-To:, X-Original-To: ...), without line endings,
	 * NULL-terminated; NULL for none. A CR or LF inside is written as
	 * a space, so an address cannot start a line of its own; in an mbox
	 * they are quoted like message lines.
	 */
	const char *const *headers;
	mbox_src_fn next;	/* the message lines */
	void *ctx;		/* for next */
};

/* opts->flags */
#define MBOX_FLAG_DOT_LOCK	(1 << 0)	/* also take <path>.lock */
/*
 * With MBOX_FLAG_DOT_LOCK: when the lock file cannot be created because
 * the directory is not writable for us (EACCES, EPERM, EROFS), log a
 * warning and go on with the fcntl lock alone. A lock held by someone
 * else is still a temporary failure.
 */
#define MBOX_FLAG_DOT_LOCK_MAY_FAIL (1 << 1)
/*
 * uid/gid are meaningful: a mailbox created here is given that owner
 * (fchown; needs root unless it is us), and an existing mailbox owned
 * by another uid is refused (permanent failure), as Postfix's
 * strict_mailbox_ownership.
 */
#define MBOX_FLAG_OWNER		(1 << 2)

struct mbox_opts {
	int flags;			/* MBOX_FLAG_* */
	mode_t mode;			/* a new mailbox; 0 means 0600 */
	uid_t uid;			/* with MBOX_FLAG_OWNER */
	gid_t gid;
	off_t size_limit;		/* largest mailbox size; 0: none */
	const struct dot_lock_cfg *lock; /* retries (both locks); NULL:
					 * dot_lock_defaults */
};

/*
 * Results of mbox_deliver() and maildir_deliver(). On failure why holds
 * an RFC 3463 enhanced status code, one space, and the reason
 * ("4.2.2 mailbox full: write /var/mail/joe: Disk quota exceeded"); the
 * caller splits at the first space to get the DSN status. The class
 * follows the status: MBOX_TEMP for 4.x.x (defer), MBOX_PERM for 5.x.x
 * (bounce). MBOX_SRC_ERROR: the message source failed; why is
 * "4.3.0 " followed by the source's reason, and the caller decides (a
 * corrupt queue file is not the recipient's fault).
 */
#define MBOX_OK		0
#define MBOX_TEMP	(-1)
#define MBOX_PERM	(-2)
#define MBOX_SRC_ERROR	(-3)

/* opts may be NULL: fcntl and dot lock, no owner, no limit. */
int mbox_deliver(const char *path, const struct mbox_opts *opts,
    const struct mbox_msg *msg, struct buf *why);

/*
 * The failure class and enhanced status code of a system error in a
 * mailbox operation (shared with maildir.c):
 *	EFBIG			MBOX_PERM "5.2.2" (mailbox size limit)
 *	EDQUOT			MBOX_TEMP "4.2.2" (quota)
 *	ENOSPC			MBOX_TEMP "4.3.1" (file system full)
 *	EAGAIN EBUSY ESTALE	MBOX_TEMP "4.2.0"
 *	ELOOP EPERM EACCES EMLINK EISDIR ENOTDIR ENAMETOOLONG
 *				MBOX_PERM "5.2.0" (unsafe or unusable
 *				mailbox: as Postfix, mail is returned)
 *	anything else		MBOX_TEMP "4.3.0" (EIO, EROFS, ENOENT ...)
 * Returns the class and sets *status.
 */
int mbox_errno_class(int err, const char **status);

/*
 * Reset why to "<status> <text>: <strerror(err)>" (status and class as
 * mbox_errno_class(); "mailbox full: " goes before the text for EFBIG
 * and EDQUOT) and return the class. Shared with maildir.c.
 */
int mbox_fail_errno(struct buf *why, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The writing step, shared with maildir.c: append to fd (named path in
 * reasons) prefix (may be NULL), then with mbox_format the From_ line,
 * the header lines, the message lines ("\n"-terminated; quoted with
 * mbox_format), with mbox_format an empty line; then fsync. At most
 * room bytes are written (room < 0: no limit; beyond it the result is
 * EFBIG's). Returns MBOX_OK or a failure with why; what was written is
 * not taken back (the caller truncates or unlinks).
 */
int mbox_write_msg(int fd, const char *path, const char *prefix, off_t room,
    bool mbox_format, const struct mbox_msg *msg, struct buf *why);

#endif
