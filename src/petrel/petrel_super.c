/*
 * petrel_super.c - `petrel super` (Postfix's postsuper): queue maintenance
 *
 * usage: petrel super [-c dir] [-sv] [-d ID] [-h ID] [-H ID] [-r ID]
 *	  [queue ...]
 *
 *	-d ID	Delete the message from the queues (default: hold incoming
 *		active deferred; maildrop and corrupt may be named too),
 *		with its per-message logs in bounce/ defer/ trace/.
 *		Logs "ID: removed".
 *	-h ID	Put it on hold: move it from incoming, active or deferred
 *		to hold. Logs "ID: placed on hold".
 *	-H ID	Release it: move it from hold to deferred, with the file
 *		time set to now so that the next deferred scan takes it.
 *		Logs "ID: released from hold".
 *	-r ID	Requeue it (from hold incoming active deferred): rewrite it
 *		as a maildrop file (the records of a local submission,
 *		cleanup_clnt.h: the attributes a submission may carry, the
 *		sender, the recipients not yet done, the content), with the
 *		original arrival time as the file time, so that pickup and
 *		cleanup process it afresh; then remove the original and its
 *		logs. Logs "ID: requeued".
 *	-s	Structure check and repair (the default when no other
 *		operation is asked for), see below.
 * ID is a queue ID, "ALL" (upper case only) for every message, or "-"
 * to read IDs from standard input, one per line (a trailing '*' or '!'
 * of mailq's output is ignored). Each option may be repeated. Queue
 * names after the options limit every operation to those queues (an
 * operation skips the named queues it does not apply to); an unknown
 * name is a usage error. Only complete queue files (mail_queue.h) are
 * touched; an invalid ID is a warning and skipped. Operations run in
 * the order -s, -d, -h, -H, -r; each requested one ends with a count
 * ("Deleted: 2 messages", "Placed on hold: ...", "Released from hold:
 * ...", "Requeued: ..."), on stderr and in the log like every other
 * line here.
 *
 * -s: first the layout, in every queue directory: files whose hash
 * directory is not where mail_queue_path() puts them now (after a change
 * of hash_queue_depth or hash_queue_names) are moved there, and hash
 * directories no longer needed are removed once empty; temporary files
 * (".tmp.*", left by a crash in mail_queue_enter()) older than a day are
 * removed; objects that are neither files nor directories are removed;
 * other unexpected names are reported and left alone. Then every file of
 * maildrop incoming active deferred hold: a file whose ID does not match
 * its inode (restored from a backup: a new file could get the same ID)
 * is renamed, logs included; an incomplete file older than a day is
 * removed ("ID: incomplete queue file, removed"); a complete one is read
 * with qfile_read() and, if corrupt, moved to corrupt/ ("ID: corrupt
 * queue file: REASON, moved to corrupt/"). A summary line follows.
 *
 * Who may run it: the super-user, mail_owner, or the owner of
 * queue_directory when that is an ordinary user (an instance run by
 * that user); anybody else gets "super: must run as root or as
 * mail_owner" (EX_NOPERM). The super-user works as mail_owner (or as the
 * owner of a user's instance), so the files and directories it makes
 * belong to the mail system. It works with master running or not, like
 * postsuper: requeueing or deleting a message that qmgr is delivering
 * can repeat or cut a delivery.
 *
 * Exit status: 0; EX_IOERR (74) when some file operation failed (each
 * is logged); EX_USAGE, EX_CONFIG, EX_NOPERM.
 *
 * SECURITY: queue IDs from the command line or standard input reach a
 * path only through queue_id_valid(); directory walks never follow
 * symbolic links (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW); queue files,
 * maildrop files from users included, are read only through qfile.h's
 * checks, and what -r writes passes cleanup_clnt_check() before it is
 * committed, as pickup will check it again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "argv.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "conf.h"
#include "file.h"
#include "log.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "petrel.h"
#include "proto_names.h"
#include "qfile.h"
#include "queue_id.h"
#include "rec.h"
#include "str.h"
#include "stream.h"

/* Temporary and incomplete files older than this are debris. */
#define SUPER_STALE_AGE		(24 * 60 * 60)
/* Deepest hash level queue_id_hash() can make (7 + 4 symbols). */
#define SUPER_MAX_DEPTH		11
/* A line of IDs on standard input. */
#define SUPER_LINE_LIMIT	4096
/* Content piece per CONT record when -r rewrites a long line. */
#define SUPER_PIECE		8192
/* Buffered output of -r before a write(2). */
#define SUPER_WRITE_CHUNK	65536
/* Mode of a finished maildrop file, as postdrop makes it. */
#define SUPER_MAILDROP_READY	0744

/* The queues this command knows; the index is the bit in a mask. */
enum super_queue {
	SQ_HOLD, SQ_INCOMING, SQ_ACTIVE, SQ_DEFERRED, SQ_MAILDROP,
	SQ_CORRUPT, SQ_SAVED, SQ_BOUNCE, SQ_DEFER, SQ_TRACE, SQ_COUNT,
};

#define SQ(q)		(1u << (q))
#define SQ_MESSAGES	(SQ(SQ_HOLD) | SQ(SQ_INCOMING) | SQ(SQ_ACTIVE) \
			 | SQ(SQ_DEFERRED))
#define SQ_ALL		((1u << SQ_COUNT) - 1)

static const char *const super_queue_names[SQ_COUNT] = {
	[SQ_HOLD] = MAIL_QUEUE_HOLD,
	[SQ_INCOMING] = MAIL_QUEUE_INCOMING,
	[SQ_ACTIVE] = MAIL_QUEUE_ACTIVE,
	[SQ_DEFERRED] = MAIL_QUEUE_DEFERRED,
	[SQ_MAILDROP] = MAIL_QUEUE_MAILDROP,
	[SQ_CORRUPT] = MAIL_QUEUE_CORRUPT,
	[SQ_SAVED] = MAIL_QUEUE_SAVED,
	[SQ_BOUNCE] = MAIL_QUEUE_BOUNCE,
	[SQ_DEFER] = MAIL_QUEUE_DEFER,
	[SQ_TRACE] = MAIL_QUEUE_TRACE,
};

/* Per-message logs, removed or renamed with their message. */
static const enum super_queue super_log_queues[] = {
	SQ_BOUNCE, SQ_DEFER, SQ_TRACE,
};

/* Where -s reads every file (the others only get the layout check). */
#define SQ_CHECKED	(SQ_MESSAGES | SQ(SQ_MAILDROP))

/* The message operations, in the order they run. */
enum super_op {
	SUPER_DELETE, SUPER_HOLD, SUPER_RELEASE, SUPER_REQUEUE, SUPER_NOPS,
};

static const struct super_op_spec {
	int opt;
	const char *logged;	/* "ID: <logged>" */
	const char *summary;	/* "<summary>: N messages" */
	unsigned defaults;	/* queues without queue arguments */
	unsigned permitted;	/* queues it may be limited to */
	const char *target;	/* where it moves files, or NULL */
} super_ops[SUPER_NOPS] = {
	[SUPER_DELETE] = {'d', "removed", "Deleted", SQ_MESSAGES,
	    SQ_MESSAGES | SQ(SQ_MAILDROP) | SQ(SQ_CORRUPT), NULL},
	[SUPER_HOLD] = {'h', "placed on hold", "Placed on hold",
	    SQ(SQ_INCOMING) | SQ(SQ_ACTIVE) | SQ(SQ_DEFERRED),
	    SQ(SQ_INCOMING) | SQ(SQ_ACTIVE) | SQ(SQ_DEFERRED),
	    MAIL_QUEUE_HOLD},
	[SUPER_RELEASE] = {'H', "released from hold", "Released from hold",
	    SQ(SQ_HOLD), SQ(SQ_HOLD), MAIL_QUEUE_DEFERRED},
	[SUPER_REQUEUE] = {'r', "requeued", "Requeued", SQ_MESSAGES,
	    SQ_MESSAGES, NULL},
};

struct super_state {
	unsigned queues;		/* named queues, or 0 for defaults */
	long counts[SUPER_NOPS];
	bool failed;			/* some operation failed: EX_IOERR */
	time_t now;
	/* -s counts */
	long moved, renamed, tmp_removed, incomplete, corrupt;
};

/* A file operation failed: say so, remember it for the exit status. */
static void __attribute__((format(printf, 2, 3)))
super_fail(struct super_state *ss, const char *fmt, ...)
{
	struct buf text;
	va_list ap;
	int saved = errno;

	buf_init(&text, 128);
	errno = saved;			/* for %m */
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	/* msg_warn, not msg_error: a long run must not hit the error cap. */
	msg_warn("%s", text.data);
	buf_fini(&text);
	ss->failed = true;
}

/* ---- paths and moves ------------------------------------------------ */

/*
 * Find queue/[hash/]id as a regular file: where mail_queue_path() puts
 * it, else at any other hash depth (hash_queue_depth or hash_queue_names
 * changed since). 1 found (path and st set), 0 not there, -1 error.
 */
static int
super_find(const char *queue, const char *id, struct buf *path,
    struct stat *st)
{
	struct buf want;
	int depth;

	buf_init(&want, 64);
	mail_queue_path(&want, queue, id);
	for (depth = -1; depth <= SUPER_MAX_DEPTH; depth++) {
		buf_reset(path);
		if (depth < 0) {
			buf_puts(path, want.data);
		} else {
			buf_printf(path, "%s/", queue);
			queue_id_hash(path, id, depth);
			buf_puts(path, id);
			if (strcmp(path->data, want.data) == 0)
				continue;
		}
		if (lstat(path->data, st) == 0) {
			if (S_ISREG(st->st_mode)) {
				buf_fini(&want);
				return 1;
			}
		} else if (errno != ENOENT && errno != ENOTDIR && depth < 0) {
			msg_warn("%s: %m", path->data);
			buf_fini(&want);
			return -1;
		}
	}
	buf_fini(&want);
	return 0;
}

/* Make the hash directories that path ("queue/X/Y/id") needs. */
static int
super_mkhash(const char *path)
{
	struct buf dir;
	const char *slash;
	int ret = 0;

	buf_init(&dir, 64);
	if ((slash = strchr(path, '/')) == NULL)
		goto out;
	while ((slash = strchr(slash + 1, '/')) != NULL) {
		buf_setn(&dir, path, (size_t)(slash - path));
		if (mkdir(dir.data, 0700) < 0 && errno != EEXIST) {
			ret = -1;
			break;
		}
	}
out:
	buf_fini(&dir);
	return ret;
}

/*
 * Move from to to without replacing anything, making hash directories
 * as needed. 0, or -1 with errno (ENOENT: from is gone; EEXIST).
 */
static int
super_rename(const char *from, const char *to)
{
	struct stat st;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to,
		    RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EINVAL || errno == ENOSYS) {
			/* No RENAME_NOREPLACE here: check, then rename. */
			if (lstat(to, &st) == 0) {
				errno = EEXIST;
				return -1;
			}
			if (rename(from, to) == 0)
				return 0;
		}
		if (errno != ENOENT || tries > 0 || super_mkhash(to) < 0)
			return -1;
	}
	return -1;
}

/* Remove the per-message logs of id; false after a failure. */
static bool
super_remove_logs(struct super_state *ss, const char *id)
{
	struct buf path;
	struct stat st;
	size_t i;
	bool ok = true;

	buf_init(&path, 64);
	for (i = 0; i < sizeof(super_log_queues) / sizeof(*super_log_queues);
	    i++) {
		if (super_find(super_queue_names[super_log_queues[i]], id,
		    &path, &st) <= 0)
			continue;
		if (unlink(path.data) < 0 && errno != ENOENT) {
			super_fail(ss, "remove %s: %m", path.data);
			ok = false;
		}
	}
	buf_fini(&path);
	return ok;
}

/* Move queue file path (of id) to corrupt/, logging why. */
static void
super_quarantine(struct super_state *ss, const char *id, const char *path,
    const char *why)
{
	struct buf to;

	buf_init(&to, 64);
	mail_queue_path(&to, MAIL_QUEUE_CORRUPT, id);
	if (super_rename(path, to.data) < 0) {
		if (errno != ENOENT)
			super_fail(ss, "%s: corrupt queue file: %s; cannot "
			    "move it to %s: %m", id, why, to.data);
	} else {
		msg_warn("%s: corrupt queue file: %s, moved to %s/", id, why,
		    MAIL_QUEUE_CORRUPT);
		ss->corrupt++;
	}
	buf_fini(&to);
}

/* ---- -r: rewrite as a maildrop file ---------------------------------- */

/* The maildrop file being written, checked as pickup will check it. */
struct super_out {
	int fd;
	struct buf recs;	/* encoded, not yet written */
	struct cleanup_clnt_check chk;
	struct buf why;		/* what went wrong */
};

static bool
super_put(struct super_out *o, int type, const char *data, size_t len)
{
	enum cleanup_check_result res;

	res = cleanup_clnt_check(&o->chk, type, data, len, &o->why);
	if (res != CLEANUP_CHECK_OK && res != CLEANUP_CHECK_END)
		return false;
	rec_encode(&o->recs, type, data, len);
	if (o->recs.len >= SUPER_WRITE_CHUNK || res == CLEANUP_CHECK_END) {
		if (file_write_all(o->fd, o->recs.data, o->recs.len) < 0) {
			buf_printf(&o->why, "write: %s", strerror(errno));
			return false;
		}
		buf_reset(&o->recs);
	}
	return true;
}

/* Only these attributes may be in a submission (cleanup_clnt.h). */
static bool
super_attr_copied(const char *name)
{
	static const char *const names[] = {
		MAIL_ATTR_FULL_NAME, MAIL_ATTR_ENVID, MAIL_ATTR_RET,
		MAIL_ATTR_BODY_TYPE,
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * Write the submission records of qf (file fd) to o. 1 done, 0 when the
 * result would not be a valid submission (o->why says why), or
 * QFILE_CORRUPT / QFILE_IOERR from reading the content (why set).
 */
static int
super_copy(struct super_out *o, int fd, const struct qfile *qf,
    struct buf *why)
{
	struct qfile_content *qc;
	struct buf text;
	size_t i;
	int rc, ret = 0;

	buf_init(&text, 256);
	for (i = 0; i < qf->attr_count; i++) {
		if (!super_attr_copied(qf->attrs[i].name))
			continue;
		buf_reset(&text);
		buf_printf(&text, "%s=%s", qf->attrs[i].name,
		    qf->attrs[i].value);
		if (!super_put(o, REC_TYPE_ATTR, text.data, text.len))
			goto out;
	}
	if (!super_put(o, REC_TYPE_FROM, qf->sender, strlen(qf->sender)))
		goto out;
	for (i = 0; i < qf->rcpt_count; i++) {
		const struct qfile_rcpt *r = &qf->rcpts[i];

		if (r->done)
			continue;
		if ((r->orcpt && !super_put(o, REC_TYPE_ORCP, r->orcpt,
		    strlen(r->orcpt)))
		    || (r->notify && !super_put(o, REC_TYPE_NOTIFY, r->notify,
		    strlen(r->notify)))
		    || !super_put(o, REC_TYPE_RCPT, r->addr, strlen(r->addr)))
			goto out;
	}
	if (!super_put(o, REC_TYPE_MESG, "", 0))
		goto out;
	qc = qfile_content_open(fd, qf);
	for (;;) {
		rc = qfile_content_next(qc, &text, SUPER_PIECE, why);
		if (rc < 0) {
			ret = rc;
			break;
		}
		if (rc == QFILE_END) {
			ret = 1;
			break;
		}
		if (!super_put(o, rc == QFILE_PART ? REC_TYPE_CONT
		    : REC_TYPE_NORM, text.data, text.len))
			break;
	}
	qfile_content_close(qc);
	if (ret == 1 && (!super_put(o, REC_TYPE_XTRA, "", 0)
	    || !super_put(o, REC_TYPE_END, "", 0)))
		ret = 0;
out:
	buf_fini(&text);
	return ret;
}

/*
 * Write the new maildrop file and make it complete: the arrival time as
 * its time (pickup hands the file time to cleanup as the arrival), then
 * mode and one fsync. Returns true when the file is committed.
 */
static bool
super_maildrop(struct super_state *ss, const char *id, int fd,
    const struct qfile *qf, bool *corrupt, struct buf *why)
{
	struct super_out o = {.fd = -1};
	struct buf new_id, new_path;
	struct timespec times[2];
	bool ok = false;
	int rc;

	buf_init(&new_id, QUEUE_ID_MAX + 1);
	buf_init(&new_path, 64);
	buf_init(&o.recs, SUPER_WRITE_CHUNK + SUPER_PIECE + 16);
	buf_init(&o.why, 128);
	cleanup_clnt_check_init(&o.chk, var_message_size_limit);
	if ((o.fd = mail_queue_enter(MAIL_QUEUE_MAILDROP,
	    MAIL_QUEUE_MODE_WRITING, &new_id, NULL)) < 0) {
		super_fail(ss, "%s: not requeued: cannot create a file in "
		    "%s/: %m", id, MAIL_QUEUE_MAILDROP);
		goto out;
	}
	mail_queue_path(&new_path, MAIL_QUEUE_MAILDROP, new_id.data);
	rc = super_copy(&o, fd, qf, why);
	if (rc < 0) {
		*corrupt = rc == QFILE_CORRUPT;
		if (!*corrupt)
			super_fail(ss, "%s: not requeued: %s", id, why->data);
		goto fail;
	}
	if (rc == 0) {
		super_fail(ss, "%s: not requeued: %s", id, o.why.data);
		goto fail;
	}
	times[0].tv_sec = times[1].tv_sec = qf->arrival.tv_sec;
	times[0].tv_nsec = times[1].tv_nsec = qf->arrival.tv_usec * 1000L;
	if (qf->arrival.tv_sec > 0 && futimens(o.fd, times) < 0)
		msg_warn("%s: set the time of %s: %m", id, new_path.data);
	if (fchmod(o.fd, SUPER_MAILDROP_READY) < 0 || file_fsync(o.fd) < 0) {
		super_fail(ss, "%s: not requeued: %s: %m", id, new_path.data);
		goto fail;
	}
	rc = close(o.fd);
	o.fd = -1;
	if (rc < 0) {
		super_fail(ss, "%s: not requeued: close %s: %m", id,
		    new_path.data);
		goto fail;
	}
	if (msg_verbose)
		msg_info("%s: new maildrop file %s", id, new_path.data);
	ok = true;
	goto out;

fail:
	/* Incomplete (no owner-execute bit): pickup would not take it. */
	if (unlink(new_path.data) < 0)
		msg_warn("remove %s: %m", new_path.data);
out:
	if (o.fd >= 0)
		(void)close(o.fd);
	buf_fini(&o.recs);
	buf_fini(&o.why);
	buf_fini(&new_id);
	buf_fini(&new_path);
	return ok;
}

/* Requeue the complete queue file path of id; true when done. */
static bool
super_requeue(struct super_state *ss, const char *id, const char *path)
{
	struct qfile qf;
	struct buf why;
	bool corrupt = false, ok = false;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
	    | O_NOCTTY)) < 0) {
		if (errno != ENOENT)
			super_fail(ss, "open %s: %m", path);
		return false;
	}
	buf_init(&why, 128);
	rc = qfile_read_envelope(fd, &qf, &why);
	if (rc == QFILE_CORRUPT) {
		corrupt = true;
	} else if (rc != QFILE_OK) {
		super_fail(ss, "%s: %s", path, why.data);
	} else if (qf.done_count == qf.rcpt_count) {
		msg_warn("%s: no recipient left to deliver; not requeued",
		    id);
	} else if (super_maildrop(ss, id, fd, &qf, &corrupt, &why)) {
		/* A failure now means a duplicate, never a loss. */
		if (unlink(path) < 0 && errno != ENOENT)
			super_fail(ss, "%s: requeued, but the original %s "
			    "remains: %m", id, path);
		(void)super_remove_logs(ss, id);
		ok = true;
	}
	(void)close(fd);		/* read only */
	if (corrupt)
		super_quarantine(ss, id, path, why.data);
	qfile_fini(&qf);
	buf_fini(&why);
	return ok;
}

/* ---- -d -h -H -r on one message ----------------------------------- */

static void
super_act(struct super_state *ss, enum super_op op, const char *id,
    const char *path, const struct stat *st)
{
	const struct super_op_spec *spec = &super_ops[op];
	struct buf to;
	bool done = false;

	if (!mail_queue_complete(st)) {
		if (msg_verbose)
			msg_info("%s: skipping incomplete file", path);
		return;
	}
	buf_init(&to, 64);
	switch (op) {
	case SUPER_DELETE:
		if (unlink(path) == 0) {
			(void)super_remove_logs(ss, id);
			done = true;
		} else if (errno != ENOENT) {
			super_fail(ss, "remove %s: %m", path);
		}
		break;
	case SUPER_HOLD:
	case SUPER_RELEASE:
		mail_queue_path(&to, spec->target, id);
		if (super_rename(path, to.data) == 0)
			done = true;
		else if (errno != ENOENT)
			super_fail(ss, "move %s to %s: %m", path, to.data);
		/* In deferred/ the file time is the next attempt: now. */
		if (done && op == SUPER_RELEASE && utimensat(AT_FDCWD,
		    to.data, NULL, AT_SYMLINK_NOFOLLOW) < 0)
			msg_warn("%s: set the time of %s: %m", id, to.data);
		break;
	case SUPER_REQUEUE:
		done = super_requeue(ss, id, path);
		break;
	case SUPER_NOPS:
		msg_panic("super_act: bad operation");
	}
	if (done) {
		msg_info("%s: %s", id, spec->logged);
		ss->counts[op]++;
	}
	buf_fini(&to);
}

/* The queues op works on (queue arguments, else its defaults). */
static unsigned
super_op_queues(const struct super_state *ss, enum super_op op)
{
	if (ss->queues == 0)
		return super_ops[op].defaults;
	return ss->queues & super_ops[op].permitted;
}

/* Every complete file of one queue (op ALL). */
static void
super_all(struct super_state *ss, enum super_op op, const char *queue)
{
	struct mail_scan *scan;
	struct stat st;
	const char *id;
	char *qid, *path;

	if ((scan = mail_scan_open(queue)) == NULL) {
		if (errno != ENOENT)
			super_fail(ss, "scan %s: %m", queue);
		return;
	}
	while ((id = mail_scan_next(scan)) != NULL) {
		/* Copies: the scan's buffer changes if we move files. */
		qid = xstrdup(id);
		path = xstrdup(mail_scan_path(scan));
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			super_act(ss, op, qid, path, &st);
		free(qid);
		free(path);
	}
	mail_scan_close(scan);
}

/* One -d/-h/-H/-r argument that is not "-". */
static void
super_id(struct super_state *ss, enum super_op op, const char *arg)
{
	unsigned mask = super_op_queues(ss, op);
	struct buf path, shown;
	struct stat st;
	bool found = false;
	int q;

	if (strcmp(arg, "ALL") == 0) {
		for (q = 0; q < SQ_COUNT; q++)
			if (mask & SQ(q))
				super_all(ss, op, super_queue_names[q]);
		return;
	}
	if (!queue_id_valid(arg)) {
		buf_init(&shown, 64);
		str_printable(&shown, arg, strlen(arg) > 100 ? 100
		    : strlen(arg));
		msg_warn("invalid queue ID: \"%s\"", shown.data);
		buf_fini(&shown);
		return;
	}
	buf_init(&path, 64);
	for (q = 0; q < SQ_COUNT; q++) {
		if ((mask & SQ(q)) == 0)
			continue;
		if (super_find(super_queue_names[q], arg, &path, &st) > 0) {
			found = true;
			super_act(ss, op, arg, path.data, &st);
		}
	}
	if (!found && msg_verbose)
		msg_info("%s: not found", arg);
	buf_fini(&path);
}

/* "-": one ID per line on standard input. */
static void
super_stdin(struct super_state *ss, enum super_op op)
{
	struct stream *in = stream_new(STDIN_FILENO);
	struct buf line;
	size_t len;

	buf_init(&line, 64);
	for (;;) {
		buf_reset(&line);
		if (stream_get_line(in, &line, SUPER_LINE_LIMIT) < 0) {
			if (stream_error(in) == STREAM_ERR_LIMIT)
				msg_warn("standard input: line longer than %d "
				    "bytes; stopped reading", SUPER_LINE_LIMIT);
			else if (stream_error(in) != STREAM_ERR_EOF)
				super_fail(ss, "read standard input: %m");
			break;
		}
		str_trim(line.data);
		len = strlen(line.data);
		/* mailq marks active ('*') and held ('!') messages. */
		if (len > 0 && (line.data[len - 1] == '*'
		    || line.data[len - 1] == '!'))
			line.data[--len] = 0;
		if (len > 0)
			super_id(ss, op, line.data);
	}
	buf_fini(&line);
	(void)stream_release(in);	/* stdin stays open */
}

/* ---- -s: structure check and repair -------------------------------- */

static bool
super_hash_name(const char *name)
{
	static const char symbols[] =
	    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy";

	return name[0] != 0 && name[1] == 0
	    && strchr(symbols, name[0]) != NULL;
}

struct super_walk {
	const char *queue;
	int depth;		/* hash levels this queue uses now */
	struct buf path;	/* "queue/X/" + the current name */
};

/* A file named by a queue ID: move it where it belongs now. */
static void
super_relocate(struct super_state *ss, struct super_walk *w,
    const char *id)
{
	struct buf want;

	buf_init(&want, 64);
	mail_queue_path(&want, w->queue, id);
	if (strcmp(want.data, w->path.data) != 0) {
		if (super_rename(w->path.data, want.data) == 0) {
			msg_info("%s: moved misplaced file %s to %s", id,
			    w->path.data, want.data);
			ss->moved++;
		} else if (errno != ENOENT) {
			super_fail(ss, "%s: move %s to %s: %m", id,
			    w->path.data, want.data);
		}
	}
	buf_fini(&want);
}

static const char *
super_file_type(mode_t mode)
{
	if (S_ISLNK(mode))
		return "symbolic link";
	if (S_ISFIFO(mode))
		return "fifo";
	if (S_ISSOCK(mode))
		return "socket";
	return "special file";
}

/* Walk one directory (dfd is taken over) at hash level. */
static void
super_walk_dir(struct super_state *ss, struct super_walk *w, int dfd,
    int level)
{
	struct dirent *ent;
	struct stat st;
	size_t plen = w->path.len;
	DIR *dir;
	int fd;

	if ((dir = fdopendir(dfd)) == NULL) {
		super_fail(ss, "open directory %s: %m", w->path.data);
		(void)close(dfd);
		return;
	}
	for (errno = 0; (ent = readdir(dir)) != NULL; errno = 0) {
		const char *name = ent->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		buf_truncate(&w->path, plen);
		buf_puts(&w->path, name);
		if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				super_fail(ss, "%s: %m", w->path.data);
		} else if (S_ISDIR(st.st_mode)) {
			if (!super_hash_name(name)
			    || level >= SUPER_MAX_DEPTH) {
				msg_warn("%s: unexpected directory, left "
				    "alone", w->path.data);
				continue;
			}
			fd = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY
			    | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				super_fail(ss, "open directory %s: %m",
				    w->path.data);
				continue;
			}
			buf_putc(&w->path, '/');
			super_walk_dir(ss, w, fd, level + 1);
			buf_truncate(&w->path, plen + strlen(name));
			/* A level the current depth no longer uses. */
			if (level + 1 > w->depth && unlinkat(dirfd(dir), name,
			    AT_REMOVEDIR) < 0 && errno != ENOTEMPTY
			    && errno != EEXIST && errno != ENOENT)
				super_fail(ss, "remove directory %s: %m",
				    w->path.data);
		} else if (S_ISREG(st.st_mode)) {
			if (queue_id_valid(name)) {
				super_relocate(ss, w, name);
			} else if (str_has_prefix(name, ".tmp.")) {
				if (st.st_mtime > ss->now - SUPER_STALE_AGE)
					continue;
				if (unlinkat(dirfd(dir), name, 0) < 0) {
					if (errno != ENOENT)
						super_fail(ss, "remove %s: %m",
						    w->path.data);
					continue;
				}
				msg_info("removed stale temporary file %s",
				    w->path.data);
				ss->tmp_removed++;
			} else {
				msg_warn("%s: unexpected file, left alone",
				    w->path.data);
			}
		} else {
			/* Nothing else belongs here (a planted fifo ...). */
			if (unlinkat(dirfd(dir), name, 0) < 0) {
				if (errno != ENOENT)
					super_fail(ss, "remove %s: %m",
					    w->path.data);
			} else {
				msg_warn("%s: unexpected %s, removed",
				    w->path.data, super_file_type(st.st_mode));
			}
		}
	}
	if (errno != 0)
		super_fail(ss, "read directory %s: %m", w->path.data);
	buf_truncate(&w->path, plen);
	(void)closedir(dir);
}

static void
super_layout(struct super_state *ss, const char *queue)
{
	struct super_walk w = {.queue = queue};
	int fd;

	fd = open(queue, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			super_fail(ss, "open directory %s: %m", queue);
		return;
	}
	w.depth = mail_queue_hashed(queue) ? var_hash_queue_depth : 0;
	buf_init(&w.path, 64);
	buf_printf(&w.path, "%s/", queue);
	super_walk_dir(ss, &w, fd, 0);
	buf_fini(&w.path);
}

/*
 * The ID a file at path should have, given its inode (IDs embed it);
 * renames the file and its logs when it differs. Returns the ID to use
 * from now on (id, or new_id's data) and the path in path.
 */
static const char *
super_inode(struct super_state *ss, const char *queue, const char *id,
    struct buf *path, const struct stat *st, struct buf *new_id)
{
	struct buf to, log;
	struct stat lst;
	uint64_t sec;
	uint32_t usec;
	size_t i;

	if (queue_id_time(id, &sec, &usec) < 0)
		return id;
	queue_id_make(new_id, sec, usec, st->st_ino);
	if (strcmp(new_id->data, id) == 0)
		return id;
	buf_init(&to, 64);
	buf_init(&log, 64);
	mail_queue_path(&to, queue, new_id->data);
	if (super_rename(path->data, to.data) < 0) {
		if (errno != ENOENT)
			super_fail(ss, "%s: does not match the file's inode; "
			    "cannot rename %s to %s: %m", id, path->data,
			    to.data);
		id = NULL;
		goto out;
	}
	msg_info("%s: does not match the file's inode, renamed to %s", id,
	    new_id->data);
	ss->renamed++;
	for (i = 0; i < sizeof(super_log_queues) / sizeof(*super_log_queues);
	    i++) {
		const char *lq = super_queue_names[super_log_queues[i]];

		if (super_find(lq, id, &log, &lst) <= 0)
			continue;
		buf_reset(&to);
		mail_queue_path(&to, lq, new_id->data);
		if (super_rename(log.data, to.data) < 0 && errno != ENOENT)
			super_fail(ss, "rename %s to %s: %m", log.data,
			    to.data);
	}
	buf_reset(path);
	mail_queue_path(path, queue, new_id->data);
	id = new_id->data;
out:
	buf_fini(&to);
	buf_fini(&log);
	return id;
}

/* Check one file that a scan of queue found at path. */
static void
super_check_file(struct super_state *ss, const char *queue,
    const char *found_id, const char *found_path)
{
	bool maildrop = strcmp(queue, MAIL_QUEUE_MAILDROP) == 0;
	struct buf path, new_id, why;
	struct stat st, fst;
	struct qfile qf;
	const char *id;
	int fd, rc;

	if (lstat(found_path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	buf_init(&path, 64);
	buf_init(&new_id, QUEUE_ID_MAX + 1);
	buf_init(&why, 128);
	buf_set(&path, found_path);
	if (!mail_queue_complete(&st)) {
		/* Its writer died (or is still at it: hence the age). */
		if (st.st_mtime > ss->now - SUPER_STALE_AGE)
			goto out;
		if (unlink(path.data) < 0) {
			if (errno != ENOENT)
				super_fail(ss, "remove %s: %m", path.data);
			goto out;
		}
		msg_info("%s: incomplete queue file, removed", found_id);
		ss->incomplete++;
		goto out;
	}
	if ((id = super_inode(ss, queue, found_id, &path, &st, &new_id))
	    == NULL)
		goto out;
	fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
	    | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT)
			super_fail(ss, "open %s: %m", path.data);
		goto out;
	}
	if (fstat(fd, &fst) < 0 || fst.st_ino != st.st_ino) {
		(void)close(fd);	/* replaced meanwhile: not ours */
		goto out;
	}
	rc = qfile_read_flags(fd, maildrop ? QFILE_FLAG_MAILDROP
	    : QFILE_FLAG_NONE, &qf, &why);
	qfile_fini(&qf);
	(void)close(fd);		/* read only */
	if (rc == QFILE_CORRUPT)
		super_quarantine(ss, id, path.data, why.data);
	else if (rc != QFILE_OK)
		super_fail(ss, "%s: %s", path.data, why.data);
out:
	buf_fini(&path);
	buf_fini(&new_id);
	buf_fini(&why);
}

static void
super_check_queue(struct super_state *ss, const char *queue)
{
	struct mail_scan *scan;
	const char *id;
	char *qid, *path;

	if ((scan = mail_scan_open(queue)) == NULL) {
		if (errno != ENOENT)
			super_fail(ss, "scan %s: %m", queue);
		return;
	}
	while ((id = mail_scan_next(scan)) != NULL) {
		qid = xstrdup(id);
		path = xstrdup(mail_scan_path(scan));
		super_check_file(ss, queue, qid, path);
		free(qid);
		free(path);
	}
	mail_scan_close(scan);
}

static void
super_structure(struct super_state *ss)
{
	unsigned mask = ss->queues ? ss->queues : SQ_ALL;
	int q;

	/* Layout first, so that the scans below find every file. */
	for (q = 0; q < SQ_COUNT; q++)
		if (mask & SQ(q))
			super_layout(ss, super_queue_names[q]);
	for (q = 0; q < SQ_COUNT; q++)
		if (mask & SQ_CHECKED & SQ(q))
			super_check_queue(ss, super_queue_names[q]);
	msg_info("Structure check: %ld misplaced file%s moved, %ld file%s "
	    "renamed, %ld temporary and %ld incomplete file%s removed, %ld "
	    "corrupt file%s moved to %s/", ss->moved,
	    ss->moved == 1 ? "" : "s", ss->renamed,
	    ss->renamed == 1 ? "" : "s", ss->tmp_removed, ss->incomplete,
	    ss->incomplete == 1 ? "" : "s", ss->corrupt,
	    ss->corrupt == 1 ? "" : "s", MAIL_QUEUE_CORRUPT);
}

/* ---- set-up ------------------------------------------------------------ */

/*
 * Refuse anybody but the super-user, mail_owner and the owner of a
 * user's instance. Returns true when the super-user is to continue as
 * the uid and gid returned: mail_owner, or the owner of a user's
 * instance, so that new files and directories belong to the mail system.
 */
static bool
super_check_user(uid_t *uid, gid_t *gid)
{
	const struct passwd *pw = getpwnam(var_mail_owner);
	struct stat st;
	uid_t me = geteuid();

	if (stat(var_queue_directory, &st) < 0)
		msg_fatal_status(EX_CONFIG, "queue_directory %s: %m",
		    var_queue_directory);
	if (me != 0) {
		if ((pw != NULL && pw->pw_uid == me) || st.st_uid == me)
			return false;
		msg_fatal_status(EX_NOPERM, "super: must run as root or as "
		    "mail_owner");
	}
	if (st.st_uid != 0) {
		*uid = st.st_uid;	/* an instance of an ordinary user */
		*gid = st.st_gid;
	} else if (pw == NULL) {
		msg_fatal_status(EX_CONFIG, "mail_owner: unknown user \"%s\"",
		    var_mail_owner);
	} else if (pw->pw_uid == 0) {
		msg_fatal_status(EX_CONFIG, "mail_owner: user \"%s\" has the "
		    "super-user's uid 0", var_mail_owner);
	} else {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	return true;
}

static int
super_queue_index(const char *name)
{
	int q;

	for (q = 0; q < SQ_COUNT; q++)
		if (strcmp(name, super_queue_names[q]) == 0)
			return q;
	return -1;
}

static enum super_op
super_op_of(int ch)
{
	enum super_op op;

	for (op = 0; op < SUPER_NOPS; op++)
		if (super_ops[op].opt == ch)
			return op;
	return SUPER_NOPS;
}

int
petrel_super(const char *dir, int argc, char **argv)
{
	struct super_state ss = {0};
	struct argv *args[SUPER_NOPS] = {0};
	bool structure = false, any = false, become;
	enum super_op op;
	uid_t uid = 0;
	gid_t gid = 0;
	struct buf shown;
	char *abs_dir;
	size_t i;
	int ch, q, rc;

	optind = 0;			/* restart getopt (glibc) */
	while ((ch = petrel_getopt(argc, argv, "c:d:h:H:r:sv")) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 's':
			structure = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'd':
		case 'h':
		case 'H':
		case 'r':
			op = super_op_of(ch);
			if (args[op] == NULL)
				args[op] = argv_new();
			argv_add(args[op], optarg);
			any = true;
			break;
		default:
			petrel_usage();
		}
	}
	for (; optind < argc; optind++) {
		if ((q = super_queue_index(argv[optind])) < 0) {
			buf_init(&shown, 64);
			str_printable(&shown, argv[optind],
			    strnlen(argv[optind], 100));
			msg_fatal_status(EX_USAGE, "super: unknown queue "
			    "\"%s\"", shown.data);
		}
		ss.queues |= SQ(q);
	}
	if (!any)
		structure = true;

	if (dir == NULL || *dir == 0)
		dir = conf_default_dir();
	abs_dir = petrel_abs_dir(dir);
	rc = conf_load(abs_dir, NULL);
	free(abs_dir);
	if (rc < 0)
		return EX_CONFIG;
	become = super_check_user(&uid, &gid);
	/* "petrel/super[pid]: ID: removed", as postsuper's lines. */
	{
		struct buf ident;

		buf_init(&ident, 32);
		buf_printf(&ident, "%s/super", var_syslog_name);
		log_set_ident(ident.data);
		buf_fini(&ident);
	}
	/* The log first: the super-user may write where mail_owner may not. */
	if (*var_maillog_file != 0) {
		if (log_file(var_maillog_file) < 0)
			msg_warn("maillog_file %s: %m", var_maillog_file);
	} else {
		(void)log_syslog(var_syslog_facility);
	}
	if (become && (setgroups(1, &gid) < 0 || setgid(gid) < 0
	    || setuid(uid) < 0))
		msg_fatal_status(EX_OSERR, "cannot become uid %lu: %m",
		    (unsigned long)uid);
	if (chdir(var_queue_directory) < 0)
		msg_fatal_status(EX_CONFIG, "chdir %s: %m",
		    var_queue_directory);
	umask(077);
	ss.now = time(NULL);

	if (structure)
		super_structure(&ss);
	for (op = 0; op < SUPER_NOPS; op++) {
		if (args[op] == NULL)
			continue;
		for (i = 0; i < args[op]->argc; i++) {
			if (strcmp(args[op]->argv[i], "-") == 0)
				super_stdin(&ss, op);
			else
				super_id(&ss, op, args[op]->argv[i]);
		}
	}
	for (op = 0; op < SUPER_NOPS; op++) {
		if (args[op] == NULL)
			continue;
		msg_info("%s: %ld message%s", super_ops[op].summary,
		    ss.counts[op], ss.counts[op] == 1 ? "" : "s");
		argv_free(args[op]);
	}
	return ss.failed ? EX_IOERR : 0;
}
