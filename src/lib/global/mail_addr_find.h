/*
 * mail_addr_find.h - look an address up in a table in Postfix's order
 *
 * canonical(5), virtual(5) and the virtual mailbox tables are keyed by
 * whole addresses, by local parts and by domains. For user+ext@domain
 * (recipient_delimiter "+") the keys are tried in this order, and the
 * first hit wins:
 *
 *	user+ext@domain
 *	user@domain			(address split at the delimiter)
 *	user+ext			(MAIL_ADDR_FIND_LOCALPART only)
 *	user				(MAIL_ADDR_FIND_LOCALPART only)
 *	@domain
 *
 *	rc = mail_addr_find(d, "joe+list@example.com",
 *	    MAIL_ADDR_FIND_PROPAGATE, result, ext, key);
 *
 * An address without a domain ("joe+list") tries only its local-part
 * forms. recipient_delimiter may hold several characters: the first of
 * them found in the local part splits it. An address is not split when
 * the user part would be empty (a local part that starts with the
 * delimiter), for postmaster, mailer-daemon and double-bounce, and, when
 * "-" is a delimiter, for owner-* and *-request (mailing list owners).
 *
 * Addresses are in external (RFC 5322) form: a local part that needs
 * quotes has them ("john smith"@example.com). The split happens on the
 * unquoted text, and each key is quoted again as needed, so the keys are
 * what an administrator writes in the table source. Keys are lowercased
 * (ASCII), local part included.
 */
#ifndef PETREL_MAIL_ADDR_FIND_H
#define PETREL_MAIL_ADDR_FIND_H

#include <stdbool.h>

#include "buf.h"
#include "dict.h"

/* Also try the bare local part (e.g. for local domains only). */
#define MAIL_ADDR_FIND_LOCALPART	(1 << 0)
/*
 * When the hit came from a key without the address extension (user@domain,
 * user, @domain), append the extension to the local part of each address
 * in the result, as propagate_unmatched_extensions asks.
 */
#define MAIL_ADDR_FIND_PROPAGATE	(1 << 1)

/*
 * Look addr up in d in the order above.
 *
 * DICT_FOUND: result holds the value (with MAIL_ADDR_FIND_PROPAGATE,
 * rewritten as below); extension, when not NULL, holds the unmatched
 * extension with its delimiter ("+ext", unquoted, original case) when
 * the hit came from a key without it, else is empty; matched_key, when
 * not NULL, holds the key that matched.
 *
 * Propagation: the value is read as a list of addresses separated by
 * commas or white space (outside quotes). The extension goes at the end
 * of the local part of each one that has a non-empty local part and is
 * not a command ("|..."), a file ("/...") or ":include:"; separators and
 * other entries are kept as they are. "a@x, b" with "+ext" becomes
 * "a+ext@x, b+ext".
 *
 * DICT_NOTFOUND: no key matched (also for the empty address); result
 * and extension are empty.
 * DICT_TEMPFAIL: a lookup failed; the search stopped at that key, which
 * matched_key holds; dict_error(d) says why. Never "not found".
 *
 * result, extension and matched_key are the caller's; result is required.
 */
enum dict_result mail_addr_find(struct dict *d, const char *addr, int flags,
    struct buf *result, struct buf *extension, struct buf *matched_key);

/*
 * Does propagate_unmatched_extensions name this class ("canonical",
 * "virtual", "alias", "forward", "include")? Case-insensitive.
 */
bool mail_addr_propagate(const char *class);
/*
 * The offset of the last '@' outside quotes in len bytes of an external
 * address (inside quotes a backslash escapes the next byte), or len when
 * there is none: where the local part ends.
 */
size_t mail_addr_find_at(const char *p, size_t len);

/*
 * Split addr (external form, with or without @domain) at the first
 * recipient_delimiter character of its local part, under the rules
 * above. Returns true and sets bare to the address without the extension
 * (external form, original case) and extension to the delimiter and what
 * follows (unquoted); false, leaving both empty, when addr is not split.
 * For local(8) and others that need the same rules. Either may be NULL.
 */
bool mail_addr_split_ext(const char *addr, struct buf *bare,
    struct buf *extension);

#endif
