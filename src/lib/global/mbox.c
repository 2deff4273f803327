/*
 * mbox.c - append one message to a UNIX mbox file, locked
 *
 * mbox_deliver(path, opts, msg, why) is described in mbox.h. The
 * delivery agents build a struct mbox_msg around qfile_content_next()
 * and hand it here (or to maildir_deliver()).
 *
 * Order of work: dot lock, open, fcntl lock (both retried per
 * opts->lock), fstat for the size to return to, write, fsync, close,
 * remove the dot lock. Output is gathered in a buffer and written in
 * MBOX_CHUNK pieces: a message costs a few write(2) calls, not one per
 * line. If the mailbox does not end with an empty line (a user edited
 * it, or an earlier writer crashed midway), newlines are written first
 * so that our From_ line starts a message of its own.
 *
 * Guarantees:
 *	- a failure that we see (write or fsync error, quota, size limit,
 *	  the message source failing) truncates the file back to its
 *	  size before the delivery: a reader that honours the locks sees
 *	  the mailbox without the message, never part of it;
 *	- MBOX_OK is returned only after fsync(2) succeeded, so the caller
 *	  may then mark the recipient done in the queue file;
 *	- a crash (kill -9, power loss) during the delivery can leave the
 *	  part written so far at the end of the mailbox, as with every mbox
 *	  writer. The recipient is not marked done, so the message is
 *	  delivered again later: a truncated copy may precede the whole
 *	  one, nothing is lost. The next delivery starts on a fresh line
 *	  after an empty one, so the damage stays inside one message;
 *	- a close(2) failure after a successful fsync is reported as a
 *	  temporary failure (the message is most likely there: at worst it
 *	  is delivered twice).
 *
 * SECURITY: the mailbox lives in a directory other users may write
 * (/var/mail is often 1777): file_open_safe() refuses symbolic links,
 * hard links and non-regular files, and with MBOX_FLAG_OWNER a mailbox
 * owned by someone else. Message lines are outside data: they are
 * written as they are (any byte) except for From_ quoting, which header
 * lines get too, and header lines cannot contain line breaks, so no
 * line of the message can pose as the start of another message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dot_lock.h"
#include "file.h"
#include "mbox.h"
#include "msg.h"
#include "qfile.h"
#include "timeutil.h"

/* The source interface is qfile_content_next()'s. */
_Static_assert(MBOX_SRC_END == QFILE_END && MBOX_SRC_LINE == QFILE_LINE
    && MBOX_SRC_PART == QFILE_PART, "mbox source codes differ from qfile's");

/* Output is written in pieces of about this size. */
#define MBOX_CHUNK	65536

/* Appending to an open mailbox. */
struct mbox_writer {
	int fd;
	struct buf out;			/* not yet written */
	off_t room;			/* bytes we may still add; -1: any */
	int err;			/* the first write errno, or 0 */
};

/* Quoting state at the start of a line ("^>*From "). */
enum mbox_quote_state {
	QUOTE_GT,			/* in the leading run of '>' */
	QUOTE_FROM,			/* matched part of "From " */
	QUOTE_DONE,			/* decided: copy the rest */
};

struct mbox_quote {
	enum mbox_quote_state state;
	size_t matched;			/* bytes of "From " held back */
};

static const char mbox_from[] = "From ";
#define MBOX_FROM_LEN	(sizeof(mbox_from) - 1)

int
mbox_errno_class(int err, const char **status)
{
	switch (err) {
	case EFBIG:
		*status = "5.2.2";
		return MBOX_PERM;
	case EDQUOT:
		*status = "4.2.2";
		return MBOX_TEMP;
	case ENOSPC:
		*status = "4.3.1";
		return MBOX_TEMP;
	case EAGAIN:
	case EBUSY:
	case ESTALE:
		*status = "4.2.0";
		return MBOX_TEMP;
	case ELOOP:
	case EPERM:
	case EACCES:
	case EMLINK:
	case EISDIR:
	case ENOTDIR:
	case ENAMETOOLONG:
		*status = "5.2.0";
		return MBOX_PERM;
	default:
		*status = "4.3.0";
		return MBOX_TEMP;
	}
}

int
mbox_fail_errno(struct buf *why, int err, const char *fmt, ...)
{
	const char *status;
	va_list ap;
	int cls;

	cls = mbox_errno_class(err, &status);
	buf_reset(why);
	buf_printf(why, "%s ", status);
	if (err == EFBIG || err == EDQUOT)
		buf_puts(why, "mailbox full: ");
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
	buf_printf(why, ": %s", strerror(err));
	return cls;
}

/* Reset why to "<status> <text>" and return cls. */
static int
mbox_fail(struct buf *why, int cls, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
mbox_fail(struct buf *why, int cls, const char *status, const char *fmt, ...)
{
	va_list ap;

	buf_reset(why);
	buf_printf(why, "%s ", status);
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
	return cls;
}

/* Write what is buffered; the first error sticks in w->err. */
static void
mbox_flush(struct mbox_writer *w)
{
	size_t len = w->out.len;

	if (w->err != 0 || len == 0) {
		buf_reset(&w->out);
		return;
	}
	if (w->room >= 0 && (uintmax_t)len > (uintmax_t)w->room) {
		w->err = EFBIG;
	} else if (file_write_all(w->fd, w->out.data, len) < 0) {
		w->err = errno;
	} else if (w->room >= 0) {
		w->room -= (off_t)len;
	}
	buf_reset(&w->out);
}

static void
mbox_put(struct mbox_writer *w, const void *data, size_t len)
{
	if (w->err != 0)
		return;
	buf_append(&w->out, data, len);
	if (w->out.len >= MBOX_CHUNK)
		mbox_flush(w);
}

/*
 * Copy one piece of a message line, quoting. A '>' can go anywhere in
 * the leading run of '>' with the same result, so the run is copied as
 * it comes and the extra '>' goes just before "From "; only a partial
 * "From " (at most 4 bytes) is ever held back between pieces.
 */
static void
mbox_put_quoted(struct mbox_writer *w, struct mbox_quote *q,
    const char *data, size_t len)
{
	size_t i = 0, run;

	while (q->state != QUOTE_DONE && i < len) {
		if (q->state == QUOTE_GT) {
			for (run = i; run < len && data[run] == '>'; run++)
				continue;
			mbox_put(w, data + i, run - i);
			i = run;
			if (i < len) {
				q->state = QUOTE_FROM;
				q->matched = 0;
			}
			continue;
		}
		if (data[i] == mbox_from[q->matched]) {
			i++;
			if (++q->matched == MBOX_FROM_LEN) {
				mbox_put(w, ">", 1);
				mbox_put(w, mbox_from, MBOX_FROM_LEN);
				q->state = QUOTE_DONE;
			}
			continue;
		}
		mbox_put(w, mbox_from, q->matched);
		q->state = QUOTE_DONE;
	}
	mbox_put(w, data + i, len - i);
}

/* End a message line: release a held-back partial "From ". */
static void
mbox_end_line(struct mbox_writer *w, struct mbox_quote *q)
{
	if (q->state == QUOTE_FROM)
		mbox_put(w, mbox_from, q->matched);
	mbox_put(w, "\n", 1);
	q->state = QUOTE_GT;
	q->matched = 0;
}

/*
 * A header line from the caller, with CR and LF made spaces, and quoted
 * like the message lines in an mbox (it should never start with "From
 * ", but if a caller got that wrong, it still cannot split the message).
 */
static void
mbox_put_header(struct mbox_writer *w, struct mbox_quote *q,
    bool mbox_format, const char *text, struct buf *tmp)
{
	char *cp;

	buf_set(tmp, text);
	for (cp = tmp->data; (cp = strpbrk(cp, "\r\n")) != NULL; cp++)
		*cp = ' ';
	if (mbox_format) {
		mbox_put_quoted(w, q, tmp->data, tmp->len);
		mbox_end_line(w, q);
	} else {
		mbox_put(w, tmp->data, tmp->len);
		mbox_put(w, "\n", 1);
	}
}

/*
 * The From_ line. The sender is outside data: whitespace and control
 * characters would break the line for readers, so they become '_'.
 */
static void
mbox_put_from_line(struct mbox_writer *w, const struct mbox_msg *msg)
{
	const char *sender = msg->sender;
	time_t when = msg->when ? msg->when : time(NULL);
	struct tm tm;
	char date[64];			/* our own text, fixed layout */
	const unsigned char *cp;

	mbox_put(w, "From ", 5);
	if (sender == NULL || *sender == 0)
		sender = "MAILER-DAEMON";
	for (cp = (const unsigned char *)sender; *cp != 0; cp++) {
		if (*cp <= ' ' || *cp == 0x7f)
			mbox_put(w, "_", 1);
		else
			mbox_put(w, cp, 1);
	}
	if (localtime_r(&when, &tm) == NULL
	    || strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		snprintf(date, sizeof(date), "Thu Jan  1 00:00:00 1970");
	mbox_put(w, " ", 1);
	mbox_put(w, date, strlen(date));
	mbox_put(w, "\n", 1);
}

/*
 * Newlines needed so that what we append starts after an empty line:
 * none for an empty file or one ending in "\n\n".
 */
static int
mbox_separator(int fd, off_t size, const char **sep)
{
	char tail[2];
	ssize_t n;
	size_t want = size >= 2 ? 2 : (size_t)size;

	*sep = "";
	if (size == 0)
		return 0;
	do {
		n = pread(fd, tail, want, size - (off_t)want);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n != (ssize_t)want) {
		errno = EIO;			/* shrank under our lock? */
		return -1;
	}
	if (tail[want - 1] != '\n')
		*sep = "\n\n";
	else if (want == 2 && tail[0] != '\n')
		*sep = "\n";
	return 0;
}

/* Explain why path could not be opened (link checks give EPERM/ELOOP). */
static int
mbox_open_failed(struct buf *why, const char *path, int err)
{
	struct stat st;

	if ((err == EPERM || err == ELOOP) && lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			return mbox_fail(why, MBOX_PERM, "5.2.0", "mailbox %s "
			    "is a symbolic link; refused", path);
		if (!S_ISREG(st.st_mode))
			return mbox_fail(why, MBOX_PERM, "5.2.0", "mailbox %s "
			    "is not a regular file; refused", path);
		if (st.st_nlink != 1)
			return mbox_fail(why, MBOX_PERM, "5.2.0", "mailbox %s "
			    "has %lu hard links; refused", path,
			    (unsigned long)st.st_nlink);
	}
	return mbox_fail_errno(why, err, "cannot open mailbox %s", path);
}

/*
 * Open or create the mailbox. Returns the descriptor, or -1 with why
 * and *cls set.
 */
static int
mbox_open(const char *path, const struct mbox_opts *opts, struct stat *st,
    struct buf *why, int *cls)
{
	mode_t mode = opts->mode ? opts->mode : 0600;
	bool created = false;
	int fd, i;

	for (i = 0;; i++) {
		fd = file_open_safe(path, O_RDWR | O_APPEND, 0, st);
		if (fd >= 0 || errno != ENOENT || i >= 2)
			break;
		fd = file_open_safe(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL,
		    mode, st);
		if (fd >= 0) {
			created = true;
			break;
		}
		if (errno != EEXIST)
			break;
		/* Created by someone else meanwhile: open that one. */
	}
	if (fd < 0) {
		*cls = mbox_open_failed(why, path, errno);
		return -1;
	}
	if ((opts->flags & MBOX_FLAG_OWNER) == 0)
		return fd;
	if (created) {
		if (fchown(fd, opts->uid, opts->gid) < 0) {
			*cls = mbox_fail_errno(why, errno, "cannot set owner "
			    "of new mailbox %s to %lu:%lu", path,
			    (unsigned long)opts->uid, (unsigned long)opts->gid);
			(void)close(fd);
			return -1;
		}
	} else if (st->st_uid != opts->uid) {
		*cls = mbox_fail(why, MBOX_PERM, "5.2.0", "mailbox %s is owned "
		    "by uid %lu, not by the recipient (uid %lu); refused", path,
		    (unsigned long)st->st_uid, (unsigned long)opts->uid);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* Take the fcntl write lock, retrying as for the dot lock. */
static int
mbox_fcntl_lock(int fd, const char *path, const struct dot_lock_cfg *cfg,
    struct buf *why)
{
	struct flock fl;
	int attempt;

	for (attempt = 1;; attempt++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return MBOX_OK;
		if (errno == EINTR) {
			attempt--;
			continue;
		}
		if (errno != EACCES && errno != EAGAIN)
			return mbox_fail_errno(why, errno, "cannot lock "
			    "mailbox %s", path);
		if (attempt >= cfg->tries)
			return mbox_fail(why, MBOX_TEMP, "4.2.0", "mailbox %s "
			    "is locked by another process (fcntl)", path);
		time_sleep_ms(cfg->delay_ms);
	}
}

/* The dot lock, as opts ask. */
static int
mbox_dot_lock(struct dot_lock *lk, const char *path,
    const struct mbox_opts *opts, const struct dot_lock_cfg *cfg,
    struct buf *why)
{
	struct buf reason;
	int rc, err, ret = MBOX_OK;

	buf_init(&reason, 64);
	rc = dot_lock_acquire(lk, path, cfg, &reason);
	err = errno;
	if (rc == DOT_LOCK_BUSY) {
		ret = mbox_fail(why, MBOX_TEMP, "4.2.0", "cannot lock mailbox "
		    "%s: %s", path, buf_str(&reason));
	} else if (rc == DOT_LOCK_ERROR) {
		if ((opts->flags & MBOX_FLAG_DOT_LOCK_MAY_FAIL) != 0
		    && (err == EACCES || err == EPERM || err == EROFS))
			msg_warn("%s; delivering to %s with the fcntl lock "
			    "only", buf_str(&reason), path);
		else
			ret = mbox_fail_errno(why, err, "cannot lock mailbox "
			    "%s", path);
	}
	buf_fini(&reason);
	return ret;
}

int
mbox_write_msg(int fd, const char *path, const char *prefix, off_t room,
    bool mbox_format, const struct mbox_msg *msg, struct buf *why)
{
	struct mbox_writer w = {.fd = fd, .room = room};
	struct mbox_quote q = {QUOTE_GT, 0};
	struct buf line, src_why;
	const char *const *hp;
	bool midline = false;
	int rc, ret = MBOX_OK;

	buf_init(&w.out, MBOX_CHUNK + 1024);
	buf_init(&line, 256);
	buf_init(&src_why, 64);
	if (prefix != NULL)
		mbox_put(&w, prefix, strlen(prefix));
	if (mbox_format)
		mbox_put_from_line(&w, msg);
	for (hp = msg->headers; hp != NULL && *hp != NULL; hp++)
		mbox_put_header(&w, &q, mbox_format, *hp, &line);
	while (w.err == 0) {
		buf_reset(&line);
		rc = msg->next(msg->ctx, &line, &src_why);
		if (rc == MBOX_SRC_END)
			break;
		if (rc < 0) {
			ret = mbox_fail(why, MBOX_SRC_ERROR, "4.3.0", "error "
			    "reading message: %s", buf_str(&src_why));
			break;
		}
		if (mbox_format)
			mbox_put_quoted(&w, &q, line.data, line.len);
		else
			mbox_put(&w, line.data, line.len);
		midline = rc != MBOX_SRC_LINE;
		if (!midline)
			mbox_end_line(&w, &q);
	}
	if (ret == MBOX_OK && w.err == 0) {
		if (midline)
			mbox_end_line(&w, &q);	/* the source ended midline */
		if (mbox_format)
			mbox_put(&w, "\n", 1);
		mbox_flush(&w);
	}
	if (ret == MBOX_OK && w.err != 0)
		ret = mbox_fail_errno(why, w.err, "cannot write %s", path);
	if (ret == MBOX_OK && file_fsync(fd) < 0)
		ret = mbox_fail_errno(why, errno, "cannot sync %s", path);
	buf_fini(&w.out);
	buf_fini(&line);
	buf_fini(&src_why);
	return ret;
}

int
mbox_deliver(const char *path, const struct mbox_opts *opts,
    const struct mbox_msg *msg, struct buf *why)
{
	static const struct mbox_opts defaults = {
		.flags = MBOX_FLAG_DOT_LOCK,
	};
	const struct dot_lock_cfg *cfg;
	struct dot_lock lk = {0};
	struct buf reason;
	struct stat st;
	const char *sep;
	off_t size, room = -1;
	int fd = -1, ret;

	if (opts == NULL)
		opts = &defaults;
	cfg = opts->lock ? opts->lock : &dot_lock_defaults;
	buf_reset(why);
	if ((opts->flags & MBOX_FLAG_DOT_LOCK) != 0
	    && (ret = mbox_dot_lock(&lk, path, opts, cfg, why)) != MBOX_OK)
		goto out;
	if ((fd = mbox_open(path, opts, &st, why, &ret)) < 0)
		goto out;
	if ((ret = mbox_fcntl_lock(fd, path, cfg, why)) != MBOX_OK)
		goto out;
	/* The size may have changed before we had the lock. */
	if (fstat(fd, &st) < 0) {
		ret = mbox_fail_errno(why, errno, "cannot stat mailbox %s",
		    path);
		goto out;
	}
	size = st.st_size;
	if (opts->size_limit > 0) {
		if (size >= opts->size_limit) {
			ret = mbox_fail_errno(why, EFBIG, "mailbox %s has "
			    "%lld bytes, limit %lld", path, (long long)size,
			    (long long)opts->size_limit);
			goto out;
		}
		room = opts->size_limit - size;
	}
	if (mbox_separator(fd, size, &sep) < 0) {
		ret = mbox_fail_errno(why, errno, "cannot read mailbox %s",
		    path);
		goto out;
	}
	ret = mbox_write_msg(fd, path, sep, room, true, msg, why);
	if (ret != MBOX_OK) {
		/*
		 * Take back whatever we wrote. If even that fails, say so:
		 * the mailbox now ends with part of a message.
		 */
		if (ftruncate(fd, size) < 0 || file_fsync(fd) < 0)
			msg_warn("cannot truncate mailbox %s back to %lld "
			    "bytes after a failed delivery: %m", path,
			    (long long)size);
	}
out:
	if (fd >= 0 && close(fd) < 0 && ret == MBOX_OK)
		ret = mbox_fail_errno(why, errno, "cannot close mailbox %s",
		    path);
	buf_init(&reason, 64);
	if (dot_lock_release(&lk, &reason) < 0)
		msg_warn("mailbox %s: %s", path, buf_str(&reason));
	buf_fini(&reason);
	return ret;
}
