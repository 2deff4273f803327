/*
 * smtp_syntax.h - RFC 5321 paths, ESMTP parameters and xtext
 *
 * The syntax of what an SMTP client sends after MAIL FROM: and RCPT TO:,
 * shared by smtpd and sendmail -bs: the path, the "keyword=value"
 * parameters after it, and the xtext (RFC 3461) of ENVID and ORCPT.
 * The functions are pure: they parse a string and fill buffers, and
 * say nothing to the client or the log. Replies are the caller's.
 *
 * Path grammar (RFC 5321 section 4.1.2, RFC 6531 with SMTP_PATH_UTF8):
 *
 *	path	  = "<" [ route ":" ] mailbox ">"
 *	route	  = "@" domain *( "," "@" domain )	(dropped from result)
 *	mailbox	  = local-part [ "@" ( domain / address-literal ) ]
 *	local-part = dot-string / quoted-string		(not empty)
 *	domain	  = label *( "." label ), labels of letters, digits, '-'
 *		    and '_' (as Postfix, for real-world names), at most 63
 *		    bytes each (ASCII labels), 255 bytes in all
 *	address-literal = "[" IPv4 "]" / "[IPv6:" IPv6 "]" (the tag in any
 *		    case; IPv4 is four decimal numbers 0-255 of 1-3 digits,
 *		    IPv6 anything inet_pton(3) accepts); general literals
 *		    "[tag:text]" are refused, as no tag other than IPv6 is
 *		    registered
 *
 * A mailbox without "@domain" (a bare local part, "<postmaster>") is
 * accepted, as Sendmail and Postfix do: the caller completes it or
 * refuses it (reject_non_fqdn_*). Flags:
 *
 *	SMTP_PATH_NULL_OK	"<>" is accepted (the null sender of MAIL
 *				FROM); the result is then empty.
 *	SMTP_PATH_UTF8		RFC 6531 (SMTPUTF8): UTF-8 non-ASCII
 *				characters are allowed in the atoms and
 *				quoted strings of the local part and in
 *				domain labels. They must be well-formed
 *				UTF-8 (RFC 3629: no overlong forms, no
 *				surrogates, nothing above U+10FFFF); address
 *				literals stay ASCII. Without the flag any
 *				byte above 0x7e is a syntax error: a caller
 *				that wants to answer "553 5.6.7 must declare
 *				SMTPUTF8" parses again with the flag to tell
 *				the two cases apart.
 *	SMTP_PATH_LAX		strict_rfc821_envelopes = no: spaces before
 *				the path are skipped, and a path without
 *				angle brackets ("MAIL FROM:user@example.com")
 *				is accepted; it ends at the first space or at
 *				the end of the text, and follows the grammar
 *				above without "<" ">" (so "<>" is the only
 *				way to give the null sender).
 *
 * SECURITY: the input is an untrusted command line, NUL-terminated and
 * bounded by the caller. Parsing is one pass, without recursion; the
 * results are in struct bufs, bounded by the input; a result longer
 * than CLEANUP_CLNT_ADDR_LIMIT is refused.
 */
#ifndef PETREL_SMTP_SYNTAX_H
#define PETREL_SMTP_SYNTAX_H

#include <stdbool.h>

struct buf;

#define SMTP_PATH_NULL_OK	(1 << 0)	/* "<>" is valid */
#define SMTP_PATH_UTF8		(1 << 1)	/* RFC 6531 addresses */
#define SMTP_PATH_LAX		(1 << 2)	/* no <> needed, spaces ok */

/*
 * Parse the path at cp (see above). The mailbox, without the source
 * route and with the local part quoted only where it must be
 * (addr_list_quote_local()), replaces out; tmp is scratch. Returns the
 * text after the path (after '>', or after the address in lax form),
 * or NULL when the path is malformed or its mailbox longer than
 * CLEANUP_CLNT_ADDR_LIMIT. The caller checks what follows (a space and
 * parameters, or the end of the line).
 */
const char *smtp_path_parse(const char *cp, struct buf *out, struct buf *tmp,
    int flags);

/*
 * The domain of a mailbox as smtp_path_parse() returns it: true with
 * *domain pointing into addr after its '@' (an '@' inside a quoted
 * local part does not count), false when addr has no domain (a bare
 * local part, or the null address) and *domain is then set to NULL.
 */
bool smtp_addr_domain(const char *addr, const char **domain);

/*
 * The next "keyword[=value]" of the ESMTP parameters at *cursor
 * (separated by spaces; split in place). Returns 1 with *key and *value
 * (NULL without '='), 0 when none is left, -1 when malformed (RFC 5321
 * esmtp-keyword and esmtp-value).
 */
int smtp_param_next(char **cursor, char **key, char **value);

/*
 * An ORCPT value "addr-type;xtext" (RFC 3461) into "addr-type;decoded"
 * in out; tmp is scratch. False when malformed, or when the decoded
 * address is empty, longer than 500 bytes or not printable ASCII.
 */
bool smtp_orcpt_parse(const char *value, struct buf *out, struct buf *tmp);

/*
 * Decode xtext (RFC 3461: printable ASCII but '+' and '=', and "+XX"
 * with two uppercase hex digits) into out (replaced). Returns 0, or -1
 * when text is malformed or decodes to a NUL byte.
 */
int smtp_xtext_decode(const char *text, struct buf *out);

#endif
