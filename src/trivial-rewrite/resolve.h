/*
 * resolve.h - trivial-rewrite: address to transport, nexthop, class
 *
 *	resolve_init();			(pre_init: opens tables)
 *	if (resolve_addr("joe@example.com", &reply, &why) < 0)
 *		... temporary failure: why says which table ...
 *
 * The decisions are described in resolve_clnt.h.
 */
#ifndef PETREL_RESOLVE_H
#define PETREL_RESOLVE_H

#include "buf.h"
#include "resolve_clnt.h"

/*
 * Read the domain lists (mydestination, relay_domains,
 * virtual_alias_domains, virtual_mailbox_domains; tables are opened with
 * dict_open()) and the local interface addresses (inet_interfaces,
 * proxy_interfaces). Call once, after main.cf is loaded.
 */
void resolve_init(void);

/*
 * Resolve addr (external form) into reply (initialized by the caller).
 * Returns 0, or -1 on a temporary failure (a table lookup failed) with
 * why set.
 */
int resolve_addr(const char *addr, struct resolve_reply *reply,
    struct buf *why);

#endif
