/*
 * pickup.c - hand locally submitted mail from maildrop/ to cleanup
 *
 * master.cf:	pickup fifo n - n 60 1 pickup
 *
 * A trigger server (server.h): postdrop pokes public/pickup after each
 * new file and master's wakeup timer pokes it every 60 seconds. Each
 * poke scans maildrop/ (mail_scan_open()) and, for each complete file,
 * opens a cleanup connection (cleanup_clnt.h, CLEANUP_FLAG_BOUNCE: the
 * sender is not there to hear about content errors), sends
 *
 *	TIME	the file's modification time (when postdrop finished)
 *	ATTR	rewrite_context=local, submit_uid=<file owner>,
 *		log_ident=<maildrop queue ID>
 *
 * and then the file's records, and logs "QUEUEID: uid=N from=<sender>"
 * (Postfix's format; QUEUEID is the new ID in incoming/). The maildrop
 * file is removed only after cleanup answered 0 (queued and synced).
 *
 *	cleanup status		the maildrop file
 *	0			removed
 *	DEFER or WRITE		left for the next scan, which stops here
 *	(or no connection)	(cleanup is not working, do not hammer it)
 *	BAD			moved to corrupt/
 *	other (SIZE, HOPS,	removed with a warning naming the reason;
 *	CONT, RCPT)		there is no bounce service yet (see below)
 *
 * A file that is not ready (no owner-execute bit: postdrop is still
 * writing it) is skipped. One that is not a regular file, has more than
 * one link, is larger than the message size allows, or whose records
 * are not a valid submission (cleanup_clnt_check()) is logged and moved
 * to corrupt/ (the cleanup connection is dropped before END, so cleanup
 * discards its copy).
 *
 * SECURITY: a maildrop file belongs to the user who submitted it, who
 * may have changed it after postdrop checked it, or replaced it with a
 * link, a fifo or a device. pickup opens it with O_NOFOLLOW|O_NONBLOCK,
 * takes a non-blocking flock(2) (a file locked by someone else, another
 * pickup or its owner, is skipped until the next scan), checks type,
 * link count and size on the open descriptor, reads it with
 * record length limits, and accepts only what a submission may contain,
 * so the user cannot set the attributes pickup vouches for (submit_uid,
 * rewrite_context): pickup sends those first and cleanup refuses a
 * duplicate. Only the file's owner uid is trusted, from fstat(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "mail_queue.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "rec.h"
#include "server.h"
#include "str.h"
#include "stream.h"

/* What became of one maildrop file. */
enum pickup_result {
	PICKUP_DONE,		/* handed over, removed, or quarantined */
	PICKUP_SKIP,		/* not ready; look again next time */
	PICKUP_RETRY,		/* cleanup unavailable: stop this scan */
};

/* Envelope and record overhead allowed beyond the content (see below). */
#define PICKUP_SIZE_SLACK	65536

struct pickup_file {
	const char *id;		/* maildrop queue ID */
	const char *path;	/* where the scan found it */
	int fd;
	struct stat st;
	struct buf sender;	/* printable, for the log */
};

static void
pickup_corrupt(struct pickup_file *f, const char *why)
{
	msg_warn("%s: malformed maildrop file from uid=%lu: %s; moved to "
	    "%s/", f->path, (unsigned long)f->st.st_uid, why,
	    MAIL_QUEUE_CORRUPT);
	if (mail_queue_rename(f->id, MAIL_QUEUE_MAILDROP, MAIL_QUEUE_CORRUPT)
	    < 0)
		msg_warn("%s: move to %s/: %m", f->path, MAIL_QUEUE_CORRUPT);
}

static void
pickup_remove(struct pickup_file *f)
{
	if (unlink(f->path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %m", f->path);
}

/*
 * The largest file a submission within message_size_limit can make: each
 * counted byte costs at most two bytes of record (an empty line is a
 * type byte and a zero length), plus fixed overhead. 0: no limit.
 */
static bool
pickup_size_ok(const struct stat *st)
{
	long max;

	if (var_message_size_limit <= 0)
		return true;
	if (__builtin_mul_overflow(var_message_size_limit, 2L, &max)
	    || __builtin_add_overflow(max, (long)PICKUP_SIZE_SLACK, &max))
		return true;
	return st->st_size <= max;
}

/*
 * Copy the file's records to cleanup. Returns 0 after END was sent (or
 * when cleanup went away: cleanup_clnt_finish() says so), or -1 with
 * why set when the file is malformed.
 */
static int
pickup_copy(struct pickup_file *f, struct cleanup_clnt *c, struct buf *why)
{
	struct cleanup_clnt_check chk;
	enum cleanup_check_result res;
	struct stream *in = stream_new(f->fd);
	struct buf data;
	int type, ret = -1;

	buf_init(&data, 4096);
	cleanup_clnt_check_init(&chk, var_message_size_limit);
	for (;;) {
		buf_reset(why);
		if ((type = rec_get(in, &data, CLEANUP_CLNT_REC_LIMIT, why))
		    < 0)
			break;
		buf_reset(why);
		res = cleanup_clnt_check(&chk, type, data.data, data.len, why);
		if (res != CLEANUP_CHECK_OK && res != CLEANUP_CHECK_END)
			break;
		if (type == REC_TYPE_FROM) {
			str_printable(&f->sender, data.data, data.len);
			msg_info("%s: uid=%lu from=<%s>",
			    cleanup_clnt_queue_id(c),
			    (unsigned long)f->st.st_uid, f->sender.data);
		}
		/* cleanup went away: finish reports it, try again later. */
		if (cleanup_clnt_put(c, type, data.data, data.len) < 0) {
			ret = 0;
			break;
		}
		if (res == CLEANUP_CHECK_END) {
			/* Nothing may follow END. */
			if (stream_getc(in) >= 0) {
				buf_set(why, "data after the end record");
				break;
			}
			if (stream_error(in) != STREAM_ERR_EOF) {
				buf_printf(why, "read: %s", strerror(errno));
				break;
			}
			ret = 0;
			break;
		}
	}
	buf_fini(&data);
	f->fd = stream_release(in);
	return ret;
}

/* Hand one maildrop file to cleanup. */
static enum pickup_result
pickup_file(const char *id, const char *path)
{
	struct pickup_file f = {.id = id, .path = path, .fd = -1};
	struct cleanup_clnt *c = NULL;
	struct buf why;
	enum pickup_result res = PICKUP_DONE;
	int status;

	buf_init(&why, 128);
	buf_init(&f.sender, 64);
	/*
	 * A file that postdrop is still writing may not be readable for us
	 * yet (postdrop run by root without set-gid): leave it quietly until
	 * it is complete. The checks that count are made again on the open
	 * descriptor below.
	 */
	if (lstat(path, &f.st) == 0 && S_ISREG(f.st.st_mode)
	    && !mail_queue_complete(&f.st)) {
		res = PICKUP_SKIP;
		goto out;
	}
	f.fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
	    | O_NOCTTY);
	if (f.fd < 0) {
		if (errno == ENOENT)		/* gone meanwhile */
			goto out;
		if (errno == ELOOP) {
			memset(&f.st, 0, sizeof(f.st));
			(void)lstat(path, &f.st);
			pickup_corrupt(&f, "symbolic link");
			goto out;
		}
		msg_warn("open %s: %m", path);
		res = PICKUP_SKIP;
		goto out;
	}
	/*
	 * Two pickup processes may see the same file (an old one finishing
	 * its scan after a reload): the one that holds the lock hands it
	 * over, the other skips it, and a file removed by the first while
	 * the second waited has no link left.
	 */
	if (flock(f.fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			msg_warn("lock %s: %m", path);
		res = PICKUP_SKIP;
		goto out;
	}
	if (fstat(f.fd, &f.st) < 0) {
		msg_warn("fstat %s: %m", path);
		res = PICKUP_SKIP;
		goto out;
	}
	if (!S_ISREG(f.st.st_mode)) {
		pickup_corrupt(&f, "not a regular file");
		goto out;
	}
	if (f.st.st_nlink == 0)			/* handed over meanwhile */
		goto out;
	if (f.st.st_nlink != 1) {
		buf_printf(&why, "%lu links", (unsigned long)f.st.st_nlink);
		pickup_corrupt(&f, why.data);
		goto out;
	}
	if (!mail_queue_complete(&f.st)) {
		/* postdrop is still writing it (or died: petrel super). */
		res = PICKUP_SKIP;
		goto out;
	}
	if (!pickup_size_ok(&f.st)) {
		buf_printf(&why, "%lld bytes exceeds what message_size_limit "
		    "allows", (long long)f.st.st_size);
		pickup_corrupt(&f, why.data);
		goto out;
	}

	if ((c = cleanup_clnt_open(NULL, CLEANUP_FLAG_BOUNCE, &why)) == NULL) {
		msg_warn("%s: %s; will try again", path, why.data);
		res = PICKUP_RETRY;
		goto out;
	}
	(void)cleanup_clnt_printf(c, REC_TYPE_TIME, "%lld %ld",
	    (long long)f.st.st_mtim.tv_sec,
	    (long)(f.st.st_mtim.tv_nsec / 1000));
	(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s",
	    MAIL_ATTR_RWR_CONTEXT, "local");
	(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%lu",
	    MAIL_ATTR_SUBMIT_UID, (unsigned long)f.st.st_uid);
	(void)cleanup_clnt_printf(c, REC_TYPE_ATTR, "%s=%s",
	    MAIL_ATTR_LOG_IDENT, id);
	if (pickup_copy(&f, c, &why) < 0) {
		/* Hang up before END: cleanup discards its file. */
		cleanup_clnt_free(c);
		c = NULL;
		pickup_corrupt(&f, why.data);
		goto out;
	}
	status = cleanup_clnt_finish(c, &why);
	if (status == 0) {
		pickup_remove(&f);
	} else if (status & (CLEANUP_STAT_DEFER | CLEANUP_STAT_WRITE)) {
		msg_warn("%s: %s: %s; will try again",
		    cleanup_clnt_queue_id(c), path, why.data);
		res = PICKUP_RETRY;
	} else if (status & CLEANUP_STAT_BAD) {
		pickup_corrupt(&f, why.data);
	} else {
		/*
		 * XXX issue 4 item 7: bounce the message to its sender once
		 * the bounce service exists; until then it is only logged.
		 */
		msg_warn("%s: uid=%lu from=<%s>: message rejected: %s; "
		    "removed from %s/", cleanup_clnt_queue_id(c),
		    (unsigned long)f.st.st_uid, f.sender.data, why.data,
		    MAIL_QUEUE_MAILDROP);
		pickup_remove(&f);
	}

out:
	cleanup_clnt_free(c);
	if (f.fd >= 0)
		(void)close(f.fd);
	buf_fini(&f.sender);
	buf_fini(&why);
	return res;
}

static void
pickup_service(const char *req, size_t len, const char *service,
    char **argv)
{
	struct mail_scan *scan;
	const char *id;

	/* Every request means "look": its bytes do not matter. */
	(void)req;
	(void)len;
	(void)service;
	(void)argv;
	if ((scan = mail_scan_open(MAIL_QUEUE_MAILDROP)) == NULL) {
		msg_warn("scan %s: %m", MAIL_QUEUE_MAILDROP);
		return;
	}
	while ((id = mail_scan_next(scan)) != NULL)
		if (pickup_file(id, mail_scan_path(scan)) == PICKUP_RETRY)
			break;
	mail_scan_close(scan);
}

static const struct trigger_server_spec pickup_spec = {
	.name = "pickup",
	.service = pickup_service,
};

int
main(int argc, char **argv)
{
	return trigger_server_main(argc, argv, &pickup_spec);
}
