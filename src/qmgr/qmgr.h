/*
 * qmgr.h - the queue manager's shared state (internal to src/qmgr)
 *
 * The in-memory active queue, in four kinds of object:
 *
 *	message	  one file of active/: its envelope (struct qfile), how
 *		  many of its recipients still wait for a result of this
 *		  pass (todo) and how many must be tried again (retry)
 *	transport a master.cf delivery service (local, smtp ...): its
 *		  limits, whether it is dead (unreachable: skipped until
 *		  its retry time), its destination queues
 *	queue	  one destination of a transport (the next hop, or the
 *		  recipient when the transport takes one recipient per
 *		  delivery): a FIFO of entries, a concurrency window and
 *		  the number of deliveries in flight
 *	entry	  up to <transport>_destination_recipient_limit
 *		  recipients of one message for one queue: one delivery
 *		  request
 *
 * Files: qmgr.c (the daemon, triggers, timers), qmgr_scan.c (queue
 * scans, moving files into active/), qmgr_message.c (loading a message,
 * deferring recipients, the end of a delivery pass), qmgr_transport.c
 * (transports, queues, the scheduler), qmgr_deliver.c (delivery agent
 * connections), qmgr_bounce.c (requests to the bounce service).
 */
#ifndef PETREL_QMGR_H
#define PETREL_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "buf.h"
#include "qfile.h"

struct event_base;
struct htable;

struct qmgr_message {
	char *id;
	struct qfile qf;		/* its envelope */
	struct timeval active_time;	/* when it entered active/ */
	size_t load;			/* recipients counted against
					 * qmgr_message_recipient_limit */
	size_t todo;			/* queued or in flight */
	size_t retry;			/* to try again in a later pass */
	bool force;			/* petrel queue -i: try dead
					 * transports anyway */
	bool corrupt;			/* an agent found it corrupt */
	struct buf corrupt_reason;
	/* The end of the pass (qmgr_message.c), once todo reached 0: */
	bool finishing;			/* reports asked for, or done */
	int report_step;		/* the next report to consider */
	bool expired;			/* older than its queue lifetime */
	bool keep;			/* a report failed: to deferred/ */
	struct qmgr_message *prev, *next;	/* the active list */
};

struct qmgr_entry;

struct qmgr_queue {
	struct qmgr_transport *transport;
	char *name;			/* key in transport->queues */
	int window;			/* concurrency allowed now */
	int busy;			/* deliveries in flight */
	struct qmgr_entry *head, *tail;	/* waiting entries */
	bool ready;			/* on the scheduler's list */
	struct qmgr_queue *rprev, *rnext;
};

struct qmgr_transport {
	char *name;
	int conc_limit;			/* per destination */
	int rcpt_limit;			/* recipients per request */
	int init_conc;			/* first window of a queue */
	int busy;			/* deliveries in flight */
	long dead_until;		/* time(); 0 = alive */
	struct buf dead_reason;
	bool blocked;			/* connect would block: wait */
	struct htable *queues;		/* name -> struct qmgr_queue */
};

struct qmgr_entry {
	struct qmgr_message *msg;
	struct qmgr_queue *queue;
	char *nexthop;
	size_t *rcpts;			/* indices into msg->qf.rcpts */
	size_t count, cap;
	struct qmgr_entry *next;
};

/* qmgr.c: the event loop and the "busy" bookkeeping. */
extern struct event_base *qmgr_base;
extern int qmgr_active_count;		/* messages in memory */
extern size_t qmgr_rcpt_count;		/* their recipients (load) */
extern int qmgr_inflight;		/* deliveries in flight */
extern int qmgr_bounce_inflight;	/* bounce service requests open */
/*
 * Tell the skeleton whether work is outstanding (deliveries or bounce
 * requests in flight); call after each event.
 */
void qmgr_busy_update(void);
/* A one-shot event that runs fn soon (zero timeout); never NULL. */
struct event *qmgr_event_soon(void (*fn)(void));
/* Wall clock with microseconds. */
struct timeval qmgr_now(void);

/* qmgr_scan.c */
void qmgr_scan_init(void);
/* Scan incoming/ or deferred/ (flush: ignore retry times). */
void qmgr_scan_incoming(void);
void qmgr_scan_deferred(bool flush);
/* Room in the active queue freed up: continue the scans. */
void qmgr_feed_soon(void);
/* Crash recovery: move everything in active/ back to incoming/. */
void qmgr_recover_active(void);
/* petrel queue -i: deferred/ID to incoming/ and deliver it now. */
void qmgr_flush_id(const char *id);
/* Move a file between queues by path (scans find hashed paths). */
int qmgr_move(const char *id, const char *from_path, const char *to_queue);

/* qmgr_message.c */
/*
 * Take ownership of a message whose file is now in active/ (its envelope
 * in *qf, which is moved into the message; the file is not kept open):
 * resolve its recipients and queue them for delivery.
 */
void qmgr_message_activate(const char *id, struct qfile *qf, bool force);
/*
 * Defer recipient i of msg in this pass: defer log entry, log line,
 * counted as retry (the caller has already removed it from todo).
 */
void qmgr_message_defer_rcpt(struct qmgr_message *msg, size_t i,
    const char *relay, const char *dsn, const char *reason);
/*
 * n recipients of msg got their result: when none is left, the pass
 * ends (reports through the bounce service, then deferred/ or removal);
 * msg may be freed before this returns. A message stays in the active
 * queue until its reports are done.
 */
void qmgr_message_settle(struct qmgr_message *msg, size_t n);
/* The message's age in seconds (now - arrival). */
double qmgr_message_age(const struct qmgr_message *msg);

/* qmgr_bounce.c */
/*
 * The result of a bounce service request: status 0 (done) or -1 with
 * why (unreachable, timed out, a malformed answer, the service's own
 * reason), always called from the event loop.
 */
typedef void (*qmgr_bounce_fn)(struct qmgr_message *msg, const char *request,
    int status, const char *why);
/*
 * Ask the bounce service for request (BOUNCE_REQ_*, a static string)
 * on msg, whose file is in active/, without blocking: done(msg, ...)
 * runs later, once, from the event loop; msg must stay until then.
 * Counted in qmgr_bounce_inflight meanwhile.
 */
void qmgr_bounce_request(struct qmgr_message *msg, const char *request,
    qmgr_bounce_fn done);

/* qmgr_transport.c */
void qmgr_transport_init(void);
struct qmgr_transport *qmgr_transport_find(const char *name);
/* Dead until transport_retry_time from now, with reason; defers all its
 * waiting entries. */
void qmgr_transport_throttle(struct qmgr_transport *t, const char *reason);
bool qmgr_transport_dead(const struct qmgr_transport *t);
/* 'F': every transport is alive again. */
void qmgr_transport_revive_all(void);
/* Queue recipient i of msg on transport t, destination name. */
void qmgr_transport_add(struct qmgr_transport *t, const char *queue_name,
    const char *nexthop, struct qmgr_message *msg, size_t i);
/* Start what the limits allow, soon. */
void qmgr_schedule_soon(void);
/* A delivery of entry finished (ok: the agent answered). */
void qmgr_transport_done(struct qmgr_entry *entry, bool ok);
/* Connect would block: put entry back in front and try again soon. */
void qmgr_transport_requeue(struct qmgr_entry *entry);
/* Defer every recipient of an entry (and free it). */
void qmgr_entry_defer(struct qmgr_entry *entry, const char *relay,
    const char *dsn, const char *reason);
void qmgr_entry_free(struct qmgr_entry *entry);

/* qmgr_deliver.c */
/* Send entry to its transport's agent; the result comes back through
 * qmgr_transport_done() and the message functions. */
void qmgr_deliver(struct qmgr_entry *entry);

#endif
