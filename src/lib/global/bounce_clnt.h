/*
 * bounce_clnt.h - ask the bounce daemon to send a delivery report
 *
 * qmgr owns a message while it is in active/; when a delivery pass of
 * the message is over it asks the bounce service (private/
 * $bounce_service_name, a single-server: one request per connection)
 * to turn a per-recipient log (bounce_log.h) into a report to the
 * sender (dsn_report.h), queued through cleanup:
 *
 *	qmgr -> bounce	request		BOUNCE_REQ_* (below)
 *			queue_name	where the message file is ("active")
 *			queue_id	the message
 *	bounce -> qmgr	status		0: done (the report is queued, or
 *					there was nothing to report), and
 *					the log that was read is removed;
 *					else a temporary failure (qmgr keeps
 *					the message and asks again on the
 *					next pass), the log is kept
 *			reason		text when status is not 0
 *
 *	BOUNCE_REQ_FLUSH	failures: the bounce/ID log (recipients that
 *				the agents bounced and marked done)
 *	BOUNCE_REQ_EXPIRE	the message expired: its defer/ID log is
 *				reported as failures (the recipients still
 *				undelivered), then removed; qmgr removes the
 *				message afterwards
 *	BOUNCE_REQ_TRACE	successes that recipients asked for with
 *				NOTIFY=SUCCESS: the trace/ID log
 *
 * The report goes to the envelope sender. A message from the null sender
 * (a report itself) is never reported to its sender: a failure report of
 * such a message goes to 2bounce_notice_recipient instead (all
 * recipients, headers only), sent from double_bounce_sender; if the
 * failed message's sender is double_bounce_sender itself, nothing is
 * sent and the loss is logged. With "bounce" in notify_classes, the
 * postmaster (bounce_notice_recipient) gets a copy of every failure
 * report's headers.
 *
 * bounce_clnt_request() is a synchronous client with a timeout
 * (ipc_timeout, at most daemon_timeout), for tools and tests; qmgr,
 * which must never block, speaks the same protocol on its event loop
 * (src/qmgr/qmgr_bounce.c). Report generation reads at most
 * bounce_size_limit bytes of the message, so a request is short.
 */
#ifndef PETREL_BOUNCE_CLNT_H
#define PETREL_BOUNCE_CLNT_H

#include "buf.h"

#define BOUNCE_ATTR_REQUEST	"request"
#define BOUNCE_ATTR_QUEUE	"queue_name"
#define BOUNCE_ATTR_ID		"queue_id"
#define BOUNCE_ATTR_STATUS	"status"
#define BOUNCE_ATTR_REASON	"reason"

#define BOUNCE_REQ_FLUSH	"flush"
#define BOUNCE_REQ_EXPIRE	"expire"
#define BOUNCE_REQ_TRACE	"trace"

/*
 * Send request for message queue_id in queue queue_name and wait for the
 * answer. Returns 0 when done, or -1 with why set (service unreachable,
 * timeout, a malformed answer, the daemon's own reason).
 */
int bounce_clnt_request(const char *request, const char *queue_name,
    const char *queue_id, struct buf *why);

#endif
