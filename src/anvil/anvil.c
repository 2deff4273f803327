/*
 * anvil.c - count connections and rates per client, for smtpd's limits
 *
 * master.cf:
 *	anvil     unix  -       -       n       -       1       anvil
 *
 * As Postfix's anvil(8): one process (maxproc 1) serves every smtpd
 * over private/anvil in one libevent loop (multi_server_main). For each
 * ident ("service:client_address") it counts the concurrent connections
 * and the connections, messages and recipients of a fixed window of
 * anvil_rate_time_unit seconds, which starts at the first event and
 * resets once a unit has passed. The protocol is in anvil_clnt.h.
 *
 * Clients keep their connection (one per smtpd process). Each client
 * remembers which idents it connected, and how often; when the client
 * connection closes without disconnect requests (smtpd exited or
 * crashed), those connections are dropped from the counts.
 *
 * Memory: an ident with no connection and an expired window is removed
 * by a cleanup timer that runs every anvil_rate_time_unit, so the table
 * holds only active clients; beyond ANVIL_MAX_IDENTS new idents are
 * refused (ANVIL_STAT_FULL, logged once per status interval) and smtpd
 * then does not enforce its limits for them.
 *
 * Every anvil_status_update_time, and at exit, the extremes seen since
 * the last report are logged as Postfix does ("statistics: max
 * connection rate 3/60s for (smtp:192.0.2.1) at Nov 21 09:00:00").
 *
 * The process accepts any number of clients (no max_use) and stays
 * at least one time unit when idle (max_idle), so that rates survive
 * a quiet moment, as Postfix.
 *
 * SECURITY: clients are local processes but are not trusted. Messages
 * are parsed with small limits (ANVIL_MAX_VALUE); a message that does
 * not parse is logged and the client is disconnected. A request that
 * parses but is wrong (unknown request, missing or extra attribute,
 * an ident that is empty, too long or not printable) is logged and
 * answered with ANVIL_STAT_FAIL; the connection stays usable.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "anvil_clnt.h"
#include "attr.h"
#include "buf.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "proto_names.h"
#include "server.h"
#include "str.h"
#include "timeutil.h"

/* Request limits: two short attributes. */
#define ANVIL_MAX_ATTRS		4
#define ANVIL_MAX_VALUE		1024
#define ANVIL_MAX_TOTAL		4096
/* Stop reading a client whose unread replies exceed this. */
#define ANVIL_OUT_HIGH		(64 * 1024)
/* Idents tracked at most. */
#define ANVIL_MAX_IDENTS	100000

/* One ident. */
struct anvil_remote {
	int count;			/* concurrent connections */
	int rate;			/* connections in this window */
	int mail;			/* messages in this window */
	int rcpt;			/* recipients in this window */
	uint64_t start_ms;		/* window start (monotonic) */
};

/* One client process (an smtpd). */
struct anvil_client {
	int fd;
	struct bufferevent *bev;
	bool paused;			/* reading stopped: output full */
	struct htable *local;		/* ident -> (intptr_t) connections */
	struct buf who;			/* "pid 123 uid 45", for logs */
};

/* The largest value of one statistic in this status interval. */
struct anvil_max {
	const char *what;		/* "connection rate" ... */
	bool is_rate;
	int value;
	struct buf ident;
	time_t when;
};

enum {
	ANVIL_MAX_RATE, ANVIL_MAX_COUNT, ANVIL_MAX_MAIL, ANVIL_MAX_RCPT,
	ANVIL_MAX_COUNT_OF
};

static struct anvil_max anvil_max[ANVIL_MAX_COUNT_OF] = {
	[ANVIL_MAX_RATE] = {.what = "connection rate", .is_rate = true},
	[ANVIL_MAX_COUNT] = {.what = "connection count"},
	[ANVIL_MAX_MAIL] = {.what = "message rate", .is_rate = true},
	[ANVIL_MAX_RCPT] = {.what = "recipient rate", .is_rate = true},
};
static size_t anvil_max_cache;		/* largest table size */
static time_t anvil_max_cache_when;
static bool anvil_full_logged;		/* this interval */

static const struct attr_limits anvil_limits = {
	.max_attrs = ANVIL_MAX_ATTRS,
	.max_name = ATTR_DEF_MAX_NAME,
	.max_value = ANVIL_MAX_VALUE,
	.max_total = ANVIL_MAX_TOTAL,
};

static struct htable *anvil_remotes;	/* ident -> struct anvil_remote */
static struct event *anvil_status_ev;
static struct event *anvil_cleanup_ev;

/* Per-request scratch, reused: one request is served at a time. */
static struct {
	struct attr_list list;
	struct buf request, ident, why, reply;
} av;

typedef void (*anvil_serve_fn)(struct anvil_client *ac,
    struct anvil_remote *ar);

static uint64_t
anvil_unit_ms(void)
{
	return (uint64_t)var_anvil_rate_time_unit * 1000;
}

/* Note a new value of a statistic. */
static void
anvil_note(int which, int value, const char *ident)
{
	struct anvil_max *m = anvil_max + which;

	if (value > m->value) {
		m->value = value;
		buf_set(&m->ident, ident);
		m->when = time(NULL);
	}
}

static void
anvil_note_cache(void)
{
	size_t n = htable_count(anvil_remotes);

	if (n > anvil_max_cache) {
		anvil_max_cache = n;
		anvil_max_cache_when = time(NULL);
	}
}

/* Log and reset the statistics of this interval, if any. */
static void
anvil_status_dump(void)
{
	struct buf when;
	struct anvil_max *m;

	buf_init(&when, 32);
	for (m = anvil_max; m < anvil_max + ANVIL_MAX_COUNT_OF; m++) {
		if (m->value <= 0)
			continue;
		buf_reset(&when);
		time_fmt_syslog(&when, m->when);
		if (m->is_rate)
			msg_info("statistics: max %s %d/%ds for (%s) at %s",
			    m->what, m->value, var_anvil_rate_time_unit,
			    m->ident.data, when.data);
		else
			msg_info("statistics: max %s %d for (%s) at %s",
			    m->what, m->value, m->ident.data, when.data);
		m->value = 0;
	}
	if (anvil_max_cache > 0) {
		buf_reset(&when);
		time_fmt_syslog(&when, anvil_max_cache_when);
		msg_info("statistics: max cache size %zu at %s",
		    anvil_max_cache, when.data);
		anvil_max_cache = 0;
	}
	anvil_full_logged = false;
	buf_fini(&when);
}

static void
anvil_status_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	anvil_status_dump();
}

/* Reset the window of ar if it has passed. */
static void
anvil_window(struct anvil_remote *ar)
{
	uint64_t now = time_mono_ms();

	if (now - ar->start_ms >= anvil_unit_ms()) {
		ar->start_ms = now;
		ar->rate = ar->mail = ar->rcpt = 0;
	}
}

/* Remove idents with no connection and an expired window. */
static void
anvil_cleanup_event(evutil_socket_t fd, short what, void *arg)
{
	struct htable_entry **list, **ep;
	struct anvil_remote *ar;
	uint64_t now = time_mono_ms();
	size_t dropped = 0;

	(void)fd;
	(void)what;
	(void)arg;
	list = htable_list(anvil_remotes);
	for (ep = list; *ep != NULL; ep++) {
		ar = (*ep)->value;
		if (ar->count == 0 && now - ar->start_ms >= anvil_unit_ms()) {
			free(htable_delete(anvil_remotes, (*ep)->key));
			dropped++;
		}
	}
	free(list);
	if (msg_verbose && dropped > 0)
		msg_info("cleanup: removed %zu idle client(s), %zu left",
		    dropped, htable_count(anvil_remotes));
}

/* Queue one reply message. */
static void
anvil_reply(struct anvil_client *ac, const struct attr_spec *spec)
{
	buf_reset(&av.reply);
	attr_encode(&av.reply, spec);
	if (evbuffer_add(bufferevent_get_output(ac->bev), av.reply.data,
	    av.reply.len) < 0)
		msg_fatal("out of memory queueing a reply");
}

static void
anvil_reply_status(struct anvil_client *ac, int status)
{
	anvil_reply(ac, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, status), A_END});
}

/* A request that parsed but is wrong: log, refuse, keep the client. */
static void
anvil_bad_request(struct anvil_client *ac, const char *why)
{
	msg_warn("bad request from client %s: %s", ac->who.data, why);
	anvil_reply_status(ac, ANVIL_STAT_FAIL);
}

/* Empty, too long, or not printable non-space ASCII. */
static bool
anvil_ident_ok(const struct buf *ident)
{
	size_t i;

	if (ident->len == 0 || ident->len > ANVIL_IDENT_MAX)
		return false;
	for (i = 0; i < ident->len; i++)
		if (ident->data[i] <= ' ' || ident->data[i] >= 0x7f)
			return false;
	return true;
}

/*
 * The entry of av.ident; created when create is set (NULL with the
 * reply sent when the table is full).
 */
static struct anvil_remote *
anvil_remote(struct anvil_client *ac, bool create)
{
	struct anvil_remote *ar;

	if ((ar = htable_get(anvil_remotes, av.ident.data)) != NULL
	    || !create)
		return ar;
	if (htable_count(anvil_remotes) >= ANVIL_MAX_IDENTS) {
		if (!anvil_full_logged)
			msg_warn("client %s: more than %d clients tracked; "
			    "refusing new ident (%s) and others", ac->who.data,
			    ANVIL_MAX_IDENTS, av.ident.data);
		anvil_full_logged = true;
		anvil_reply_status(ac, ANVIL_STAT_FULL);
		return NULL;
	}
	ar = xcalloc(1, sizeof(*ar));
	ar->start_ms = time_mono_ms();
	htable_put(anvil_remotes, av.ident.data, ar);
	anvil_note_cache();
	return ar;
}

static int
anvil_local_count(struct anvil_client *ac, const char *ident)
{
	return (int)(intptr_t)htable_get(ac->local, ident);
}

static void
anvil_serve_connect(struct anvil_client *ac, struct anvil_remote *ar)
{
	int n = anvil_local_count(ac, av.ident.data);

	anvil_window(ar);
	if (ar->count < INT_MAX)
		ar->count++;
	if (ar->rate < INT_MAX)
		ar->rate++;
	if (n < INT_MAX)
		htable_put(ac->local, av.ident.data, (void *)(intptr_t)(n + 1));
	anvil_note(ANVIL_MAX_COUNT, ar->count, av.ident.data);
	anvil_note(ANVIL_MAX_RATE, ar->rate, av.ident.data);
	anvil_reply(ac, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, ANVIL_STAT_OK),
	    A_NUM(ANVIL_ATTR_COUNT, ar->count),
	    A_NUM(ANVIL_ATTR_RATE, ar->rate), A_END});
}

/* Only connections that this client registered. */
static void
anvil_serve_disconnect(struct anvil_client *ac, struct anvil_remote *ar)
{
	int n = anvil_local_count(ac, av.ident.data);

	if (ar != NULL && n > 0) {
		if (n == 1)
			(void)htable_delete(ac->local, av.ident.data);
		else
			htable_put(ac->local, av.ident.data,
			    (void *)(intptr_t)(n - 1));
		if (ar->count > 0)
			ar->count--;
	}
	anvil_reply_status(ac, ANVIL_STAT_OK);
}

static void
anvil_serve_message(struct anvil_client *ac, struct anvil_remote *ar)
{
	anvil_window(ar);
	if (ar->mail < INT_MAX)
		ar->mail++;
	anvil_note(ANVIL_MAX_MAIL, ar->mail, av.ident.data);
	anvil_reply(ac, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, ANVIL_STAT_OK),
	    A_NUM(ANVIL_ATTR_RATE, ar->mail), A_END});
}

static void
anvil_serve_recipient(struct anvil_client *ac, struct anvil_remote *ar)
{
	anvil_window(ar);
	if (ar->rcpt < INT_MAX)
		ar->rcpt++;
	anvil_note(ANVIL_MAX_RCPT, ar->rcpt, av.ident.data);
	anvil_reply(ac, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, ANVIL_STAT_OK),
	    A_NUM(ANVIL_ATTR_RATE, ar->rcpt), A_END});
}

/* An unknown ident, or one whose window passed, has zero rates. */
static void
anvil_serve_lookup(struct anvil_client *ac, struct anvil_remote *ar)
{
	struct anvil_remote zero = {0};

	if (ar == NULL)
		ar = &zero;
	else
		anvil_window(ar);
	anvil_reply(ac, (const struct attr_spec[]){
	    A_NUM(ATTR_STATUS, ANVIL_STAT_OK),
	    A_NUM(ANVIL_ATTR_COUNT, ar->count),
	    A_NUM(ANVIL_ATTR_RATE, ar->rate),
	    A_NUM(ANVIL_ATTR_MAIL, ar->mail),
	    A_NUM(ANVIL_ATTR_RCPT, ar->rcpt), A_END});
}

static const struct anvil_handler {
	const char *name;
	anvil_serve_fn serve;
	bool create;			/* make an entry for a new ident */
} anvil_handlers[] = {
	{ANVIL_REQ_CONNECT, anvil_serve_connect, true},
	{ANVIL_REQ_DISCONNECT, anvil_serve_disconnect, false},
	{ANVIL_REQ_MESSAGE, anvil_serve_message, true},
	{ANVIL_REQ_RECIPIENT, anvil_serve_recipient, true},
	{ANVIL_REQ_LOOKUP, anvil_serve_lookup, false},
};

/* Serve the request in av.list. */
static void
anvil_dispatch(struct anvil_client *ac)
{
	const struct anvil_handler *h;
	const struct buf *name = attr_list_get(&av.list, ATTR_REQUEST);
	struct anvil_remote *ar;
	size_t i;

	if (name == NULL) {
		anvil_bad_request(ac, "missing attribute \"" ATTR_REQUEST "\"");
		return;
	}
	for (i = 0; i < sizeof(anvil_handlers) / sizeof(*anvil_handlers); i++)
		if (strcmp(name->data, anvil_handlers[i].name) == 0)
			break;
	if (i == sizeof(anvil_handlers) / sizeof(*anvil_handlers)) {
		buf_set(&av.why, "unknown request \"");
		str_printable(&av.why, name->data, name->len > 64 ? 64
		    : name->len);
		buf_putc(&av.why, '"');
		anvil_bad_request(ac, av.why.data);
		return;
	}
	h = anvil_handlers + i;
	if (attr_extract(&av.list, ATTR_STRICT, (const struct attr_spec[]){
	    A_BUF(ATTR_REQUEST, &av.request),
	    A_BUF(ANVIL_ATTR_IDENT, &av.ident), A_END}, &av.why) < 0) {
		anvil_bad_request(ac, av.why.data);
		return;
	}
	if (!anvil_ident_ok(&av.ident)) {
		buf_set(&av.why, "bad ident \"");
		str_printable(&av.why, av.ident.data, av.ident.len > 64 ? 64
		    : av.ident.len);
		buf_printf(&av.why, "\"%s (expected 1..%d printable "
		    "characters, no space)", av.ident.len > 64 ? "..." : "",
		    ANVIL_IDENT_MAX);
		anvil_bad_request(ac, av.why.data);
		return;
	}
	ar = anvil_remote(ac, h->create);
	if (ar == NULL && h->create)
		return;			/* table full: answered */
	h->serve(ac, ar);
}

/* Drop the client and every connection it did not disconnect. */
static void
anvil_client_free(struct anvil_client *ac)
{
	struct htable_entry **list, **ep;
	struct anvil_remote *ar;
	int fd = ac->fd, n;

	list = htable_list(ac->local);
	for (ep = list; *ep != NULL; ep++) {
		n = (int)(intptr_t)(*ep)->value;
		if ((ar = htable_get(anvil_remotes, (*ep)->key)) != NULL)
			ar->count = ar->count > n ? ar->count - n : 0;
		if (msg_verbose)
			msg_info("client %s gone: dropping %d connection(s) "
			    "of (%s)", ac->who.data, n, (*ep)->key);
	}
	free(list);
	htable_free(ac->local, NULL);
	bufferevent_free(ac->bev);
	buf_fini(&ac->who);
	free(ac);
	multi_server_disconnect(fd);
}

/* Serve every complete request in the input buffer. */
static void
anvil_input(struct anvil_client *ac)
{
	struct evbuffer *in = bufferevent_get_input(ac->bev);
	struct evbuffer *out = bufferevent_get_output(ac->bev);
	const char *data;
	ssize_t used;
	size_t len;

	while ((len = evbuffer_get_length(in)) > 0) {
		if (evbuffer_get_length(out) >= ANVIL_OUT_HIGH) {
			/* anvil_drained() resumes. */
			ac->paused = true;
			(void)bufferevent_disable(ac->bev, EV_READ);
			return;
		}
		if ((data = (const char *)evbuffer_pullup(in, -1)) == NULL)
			msg_fatal("out of memory reading a request");
		used = attr_parse(&av.list, data, len, &anvil_limits, &av.why);
		if (used == 0)
			return;		/* incomplete: wait for more */
		if (used < 0) {
			msg_warn("malformed request from client %s: %s; "
			    "disconnecting", ac->who.data, av.why.data);
			anvil_client_free(ac);
			return;
		}
		if (evbuffer_drain(in, (size_t)used) < 0)
			msg_fatal("cannot drain the input buffer");
		anvil_dispatch(ac);
	}
}

static void
anvil_read_event(struct bufferevent *bev, void *arg)
{
	(void)bev;
	anvil_input(arg);
}

/* All output written (the low watermark is 0). */
static void
anvil_drained(struct bufferevent *bev, void *arg)
{
	struct anvil_client *ac = arg;

	if (ac->paused) {
		ac->paused = false;
		if (bufferevent_enable(bev, EV_READ) < 0)
			msg_fatal("cannot resume reading from a client");
		anvil_input(ac);
	}
}

static void
anvil_other_event(struct bufferevent *bev, short what, void *arg)
{
	struct anvil_client *ac = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		msg_warn("client %s: timeout after %d seconds sending a "
		    "reply; disconnecting", ac->who.data, var_ipc_timeout);
	else if ((what & BEV_EVENT_ERROR) && msg_verbose)
		msg_info("client %s: %s", ac->who.data,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else if (msg_verbose)
		msg_info("disconnect from client %s", ac->who.data);
	anvil_client_free(ac);
}

static void
anvil_peer(struct anvil_client *ac)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	buf_init(&ac->who, 32);
	if (getsockopt(ac->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
	    && len == sizeof(cred))
		buf_printf(&ac->who, "pid %ld uid %ld", (long)cred.pid,
		    (long)cred.uid);
	else
		buf_printf(&ac->who, "fd %d", ac->fd);
}

static void
anvil_accept(int fd, const char *service, char **argv)
{
	struct anvil_client *ac;
	struct timeval write_tv = {0};

	(void)service;
	(void)argv;
	if (evutil_make_socket_nonblocking(fd) < 0)
		msg_fatal("non-blocking client socket: %m");
	ac = xcalloc(1, sizeof(*ac));
	ac->fd = fd;
	ac->local = htable_new(8);
	anvil_peer(ac);
	/* The skeleton closes fd: no BEV_OPT_CLOSE_ON_FREE. */
	ac->bev = bufferevent_socket_new(multi_server_base(), fd, 0);
	if (ac->bev == NULL)
		msg_fatal("cannot create a bufferevent");
	bufferevent_setcb(ac->bev, anvil_read_event, anvil_drained,
	    anvil_other_event, ac);
	/* Clients stay connected while idle: no read timeout. */
	write_tv.tv_sec = var_ipc_timeout;
	if (bufferevent_set_timeouts(ac->bev, NULL, &write_tv) < 0
	    || bufferevent_enable(ac->bev, EV_READ | EV_WRITE) < 0)
		msg_fatal("cannot set up client %s", ac->who.data);
	if (msg_verbose)
		msg_info("connect from client %s", ac->who.data);
}

static void
anvil_post_init(const char *service, char **argv)
{
	struct timeval status_tv = {.tv_sec = var_anvil_status_update_time};
	struct timeval unit_tv = {.tv_sec = var_anvil_rate_time_unit};
	int i;

	(void)service;
	(void)argv;
	/* Any number of clients; do not exit within a sampling window. */
	var_max_use = INT_MAX;
	if (var_max_idle < var_anvil_rate_time_unit)
		var_max_idle = var_anvil_rate_time_unit;
	anvil_remotes = htable_new(1024);
	for (i = 0; i < ANVIL_MAX_COUNT_OF; i++)
		buf_init(&anvil_max[i].ident, 32);
	attr_list_init(&av.list);
	buf_init(&av.request, 16);
	buf_init(&av.ident, 64);
	buf_init(&av.why, 128);
	buf_init(&av.reply, 128);
	anvil_status_ev = event_new(multi_server_base(), -1, EV_PERSIST,
	    anvil_status_event, NULL);
	anvil_cleanup_ev = event_new(multi_server_base(), -1, EV_PERSIST,
	    anvil_cleanup_event, NULL);
	if (anvil_status_ev == NULL || anvil_cleanup_ev == NULL
	    || event_add(anvil_status_ev, &status_tv) < 0
	    || event_add(anvil_cleanup_ev, &unit_tv) < 0)
		msg_fatal("cannot create the anvil timer events");
}

static void
anvil_pre_exit(void)
{
	if (anvil_remotes != NULL)
		anvil_status_dump();
}

static const struct multi_server_spec anvil_spec = {
	.name = "anvil",
	.accept = anvil_accept,
	.post_init = anvil_post_init,
	.pre_exit = anvil_pre_exit,
};

int
main(int argc, char **argv)
{
	return multi_server_main(argc, argv, &anvil_spec);
}
