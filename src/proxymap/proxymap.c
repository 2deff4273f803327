/*
 * proxymap.c - open lookup tables once, answer for many processes
 *
 * master.cf:
 *	proxymap   unix  -  -  n  -  -  proxymap
 *	proxywrite unix  -  -  n  -  1  proxymap
 *
 * The server side of proxy:type:name tables (dict_proxy.c holds the
 * client and the protocol). One process serves many clients in one
 * libevent loop (multi_server_main): a SQL connection or a parsed
 * regexp table is opened once per process instead of once per smtpd.
 *
 * The service name (-n, master.cf column 1) picks the mode. Under
 * "proxywrite" the process serves the tables in proxy_write_maps and
 * accepts lookup, update and delete; under any other name (normally
 * "proxymap") it serves the tables in proxy_read_maps and refuses
 * update and delete. A table is served only when it appears in that
 * list exactly as the client writes it ("proxy:lmdb:/x" in the list
 * counts as "lmdb:/x"); a refusal is logged and answered with
 * PROXY_STAT_DENY and the reason "<service>: table X is not approved
 * for proxy read access" (write access, under proxywrite). Tables are
 * opened at their first request with dict_open() and DICT_FLAG_NO_PROXY,
 * and kept open for the life of the process; a table that cannot be
 * opened answers every request with a temporary failure.
 *
 * Requests are read from each client's input as it arrives and decoded
 * with attr_parse(), which says when a message is still incomplete, so
 * that one slow client never blocks the loop. A lookup itself does block
 * the loop (an SQL query), as in Postfix; each is bounded by the table's
 * own timeouts and by the skeleton's watchdog. A client that stops
 * reading its replies is not read from until they drain.
 *
 * Idle clients: a client that sends nothing for ipc_idle seconds (plus
 * one) is disconnected; the client library reconnects when it needs to
 * (dict_proxy.c). Without that, clients that keep their connection
 * would keep this process alive forever, past max_idle and past the
 * skeleton's restart after a table changed on disk (dict_changed()).
 *
 * SECURITY: clients are local processes but are not trusted. Requests
 * are limited in size (PROXY_MAX_VALUE, PROXY_MAX_TOTAL) and extracted
 * with ATTR_STRICT; a malformed message is logged and the client is
 * disconnected. Only approved tables are ever opened, so a client
 * cannot make this process open files of its choice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "argv.h"
#include "attr.h"
#include "buf.h"
#include "dict.h"
#include "dict_proxy.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "server.h"
#include "str.h"

/* Request limits: keys are short, update values may be long lists. */
#define PROXY_MAX_ATTRS		8
#define PROXY_MAX_VALUE		(256 * 1024)
#define PROXY_MAX_TOTAL		(512 * 1024)
/* Stop reading a client whose unread replies exceed this. */
#define PROXY_OUT_HIGH		(256 * 1024)

struct proxy_client {
	int fd;
	struct bufferevent *bev;
	bool paused;			/* reading stopped: output full */
	bool closing;			/* disconnect once output drained */
	struct buf who;			/* "pid 123 uid 45", for logs */
};

static const struct attr_limits proxy_limits = {
	.max_attrs = PROXY_MAX_ATTRS,
	.max_name = ATTR_DEF_MAX_NAME,
	.max_value = PROXY_MAX_VALUE,
	.max_total = PROXY_MAX_TOTAL,
};

static char *proxy_service;		/* -n name, for replies and logs */
static bool proxy_writer;		/* the proxywrite service */
static struct argv *proxy_maps;		/* the approved tables */
static struct htable *proxy_tables;	/* "flags:table" -> struct dict */

/*
 * Per-request scratch, reused: one request is served at a time. The
 * fields hold the attributes of the current request.
 */
static struct {
	struct attr_list list;
	struct buf request, table, key, value;
	int flags;
	struct buf reason, why, reply;
} px;

typedef int (*proxy_serve_fn)(struct proxy_client *pc);

static void proxy_input(struct proxy_client *pc);

static void
proxy_client_free(struct proxy_client *pc)
{
	int fd = pc->fd;

	bufferevent_free(pc->bev);
	buf_fini(&pc->who);
	free(pc);
	multi_server_disconnect(fd);
}

/* Queue one reply message. */
static void
proxy_reply(struct proxy_client *pc, const struct attr_spec *spec)
{
	buf_reset(&px.reply);
	attr_encode(&px.reply, spec);
	if (evbuffer_add(bufferevent_get_output(pc->bev), px.reply.data,
	    px.reply.len) < 0)
		msg_fatal("out of memory queueing a reply");
}

static void
proxy_reply_status(struct proxy_client *pc, int status, const char *reason)
{
	proxy_reply(pc, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, status),
	    A_STR(ATTR_REASON, reason), A_END});
}

/*
 * A well-formed message that is not a valid request: log it, say why,
 * and hang up once the reply is out. Returns -1 for the dispatcher.
 */
static int
proxy_bad_request(struct proxy_client *pc, const char *why)
{
	msg_warn("bad request from client %s: %s; disconnecting",
	    pc->who.data, why);
	proxy_reply_status(pc, PROXY_STAT_BAD, why);
	return -1;
}

/* Strictly extract the current request's attributes. */
static int
proxy_extract(struct proxy_client *pc, const struct attr_spec *spec)
{
	if (attr_extract(&px.list, ATTR_STRICT, spec, &px.why) < 0)
		return proxy_bad_request(pc, px.why.data);
	if (px.table.len == 0 || px.table.data[0] == ':'
	    || strchr(px.table.data, ':') == NULL) {
		buf_reset(&px.why);
		buf_puts(&px.why, "table name \"");
		str_printable(&px.why, px.table.data, px.table.len);
		buf_puts(&px.why, "\" is not type:name");
		return proxy_bad_request(pc, px.why.data);
	}
	return 0;
}

/*
 * The table of the current request, opened once; NULL when it is not
 * approved, with px.reason set and logged.
 */
static struct dict *
proxy_table(void)
{
	int flags = (px.flags & PROXY_FLAGS_PASSED) | DICT_FLAG_NO_PROXY;
	int open_flags = proxy_writer ? O_RDWR | O_CREAT : O_RDONLY;
	struct buf key;
	struct dict *d;

	buf_init(&key, px.table.len + 16);
	buf_printf(&key, "%d:%s", flags, px.table.data);
	if ((d = htable_get(proxy_tables, key.data)) == NULL) {
		if (!dict_proxy_listed(proxy_maps, px.table.data)) {
			buf_reset(&px.reason);
			buf_printf(&px.reason, "%s: table ", proxy_service);
			str_printable(&px.reason, px.table.data, px.table.len);
			buf_printf(&px.reason, " is not approved for proxy %s "
			    "access", proxy_writer ? "write" : "read");
			msg_warn("%s", px.reason.data);
		} else {
			d = dict_open(px.table.data, open_flags, flags);
			htable_put(proxy_tables, key.data, d);
		}
	}
	buf_fini(&key);
	return d;
}

/* Map a table result to a reply status (reason for temporary ones). */
static int
proxy_status(struct dict *d, enum dict_result rc)
{
	buf_reset(&px.reason);
	switch (rc) {
	case DICT_FOUND:
		return PROXY_STAT_OK;
	case DICT_NOTFOUND:
		return PROXY_STAT_NOTFOUND;
	default:
		buf_puts(&px.reason, dict_error(d));
		return PROXY_STAT_TEMPFAIL;
	}
}

static int
proxy_serve_open(struct proxy_client *pc)
{
	struct dict *d;
	int status = PROXY_STAT_OK;

	if (proxy_extract(pc, (const struct attr_spec[]){
	    A_BUF(ATTR_REQUEST, &px.request),
	    A_BUF(ATTR_TABLE, &px.table),
	    A_INT(ATTR_FLAGS, &px.flags), A_END}) < 0)
		return -1;
	buf_reset(&px.reason);
	if ((d = proxy_table()) == NULL) {
		status = PROXY_STAT_DENY;
	} else if (dict_is_surrogate(d)) {
		status = PROXY_STAT_TEMPFAIL;
		buf_puts(&px.reason, dict_error(d));
	}
	proxy_reply_status(pc, status, px.reason.data);
	return 0;
}

static int
proxy_serve_lookup(struct proxy_client *pc)
{
	struct dict *d;
	int status = PROXY_STAT_DENY;

	if (proxy_extract(pc, (const struct attr_spec[]){
	    A_BUF(ATTR_REQUEST, &px.request),
	    A_BUF(ATTR_TABLE, &px.table),
	    A_INT(ATTR_FLAGS, &px.flags),
	    A_BUF(ATTR_KEY, &px.key), A_END}) < 0)
		return -1;
	buf_reset(&px.value);
	if ((d = proxy_table()) != NULL)
		status = proxy_status(d, dict_lookup(d, px.key.data,
		    &px.value));
	proxy_reply(pc, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, status),
	    A_STR(ATTR_REASON, px.reason.data),
	    A_STR(ATTR_VALUE, status == PROXY_STAT_OK ? px.value.data : ""),
	    A_END});
	return 0;
}

/* update and delete: refused on the read service. */
static int
proxy_change(struct proxy_client *pc, bool update)
{
	const char *what = update ? PROXY_REQ_UPDATE : PROXY_REQ_DELETE;
	struct dict *d;
	enum dict_result rc;
	int status = PROXY_STAT_DENY;
	const struct attr_spec upd[] = {
		A_BUF(ATTR_REQUEST, &px.request),
		A_BUF(ATTR_TABLE, &px.table),
		A_INT(ATTR_FLAGS, &px.flags),
		A_BUF(ATTR_KEY, &px.key),
		A_BUF(ATTR_VALUE, &px.value),
		A_END,
	};
	const struct attr_spec del[] = {upd[0], upd[1], upd[2], upd[3], A_END};

	if (proxy_extract(pc, update ? upd : del) < 0)
		return -1;
	if (!proxy_writer) {
		buf_reset(&px.reason);
		buf_printf(&px.reason, "%s: table ", proxy_service);
		str_printable(&px.reason, px.table.data, px.table.len);
		buf_printf(&px.reason, ": %s requests are not allowed on "
		    "this read-only service (use %s)", what,
		    PROXY_SERVICE_WRITE);
		msg_warn("client %s: %s", pc->who.data, px.reason.data);
	} else if ((d = proxy_table()) != NULL) {
		rc = update ? dict_update(d, px.key.data, px.value.data)
		    : dict_delete(d, px.key.data);
		if (rc == DICT_TEMPFAIL)
			msg_warn("%s", dict_error(d));
		status = proxy_status(d, rc);
	}
	proxy_reply_status(pc, status, px.reason.data);
	return 0;
}

static int
proxy_serve_update(struct proxy_client *pc)
{
	return proxy_change(pc, true);
}

static int
proxy_serve_delete(struct proxy_client *pc)
{
	return proxy_change(pc, false);
}

static const struct proxy_handler {
	const char *name;
	proxy_serve_fn serve;
} proxy_handlers[] = {
	{PROXY_REQ_OPEN, proxy_serve_open},
	{PROXY_REQ_LOOKUP, proxy_serve_lookup},
	{PROXY_REQ_UPDATE, proxy_serve_update},
	{PROXY_REQ_DELETE, proxy_serve_delete},
};

/* Serve the request in px.list; -1 means hang up. */
static int
proxy_dispatch(struct proxy_client *pc)
{
	const struct buf *name = attr_list_get(&px.list, ATTR_REQUEST);
	size_t i;

	if (name == NULL)
		return proxy_bad_request(pc, "missing attribute \""
		    ATTR_REQUEST "\"");
	for (i = 0; i < sizeof(proxy_handlers) / sizeof(*proxy_handlers); i++)
		if (strcmp(name->data, proxy_handlers[i].name) == 0)
			return proxy_handlers[i].serve(pc);
	buf_reset(&px.why);
	buf_puts(&px.why, "unknown request \"");
	str_printable(&px.why, name->data, name->len > 64 ? 64 : name->len);
	buf_putc(&px.why, '"');
	return proxy_bad_request(pc, px.why.data);
}

/* Stop reading; drop the client once its last reply is written. */
static void
proxy_close_after_reply(struct proxy_client *pc)
{
	pc->closing = true;
	(void)bufferevent_disable(pc->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(pc->bev)) == 0)
		proxy_client_free(pc);
}

/* Serve every complete request in the input buffer. */
static void
proxy_input(struct proxy_client *pc)
{
	struct evbuffer *in = bufferevent_get_input(pc->bev);
	struct evbuffer *out = bufferevent_get_output(pc->bev);
	const char *data;
	ssize_t used;
	size_t len;

	while (!pc->closing && (len = evbuffer_get_length(in)) > 0) {
		if (evbuffer_get_length(out) >= PROXY_OUT_HIGH) {
			/* proxy_drained() resumes. */
			pc->paused = true;
			(void)bufferevent_disable(pc->bev, EV_READ);
			return;
		}
		if ((data = (const char *)evbuffer_pullup(in, -1)) == NULL)
			msg_fatal("out of memory reading a request");
		used = attr_parse(&px.list, data, len, &proxy_limits, &px.why);
		if (used == 0)
			return;		/* incomplete: wait for more */
		if (used < 0) {
			msg_warn("malformed request from client %s: %s; "
			    "disconnecting", pc->who.data, px.why.data);
			proxy_client_free(pc);
			return;
		}
		if (evbuffer_drain(in, (size_t)used) < 0)
			msg_fatal("cannot drain the input buffer");
		if (proxy_dispatch(pc) < 0) {
			/* pc may be gone. */
			proxy_close_after_reply(pc);
			return;
		}
	}
}

static void
proxy_read_event(struct bufferevent *bev, void *arg)
{
	(void)bev;
	proxy_input(arg);
}

/* All output written (the low watermark is 0). */
static void
proxy_drained(struct bufferevent *bev, void *arg)
{
	struct proxy_client *pc = arg;

	if (pc->closing) {
		proxy_client_free(pc);
	} else if (pc->paused) {
		pc->paused = false;
		if (bufferevent_enable(bev, EV_READ) < 0)
			msg_fatal("cannot resume reading from a client");
		proxy_input(pc);
	}
}

static void
proxy_other_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy_client *pc = arg;

	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_WRITING))
		msg_warn("client %s: timeout after %d seconds sending a "
		    "reply; disconnecting", pc->who.data, var_ipc_timeout);
	else if ((what & BEV_EVENT_TIMEOUT)
	    && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		msg_warn("client %s: timeout in the middle of a request; "
		    "disconnecting", pc->who.data);
	else if ((what & BEV_EVENT_TIMEOUT) && msg_verbose)
		msg_info("client %s: idle; disconnecting", pc->who.data);
	else if ((what & BEV_EVENT_ERROR) && msg_verbose)
		msg_info("client %s: %s", pc->who.data,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	proxy_client_free(pc);
}

static void
proxy_peer(struct proxy_client *pc)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	buf_init(&pc->who, 32);
	if (getsockopt(pc->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
	    && len == sizeof(cred))
		buf_printf(&pc->who, "pid %ld uid %ld", (long)cred.pid,
		    (long)cred.uid);
	else
		buf_printf(&pc->who, "fd %d", pc->fd);
}

static void
proxy_accept(int fd, const char *service, char **argv)
{
	struct proxy_client *pc;
	struct timeval read_tv = {0}, write_tv = {0};

	(void)service;
	(void)argv;
	if (evutil_make_socket_nonblocking(fd) < 0)
		msg_fatal("non-blocking client socket: %m");
	pc = xcalloc(1, sizeof(*pc));
	pc->fd = fd;
	proxy_peer(pc);
	/* The skeleton closes fd: no BEV_OPT_CLOSE_ON_FREE. */
	pc->bev = bufferevent_socket_new(multi_server_base(), fd, 0);
	if (pc->bev == NULL)
		msg_fatal("cannot create a bufferevent");
	bufferevent_setcb(pc->bev, proxy_read_event, proxy_drained,
	    proxy_other_event, pc);
	/* Reads: the idle limit above; writes: ipc_timeout. */
	read_tv.tv_sec = var_ipc_idle + 1;
	write_tv.tv_sec = var_ipc_timeout;
	if (bufferevent_set_timeouts(pc->bev, &read_tv, &write_tv) < 0
	    || bufferevent_enable(pc->bev, EV_READ | EV_WRITE) < 0)
		msg_fatal("cannot set up client %s", pc->who.data);
	if (msg_verbose)
		msg_info("connect from client %s", pc->who.data);
}

static void
proxy_pre_init(const char *service, char **argv)
{
	(void)argv;
	proxy_service = xstrdup(service);
	proxy_writer = strcmp(service, PROXY_SERVICE_WRITE) == 0;
	proxy_maps = dict_proxy_split_maps(proxy_writer ? var_proxy_write_maps
	    : var_proxy_read_maps);
	proxy_tables = htable_new(16);
	attr_list_init(&px.list);
	buf_init(&px.request, 16);
	buf_init(&px.table, 128);
	buf_init(&px.key, 256);
	buf_init(&px.value, 256);
	buf_init(&px.reason, 128);
	buf_init(&px.why, 128);
	buf_init(&px.reply, 512);
	if (msg_verbose)
		msg_info("%s: %s service for %zu table(s)", service,
		    proxy_writer ? "read-write" : "read-only",
		    proxy_maps->argc);
}

static const struct multi_server_spec proxy_spec = {
	.name = "proxymap",
	.accept = proxy_accept,
	.pre_init = proxy_pre_init,
};

int
main(int argc, char **argv)
{
	return multi_server_main(argc, argv, &proxy_spec);
}
