/*
 * dns.c - asynchronous DNS lookups through c-ares, on a libevent base
 *
 * One c-ares channel per resolver. c-ares tells us which sockets it
 * wants to read or write (sock_state_cb); each gets a persistent
 * libevent event that hands the socket back to ares_process_fd(). One
 * timer follows ares_timeout() for c-ares's retransmissions, and each
 * query has its own deadline (timeout_ms * tries: c-ares doubles its
 * timeout on each round, so its own bound is longer). A query that
 * passes its deadline is answered DNS_TEMPFAIL at once and kept until
 * c-ares lets go of it. Answers never reach the caller from inside
 * dns_lookup(): they wait for a zero timer.
 *
 * SECURITY: c-ares parses the replies; records are copied into
 * length-counted heap storage (at most DNS_MAX_RRS), and host names
 * from replies must pass dns_name_valid(). See dns.h.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "buf.h"
#include "dns.h"
#include "mem.h"
#include "msg.h"

struct dns_sock {
	struct dns_resolver *r;
	ares_socket_t fd;
	struct event *ev;
	struct dns_sock *next;
};

struct dns_query {
	struct dns_resolver *r;
	struct dns_query *prev, *next;	/* r->queries */
	char *name;
	int type;
	dns_callback cb;
	void *ctx;
	bool internal;		/* dns_fcrdns()'s: answered even at free */
	bool ares_owned;	/* c-ares will still call query_answer() */
	bool starting;		/* inside ares_query(): do not call back */
	bool ready;		/* result stored, waiting for the timer */
	bool delivered;		/* cb was called */
	enum dns_status status;
	struct buf why;
	struct dns_rr *rrs;
	size_t nrrs;
	struct event *timer;	/* deadline, or the zero timer */
};

struct dns_resolver {
	struct event_base *base;
	ares_channel channel;
	bool have_channel;
	struct event *timer;	/* c-ares retransmissions */
	struct dns_sock *socks;
	struct dns_query *queries;
	int timeout_ms;
	int tries;
	bool destroying;
};

static void dns_schedule(struct dns_resolver *);

/* ---- c-ares sockets and timers on the event base ----------------- */

static void
dns_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns_sock *s = arg;
	struct dns_resolver *r = s->r;	/* s may be gone after processing */

	ares_process_fd(r->channel,
	    (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	dns_schedule(r);
}

static void
dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	struct dns_sock *s, **sp;

	for (sp = &r->socks; (s = *sp) != NULL; sp = &s->next)
		if (s->fd == fd)
			break;
	if (!readable && !writable) {
		if (s != NULL) {
			*sp = s->next;
			event_free(s->ev);
			free(s);
		}
		return;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->r = r;
		s->fd = fd;
		s->next = r->socks;
		r->socks = s;
	} else {
		event_free(s->ev);
	}
	s->ev = event_new(r->base, fd, EV_PERSIST | (readable ? EV_READ : 0)
	    | (writable ? EV_WRITE : 0), dns_sock_event, s);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0)
		msg_fatal("dns: cannot add an event for socket %d", (int)fd);
}

static void
dns_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	(void)fd;
	(void)what;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_schedule(r);
}

/* Follow c-ares's next retransmission time. */
static void
dns_schedule(struct dns_resolver *r)
{
	struct timeval tv, *tvp;

	if (r->destroying)
		return;
	if ((tvp = ares_timeout(r->channel, NULL, &tv)) == NULL)
		evtimer_del(r->timer);
	else
		evtimer_add(r->timer, tvp);
}

/* ---- queries ----------------------------------------------------- */

static void
query_free(struct dns_query *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->r->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	event_free(q->timer);
	for (size_t i = 0; i < q->nrrs; i++)
		free(q->rrs[i].data);
	free(q->rrs);
	buf_fini(&q->why);
	free(q->name);
	free(q);
}

static void
query_deliver(struct dns_query *q)
{
	struct dns_reply reply = {
		.name = q->name,
		.type = q->type,
		.status = q->status,
		.why = buf_str(&q->why),
		.rrs = q->nrrs ? q->rrs : NULL,
		.nrrs = q->nrrs,
	};

	q->delivered = true;
	if (msg_verbose)
		msg_info("dns: name=%s type=%s: %s (%zu records) %s", q->name,
		    dns_type_name(q->type), dns_status_name(q->status),
		    q->nrrs, buf_str(&q->why));
	q->cb(q->ctx, &reply);
}

static void
query_result(struct dns_query *q, enum dns_status status, const char *what)
{
	q->status = status;
	buf_reset(&q->why);
	buf_printf(&q->why, "name=%s type=%s: %s", q->name,
	    dns_type_name(q->type), what);
}

static void
query_add_rr(struct dns_query *q, unsigned pref, const void *data,
    size_t len)
{
	if (q->nrrs >= DNS_MAX_RRS)
		return;
	q->rrs = xreallocarray(q->rrs, q->nrrs + 1, sizeof(*q->rrs));
	q->rrs[q->nrrs].pref = pref;
	q->rrs[q->nrrs].len = len;
	q->rrs[q->nrrs].data = xmemdup(data, len);
	q->nrrs++;
}

/* A host name from a reply: kept only when it is a valid name. */
static void
query_add_host(struct dns_query *q, unsigned pref, const char *host)
{
	struct buf why;

	if (host == NULL)
		return;
	buf_init(&why, 64);
	if (dns_name_valid(host, &why))
		query_add_rr(q, pref, host, strlen(host));
	else
		msg_warn("dns: name=%s type=%s: %s in reply, ignored",
		    q->name, dns_type_name(q->type), buf_str(&why));
	buf_fini(&why);
}

static void
query_add_addrs(struct dns_query *q, const struct hostent *he)
{
	char text[INET6_ADDRSTRLEN];

	for (char **ap = he->h_addr_list; ap != NULL && *ap != NULL; ap++)
		if (inet_ntop(he->h_addrtype, *ap, text, sizeof(text)))
			query_add_rr(q, 0, text, strlen(text));
}

/* Stable sort of MX records by preference (n <= DNS_MAX_RRS). */
static void
query_sort_mx(struct dns_query *q)
{
	for (size_t i = 1; i < q->nrrs; i++) {
		struct dns_rr rr = q->rrs[i];
		size_t j = i;

		for (; j > 0 && q->rrs[j - 1].pref > rr.pref; j--)
			q->rrs[j] = q->rrs[j - 1];
		q->rrs[j] = rr;
	}
}

/* Parse a successful answer; returns an ares status. */
static int
query_parse(struct dns_query *q, const unsigned char *abuf, int alen)
{
	struct hostent *he = NULL;
	int rc;

	switch (q->type) {
	case DNS_A:
		if ((rc = ares_parse_a_reply(abuf, alen, &he, NULL, NULL))
		    == ARES_SUCCESS)
			query_add_addrs(q, he);
		break;
	case DNS_AAAA:
		if ((rc = ares_parse_aaaa_reply(abuf, alen, &he, NULL, NULL))
		    == ARES_SUCCESS)
			query_add_addrs(q, he);
		break;
	case DNS_PTR: {
		unsigned char dummy[4] = { 0 };

		rc = ares_parse_ptr_reply(abuf, alen, dummy, sizeof(dummy),
		    AF_INET, &he);
		if (rc != ARES_SUCCESS)
			break;
		/* c-ares lists every PTR name among the aliases. */
		if (he->h_aliases == NULL || he->h_aliases[0] == NULL)
			query_add_host(q, 0, he->h_name);
		for (char **ap = he->h_aliases; ap && *ap; ap++)
			query_add_host(q, 0, *ap);
		break;
	}
	case DNS_MX: {
		struct ares_mx_reply *mx = NULL, *m;

		if ((rc = ares_parse_mx_reply(abuf, alen, &mx)) != ARES_SUCCESS)
			break;
		for (m = mx; m != NULL; m = m->next) {
			/* "." (the root): a null MX, see dns.h. */
			if (m->host != NULL && (m->host[0] == 0
			    || strcmp(m->host, ".") == 0))
				query_add_rr(q, m->priority, "", 0);
			else
				query_add_host(q, m->priority, m->host);
		}
		ares_free_data(mx);
		query_sort_mx(q);
		break;
	}
	case DNS_TXT: {
		struct ares_txt_ext *txt = NULL, *t;
		struct buf rec;
		bool open = false;

		if ((rc = ares_parse_txt_reply_ext(abuf, alen, &txt))
		    != ARES_SUCCESS)
			break;
		buf_init(&rec, 256);
		for (t = txt; t != NULL; t = t->next) {
			if (t->record_start && open) {
				query_add_rr(q, 0, rec.data, rec.len);
				buf_reset(&rec);
			}
			open = true;
			buf_append(&rec, t->txt, t->length);
		}
		if (open)
			query_add_rr(q, 0, rec.data, rec.len);
		buf_fini(&rec);
		ares_free_data(txt);
		break;
	}
	default:
		msg_panic("dns: query_parse: type %d", q->type);
	}
	if (he != NULL)
		ares_free_hostent(he);
	if (rc == ARES_SUCCESS && q->nrrs == 0)
		rc = ARES_ENODATA;	/* e.g. only invalid names */
	return rc;
}

static void
query_set_status(struct dns_query *q, int rc)
{
	switch (rc) {
	case ARES_SUCCESS:
		query_result(q, DNS_OK, "found");
		break;
	case ARES_ENODATA:
		query_result(q, DNS_NOTFOUND, "no such record");
		break;
	case ARES_ENOTFOUND:
		query_result(q, DNS_NOTFOUND, "host not found");
		break;
	case ARES_EBADNAME:
		query_result(q, DNS_INVALID, "bad domain name");
		break;
	default:
		/* Timeouts, SERVFAIL, REFUSED, bad replies, network. */
		query_result(q, DNS_TEMPFAIL, ares_strerror(rc));
		break;
	}
	if (q->status != DNS_OK) {
		for (size_t i = 0; i < q->nrrs; i++)
			free(q->rrs[i].data);
		q->nrrs = 0;
	}
}

/* c-ares's callback: once per ares_query(), also at ares_destroy(). */
static void
query_answer(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct dns_query *q = arg;
	static const struct timeval zero = { 0, 0 };

	(void)timeouts;
	q->ares_owned = false;
	if (q->delivered) {		/* its deadline passed */
		query_free(q);
		return;
	}
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		if (q->internal) {
			query_set_status(q, status);
			query_deliver(q);
		}
		query_free(q);
		return;
	}
	if (status == ARES_SUCCESS)
		status = query_parse(q, abuf, alen);
	query_set_status(q, status);
	if (q->starting) {
		q->ready = true;
		evtimer_add(q->timer, &zero);
		return;
	}
	evtimer_del(q->timer);
	query_deliver(q);
	query_free(q);
}

/* The deadline, or the zero timer of a stored result. */
static void
query_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	(void)fd;
	(void)what;
	if (q->ready) {
		query_deliver(q);
		query_free(q);
		return;
	}
	query_result(q, DNS_TEMPFAIL, "timeout");
	buf_printf(&q->why, " after %ld ms",
	    (long)q->r->timeout_ms * q->r->tries);
	query_deliver(q);
	if (!q->ares_owned)
		query_free(q);
}

/* The reverse-lookup name of an address; false if text is none. */
static bool
dns_reverse_name(const char *text, struct buf *out)
{
	unsigned char a[16];
	static const char hex[] = "0123456789abcdef";

	buf_reset(out);
	if (inet_pton(AF_INET, text, a) == 1) {
		buf_printf(out, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1],
		    a[0]);
		return true;
	}
	if (inet_pton(AF_INET6, text, a) == 1) {
		for (int i = 15; i >= 0; i--)
			buf_printf(out, "%c.%c.", hex[a[i] & 15],
			    hex[a[i] >> 4]);
		buf_puts(out, "ip6.arpa");
		return true;
	}
	return false;
}

/* Whether name ends in in-addr.arpa or ip6.arpa (no final dot). */
static bool
dns_arpa_name(const char *name)
{
	static const char *const zones[] = { ".in-addr.arpa", ".ip6.arpa" };
	size_t len = strlen(name);

	for (size_t i = 0; i < 2; i++) {
		size_t zlen = strlen(zones[i]);

		if (len > zlen && strcasecmp(name + len - zlen, zones[i]) == 0)
			return true;
	}
	return false;
}

static struct dns_query *
query_new(struct dns_resolver *r, const char *name, int type,
    dns_callback cb, void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->r = r;
	q->name = xstrdup(name != NULL ? name : "");
	q->type = type;
	q->cb = cb;
	q->ctx = ctx;
	buf_init(&q->why, 128);
	if ((q->timer = evtimer_new(r->base, query_timer, q)) == NULL)
		msg_fatal("dns: cannot create a timer event");
	q->next = r->queries;
	if (q->next != NULL)
		q->next->prev = q;
	r->queries = q;
	return q;
}

/*
 * Start a lookup; internal: dns_fcrdns()'s own. invalid: when not NULL,
 * answer DNS_INVALID with that reason without asking.
 */
static void
query_start(struct dns_resolver *r, const char *name, int type,
    dns_callback cb, void *ctx, bool internal, const char *invalid)
{
	static const struct timeval zero = { 0, 0 };
	struct dns_query *q = query_new(r, name, type, cb, ctx);
	struct buf qname, why;
	struct timeval deadline;
	long ms;

	q->internal = internal;
	buf_init(&qname, 64);
	buf_init(&why, 64);
	if (dns_type_name(type) == NULL || type == DNS_FCRDNS) {
		q->status = DNS_INVALID;
		buf_printf(&q->why, "name=%s: bad query type %d", q->name,
		    type);
		goto immediate;
	}
	if (invalid != NULL) {
		query_result(q, DNS_INVALID, invalid);
		goto immediate;
	}
	if (type != DNS_PTR) {
		buf_set(&qname, q->name);
	} else if (!dns_reverse_name(q->name, &qname)) {
		/* Not an address: a reverse-lookup name at least. */
		size_t len = strlen(q->name);

		buf_set(&qname, q->name);
		if (len > 0 && q->name[len - 1] == '.')
			buf_truncate(&qname, len - 1);
		if (!dns_arpa_name(qname.data)) {
			query_result(q, DNS_INVALID, "not an IP address");
			goto immediate;
		}
	}
	if (!dns_name_valid(qname.data, &why)) {
		query_result(q, DNS_INVALID, buf_str(&why));
		goto immediate;
	}
	ms = (long)r->timeout_ms * r->tries;
	deadline.tv_sec = ms / 1000;
	deadline.tv_usec = (ms % 1000) * 1000;
	evtimer_add(q->timer, &deadline);
	q->ares_owned = true;
	q->starting = true;
	ares_query(r->channel, qname.data, 1 /* C_IN */, type, query_answer,
	    q);
	/* q may be ready (an immediate failure), never freed here. */
	q->starting = false;
	dns_schedule(r);
	goto out;

immediate:
	q->ready = true;
	evtimer_add(q->timer, &zero);
out:
	buf_fini(&qname);
	buf_fini(&why);
}

void
dns_lookup(struct dns_resolver *r, const char *name, int type,
    dns_callback cb, void *ctx)
{
	if (r->destroying)
		msg_panic("dns_lookup: resolver is being freed");
	if (type == DNS_FCRDNS)
		dns_fcrdns(r, name, cb, ctx);
	else
		query_start(r, name, type, cb, ctx, false, NULL);
}

/* ---- forward-confirmed reverse DNS ------------------------------- */

struct dns_fcrdns {
	struct dns_resolver *r;
	char *addr;		/* as given */
	int family;
	unsigned char bin[16];	/* the address, binary */
	dns_callback cb;
	void *ctx;
	int pending;		/* sub-lookups not answered yet */
	char *names[DNS_FCRDNS_MAX_NAMES];
	int nnames;
	int confirmed;		/* index into names, or -1 */
	bool tempfail;
	struct buf why;
};

static void
fcrdns_finish(struct dns_fcrdns *f, enum dns_status status)
{
	const char *name = status == DNS_OK ? f->names[f->confirmed]
	    : "unknown";
	struct dns_rr rr = {
		.data = (char *)name,
		.len = strlen(name),
	};
	struct dns_reply reply = {
		.name = f->addr,
		.type = DNS_FCRDNS,
		.status = status,
		.why = buf_str(&f->why),
		.rrs = &rr,
		.nrrs = 1,
	};

	if (!f->r->destroying)
		f->cb(f->ctx, &reply);
	for (int i = 0; i < f->nnames; i++)
		free(f->names[i]);
	free(f->addr);
	buf_fini(&f->why);
	free(f);
}

static void
fcrdns_forward(void *ctx, const struct dns_reply *reply)
{
	struct dns_fcrdns *f = ctx;
	unsigned char bin[16];
	int i;

	for (i = 0; i < f->nnames; i++)
		if (strcmp(f->names[i], reply->name) == 0)
			break;
	if (reply->status == DNS_TEMPFAIL)
		f->tempfail = true;
	for (size_t k = 0; i < f->nnames && reply->status == DNS_OK
	    && k < reply->nrrs; k++)
		if (inet_pton(f->family, reply->rrs[k].data, bin) == 1
		    && memcmp(bin, f->bin, f->family == AF_INET ? 4 : 16) == 0
		    && (f->confirmed < 0 || i < f->confirmed))
			f->confirmed = i;
	if (--f->pending > 0)
		return;
	buf_reset(&f->why);
	buf_printf(&f->why, "address=%s: ", f->addr);
	if (f->confirmed >= 0) {
		buf_printf(&f->why, "confirmed name %s",
		    f->names[f->confirmed]);
		fcrdns_finish(f, DNS_OK);
	} else if (f->tempfail) {
		buf_puts(&f->why, "temporary failure in forward lookup "
		    "of the PTR name(s)");
		fcrdns_finish(f, DNS_TEMPFAIL);
	} else {
		buf_printf(&f->why, "hostname %s does not resolve to "
		    "address %s", f->names[0], f->addr);
		fcrdns_finish(f, DNS_NOTFOUND);
	}
}

static void
fcrdns_reverse(void *ctx, const struct dns_reply *reply)
{
	struct dns_fcrdns *f = ctx;
	int type = f->family == AF_INET ? DNS_A : DNS_AAAA;

	f->pending = 0;
	if (reply->status != DNS_OK || f->r->destroying) {
		buf_set(&f->why, reply->why);
		fcrdns_finish(f, reply->status == DNS_OK ? DNS_TEMPFAIL
		    : reply->status);
		return;
	}
	for (size_t i = 0; i < reply->nrrs && f->nnames
	    < DNS_FCRDNS_MAX_NAMES; i++) {
		bool dup = false;

		for (int k = 0; k < f->nnames; k++)
			dup |= strcasecmp(f->names[k], reply->rrs[i].data) == 0;
		if (!dup)
			f->names[f->nnames++] = xstrdup(reply->rrs[i].data);
	}
	/* Count first: an answer may come before the last one is asked. */
	f->pending = f->nnames;
	for (int i = 0; i < f->nnames; i++)
		query_start(f->r, f->names[i], type, fcrdns_forward, f, true,
		    NULL);
}

void
dns_fcrdns(struct dns_resolver *r, const char *addr, dns_callback cb,
    void *ctx)
{
	struct dns_fcrdns *f = xcalloc(1, sizeof(*f));
	char text[INET6_ADDRSTRLEN];
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	f->r = r;
	f->addr = xstrdup(addr != NULL ? addr : "");
	f->cb = cb;
	f->ctx = ctx;
	f->confirmed = -1;
	buf_init(&f->why, 128);
	if (inet_pton(AF_INET, f->addr, f->bin) == 1) {
		f->family = AF_INET;
	} else if (inet_pton(AF_INET6, f->addr, f->bin) == 1) {
		f->family = AF_INET6;
		/* ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1. */
		if (memcmp(f->bin, v4mapped, sizeof(v4mapped)) == 0) {
			f->family = AF_INET;
			memmove(f->bin, f->bin + 12, 4);
		}
	}
	if (f->family == 0 || inet_ntop(f->family, f->bin, text,
	    sizeof(text)) == NULL)
		query_start(r, f->addr, DNS_PTR, fcrdns_reverse, f, true,
		    "not an IP address");
	else
		query_start(r, text, DNS_PTR, fcrdns_reverse, f, true, NULL);
}

/* ---- resolvers --------------------------------------------------- */

struct dns_resolver *
dns_resolver_new(struct event_base *base, const char *servers,
    int timeout_ms, int tries, struct buf *why)
{
	static bool initialized;
	struct dns_resolver *r;
	struct ares_options opts;
	int rc;

	if (!initialized) {
		rc = ares_library_init(ARES_LIB_INIT_ALL);
		if (rc != ARES_SUCCESS) {
			buf_set(why, ares_strerror(rc));
			return NULL;
		}
		initialized = true;
	}
	if (timeout_ms < 1 || tries < 1) {
		buf_set(why, "DNS timeout and tries must be at least 1");
		return NULL;
	}
	if (servers != NULL && *servers == 0) {
		buf_set(why, "empty DNS server list");
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->timeout_ms = timeout_ms;
	r->tries = tries;
	memset(&opts, 0, sizeof(opts));
	opts.timeout = timeout_ms;
	opts.tries = tries;
	opts.sock_state_cb = dns_sock_state;
	opts.sock_state_cb_data = r;
	opts.lookups = (char *)"b";	/* DNS only, never /etc/hosts */
	if ((rc = ares_init_options(&r->channel, &opts, ARES_OPT_TIMEOUTMS
	    | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS))
	    != ARES_SUCCESS) {
		buf_set(why, "cannot initialize DNS resolver: ");
		buf_puts(why, ares_strerror(rc));
		free(r);
		return NULL;
	}
	r->have_channel = true;
	if (servers != NULL && (rc = ares_set_servers_ports_csv(r->channel,
	    servers)) != ARES_SUCCESS) {
		buf_set(why, "bad DNS server list \"");
		buf_puts(why, servers);
		buf_puts(why, "\": ");
		buf_puts(why, ares_strerror(rc));
		dns_resolver_free(r);
		return NULL;
	}
	if ((r->timer = evtimer_new(base, dns_timer_event, r)) == NULL)
		msg_fatal("dns: cannot create a timer event");
	return r;
}

void
dns_resolver_free(struct dns_resolver *r)
{
	struct dns_query *q;
	struct dns_sock *s;

	if (r == NULL)
		return;
	r->destroying = true;
	/* Calls query_answer(ARES_EDESTRUCTION) for every pending query. */
	if (r->have_channel)
		ares_destroy(r->channel);
	/* The rest: stored results, and dns_fcrdns()'s to be released. */
	while ((q = r->queries) != NULL) {
		if (q->internal && !q->delivered) {
			query_result(q, DNS_TEMPFAIL, "resolver freed");
			query_deliver(q);
		}
		query_free(q);
	}
	while ((s = r->socks) != NULL) {
		r->socks = s->next;
		event_free(s->ev);
		free(s);
	}
	if (r->timer != NULL)
		event_free(r->timer);
	free(r);
}

/* ---- synchronous wrapper ----------------------------------------- */

static void
dns_sync_done(void *ctx, const struct dns_reply *reply)
{
	struct dns_reply **out = ctx;

	*out = dns_reply_dup(reply);
}

struct dns_reply *
dns_lookup_sync(const char *servers, int timeout_ms, int tries,
    const char *name, int type, struct buf *why)
{
	struct event_base *base;
	struct dns_resolver *r;
	struct dns_reply *reply = NULL;

	if ((base = event_base_new()) == NULL) {
		buf_set(why, "cannot create an event base");
		return NULL;
	}
	if ((r = dns_resolver_new(base, servers, timeout_ms, tries, why))
	    == NULL) {
		event_base_free(base);
		return NULL;
	}
	dns_lookup(r, name, type, dns_sync_done, &reply);
	while (reply == NULL)
		if (event_base_loop(base, EVLOOP_ONCE) != 0)
			msg_panic("dns_lookup_sync: event loop ended early");
	dns_resolver_free(r);
	event_base_free(base);
	return reply;
}

bool
dns_null_mx(const struct dns_reply *r)
{
	return r->type == DNS_MX && r->status == DNS_OK && r->nrrs == 1
	    && r->rrs[0].len == 0;
}
