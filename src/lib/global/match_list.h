/*
 * match_list.h - domain lists and client (host/address) lists
 *
 *	l = match_list_clients("mynetworks", var_mynetworks, &why);
 *	if (l == NULL)
 *		msg_fatal_status(EX_CONFIG, "%s", why.data);
 *	switch (match_list_client(l, "mail.example.com", "192.0.2.1", &why)) {
 *	case 1:  ... listed ...
 *	case 0:  ... not listed ...
 *	default: ... a table failed: defer; why says which and why ...
 *	}
 *
 * The two kinds of pattern lists that main.cf parameters hold, with
 * Postfix's semantics (postconf(5): mydestination, mynetworks):
 *
 * domain lists (mydestination, relay_domains, virtual_*_domains,
 * permit_auth_destination's domain test):
 *	name		the domain itself (not its subdomains)
 *	.parent		any subdomain of parent (not parent itself)
 *	type:table	lookup of the domain, then ".parent" for each parent
 *			domain ("a.b.c": "a.b.c", ".b.c", ".c"); a domain
 *			literal "[...]" is looked up as it is, without
 *			parents. Any value found is a match.
 *	[...]		a name like the others (compared as text)
 *
 * client lists (mynetworks, smtpd_authorized_xclient_hosts,
 * smtpd_client_event_limit_exceptions, ...):
 *	192.0.2.1 or [192.0.2.1], 2001:db8::1 or [2001:db8::1]	an address
 *	192.0.2.0/24, [2001:db8::]/32, 2001:db8::/32		a network
 *	host.example.com, .example.com	a client name, or any name under
 *			.example.com (as in domain lists)
 *	type:table	lookup of the name and its ".parent" keys as in
 *			domain lists, then of the address as the caller
 *			gave it (and, for an IPv4-mapped IPv6 address, of
 *			its IPv4 form); a cidr: table answers the latter
 * A network must have its host bits clear ("192.0.2.1/24" is an error
 * that suggests "192.0.2.0/24") and a prefix length within 0..32 or
 * 0..128. A pattern of digits and dots must be an IPv4 address. A
 * pattern with ':' is an IPv6 address when it parses as one (so
 * brackets are optional, unlike Postfix's), else a table. An
 * IPv4-mapped client address (::ffff:192.0.2.1) matches IPv4 patterns
 * too. The client name "unknown" (no verified name) and an empty name
 * match no name pattern and are not looked up in tables.
 *
 * In both kinds:
 *	!pattern	exclusion: when pattern matches, the answer is "not
 *			listed" and the search ends
 *	/file		the patterns in a file, as if written in its place
 *			(lline.h syntax: '#' comments, continuation lines;
 *			one or more patterns per line); "!/file" negates each
 *			of them. Files may name files, 8 deep at most.
 * The first pattern that matches decides; no match is "not listed".
 * Names and domains are compared without case. Entries are separated by
 * commas and/or whitespace; { } groups are single entries
 * (str_token_braced(), for inline:{...} tables).
 *
 * A table is opened with dict_open(): one that cannot be opened is not
 * an error here but a surrogate whose lookups fail, so the daemon
 * starts and the questions it cannot answer are temporary failures.
 *
 * SECURITY: patterns come from the administrator; names and addresses
 * from the network are only compared and looked up (keys are bounded by
 * the dict layer), never parsed as patterns. A client address is parsed
 * only by inet_pton(3).
 */
#ifndef PETREL_MATCH_LIST_H
#define PETREL_MATCH_LIST_H

#include <stdbool.h>

#include "buf.h"

struct match_list;

/*
 * Parse value (already $name-expanded) for parameter param (used in
 * messages). A malformed pattern (bad address or prefix length, host
 * bits set, empty pattern, unreadable /file) is an error: NULL with why
 * (replaced) saying "param: \"pattern\": what is wrong", with ", file,
 * line n" after param for a pattern from a /file.
 */
struct match_list *match_list_domains(const char *param, const char *value,
    struct buf *why);
struct match_list *match_list_clients(const char *param, const char *value,
    struct buf *why);
void match_list_free(struct match_list *l);		/* accepts NULL */

/*
 * Is domain (any case, without a trailing dot) listed? 1, 0, or -1 when
 * a table failed, with why (replaced) "param: <the table's error>".
 */
int match_list_domain(const struct match_list *l, const char *domain,
    struct buf *why);
/*
 * Is the client listed? name (may be NULL or "unknown": no name) and
 * addr (text, e.g. "192.0.2.1" or "2001:db8::1"; a "%zone" suffix is
 * ignored) come from the network. Results as for match_list_domain().
 * In a domain list only names (and tables, with the name) can match.
 */
int match_list_client(const struct match_list *l, const char *name,
    const char *addr, struct buf *why);

/*
 * The default mynetworks for a mynetworks_style ("host", "subnet",
 * "class", in any case), computed from this machine's interfaces
 * (getifaddrs(3)):
 *	host	each interface address: "192.0.2.7/32", "[2001:db8::7]/128"
 *	subnet	each interface's network (address and netmask, host bits
 *		cleared): "192.0.2.0/24", "[2001:db8::]/64"
 *	class	the class A, B or C network of each IPv4 address
 *		("10.0.0.0/8", "172.16.0.0/16", "192.0.2.0/24"; /32 for
 *		class D and E); IPv6 as subnet
 * Each network once, in interface order, separated by spaces:
 * "127.0.0.1/32 [::1]/128 192.0.2.7/32". When the interfaces cannot be
 * listed (logged), only the loopback networks. NULL for an unknown
 * style. The caller frees the result.
 */
char *match_list_mynetworks(const char *style);

#endif
