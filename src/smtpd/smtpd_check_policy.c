/*
 * smtpd_check_policy.c - smtpd restrictions: check_policy_service
 *
 *	smtpd_recipient_restrictions = ..., reject_unauth_destination,
 *	    check_policy_service inet:127.0.0.1:10023
 *	smtpd_client_restrictions = check_policy_service { unix:private/spf,
 *	    timeout=10s, default_action=DUNNO }
 *
 * Postfix's SMTP access policy delegation: at each stage where the
 * restriction is listed, smtpd sends the server what it knows of the
 * session (request=smtpd_access_policy, protocol_state, client, HELO,
 * sender, recipient, instance, size, ...) and applies the server's
 * "action=..." as an access(5) result (check_access_result(): OK, DUNNO,
 * REJECT, DEFER_IF_PERMIT, 4NN/5NN text, PREPEND, HOLD, DISCARD, ...).
 * Nothing is cached: every evaluation asks again.
 *
 * Servers are set up at startup (smtpd_check_init(), while parsing the
 * restriction lists), one per distinct argument, each with its settings
 * (smtpd_policy_service_* or the "{ ... }" overrides, see
 * smtpd_check_policy.h). Each keeps one connection, reused for the
 * requests of every session of this process, and replaced after
 * max_ttl, after request_limit requests, or when it was idle more than
 * max_idle (checked when the next request comes: smtpd blocks, it has
 * no timer). A connection that the server closed meanwhile is replaced
 * silently, once per request.
 *
 * One attempt (connect, send, receive) must finish within timeout.
 * A failed attempt (no connection, timeout, lost connection, a
 * malformed or oversized reply) closes the connection and logs
 * "warning: problem talking to server X: why"; after try_limit attempts
 * retry_delay apart, default_action is applied instead. A default
 * action that runs check_policy_service again gets the built-in
 * default ("451 4.3.5 Server configuration problem") when that fails.
 *
 * SECURITY: request values come from the SMTP client; the encoder
 * replaces control characters, so that no value can end its line. The
 * policy server is another process: its reply is bounded
 * (CHECK_POLICY_REPLY_MAX bytes, one deadline for the whole attempt),
 * parsed strictly, and a bad one is a failure, never a permit. Its
 * action names restrictions only from main.cf (like an access table,
 * it cannot open tables or servers that were not set up at startup).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "petrel_config.h"
#include "stream.h"
#include "timeutil.h"
#include "unix_connect.h"

#include "smtpd.h"
#include "smtpd_check.h"
#include "smtpd_check_policy.h"

/* What Postfix's smtpd_policy_service_default_action defaults to. */
#define POLICY_BUILTIN_ACTION	"451 4.3.5 Server configuration problem"

struct check_policy {
	char *arg;			/* as written: the registry key */
	struct check_policy_spec spec;
	struct check_policy_endpoint ep;
	struct stream *conn;		/* NULL: not connected */
	uint64_t opened;		/* time_mono_ms() of the connect */
	uint64_t used;			/* ... of the last reply */
	int requests;			/* answered on conn */
};

static struct htable *policy_servers;	/* arg -> struct check_policy */
static int policy_in_default;		/* applying a default_action */
static unsigned policy_instances;	/* made by this process */

/* ---- setup --------------------------------------------------------------- */

static void
policy_free(struct check_policy *p)
{
	stream_free(p->conn);
	check_policy_spec_fini(&p->spec);
	check_policy_endpoint_fini(&p->ep);
	free(p->arg);
	free(p);
}

/* smtpd_policy_service_*: checked once, fatal when wrong. */
static void
policy_defaults(struct check_policy_spec *dflt)
{
	static bool checked;
	struct buf why;

	if (!checked) {
		buf_init(&why, 64);
		if (!check_policy_action_valid(
		    var_smtpd_policy_service_default_action, &why))
			msg_fatal_status(EX_CONFIG, "smtpd_policy_service_"
			    "default_action: %s", why.data);
		buf_fini(&why);
		checked = true;
	}
	memset(dflt, 0, sizeof(*dflt));
	dflt->timeout = var_smtpd_policy_service_timeout;
	dflt->max_idle = var_smtpd_policy_service_max_idle;
	dflt->max_ttl = var_smtpd_policy_service_max_ttl;
	dflt->request_limit = var_smtpd_policy_service_request_limit;
	dflt->try_limit = var_smtpd_policy_service_try_limit;
	dflt->retry_delay = var_smtpd_policy_service_retry_delay;
	dflt->default_action = var_smtpd_policy_service_default_action;
	dflt->policy_context = var_smtpd_policy_service_policy_context;
}

/*
 * A default_action that names restrictions must name known ones; the
 * tables and servers it names are set up now, as a restriction class's.
 */
static bool
policy_default_check(struct check_policy *p,
    const struct check_parser *startup, struct buf *why)
{
	struct check_access a;
	struct check_list *l;
	struct buf lwhy;

	check_access_parse(p->spec.default_action, &a);
	if (a.action != ACCESS_RESTRICTIONS)
		return true;
	buf_init(&lwhy, 64);
	l = check_list_parse(p->arg, a.text, startup, &lwhy);
	if (l == NULL)
		buf_printf(why, "default_action \"%s\": %s",
		    p->spec.default_action, lwhy.data);
	check_list_free(l);
	buf_fini(&lwhy);
	return l != NULL;
}

struct check_policy *
check_policy_find(const char *arg, const struct check_parser *startup,
    struct buf *why)
{
	struct check_policy_spec dflt;
	struct check_policy *p;

	if (policy_servers == NULL)
		policy_servers = htable_new(4);
	if ((p = htable_get(policy_servers, arg)) != NULL)
		return p;
	if (startup == NULL) {
		buf_printf(why, "policy server %s is not set up at startup: "
		    "name it in a restriction list or class in main.cf", arg);
		return NULL;
	}
	policy_defaults(&dflt);
	p = xcalloc(1, sizeof(*p));
	if (!check_policy_spec_parse(arg, &dflt, &p->spec, why)
	    || !check_policy_endpoint_parse(p->spec.server, &p->ep, why)) {
		policy_free(p);
		return NULL;
	}
	p->arg = xstrdup(arg);
	/* Registered first: a default_action may name this server. */
	htable_put(policy_servers, arg, p);
	if (!policy_default_check(p, startup, why)) {
		htable_delete(policy_servers, arg);
		policy_free(p);
		return NULL;
	}
	return p;
}

/* ---- connections --------------------------------------------------------- */

static void
policy_close(struct check_policy *p)
{
	stream_free(p->conn);
	p->conn = NULL;
}

/*
 * Milliseconds left until deadline, 0 when it passed; at most
 * INT32_MAX - 1, so that callers may add one (a timeout of 1000d is
 * allowed, and would overflow an int).
 */
static int
policy_left(uint64_t deadline)
{
	uint64_t now = time_mono_ms();

	if (now >= deadline)
		return 0;
	return deadline - now >= INT32_MAX ? INT32_MAX - 1
	    : (int)(deadline - now);
}

/* A non-blocking connect to one address, waiting until deadline. */
static int
policy_connect_addr(const struct addrinfo *ai, uint64_t deadline)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, n, saved;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK
	    | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		if ((n = policy_left(deadline)) == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if ((n = poll(&pfd, 1, n)) > 0)
			break;
		if (n < 0 && errno != EINTR)
			goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		goto fail;
	if (err != 0) {
		errno = err;
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

static int
policy_connect_inet(struct check_policy *p, uint64_t deadline,
    struct buf *why)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(p->ep.host, p->ep.port, &hints, &res)) != 0) {
		buf_printf(why, "%s:%s: %s", p->ep.host, p->ep.port,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	errno = EADDRNOTAVAIL;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = policy_connect_addr(ai, deadline);
	if (fd < 0)
		buf_printf(why, "connect to %s:%s: %s", p->ep.host, p->ep.port,
		    strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static int
policy_connect(struct check_policy *p, uint64_t deadline, struct buf *why)
{
	int fd;

	if (p->ep.inet) {
		fd = policy_connect_inet(p, deadline, why);
	} else if ((fd = unix_connect(p->ep.path, policy_left(deadline) + 1,
	    0)) < 0) {
		buf_printf(why, "connect to %s: %s", p->ep.path,
		    strerror(errno));
	}
	if (fd < 0)
		return -1;
	p->conn = stream_new(fd);
	p->opened = p->used = time_mono_ms();
	p->requests = 0;
	if (msg_verbose)
		msg_info("policy server %s: connected", p->spec.server);
	return 0;
}

/*
 * Should the connection be replaced before the next request: too old,
 * idle too long, or closed by the server (readable: EOF, or bytes that
 * no request asked for)?
 */
static bool
policy_stale(struct check_policy *p)
{
	uint64_t now = time_mono_ms();
	struct pollfd pfd;

	if (now - p->opened >= (uint64_t)p->spec.max_ttl * 1000
	    || now - p->used >= (uint64_t)p->spec.max_idle * 1000
	    || stream_pending(p->conn) > 0)
		return true;
	pfd.fd = stream_fd(p->conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) != 0;
}

/* ---- one request --------------------------------------------------------- */

/* Why the stream failed, from its error (errno saved by the caller). */
static void
policy_stream_why(struct stream *s, int err, const char *doing,
    struct buf *why)
{
	switch (stream_error(s)) {
	case STREAM_ERR_EOF:
		buf_printf(why, "connection closed by the server while %s",
		    doing);
		break;
	case STREAM_ERR_TIMEOUT:
		buf_printf(why, "timeout while %s", doing);
		break;
	default:
		buf_printf(why, "%s while %s", strerror(err), doing);
		break;
	}
}

/* Read up to and including the empty line, within the deadline. */
static int
policy_read_reply(struct stream *s, uint64_t deadline, struct buf *reply,
    struct buf *why)
{
	size_t line = 0;
	int c, left, err;

	buf_reset(reply);
	for (;;) {
		if (stream_pending(s) == 0) {
			if ((left = policy_left(deadline)) == 0) {
				buf_set(why, "timeout while receiving the "
				    "reply");
				return -1;
			}
			stream_set_timeout(s, left);
		}
		if ((c = stream_getc(s)) < 0) {
			err = errno;
			policy_stream_why(s, err, "receiving the reply", why);
			errno = err;		/* for policy_attempt() */
			return -1;
		}
		if (reply->len >= CHECK_POLICY_REPLY_MAX) {
			buf_printf(why, "reply longer than %d bytes",
			    CHECK_POLICY_REPLY_MAX);
			return -1;
		}
		buf_putc(reply, c);
		if (c != '\n')
			continue;
		if (reply->len - line == 1 || (reply->len - line == 2
		    && reply->data[line] == '\r'))
			return 0;
		line = reply->len;
	}
}

/*
 * Connect when needed, send, receive, parse. 0 with the action, or -1
 * with why; *lost says that a connection kept from before was found
 * closed before any reply byte came (the server closed it meanwhile).
 */
static int
policy_attempt(struct check_policy *p, const struct buf *request,
    struct buf *action, bool *lost, struct buf *why)
{
	uint64_t deadline = time_mono_ms()
	    + (uint64_t)p->spec.timeout * 1000;
	bool reused = p->conn != NULL;
	struct buf reply;
	int rc = -1;

	*lost = false;
	if (p->conn == NULL && policy_connect(p, deadline, why) < 0)
		return -1;
	buf_init(&reply, 256);
	stream_set_timeout(p->conn, policy_left(deadline) + 1);
	if (stream_write(p->conn, request->data, request->len) < 0
	    || stream_flush(p->conn) < 0) {
		*lost = reused && (stream_error(p->conn) == STREAM_ERR_EOF
		    || errno == EPIPE || errno == ECONNRESET);
		policy_stream_why(p->conn, errno, "sending the request", why);
		goto out;
	}
	if (policy_read_reply(p->conn, deadline, &reply, why) < 0) {
		*lost = reused && reply.len == 0
		    && (stream_error(p->conn) == STREAM_ERR_EOF
		    || (stream_error(p->conn) == STREAM_ERR_IO
		    && errno == ECONNRESET));
		goto out;
	}
	if (msg_verbose)
		msg_info("policy server %s: reply: %.*s", p->spec.server,
		    (int)(reply.len > 200 ? 200 : reply.len), reply.data);
	if (!check_policy_reply_parse(reply.data, reply.len, action, why))
		goto out;
	rc = 0;
out:
	buf_fini(&reply);
	return rc;
}

/* The request with its retries: 0 with the action, -1 (logged). */
static int
policy_query(struct check_policy *p, const struct buf *request,
    struct buf *action)
{
	struct buf why;
	bool lost;
	int rc = -1;

	buf_init(&why, 128);
	for (int try = 0; try < p->spec.try_limit; try++) {
		if (try > 0 && p->spec.retry_delay > 0)
			time_sleep_ms((unsigned)p->spec.retry_delay * 1000);
		if (p->conn != NULL && policy_stale(p))
			policy_close(p);
		buf_reset(&why);
		rc = policy_attempt(p, request, action, &lost, &why);
		if (rc < 0 && lost) {		/* closed meanwhile: again */
			if (msg_verbose)
				msg_info("policy server %s: %s; reconnecting",
				    p->spec.server, why.data);
			policy_close(p);
			buf_reset(&why);
			rc = policy_attempt(p, request, action, &lost, &why);
		}
		if (rc == 0)
			break;
		policy_close(p);
		msg_warn("problem talking to server %s: %s", p->spec.server,
		    why.data);
	}
	buf_fini(&why);
	if (rc == 0) {
		p->used = time_mono_ms();
		if (++p->requests >= p->spec.request_limit
		    && p->spec.request_limit > 0)
			policy_close(p);
	}
	return rc;
}

/* ---- the request --------------------------------------------------------- */

/* The transaction's instance: "pid.time.counter", new after a reset. */
static const char *
policy_instance(struct check_eval *ev)
{
	struct check_session *cs = ev->cs;

	if (cs->policy_instance == NULL)
		cs->policy_instance = xasprintf("%lx.%llx.%x",
		    (unsigned long)getpid(),
		    (unsigned long long)time_now_us(), ++policy_instances);
	return cs->policy_instance;
}

/* The local end of the client's connection: address and port. */
static void
policy_server_addr(const struct smtpd_state *st, struct buf *addr,
    struct buf *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char text[INET6_ADDRSTRLEN] = "";
	unsigned num = 0;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(st->fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
		num = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12, text,
			    sizeof(text));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, text,
			    sizeof(text));
		num = ntohs(sin6->sin6_port);
	} else {
		return;
	}
	buf_set(addr, text);
	buf_reset(port);
	buf_printf(port, "%u", num);
}

static void
policy_request(struct check_eval *ev, const struct check_policy *p,
    struct buf *out)
{
	struct smtpd_state *st = ev->st;
	const char *where = st->where ? st->where : SMTPD_WHERE_CONNECT;
	bool after_rcpt = strcmp(where, "DATA") == 0
	    || strcmp(where, "BDAT") == 0
	    || strcmp(where, SMTPD_WHERE_EOD) == 0;
	long size = st->size_hint;
	struct buf num, saddr, sport;

	if (strcmp(where, SMTPD_WHERE_EOD) == 0 && st->eod_size > 0)
		size = st->eod_size;
	buf_init(&num, 32);
	buf_init(&saddr, 64);
	buf_init(&sport, 16);
	policy_server_addr(st, &saddr, &sport);
	buf_reset(out);
	check_policy_attr(out, "request", "smtpd_access_policy");
	check_policy_attr(out, "protocol_state", where);
	check_policy_attr(out, "protocol_name", st->protocol);
	check_policy_attr(out, "helo_name", ev->helo);
	check_policy_attr(out, "queue_id", st->queue_id);
	check_policy_attr(out, "sender", ev->sender);
	check_policy_attr(out, "recipient", ev->recipient);
	buf_printf(&num, "%zu", after_rcpt ? st->nrcpts : (size_t)0);
	check_policy_attr(out, "recipient_count", num.data);
	check_policy_attr(out, "client_address", st->addr);
	check_policy_attr(out, "client_name", st->name);
	check_policy_attr(out, "reverse_client_name", st->reverse_name);
	check_policy_attr(out, "instance", policy_instance(ev));
	check_policy_attr(out, "sasl_method", NULL);
	check_policy_attr(out, "sasl_username", st->sasl_username);
	check_policy_attr(out, "sasl_sender", NULL);
	buf_reset(&num);
	buf_printf(&num, "%ld", size);
	check_policy_attr(out, "size", num.data);
	check_policy_attr(out, "ccert_subject", NULL);
	check_policy_attr(out, "ccert_issuer", NULL);
	check_policy_attr(out, "ccert_fingerprint", NULL);
	check_policy_attr(out, "ccert_pubkey_fingerprint", NULL);
	check_policy_attr(out, "encryption_protocol", NULL);
	check_policy_attr(out, "encryption_cipher", NULL);
	check_policy_attr(out, "encryption_keysize", "0");
	check_policy_attr(out, "etrn_domain", ev->etrn);
	check_policy_attr(out, "stress", NULL);
	check_policy_attr(out, "client_port", st->port);
	check_policy_attr(out, "policy_context", p->spec.policy_context);
	check_policy_attr(out, "server_address", saddr.data);
	check_policy_attr(out, "server_port", sport.data);
	check_policy_attr(out, "compatibility_level",
	    var_compatibility_level);
	check_policy_attr(out, "mail_version", PETREL_VERSION);
	buf_putc(out, '\n');
	buf_fini(&num);
	buf_fini(&saddr);
	buf_fini(&sport);
}

/* ---- the restriction ----------------------------------------------------- */

enum check_result
check_policy_restriction(struct check_eval *ev, const struct check_item *it,
    const char *name, const char *class, enum check_kind kind)
{
	struct check_policy *p = it->policy;
	struct buf request, action, source;
	enum check_result rc;

	buf_init(&request, 1024);
	buf_init(&action, 128);
	buf_init(&source, 64);
	buf_printf(&source, "policy server %s", p->spec.server);
	policy_request(ev, p, &request);
	if (policy_query(p, &request, &action) == 0) {
		rc = check_access_result(ev, source.data, action.data, name,
		    class, kind, true);
	} else {
		/* A default that asks a server again gets the built-in one. */
		buf_set(&action, policy_in_default ? POLICY_BUILTIN_ACTION
		    : p->spec.default_action);
		policy_in_default++;
		rc = check_access_result(ev, source.data, action.data, name,
		    class, kind, true);
		policy_in_default--;
	}
	buf_fini(&request);
	buf_fini(&action);
	buf_fini(&source);
	return rc;
}
