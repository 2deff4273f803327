/*
 * addr_list.h - bare addresses from an RFC 5322 address list
 *
 * sendmail -t takes its recipients from To:, Cc: and Bcc: header values
 * such as
 *
 *	"Smith, John" <john@example.com>, (the list) team: a@x, b@y;,
 *	<@relay.example:joe@example.org>, "odd user"@example.net
 *
 * addr_list_parse() returns the addresses in them as bare
 * "local@domain" strings (john@example.com, a@x, b@y, joe@example.org,
 * "odd user"@example.net): display names, comments (nested), group
 * names and obsolete source routes are dropped, quoted strings are
 * unquoted and the local part is quoted again only when it is not a
 * dot-atom (addr_list_quote_local()). Whitespace and folding inside an
 * address are ignored, as RFC 5322's obsolete syntax allows ("joe .
 * smith @ example.com" is joe.smith@example.com).
 *
 * Parsing never fails: like Postfix's tok822, malformed input gives what
 * can be salvaged. An unterminated comment, quoted string, domain
 * literal or angle address ends at the end of the input (or, for an
 * angle address, at the next comma); stray ')' and '>' are ignored;
 * control characters are dropped; an element without a local part
 * ("<>", "@example.com", an empty group) gives no address; words of a
 * malformed mailbox without angle brackets are joined ("joe
 * smith@example.com" gives joesmith@example.com). Bytes 0x80-0xff are
 * taken as address characters (RFC 6532).
 *
 * SECURITY: the input is outside data. Work and memory are linear in its
 * length (no recursion; comment nesting is a counter) and the caller
 * bounds both the input length and the number of addresses returned.
 */
#ifndef PETREL_ADDR_LIST_H
#define PETREL_ADDR_LIST_H

#include <stddef.h>

struct argv;
struct buf;

/*
 * Append to out each address of the list in value[0..len) (need not be
 * NUL-terminated; NUL bytes are dropped), at most max of them (later
 * ones are ignored). Returns the number appended.
 */
size_t addr_list_parse(struct argv *out, const char *value, size_t len,
    size_t max);

/*
 * Append local[0..len) to out as it must appear before '@': unchanged
 * when it is a dot-atom, else as a quoted string with '"' and '\'
 * escaped by a backslash.
 */
void addr_list_quote_local(struct buf *out, const char *local, size_t len);

#endif
