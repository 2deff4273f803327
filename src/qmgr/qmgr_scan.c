/*
 * qmgr_scan.c - feed the active queue from incoming/ and deferred/
 *
 * A scan walks one queue directory (mail_scan_*()) a few files per turn
 * of the event loop, so that deliveries go on while a large queue is
 * read. A scan requested while one of the same queue runs sets "again":
 * when the walk ends it starts over (a file may have arrived behind it).
 * Incoming mail comes first: the deferred scan takes a file only when
 * the incoming scan has nothing, or once in QMGR_DEFERRED_SHARE files so
 * that a steady stream of new mail cannot starve the deferred queue.
 *
 * For each queue file found:
 *	- not complete (no owner-execute bit: still being written, see
 *	  mail_queue.h): left alone; but an incomplete file in incoming/
 *	  that nobody wrote for daemon_timeout seconds is the debris of a
 *	  crashed cleanup (which gives up on a silent client after
 *	  ipc_timeout, and is killed by its watchdog after daemon_timeout):
 *	  its client was never told "queued" and still holds the message,
 *	  so the file is removed ("ID: removed incomplete queue file");
 *	- deferred/, not a flush, mtime (the retry time) in the future:
 *	  left alone; a deferred file already taken by this scan (it came
 *	  back to deferred/ meanwhile) is not taken twice;
 *	- the envelope is read (qfile_read_envelope()); a corrupt file or
 *	  one that is not a regular file goes to corrupt/ with a warning
 *	  naming the queue ID and the reason; a read error leaves it for the
 *	  next scan;
 *	- when the active queue is full (qmgr_message_active_limit
 *	  messages, or the message's undelivered recipients would go past
 *	  qmgr_message_recipient_limit while other messages are active) the
 *	  scan pauses on this file until a message leaves;
 *	- otherwise the file is renamed into active/ and handed to
 *	  qmgr_message_activate().
 * The file is read before it is moved, so a message that does not fit
 * stays where it was.
 *
 * SECURITY: only names that pass queue_id_valid() are used (the scan
 * checks them); files are opened with O_NOFOLLOW|O_NONBLOCK and checked
 * with fstat(2) and the validating reader before use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "file.h"
#include "htable.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "qfile.h"
#include "qmgr.h"
#include "queue_id.h"
#include "server.h"

/* Files looked at per turn of the event loop. */
#define QMGR_FEED_BATCH		100
/* One file in this many comes from deferred/ while both scans run. */
#define QMGR_DEFERRED_SHARE	10
/* At most this many IDs wait to be forced (petrel queue -i). */
#define QMGR_FORCED_MAX		1000

struct qmgr_scan {
	const char *queue;
	struct mail_scan *scan;		/* open while the walk runs */
	bool flush;			/* this walk ignores retry times */
	bool again;			/* walk again when this one ends */
	bool again_flush;
	struct htable *seen;		/* deferred: IDs taken this walk */
	struct buf held_id;		/* did not fit: try it first */
	struct buf held_path;
};

enum qmgr_take {
	QMGR_TAKE_DONE,			/* taken, skipped, quarantined */
	QMGR_TAKE_FULL,			/* no room: hold it */
};

static struct qmgr_scan qmgr_incoming = {.queue = MAIL_QUEUE_INCOMING};
static struct qmgr_scan qmgr_deferred = {.queue = MAIL_QUEUE_DEFERRED};
static struct htable *qmgr_forced;	/* IDs moved by petrel queue -i */
static struct event *qmgr_feed_ev;
static unsigned qmgr_picks;		/* files looked at, for the share */

static void qmgr_feed(void);

void
qmgr_feed_soon(void)
{
	struct timeval zero = {0, 0};

	(void)evtimer_add(qmgr_feed_ev, &zero);
}

void
qmgr_scan_init(void)
{
	qmgr_feed_ev = qmgr_event_soon(qmgr_feed);
	qmgr_forced = htable_new(16);
	buf_init(&qmgr_incoming.held_id, QUEUE_ID_MAX + 1);
	buf_init(&qmgr_incoming.held_path, 64);
	buf_init(&qmgr_deferred.held_id, QUEUE_ID_MAX + 1);
	buf_init(&qmgr_deferred.held_path, 64);
}

int
qmgr_move(const char *id, const char *from_path, const char *to_queue)
{
	struct buf to, dir;
	int ret;

	buf_init(&to, 64);
	mail_queue_path(&to, to_queue, id);
	ret = rename(from_path, to.data);
	/* A missing hash directory in the target queue: make it. */
	if (ret < 0 && errno == ENOENT && access(from_path, F_OK) == 0) {
		buf_init(&dir, 64);
		file_dirname(&dir, to.data);
		if (file_mkdir_p(dir.data, 0700) == 0)
			ret = rename(from_path, to.data);
		buf_fini(&dir);
	}
	buf_fini(&to);
	return ret;
}

static void
qmgr_quarantine(const char *id, const char *path, const char *why)
{
	msg_warn("%s: corrupt queue file %s: %s; moved to %s/", id, path, why,
	    MAIL_QUEUE_CORRUPT);
	if (qmgr_move(id, path, MAIL_QUEUE_CORRUPT) < 0)
		msg_warn("%s: move %s to %s/: %m", id, path,
		    MAIL_QUEUE_CORRUPT);
}

/* Room for a message with load undelivered recipients? */
static bool
qmgr_room(size_t load)
{
	if (qmgr_active_count >= var_qmgr_message_active_limit)
		return false;
	/* A message larger than the whole limit goes in alone. */
	if (qmgr_active_count == 0)
		return true;
	return qmgr_rcpt_count + load
	    <= (size_t)var_qmgr_message_recipient_limit;
}

/* Look at one file of a scan; see the comment at the top. */
static enum qmgr_take
qmgr_take(struct qmgr_scan *s, const char *id, const char *path)
{
	struct qfile qf;
	struct stat st;
	struct buf why;
	bool force;
	size_t load;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			msg_warn("%s: stat %s: %m", id, path);
		return QMGR_TAKE_DONE;
	}
	if (!S_ISREG(st.st_mode)) {
		qmgr_quarantine(id, path, "not a regular file");
		return QMGR_TAKE_DONE;
	}
	if (!mail_queue_complete(&st)) {
		if (s != &qmgr_deferred && st.st_mtime + var_daemon_timeout
		    < time(NULL)) {
			if (unlink(path) < 0 && errno != ENOENT)
				msg_warn("%s: remove %s: %m", id, path);
			else
				msg_info("%s: removed incomplete queue file",
				    id);
		}
		return QMGR_TAKE_DONE;
	}
	if (s == &qmgr_deferred) {
		if (!s->flush && st.st_mtime > time(NULL))
			return QMGR_TAKE_DONE;
		if (htable_get(s->seen, id) != NULL)
			return QMGR_TAKE_DONE;
	}
	if (qmgr_active_count >= var_qmgr_message_active_limit)
		return QMGR_TAKE_FULL;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
	    | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT)
			msg_warn("%s: open %s: %m", id, path);
		return QMGR_TAKE_DONE;
	}
	buf_init(&why, 100);
	rc = qfile_read_envelope(fd, &qf, &why);
	if (rc != QFILE_OK) {
		if (rc == QFILE_CORRUPT)
			qmgr_quarantine(id, path, why.data);
		else
			msg_warn("%s: read %s: %s; will try again", id, path,
			    why.data);
		goto fail;
	}
	load = qf.rcpt_count - qf.done_count;
	if (!qmgr_room(load)) {
		if (msg_verbose)
			msg_info("%s: %zu recipients wait for room in the "
			    "active queue", id, load);
		qfile_fini(&qf);
		(void)close(fd);
		buf_fini(&why);
		return QMGR_TAKE_FULL;
	}
	if (qmgr_move(id, path, MAIL_QUEUE_ACTIVE) < 0) {
		if (errno != ENOENT)
			msg_warn("%s: move %s to %s/: %m", id, path,
			    MAIL_QUEUE_ACTIVE);
		goto fail;
	}
	buf_fini(&why);
	/* The envelope is in memory: no descriptor per active message. */
	(void)close(fd);
	if (s == &qmgr_deferred)
		(void)htable_put(s->seen, id, s);
	force = htable_delete(qmgr_forced, id) != NULL;
	qmgr_message_activate(id, &qf, force);
	return QMGR_TAKE_DONE;

fail:
	qfile_fini(&qf);
	(void)close(fd);
	buf_fini(&why);
	return QMGR_TAKE_DONE;
}

static void
qmgr_scan_close(struct qmgr_scan *s)
{
	mail_scan_close(s->scan);
	s->scan = NULL;
	buf_reset(&s->held_id);
	if (s->seen != NULL) {
		htable_free(s->seen, NULL);
		s->seen = NULL;
	}
}

static void
qmgr_scan_start(struct qmgr_scan *s, bool flush)
{
	if ((s->scan = mail_scan_open(s->queue)) == NULL) {
		msg_warn("scan %s: %m", s->queue);
		return;
	}
	s->flush = flush;
	s->again = false;
	s->again_flush = false;
	if (s == &qmgr_deferred)
		s->seen = htable_new(64);
	if (msg_verbose)
		msg_info("scan %s%s", s->queue, flush ? " (flush)" : "");
}

static void
qmgr_scan_request(struct qmgr_scan *s, bool flush)
{
	if (s->scan != NULL) {
		s->again = true;
		s->again_flush |= flush;
	} else {
		qmgr_scan_start(s, flush);
	}
	qmgr_feed_soon();
}

void
qmgr_scan_incoming(void)
{
	qmgr_scan_request(&qmgr_incoming, false);
}

void
qmgr_scan_deferred(bool flush)
{
	/* A flush during a walk: the files behind it wait for the next. */
	qmgr_scan_request(&qmgr_deferred, flush);
}

/* The scan to take the next file from, or NULL. */
static struct qmgr_scan *
qmgr_feed_pick(void)
{
	if (qmgr_incoming.scan == NULL)
		return qmgr_deferred.scan != NULL ? &qmgr_deferred : NULL;
	if (qmgr_deferred.scan != NULL
	    && ++qmgr_picks % QMGR_DEFERRED_SHARE == 0)
		return &qmgr_deferred;
	return &qmgr_incoming;
}

/* One file of scan s: the held one, else the next; false at the end. */
static bool
qmgr_feed_one(struct qmgr_scan *s, enum qmgr_take *res)
{
	struct buf id, path;
	const char *next;

	if (s->held_id.len > 0) {
		/* Copies: the held buffers may be set again by qmgr_take. */
		buf_init(&id, QUEUE_ID_MAX + 1);
		buf_init(&path, 64);
		buf_setn(&id, s->held_id.data, s->held_id.len);
		buf_setn(&path, s->held_path.data, s->held_path.len);
		buf_reset(&s->held_id);
		*res = qmgr_take(s, id.data, path.data);
		if (*res == QMGR_TAKE_FULL) {
			buf_setn(&s->held_id, id.data, id.len);
			buf_setn(&s->held_path, path.data, path.len);
		}
		buf_fini(&id);
		buf_fini(&path);
		return true;
	}
	if ((next = mail_scan_next(s->scan)) == NULL)
		return false;
	*res = qmgr_take(s, next, mail_scan_path(s->scan));
	if (*res == QMGR_TAKE_FULL) {
		buf_set(&s->held_id, next);
		buf_set(&s->held_path, mail_scan_path(s->scan));
	}
	return true;
}

static void
qmgr_feed(void)
{
	struct qmgr_scan *s;
	enum qmgr_take res;
	int n;

	if (trigger_server_stopping())
		return;
	for (n = 0; n < QMGR_FEED_BATCH; n++) {
		if ((s = qmgr_feed_pick()) == NULL)
			return;
		if (!qmgr_feed_one(s, &res)) {
			qmgr_scan_close(s);
			if (s->again)
				qmgr_scan_start(s, s->again_flush);
			continue;
		}
		/* Full: a message leaving the active queue feeds again. */
		if (res == QMGR_TAKE_FULL)
			return;
	}
	qmgr_feed_soon();
}

void
qmgr_recover_active(void)
{
	struct mail_scan *scan;
	const char *id;

	if ((scan = mail_scan_open(MAIL_QUEUE_ACTIVE)) == NULL) {
		msg_warn("scan %s: %m", MAIL_QUEUE_ACTIVE);
		return;
	}
	while ((id = mail_scan_next(scan)) != NULL) {
		if (qmgr_move(id, mail_scan_path(scan), MAIL_QUEUE_INCOMING)
		    < 0) {
			msg_warn("%s: move %s to %s/: %m", id,
			    mail_scan_path(scan), MAIL_QUEUE_INCOMING);
			continue;
		}
		msg_info("%s: moved from %s/ back to %s/ (left over by a "
		    "previous queue manager)", id, MAIL_QUEUE_ACTIVE,
		    MAIL_QUEUE_INCOMING);
	}
	mail_scan_close(scan);
}

void
qmgr_flush_id(const char *id)
{
	if (mail_queue_rename(id, MAIL_QUEUE_DEFERRED, MAIL_QUEUE_INCOMING)
	    < 0) {
		if (errno == ENOENT)
			msg_info("%s: delivery requested, but the message is "
			    "not in the %s queue", id, MAIL_QUEUE_DEFERRED);
		else
			msg_warn("%s: move from %s/ to %s/: %m", id,
			    MAIL_QUEUE_DEFERRED, MAIL_QUEUE_INCOMING);
		return;
	}
	if (htable_count(qmgr_forced) < QMGR_FORCED_MAX)
		(void)htable_put(qmgr_forced, id, qmgr_forced);
	qmgr_scan_incoming();
}
