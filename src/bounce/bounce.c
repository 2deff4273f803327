/*
 * bounce.c - bounce, the daemon that sends delivery status notifications
 *
 * master.cf:
 *	bounce    unix  -  -  n  -  0  bounce
 *
 * A single-server on private/$bounce_service_name: one request per
 * connection, from qmgr (bounce_clnt.h has the protocol):
 *
 *	request=flush|expire|trace queue_name=active queue_id=ID
 *	-> status=0 reason=""		done, the log is removed
 *	-> status=1 reason=TEXT		not done, the log is kept
 *
 * The request is read with the attribute parser's limits and extracted
 * with ATTR_STRICT (the three attributes, each once, nothing else); the
 * request must be one of the table below, queue_name "active" or
 * "deferred" (where qmgr keeps the messages it owns), and queue_id a
 * valid queue ID (queue_id_valid(): no '/', no "..", so it cannot name
 * another path). A request that fails these checks is answered with
 * status 1 and a reason, logged with a warning, and nothing is read.
 * bounce_notify.c does the work; its failures are logged as
 *	warning: ID: flush failed: REASON
 * and returned to the client, which asks again later.
 *
 * SECURITY: private/ is reachable by mail_owner only, but requests are
 * checked as if anyone could send them: only checked names reach a
 * path, and values are shortened and made printable before they are
 * logged.
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "attr.h"
#include "bounce.h"
#include "bounce_clnt.h"
#include "buf.h"
#include "mail_queue.h"
#include "msg.h"
#include "params.h"
#include "queue_id.h"
#include "server.h"
#include "str.h"
#include "stream.h"

#define BOUNCE_STAT_OK		0
#define BOUNCE_STAT_FAIL	1

/* The longest piece of a bad value quoted in a warning. */
#define BOUNCE_QUOTE_MAX	64

typedef int (*bounce_request_fn)(const char *queue_name, const char *id,
    struct buf *why);

static const struct bounce_request {
	const char *name;
	bounce_request_fn fn;
} bounce_requests[] = {
	{BOUNCE_REQ_FLUSH, bounce_flush},
	{BOUNCE_REQ_EXPIRE, bounce_expire},
	{BOUNCE_REQ_TRACE, bounce_trace},
};

/* The queues a message may be reported from. */
static const char *const bounce_queues[] = {
	MAIL_QUEUE_ACTIVE,
	MAIL_QUEUE_DEFERRED,
};

#define BOUNCE_COUNT(a)	(sizeof(a) / sizeof((a)[0]))

/* Append value for a log line: printable, at most BOUNCE_QUOTE_MAX. */
static void
bounce_quote(struct buf *out, const char *value)
{
	size_t len = strlen(value);

	buf_putc(out, '"');
	str_printable(out, value, len > BOUNCE_QUOTE_MAX ? BOUNCE_QUOTE_MAX
	    : len);
	buf_puts(out, len > BOUNCE_QUOTE_MAX ? "...\"" : "\"");
}

/* ipc_timeout, at most daemon_timeout, in milliseconds. */
static int
bounce_timeout_ms(void)
{
	int secs = var_ipc_timeout;

	if (var_daemon_timeout > 0 && var_daemon_timeout < secs)
		secs = var_daemon_timeout;
	return secs > INT_MAX / 1000 ? INT_MAX : secs * 1000;
}

static const struct bounce_request *
bounce_find_request(const char *name)
{
	size_t i;

	for (i = 0; i < BOUNCE_COUNT(bounce_requests); i++)
		if (strcmp(bounce_requests[i].name, name) == 0)
			return &bounce_requests[i];
	return NULL;
}

static bool
bounce_queue_ok(const char *name)
{
	size_t i;

	if (!mail_queue_name_ok(name))
		return false;
	for (i = 0; i < BOUNCE_COUNT(bounce_queues); i++)
		if (strcmp(bounce_queues[i], name) == 0)
			return true;
	return false;
}

/*
 * Check a request and run it. Returns the status for the client, with
 * why set when it is not BOUNCE_STAT_OK.
 */
static int
bounce_dispatch(const char *request, const char *queue_name,
    const char *id, struct buf *why)
{
	const struct bounce_request *req;
	struct buf text;
	int status = BOUNCE_STAT_FAIL;

	buf_init(&text, 64);
	if ((req = bounce_find_request(request)) == NULL) {
		bounce_quote(&text, request);
		buf_printf(why, "unknown request %s", text.data);
	} else if (!bounce_queue_ok(queue_name)) {
		bounce_quote(&text, queue_name);
		buf_printf(why, "%s: bad queue name %s", request, text.data);
	} else if (!queue_id_valid(id)) {
		bounce_quote(&text, id);
		buf_printf(why, "%s: bad queue ID %s", request, text.data);
	} else if (req->fn(queue_name, id, why) < 0) {
		msg_warn("%s: %s failed: %s", id, request, why->data);
	} else {
		status = BOUNCE_STAT_OK;
	}
	/* Only the refusals quote what the client sent. */
	if (text.len > 0)
		msg_warn("request refused: %s", why->data);
	buf_fini(&text);
	return status;
}

static void
bounce_service(int fd, const char *service, char **argv)
{
	struct stream *s;
	struct attr_list list;
	struct buf request, queue_name, id, why, text;
	int status = BOUNCE_STAT_FAIL;

	(void)service;
	(void)argv;
	s = stream_new(fd);
	stream_set_timeout(s, bounce_timeout_ms());
	attr_list_init(&list);
	buf_init(&request, 16);
	buf_init(&queue_name, 16);
	buf_init(&id, 32);
	buf_init(&why, 128);
	buf_init(&text, 64);
	/* attr_recv_message() logs what went wrong: just hang up. */
	if (attr_recv_message(s, &list) < 0)
		goto out;
	if (attr_extract(&list, ATTR_STRICT, (const struct attr_spec[]){
	    A_BUF(BOUNCE_ATTR_REQUEST, &request),
	    A_BUF(BOUNCE_ATTR_QUEUE, &queue_name),
	    A_BUF(BOUNCE_ATTR_ID, &id), A_END}, &text) < 0) {
		buf_printf(&why, "malformed request: %s", text.data);
		msg_warn("request refused: %s", why.data);
	} else {
		status = bounce_dispatch(request.data, queue_name.data,
		    id.data, &why);
	}
	if (status == BOUNCE_STAT_OK)
		buf_reset(&why);
	if (attr_send(s, A_NUM(BOUNCE_ATTR_STATUS, status),
	    A_STR(BOUNCE_ATTR_REASON, why.data), A_END) < 0)
		msg_warn("cannot send the reply (status %d) to the client",
		    status);
out:
	/* The skeleton closes fd. */
	(void)stream_release(s);
	attr_list_fini(&list);
	buf_fini(&request);
	buf_fini(&queue_name);
	buf_fini(&id);
	buf_fini(&why);
	buf_fini(&text);
}

static void
bounce_pre_init(const char *service, char **argv)
{
	(void)service;
	(void)argv;
	/* Date: is local time: load the zone before any chroot. */
	tzset();
}

static void
bounce_post_init(const char *service, char **argv)
{
	(void)service;
	(void)argv;
	bounce_notify_init();
}

static const struct single_server_spec bounce_spec = {
	.name = "bounce",
	.service = bounce_service,
	.pre_init = bounce_pre_init,
	.post_init = bounce_post_init,
};

int
main(int argc, char **argv)
{
	return single_server_main(argc, argv, &bounce_spec);
}
