/*
 * smtpd_peer.c - smtpd: who the client is, and its connection limits
 *
 * smtpd_peer_init() fills the client fields of the session:
 *
 *	address, port	getpeername(2); an IPv4-mapped IPv6 address is
 *			shown as IPv4. A UNIX-domain or other non-IP peer
 *			is "localhost" [127.0.0.1], as Postfix does.
 *			With smtpd_upstream_proxy_protocol = haproxy they
 *			come from the PROXY header (smtpd_haproxy.c),
 *			read within smtpd_upstream_proxy_timeout; a
 *			missing or malformed header ends the session.
 *	reverse name	the first PTR name, or "unknown"
 *	name		the forward-confirmed name (a PTR name whose A or
 *			AAAA records include the address), or "unknown";
 *			each with the lookup's status, so that a DNS
 *			failure gives a 4xx, never a 5xx, in
 *			reject_unknown_client_hostname. 127.0.0.1 and ::1
 *			are "localhost" without asking DNS (what the hosts
 *			file says everywhere). smtpd_peername_lookup = no
 *			leaves every name "unknown".
 *	namaddr		"name[addr]" (":port" with smtpd_client_port_logging)
 *	list flags	smtpd_client_event_limit_exceptions,
 *			smtpd_forbid_bare_newline_exclusions,
 *			smtpd_authorized_xclient_hosts and
 *			smtpd_authorized_xforward_hosts, matched once
 *
 * The anvil limits (smtpd_client_connection_count_limit and
 * _connection_rate_limit at connect, _message_rate_limit at MAIL,
 * _recipient_rate_limit at RCPT) are asked of the anvil service under
 * the ident "service:address"; clients in the exceptions list are not
 * counted. When anvil cannot be reached the limits are not enforced
 * (logged), as Postfix does.
 *
 * SECURITY: names from DNS are checked by the DNS library; the PROXY
 * header is parsed by a bounded parser; the name and address are only
 * used as text.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>

#include "anvil_clnt.h"
#include "buf.h"
#include "dns.h"
#include "match_list.h"
#include "mem.h"
#include "msg.h"
#include "params.h"

#include "smtpd.h"
#include "smtpd_haproxy.h"

static struct match_list *peer_exceptions;
static struct match_list *peer_bare_exclusions;
static struct match_list *peer_xclient;
static struct match_list *peer_xforward;

static struct match_list *
smtpd_peer_list(const char *param, const char *value)
{
	struct match_list *l;
	struct buf why;

	buf_init(&why, 64);
	if ((l = match_list_clients(param, value, &why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", why.data);
	buf_fini(&why);
	return l;
}

void
smtpd_peer_pre_init(void)
{
	peer_exceptions = smtpd_peer_list("smtpd_client_event_limit_exceptions",
	    var_smtpd_client_event_limit_exceptions);
	peer_bare_exclusions = smtpd_peer_list(
	    "smtpd_forbid_bare_newline_exclusions",
	    var_smtpd_forbid_bare_newline_exclusions);
	peer_xclient = smtpd_peer_list("smtpd_authorized_xclient_hosts",
	    var_smtpd_authorized_xclient_hosts);
	peer_xforward = smtpd_peer_list("smtpd_authorized_xforward_hosts",
	    var_smtpd_authorized_xforward_hosts);
}

/* Is the client in list? A table failure counts as "no" (logged). */
static bool
smtpd_peer_listed(struct smtpd_state *st, const struct match_list *l,
    const char *param)
{
	struct buf why;
	int rc;

	buf_init(&why, 64);
	rc = match_list_client(l, st->name, st->addr, &why);
	if (rc < 0)
		msg_warn("%s: %s: %s; treated as not listed", st->namaddr,
		    param, why.data);
	buf_fini(&why);
	return rc > 0;
}

/* "name[addr]", with ":port" under smtpd_client_port_logging. */
static void
smtpd_peer_namaddr(struct smtpd_state *st)
{
	free(st->namaddr);
	if (var_smtpd_client_port_logging)
		st->namaddr = xasprintf("%s[%s]:%s", st->name, st->addr,
		    st->port);
	else
		st->namaddr = xasprintf("%s[%s]", st->name, st->addr);
}

/* Name lookups and the derived fields, after addr is known. */
static void
smtpd_peer_names(struct smtpd_state *st)
{
	struct dns_reply *r;

	free(st->name);
	free(st->reverse_name);
	st->name = st->reverse_name = NULL;
	st->name_status = st->reverse_name_status = SMTPD_PEER_NOTFOUND;
	if (!var_smtpd_peername_lookup || st->addr_family == AF_UNIX) {
		/* "unknown" for all */
	} else if (strcmp(st->addr, "127.0.0.1") == 0
	    || strcmp(st->addr, "::1") == 0) {
		st->name = xstrdup("localhost");
		st->reverse_name = xstrdup("localhost");
		st->name_status = st->reverse_name_status = SMTPD_PEER_OK;
	} else {
		r = smtpd_dns_lookup(st->addr, DNS_PTR);
		if (r->status == DNS_OK) {
			st->reverse_name = xstrdup(r->rrs[0].data);
			st->reverse_name_status = SMTPD_PEER_OK;
		} else if (r->status == DNS_TEMPFAIL) {
			st->reverse_name_status = SMTPD_PEER_TEMPFAIL;
		}
		dns_reply_free(r);
		if (st->reverse_name_status == SMTPD_PEER_OK) {
			r = smtpd_dns_lookup(st->addr, DNS_FCRDNS);
			if (r->status == DNS_OK) {
				st->name = xstrdup(r->rrs[0].data);
				st->name_status = SMTPD_PEER_OK;
			} else if (r->status == DNS_TEMPFAIL) {
				st->name_status = SMTPD_PEER_TEMPFAIL;
			}
			dns_reply_free(r);
		} else {
			st->name_status = st->reverse_name_status;
		}
	}
	if (st->name == NULL)
		st->name = xstrdup("unknown");
	if (st->reverse_name == NULL)
		st->reverse_name = xstrdup("unknown");

	smtpd_peer_namaddr(st);
	st->limit_exempt = smtpd_peer_listed(st, peer_exceptions,
	    "smtpd_client_event_limit_exceptions");
	st->bare_newline_exempt = smtpd_peer_listed(st, peer_bare_exclusions,
	    "smtpd_forbid_bare_newline_exclusions");
	st->xclient_ok = smtpd_peer_listed(st, peer_xclient,
	    "smtpd_authorized_xclient_hosts");
	st->xforward_ok = smtpd_peer_listed(st, peer_xforward,
	    "smtpd_authorized_xforward_hosts");
}

int
smtpd_peer_init(struct smtpd_state *st)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char text[INET6_ADDRSTRLEN];
	unsigned port = 0;
	struct haproxy_addr pa;
	struct buf why;

	memset(&ss, 0, sizeof(ss));
	st->addr_family = AF_UNIX;
	if (getpeername(st->fd, (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
			port = ntohs(sin->sin_port);
			st->addr_family = AF_INET;
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
				inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12,
				    text, sizeof(text));
				st->addr_family = AF_INET;
			} else {
				inet_ntop(AF_INET6, &sin6->sin6_addr, text,
				    sizeof(text));
				st->addr_family = AF_INET6;
			}
			port = ntohs(sin6->sin6_port);
		}
	}
	if (st->addr_family == AF_UNIX)
		snprintf(text, sizeof(text), "127.0.0.1");
	st->addr = xstrdup(text);
	st->port = xasprintf("%u", port);

	if (strcasecmp(var_smtpd_upstream_proxy_protocol, "haproxy") == 0) {
		buf_init(&why, 64);
		if (haproxy_read(st->fd, var_smtpd_upstream_proxy_timeout * 1000,
		    &pa, &why) < 0) {
			msg_warn("haproxy read: %s from [%s]", why.data,
			    st->addr);
			buf_fini(&why);
			return -1;
		}
		buf_fini(&why);
		if (!pa.local) {
			free(st->addr);
			free(st->port);
			st->addr = xstrdup(pa.addr);
			st->port = xstrdup(pa.port);
			st->addr_family = pa.family;
		}
	} else if (*var_smtpd_upstream_proxy_protocol != 0) {
		msg_fatal_status(EX_CONFIG, "smtpd_upstream_proxy_protocol: "
		    "\"%s\": expected haproxy or nothing",
		    var_smtpd_upstream_proxy_protocol);
	}
	smtpd_peer_names(st);
	return 0;
}

void
smtpd_peer_set(struct smtpd_state *st, const char *name,
    const char *reverse_name, const char *addr, const char *port)
{
	if (addr != NULL) {
		free(st->addr);
		st->addr = xstrdup(addr);
		st->addr_family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	}
	if (port != NULL) {
		free(st->port);
		st->port = xstrdup(port);
	}
	if (name == NULL && reverse_name == NULL && addr != NULL) {
		smtpd_peer_names(st);		/* look the new one up */
		return;
	}
	if (name != NULL) {
		free(st->name);
		st->name = xstrdup(name);
		st->name_status = strcmp(name, "unknown") == 0
		    ? SMTPD_PEER_NOTFOUND : SMTPD_PEER_OK;
	}
	if (reverse_name != NULL) {
		free(st->reverse_name);
		st->reverse_name = xstrdup(reverse_name);
		st->reverse_name_status = strcmp(reverse_name, "unknown") == 0
		    ? SMTPD_PEER_NOTFOUND : SMTPD_PEER_OK;
	}
	smtpd_peer_namaddr(st);
}

void
smtpd_peer_fini(struct smtpd_state *st)
{
	if (st->anvil_ident != NULL) {
		(void)anvil_clnt_disconnect(st->anvil_ident);
		free(st->anvil_ident);
		st->anvil_ident = NULL;
	}
	free(st->addr);
	free(st->port);
	free(st->name);
	free(st->reverse_name);
	free(st->namaddr);
	free(st->fwd_name);
	free(st->fwd_addr);
	free(st->fwd_port);
	free(st->fwd_helo);
	free(st->fwd_proto);
	free(st->fwd_ident);
	free(st->fwd_source);
	st->addr = st->port = st->name = st->reverse_name = NULL;
	st->namaddr = NULL;
}

/* ---- anvil limits ---------------------------------------------------------- */

static bool
smtpd_peer_counted(const struct smtpd_state *st)
{
	return !st->limit_exempt
	    && (var_smtpd_client_connection_count_limit > 0
	    || var_smtpd_client_connection_rate_limit > 0
	    || var_smtpd_client_message_rate_limit > 0
	    || var_smtpd_client_recipient_rate_limit > 0);
}

const char *
smtpd_peer_connect_limits(struct smtpd_state *st)
{
	static struct buf reply;
	char *ident;
	int count, rate;

	if (!smtpd_peer_counted(st))
		return NULL;
	ident = xasprintf("%s:%s", st->service, st->addr);
	if (anvil_clnt_connect(ident, &count, &rate) < 0) {
		free(ident);
		return NULL;
	}
	st->anvil_ident = ident;
	if (reply.data == NULL)
		buf_init(&reply, 128);
	buf_reset(&reply);
	if (var_smtpd_client_connection_count_limit > 0
	    && count > var_smtpd_client_connection_count_limit) {
		msg_warn("Connection concurrency limit exceeded: %d from %s "
		    "for service %s", count, st->namaddr, st->service);
	} else if (var_smtpd_client_connection_rate_limit > 0
	    && rate > var_smtpd_client_connection_rate_limit) {
		msg_warn("Connection rate limit exceeded: %d from %s for "
		    "service %s", rate, st->namaddr, st->service);
	} else {
		return NULL;
	}
	buf_printf(&reply, "421 4.7.0 %s Error: too many connections from %s",
	    var_myhostname, st->addr);
	return reply.data;
}

/*
 * One rate of anvil (ask: anvil_clnt_message or anvil_clnt_recipient)
 * against limit (0: none); NULL when within it, else the reply.
 */
static const char *
smtpd_peer_rate(struct smtpd_state *st, int (*ask)(const char *, int *),
    int limit, const char *what, const char *unit)
{
	static struct buf reply;
	int rate;

	if (st->anvil_ident == NULL || limit == 0
	    || ask(st->anvil_ident, &rate) < 0 || rate <= limit)
		return NULL;
	msg_warn("%s rate limit exceeded: %d from %s for service %s", what,
	    rate, st->namaddr, st->service);
	if (reply.data == NULL)
		buf_init(&reply, 128);
	buf_reset(&reply);
	buf_printf(&reply, "452 4.7.0 Error: too many %s from %s", unit,
	    st->addr);
	return reply.data;
}

const char *
smtpd_peer_message_limit(struct smtpd_state *st)
{
	return smtpd_peer_rate(st, anvil_clnt_message,
	    var_smtpd_client_message_rate_limit, "Message delivery request",
	    "messages");
}

const char *
smtpd_peer_recipient_limit(struct smtpd_state *st)
{
	return smtpd_peer_rate(st, anvil_clnt_recipient,
	    var_smtpd_client_recipient_rate_limit, "Recipient address",
	    "recipients");
}
