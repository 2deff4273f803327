/*
 * deliver_request.h - qmgr hands recipients to a delivery agent
 *
 * The protocol. qmgr connects to private/<transport> (local, virtual,
 * later smtp, pipe ...), a single-server agent, and sends one request
 * per connection (attr.h):
 *
 *	qmgr -> agent	flags		DELIVER_FLAG_* (int)
 *			queue_name	"active" (the queue the file is in)
 *			queue_id	the message
 *			nexthop		the resolved next hop (for local:
 *					the recipient domain)
 *			recipients	offsets of the RCPT records to
 *					deliver, decimal, one space apart,
 *					in queue-file order (at most
 *					DELIVER_RCPT_MAX)
 *			queue_time	seconds.microseconds the message
 *					spent before this request (for the
 *					delays= log field; "0" if unknown)
 *			addresses	optional, only with DELIVER_FLAG_PASS:
 *					the address to deliver to for each
 *					recipient, one per line, in request
 *					order (see "Passing on" below)
 *	agent -> qmgr	status		DELIVER_STAT_* (int)
 *			results		one letter per requested recipient,
 *					in request order (with status OK):
 *					DELIVER_RESULT_DONE or
 *					DELIVER_RESULT_RETRY
 *			reason		text when status is not OK
 *
 * The agent reads the envelope from the queue file itself (the request
 * carries no address, so a hostile peer cannot make it deliver to a
 * recipient that is not in the file): an offset that is not a RCPT
 * record of the file is a malformed request. A recipient already marked
 * done (a repeated request after a crash) is answered DONE without a
 * new delivery.
 *
 * Passing on. The local agent hands mailbox deliveries to another
 * transport (mailbox_transport, fallback_transport) with deliver_pass():
 * the same request over private/<transport>, with DELIVER_FLAG_PASS, the
 * next hop the parameter names (mailbox_transport = virtual:example.org)
 * or else the request's own, and the address it resolved (an alias may
 * have expanded "all@x" to "bob@x"). The receiving agent delivers to
 * that address, logs and writes bounce/defer/trace entries as usual
 * (orig_to= the queue file recipient), but does not mark anything done:
 * it only answers DONE or RETRY, and the passing agent combines that
 * with its other outcomes for the same recipient. A pass request is
 * never passed on again.
 *
 * Outcomes. For each recipient the agent calls deliver_status() one or
 * more times (local: once per destination an alias expands to), then
 * deliver_request_finish():
 *	sent	logged; trace/ID entry when the recipient's NOTIFY asked
 *		for SUCCESS
 *	bounce	bounce/ID entry (qmgr then has the bounce daemon send the
 *		report), logged
 *	defer	defer/ID entry (showq shows it, the report uses it when
 *		the message expires), logged
 * A recipient with a defer outcome (or whose log entry could not be
 * written) is answered RETRY; the others are marked done in the queue
 * file (one byte, fsynced: qfile_mark_done()) and answered DONE. So a
 * crash at any point repeats a delivery at worst, never loses one.
 *
 * The log line of an outcome is Postfix's:
 *	QUEUEID: to=<bob@example.com>, orig_to=<all@example.com>,
 *	relay=local, delay=0.52, delays=0.41/0/0/0.11, dsn=2.0.0,
 *	status=sent (delivered to maildir)
 * where orig_to appears when the address delivered to differs from the
 * queue file recipient (the original is the DSN ORCPT when there is
 * one, else the queue file recipient), delays= are: before the request
 * (queue_time) / 0 / 0 / the agent's time so far.
 *
 * The agent (a single-server service() callback):
 *
 *	struct deliver_request *req;
 *	if ((req = deliver_request_read(stream)) == NULL)
 *		return;			(logged; qmgr hears "failed")
 *	for (i = 0; i < req->count; i++) {
 *		const struct qfile_rcpt *r = req->rcpts[i].rcpt;
 *		... deliver to r->addr, streaming the content with
 *		    qfile_content_open(req->fd, &req->qf) ...
 *		deliver_status(req, i, DELIVER_SENT, NULL, "2.0.0",
 *		    "delivered to maildir");
 *	}
 *	deliver_request_finish(stream, req);	(marks, replies, frees)
 *
 * SECURITY: the request is hostile until checked: names are validated
 * (queue_name_ok, queue_id_valid), offsets must be RCPT records of the
 * file, the count is bounded, and the queue file is read with the
 * validating reader (a corrupt file is answered DELIVER_STAT_CORRUPT:
 * qmgr moves it to corrupt/).
 */
#ifndef PETREL_DELIVER_REQUEST_H
#define PETREL_DELIVER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "qfile.h"

struct stream;

/* Attribute names. */
#define DELIVER_ATTR_FLAGS	"flags"
#define DELIVER_ATTR_QUEUE	"queue_name"
#define DELIVER_ATTR_ID		"queue_id"
#define DELIVER_ATTR_NEXTHOP	"nexthop"
#define DELIVER_ATTR_RCPTS	"recipients"
#define DELIVER_ATTR_QTIME	"queue_time"
#define DELIVER_ATTR_ADDRS	"addresses"
#define DELIVER_ATTR_STATUS	"status"
#define DELIVER_ATTR_RESULTS	"results"
#define DELIVER_ATTR_REASON	"reason"

/* Request flags. */
#define DELIVER_FLAG_NONE	0
#define DELIVER_FLAG_PASS	(1 << 0)	/* from another agent: deliver
						 * to "addresses", mark nothing */

/* Reply status. */
#define DELIVER_STAT_OK		0	/* see results */
#define DELIVER_STAT_DEFER	1	/* try all recipients again later
					 * (queue file unreadable, ...) */
#define DELIVER_STAT_CORRUPT	2	/* the queue file is corrupt */
#define DELIVER_STAT_BAD	3	/* malformed request */

/* Per-recipient results. */
#define DELIVER_RESULT_DONE	'D'	/* marked done: sent or bounced */
#define DELIVER_RESULT_RETRY	'R'	/* deferred: still to deliver */

/* The most recipients in one request. */
#define DELIVER_RCPT_MAX	10000

enum deliver_action {
	DELIVER_SENT,
	DELIVER_BOUNCE,
	DELIVER_DEFER,
};

/* One recipient of a request. */
struct deliver_rcpt {
	const struct qfile_rcpt *rcpt;	/* in req->qf */
	const char *addr;		/* to deliver to: rcpt->addr, or
					 * the passed address */
	size_t index;			/* in req->qf.rcpts */
	enum deliver_action worst;	/* so far (SENT when none yet) */
	bool seen;			/* deliver_status() was called */
	bool log_failed;		/* a bounce/defer log write failed */
};

struct deliver_request {
	int flags;
	char *queue_name;
	char *queue_id;
	char *nexthop;
	const char *service;	/* the agent's name, for relay= */
	int fd;			/* the queue file, O_RDWR */
	struct qfile qf;	/* its envelope (qfile_read_envelope) */
	struct deliver_rcpt *rcpts;
	size_t count;
	char *addr_mem;			/* storage of passed addresses */
	struct timeval queue_time;	/* from the request */
	struct timeval start;		/* when the request was read */
};

/*
 * Read and check one request from s, open the queue file (relative to
 * the current directory, queue_directory) and read its envelope.
 * service names the agent in logs (relay=). Returns the request, or NULL
 * after logging and answering qmgr (BAD, CORRUPT or DEFER with a
 * reason): the caller just returns.
 */
struct deliver_request *deliver_request_read(struct stream *s,
    const char *service);

/*
 * Record one outcome for recipient i of req (index into req->rcpts):
 * write the log entry (bounce/, defer/, trace/ per the action and the
 * recipient's NOTIFY) and the log line. to is the address delivered to
 * (alias expansion), NULL for req->rcpts[i].addr; the log shows
 * orig_to= when it differs from the queue file recipient. dsn
 * is an RFC 3463 status ("5.1.1"), whose class must fit the action; fmt
 * the human-readable text ("delivered to maildir", "unknown user:
 * \"bob\""). The worst action per recipient counts (defer > bounce >
 * sent). Returns 0, or -1 when a log entry could not be written (the
 * recipient will then be answered RETRY; the problem is logged).
 */
int deliver_status(struct deliver_request *req, size_t i,
    enum deliver_action action, const char *to, const char *dsn,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * Pass the delivery of recipient i to address addr on to transport
 * (a master.cf service name; see "Passing on") with next hop nexthop
 * (the "unix:/run/dovecot/lmtp" of "lmtp:unix:/run/dovecot/lmtp"; NULL:
 * the request's own), and wait for its answer
 * (at most daemon_timeout). The other agent logs the outcome; here it
 * only counts for the recipient (DONE: sent or bounced there, RETRY:
 * deferred there). When the transport cannot be reached or answers
 * badly, the recipient is deferred here with a reason ("4.3.0 mail
 * transport unavailable") and logged. Returns the action that counted.
 * A request that came with DELIVER_FLAG_PASS must not pass again: that
 * is deferred with a warning (a configuration loop).
 */
enum deliver_action deliver_pass(struct deliver_request *req, size_t i,
    const char *transport, const char *nexthop, const char *addr);

/*
 * Mark done the recipients without a defer outcome (a recipient for
 * which deliver_status() was never called is deferred with "4.3.0
 * delivery agent did not report an outcome"), answer qmgr, close the
 * queue file and free req. Returns 0, or -1 when qmgr could not be
 * answered (logged; qmgr will retry what is not marked done).
 */
int deliver_request_finish(struct stream *s, struct deliver_request *req);

/*
 * Agents that write as the recipient (local, virtual) need root when the
 * mail system runs as root. Call deliver_rights_start() first thing in
 * pre_init (master's rights) and deliver_rights_check() in post_init:
 * if the process started as root and the skeleton took root away
 * (master.cf's unprivileged column is not "n"), it refuses to run
 * (fatal, naming the fix) instead of delivering users' mail, commands
 * and files with mail_owner's rights, which own the queue.
 */
void deliver_rights_start(void);
void deliver_rights_check(const char *service);

/*
 * The request as the client (qmgr) sends it, and its reply: for qmgr
 * and tests. deliver_request_encode() appends one attr message to out
 * (addresses: NULL, or count addresses with DELIVER_FLAG_PASS);
 * deliver_reply_parse() checks a reply against the number of
 * recipients requested: 0 with *status, results (count letters) and
 * reason filled, or -1 with why.
 */
struct buf;
struct attr_list;
void deliver_request_encode(struct buf *out, int flags,
    const char *queue_name, const char *queue_id, const char *nexthop,
    const off_t *offsets, size_t count, const struct timeval *queue_time,
    const char *const *addresses);
int deliver_reply_parse(const struct attr_list *reply, size_t count,
    int *status, struct buf *results, struct buf *reason, struct buf *why);

#endif
