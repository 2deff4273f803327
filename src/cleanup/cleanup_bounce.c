/*
 * cleanup_bounce.c - return a message that cannot be accepted as it is
 *
 * A client that cannot hear a rejection (pickup: the sender went away
 * long ago) sets CLEANUP_FLAG_BOUNCE. For a problem that is the
 * message's own fault and that the sender must hear about (a mail loop:
 * more Received: headers than hopcount_limit), cleanup then still
 * writes the whole queue file, and before marking it complete:
 *	- appends a bounce/ID entry per recipient with the reason;
 *	- marks every recipient done in place;
 * so that qmgr, finding nothing to deliver and a bounce log, has the
 * bounce daemon return the message to its sender (a double bounce goes
 * to the postmaster), then removes it. The client is told "queued":
 * from now on the bounce is the mail system's job, and a crash before
 * the file is complete leaves nothing the client was promised.
 *
 * Log lines (Postfix's, so that log tools count the bounce):
 *	ID: to=<rcpt>, relay=none, delay=0, delays=0/0/0/0, dsn=5.4.6,
 *	status=bounced (too many hops, message looping)
 */
#include <errno.h>
#include <string.h>

#include "bounce_log.h"
#include "buf.h"
#include "cleanup.h"
#include "cleanup_proto.h"
#include "mail_queue.h"
#include "msg.h"
#include "qfile.h"
#include "str.h"

void
cleanup_bounce_later(struct cleanup_state *st, const char *dsn_reason)
{
	if (st->bounce_reason.len == 0)
		buf_puts(&st->bounce_reason, dsn_reason);
}

int
cleanup_bounce_all(struct cleanup_state *st)
{
	struct bounce_log_entry e;
	struct qfile qf;
	struct buf why, status;
	const char *text;
	size_t i;
	int rc = -1;

	/* "5.4.6 too many hops": the status, then the text. */
	buf_init(&status, 16);
	text = strchr(st->bounce_reason.data, ' ');
	buf_setn(&status, st->bounce_reason.data, text ? (size_t)(text -
	    st->bounce_reason.data) : st->bounce_reason.len);
	text = text ? text + 1 : "message returned";
	buf_init(&why, 64);
	if (qfile_read_envelope(st->fd, &qf, &why) != QFILE_OK) {
		msg_warn("%s: cannot read back the queue file: %s",
		    st->queue_id.data, why.data);
		goto out;
	}
	for (i = 0; i < qf.rcpt_count; i++) {
		bounce_log_entry_init(&e, &qf.rcpts[i]);
		e.status = status.data;
		e.action = BOUNCE_LOG_FAILED;
		e.reason = text;
		if (bounce_log_append(MAIL_QUEUE_BOUNCE, st->queue_id.data, &e,
		    &why) < 0) {
			msg_warn("%s: %s", st->queue_id.data, why.data);
			goto out;
		}
	}
	for (i = 0; i < qf.rcpt_count; i++) {
		if (qfile_mark_done(st->fd, &qf, i) < 0) {
			msg_warn("%s: mark recipient done: %m",
			    st->queue_id.data);
			goto out;
		}
	}
	for (i = 0; i < qf.rcpt_count; i++) {
		buf_reset(&why);
		str_printable(&why, qf.rcpts[i].addr,
		    strlen(qf.rcpts[i].addr));
		msg_info("%s: to=<%s>, relay=none, delay=0, delays=0/0/0/0, "
		    "dsn=%s, status=bounced (%s)", st->queue_id.data,
		    why.data, status.data, text);
	}
	rc = 0;
out:
	if (rc < 0) {
		(void)bounce_log_remove(MAIL_QUEUE_BOUNCE, st->queue_id.data);
		cleanup_fail(st, CLEANUP_STAT_WRITE,
		    "4.3.0 queue file write error");
	}
	qfile_fini(&qf);
	buf_fini(&why);
	buf_fini(&status);
	return rc;
}
