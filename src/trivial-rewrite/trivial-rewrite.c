/*
 * trivial-rewrite.c - rewrite addresses to canonical form, resolve them
 *
 * master.cf:
 *	rewrite    unix  -  -  n  -  -  trivial-rewrite
 *
 * The server side of rewrite_clnt.h and resolve_clnt.h (which describe
 * the protocol): "rewrite" puts an address in canonical form (rewrite.c),
 * "resolve" finds its transport, next hop, recipient and class
 * (resolve.c). One process serves many clients in one libevent loop
 * (multi_server_main); cleanup and qmgr keep their connection open.
 *
 * Requests are read from each client's input as it arrives and decoded
 * with attr_parse(), so that one slow client never blocks the loop, and
 * dispatched by name through a table. Answers are kept in a cache of at
 * most TR_CACHE_LIMIT entries, emptied when full: the same few senders
 * and domains come back again and again, and a hit costs no table
 * lookup. Temporary failures are not cached. The cache lives as long as
 * the process; the skeleton restarts the process when main.cf is
 * reloaded or a table it opened changes on disk.
 *
 * A client that sends nothing for ipc_idle seconds (plus one) is
 * disconnected, so that the process can go idle and exit; the client
 * library reconnects when it needs to.
 *
 * Errors: a request that cannot be decoded, names an unknown request or
 * rule, or lacks or repeats an attribute is logged ("warning: bad
 * request from client pid N uid U: ...; disconnecting") and answered
 * with REWRITE_STAT_BAD and the reason, and the client is disconnected
 * once the answer is out. A table that fails during "resolve" is logged
 * and answered with REWRITE_STAT_TEMPFAIL (the client defers).
 *
 * SECURITY: clients are local processes but are not trusted, and the
 * addresses they send come from outside. Requests are limited in size
 * (TR_MAX_VALUE, TR_MAX_TOTAL) and extracted with ATTR_STRICT; logged
 * text is made printable by msg.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "attr.h"
#include "buf.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "resolve.h"
#include "resolve_clnt.h"
#include "rewrite.h"
#include "rewrite_clnt.h"
#include "server.h"
#include "str.h"

/* Request limits: an address, a rule, a request name. */
#define TR_MAX_ATTRS		8
#define TR_MAX_VALUE		(64 * 1024)
#define TR_MAX_TOTAL		(128 * 1024)
/* Stop reading a client whose unread replies exceed this. */
#define TR_OUT_HIGH		(256 * 1024)
/* Answers kept; the cache is emptied when it reaches this. */
#define TR_CACHE_LIMIT		10000

struct tr_client {
	int fd;
	struct bufferevent *bev;
	bool paused;			/* reading stopped: output full */
	bool closing;			/* disconnect once output drained */
	struct buf who;			/* "pid 123 uid 45", for logs */
};

/* One cached answer; a rewrite uses only addr. */
struct tr_answer {
	int addr_class;
	char *transport;
	char *nexthop;
	char *addr;			/* rewritten address, or recipient */
};

static const struct attr_limits tr_limits = {
	.max_attrs = TR_MAX_ATTRS,
	.max_name = ATTR_DEF_MAX_NAME,
	.max_value = TR_MAX_VALUE,
	.max_total = TR_MAX_TOTAL,
};

static struct htable *tr_cache;

/* Per-request scratch, reused: one request is served at a time. */
static struct {
	struct attr_list list;
	struct buf request, rule, addr, key;
	struct buf result, why, reply;
	struct resolve_reply resolved;
} tr;

typedef int (*tr_serve_fn)(struct tr_client *tc);

static void
tr_client_free(struct tr_client *tc)
{
	int fd = tc->fd;

	bufferevent_free(tc->bev);
	buf_fini(&tc->who);
	free(tc);
	multi_server_disconnect(fd);
}

/* Queue one reply message. */
static void
tr_reply(struct tr_client *tc, const struct attr_spec *spec)
{
	buf_reset(&tr.reply);
	attr_encode(&tr.reply, spec);
	if (evbuffer_add(bufferevent_get_output(tc->bev), tr.reply.data,
	    tr.reply.len) < 0)
		msg_fatal("out of memory queueing a reply");
}

/*
 * Not a valid request: log it, say why, and hang up once the reply is
 * out. Returns -1 for the dispatcher.
 */
static int
tr_bad_request(struct tr_client *tc, const char *why)
{
	msg_warn("bad request from client %s: %s; disconnecting",
	    tc->who.data, why);
	tr_reply(tc, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, REWRITE_STAT_BAD),
	    A_STR(ATTR_REASON, why), A_END});
	return -1;
}

static int
tr_extract(struct tr_client *tc, const struct attr_spec *spec)
{
	if (attr_extract(&tr.list, ATTR_STRICT, spec, &tr.why) < 0)
		return tr_bad_request(tc, tr.why.data);
	return 0;
}

static void
tr_answer_free(void *value)
{
	struct tr_answer *a = value;

	free(a->transport);
	free(a->nexthop);
	free(a->addr);
	free(a);
}

/* Cache key: a kind letter and the address ("L", "R" rewrite; "S"). */
static const struct tr_answer *
tr_cache_get(int kind, const char *addr)
{
	buf_reset(&tr.key);
	buf_putc(&tr.key, kind);
	buf_puts(&tr.key, addr);
	return htable_get(tr_cache, tr.key.data);
}

/* Store an answer under the key of the last tr_cache_get(). */
static void
tr_cache_put(int addr_class, const char *transport, const char *nexthop,
    const char *addr)
{
	struct tr_answer *a = xmalloc(sizeof(*a)), *old;

	if (htable_count(tr_cache) >= TR_CACHE_LIMIT) {
		if (msg_verbose)
			msg_info("cache full (%d answers); emptied",
			    TR_CACHE_LIMIT);
		htable_free(tr_cache, tr_answer_free);
		tr_cache = htable_new(1024);
	}
	a->addr_class = addr_class;
	a->transport = xstrdup(transport);
	a->nexthop = xstrdup(nexthop);
	a->addr = xstrdup(addr);
	if ((old = htable_put(tr_cache, tr.key.data, a)) != NULL)
		tr_answer_free(old);
}

static int
tr_serve_rewrite(struct tr_client *tc)
{
	const struct tr_answer *a;
	bool local;

	if (tr_extract(tc, (const struct attr_spec[]){
	    A_BUF(ATTR_REQUEST, &tr.request),
	    A_BUF(ATTR_RULE, &tr.rule),
	    A_BUF(ATTR_ADDR, &tr.addr), A_END}) < 0)
		return -1;
	if (strcmp(tr.rule.data, REWRITE_LOCAL) == 0) {
		local = true;
	} else if (strcmp(tr.rule.data, REWRITE_REMOTE) == 0) {
		local = false;
	} else {
		buf_reset(&tr.why);
		buf_puts(&tr.why, "unknown rewrite rule \"");
		str_printable(&tr.why, tr.rule.data,
		    tr.rule.len > 64 ? 64 : tr.rule.len);
		buf_puts(&tr.why, "\" (expected " REWRITE_LOCAL " or "
		    REWRITE_REMOTE ")");
		return tr_bad_request(tc, tr.why.data);
	}
	if ((a = tr_cache_get(local ? 'L' : 'R', tr.addr.data)) != NULL) {
		buf_set(&tr.result, a->addr);
	} else {
		rewrite_addr(local, tr.addr.data, &tr.result);
		tr_cache_put(0, "", "", tr.result.data);
	}
	if (msg_verbose)
		msg_info("rewrite %s \"%s\" -> \"%s\"%s", tr.rule.data,
		    tr.addr.data, tr.result.data, a ? " (cached)" : "");
	tr_reply(tc, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, REWRITE_STAT_OK),
	    A_STR(ATTR_REASON, ""),
	    A_STR(ATTR_ADDR, tr.result.data), A_END});
	return 0;
}

static int
tr_serve_resolve(struct tr_client *tc)
{
	struct resolve_reply *r = &tr.resolved;
	const struct tr_answer *a;
	int status = REWRITE_STAT_OK;

	if (tr_extract(tc, (const struct attr_spec[]){
	    A_BUF(ATTR_REQUEST, &tr.request),
	    A_BUF(ATTR_ADDR, &tr.addr), A_END}) < 0)
		return -1;
	buf_reset(&tr.why);
	if ((a = tr_cache_get('S', tr.addr.data)) != NULL) {
		r->addr_class = a->addr_class;
		buf_set(&r->transport, a->transport);
		buf_set(&r->nexthop, a->nexthop);
		buf_set(&r->recipient, a->addr);
	} else if (resolve_addr(tr.addr.data, r, &tr.why) < 0) {
		msg_warn("resolve \"%s\": %s", tr.addr.data, tr.why.data);
		status = REWRITE_STAT_TEMPFAIL;
		r->addr_class = RESOLVE_CLASS_DEFAULT;
		buf_reset(&r->transport);
		buf_reset(&r->nexthop);
		buf_reset(&r->recipient);
	} else {
		tr_cache_put(r->addr_class, r->transport.data,
		    r->nexthop.data, r->recipient.data);
	}
	if (msg_verbose && status == REWRITE_STAT_OK)
		msg_info("resolve \"%s\" -> %s \"%s\" \"%s\" %s%s",
		    tr.addr.data, r->transport.data, r->nexthop.data,
		    r->recipient.data, resolve_class_name(r->addr_class),
		    a ? " (cached)" : "");
	tr_reply(tc, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, status),
	    A_STR(ATTR_REASON, tr.why.data),
	    A_STR(ATTR_TRANSPORT, r->transport.data),
	    A_STR(ATTR_NEXTHOP, r->nexthop.data),
	    A_STR(ATTR_RECIPIENT, r->recipient.data),
	    A_NUM(ATTR_ADDR_CLASS, (int)r->addr_class), A_END});
	return 0;
}

static const struct tr_handler {
	const char *name;
	tr_serve_fn serve;
} tr_handlers[] = {
	{REWRITE_REQ_REWRITE, tr_serve_rewrite},
	{REWRITE_REQ_RESOLVE, tr_serve_resolve},
};

/* Serve the request in tr.list; -1 means hang up. */
static int
tr_dispatch(struct tr_client *tc)
{
	const struct buf *name = attr_list_get(&tr.list, ATTR_REQUEST);
	size_t i;

	if (name == NULL)
		return tr_bad_request(tc, "missing attribute \""
		    ATTR_REQUEST "\"");
	for (i = 0; i < sizeof(tr_handlers) / sizeof(*tr_handlers); i++)
		if (strcmp(name->data, tr_handlers[i].name) == 0)
			return tr_handlers[i].serve(tc);
	buf_reset(&tr.why);
	buf_puts(&tr.why, "unknown request \"");
	str_printable(&tr.why, name->data, name->len > 64 ? 64 : name->len);
	buf_putc(&tr.why, '"');
	return tr_bad_request(tc, tr.why.data);
}

/* Stop reading; drop the client once its last reply is written. */
static void
tr_close_after_reply(struct tr_client *tc)
{
	tc->closing = true;
	(void)bufferevent_disable(tc->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(tc->bev)) == 0)
		tr_client_free(tc);
}

/* Serve every complete request in the input buffer. */
static void
tr_input(struct tr_client *tc)
{
	struct evbuffer *in = bufferevent_get_input(tc->bev);
	struct evbuffer *out = bufferevent_get_output(tc->bev);
	const char *data;
	ssize_t used;
	size_t len;

	while (!tc->closing && (len = evbuffer_get_length(in)) > 0) {
		if (evbuffer_get_length(out) >= TR_OUT_HIGH) {
			/* tr_drained() resumes. */
			tc->paused = true;
			(void)bufferevent_disable(tc->bev, EV_READ);
			return;
		}
		if ((data = (const char *)evbuffer_pullup(in, -1)) == NULL)
			msg_fatal("out of memory reading a request");
		used = attr_parse(&tr.list, data, len, &tr_limits, &tr.why);
		if (used == 0)
			return;		/* incomplete: wait for more */
		if (used < 0) {
			buf_reset(&tr.result);
			buf_printf(&tr.result, "malformed request: %s",
			    tr.why.data);
			(void)tr_bad_request(tc, tr.result.data);
			tr_close_after_reply(tc);
			return;
		}
		if (evbuffer_drain(in, (size_t)used) < 0)
			msg_fatal("cannot drain the input buffer");
		if (tr_dispatch(tc) < 0) {
			tr_close_after_reply(tc);
			return;
		}
	}
}

static void
tr_read_event(struct bufferevent *bev, void *arg)
{
	(void)bev;
	tr_input(arg);
}

/* All output written (the low watermark is 0). */
static void
tr_drained(struct bufferevent *bev, void *arg)
{
	struct tr_client *tc = arg;

	if (tc->closing) {
		tr_client_free(tc);
	} else if (tc->paused) {
		tc->paused = false;
		if (bufferevent_enable(bev, EV_READ) < 0)
			msg_fatal("cannot resume reading from a client");
		tr_input(tc);
	}
}

static void
tr_other_event(struct bufferevent *bev, short what, void *arg)
{
	struct tr_client *tc = arg;

	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_WRITING))
		msg_warn("client %s: timeout after %d seconds sending a "
		    "reply; disconnecting", tc->who.data, var_ipc_timeout);
	else if ((what & BEV_EVENT_TIMEOUT)
	    && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		msg_warn("client %s: timeout in the middle of a request; "
		    "disconnecting", tc->who.data);
	else if ((what & BEV_EVENT_TIMEOUT) && msg_verbose)
		msg_info("client %s: idle; disconnecting", tc->who.data);
	else if ((what & BEV_EVENT_ERROR) && msg_verbose)
		msg_info("client %s: %s", tc->who.data,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	tr_client_free(tc);
}

static void
tr_peer(struct tr_client *tc)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	buf_init(&tc->who, 32);
	if (getsockopt(tc->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
	    && len == sizeof(cred))
		buf_printf(&tc->who, "pid %ld uid %ld", (long)cred.pid,
		    (long)cred.uid);
	else
		buf_printf(&tc->who, "fd %d", tc->fd);
}

static void
tr_accept(int fd, const char *service, char **argv)
{
	struct tr_client *tc;
	struct timeval read_tv = {0}, write_tv = {0};

	(void)service;
	(void)argv;
	if (evutil_make_socket_nonblocking(fd) < 0)
		msg_fatal("non-blocking client socket: %m");
	tc = xcalloc(1, sizeof(*tc));
	tc->fd = fd;
	tr_peer(tc);
	/* The skeleton closes fd: no BEV_OPT_CLOSE_ON_FREE. */
	tc->bev = bufferevent_socket_new(multi_server_base(), fd, 0);
	if (tc->bev == NULL)
		msg_fatal("cannot create a bufferevent");
	bufferevent_setcb(tc->bev, tr_read_event, tr_drained, tr_other_event,
	    tc);
	/* Reads: the idle limit; writes: ipc_timeout. */
	read_tv.tv_sec = var_ipc_idle + 1;
	write_tv.tv_sec = var_ipc_timeout;
	if (bufferevent_set_timeouts(tc->bev, &read_tv, &write_tv) < 0
	    || bufferevent_enable(tc->bev, EV_READ | EV_WRITE) < 0)
		msg_fatal("cannot set up client %s", tc->who.data);
	if (msg_verbose)
		msg_info("connect from client %s", tc->who.data);
}

static void
tr_pre_init(const char *service, char **argv)
{
	(void)service;
	(void)argv;
	/* Tables are opened while still privileged. */
	resolve_init();
	tr_cache = htable_new(1024);
	attr_list_init(&tr.list);
	buf_init(&tr.request, 16);
	buf_init(&tr.rule, 16);
	buf_init(&tr.addr, 256);
	buf_init(&tr.key, 256);
	buf_init(&tr.result, 256);
	buf_init(&tr.why, 128);
	buf_init(&tr.reply, 512);
	resolve_reply_init(&tr.resolved);
}

static const struct multi_server_spec tr_spec = {
	.name = "trivial-rewrite",
	.accept = tr_accept,
	.pre_init = tr_pre_init,
};

int
main(int argc, char **argv)
{
	return multi_server_main(argc, argv, &tr_spec);
}
