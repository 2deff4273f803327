/*
 * resolve_clnt.h - client of the trivial-rewrite "resolve" request
 *
 *	struct resolve_reply r;
 *	resolve_reply_init(&r);
 *	if (resolve_clnt("joe@example.com", &r) < 0)
 *		... defer: rewrite_clnt_error() says why ...
 *	... r.transport "smtp", r.nexthop "example.com",
 *	    r.recipient "joe@example.com", r.addr_class RESOLVE_CLASS_DEFAULT
 *	resolve_reply_fini(&r);
 *
 * Resolve an address (external form, normally already in canonical form
 * from rewrite_clnt()) to the delivery transport (a master.cf service
 * name), the next hop for it, the envelope recipient to hand over, and
 * the address class, as Postfix's trivial-rewrite(8):
 *
 *	local	no domain, a domain in mydestination, or [addr] for an
 *		address of inet_interfaces/proxy_interfaces: local_transport
 *		("local:$myhostname": transport local, nexthop $myhostname);
 *		the recipient keeps the local domain it had, or gets
 *		@$myhostname. Routing left in the local part of a local
 *		address is followed (user%host@local, host!user@local).
 *	alias	a domain in virtual_alias_domains: transport "error",
 *		nexthop "5.1.1 User unknown in virtual alias table"
 *		(mail reaches it only when virtual_alias_maps does not
 *		rewrite it)
 *	virtual	a domain in virtual_mailbox_domains: virtual_transport
 *	relay	a domain in relay_domains: relay_transport
 *	default	any other domain: default_transport
 * A transport written "name:nexthop" sets the next hop; else it is the
 * recipient's domain (lowercased; $myhostname for local). The protocol
 * and the connection are described in rewrite_clnt.h.
 */
#ifndef PETREL_RESOLVE_CLNT_H
#define PETREL_RESOLVE_CLNT_H

#include "buf.h"
#include "rewrite_clnt.h"

enum resolve_class {
	RESOLVE_CLASS_LOCAL,
	RESOLVE_CLASS_ALIAS,		/* virtual alias domain */
	RESOLVE_CLASS_VIRTUAL,		/* virtual mailbox domain */
	RESOLVE_CLASS_RELAY,
	RESOLVE_CLASS_DEFAULT,
};
#define RESOLVE_CLASS_COUNT	5

struct resolve_reply {
	struct buf transport;
	struct buf nexthop;
	struct buf recipient;
	enum resolve_class addr_class;
};

void resolve_reply_init(struct resolve_reply *r);
void resolve_reply_fini(struct resolve_reply *r);

/*
 * Resolve addr into reply (the caller's, initialized). Returns 0, or -1
 * on a temporary failure (service unreachable, a domain table failed,
 * ...): the caller defers; rewrite_clnt_error() says why (also logged).
 */
int resolve_clnt(const char *addr, struct resolve_reply *reply);

/* "local", "alias", "virtual", "relay", "default"; NULL if out of range. */
const char *resolve_class_name(int addr_class);

#endif
