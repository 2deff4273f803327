/*
 * resolve.c - trivial-rewrite: resolve an address to a delivery route
 *
 *	resolve_init();
 *	rc = resolve_addr("joe%remote@localhost", &reply, &why);
 *
 * The "resolve" request of trivial-rewrite(8): which transport delivers
 * to an address, to which next hop, for which envelope recipient, and
 * the address class (the rules are in resolve_clnt.h).
 *
 * Local domains are peeled off first: as long as the domain is local
 * (mydestination, or [addr] for an address of this host) it is removed
 * and the local part is searched for routing that it may still carry,
 * quoted or not ("user@remote"@local, user%remote@local and
 * remote!user@local; the last two under allow_percent_hack and
 * swap_bangpath). Like Postfix, routing is honoured only behind a local
 * domain; what remains decides the class.
 *
 * Domain lists (mydestination, relay_domains, virtual_alias_domains,
 * virtual_mailbox_domains) are match_list.h domain lists: names,
 * ".parent" patterns (any subdomain), "!pattern" exclusions, /file
 * patterns and type:name tables (looked up with the domain, then
 * ".parent" for each parent domain; the value does not matter). A
 * malformed list is fatal at start; a table that fails makes the
 * request a temporary failure, never "not local". The addresses of
 * inet_interfaces and proxy_interfaces (host_addrs.h) are read once at
 * start.
 *
 * SECURITY: addresses come from outside (via the client). They are
 * edited only inside struct buf, the routing loop is bounded, and table
 * keys are bounded by the dict layer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sysexits.h>

#include "buf.h"
#include "host_addrs.h"
#include "match_list.h"
#include "mem.h"
#include "msg.h"
#include "params.h"
#include "resolve.h"
#include "rewrite.h"
#include "str.h"

/*
 * Each round removes a local domain; real addresses need one or two.
 * More is an error (temporary, as the protocol has no other kind).
 */
#define RESOLVE_MAX_ROUNDS	64

#define RESOLVE_ALIAS_TRANSPORT	"error"
#define RESOLVE_ALIAS_NEXTHOP	"5.1.1 User unknown in virtual alias table"

static struct match_list *resolve_mydest;
static struct match_list *resolve_relay;
static struct match_list *resolve_valias;
static struct match_list *resolve_vmbox;

/* The addresses of this host that [addr] literals are compared with. */
static struct host_addrs *resolve_own;

/* Is the domain literal ("[1.2.3.4]", "[ipv6:::1]") one of ours? */
static bool
resolve_own_literal(const char *domain)
{
	struct buf inner;
	unsigned char bin[16];
	const char *text;
	size_t len = strlen(domain);
	int family = AF_INET;
	bool found = false;

	if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
		return false;
	buf_init(&inner, len);
	buf_append(&inner, domain + 1, len - 2);
	text = inner.data;
	if (strncasecmp(text, "ipv6:", 5) == 0) {
		family = AF_INET6;
		text += 5;
	}
	if (inet_pton(family, text, bin) == 1)
		found = host_addrs_has(resolve_own, family, bin);
	buf_fini(&inner);
	return found;
}

/* Is the (lowercase) domain local? 1, 0, or -1 with why set. */
static int
resolve_local(const char *domain, struct buf *why)
{
	if (*domain == '[' && resolve_own_literal(domain))
		return 1;
	return match_list_domain(resolve_mydest, domain, why);
}

/* A domain list parameter; a malformed one is fatal (at start). */
static struct match_list *
resolve_domains(const char *param, const char *value)
{
	struct match_list *l;
	struct buf why;

	buf_init(&why, 64);
	if ((l = match_list_domains(param, value, &why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", why.data);
	buf_fini(&why);
	return l;
}

void
resolve_init(void)
{
	resolve_mydest = resolve_domains("mydestination", var_mydestination);
	resolve_relay = resolve_domains("relay_domains", var_relay_domains);
	resolve_valias = resolve_domains("virtual_alias_domains",
	    var_virtual_alias_domains);
	resolve_vmbox = resolve_domains("virtual_mailbox_domains",
	    var_virtual_mailbox_domains);
	resolve_own = host_addrs_new();
	host_addrs_add(resolve_own, "inet_interfaces", var_inet_interfaces);
	host_addrs_add(resolve_own, "proxy_interfaces", var_proxy_interfaces);
	if (msg_verbose)
		msg_info("resolve: %zu local interface address(es)",
		    host_addrs_count(resolve_own));
}

/*
 * "transport:nexthop" -> transport, nexthop; a missing or empty
 * nexthop is def_nexthop.
 */
static void
resolve_transport(const char *spec, const char *def_nexthop,
    struct resolve_reply *r)
{
	const char *colon = strchr(spec, ':');

	if (colon == NULL) {
		buf_set(&r->transport, spec);
		buf_set(&r->nexthop, def_nexthop);
		return;
	}
	buf_setn(&r->transport, spec, (size_t)(colon - spec));
	buf_set(&r->nexthop, colon[1] != 0 ? colon + 1 : def_nexthop);
}

/*
 * The local part text (unquoted) may carry routing to elsewhere:
 * "user@host", host!user, user%host. If so, replace addr by the routed
 * address in external form and return true.
 */
static bool
resolve_reroute(const char *text, size_t len, struct buf *addr)
{
	const char *p = NULL;
	const char *lp, *dom;
	size_t lp_len, dom_len;

	if ((p = memrchr(text, '@', len)) != NULL) {
		lp = text;
		lp_len = (size_t)(p - text);
		dom = p + 1;
	} else if (var_swap_bangpath
	    && (p = memchr(text, '!', len)) != NULL) {
		dom = text;
		dom_len = (size_t)(p - text);
		lp = p + 1;
		lp_len = len - dom_len - 1;
		if (lp_len == 0 || dom_len == 0)
			return false;
		buf_reset(addr);
		rewrite_quote(lp, lp_len, addr);
		buf_putc(addr, '@');
		buf_append(addr, dom, dom_len);
		return true;
	} else if (var_allow_percent_hack
	    && (p = memrchr(text, '%', len)) != NULL) {
		lp = text;
		lp_len = (size_t)(p - text);
		dom = p + 1;
	} else {
		return false;
	}
	/* user@host and user%host */
	dom_len = len - lp_len - 1;
	if (lp_len == 0 || dom_len == 0)
		return false;
	buf_reset(addr);
	rewrite_quote(lp, lp_len, addr);
	buf_putc(addr, '@');
	buf_append(addr, dom, dom_len);
	return true;
}

/* Remote domain: pick the class by the domain lists. */
static int
resolve_remote(const char *domain, struct resolve_reply *r, struct buf *why)
{
	int rc;

	if ((rc = match_list_domain(resolve_valias, domain, why)) != 0) {
		if (rc < 0)
			return -1;
		r->addr_class = RESOLVE_CLASS_ALIAS;
		buf_set(&r->transport, RESOLVE_ALIAS_TRANSPORT);
		buf_set(&r->nexthop, RESOLVE_ALIAS_NEXTHOP);
		return 0;
	}
	if ((rc = match_list_domain(resolve_vmbox, domain, why)) != 0) {
		if (rc < 0)
			return -1;
		r->addr_class = RESOLVE_CLASS_VIRTUAL;
		resolve_transport(var_virtual_transport, domain, r);
		return 0;
	}
	if ((rc = match_list_domain(resolve_relay, domain, why)) != 0) {
		if (rc < 0)
			return -1;
		r->addr_class = RESOLVE_CLASS_RELAY;
		resolve_transport(var_relay_transport, domain, r);
		return 0;
	}
	r->addr_class = RESOLVE_CLASS_DEFAULT;
	resolve_transport(var_default_transport, domain, r);
	return 0;
}

int
resolve_addr(const char *input, struct resolve_reply *r, struct buf *why)
{
	struct buf addr, domain, saved, text;
	ssize_t at;
	int round, rc = -1, local;

	buf_init(&addr, strlen(input) + 1);
	buf_init(&domain, 64);
	buf_init(&saved, 64);
	buf_init(&text, 64);
	buf_set(&addr, input);
	buf_reset(why);
	rewrite_strip_route(&addr);
	for (round = 0; round < RESOLVE_MAX_ROUNDS; round++) {
		if ((at = rewrite_find(addr.data, addr.len, '@', true)) < 0)
			break;
		(void)rewrite_strip_dot(&addr);
		if ((size_t)at + 1 == addr.len) {
			buf_truncate(&addr, (size_t)at);	/* "user@" */
			break;
		}
		buf_set(&domain, addr.data + at + 1);
		str_lower(domain.data);
		if ((local = resolve_local(domain.data, why)) < 0)
			goto out;
		if (local == 0) {
			/* Remote: the address is the recipient as it is. */
			buf_set(&r->recipient, addr.data);
			rc = resolve_remote(domain.data, r, why);
			goto out;
		}
		/* Local domain: peel it off, follow routing in the rest. */
		buf_set(&saved, addr.data + at + 1);
		buf_truncate(&addr, (size_t)at);
		buf_reset(&text);
		rewrite_unquote(addr.data, addr.len, &text);
		if (!resolve_reroute(text.data, text.len, &addr))
			break;
	}
	if (round == RESOLVE_MAX_ROUNDS) {
		buf_printf(why, "more than %d local domains in one address",
		    RESOLVE_MAX_ROUNDS);
		goto out;
	}
	/* Local: keep the local domain it had, else this host's name. */
	buf_set(&r->recipient, addr.data);
	if (addr.len > 0) {
		buf_putc(&r->recipient, '@');
		buf_puts(&r->recipient, saved.len > 0 ? saved.data
		    : var_myhostname);
	}
	r->addr_class = RESOLVE_CLASS_LOCAL;
	resolve_transport(var_local_transport, var_myhostname, r);
	rc = 0;
out:
	buf_fini(&addr);
	buf_fini(&domain);
	buf_fini(&saved);
	buf_fini(&text);
	return rc;
}
