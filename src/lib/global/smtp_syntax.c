/*
 * smtp_syntax.c - RFC 5321 paths, ESMTP parameters and xtext
 *
 * The syntax that smtpd and sendmail -bs check before anything reaches
 * cleanup or postdrop: the path of MAIL FROM and RCPT TO (with the
 * RFC 6531 and strict_rfc821_envelopes variants smtp_syntax.h
 * describes), the "keyword=value" parameters after it, and the xtext
 * (RFC 3461) of ENVID and ORCPT, also used by sendmail -V.
 *
 * SECURITY: the input is an untrusted command line (NUL-terminated,
 * bounded by the caller). Parsing is one pass, without recursion, and
 * never reads past the terminating NUL: every multi-byte test stops at
 * the first byte that does not fit, and NUL fits nothing. The results
 * are in struct bufs, bounded by the input.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "addr_list.h"
#include "buf.h"
#include "cleanup_clnt.h"
#include "str.h"

#include "smtp_syntax.h"

#define SMTP_ORCPT_LIMIT	500	/* RFC 3461 section 4.2 */
#define SMTP_DOMAIN_LIMIT	255	/* RFC 5321 section 4.5.3.1.2 */
#define SMTP_LABEL_LIMIT	63	/* RFC 1035 section 2.3.4 */
#define SMTP_V6_TAG		"IPv6:"
#define SMTP_V6_LIMIT		64	/* longer than any IPv6 text form */

static bool
smtp_is_atext(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	    || (ch >= '0' && ch <= '9')
	    || (ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

static bool
smtp_is_ldh(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	    || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

static bool
smtp_is_cont(unsigned char ch)
{
	return ch >= 0x80 && ch <= 0xbf;
}

/*
 * The length of the well-formed UTF-8 non-ASCII character at cp (RFC
 * 3629 section 4, which excludes overlong forms, surrogates and code
 * points above U+10FFFF), or 0. The second byte's range depends on the
 * first; a NUL stops the test before anything past it is read.
 */
static size_t
smtp_utf8_len(const char *text)
{
	const unsigned char *cp = (const unsigned char *)text;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (*cp >= 0xc2 && *cp <= 0xdf)
		len = 2;
	else if (*cp >= 0xe0 && *cp <= 0xef) {
		len = 3;
		if (*cp == 0xe0)
			lo = 0xa0;		/* overlong below U+0800 */
		else if (*cp == 0xed)
			hi = 0x9f;		/* surrogates U+D800-DFFF */
	} else if (*cp >= 0xf0 && *cp <= 0xf4) {
		len = 4;
		if (*cp == 0xf0)
			lo = 0x90;		/* overlong below U+10000 */
		else if (*cp == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
	} else
		return 0;
	if (cp[1] < lo || cp[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (!smtp_is_cont(cp[i]))
			return 0;
	return len;
}

/* The length of one local-part atext character at cp, or 0. */
static size_t
smtp_atext_len(const char *cp, int flags)
{
	if (smtp_is_atext((unsigned char)*cp))
		return 1;
	return (flags & SMTP_PATH_UTF8) ? smtp_utf8_len(cp) : 0;
}

/* RFC 5321 Snum "." Snum "." Snum "." Snum, all of text[0..len). */
static bool
smtp_ipv4_literal(const char *text, size_t len)
{
	size_t i = 0, digits;
	unsigned value;
	int part;

	for (part = 0; part < 4; part++) {
		if (part > 0 && (i >= len || text[i++] != '.'))
			return false;
		for (digits = 0, value = 0; i < len && text[i] >= '0'
		    && text[i] <= '9' && digits < 3; i++, digits++)
			value = value * 10 + (unsigned)(text[i] - '0');
		if (digits == 0 || value > 255)
			return false;
	}
	return i == len;
}

/* "[IPv6:addr]" (inet_pton) or "[ipv4]" at cp; after ']' or NULL. */
static const char *
smtp_literal(const char *cp)
{
	const char *start = cp + 1, *end;
	struct in6_addr a6;
	char text[SMTP_V6_LIMIT];
	size_t len, tag = sizeof(SMTP_V6_TAG) - 1;

	/* dcontent: printable ASCII but "[", "\" and "]". */
	for (end = start; *end > ' ' && *end < 0x7f && *end != '['
	    && *end != '\\' && *end != ']'; end++)
		;
	if (*end != ']')
		return NULL;
	len = (size_t)(end - start);
	if (len > tag && strncasecmp(start, SMTP_V6_TAG, tag) == 0) {
		/* Too long is invalid, never truncated. */
		if (len - tag >= sizeof(text))
			return NULL;
		memcpy(text, start + tag, len - tag);
		text[len - tag] = 0;
		return inet_pton(AF_INET6, text, &a6) == 1 ? end + 1 : NULL;
	}
	return smtp_ipv4_literal(start, len) ? end + 1 : NULL;
}

/*
 * A domain (labels of letters, digits, '-', '_', and UTF-8 with
 * SMTP_PATH_UTF8) or an address literal at cp; the text after it, or
 * NULL when malformed or too long.
 */
static const char *
smtp_domain(const char *cp, int flags)
{
	const char *start = cp, *label;
	bool ascii;
	size_t n;

	if (*cp == '[')
		return smtp_literal(cp);
	for (;;) {
		label = cp;
		ascii = true;
		for (;;) {
			if (smtp_is_ldh((unsigned char)*cp))
				cp++;
			else if ((flags & SMTP_PATH_UTF8)
			    && (n = smtp_utf8_len(cp)) > 0) {
				cp += n;
				ascii = false;
			} else
				break;
		}
		/*
		 * The label limit is the DNS one, of the A-label (RFC 5890):
		 * a U-label's length in bytes says nothing about it.
		 */
		if (cp == label || (ascii && cp - label > SMTP_LABEL_LIMIT)
		    || cp - start > SMTP_DOMAIN_LIMIT)
			return NULL;
		if (*cp != '.')
			return cp;
		cp++;
	}
}

/* A dot-string or quoted-string local part at cp, unquoted into local. */
static const char *
smtp_local_part(const char *cp, struct buf *local, int flags)
{
	unsigned char ch;
	bool pair;
	size_t n;

	if (*cp == '"') {
		/*
		 * qtextSMTP and quoted-pairSMTP: printable ASCII; UTF-8 too
		 * with SMTP_PATH_UTF8, but not after a backslash.
		 */
		for (cp++; (ch = (unsigned char)*cp) != '"'; cp += n) {
			if ((pair = ch == '\\'))
				ch = (unsigned char)*++cp;
			if (ch >= ' ' && ch < 0x7f)
				n = 1;
			else if (pair || !(flags & SMTP_PATH_UTF8)
			    || (n = smtp_utf8_len(cp)) == 0)
				return NULL;	/* also the end of the text */
			buf_append(local, cp, n);
		}
		return local->len > 0 ? cp + 1 : NULL;
	}
	/* Dot-string: atoms separated by single dots. */
	for (;;) {
		if (smtp_atext_len(cp, flags) == 0)
			return NULL;
		while ((n = smtp_atext_len(cp, flags)) > 0) {
			buf_append(local, cp, n);
			cp += n;
		}
		if (*cp != '.')
			return cp;
		buf_putc(local, *cp++);
	}
}

const char *
smtp_path_parse(const char *cp, struct buf *out, struct buf *local,
    int flags)
{
	const char *dom;
	bool angle = true;

	buf_reset(out);
	buf_reset(local);
	if (flags & SMTP_PATH_LAX) {
		cp += strspn(cp, " ");
		angle = *cp == '<';
	}
	if (angle && *cp++ != '<')
		return NULL;
	if (angle && *cp == '>')
		return (flags & SMTP_PATH_NULL_OK) ? cp + 1 : NULL;
	if (*cp == '@') {
		/* A source route, ignored (RFC 5321 section 4.1.2). */
		for (;;) {
			if ((cp = smtp_domain(cp + 1, flags)) == NULL)
				return NULL;
			if (*cp == ':')
				break;
			if (*cp != ',' || cp[1] != '@')
				return NULL;
			cp++;
		}
		cp++;
	}
	if ((cp = smtp_local_part(cp, local, flags)) == NULL)
		return NULL;
	addr_list_quote_local(out, local->data, local->len);
	if (*cp == '@') {
		dom = ++cp;
		if ((cp = smtp_domain(cp, flags)) == NULL)
			return NULL;
		buf_putc(out, '@');
		buf_append(out, dom, (size_t)(cp - dom));
	}
	if (out->len > CLEANUP_CLNT_ADDR_LIMIT)
		return NULL;
	if (angle)
		return *cp == '>' ? cp + 1 : NULL;
	return *cp == ' ' || *cp == 0 ? cp : NULL;
}

bool
smtp_addr_domain(const char *addr, const char **domain)
{
	const char *cp = addr, *at;

	if (*cp == '"') {
		for (cp++; *cp != 0 && *cp != '"'; cp++)
			if (*cp == '\\' && cp[1] != 0)
				cp++;
	}
	at = strchr(cp, '@');
	*domain = at != NULL ? at + 1 : NULL;
	return at != NULL;
}

int
smtp_param_next(char **cursor, char **key, char **value)
{
	char *word, *cp;

	if ((word = str_token(cursor, " ")) == NULL)
		return 0;
	*key = word;
	*value = NULL;
	if ((cp = strchr(word, '=')) != NULL) {
		*cp++ = 0;
		*value = cp;
		if (*cp == 0)
			return -1;
		for (; *cp; cp++)
			if (*cp <= ' ' || *cp >= 0x7f || *cp == '=')
				return -1;
	}
	if (!(smtp_is_ldh((unsigned char)**key) && **key != '-'
	    && **key != '_'))
		return -1;
	for (cp = *key; *cp; cp++)
		if (!smtp_is_ldh((unsigned char)*cp) || *cp == '_')
			return -1;
	return 1;
}

bool
smtp_orcpt_parse(const char *value, struct buf *out, struct buf *tmp)
{
	const char *semi;
	size_t i, type_len;

	if (value == NULL || (semi = strchr(value, ';')) == NULL)
		return false;
	type_len = (size_t)(semi - value);
	for (i = 0; i < type_len; i++)
		if (!smtp_is_ldh((unsigned char)value[i]) || value[i] == '_')
			return false;
	if (type_len == 0 || smtp_xtext_decode(semi + 1, tmp) < 0
	    || tmp->len == 0 || tmp->len > SMTP_ORCPT_LIMIT
	    || !str_is_printable(tmp->data))
		return false;
	buf_reset(out);
	buf_append(out, value, type_len + 1);
	buf_append(out, tmp->data, tmp->len);
	return true;
}

static int
smtp_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
smtp_xtext_decode(const char *text, struct buf *out)
{
	const unsigned char *cp;
	int hi, lo;

	buf_reset(out);
	for (cp = (const unsigned char *)text; *cp; cp++) {
		if (*cp == '+') {
			/* cp[2] is read only when cp[1] was a digit. */
			if ((hi = smtp_hex(cp[1])) < 0
			    || (lo = smtp_hex(cp[2])) < 0)
				return -1;
			buf_putc(out, hi * 16 + lo);
			cp += 2;
		} else if (*cp < 33 || *cp > 126 || *cp == '=') {
			return -1;
		} else {
			buf_putc(out, *cp);
		}
	}
	return memchr(out->data, 0, out->len) == NULL ? 0 : -1;
}
