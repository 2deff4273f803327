/*
 * dns.h - asynchronous DNS lookups through c-ares, on a libevent base
 *
 * A struct dns_resolver wraps one c-ares channel whose sockets and
 * timers live on the caller's event base (smtpd, a multi-server, ...).
 * dns_lookup() asks one question and calls back exactly once with a
 * struct dns_reply: the status tells "found" from "does not exist"
 * (permanent, DNS_NOTFOUND) from "could not find out" (temporary,
 * DNS_TEMPFAIL: timeout, SERVFAIL, REFUSED, network error), so that a
 * DNS failure becomes a 4xx reply, never a 5xx. Every lookup ends within
 * timeout_ms * tries. dns_fcrdns() is the forward-confirmed reverse
 * lookup that gives smtpd its client name. dns_lookup_sync() runs a
 * private event base for commands and tests.
 *
 * The server list is configurable ("127.0.0.1:5353,[::1]:5353") so that
 * tests can use a local DNS server on a high port; NULL means the
 * system's (/etc/resolv.conf). The hosts file is never consulted.
 *
 * SECURITY: replies come from the network. c-ares parses them; every
 * record is copied into bounded, length-counted storage, host names in
 * replies (MX, PTR) are checked with dns_name_valid() and dropped when
 * bad, at most DNS_MAX_RRS records are kept. TXT data may hold any byte
 * (use rr->len; make it printable before logging it).
 */
#ifndef PETREL_DNS_H
#define PETREL_DNS_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct event_base;

/* Query types (the RR type numbers), plus a pseudo type for FCrDNS. */
#define DNS_A		1
#define DNS_PTR		12
#define DNS_MX		15
#define DNS_TXT		16
#define DNS_AAAA	28
#define DNS_FCRDNS	(-1)	/* dns_fcrdns() through dns_lookup() */

/* Reply status. */
enum dns_status {
	DNS_OK,		/* at least one record */
	DNS_NOTFOUND,	/* NXDOMAIN, or no record of that type: permanent */
	DNS_TEMPFAIL,	/* timeout, SERVFAIL, REFUSED, network: try later */
	DNS_INVALID,	/* bad name or type: nothing was asked */
};

#define DNS_NAME_MAX	253	/* without the final dot */
#define DNS_LABEL_MAX	63
#define DNS_MAX_RRS	100	/* records kept per reply */
#define DNS_FCRDNS_MAX_NAMES 5	/* PTR names checked by dns_fcrdns() */

/*
 * An MX record whose host is the root (".") is kept with an empty host:
 * a null MX (RFC 7505), the domain's way to say it accepts no mail.
 * dns_null_mx() tells such a reply from one with real exchangers.
 */
struct dns_rr {
	unsigned pref;		/* MX preference; 0 for other types */
	size_t len;		/* bytes in data (TXT may contain NULs) */
	char *data;		/* NUL-terminated: the address text (A,
				 * AAAA), host (MX, PTR, FCRDNS), the
				 * record's strings joined (TXT) */
};

struct dns_reply {
	const char *name;	/* the name (or address) asked about */
	int type;		/* DNS_A, ... */
	enum dns_status status;
	const char *why;	/* reason text for logs, never NULL */
	struct dns_rr *rrs;	/* DNS_OK: nrrs >= 1; MX sorted by pref */
	size_t nrrs;
};

/* Is r an MX reply that is one null MX (RFC 7505 section 3)? */
bool dns_null_mx(const struct dns_reply *r);

/*
 * The reply belongs to the library and is valid only during the call;
 * keep what is needed (dns_reply_dup()). A callback may start new
 * lookups, but must not call dns_resolver_free().
 */
typedef void (*dns_callback)(void *ctx, const struct dns_reply *reply);

struct dns_resolver;

/*
 * A resolver on base. servers: NULL for the system's, else a comma
 * list of "addr", "addr:port", "[v6addr]:port". timeout_ms (>= 1) is
 * the time for one try, tries (>= 1) the number of tries; a lookup
 * always ends within timeout_ms * tries. NULL with the reason in why
 * (e.g. a bad server list).
 */
struct dns_resolver *dns_resolver_new(struct event_base *base,
    const char *servers, int timeout_ms, int tries, struct buf *why);

/*
 * Free the resolver: pending lookups are dropped without a callback.
 * Accepts NULL. Not from inside a dns_callback.
 */
void dns_resolver_free(struct dns_resolver *r);

/*
 * Look name up; cb is called exactly once, always from the event loop
 * (never from inside dns_lookup()). For DNS_PTR, name is an IPv4 or
 * IPv6 address (or an in-addr.arpa/ip6.arpa name). An invalid name or
 * type gives DNS_INVALID without any query. DNS_FCRDNS: dns_fcrdns().
 */
void dns_lookup(struct dns_resolver *r, const char *name, int type,
    dns_callback cb, void *ctx);

/*
 * Forward-confirmed reverse DNS of an IPv4/IPv6 address (text): the
 * PTR names, then the A (AAAA) records of the first DNS_FCRDNS_MAX_NAMES
 * of them. The reply (type DNS_FCRDNS) has one record: the first PTR
 * name whose addresses include addr, with DNS_OK; else "unknown", with
 * DNS_NOTFOUND (no PTR, or no name confirms) or DNS_TEMPFAIL (a lookup
 * failed temporarily and no name confirmed), as smtpd's client name.
 */
void dns_fcrdns(struct dns_resolver *r, const char *addr, dns_callback cb,
    void *ctx);

/*
 * One lookup on a private event base and resolver (commands, tests).
 * Returns a reply that the caller frees with dns_reply_free(), or NULL
 * with the reason in why when the resolver cannot be created.
 */
struct dns_reply *dns_lookup_sync(const char *servers, int timeout_ms,
    int tries, const char *name, int type, struct buf *why);

/* A deep copy of a reply; free it with dns_reply_free() (accepts NULL). */
struct dns_reply *dns_reply_dup(const struct dns_reply *reply);
void dns_reply_free(struct dns_reply *reply);

/*
 * Check a domain name before asking: length 1..253 (a final dot is
 * allowed and not counted), labels 1..63 bytes, printable ASCII without
 * spaces or backslashes. false with the reason in why (may be NULL).
 */
bool dns_name_valid(const char *name, struct buf *why);

/* "A", "MX", ..., "FCRDNS"; NULL for an unknown type. */
const char *dns_type_name(int type);
/* The inverse (case-insensitive); 0 when unknown. */
int dns_type_code(const char *name);
/* "OK", "NOTFOUND", "TEMPFAIL", "INVALID". */
const char *dns_status_name(enum dns_status status);

#endif
