/*
 * deliver_clnt.c - the client side of delivery requests
 *
 * qmgr (and tests) build requests with deliver_request_encode() and
 * check the answers with deliver_reply_parse(); an agent passes one of
 * its recipients on to another transport with deliver_pass() (see
 * "Passing on" in deliver_request.h), a synchronous client with a
 * timeout. The agent's side of a request is deliver_request.c.
 *
 * SECURITY: answers come from another process: deliver_reply_parse()
 * accepts exactly the attributes of a reply, a known status and one
 * known result letter per recipient.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "attr.h"
#include "buf.h"
#include "deliver_request.h"
#include "msg.h"
#include "params.h"
#include "stream.h"
#include "unix_connect.h"

/* ---- passing on ------------------------------------------------------- */

static int
deliver_timeout_ms(void)
{
	long sec = var_daemon_timeout;

	if (sec > 24 * 3600)
		sec = 24 * 3600;
	return (int)(sec * 1000);
}

enum deliver_action
deliver_pass(struct deliver_request *req, size_t i, const char *transport,
    const char *nexthop, const char *addr)
{
	struct deliver_rcpt *dr;
	struct attr_list reply;
	struct buf path, msgbuf, results, reason, why;
	struct stream *s = NULL;
	const char *addrs[1] = {addr};
	int fd, status;
	enum deliver_action got = DELIVER_DEFER;

	if (i >= req->count)
		msg_panic("deliver_pass: recipient %zu of %zu", i, req->count);
	dr = &req->rcpts[i];
	if (req->flags & DELIVER_FLAG_PASS) {
		msg_warn("%s: %s was itself passed a delivery: not passing "
		    "it on to %s (check mailbox_transport and "
		    "fallback_transport)", req->queue_id, req->service,
		    transport);
		(void)deliver_status(req, i, DELIVER_DEFER, addr, "4.3.5",
		    "mail transport loop: %s to %s", req->service, transport);
		return DELIVER_DEFER;
	}
	attr_list_init(&reply);
	buf_init(&path, 64);
	buf_init(&msgbuf, 256);
	buf_init(&results, 8);
	buf_init(&reason, 64);
	buf_init(&why, 64);
	buf_printf(&path, "private/%s", transport);
	if ((fd = unix_connect(path.data, deliver_timeout_ms(), 0)) < 0) {
		buf_printf(&why, "connect to %s: %m", path.data);
		goto unavailable;
	}
	s = stream_new(fd);
	stream_set_timeout(s, deliver_timeout_ms());
	deliver_request_encode(&msgbuf, DELIVER_FLAG_PASS, req->queue_name,
	    req->queue_id, nexthop != NULL ? nexthop : req->nexthop,
	    &dr->rcpt->offset, 1,
	    &req->queue_time, addrs);
	if (stream_write(s, msgbuf.data, msgbuf.len) < 0
	    || stream_flush(s) < 0) {
		buf_printf(&why, "send to %s: %m", path.data);
		goto unavailable;
	}
	if (attr_recv_message(s, &reply) < 0) {
		buf_printf(&why, "no answer from %s", path.data);
		goto unavailable;
	}
	if (deliver_reply_parse(&reply, 1, &status, &results, &reason,
	    &why) < 0)
		goto unavailable;
	if (status != DELIVER_STAT_OK) {
		buf_printf(&why, "%s: %s", transport, reason.data);
		goto unavailable;
	}
	got = results.data[0] == DELIVER_RESULT_DONE ? DELIVER_SENT
	    : DELIVER_DEFER;
	dr->seen = true;
	if (got > dr->worst)
		dr->worst = got;
	goto out;

unavailable:
	msg_warn("%s: pass to %s: %s", req->queue_id, transport, why.data);
	(void)deliver_status(req, i, DELIVER_DEFER, addr, "4.3.0",
	    "mail transport unavailable");
	got = DELIVER_DEFER;
out:
	stream_free(s);
	attr_list_fini(&reply);
	buf_fini(&path);
	buf_fini(&msgbuf);
	buf_fini(&results);
	buf_fini(&reason);
	buf_fini(&why);
	return got;
}

/* ---- the client side (qmgr, local's deliver_pass, tests) -------------- */

void
deliver_request_encode(struct buf *out, int flags, const char *queue_name,
    const char *queue_id, const char *nexthop, const off_t *offsets,
    size_t count, const struct timeval *queue_time,
    const char *const *addresses)
{
	struct buf rcpts, qtime, addrs;
	size_t i;

	buf_init(&rcpts, 16 * count + 1);
	buf_init(&qtime, 32);
	buf_init(&addrs, 64);
	for (i = 0; i < count; i++)
		buf_printf(&rcpts, "%s%lld", i ? " " : "",
		    (long long)offsets[i]);
	buf_printf(&qtime, "%lld.%06ld", (long long)queue_time->tv_sec,
	    (long)queue_time->tv_usec);
	if (addresses != NULL) {
		for (i = 0; i < count; i++)
			buf_printf(&addrs, "%s%s", i ? "\n" : "",
			    addresses[i]);
		attr_encode(out, (const struct attr_spec[]){
			A_NUM(DELIVER_ATTR_FLAGS, flags),
			A_STR(DELIVER_ATTR_QUEUE, queue_name),
			A_STR(DELIVER_ATTR_ID, queue_id),
			A_STR(DELIVER_ATTR_NEXTHOP, nexthop),
			A_STR(DELIVER_ATTR_RCPTS, rcpts.data),
			A_STR(DELIVER_ATTR_QTIME, qtime.data),
			A_STR(DELIVER_ATTR_ADDRS, addrs.data),
			A_END});
	} else {
		attr_encode(out, (const struct attr_spec[]){
			A_NUM(DELIVER_ATTR_FLAGS, flags),
			A_STR(DELIVER_ATTR_QUEUE, queue_name),
			A_STR(DELIVER_ATTR_ID, queue_id),
			A_STR(DELIVER_ATTR_NEXTHOP, nexthop),
			A_STR(DELIVER_ATTR_RCPTS, rcpts.data),
			A_STR(DELIVER_ATTR_QTIME, qtime.data),
			A_END});
	}
	buf_fini(&rcpts);
	buf_fini(&qtime);
	buf_fini(&addrs);
}

int
deliver_reply_parse(const struct attr_list *reply, size_t count,
    int *status, struct buf *results, struct buf *reason, struct buf *why)
{
	size_t i;

	buf_reset(results);
	buf_reset(reason);
	if (attr_extract(reply, ATTR_STRICT, (const struct attr_spec[]){
		A_INT(DELIVER_ATTR_STATUS, status),
		A_BUF(DELIVER_ATTR_RESULTS, results),
		A_BUF(DELIVER_ATTR_REASON, reason),
		A_END}, why) < 0)
		return -1;
	if (*status < DELIVER_STAT_OK || *status > DELIVER_STAT_BAD) {
		buf_printf(why, "bad delivery status %d", *status);
		return -1;
	}
	if (*status != DELIVER_STAT_OK)
		return 0;
	if (results->len != count) {
		buf_printf(why, "%zu results for %zu recipients", results->len,
		    count);
		return -1;
	}
	for (i = 0; i < count; i++)
		if (results->data[i] != DELIVER_RESULT_DONE
		    && results->data[i] != DELIVER_RESULT_RETRY) {
			buf_puts(why, "bad delivery result");
			return -1;
		}
	return 0;
}
