/*
 * rewrite.h - trivial-rewrite: canonical address form, address scanning
 *
 * Addresses are in external (RFC 5322) form. The scanning helpers look
 * at the address's operators ('@', '!', '%', ':') only where they are
 * operators: not inside a quoted string, not inside a domain literal
 * ([...] after '@'), not after a backslash.
 */
#ifndef PETREL_REWRITE_H
#define PETREL_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/*
 * Put addr in canonical form into result (reset first), as Postfix's
 * trivial-rewrite does, under the current var_ parameters:
 *	- the null address "" and the empty quoted string are kept;
 *	  a lone "@" becomes "";
 *	- a source route is dropped: @a,@b:user@c -> user@c;
 *	- without '@': site!user -> user@site (swap_bangpath, the first
 *	  '!', so a!b!user -> b!user@a), else user%site -> user@site
 *	  (allow_percent_hack, the last '%'), else, in the local context,
 *	  user -> user@$myorigin (append_at_myorigin);
 *	- in the local context, user@host -> user@host.$mydomain when the
 *	  domain has no dot and is not [literal] (append_dot_mydomain);
 *	- one trailing dot of the domain is dropped (not "..", not "@.").
 * The remote context does everything but the appending.
 */
void rewrite_addr(bool local, const char *addr, struct buf *result);

/*
 * Offset of the first (or, when last is true, the last) operator ch in
 * addr[0..len), or -1.
 */
ssize_t rewrite_find(const char *addr, size_t len, int ch, bool last);

/* Drop a source route (@a,@b:user@c -> user@c) in place. */
void rewrite_strip_route(struct buf *addr);

/*
 * Drop one trailing dot from the domain after the last '@' in place
 * (not from "..", nor when the domain is only the dot). True if done.
 */
bool rewrite_strip_dot(struct buf *addr);

/* Append the text of a local part with quotes and backslashes removed. */
void rewrite_unquote(const char *lp, size_t len, struct buf *out);

/*
 * Append text as a local part in external form: as it is when it is a
 * dot-atom (RFC 5322; bytes >= 0x80 allowed, for SMTPUTF8), else as a
 * quoted string with '"' and '\' escaped.
 */
void rewrite_quote(const char *text, size_t len, struct buf *out);

#endif
