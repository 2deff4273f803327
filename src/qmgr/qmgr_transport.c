/*
 * qmgr_transport.c - transports, destination queues and the scheduler
 *
 * A transport is made the first time a recipient resolves to it, with
 * its limits read once (a reload restarts qmgr):
 *	<transport>_destination_concurrency_limit
 *	<transport>_destination_recipient_limit
 *		(default: default_destination_*, for "local" local_*)
 *	<transport>_initial_destination_concurrency
 *		(default: initial_destination_concurrency)
 * A recipient goes to the queue of its destination: the next hop, or,
 * when the transport takes one recipient per request (local), the
 * recipient itself, so that local_destination_concurrency_limit bounds
 * the deliveries to one user. Consecutive recipients of one message for
 * one queue share an entry (one request) up to the recipient limit.
 *
 * Scheduling: the queues with waiting entries form one list, visited
 * round-robin one entry per queue per round, so that a destination with
 * much mail does not hold up the others. A queue starts an entry while
 * its deliveries in flight are below its window, which starts at the
 * initial concurrency and grows by one with each answered delivery up
 * to the limit. A transport never has more than default_process_limit
 * deliveries in flight (its agents' processes), and when a connection
 * would block (the agent's listen queue is full) it waits a second.
 *
 * A transport whose agent cannot be reached or failed (no answer, a
 * malformed one) is dead for transport_retry_time: its waiting entries
 * and new recipients for it are deferred with the reason without an
 * attempt ("mail transport unavailable"), except those of a message
 * that petrel queue -i asked for. 'F' (petrel queue -f) revives all.
 * Empty idle queues are freed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "buf.h"
#include "deliver_request.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "qmgr.h"
#include "server.h"
#include "transport_params.h"

/* How long a transport whose connect would block waits (ms). */
#define QMGR_BLOCKED_RETRY_MS	1000

static struct htable *qmgr_transports;	/* name -> qmgr_transport */
static struct qmgr_queue *qmgr_ready_head, *qmgr_ready_tail;
static struct event *qmgr_schedule_ev;
static struct event *qmgr_unblock_ev;

static void qmgr_schedule(void);

void
qmgr_schedule_soon(void)
{
	struct timeval zero = {0, 0};

	(void)evtimer_add(qmgr_schedule_ev, &zero);
}

static void
qmgr_unblock_event(evutil_socket_t fd, short what, void *arg)
{
	struct htable_entry **list, **ep;

	(void)fd;
	(void)what;
	(void)arg;
	list = htable_list(qmgr_transports);
	for (ep = list; *ep != NULL; ep++)
		((struct qmgr_transport *)(*ep)->value)->blocked = false;
	free(list);
	qmgr_schedule();
	qmgr_busy_update();
}

void
qmgr_transport_init(void)
{
	qmgr_transports = htable_new(16);
	qmgr_schedule_ev = qmgr_event_soon(qmgr_schedule);
	qmgr_unblock_ev = evtimer_new(qmgr_base, qmgr_unblock_event, NULL);
	if (qmgr_unblock_ev == NULL)
		msg_fatal("cannot create a timer event");
}

struct qmgr_transport *
qmgr_transport_find(const char *name)
{
	struct qmgr_transport *t;
	bool local;

	if ((t = htable_get(qmgr_transports, name)) != NULL)
		return t;
	local = strcmp(name, "local") == 0;
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->conc_limit = transport_param_int(name, TRANSPORT_CONCURRENCY_LIMIT,
	    local ? var_local_destination_concurrency_limit
	    : var_default_destination_concurrency_limit);
	t->rcpt_limit = transport_param_int(name, TRANSPORT_RECIPIENT_LIMIT,
	    local ? var_local_destination_recipient_limit
	    : var_default_destination_recipient_limit);
	t->init_conc = transport_param_int(name, TRANSPORT_INITIAL_CONCURRENCY,
	    var_initial_destination_concurrency);
	if (t->init_conc > t->conc_limit)
		t->init_conc = t->conc_limit;
	if (t->rcpt_limit > DELIVER_RCPT_MAX)
		t->rcpt_limit = DELIVER_RCPT_MAX;
	buf_init(&t->dead_reason, 32);
	t->queues = htable_new(16);
	(void)htable_put(qmgr_transports, name, t);
	if (msg_verbose)
		msg_info("transport %s: concurrency %d..%d, %d recipients per "
		    "delivery", name, t->init_conc, t->conc_limit,
		    t->rcpt_limit);
	return t;
}

bool
qmgr_transport_dead(const struct qmgr_transport *t)
{
	return t->dead_until != 0 && (long)time(NULL) < t->dead_until;
}

void
qmgr_transport_revive_all(void)
{
	struct htable_entry **list, **ep;

	list = htable_list(qmgr_transports);
	for (ep = list; *ep != NULL; ep++)
		((struct qmgr_transport *)(*ep)->value)->dead_until = 0;
	free(list);
}

static void
qmgr_ready_add(struct qmgr_queue *q)
{
	if (q->ready)
		return;
	q->ready = true;
	q->rnext = NULL;
	q->rprev = qmgr_ready_tail;
	if (qmgr_ready_tail != NULL)
		qmgr_ready_tail->rnext = q;
	else
		qmgr_ready_head = q;
	qmgr_ready_tail = q;
}

static void
qmgr_ready_remove(struct qmgr_queue *q)
{
	if (!q->ready)
		return;
	q->ready = false;
	if (q->rprev != NULL)
		q->rprev->rnext = q->rnext;
	else
		qmgr_ready_head = q->rnext;
	if (q->rnext != NULL)
		q->rnext->rprev = q->rprev;
	else
		qmgr_ready_tail = q->rprev;
	q->rprev = q->rnext = NULL;
}

/* Free q when nothing waits and nothing is in flight. */
static void
qmgr_queue_maybe_free(struct qmgr_queue *q)
{
	if (q->head != NULL || q->busy > 0)
		return;
	qmgr_ready_remove(q);
	(void)htable_delete(q->transport->queues, q->name);
	free(q->name);
	free(q);
}

static struct qmgr_entry *
qmgr_queue_pop(struct qmgr_queue *q)
{
	struct qmgr_entry *e = q->head;

	if (e != NULL) {
		q->head = e->next;
		if (q->head == NULL)
			q->tail = NULL;
		e->next = NULL;
	}
	return e;
}

void
qmgr_transport_add(struct qmgr_transport *t, const char *queue_name,
    const char *nexthop, struct qmgr_message *msg, size_t i)
{
	struct qmgr_queue *q;
	struct qmgr_entry *e;

	if ((q = htable_get(t->queues, queue_name)) == NULL) {
		q = xcalloc(1, sizeof(*q));
		q->transport = t;
		q->name = xstrdup(queue_name);
		q->window = t->init_conc;
		(void)htable_put(t->queues, queue_name, q);
	}
	e = q->tail;
	if (e == NULL || e->msg != msg || e->count >= (size_t)t->rcpt_limit
	    || strcmp(e->nexthop, nexthop) != 0) {
		e = xcalloc(1, sizeof(*e));
		e->msg = msg;
		e->queue = q;
		e->nexthop = xstrdup(nexthop);
		if (q->tail != NULL)
			q->tail->next = e;
		else
			q->head = e;
		q->tail = e;
	}
	if (e->count == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 4;
		e->rcpts = xreallocarray(e->rcpts, e->cap, sizeof(*e->rcpts));
	}
	e->rcpts[e->count++] = i;
	qmgr_ready_add(q);
	qmgr_schedule_soon();
}

void
qmgr_entry_free(struct qmgr_entry *e)
{
	if (e == NULL)
		return;
	free(e->nexthop);
	free(e->rcpts);
	free(e);
}

void
qmgr_entry_defer(struct qmgr_entry *e, const char *relay, const char *dsn,
    const char *reason)
{
	size_t i;

	for (i = 0; i < e->count; i++)
		qmgr_message_defer_rcpt(e->msg, e->rcpts[i], relay, dsn,
		    reason);
	/* Last: this may end the message's pass and free it. */
	qmgr_message_settle(e->msg, e->count);
	e->msg = NULL;
}

void
qmgr_transport_throttle(struct qmgr_transport *t, const char *reason)
{
	struct htable_entry **list, **ep;
	struct qmgr_queue *q;
	struct qmgr_entry *e;

	t->dead_until = (long)time(NULL) + var_transport_retry_time;
	buf_set(&t->dead_reason, reason);
	list = htable_list(t->queues);
	for (ep = list; *ep != NULL; ep++) {
		q = (*ep)->value;
		while ((e = qmgr_queue_pop(q)) != NULL) {
			qmgr_entry_defer(e, "none", "4.3.0", reason);
			qmgr_entry_free(e);
		}
		qmgr_queue_maybe_free(q);
	}
	free(list);
}

void
qmgr_transport_done(struct qmgr_entry *e, bool ok)
{
	struct qmgr_queue *q = e->queue;
	struct qmgr_transport *t = q->transport;

	q->busy--;
	t->busy--;
	qmgr_inflight--;
	if (ok && q->window < t->conc_limit)
		q->window++;
	e->queue = NULL;
	qmgr_queue_maybe_free(q);
	qmgr_schedule_soon();
}

void
qmgr_transport_requeue(struct qmgr_entry *e)
{
	struct qmgr_queue *q = e->queue;
	struct qmgr_transport *t = q->transport;
	struct timeval tv = {0, QMGR_BLOCKED_RETRY_MS * 1000};

	q->busy--;
	t->busy--;
	qmgr_inflight--;
	e->next = q->head;
	q->head = e;
	if (q->tail == NULL)
		q->tail = e;
	qmgr_ready_add(q);
	t->blocked = true;
	if (!evtimer_pending(qmgr_unblock_ev, NULL))
		(void)evtimer_add(qmgr_unblock_ev, &tv);
}

/* Start the head entry of q if the limits allow; true if started. */
static bool
qmgr_queue_start(struct qmgr_queue *q)
{
	struct qmgr_transport *t = q->transport;
	struct qmgr_entry *e;

	if (t->blocked || q->busy >= q->window
	    || t->busy >= var_default_process_limit)
		return false;
	e = qmgr_queue_pop(q);
	q->busy++;
	t->busy++;
	qmgr_inflight++;
	qmgr_deliver(e);
	return true;
}

/* Drop the entries of corrupt messages at the head of q. */
static void
qmgr_queue_drop_corrupt(struct qmgr_queue *q)
{
	struct qmgr_entry *e;

	while (q->head != NULL && q->head->msg->corrupt) {
		e = qmgr_queue_pop(q);
		qmgr_message_settle(e->msg, e->count);
		qmgr_entry_free(e);
	}
}

static void
qmgr_schedule(void)
{
	struct qmgr_queue *q, *next;
	bool progress = true;

	/* Winding down for a reload: the next qmgr takes over active/. */
	if (trigger_server_stopping())
		return;
	while (progress) {
		progress = false;
		for (q = qmgr_ready_head; q != NULL; q = next) {
			next = q->rnext;
			qmgr_queue_drop_corrupt(q);
			if (q->head == NULL) {
				qmgr_ready_remove(q);
				qmgr_queue_maybe_free(q);
				continue;
			}
			if (qmgr_queue_start(q))
				progress = true;
		}
	}
}
